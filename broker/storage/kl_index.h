/*
 * kl_index.h - a segment's sparse index file (.index or .timeindex), kept
 * whole in memory for binary search and appended to its file with plain
 * writes. Internal to broker/storage.
 *
 * Entries are held in memory exactly as stored in the file (big-endian), so
 * loading is one read and writing out is one write of the pending tail:
 *
 *   .index      offset size field
 *                    0    4 relative offset (batch base offset - segment base)
 *                    4    4 file position of that batch in the .log
 *
 *   .timeindex  offset size field
 *                    0    8 timestamp: the segment's largest maxTimestamp so far
 *                    8    4 relative base offset of the batch that first reached it
 *
 * Offset entries grow strictly in both fields; time entries strictly in
 * timestamp and never go back in offset.
 */
#ifndef STRAND_BROKER_KL_INDEX_H
#define STRAND_BROKER_KL_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "base/error.h"

enum { KL_OFFSET_ENTRY_SIZE = 8, KL_TIME_ENTRY_SIZE = 12 };

typedef struct kl_index {
    int fd;        /* -1 when closed */
    uint8_t *data; /* owned; count entries in file format */
    size_t count;
    size_t cap;     /* entries */
    size_t written; /* leading entries known to be in the file */
    size_t entry_size;
    int damaged;     /* the file's size was not a whole number of entries */
    const char *dir; /* borrowed, for messages */
    char name[40];
} kl_index_t;

/* Opens (creating it, or emptying it when `truncate`) dir/name and loads the
 * whole file. Returns 0 or KL_ERR_STORAGE / SD_ERR_NOMEM; close with
 * kl_index__close either way. */
int kl_index__open(kl_index_t *ix, int dir_fd, const char *dir, const char *name, size_t entry_size,
                   int truncate, sd_err_t *err);
void kl_index__close(kl_index_t *ix);

/* Appends in memory only (kl_index__write_pending writes). Returns 0, or -1
 * when memory is short: a sparse index may skip an entry. */
int kl_index__append_offset(kl_index_t *ix, uint32_t rel_offset, uint32_t position);
int kl_index__append_time(kl_index_t *ix, int64_t timestamp, uint32_t rel_offset);

static inline const uint8_t *kl_index__entry(const kl_index_t *ix, size_t i)
{
    return ix->data + i * ix->entry_size;
}
static inline uint32_t kl_index__rel_offset(const kl_index_t *ix, size_t i)
{
    return sd_be32(kl_index__entry(ix, i));
}
static inline uint32_t kl_index__position(const kl_index_t *ix, size_t i)
{
    return sd_be32(kl_index__entry(ix, i) + 4);
}
static inline int64_t kl_index__timestamp(const kl_index_t *ix, size_t i)
{
    return (int64_t)sd_be64(kl_index__entry(ix, i));
}
static inline uint32_t kl_index__time_rel_offset(const kl_index_t *ix, size_t i)
{
    return sd_be32(kl_index__entry(ix, i) + 8);
}

/* Binary searches: the last entry whose key is <= the argument, or
 * SIZE_MAX when there is none. */
size_t kl_index__floor_offset(const kl_index_t *ix, uint32_t rel_offset);
size_t kl_index__floor_position(const kl_index_t *ix, uint32_t position);
size_t kl_index__floor_time(const kl_index_t *ix, int64_t timestamp);

/* Writes the entries not yet in the file. Returns 0 or KL_ERR_STORAGE. */
int kl_index__write_pending(kl_index_t *ix, sd_err_t *err);
/* Keeps the first `count` entries, in memory and in the file. */
int kl_index__truncate(kl_index_t *ix, size_t count, sd_err_t *err);

/* Sanity checks of a loaded index: 0 when sound, -1 when it must be rebuilt.
 * Relative offsets must be <= max_rel_offset, positions < log_size. */
int kl_index__check_offsets(const kl_index_t *ix, int64_t log_size, int64_t max_rel_offset);
int kl_index__check_times(const kl_index_t *ix, int64_t max_rel_offset);

#endif
