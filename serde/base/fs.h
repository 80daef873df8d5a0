/*
 * fs.h - the few file-system steps durable storage needs everywhere:
 * creating a directory path and syncing a directory's entries.
 */
#ifndef STRAND_BASE_FS_H
#define STRAND_BASE_FS_H

#include "base/error.h"

/* mkdir -p: creates every missing directory of `path` (mode 0755). Returns 0
 * or SD_ERR_IO with the directory that could not be made in err. */
int sd_mkdirs(const char *path, sd_err_t *err);
/* fsync of a directory, so that entries created, renamed or removed in it
 * survive a crash. Returns 0 or SD_ERR_IO. */
int sd_fsync_dir(const char *path, sd_err_t *err);

#endif
