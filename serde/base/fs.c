/*
 * fs.c - directory creation and syncing (see fs.h).
 */
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

int sd_mkdirs(const char *path, sd_err_t *err)
{
    char *copy = sd_strdup(path);
    if (!copy)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            rc =
                sd_err_set(err, SD_ERR_IO, "cannot create directory %s: %s", copy, strerror(errno));
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    sd_free(copy);
    return rc;
}

int sd_fsync_dir(const char *path, sd_err_t *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sd_err_set(err, SD_ERR_IO, "cannot open directory %s: %s", path, strerror(errno));
    int rc = 0;
    if (fsync(fd) != 0)
        rc = sd_err_set(err, SD_ERR_IO, "cannot sync directory %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}
