/*
 * kl_index.c - sparse offset and time indexes of a segment: in-memory copy,
 * binary search, appends to the file with plain writes (see kl_index.h).
 */
#include "storage/kl_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "storage/kl_log.h"

static int io_error(const kl_index_t *ix, const char *what, sd_err_t *err)
{
    return sd_err_set(err, KL_ERR_STORAGE, "%s %s/%s: %s", what, ix->dir, ix->name,
                      strerror(errno));
}

static int reserve(kl_index_t *ix, size_t entries)
{
    if (entries <= ix->cap)
        return 0;
    size_t cap = ix->cap ? ix->cap : 64;
    while (cap < entries)
        cap *= 2;
    uint8_t *grown = sd_realloc(ix->data, cap * ix->entry_size);
    if (!grown)
        return -1;
    ix->data = grown;
    ix->cap = cap;
    return 0;
}

int kl_index__open(kl_index_t *ix, int dir_fd, const char *dir, const char *name, size_t entry_size,
                   int truncate, sd_err_t *err)
{
    memset(ix, 0, sizeof *ix);
    ix->fd = -1;
    ix->entry_size = entry_size;
    ix->dir = dir;
    snprintf(ix->name, sizeof ix->name, "%s", name);
    ix->fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
    if (ix->fd < 0)
        return io_error(ix, "open", err);
    struct stat st;
    if (fstat(ix->fd, &st) < 0)
        return io_error(ix, "stat", err);
    size_t size = (size_t)st.st_size;
    if (size % entry_size)
        ix->damaged = 1;
    size_t count = size / entry_size;
    if (count == 0)
        return 0;
    if (reserve(ix, count))
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory loading %s/%s", dir, name);
    size_t want = count * entry_size, got = 0;
    while (got < want) {
        ssize_t n = pread(ix->fd, ix->data + got, want - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return io_error(ix, "read", err);
        if (n == 0)
            break; /* shrank meanwhile: keep what was read */
        got += (size_t)n;
    }
    ix->count = got / entry_size;
    ix->written = ix->count;
    if (got != size)
        ix->damaged = 1;
    return 0;
}

void kl_index__close(kl_index_t *ix)
{
    if (ix->fd >= 0)
        close(ix->fd);
    ix->fd = -1;
    sd_free(ix->data);
    ix->data = NULL;
    ix->count = ix->cap = ix->written = 0;
}

int kl_index__append_offset(kl_index_t *ix, uint32_t rel_offset, uint32_t position)
{
    if (reserve(ix, ix->count + 1))
        return -1;
    uint8_t *p = ix->data + ix->count * ix->entry_size;
    sd_put_be32(p, rel_offset);
    sd_put_be32(p + 4, position);
    ix->count++;
    return 0;
}

int kl_index__append_time(kl_index_t *ix, int64_t timestamp, uint32_t rel_offset)
{
    if (reserve(ix, ix->count + 1))
        return -1;
    uint8_t *p = ix->data + ix->count * ix->entry_size;
    sd_put_be64(p, (uint64_t)timestamp);
    sd_put_be32(p + 8, rel_offset);
    ix->count++;
    return 0;
}

/* The last entry whose key (a big-endian u32 at `field`) is <= key. */
static size_t floor_u32(const kl_index_t *ix, size_t field, uint32_t key)
{
    size_t lo = 0, hi = ix->count; /* answer is in [lo - 1, hi - 1] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sd_be32(kl_index__entry(ix, mid) + field) <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? SIZE_MAX : lo - 1;
}

size_t kl_index__floor_offset(const kl_index_t *ix, uint32_t rel_offset)
{
    return floor_u32(ix, 0, rel_offset);
}

size_t kl_index__floor_position(const kl_index_t *ix, uint32_t position)
{
    return floor_u32(ix, 4, position);
}

size_t kl_index__floor_time(const kl_index_t *ix, int64_t timestamp)
{
    size_t lo = 0, hi = ix->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kl_index__timestamp(ix, mid) <= timestamp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? SIZE_MAX : lo - 1;
}

int kl_index__write_pending(kl_index_t *ix, sd_err_t *err)
{
    while (ix->written < ix->count) {
        size_t from = ix->written * ix->entry_size;
        size_t len = (ix->count - ix->written) * ix->entry_size;
        ssize_t n = pwrite(ix->fd, ix->data + from, len, (off_t)from);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return io_error(ix, "write", err);
        }
        /* A short write may end inside an entry; the next round rewrites it. */
        ix->written += (size_t)n / ix->entry_size;
    }
    return 0;
}

int kl_index__truncate(kl_index_t *ix, size_t count, sd_err_t *err)
{
    if (count >= ix->count)
        return 0;
    ix->count = count;
    if (ix->written > count) {
        ix->written = count;
        if (ftruncate(ix->fd, (off_t)(count * ix->entry_size)) < 0)
            return io_error(ix, "truncate", err);
    }
    return 0;
}

int kl_index__check_offsets(const kl_index_t *ix, int64_t log_size, int64_t max_rel_offset)
{
    if (ix->damaged)
        return -1;
    for (size_t i = 0; i < ix->count; i++) {
        uint32_t rel = kl_index__rel_offset(ix, i), pos = kl_index__position(ix, i);
        if ((int64_t)rel > max_rel_offset || (int64_t)pos >= log_size)
            return -1;
        if (i > 0 &&
            (rel <= kl_index__rel_offset(ix, i - 1) || pos <= kl_index__position(ix, i - 1)))
            return -1;
    }
    return 0;
}

int kl_index__check_times(const kl_index_t *ix, int64_t max_rel_offset)
{
    if (ix->damaged)
        return -1;
    for (size_t i = 0; i < ix->count; i++) {
        if ((int64_t)kl_index__time_rel_offset(ix, i) > max_rel_offset)
            return -1;
        if (i > 0 && (kl_index__timestamp(ix, i) <= kl_index__timestamp(ix, i - 1) ||
                      kl_index__time_rel_offset(ix, i) < kl_index__time_rel_offset(ix, i - 1)))
            return -1;
    }
    return 0;
}
