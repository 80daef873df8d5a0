/*
 * kl_log.h - one partition's log on disk ("kl" = Kafka log): segment files of
 * record batches stored byte-for-byte, with sparse offset and time indexes,
 * validation of incoming batches, reads for Fetch, offset lookup by
 * timestamp, flushing support for group commit, and recovery after an
 * unclean shutdown.
 *
 * Layout, as Kafka's: <dir>/<20-digit base offset>.log / .index / .timeindex.
 * Threading: every kl_log_* call comes from one thread (the broker's event
 * loop); only the fds handed out by kl_log_flush_fds / kl_log_read are used
 * by other threads, and those are dup'ed and owned by the caller.
 */
#ifndef STRAND_BROKER_KL_LOG_H
#define STRAND_BROKER_KL_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Error codes (negative); kl_log_kafka_error maps them to Kafka's. */
enum {
    KL_ERR_CORRUPT = -100,           /* bad length, CRC or layout -> CORRUPT_MESSAGE (2) */
    KL_ERR_UNSUPPORTED_MAGIC = -101, /* magic != 2 -> UNSUPPORTED_FOR_MESSAGE_FORMAT (43) */
    KL_ERR_TOO_LARGE = -102,         /* batch > max.message.bytes -> MESSAGE_TOO_LARGE (10) */
    KL_ERR_OUT_OF_RANGE = -103,      /* -> OFFSET_OUT_OF_RANGE (1) */
    KL_ERR_INVALID_RECORD = -104,    /* e.g. client control batch -> INVALID_RECORD (87) */
    KL_ERR_STORAGE = -105,           /* I/O failure -> KAFKA_STORAGE_ERROR (56) */
};

int16_t kl_log_kafka_error(int kl_error);

typedef struct kl_log_config {
    int64_t segment_bytes;        /* segment.bytes, roll when a batch would exceed it */
    int64_t segment_ms;           /* segment.ms, roll when the active segment is older */
    int32_t index_interval_bytes; /* index.interval.bytes, sparse index spacing */
    int32_t segment_index_bytes;  /* segment.index.bytes, roll when an index is full */
    int32_t max_message_bytes;    /* max.message.bytes, largest accepted batch */
    int log_append_time;          /* message.timestamp.type=LogAppendTime */
    /* cleanup.policy: delete (retention), compact (the cleaner), or both. */
    int cleanup_delete;
    int cleanup_compact;
    int64_t retention_ms;             /* retention.ms, -1 = keep forever */
    int64_t retention_bytes;          /* retention.bytes, -1 = no limit */
    int64_t delete_retention_ms;      /* delete.retention.ms, tombstones' grace */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms */
    int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms */
} kl_log_config_t;

void kl_log_config_defaults(kl_log_config_t *config);

typedef struct kl_log kl_log_t;

/* Opens (creating the directory if needed) the partition log in `dir`.
 * `recover` = 1 after an unclean shutdown: segments from the last recovery
 * checkpoint on are rescanned batch by batch, the log is truncated at the
 * first bad batch (logging what was cut), later segments are deleted and the
 * indexes are rebuilt. On a clean open, indexes are sanity-checked and
 * rebuilt if damaged. The caller closes with kl_log_close. */
int kl_log_open(const char *dir, const kl_log_config_t *config, int recover, kl_log_t **out,
                sd_err_t *err);
/* Writes the recovery checkpoint and releases everything. Data not yet
 * durable is fdatasync'ed first (blocking), so the checkpoint written is the
 * end offset. */
void kl_log_close(kl_log_t *log);
/* Updates the config (e.g. after a topic config change). */
void kl_log_set_config(kl_log_t *log, const kl_log_config_t *config);

/* Appends the record batches in buf[0..len) (a Produce partition's records:
 * one or more magic-2 batches). Every batch is validated first (batchLength
 * fits, magic 2, CRC-32C over attributes..end, lastOffsetDelta consistent with
 * recordsCount, not a control batch, size <= max.message.bytes); if any fails
 * nothing is appended. The buffer is modified in place: baseOffset is set
 * (and maxTimestamp + CRC when LogAppendTime). `now_ms` is the append time.
 * *base_offset = offset of the first record appended. An empty buffer is
 * KL_ERR_INVALID_RECORD. A request spanning a segment roll is written with
 * one write per segment; on any failure all of it is taken back. */
int kl_log_append(kl_log_t *log, uint8_t *buf, size_t len, int64_t now_ms, int64_t *base_offset,
                  sd_err_t *err);

/* The log start offset: the first segment's base, or higher after
 * DeleteRecords (then it may fall inside a segment). */
int64_t kl_log_start_offset(const kl_log_t *log);
int64_t kl_log_end_offset(const kl_log_t *log); /* next offset to assign */
/* Offset up to which data is known durable (fdatasync'ed). */
int64_t kl_log_flushed_offset(const kl_log_t *log);

typedef struct kl_read {
    int fd;      /* dup of the segment's fd; caller closes; -1 when len == 0 */
    int64_t pos; /* file position of the first byte */
    int32_t len; /* bytes: whole batches only */
} kl_read_t;

/* Reads whole batches starting at the batch that contains `offset`, up to
 * max_bytes; when the first batch is larger than max_bytes it is returned
 * alone anyway (Kafka's "at least one batch" rule). Reads stay inside one
 * segment. offset == end offset gives len 0; offset < start or > end gives
 * KL_ERR_OUT_OF_RANGE. */
int kl_log_read(kl_log_t *log, int64_t offset, int32_t max_bytes, kl_read_t *out, sd_err_t *err);

/* ListOffsets by timestamp: the offset and timestamp of the first record
 * whose timestamp is >= ts, found through the time index and the batches'
 * maxTimestamp, then inside the batch. A compressed batch is not opened: its
 * base offset and maxTimestamp are returned for it. (*offset = -1,
 * *found_ts = -1 when none.) */
int kl_log_offset_for_timestamp(kl_log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts);

/* Group commit support. Returns dup'ed fds (caller closes) of every segment
 * holding data not yet fdatasync'ed, and in *upto the end offset that will be
 * durable once they are synced. *n = 0 when everything is flushed. */
int kl_log_flush_fds(kl_log_t *log, int *fds, size_t max_fds, size_t *n, int64_t *upto);
/* Records that everything below `upto` is durable. */
void kl_log_mark_flushed(kl_log_t *log, int64_t upto);
/* Writes the recovery checkpoint (flushed offset) to disk. Blocking (temp
 * file, fsync, rename, fsync of the directory), but a no-op when the flushed
 * offset has not moved since the last checkpoint. */
int kl_log_checkpoint(kl_log_t *log);

/* Calls cb with the header of every batch in the active segment, in order
 * (the broker rebuilds idempotent producers' sequence state from them after
 * a restart). A non-zero return from cb stops the scan and is returned. */
typedef int (*kl_batch_header_cb)(const uint8_t header[61], void *opaque);
int kl_log_scan_active(kl_log_t *log, kl_batch_header_cb cb, void *opaque, sd_err_t *err);

/* Rolls a new segment if the active one is older than segment.ms. */
void kl_log_maybe_roll(kl_log_t *log, int64_t now_ms);

/* DeleteRecords: moves the log start offset up to `offset` (-1 = the end
 * offset); a lower offset than the current start is a no-op. The new start
 * is persisted (file "log-start-offset", replaced atomically) before whole
 * segments below it are deleted, so a crash in between finishes the job at
 * the next open. The active segment is never deleted. Returns 0,
 * KL_ERR_OUT_OF_RANGE (offset > end) or KL_ERR_STORAGE. */
int kl_log_delete_records(kl_log_t *log, int64_t offset, sd_err_t *err);

/* Retention, when cleanup.policy has delete: deletes the oldest non-active
 * segments whose largest timestamp is older than now - retention.ms, and
 * while the log is larger than retention.bytes by at least the oldest
 * segment. Only a prefix of the log goes. Returns the number of segments
 * deleted. */
size_t kl_log_apply_retention(kl_log_t *log, int64_t now_ms);

/* Accessors (for metrics, retention and tests). */
size_t kl_log_segment_count(const kl_log_t *log);
/* Base offset of the active (last) segment. */
int64_t kl_log_active_base_offset(const kl_log_t *log);
int64_t kl_log_size_bytes(const kl_log_t *log); /* sum of the .log files */
const char *kl_log_dir(const kl_log_t *log);    /* borrowed until close */

#endif
