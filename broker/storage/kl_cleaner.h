/*
 * kl_cleaner.h - log compaction (cleanup.policy=compact) of one partition
 * log: keeps the newest record per key in the sealed segments, keeps
 * tombstones for delete.retention.ms after they were first cleaned, never
 * changes an offset, and swaps the cleaned segments in so that a crash at
 * any point leaves a readable log with no record lost or duplicated.
 * Follows Kafka's design (docs/design.html "Log Compaction") without its
 * code.
 *
 * A clean is three calls, so the work that reads and writes whole segments
 * can run off the event loop:
 *   kl_log_clean_prepare   event-loop thread: decides whether the log is due
 *                          and snapshots the sealed segments (dup'ed fds)
 *   kl_clean_job_run       any thread: reads the snapshot, writes
 *                          "<base>.log.cleaned" files and fsyncs them; it
 *                          touches nothing but the job
 *   kl_log_clean_commit    event-loop thread: swaps the cleaned copies in
 * Sealed segments are immutable, so the snapshot stays true while the job
 * runs; a segment deleted meanwhile (retention) is skipped at commit.
 */
#ifndef STRAND_BROKER_KL_CLEANER_H
#define STRAND_BROKER_KL_CLEANER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "storage/kl_log.h"

typedef struct kl_clean_job kl_clean_job_t;

typedef struct kl_clean_stats {
    int64_t bytes_read;    /* .log bytes of the segments cleaned */
    int64_t bytes_written; /* .log bytes of their cleaned copies */
    int64_t records_read;
    int64_t records_kept;
    int64_t batches_rewritten; /* rebuilt (and recompressed) batches */
    int64_t segments_swapped;
} kl_clean_stats_t;

/* When the log is due for cleaning (cleanup.policy has compact, no job out
 * for it, and: the dirty ratio of the cleanable segments exceeds
 * min.cleanable.dirty.ratio, or the oldest dirty segment is older than
 * max.compaction.lag.ms, or a tombstone's delete horizon has passed, or
 * `force`), *out is a new job, else NULL. Cleanable segments are the sealed
 * ones before the first whose largest timestamp is younger than
 * min.compaction.lag.ms. The caller hands the job to
 * kl_log_clean_commit (which frees it) before closing the log. Returns 0,
 * SD_ERR_NOMEM or KL_ERR_STORAGE. */
int kl_log_clean_prepare(kl_log_t *log, int64_t now_ms, int force, kl_clean_job_t **out,
                         sd_err_t *err);

/* Does the cleaning: builds the key -> newest offset map over the job's
 * segments, then writes each segment's cleaned copy beside it and fsyncs
 * it. A segment whose copy would equal it is left alone. Blocking; touches
 * only the job. Returns 0, KL_ERR_STORAGE, KL_ERR_CORRUPT (a stored batch
 * fails its CRC: nothing is swapped) or SD_ERR_NOMEM. */
int kl_clean_job_run(kl_clean_job_t *job, sd_err_t *err);

/* Swaps the cleaned copies of a job that ran into the log (and removes them
 * when the run failed), then frees the job. `stop_after` is for crash tests:
 * the commit stops after that many steps (see kl_cleaner.c for the steps;
 * KL_CLEAN_ALL_STEPS runs them all) and returns 1, leaving the in-memory log
 * stale: the test then closes it and reopens it as after a crash. *stats
 * (may be NULL) gets the job's counters. Returns 0,
 * 1 when stopped, or KL_ERR_STORAGE. */
enum { KL_CLEAN_ALL_STEPS = 1 << 30 };
int kl_log_clean_commit(kl_log_t *log, kl_clean_job_t *job, int stop_after, kl_clean_stats_t *stats,
                        sd_err_t *err);

/* Frees a job without committing it, removing its cleaned files (for a log
 * that went away while the job ran). The log it came from must not be used
 * with kl_log_clean_commit afterwards for this job. */
void kl_clean_job_free(kl_clean_job_t *job);

/* Caps the key map of a job not yet run (log.cleaner.dedupe.buffer.size):
 * once it has grown to `bytes`, only the segments mapped so far are cleaned
 * (at least one). 0 = no cap, the default. */
void kl_clean_job_set_map_limit(kl_clean_job_t *job, size_t bytes);

/* Counters of a job (valid until it is freed). */
const kl_clean_stats_t *kl_clean_job_stats(const kl_clean_job_t *job);

/* prepare + run + commit on the calling thread (tests, benchmarks). *stats
 * (may be NULL) is zeroed when nothing was due. */
int kl_log_clean_now(kl_log_t *log, int64_t now_ms, int force, kl_clean_stats_t *stats,
                     sd_err_t *err);

/* Compacted topics need keys: KL_ERR_INVALID_RECORD when a record of the
 * batch (validated, decompressed if need be) has a null key. */
int kl_batch_require_keys(const uint8_t *batch, size_t size, sd_err_t *err);

/* For kl_log_open: finishes a swap whose commit record exists and removes
 * the leftovers of one that did not commit. *bases (caller frees) lists the
 * segments swapped, whose indexes must be rebuilt. */
int kl_cleaner__recover(kl_log_t *log, int64_t **bases, size_t *n, sd_err_t *err);
/* After those segments were rescanned: writes and syncs their indexes and
 * removes the commit record. */
int kl_cleaner__recover_done(kl_log_t *log, sd_err_t *err);

#endif
