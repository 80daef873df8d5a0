/*
 * kl_log_int.h - the partition log's state, shared by kl_log.c and the
 * cleaner (kl_cleaner.c), which swaps cleaned segments into the list.
 * Internal to broker/storage.
 */
#ifndef STRAND_BROKER_KL_LOG_INT_H
#define STRAND_BROKER_KL_LOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "storage/kl_log.h"
#include "storage/kl_segment.h"

/* The cleaner's commit record: while it exists, the segments it lists are
 * being swapped for their cleaned copies (see kl_cleaner.c). */
#define KL_SWAP_MARKER "cleaner-swap"
#define KL_SWAP_MARKER_TMP "cleaner-swap.tmp"
#define KL_SWAP_MARKER_MAGIC "strand-cleaner-swap 1"
/* Suffix of a cleaned segment's .log while it is written and until swapped. */
#define KL_CLEANED_SUFFIX ".cleaned"

struct kl_log {
    char *dir;
    int dir_fd;
    kl_log_config_t config;
    kl_segment_t **segments; /* by base offset; the last one is active */
    size_t count;
    size_t cap;
    int64_t flushed_offset;
    int64_t checkpointed_offset; /* value in the checkpoint file, -1 unknown */
    /* Base offset of the newest segment whose directory entry has not been
     * synced yet, -1 when none: its data is durable only after the
     * directory is. */
    int64_t dir_unsynced_base;
    /* Log start offset set by DeleteRecords (persisted); the effective start
     * is the larger of this and the first segment's base. */
    int64_t start_offset;
    /* Cleaner state, in memory only: after a restart the whole log counts
     * as dirty once, which costs one extra cleaning and loses nothing. */
    int64_t clean_offset;         /* offsets below were cleaned */
    int64_t tombstone_horizon_ms; /* earliest delete horizon set, -1 none */
    int cleaning;                 /* a clean job is out for this log */
    int swap_pending;             /* a swap failed after its commit point */
};

/* The segment holding `offset`: the last one whose base is <= offset. */
size_t kl_log__find_segment(const kl_log_t *log, int64_t offset);
/* Atomically replaces dir/name with "<magic>\n<text>" (temp file, fsync,
 * rename, fsync of the directory). Returns 0 or KL_ERR_STORAGE. */
int kl_log__write_file(kl_log_t *log, const char *name, const char *tmp, const char *text,
                       sd_err_t *err);

#endif
