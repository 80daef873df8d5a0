/*
 * kl_log.c - a partition's log: the ordered list of segments, offset
 * assignment and validated appends, segment rolling, reads and timestamp
 * lookups, group-commit bookkeeping and the recovery checkpoint. Follows
 * Kafka's on-disk layout (storage/.../internals/log/) without its code.
 *
 * Recovery checkpoint: the file "recovery-point" in the partition directory
 * holds the offset below which every batch is known to be fdatasync'ed:
 *
 *   strand-recovery-point 1\n
 *   <decimal offset>\n
 *
 * It is replaced atomically (write "recovery-point.tmp", fsync, rename, fsync
 * the directory). After an unclean shutdown every segment from the one that
 * contains that offset on is rescanned; a missing or unreadable file means
 * all of them.
 *
 * Log start offset: DeleteRecords may set it inside a segment; it is kept
 * in "log-start-offset" (same format, "strand-log-start-offset 1") and
 * replaced the same way. An open deletes the segments wholly below it, which
 * finishes a DeleteRecords cut short by a crash. A cleaner swap cut short is
 * finished or undone first (kl_cleaner.c).
 */
#include "storage/kl_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "storage/kl_batch.h"
#include "storage/kl_cleaner.h"
#include "storage/kl_log_int.h"
#include "storage/kl_segment.h"

#define CHECKPOINT_NAME "recovery-point"
#define CHECKPOINT_TMP "recovery-point.tmp"
#define CHECKPOINT_MAGIC "strand-recovery-point 1"
#define START_NAME "log-start-offset"
#define START_TMP "log-start-offset.tmp"
#define START_MAGIC "strand-log-start-offset 1"
#define RECOVERY_BUFFER (1u << 20)
/* Index entries are written out in runs rather than one small write each. */
#define INDEX_WRITE_RUN 128
/* Largest decompressed batch ListOffsets-by-timestamp opens. */
#define TIMESTAMP_SCAN_MAX (64u << 20)

static const struct {
    int code;
    int16_t kafka;
} error_map[] = {
    {0, 0},
    {KL_ERR_CORRUPT, 2},            /* CORRUPT_MESSAGE */
    {KL_ERR_UNSUPPORTED_MAGIC, 43}, /* UNSUPPORTED_FOR_MESSAGE_FORMAT */
    {KL_ERR_TOO_LARGE, 10},         /* MESSAGE_TOO_LARGE */
    {KL_ERR_OUT_OF_RANGE, 1},       /* OFFSET_OUT_OF_RANGE */
    {KL_ERR_INVALID_RECORD, 87},    /* INVALID_RECORD */
    {KL_ERR_STORAGE, 56},           /* KAFKA_STORAGE_ERROR */
};

int16_t kl_log_kafka_error(int kl_error)
{
    for (size_t i = 0; i < sizeof error_map / sizeof error_map[0]; i++)
        if (error_map[i].code == kl_error)
            return error_map[i].kafka;
    return -1; /* UNKNOWN_SERVER_ERROR */
}

void kl_log_config_defaults(kl_log_config_t *config)
{
    config->segment_bytes = 1073741824; /* 1 GiB */
    config->segment_ms = 604800000;     /* 7 days */
    config->index_interval_bytes = 4096;
    config->segment_index_bytes = 10485760; /* 10 MiB */
    config->max_message_bytes = 1048588;
    config->log_append_time = 0;
    config->cleanup_delete = 1;
    config->cleanup_compact = 0;
    config->retention_ms = 604800000; /* 7 days */
    config->retention_bytes = -1;
    config->delete_retention_ms = 86400000; /* 1 day */
    config->min_cleanable_dirty_ratio = 0.5;
    config->min_compaction_lag_ms = 0;
    config->max_compaction_lag_ms = INT64_MAX;
}

static kl_segment_t *active(const kl_log_t *log) { return log->segments[log->count - 1]; }

int64_t kl_log_start_offset(const kl_log_t *log)
{
    int64_t base = log->segments[0]->base_offset;
    return log->start_offset > base ? log->start_offset : base;
}
int64_t kl_log_end_offset(const kl_log_t *log) { return active(log)->end_offset; }
int64_t kl_log_flushed_offset(const kl_log_t *log) { return log->flushed_offset; }
size_t kl_log_segment_count(const kl_log_t *log) { return log->count; }
int64_t kl_log_active_base_offset(const kl_log_t *log) { return active(log)->base_offset; }
const char *kl_log_dir(const kl_log_t *log) { return log->dir; }

int64_t kl_log_size_bytes(const kl_log_t *log)
{
    int64_t total = 0;
    for (size_t i = 0; i < log->count; i++)
        total += log->segments[i]->size;
    return total;
}

void kl_log_set_config(kl_log_t *log, const kl_log_config_t *config) { log->config = *config; }

static int io_error(const kl_log_t *log, const char *what, const char *name, sd_err_t *err)
{
    return sd_err_set(err, KL_ERR_STORAGE, "%s %s/%s: %s", what, log->dir, name, strerror(errno));
}

/* Reads a "<magic>\n<offset>\n" file. Returns 1 and the offset when it
 * holds a valid one, else 0 (warning unless the file is missing). */
static int read_offset_file(const kl_log_t *log, const char *name, const char *magic,
                            const char *consequence, int64_t *offset)
{
    int fd = openat(log->dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            sd_warn("kl_log", "cannot read %s/%s: %s; %s", log->dir, name, strerror(errno),
                    consequence);
        return 0;
    }
    char text[128];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n > 0) {
        text[n] = '\0';
        size_t magic_len = strlen(magic);
        if (strncmp(text, magic, magic_len) == 0 && text[magic_len] == '\n') {
            char *digits = text + magic_len + 1, *end;
            errno = 0;
            long long value = strtoll(digits, &end, 10);
            if (errno == 0 && end != digits && *end == '\n' && value >= 0 && *digits != '-') {
                *offset = value;
                return 1;
            }
        }
    }
    sd_warn("kl_log", "%s/%s is not valid; %s", log->dir, name, consequence);
    return 0;
}

/* Returns 1 and the offset when a valid checkpoint exists, else 0. */
static int read_checkpoint(const kl_log_t *log, int64_t *offset)
{
    return read_offset_file(log, CHECKPOINT_NAME, CHECKPOINT_MAGIC, "rescanning every segment",
                            offset);
}

static int compare_offsets(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Base offsets of the "<20 digits>.log" files, sorted; caller frees. */
static int list_segments(const kl_log_t *log, int64_t **bases, size_t *n, sd_err_t *err)
{
    *bases = NULL;
    *n = 0;
    DIR *d = opendir(log->dir);
    if (!d)
        return sd_err_set(err, KL_ERR_STORAGE, "opendir %s: %s", log->dir, strerror(errno));
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (strlen(name) != 24 || strcmp(name + 20, ".log") != 0)
            continue;
        int digits = 1;
        for (int i = 0; i < 20; i++)
            digits &= name[i] >= '0' && name[i] <= '9';
        if (!digits)
            continue;
        errno = 0;
        long long base = strtoll(name, NULL, 10);
        if (errno) /* beyond int64 */
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *grown = sd_realloc(*bases, cap * sizeof **bases);
            if (!grown) {
                rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory listing %s", log->dir);
                break;
            }
            *bases = grown;
        }
        (*bases)[(*n)++] = base;
    }
    closedir(d);
    if (rc == 0 && *n > 1)
        qsort(*bases, *n, sizeof **bases, compare_offsets);
    return rc;
}

static int push_segment(kl_log_t *log, kl_segment_t *seg, sd_err_t *err)
{
    if (log->count == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 8;
        kl_segment_t **grown = sd_realloc(log->segments, cap * sizeof *grown);
        if (!grown)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory adding a segment");
        log->segments = grown;
        log->cap = cap;
    }
    log->segments[log->count++] = seg;
    return 0;
}

/* Deletes the segments after index `keep`, newest first. */
static void delete_after(kl_log_t *log, size_t keep)
{
    while (log->count > keep + 1) {
        kl_segment_t *seg = log->segments[--log->count];
        sd_warn("kl_log", "%s/%s: deleted (%" PRId64 " bytes) as it follows a truncation", log->dir,
                seg->name, seg->size);
        kl_segment__delete(seg, log->dir_fd);
    }
}

/* Opens the segments found on disk and brings them to a consistent state:
 * rescans from rescan_from on (recovery), sanity-checks the others. */
static int load_segments(kl_log_t *log, size_t rescan_from, sd_err_t *err)
{
    uint8_t *scratch = NULL;
    int rc = 0;
    size_t i = 0;
    while (i < log->count) {
        kl_segment_t *seg = log->segments[i];
        int is_last = i + 1 == log->count;
        int rescan = i >= rescan_from || seg->needs_rescan;
        if (!rescan) {
            rc = kl_segment__load(seg, is_last, is_last ? 0 : log->segments[i + 1]->base_offset,
                                  err);
            if (rc < 0)
                goto done;
            if (rc == 1)
                sd_warn("kl_log", "%s/%s: index damaged or last batch unreadable; rescanning",
                        log->dir, seg->name);
            rescan = rc == 1;
            rc = 0;
        }
        if (!rescan) {
            i++;
            continue;
        }
        if (!scratch && !(scratch = sd_malloc(RECOVERY_BUFFER))) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory for recovery");
            goto done;
        }
        int64_t min_offset = i > 0 ? log->segments[i - 1]->end_offset : seg->base_offset;
        kl_recover_result_t result;
        rc = kl_segment__recover(seg, min_offset, log->config.index_interval_bytes, scratch,
                                 RECOVERY_BUFFER, &result, err);
        if (rc)
            goto done;
        if (result.cut_bytes == 0) {
            i++;
            continue;
        }
        sd_warn("kl_log",
                "%s/%s: truncated at byte %" PRId64 " (offset %" PRId64 "), cut %" PRId64
                " bytes: %s",
                log->dir, seg->name, seg->size, seg->end_offset, result.cut_bytes, result.reason);
        /* Later segments go first: should this be interrupted, the next
         * recovery finds the same bad batch again. */
        delete_after(log, i);
        rc = kl_segment__cut(seg, err);
        if (rc || seg->size > 0 || i == 0)
            break;
        /* An empty segment cannot stay active above the previous one's
         * data: the previous segment becomes active again. A rescanned one
         * knows its end offset; another walks its tail, or is rescanned. */
        log->count--;
        kl_segment__delete(seg, log->dir_fd);
        i--;
        if (i >= rescan_from)
            break;
        rc = kl_segment__load(log->segments[i], 1, 0, err);
        if (rc <= 0)
            break;
        rc = 0;
        rescan_from = i;
    }
    /* A crash just after a roll can lose the old segment's unsynced tail
     * and leave the new one empty: its base would then stand above offsets
     * that no longer exist. The end of the data is the end of the log. */
    size_t last = log->count - 1;
    if (rc == 0 && last > 0 && last - 1 >= rescan_from && log->segments[last]->size == 0 &&
        log->segments[last - 1]->end_offset < log->segments[last]->base_offset) {
        kl_segment_t *seg = log->segments[last];
        sd_warn("kl_log", "%s/%s: deleted, empty above the end of the data (offset %" PRId64 ")",
                log->dir, seg->name, log->segments[last - 1]->end_offset);
        log->count--;
        kl_segment__delete(seg, log->dir_fd);
    }
done:
    sd_free(scratch);
    return rc;
}

/* Deletes the oldest segment while it is not the active one and lies
 * wholly below `limit` (the next segment starts at or below it). */
static size_t delete_prefix_below(kl_log_t *log, int64_t limit, const char *why)
{
    size_t deleted = 0;
    while (log->count > 1 && log->segments[1]->base_offset <= limit) {
        kl_segment_t *seg = log->segments[0];
        sd_info("kl_log", "%s/%s: deleted (%" PRId64 " bytes): %s", log->dir, seg->name, seg->size,
                why);
        memmove(log->segments, log->segments + 1, (log->count - 1) * sizeof *log->segments);
        log->count--;
        kl_segment__delete(seg, log->dir_fd);
        deleted++;
    }
    return deleted;
}

static void delete_below_start(kl_log_t *log)
{
    if (delete_prefix_below(log, log->start_offset, "below the log start offset") > 0 &&
        fsync(log->dir_fd) < 0)
        sd_warn("kl_log", "fsync %s: %s", log->dir, strerror(errno));
}

int kl_log_open(const char *dir, const kl_log_config_t *config, int recover, kl_log_t **out,
                sd_err_t *err)
{
    *out = NULL;
    int64_t *bases = NULL, *swapped = NULL;
    size_t nbases = 0, nswapped = 0;
    int rc;
    kl_log_t *log = sd_calloc(1, sizeof *log);
    if (!log)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory opening %s", dir);
    log->dir_fd = -1;
    log->dir_unsynced_base = -1;
    log->checkpointed_offset = -1;
    log->tombstone_horizon_ms = -1;
    if (config)
        log->config = *config;
    else
        kl_log_config_defaults(&log->config);
    log->dir = sd_strdup(dir);
    if (!log->dir) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory opening %s", dir);
        goto fail;
    }
    if (sd_mkdirs(dir, err)) {
        rc = KL_ERR_STORAGE;
        goto fail;
    }
    log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dir_fd < 0) {
        rc = sd_err_set(err, KL_ERR_STORAGE, "open %s: %s", dir, strerror(errno));
        goto fail;
    }
    int64_t checkpoint = 0;
    int has_checkpoint = read_checkpoint(log, &checkpoint);
    unlinkat(log->dir_fd, CHECKPOINT_TMP, 0);
    int64_t start = 0;
    if (read_offset_file(log, START_NAME, START_MAGIC, "using the first segment's base", &start))
        log->start_offset = start;
    unlinkat(log->dir_fd, START_TMP, 0);
    /* A cleaner swap cut short is finished (or its leftovers removed)
     * before the segments are listed. */
    rc = kl_cleaner__recover(log, &swapped, &nswapped, err);
    if (rc)
        goto fail;
    rc = list_segments(log, &bases, &nbases, err);
    if (rc)
        goto fail;
    for (size_t i = 0; i < nbases; i++) {
        kl_segment_t *seg;
        rc = kl_segment__open(log->dir_fd, log->dir, bases[i], 0, &seg, err);
        if (rc)
            goto fail;
        for (size_t j = 0; j < nswapped; j++)
            if (swapped[j] == bases[i])
                seg->needs_rescan = 1;
        rc = push_segment(log, seg, err);
        if (rc) {
            kl_segment__close(seg);
            goto fail;
        }
    }
    if (log->count == 0) {
        kl_segment_t *seg;
        rc = kl_segment__open(log->dir_fd, log->dir, 0, 1, &seg, err);
        if (rc)
            goto fail;
        rc = push_segment(log, seg, err);
        if (rc) {
            kl_segment__close(seg);
            goto fail;
        }
        log->dir_unsynced_base = 0;
    } else {
        size_t rescan_from = log->count;
        if (recover) {
            rescan_from = 0;
            for (size_t i = 0; has_checkpoint && i < log->count; i++)
                if (log->segments[i]->base_offset <= checkpoint)
                    rescan_from = i;
        }
        rc = load_segments(log, rescan_from, err);
        if (rc)
            goto fail;
    }
    if (nswapped > 0) {
        rc = kl_cleaner__recover_done(log, err);
        if (rc)
            goto fail;
    }
    int64_t end = kl_log_end_offset(log);
    if (log->start_offset > end)
        log->start_offset = end; /* the data above it was lost in a crash */
    /* DeleteRecords persists the start before deleting segments: finish. */
    delete_below_start(log);
    log->flushed_offset = has_checkpoint ? checkpoint : kl_log_start_offset(log);
    if (log->flushed_offset > end)
        log->flushed_offset = end;
    if (log->flushed_offset < kl_log_start_offset(log))
        log->flushed_offset = kl_log_start_offset(log);
    if (has_checkpoint && checkpoint == log->flushed_offset)
        log->checkpointed_offset = checkpoint;
    sd_free(bases);
    sd_free(swapped);
    *out = log;
    return 0;
fail:
    sd_free(bases);
    sd_free(swapped);
    for (size_t i = 0; i < log->count; i++)
        kl_segment__close(log->segments[i]);
    sd_free(log->segments);
    if (log->dir_fd >= 0)
        close(log->dir_fd);
    sd_free(log->dir);
    sd_free(log);
    return rc;
}

/* Fsyncs what is not yet durable; used by close, off the hot path. */
static int sync_all(kl_log_t *log)
{
    size_t fds_cap = log->count + 1;
    int *fds = sd_malloc(fds_cap * sizeof *fds);
    if (!fds)
        return -1;
    size_t n = 0;
    int64_t upto = 0;
    int rc = kl_log_flush_fds(log, fds, fds_cap, &n, &upto);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && fdatasync(fds[i]) < 0) {
            sd_error("kl_log", "fdatasync in %s: %s", log->dir, strerror(errno));
            rc = -1;
        }
        close(fds[i]);
    }
    sd_free(fds);
    if (rc == 0)
        kl_log_mark_flushed(log, upto);
    return rc;
}

void kl_log_close(kl_log_t *log)
{
    if (!log)
        return;
    sync_all(log);
    kl_log_checkpoint(log);
    for (size_t i = 0; i < log->count; i++)
        kl_segment__close(log->segments[i]);
    sd_free(log->segments);
    close(log->dir_fd);
    sd_free(log->dir);
    sd_free(log);
}

static int should_roll(const kl_log_t *log, const kl_segment_t *seg, int64_t planned_size,
                       int64_t batch_size, int64_t last_offset, int64_t now_ms)
{
    const kl_log_config_t *c = &log->config;
    if (planned_size == 0)
        return 0; /* an empty segment takes any batch */
    if (planned_size + batch_size > c->segment_bytes || planned_size + batch_size > INT32_MAX)
        return 1;
    if (last_offset - seg->base_offset > INT32_MAX)
        return 1;
    if (c->segment_index_bytes > 0 &&
        (seg->offsets.count >= (size_t)c->segment_index_bytes / KL_OFFSET_ENTRY_SIZE ||
         seg->times.count >= (size_t)c->segment_index_bytes / KL_TIME_ENTRY_SIZE))
        return 1;
    if (c->segment_ms > 0 && seg->roll_base_ms >= 0 && now_ms - seg->roll_base_ms > c->segment_ms)
        return 1;
    return 0;
}

/* Closes the active segment and starts one at `base`. */
static int roll(kl_log_t *log, int64_t base, sd_err_t *err)
{
    kl_segment_t *old = active(log);
    int rc = kl_segment__finish(old, err);
    if (rc)
        return rc;
    kl_segment_t *seg;
    rc = kl_segment__open(log->dir_fd, log->dir, base, 1, &seg, err);
    if (rc)
        return rc;
    rc = push_segment(log, seg, err);
    if (rc) {
        kl_segment__delete(seg, log->dir_fd);
        return rc;
    }
    log->dir_unsynced_base = base;
    sd_debug("kl_log", "%s: rolled segment %s", log->dir, seg->name);
    return 0;
}

void kl_log_maybe_roll(kl_log_t *log, int64_t now_ms)
{
    const kl_segment_t *seg = active(log);
    if (seg->size == 0 || log->config.segment_ms <= 0 || seg->roll_base_ms < 0 ||
        now_ms - seg->roll_base_ms <= log->config.segment_ms)
        return;
    sd_err_t err;
    if (roll(log, seg->end_offset, &err))
        sd_error("kl_log", "%s: cannot roll on segment.ms: %s", log->dir, err.msg);
}

/* What an append may have to take back. */
typedef struct append_undo {
    size_t count;
    int64_t size;
    int64_t end_offset;
    int64_t bytes_since_index;
    int64_t max_timestamp;
    int64_t offset_of_max_timestamp;
    int64_t roll_base_ms;
    size_t offsets_count;
    size_t times_count;
} append_undo_t;

static void undo_take(const kl_log_t *log, append_undo_t *u)
{
    const kl_segment_t *seg = active(log);
    u->count = log->count;
    u->size = seg->size;
    u->end_offset = seg->end_offset;
    u->bytes_since_index = seg->bytes_since_index;
    u->max_timestamp = seg->max_timestamp;
    u->offset_of_max_timestamp = seg->offset_of_max_timestamp;
    u->roll_base_ms = seg->roll_base_ms;
    u->offsets_count = seg->offsets.count;
    u->times_count = seg->times.count;
}

static void undo_apply(kl_log_t *log, const append_undo_t *u)
{
    while (log->count > u->count)
        kl_segment__delete(log->segments[--log->count], log->dir_fd);
    kl_segment_t *seg = active(log);
    sd_err_t err;
    if (seg->size != u->size) {
        seg->size = u->size;
        if (kl_segment__cut(seg, &err))
            sd_error("kl_log", "undoing a failed append: %s", err.msg);
    }
    if (kl_index__truncate(&seg->offsets, u->offsets_count, &err) ||
        kl_index__truncate(&seg->times, u->times_count, &err))
        sd_error("kl_log", "undoing a failed append: %s", err.msg);
    seg->end_offset = u->end_offset;
    seg->bytes_since_index = u->bytes_since_index;
    seg->max_timestamp = u->max_timestamp;
    seg->offset_of_max_timestamp = u->offset_of_max_timestamp;
    seg->roll_base_ms = u->roll_base_ms;
}

int kl_log_append(kl_log_t *log, uint8_t *buf, size_t len, int64_t now_ms, int64_t *base_offset,
                  sd_err_t *err)
{
    *base_offset = -1;
    if (len == 0)
        return sd_err_set(err, KL_ERR_INVALID_RECORD, "no record batch in the produce data");
    /* Everything is validated before anything is written. */
    kl_batch_header_t h;
    int index = 0;
    for (size_t pos = 0; pos < len; pos += (size_t)kl_batch_total_size(&h), index++) {
        sd_err_t detail;
        int rc = kl_batch_validate(buf + pos, len - pos, KL_BATCH_FROM_CLIENT,
                                   log->config.max_message_bytes, &h, &detail);
        if (rc == 0 && log->config.cleanup_compact)
            rc = kl_batch_require_keys(buf + pos, (size_t)kl_batch_total_size(&h), &detail);
        if (rc)
            return sd_err_set(err, rc, "batch %d (byte %zu): %s", index, pos, detail.msg);
    }

    append_undo_t undo;
    undo_take(log, &undo);
    kl_segment_t *seg = active(log);
    int64_t next = seg->end_offset, first = next;
    int32_t interval = log->config.index_interval_bytes;
    size_t written = 0; /* buf[written .. pos) is planned for seg, not yet written */
    int rc = 0;
    for (size_t pos = 0; pos < len;) {
        kl_batch_header_decode(buf + pos, &h);
        int64_t size = kl_batch_total_size(&h);
        int64_t last = next + h.last_offset_delta;
        int64_t planned = seg->size + (int64_t)(pos - written);
        if (should_roll(log, seg, planned, size, last, now_ms)) {
            rc = kl_segment__write(seg, buf + written, pos - written, err);
            if (rc == 0)
                rc = roll(log, next, err);
            if (rc)
                goto fail;
            seg = active(log);
            written = pos;
            planned = 0;
        }
        uint8_t *batch = buf + pos;
        kl_batch_set_base_offset(batch, next);
        int64_t max_timestamp = h.max_timestamp;
        if (log->config.log_append_time) {
            kl_batch_set_log_append_time(batch, (size_t)size, now_ms);
            max_timestamp = now_ms;
        }
        if (seg->roll_base_ms < 0)
            seg->roll_base_ms = now_ms;
        kl_segment__note_batch(seg, planned, size, next, last, max_timestamp, interval);
        next = last + 1;
        pos += (size_t)size;
    }
    rc = kl_segment__write(seg, buf + written, len - written, err);
    if (rc)
        goto fail;
    if (seg->offsets.count - seg->offsets.written >= INDEX_WRITE_RUN) {
        sd_err_t index_err;
        /* The data is in; a failed index write is retried later and an
         * index is rebuilt from the log if it ever comes up damaged. */
        if (kl_segment__write_indexes(seg, &index_err))
            sd_warn("kl_log", "%s", index_err.msg);
    }
    *base_offset = first;
    return 0;
fail:
    undo_apply(log, &undo);
    return rc;
}

size_t kl_log__find_segment(const kl_log_t *log, int64_t offset)
{
    size_t lo = 0, hi = log->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segments[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

/* A bad header in a stored segment is a storage failure, not the client's. */
static int storage_error(int rc, sd_err_t *err)
{
    if (rc == KL_ERR_CORRUPT && err)
        err->code = KL_ERR_STORAGE;
    return rc == KL_ERR_CORRUPT ? KL_ERR_STORAGE : rc;
}

int kl_log_read(kl_log_t *log, int64_t offset, int32_t max_bytes, kl_read_t *out, sd_err_t *err)
{
    out->fd = -1;
    out->pos = 0;
    out->len = 0;
    int64_t start = kl_log_start_offset(log), end = kl_log_end_offset(log);
    if (offset < start || offset > end)
        return sd_err_set(err, KL_ERR_OUT_OF_RANGE,
                          "offset %" PRId64 " is outside the log [%" PRId64 ", %" PRId64 "]",
                          offset, start, end);
    if (offset == end)
        return 0;
    /* An offset in a gap at a segment's end (compaction, truncation) is
     * served from the next segment. */
    for (size_t i = kl_log__find_segment(log, offset); i < log->count; i++) {
        const kl_segment_t *seg = log->segments[i];
        int64_t pos, stop;
        kl_batch_header_t h;
        int rc = kl_segment__find_offset(seg, offset, &pos, &h, err);
        if (rc < 0)
            return storage_error(rc, err);
        if (rc == 0)
            continue;
        /* A batch emptied by compaction that closes its segment (the cleaner
         * keeps one to hold the segment's end) carries nothing a reader
         * needs; some clients report a response made of it alone as an
         * error. Serve the next segment's batches instead. */
        if (h.records_count == 0 && pos + kl_batch_total_size(&h) >= seg->size &&
            i + 1 < log->count && log->segments[i + 1]->size > 0) {
            offset = h.base_offset + h.last_offset_delta + 1;
            continue;
        }
        rc = kl_segment__extend(seg, pos, kl_batch_total_size(&h), max_bytes, &stop, err);
        if (rc < 0)
            return storage_error(rc, err);
        if (stop - pos > INT32_MAX)
            return sd_err_set(err, KL_ERR_STORAGE, "%s/%s: batch at byte %" PRId64 " too large",
                              log->dir, seg->name, pos);
        out->fd = fcntl(seg->log_fd, F_DUPFD_CLOEXEC, 0);
        if (out->fd < 0)
            return io_error(log, "dup", seg->name, err);
        out->pos = pos;
        out->len = (int32_t)(stop - pos);
        return 0;
    }
    return 0;
}

/* The first record of the batch at pos (header h) whose timestamp is >= ts.
 * Returns 1 and sets *offset / *found_ts, 0 when the batch has none, or an
 * error. A compressed batch is not opened: its base offset and
 * maxTimestamp stand for it, as for LogAppendTime, where every record has
 * the batch's maxTimestamp. */
static int record_for_timestamp(const kl_segment_t *seg, int64_t pos, const kl_batch_header_t *h,
                                int64_t ts, int64_t *offset, int64_t *found_ts, sd_err_t *err)
{
    *offset = h->base_offset;
    *found_ts = h->max_timestamp;
    if ((h->attributes & KL_ATTR_LOG_APPEND_TIME) || h->records_count <= 0)
        return 1;
    size_t size = (size_t)kl_batch_total_size(h);
    uint8_t *batch = sd_malloc(size);
    if (!batch)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory reading a batch");
    sd_writer_t scratch;
    sd_writer_init(&scratch);
    int rc = kl_segment__pread(seg, pos, batch, size, err);
    kl_record_iter_t it;
    sd_err_t why;
    /* A batch whose records cannot be opened stands for itself. */
    if (rc == 0 && kl_record_iter_open(&it, batch, size, TIMESTAMP_SCAN_MAX, &scratch, &why) != 0)
        rc = 1;
    else if (rc == 0) {
        kl_record_t rec;
        rc = 1; /* a batch whose records do not parse stands for itself */
        int more;
        while ((more = kl_record_iter_next(&it, &rec, NULL)) == 1) {
            if (rec.timestamp >= ts) {
                *offset = h->base_offset + rec.offset_delta;
                *found_ts = rec.timestamp;
                break;
            }
        }
        if (more == 0)
            rc = 0; /* maxTimestamp overstated: look further */
    }
    sd_writer_free(&scratch);
    sd_free(batch);
    return rc;
}

int kl_log_offset_for_timestamp(kl_log_t *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
    *offset = -1;
    *found_ts = -1;
    sd_err_t err;
    for (size_t i = 0; i < log->count; i++) {
        const kl_segment_t *seg = log->segments[i];
        if (seg->size == 0 || seg->max_timestamp < ts)
            continue;
        int64_t pos = -1;
        int rc;
        kl_batch_header_t h;
        while ((rc = kl_segment__find_timestamp(seg, ts, &pos, &h, &err)) == 1) {
            rc = record_for_timestamp(seg, pos, &h, ts, offset, found_ts, &err);
            if (rc != 0)
                break;
            pos += kl_batch_total_size(&h);
        }
        if (rc < 0) {
            *offset = *found_ts = -1;
            sd_error("kl_log", "offset for timestamp %" PRId64 ": %s", ts, err.msg);
            return KL_ERR_STORAGE;
        }
        if (rc == 1)
            return 0;
    }
    *offset = *found_ts = -1;
    return 0;
}

int kl_log_flush_fds(kl_log_t *log, int *fds, size_t max_fds, size_t *n, int64_t *upto)
{
    *n = 0;
    int64_t end = kl_log_end_offset(log);
    *upto = end;
    sd_err_t err;
    if (kl_segment__write_indexes(active(log), &err))
        sd_warn("kl_log", "%s", err.msg);
    if (end <= log->flushed_offset)
        return 0;
    /* Segments whose offsets may reach past the flushed offset: a suffix of
     * the list (a segment's offsets stay below the next one's base). */
    size_t i = kl_log__find_segment(log, log->flushed_offset);
    for (; i < log->count; i++) {
        kl_segment_t *seg = log->segments[i];
        if (seg->size == 0)
            continue;
        if (*n == max_fds) {
            *upto = seg->base_offset;
            break;
        }
        int fd = fcntl(seg->log_fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            goto fail;
        fds[(*n)++] = fd;
    }
    if (log->dir_unsynced_base >= 0 && log->dir_unsynced_base < *upto) {
        if (*n < max_fds) {
            int fd = fcntl(log->dir_fd, F_DUPFD_CLOEXEC, 0);
            if (fd < 0)
                goto fail;
            fds[(*n)++] = fd;
        } else {
            *upto = log->dir_unsynced_base;
        }
    }
    return 0;
fail:
    sd_error("kl_log", "dup in %s: %s", log->dir, strerror(errno));
    while (*n > 0)
        close(fds[--*n]);
    *upto = log->flushed_offset;
    return KL_ERR_STORAGE;
}

void kl_log_mark_flushed(kl_log_t *log, int64_t upto)
{
    int64_t end = kl_log_end_offset(log);
    if (upto > end)
        upto = end;
    if (upto > log->flushed_offset)
        log->flushed_offset = upto;
    if (log->dir_unsynced_base >= 0 && upto > log->dir_unsynced_base)
        log->dir_unsynced_base = -1;
}

int kl_log__write_file(kl_log_t *log, const char *name, const char *tmp, const char *text,
                       sd_err_t *err)
{
    size_t len = strlen(text);
    int fd = openat(log->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return io_error(log, "create", tmp, err);
    errno = 0;
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
        if (errno == 0)
            errno = EIO;
        int saved = errno;
        close(fd);
        errno = saved;
        return io_error(log, "write", tmp, err);
    }
    if (close(fd) < 0)
        return io_error(log, "close", tmp, err);
    if (renameat(log->dir_fd, tmp, log->dir_fd, name) < 0)
        return io_error(log, "rename to", name, err);
    if (fsync(log->dir_fd) < 0)
        return io_error(log, "fsync the directory of", name, err);
    return 0;
}

int kl_log_checkpoint(kl_log_t *log)
{
    sd_err_t err;
    for (size_t i = 0; i < log->count; i++)
        if (kl_segment__write_indexes(log->segments[i], &err))
            sd_warn("kl_log", "%s", err.msg);
    if (log->flushed_offset == log->checkpointed_offset)
        return 0;
    char text[64];
    snprintf(text, sizeof text, CHECKPOINT_MAGIC "\n%" PRId64 "\n", log->flushed_offset);
    if (kl_log__write_file(log, CHECKPOINT_NAME, CHECKPOINT_TMP, text, &err)) {
        sd_error("kl_log", "write checkpoint: %s", err.msg);
        return KL_ERR_STORAGE;
    }
    log->checkpointed_offset = log->flushed_offset;
    return 0;
}

int kl_log_delete_records(kl_log_t *log, int64_t offset, sd_err_t *err)
{
    int64_t end = kl_log_end_offset(log);
    if (offset == -1)
        offset = end;
    if (offset < 0 || offset > end)
        return sd_err_set(err, KL_ERR_OUT_OF_RANGE,
                          "offset %" PRId64 " is outside the log [%" PRId64 ", %" PRId64 "]",
                          offset, kl_log_start_offset(log), end);
    if (offset <= kl_log_start_offset(log))
        return 0;
    char text[64];
    snprintf(text, sizeof text, START_MAGIC "\n%" PRId64 "\n", offset);
    int rc = kl_log__write_file(log, START_NAME, START_TMP, text, err);
    if (rc)
        return rc;
    log->start_offset = offset;
    delete_below_start(log);
    return 0;
}

/* Retention runs on the event loop: deleting a segment is a few unlinks
 * (cheap, no data is read), and it changes the segment list, which only
 * this thread may touch; the cleaner thread is kept for the work that
 * reads and writes whole segments. */
size_t kl_log_apply_retention(kl_log_t *log, int64_t now_ms)
{
    const kl_log_config_t *c = &log->config;
    if (!c->cleanup_delete)
        return 0;
    size_t deleted = 0;
    int64_t total = kl_log_size_bytes(log);
    while (log->count > 1) {
        kl_segment_t *seg = log->segments[0];
        const char *why = NULL;
        char text[96];
        if (c->retention_ms >= 0 && now_ms - seg->max_timestamp > c->retention_ms) {
            snprintf(text, sizeof text,
                     "retention.ms %" PRId64 " passed (largest timestamp %" PRId64 ")",
                     c->retention_ms, seg->max_timestamp);
            why = text;
        } else if (c->retention_bytes >= 0 && total - seg->size >= c->retention_bytes) {
            snprintf(text, sizeof text, "log of %" PRId64 " bytes exceeds retention.bytes %" PRId64,
                     total, c->retention_bytes);
            why = text;
        }
        if (!why)
            break;
        total -= seg->size;
        deleted += delete_prefix_below(log, log->segments[1]->base_offset, why);
    }
    if (deleted > 0 && fsync(log->dir_fd) < 0)
        sd_warn("kl_log", "fsync %s: %s", log->dir, strerror(errno));
    return deleted;
}

int kl_log_scan_active(kl_log_t *log, kl_batch_header_cb cb, void *opaque, sd_err_t *err)
{
    const kl_segment_t *seg = active(log);
    uint8_t header[KL_BATCH_HEADER_SIZE];
    for (int64_t pos = 0; pos + KL_BATCH_HEADER_SIZE <= seg->size;) {
        int rc = kl_segment__pread(seg, pos, header, sizeof header, err);
        if (rc)
            return rc;
        kl_batch_header_t h;
        kl_batch_header_decode(header, &h);
        if (h.batch_length < KL_BATCH_HEADER_SIZE - KL_BATCH_LOG_OVERHEAD)
            return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: bad batch length at byte %" PRId64,
                              log->dir, seg->name, pos);
        rc = cb(header, opaque);
        if (rc)
            return rc;
        pos += kl_batch_total_size(&h);
    }
    return 0;
}
