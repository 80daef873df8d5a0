/*
 * kl_segment.h - one segment of a partition log: <base>.log holding whole
 * record batches, with its sparse .index and .timeindex. Appending, locating
 * batches by offset or timestamp, the sanity check of a clean open and the
 * batch-by-batch rescan of recovery. Internal to broker/storage; kl_log.c
 * owns the list of segments and the rolling policy.
 */
#ifndef STRAND_BROKER_KL_SEGMENT_H
#define STRAND_BROKER_KL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "storage/kl_batch.h"
#include "storage/kl_index.h"

typedef struct kl_segment {
    int64_t base_offset;
    /* One past the last offset written. Exact for the active segment and
     * for every rescanned one; for an older segment loaded on a clean open it
     * is the next segment's base offset, an upper bound. */
    int64_t end_offset;
    int64_t size; /* bytes of whole batches in the .log */
    int log_fd;
    kl_index_t offsets;              /* .index */
    kl_index_t times;                /* .timeindex */
    int64_t bytes_since_index;       /* log bytes since the last offset entry */
    int64_t max_timestamp;           /* largest batch maxTimestamp, -1 when none */
    int64_t offset_of_max_timestamp; /* base offset of the batch that first had it */
    int64_t roll_base_ms;            /* start of the segment.ms clock, -1 until known */
    int needs_rescan;                /* open: indexes must be rebuilt (a cleaned copy) */
    const char *dir;                 /* borrowed from the log, for messages */
    char name[40];                   /* "<20-digit base>.log" */
} kl_segment_t;

/* Opens the segment with this base offset in dir_fd, or with `create` makes
 * it afresh (emptying any leftover files). *out is closed with
 * kl_segment__close. Returns 0, KL_ERR_STORAGE or SD_ERR_NOMEM. */
int kl_segment__open(int dir_fd, const char *dir, int64_t base_offset, int create,
                     kl_segment_t **out, sd_err_t *err);
void kl_segment__close(kl_segment_t *seg);
/* Closes the segment and removes its three files. */
void kl_segment__delete(kl_segment_t *seg, int dir_fd);

/* Accounts a batch at `position` in the indexes (in memory), following
 * Kafka's rule: an offset entry (and a time entry when the largest timestamp
 * grew) once more than index_interval bytes were appended since the last. */
void kl_segment__note_batch(kl_segment_t *seg, int64_t position, int64_t size, int64_t base_offset,
                            int64_t last_offset, int64_t max_timestamp, int32_t index_interval);
/* Writes len bytes at the end of the .log; on failure the file is cut back
 * so no partial batch stays. Returns 0 or KL_ERR_STORAGE. */
int kl_segment__write(kl_segment_t *seg, const uint8_t *buf, size_t len, sd_err_t *err);
/* Writes index entries not yet in their files. */
int kl_segment__write_indexes(kl_segment_t *seg, sd_err_t *err);
/* The segment stops being active: records its final largest timestamp in
 * the time index and writes the indexes out. */
int kl_segment__finish(kl_segment_t *seg, sd_err_t *err);

/* Clean open: checks the indexes (and, for the last segment, walks the batch
 * headers after the last index entry to find the end offset and largest
 * timestamp). next_base is the next segment's base offset (ignored when
 * is_last). Returns 0, 1 when the segment must be rescanned with
 * kl_segment__recover, or KL_ERR_STORAGE. */
int kl_segment__load(kl_segment_t *seg, int is_last, int64_t next_base, sd_err_t *err);

typedef struct kl_recover_result {
    int64_t cut_bytes; /* bytes removed from the end of the .log */
    char reason[160];  /* why, when cut_bytes > 0 */
} kl_recover_result_t;

/* Rescans every batch (framing, magic, CRC, offsets increasing from
 * min_offset), stops at the first bad one and rebuilds both indexes over the
 * good ones. seg->size becomes the good length, but the .log file itself is
 * cut only by kl_segment__cut, so the caller can first delete the segments
 * after this one (a crash in between then repeats the same recovery).
 * buf is scratch space of buf_size bytes (at least 64 KiB). Returns 0,
 * KL_ERR_STORAGE or SD_ERR_NOMEM. */
int kl_segment__recover(kl_segment_t *seg, int64_t min_offset, int32_t index_interval, uint8_t *buf,
                        size_t buf_size, kl_recover_result_t *result, sd_err_t *err);
/* Truncates the .log to seg->size. */
int kl_segment__cut(kl_segment_t *seg, sd_err_t *err);

/* Finds the first batch whose last offset is >= offset. Returns 1 with its
 * position and header, 0 when the segment has none, or an error. */
int kl_segment__find_offset(const kl_segment_t *seg, int64_t offset, int64_t *position,
                            kl_batch_header_t *h, sd_err_t *err);
/* From the batch at `start` (first_size bytes), extends over whole batches
 * while the total stays <= max_bytes. *end = position after the last one. */
int kl_segment__extend(const kl_segment_t *seg, int64_t start, int64_t first_size,
                       int32_t max_bytes, int64_t *end, sd_err_t *err);
/* Finds the first batch whose maxTimestamp is >= timestamp, searching from
 * *position (or, when it is negative, from where the time index says):
 * returns 1 with the batch's position and header, 0 when none, or an error. */
int kl_segment__find_timestamp(const kl_segment_t *seg, int64_t timestamp, int64_t *position,
                               kl_batch_header_t *h, sd_err_t *err);
/* Reads len bytes at pos of the .log. */
int kl_segment__pread(const kl_segment_t *seg, int64_t pos, uint8_t *buf, size_t len,
                      sd_err_t *err);

#endif
