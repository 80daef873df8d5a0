/*
 * kl_cleaner.c - log compaction of a partition log (see kl_cleaner.h).
 *
 * What is kept. The cleanable segments are the sealed ones older than
 * min.compaction.lag.ms; those a previous clean covered hold one record per
 * key already, the rest are dirty. A map from key to newest offset is built
 * over the dirty ones (capped by log.cleaner.dedupe.buffer.size, which may
 * end the range early); a record stays when its offset is the one mapped to
 * its key, or, below the dirty part, when its key is not mapped at all.
 * Records without a key are dropped (a compacted topic refuses them on
 * produce).
 * A kept tombstone (null value) marks its batch with Kafka's delete horizon
 * (attribute bit 6, baseTimestamp = now + delete.retention.ms); a clean
 * after the horizon drops it.
 *
 * Batches. A batch whose records all stay, and that needs no horizon, is
 * copied byte for byte (compression and CRC untouched). Otherwise it is
 * rebuilt with the same base offset, lastOffsetDelta, producer fields and
 * record offset deltas, then recompressed with its codec. A batch emptied
 * by cleaning is dropped, except the last batch of a segment, which is kept
 * with no records: a segment then still ends at the offset it ended at, so
 * the log's end offset, which recovery derives from the last batches it
 * reads, can never move back and hand out an offset twice. (Kafka keeps the
 * last batch of each producer for its idempotence state; Strand's producer
 * state does not live in the log.)
 *
 * Crash safety. The run writes "<base>.log.cleaned" files, fsyncs them and
 * then the directory; the originals are untouched. The commit then takes these steps, each
 * made durable before the next (the number is kl_log_clean_commit's
 * stop_after):
 *   1        write the commit record "cleaner-swap" listing the swapped
 *            bases (temp file, fsync, rename, fsync of the directory): the
 *            commit point
 *   2+2i     unlink segment i's .index and .timeindex (they describe the
 *            old file)
 *   3+2i     rename "<base>.log.cleaned" over "<base>.log" (atomic)
 *   2+2n     fsync the directory; reopen the swapped segments, rebuild
 *            their indexes from the new files and fsync them
 *   3+2n     unlink the commit record, fsync the directory
 * Recovery (kl_log_open): without a commit record every ".cleaned" file is
 * deleted (the originals are whole). With one, each listed segment whose
 * .cleaned file still exists has its indexes unlinked and is renamed in
 * (steps 2 and 3 again: both are idempotent), every listed segment is
 * rescanned to rebuild its indexes, and the record is removed. So after any
 * crash either no segment of the job or all of them are swapped; all of
 * them matters for tombstones, whose removal is only safe once the older
 * values they cover are gone too.
 */
#include "storage/kl_cleaner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/log.h"
#include "storage/kl_batch.h"
#include "storage/kl_codec.h"
#include "storage/kl_log_int.h"
#include "storage/kl_segment.h"

/* Largest decompressed records section the cleaner and the produce key
 * check accept from one batch. */
#define MAX_DECOMPRESSED ((size_t)256 * 1024 * 1024)
#define READ_CHUNK ((size_t)1024 * 1024)
#define WRITE_CHUNK ((size_t)1024 * 1024)
#define SCAN_BUFFER ((size_t)1 << 20)

typedef struct clean_input {
    int64_t base;
    int fd;       /* dup of the segment's .log; -1 once closed */
    int64_t size; /* bytes of whole batches */
    int changed;  /* the cleaned copy differs from the segment */
    int written;  /* "<base>.log.cleaned" exists */
} clean_input_t;

struct kl_clean_job {
    char *dir;  /* owned */
    int dir_fd; /* owned dup */
    int64_t now_ms;
    int64_t delete_retention_ms;
    int64_t end_offset; /* the cleaned range ends here */
    size_t first_dirty; /* inputs before it were cleaned before: not mapped */
    int64_t map_start;  /* base offset of inputs[first_dirty] */
    size_t map_limit;   /* bytes the key map may grow to before the range is cut; 0 = none */
    clean_input_t *inputs;
    size_t count;
    int ran;
    int64_t min_horizon_ms; /* earliest delete horizon of a kept tombstone, -1 none */
    kl_clean_stats_t stats;
};

/* ------------------------------------------------------------------ key map */

/* Keys are held as two independent 64-bit hashes (a false match needs both
 * to collide), with open addressing and linear probing. */
typedef struct key_slot {
    uint64_t h1, h2;
    int64_t offset; /* -1 = empty */
} key_slot_t;

typedef struct key_map {
    key_slot_t *slots; /* owned */
    size_t cap;        /* power of two */
    size_t count;
} key_map_t;

static void key_hash(const uint8_t *key, int32_t len, uint64_t *h1, uint64_t *h2)
{
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
    for (int32_t i = 0; i < len; i++) {
        a = (a ^ key[i]) * 0x100000001b3ULL;
        b = (b + key[i]) * 0xff51afd7ed558ccdULL;
        b ^= b >> 29;
    }
    b ^= b >> 33;
    b *= 0xc4ceb9fe1a85ec53ULL;
    b ^= b >> 33;
    *h1 = a;
    *h2 = b;
}

static key_slot_t *map_slot(const key_map_t *m, uint64_t h1, uint64_t h2)
{
    size_t i = (size_t)(h1 ^ (h2 >> 7)) & (m->cap - 1);
    while (m->slots[i].offset >= 0 && (m->slots[i].h1 != h1 || m->slots[i].h2 != h2))
        i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

static int map_grow(key_map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    key_slot_t *slots = sd_malloc(cap * sizeof *slots);
    if (!slots)
        return SD_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++)
        slots[i].offset = -1;
    key_map_t grown = {slots, cap, m->count};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].offset >= 0)
            *map_slot(&grown, m->slots[i].h1, m->slots[i].h2) = m->slots[i];
    sd_free(m->slots);
    *m = grown;
    return 0;
}

static int map_put(key_map_t *m, const uint8_t *key, int32_t len, int64_t offset)
{
    if ((m->count + 1) * 4 > m->cap * 3 && map_grow(m))
        return SD_ERR_NOMEM;
    uint64_t h1, h2;
    key_hash(key, len, &h1, &h2);
    key_slot_t *s = map_slot(m, h1, h2);
    if (s->offset < 0) {
        m->count++;
        s->h1 = h1;
        s->h2 = h2;
    }
    if (offset > s->offset)
        s->offset = offset;
    return 0;
}

static int64_t map_get(const key_map_t *m, const uint8_t *key, int32_t len)
{
    if (m->cap == 0)
        return -1;
    uint64_t h1, h2;
    key_hash(key, len, &h1, &h2);
    return map_slot(m, h1, h2)->offset;
}

/* -------------------------------------------------------- reading batches */

/* Reads a segment's batches in order through a buffer. */
typedef struct batch_reader {
    int fd;
    int64_t size; /* of the segment */
    int64_t pos;  /* file position of the next batch */
    uint8_t *buf; /* owned */
    size_t cap;
    int64_t buf_start;
    size_t buf_len;
    const char *dir, *what; /* for messages */
} batch_reader_t;

static int reader_fill(batch_reader_t *r, int64_t pos, size_t need, sd_err_t *err)
{
    if (pos >= r->buf_start && pos + (int64_t)need <= r->buf_start + (int64_t)r->buf_len)
        return 0;
    size_t want = need > READ_CHUNK ? need : READ_CHUNK;
    if ((int64_t)want > r->size - pos)
        want = (size_t)(r->size - pos);
    if (want > r->cap) {
        uint8_t *grown = sd_realloc(r->buf, want);
        if (!grown)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory reading %s/%s", r->dir, r->what);
        r->buf = grown;
        r->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(r->fd, r->buf + got, want - got, (off_t)(pos + (int64_t)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sd_err_set(err, KL_ERR_STORAGE, "read %s/%s: %s", r->dir, r->what,
                              strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    r->buf_start = pos;
    r->buf_len = got;
    if (got < need)
        return sd_err_set(err, KL_ERR_STORAGE, "%s/%s: short read at byte %" PRId64, r->dir,
                          r->what, pos);
    return 0;
}

/* Returns 1 with the next batch (validated: framing, magic, CRC), 0 at the
 * end, or an error. The batch is borrowed until the next call. */
static int reader_next(batch_reader_t *r, const uint8_t **batch, size_t *size, kl_batch_header_t *h,
                       sd_err_t *err)
{
    if (r->pos >= r->size)
        return 0;
    if (r->size - r->pos < KL_BATCH_HEADER_SIZE)
        return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: torn batch at byte %" PRId64, r->dir,
                          r->what, r->pos);
    int rc = reader_fill(r, r->pos, KL_BATCH_HEADER_SIZE, err);
    if (rc)
        return rc;
    kl_batch_header_decode(r->buf + (r->pos - r->buf_start), h);
    int64_t total = kl_batch_total_size(h);
    if (h->batch_length < KL_BATCH_HEADER_SIZE - KL_BATCH_LOG_OVERHEAD || total > r->size - r->pos)
        return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: bad batch length at byte %" PRId64, r->dir,
                          r->what, r->pos);
    rc = reader_fill(r, r->pos, (size_t)total, err);
    if (rc)
        return rc;
    const uint8_t *p = r->buf + (r->pos - r->buf_start);
    sd_err_t why;
    rc = kl_batch_validate(p, (size_t)total, 0, 0, h, &why);
    if (rc)
        return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: batch at byte %" PRId64 ": %s", r->dir,
                          r->what, r->pos, why.msg);
    *batch = p;
    *size = (size_t)total;
    r->pos += total;
    return 1;
}

/* Starts iterating the records of a validated batch; a compressed one is
 * decompressed into scratch (header first, codec bits cleared) and iterated
 * there. */
static int open_records(const uint8_t *batch, size_t size, sd_writer_t *scratch,
                        kl_record_iter_t *it, sd_err_t *err)
{
    int codec = sd_be16(batch + KL_BATCH_OFF_ATTRIBUTES) & KL_ATTR_CODEC_MASK;
    if (codec == KL_CODEC_NONE) {
        kl_record_iter_init(it, batch, size);
        return 0;
    }
    sd_writer_reset(scratch);
    sd_write_bytes(scratch, batch, KL_BATCH_HEADER_SIZE);
    if (scratch->err)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory decompressing a batch");
    int rc = kl_codec_decompress(codec, batch + KL_BATCH_HEADER_SIZE, size - KL_BATCH_HEADER_SIZE,
                                 MAX_DECOMPRESSED, scratch, err);
    if (rc)
        return rc;
    scratch->buf[KL_BATCH_OFF_ATTRIBUTES + 1] &= (uint8_t)~KL_ATTR_CODEC_MASK;
    kl_record_iter_init(it, scratch->buf, scratch->len);
    return 0;
}

int kl_batch_require_keys(const uint8_t *batch, size_t size, sd_err_t *err)
{
    sd_writer_t scratch;
    sd_writer_init(&scratch);
    kl_record_iter_t it;
    kl_record_t rec;
    int rc = open_records(batch, size, &scratch, &it, err);
    if (rc) {
        if (rc == SD_ERR_TOO_LARGE) {
            rc = KL_ERR_CORRUPT; /* the message already says why */
            if (err)
                err->code = rc;
        }
        goto done;
    }
    int32_t index = 0;
    while ((rc = kl_record_iter_next(&it, &rec, NULL)) == 1) {
        if (rec.key_len < 0) {
            rc = sd_err_set(err, KL_ERR_INVALID_RECORD,
                            "Compacted topic cannot accept message without key in topic "
                            "partition (record %" PRId32 " of the batch has a null key)",
                            index);
            goto done;
        }
        index++;
    }
    if (rc < 0)
        rc = sd_err_set(err, KL_ERR_CORRUPT, "record %" PRId32 " of the batch is malformed", index);
done:
    sd_writer_free(&scratch);
    return rc;
}

/* ------------------------------------------------------------------- the job */

static void cleaned_name(char *buf, size_t n, int64_t base)
{
    snprintf(buf, n, "%020" PRId64 ".log" KL_CLEANED_SUFFIX, base);
}

static void remove_cleaned(kl_clean_job_t *job, clean_input_t *in)
{
    if (!in->written)
        return;
    char name[64];
    cleaned_name(name, sizeof name, in->base);
    unlinkat(job->dir_fd, name, 0);
    in->written = 0;
}

void kl_clean_job_free(kl_clean_job_t *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->count; i++) {
        if (job->dir_fd >= 0)
            remove_cleaned(job, &job->inputs[i]);
        if (job->inputs[i].fd >= 0)
            close(job->inputs[i].fd);
    }
    if (job->dir_fd >= 0)
        close(job->dir_fd);
    sd_free(job->inputs);
    sd_free(job->dir);
    sd_free(job);
}

const kl_clean_stats_t *kl_clean_job_stats(const kl_clean_job_t *job) { return &job->stats; }

void kl_clean_job_set_map_limit(kl_clean_job_t *job, size_t bytes) { job->map_limit = bytes; }

/* The max timestamp of a segment's first batch, or -1. */
static int64_t first_batch_time(const kl_segment_t *seg)
{
    uint8_t header[KL_BATCH_HEADER_SIZE];
    sd_err_t err;
    if (seg->size < KL_BATCH_HEADER_SIZE || kl_segment__pread(seg, 0, header, sizeof header, &err))
        return -1;
    kl_batch_header_t h;
    kl_batch_header_decode(header, &h);
    return h.max_timestamp;
}

int kl_log_clean_prepare(kl_log_t *log, int64_t now_ms, int force, kl_clean_job_t **out,
                         sd_err_t *err)
{
    *out = NULL;
    const kl_log_config_t *c = &log->config;
    if (!c->cleanup_compact || log->cleaning || log->swap_pending)
        return 0;
    /* Cleanable: sealed segments up to the first one holding a record
     * younger than min.compaction.lag.ms. */
    size_t k = 0;
    while (k + 1 < log->count) {
        const kl_segment_t *seg = log->segments[k];
        if (c->min_compaction_lag_ms > 0 && seg->max_timestamp > now_ms - c->min_compaction_lag_ms)
            break;
        k++;
    }
    if (k == 0)
        return 0;
    int64_t clean_bytes = 0, dirty_bytes = 0;
    const kl_segment_t *first_dirty = NULL;
    size_t dirty_index = k;
    for (size_t i = 0; i < k; i++) {
        const kl_segment_t *seg = log->segments[i];
        if (log->segments[i + 1]->base_offset <= log->clean_offset) {
            clean_bytes += seg->size;
        } else {
            dirty_bytes += seg->size;
            if (dirty_index == k)
                dirty_index = i;
            if (!first_dirty && seg->size > 0)
                first_dirty = seg;
        }
    }
    int due = force;
    if (dirty_bytes > 0 &&
        (double)dirty_bytes / (double)(clean_bytes + dirty_bytes) > c->min_cleanable_dirty_ratio)
        due = 1;
    if (first_dirty && c->max_compaction_lag_ms < INT64_MAX) {
        int64_t first = first_batch_time(first_dirty);
        if (first >= 0 && now_ms - first > c->max_compaction_lag_ms)
            due = 1;
    }
    if (log->tombstone_horizon_ms >= 0 && now_ms >= log->tombstone_horizon_ms)
        due = 1;
    if (!due)
        return 0;

    kl_clean_job_t *job = sd_calloc(1, sizeof *job);
    if (!job)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory preparing a clean of %s", log->dir);
    job->dir_fd = -1;
    job->min_horizon_ms = -1;
    job->now_ms = now_ms;
    job->delete_retention_ms = c->delete_retention_ms;
    job->end_offset = log->segments[k]->base_offset;
    job->first_dirty = dirty_index;
    job->map_start = log->segments[dirty_index]->base_offset;
    job->dir = sd_strdup(log->dir);
    job->inputs = sd_calloc(k, sizeof *job->inputs);
    int rc = 0;
    if (!job->dir || !job->inputs) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory preparing a clean of %s", log->dir);
        goto fail;
    }
    job->dir_fd = fcntl(log->dir_fd, F_DUPFD_CLOEXEC, 0);
    if (job->dir_fd < 0) {
        rc = sd_err_set(err, KL_ERR_STORAGE, "dup %s: %s", log->dir, strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < k; i++) {
        clean_input_t *in = &job->inputs[i];
        in->base = log->segments[i]->base_offset;
        in->size = log->segments[i]->size;
        in->fd = fcntl(log->segments[i]->log_fd, F_DUPFD_CLOEXEC, 0);
        job->count++;
        if (in->fd < 0) {
            rc = sd_err_set(err, KL_ERR_STORAGE, "dup %s/%s: %s", log->dir, log->segments[i]->name,
                            strerror(errno));
            goto fail;
        }
    }
    log->cleaning = 1;
    *out = job;
    return 0;
fail:
    kl_clean_job_free(job);
    return rc;
}

/* Scratch state of a run. */
typedef struct run_state {
    key_map_t map;
    batch_reader_t reader;
    sd_writer_t records;  /* decompressed records */
    sd_writer_t built;    /* a rebuilt batch before compression */
    sd_writer_t packed;   /* compressed records */
    sd_writer_t out;      /* pending output bytes */
    kl_record_t *recs;    /* kept records of one batch */
    size_t *first_header; /* index in headers of each kept record's first */
    size_t recs_cap;
    kl_header_t *headers; /* their headers */
    size_t headers_cap;
} run_state_t;

static void reader_start(batch_reader_t *r, const kl_clean_job_t *job, const clean_input_t *in,
                         const char *what)
{
    r->fd = in->fd;
    r->size = in->size;
    r->pos = 0;
    r->buf_start = 0;
    r->buf_len = 0;
    r->dir = job->dir;
    r->what = what;
}

/* Pass 1: key -> newest offset over the job's dirty segments (those not
 * cleaned before), as Kafka's cleaner maps only the dirty part. */
static int build_map(kl_clean_job_t *job, run_state_t *st, sd_err_t *err)
{
    for (size_t i = job->first_dirty; i < job->count; i++) {
        if (i > job->first_dirty && job->map_limit > 0 &&
            st->map.cap * sizeof(key_slot_t) >= job->map_limit) {
            /* The map is full: clean the segments mapped so far, as Kafka
             * does when its dedupe buffer fills; the rest waits for the
             * next clean. */
            sd_info("kl_log", "%s: key map full after %zu of %zu segments", job->dir, i,
                    job->count);
            job->end_offset = job->inputs[i].base;
            for (size_t j = i; j < job->count; j++)
                close(job->inputs[j].fd);
            job->count = i;
            break;
        }
        char what[40];
        snprintf(what, sizeof what, "%020" PRId64 ".log", job->inputs[i].base);
        reader_start(&st->reader, job, &job->inputs[i], what);
        const uint8_t *batch;
        size_t size;
        kl_batch_header_t h;
        int rc;
        while ((rc = reader_next(&st->reader, &batch, &size, &h, err)) == 1) {
            kl_record_iter_t it;
            kl_record_t rec;
            rc = open_records(batch, size, &st->records, &it, err);
            if (rc)
                return rc;
            while ((rc = kl_record_iter_next(&it, &rec, NULL)) == 1)
                if (rec.key_len >= 0 &&
                    map_put(&st->map, rec.key, rec.key_len, h.base_offset + rec.offset_delta))
                    return sd_err_set(err, SD_ERR_NOMEM, "out of memory for the key map of %s",
                                      job->dir);
            if (rc < 0)
                return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: malformed record in batch %" PRId64,
                                  job->dir, what, h.base_offset);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int reserve_records(run_state_t *st, size_t n)
{
    if (n <= st->recs_cap)
        return 0;
    size_t cap = st->recs_cap ? st->recs_cap * 2 : 64;
    while (cap < n)
        cap *= 2;
    kl_record_t *grown = sd_realloc(st->recs, cap * sizeof *grown);
    if (!grown)
        return SD_ERR_NOMEM;
    st->recs = grown;
    size_t *starts = sd_realloc(st->first_header, cap * sizeof *starts);
    if (!starts)
        return SD_ERR_NOMEM;
    st->first_header = starts;
    st->recs_cap = cap;
    return 0;
}

static int reserve_headers(run_state_t *st, size_t n)
{
    if (n <= st->headers_cap)
        return 0;
    size_t cap = st->headers_cap ? st->headers_cap * 2 : 64;
    while (cap < n)
        cap *= 2;
    kl_header_t *grown = sd_realloc(st->headers, cap * sizeof *grown);
    if (!grown)
        return SD_ERR_NOMEM;
    st->headers = grown;
    st->headers_cap = cap;
    return 0;
}

/* Appends the batch rebuilt from st->recs[0..n) to st->out, recompressed
 * with the original codec. */
static int rebuild_batch(run_state_t *st, const kl_batch_header_t *h, size_t n, int64_t horizon,
                         sd_err_t *err)
{
    int codec = h->attributes & KL_ATTR_CODEC_MASK;
    kl_batch_params_t params;
    kl_batch_params_init(&params);
    params.base_offset = h->base_offset;
    params.partition_leader_epoch = h->partition_leader_epoch;
    params.attributes = (int16_t)(h->attributes & ~(KL_ATTR_CODEC_MASK | KL_ATTR_DELETE_HORIZON));
    if (horizon >= 0)
        params.attributes |= KL_ATTR_DELETE_HORIZON;
    params.producer_id = h->producer_id;
    params.producer_epoch = h->producer_epoch;
    params.base_sequence = h->base_sequence;
    params.keep_offset_deltas = 1;
    params.last_offset_delta = h->last_offset_delta;
    params.base_timestamp = horizon >= 0 ? horizon : h->max_timestamp;
    sd_writer_reset(&st->built);
    int rc = kl_batch_build(&st->built, &params, st->recs, n, err);
    if (rc)
        return rc;
    uint8_t *b = st->built.buf;
    size_t size = st->built.len;
    if (n == 0 || (h->attributes & KL_ATTR_LOG_APPEND_TIME)) {
        /* The batch's time stays: LogAppendTime stamps it, and an emptied
         * batch keeps the segment's time for retention. */
        sd_put_be64(b + KL_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)h->max_timestamp);
        sd_put_be32(b + KL_BATCH_OFF_CRC, kl_batch_compute_crc(b, size));
    }
    if (codec == KL_CODEC_NONE || n == 0) {
        sd_write_bytes(&st->out, b, size);
    } else {
        sd_writer_reset(&st->packed);
        rc = kl_codec_compress(codec, b + KL_BATCH_HEADER_SIZE, size - KL_BATCH_HEADER_SIZE,
                               &st->packed, err);
        if (rc)
            return rc;
        size_t total = KL_BATCH_HEADER_SIZE + st->packed.len;
        if (total - KL_BATCH_LOG_OVERHEAD > INT32_MAX)
            return sd_err_set(err, KL_ERR_INVALID_RECORD, "rebuilt batch too large");
        size_t at = st->out.len;
        sd_write_bytes(&st->out, b, KL_BATCH_HEADER_SIZE);
        sd_write_bytes(&st->out, st->packed.buf, st->packed.len);
        if (st->out.err)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory rebuilding a batch");
        uint8_t *q = st->out.buf + at;
        sd_put_be16(q + KL_BATCH_OFF_ATTRIBUTES,
                    (uint16_t)(sd_be16(q + KL_BATCH_OFF_ATTRIBUTES) | (uint16_t)codec));
        sd_put_be32(q + KL_BATCH_OFF_LENGTH, (uint32_t)(total - KL_BATCH_LOG_OVERHEAD));
        sd_put_be32(q + KL_BATCH_OFF_CRC, kl_batch_compute_crc(q, total));
    }
    if (st->out.err)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory rebuilding a batch");
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Pass 2 for one segment: its cleaned copy into "<base>.log.cleaned". */
static int clean_segment(kl_clean_job_t *job, run_state_t *st, clean_input_t *in, sd_err_t *err)
{
    char what[40], name[64];
    snprintf(what, sizeof what, "%020" PRId64 ".log", in->base);
    cleaned_name(name, sizeof name, in->base);
    int out_fd = openat(job->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0)
        return sd_err_set(err, KL_ERR_STORAGE, "create %s/%s: %s", job->dir, name, strerror(errno));
    in->written = 1;
    reader_start(&st->reader, job, in, what);
    sd_writer_reset(&st->out);
    int64_t written = 0;
    int changed = 0;
    const uint8_t *batch;
    size_t size;
    kl_batch_header_t h;
    int rc;
    while ((rc = reader_next(&st->reader, &batch, &size, &h, err)) == 1) {
        int is_last = st->reader.pos >= in->size;
        kl_record_iter_t it;
        kl_record_t rec;
        sd_reader_t header_reader;
        rc = open_records(batch, size, &st->records, &it, err);
        if (rc)
            goto fail;
        int has_horizon = (h.attributes & KL_ATTR_DELETE_HORIZON) != 0;
        int horizon_passed = has_horizon && job->now_ms >= h.base_timestamp;
        size_t kept = 0, read = 0, nheaders = 0, tombstones = 0;
        while ((rc = kl_record_iter_next(&it, &rec, &header_reader)) == 1) {
            read++;
            int64_t offset = h.base_offset + rec.offset_delta;
            if (rec.key_len < 0)
                continue;
            /* Below the mapped range the segments were cleaned before and
             * hold one record per key: it stays unless a newer one is
             * mapped. */
            int64_t newest = map_get(&st->map, rec.key, rec.key_len);
            if (newest != offset && !(newest < 0 && offset < job->map_start))
                continue;
            if (rec.value_len < 0 && horizon_passed)
                continue;
            if (reserve_records(st, kept + 1)) {
                rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory cleaning %s", job->dir);
                goto fail;
            }
            /* Headers are gathered first and pointed to once the array
             * stops moving. */
            kl_header_t hd;
            int more;
            size_t first_header = nheaders;
            while ((more = kl_record_header_next(&header_reader, &hd)) == 1) {
                if (reserve_headers(st, nheaders + 1)) {
                    rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory cleaning %s", job->dir);
                    goto fail;
                }
                st->headers[nheaders++] = hd;
            }
            if (more < 0) {
                rc = sd_err_set(err, KL_ERR_CORRUPT,
                                "%s/%s: malformed record header at offset "
                                "%" PRId64,
                                job->dir, what, offset);
                goto fail;
            }
            rec.header_count = (int32_t)(nheaders - first_header);
            st->first_header[kept] = first_header;
            st->recs[kept++] = rec;
            if (rec.value_len < 0)
                tombstones++;
        }
        if (rc < 0) {
            rc = sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: malformed record in batch %" PRId64,
                            job->dir, what, h.base_offset);
            goto fail;
        }
        rc = 0;
        job->stats.records_read += (int64_t)read;
        job->stats.records_kept += (int64_t)kept;
        int64_t horizon = -1;
        if (tombstones > 0) {
            horizon = has_horizon ? h.base_timestamp : job->now_ms + job->delete_retention_ms;
            if (job->min_horizon_ms < 0 || horizon < job->min_horizon_ms)
                job->min_horizon_ms = horizon;
        }
        if (kept == read && (tombstones == 0 || has_horizon)) {
            sd_write_bytes(&st->out, batch, size); /* unchanged */
        } else if (kept == 0 && !is_last) {
            changed = 1; /* emptied: dropped */
        } else {
            for (size_t i = 0; i < kept; i++)
                st->recs[i].headers = st->headers ? st->headers + st->first_header[i] : NULL;
            rc = rebuild_batch(st, &h, kept, horizon, err);
            if (rc)
                goto fail;
            changed = 1;
            job->stats.batches_rewritten++;
        }
        if (st->out.err) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory cleaning %s", job->dir);
            goto fail;
        }
        if (st->out.len >= WRITE_CHUNK) {
            if (write_all(out_fd, st->out.buf, st->out.len) < 0) {
                rc = sd_err_set(err, KL_ERR_STORAGE, "write %s/%s: %s", job->dir, name,
                                strerror(errno));
                goto fail;
            }
            written += (int64_t)st->out.len;
            sd_writer_reset(&st->out);
        }
    }
    if (rc < 0)
        goto fail;
    if (write_all(out_fd, st->out.buf, st->out.len) < 0 || fsync(out_fd) < 0) {
        rc = sd_err_set(err, KL_ERR_STORAGE, "write %s/%s: %s", job->dir, name, strerror(errno));
        goto fail;
    }
    written += (int64_t)st->out.len;
    close(out_fd);
    job->stats.bytes_read += in->size;
    job->stats.bytes_written += written;
    in->changed = changed;
    if (!changed)
        remove_cleaned(job, in);
    return 0;
fail:
    close(out_fd);
    remove_cleaned(job, in);
    return rc;
}

int kl_clean_job_run(kl_clean_job_t *job, sd_err_t *err)
{
    run_state_t st;
    memset(&st, 0, sizeof st);
    sd_writer_init(&st.records);
    sd_writer_init(&st.built);
    sd_writer_init(&st.packed);
    sd_writer_init(&st.out);
    int rc = build_map(job, &st, err);
    for (size_t i = 0; rc == 0 && i < job->count; i++)
        rc = clean_segment(job, &st, &job->inputs[i], err);
    /* The cleaned files' names are durable before any commit record can
     * name them. */
    if (rc == 0 && fsync(job->dir_fd) < 0)
        rc = sd_err_set(err, KL_ERR_STORAGE, "fsync %s: %s", job->dir, strerror(errno));
    if (rc)
        for (size_t i = 0; i < job->count; i++)
            remove_cleaned(job, &job->inputs[i]);
    job->ran = rc == 0;
    sd_free(st.map.slots);
    sd_free(st.reader.buf);
    sd_free(st.recs);
    sd_free(st.first_header);
    sd_free(st.headers);
    sd_writer_free(&st.records);
    sd_writer_free(&st.built);
    sd_writer_free(&st.packed);
    sd_writer_free(&st.out);
    return rc;
}

/* ---------------------------------------------------------------- the swap */

static int unlink_indexes(int dir_fd, int64_t base)
{
    char name[64];
    snprintf(name, sizeof name, "%020" PRId64 ".index", base);
    if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
        return -1;
    snprintf(name, sizeof name, "%020" PRId64 ".timeindex", base);
    if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

/* Rebuilds the indexes of a segment whose .log was replaced, writes and
 * syncs them. */
static int rebuild_indexes(kl_log_t *log, kl_segment_t *seg, uint8_t *scratch, sd_err_t *err)
{
    kl_recover_result_t result;
    int rc = kl_segment__recover(seg, seg->base_offset, log->config.index_interval_bytes, scratch,
                                 SCAN_BUFFER, &result, err);
    if (rc)
        return rc;
    if (result.cut_bytes > 0)
        sd_error("kl_log", "%s/%s: cleaned segment unreadable after byte %" PRId64 ": %s", log->dir,
                 seg->name, seg->size, result.reason);
    rc = kl_segment__finish(seg, err);
    if (rc)
        return rc;
    if (fsync(seg->offsets.fd) < 0 || fsync(seg->times.fd) < 0)
        return sd_err_set(err, KL_ERR_STORAGE, "fsync the indexes of %s/%s: %s", log->dir,
                          seg->name, strerror(errno));
    seg->needs_rescan = 0;
    return 0;
}

/* The index of the sealed segment with this base, or SIZE_MAX. */
static size_t sealed_segment(const kl_log_t *log, int64_t base)
{
    for (size_t i = 0; i + 1 < log->count; i++)
        if (log->segments[i]->base_offset == base)
            return i;
    return SIZE_MAX;
}

int kl_log_clean_commit(kl_log_t *log, kl_clean_job_t *job, int stop_after, kl_clean_stats_t *stats,
                        sd_err_t *err)
{
    log->cleaning = 0;
    int rc = 0;
    char *marker = NULL;
    uint8_t *scratch = NULL;
    int step = 0, committed = 0;
    if (!job->ran)
        goto done;
    /* What is swapped: changed segments still in the log (retention may
     * have deleted some meanwhile). */
    size_t n = 0;
    for (size_t i = 0; i < job->count; i++) {
        clean_input_t *in = &job->inputs[i];
        if (in->written && sealed_segment(log, in->base) != SIZE_MAX)
            n++;
        else
            remove_cleaned(job, in);
    }
    if (n == 0)
        goto cleaned;
    size_t marker_cap = sizeof KL_SWAP_MARKER_MAGIC + 2 + n * 22;
    marker = sd_malloc(marker_cap);
    scratch = sd_malloc(SCAN_BUFFER);
    if (!marker || !scratch) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory swapping cleaned segments of %s",
                        log->dir);
        goto done;
    }
    size_t len = (size_t)snprintf(marker, marker_cap, "%s\n", KL_SWAP_MARKER_MAGIC);
    for (size_t i = 0; i < job->count; i++)
        if (job->inputs[i].written)
            len += (size_t)snprintf(marker + len, marker_cap - len, "%" PRId64 "\n",
                                    job->inputs[i].base);

#define STEP()                                                                                     \
    do {                                                                                           \
        if (++step > stop_after) {                                                                 \
            rc = 1;                                                                                \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

    STEP(); /* 1: the commit record */
    rc = kl_log__write_file(log, KL_SWAP_MARKER, KL_SWAP_MARKER_TMP, marker, err);
    if (rc)
        goto done;
    committed = 1;
    for (size_t i = 0; i < job->count; i++) {
        clean_input_t *in = &job->inputs[i];
        if (!in->written)
            continue;
        STEP(); /* 2+2i: stale indexes */
        if (unlink_indexes(log->dir_fd, in->base) < 0) {
            rc = sd_err_set(err, KL_ERR_STORAGE, "unlink the indexes of %020" PRId64 " in %s: %s",
                            in->base, log->dir, strerror(errno));
            goto done;
        }
        STEP(); /* 3+2i: the swap */
        char from[64], to[40];
        cleaned_name(from, sizeof from, in->base);
        snprintf(to, sizeof to, "%020" PRId64 ".log", in->base);
        if (renameat(log->dir_fd, from, log->dir_fd, to) < 0) {
            rc = sd_err_set(err, KL_ERR_STORAGE, "rename %s/%s: %s", log->dir, from,
                            strerror(errno));
            goto done;
        }
        in->written = 0;
        in->changed = 2; /* swapped on disk */
    }
    STEP(); /* 2+2n: durable names, segments reopened */
    if (fsync(log->dir_fd) < 0) {
        rc = sd_err_set(err, KL_ERR_STORAGE, "fsync %s: %s", log->dir, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < job->count; i++) {
        clean_input_t *in = &job->inputs[i];
        size_t at = in->changed == 2 ? sealed_segment(log, in->base) : SIZE_MAX;
        if (at == SIZE_MAX)
            continue;
        kl_segment_t *seg = NULL;
        sd_err_t why;
        if (kl_segment__open(log->dir_fd, log->dir, in->base, 0, &seg, &why) ||
            rebuild_indexes(log, seg, scratch, &why)) {
            /* The old segment object still reads the old file (unlinked
             * but open); the next open rescans the new one. */
            sd_error("kl_log", "swapping in the cleaned %020" PRId64 ".log: %s", in->base, why.msg);
            kl_segment__close(seg);
            rc = KL_ERR_STORAGE;
            continue;
        }
        kl_segment__close(log->segments[at]);
        log->segments[at] = seg;
        job->stats.segments_swapped++;
    }
    if (rc) {
        sd_err_set(err, rc, "some cleaned segments of %s could not be reopened", log->dir);
        goto done; /* the commit record stays: the next open finishes */
    }
    STEP(); /* 3+2n: done */
    if (unlinkat(log->dir_fd, KL_SWAP_MARKER, 0) < 0 || fsync(log->dir_fd) < 0) {
        rc = sd_err_set(err, KL_ERR_STORAGE, "remove %s/%s: %s", log->dir, KL_SWAP_MARKER,
                        strerror(errno));
        goto done;
    }
#undef STEP
cleaned:
    if (job->end_offset > log->clean_offset)
        log->clean_offset = job->end_offset;
    log->tombstone_horizon_ms = job->min_horizon_ms;
    if (job->stats.segments_swapped > 0)
        sd_info("kl_log",
                "%s: cleaned %" PRId64 " segment(s): %" PRId64 " -> %" PRId64 " bytes, %" PRId64
                " of %" PRId64 " records kept",
                log->dir, job->stats.segments_swapped, job->stats.bytes_read,
                job->stats.bytes_written, job->stats.records_kept, job->stats.records_read);
done:
    if (rc == 1 || (rc < 0 && committed)) {
        /* A simulated crash, or a failure after the commit point: every
         * file stays as it is for the next open to finish the swap, and
         * the log is not cleaned again until then. */
        for (size_t i = 0; i < job->count; i++)
            job->inputs[i].written = 0;
        if (rc < 0) {
            log->swap_pending = 1;
            sd_error("kl_log", "%s: cleaned segments are swapped in at the next open", log->dir);
        }
    }
    if (stats)
        *stats = job->stats;
    kl_clean_job_free(job);
    sd_free(marker);
    sd_free(scratch);
    return rc;
}

int kl_log_clean_now(kl_log_t *log, int64_t now_ms, int force, kl_clean_stats_t *stats,
                     sd_err_t *err)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    kl_clean_job_t *job = NULL;
    int rc = kl_log_clean_prepare(log, now_ms, force, &job, err);
    if (rc || !job)
        return rc;
    rc = kl_clean_job_run(job, err);
    sd_err_t commit_err;
    int commit_rc = kl_log_clean_commit(log, job, KL_CLEAN_ALL_STEPS, stats, &commit_err);
    if (rc == 0 && commit_rc) {
        *err = commit_err;
        rc = commit_rc;
    }
    return rc;
}

/* ----------------------------------------------------------------- recovery */

static int parse_marker(const char *text, int64_t **bases, size_t *n)
{
    size_t magic_len = strlen(KL_SWAP_MARKER_MAGIC);
    if (strncmp(text, KL_SWAP_MARKER_MAGIC, magic_len) != 0 || text[magic_len] != '\n')
        return -1;
    const char *p = text + magic_len + 1;
    size_t cap = 0;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno || end == p || *end != '\n' || v < 0)
            return -1;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *grown = sd_realloc(*bases, cap * sizeof *grown);
            if (!grown)
                return SD_ERR_NOMEM;
            *bases = grown;
        }
        (*bases)[(*n)++] = v;
        p = end + 1;
    }
    return 0;
}

int kl_cleaner__recover(kl_log_t *log, int64_t **bases, size_t *n, sd_err_t *err)
{
    *bases = NULL;
    *n = 0;
    char *text = NULL;
    int rc = 0;
    int fd = openat(log->dir_fd, KL_SWAP_MARKER, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        off_t size = lseek(fd, 0, SEEK_END);
        text = size >= 0 && size < (1 << 24) ? sd_malloc((size_t)size + 1) : NULL;
        ssize_t got = text ? pread(fd, text, (size_t)size, 0) : -1;
        close(fd);
        if (got != (ssize_t)size) {
            rc = sd_err_set(err, KL_ERR_STORAGE, "cannot read %s/%s", log->dir, KL_SWAP_MARKER);
            goto done;
        }
        text[size] = '\0';
        if (parse_marker(text, bases, n)) {
            rc = sd_err_set(err, KL_ERR_STORAGE,
                            "%s/%s is damaged; the cleaned segments it "
                            "lists cannot be swapped in safely",
                            log->dir, KL_SWAP_MARKER);
            goto done;
        }
        for (size_t i = 0; i < *n; i++) {
            char from[64], to[40];
            cleaned_name(from, sizeof from, (*bases)[i]);
            snprintf(to, sizeof to, "%020" PRId64 ".log", (*bases)[i]);
            if (faccessat(log->dir_fd, from, F_OK, 0) != 0)
                continue; /* already renamed */
            if (unlink_indexes(log->dir_fd, (*bases)[i]) < 0 ||
                renameat(log->dir_fd, from, log->dir_fd, to) < 0) {
                rc = sd_err_set(err, KL_ERR_STORAGE, "finishing the swap of %s/%s: %s", log->dir,
                                to, strerror(errno));
                goto done;
            }
        }
        sd_warn("kl_log", "%s: finished an interrupted swap of %zu cleaned segment(s)", log->dir,
                *n);
    } else if (errno != ENOENT) {
        rc = sd_err_set(err, KL_ERR_STORAGE, "open %s/%s: %s", log->dir, KL_SWAP_MARKER,
                        strerror(errno));
        goto done;
    }
    /* Leftovers of a clean that never committed. */
    unlinkat(log->dir_fd, KL_SWAP_MARKER_TMP, 0);
    DIR *d = opendir(log->dir);
    if (!d) {
        rc = sd_err_set(err, KL_ERR_STORAGE, "opendir %s: %s", log->dir, strerror(errno));
        goto done;
    }
    struct dirent *e;
    size_t suffix = strlen(KL_CLEANED_SUFFIX);
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > suffix && strcmp(e->d_name + len - suffix, KL_CLEANED_SUFFIX) == 0) {
            sd_info("kl_log", "%s/%s: removed, left by an unfinished clean", log->dir, e->d_name);
            unlinkat(log->dir_fd, e->d_name, 0);
        }
    }
    closedir(d);
    if (fsync(log->dir_fd) < 0)
        rc = sd_err_set(err, KL_ERR_STORAGE, "fsync %s: %s", log->dir, strerror(errno));
done:
    sd_free(text);
    if (rc) {
        sd_free(*bases);
        *bases = NULL;
        *n = 0;
    }
    return rc;
}

int kl_cleaner__recover_done(kl_log_t *log, sd_err_t *err)
{
    for (size_t i = 0; i < log->count; i++) {
        kl_segment_t *seg = log->segments[i];
        if (!seg->needs_rescan)
            continue;
        int rc = kl_segment__finish(seg, err);
        if (rc)
            return rc;
        if (fsync(seg->offsets.fd) < 0 || fsync(seg->times.fd) < 0)
            return sd_err_set(err, KL_ERR_STORAGE, "fsync the indexes of %s/%s: %s", log->dir,
                              seg->name, strerror(errno));
        seg->needs_rescan = 0;
    }
    if (unlinkat(log->dir_fd, KL_SWAP_MARKER, 0) < 0 && errno != ENOENT)
        return sd_err_set(err, KL_ERR_STORAGE, "remove %s/%s: %s", log->dir, KL_SWAP_MARKER,
                          strerror(errno));
    if (fsync(log->dir_fd) < 0)
        return sd_err_set(err, KL_ERR_STORAGE, "fsync %s: %s", log->dir, strerror(errno));
    return 0;
}
