/*
 * test_kl_cleaner.c - log compaction (kl_cleaner.c), retention and
 * DeleteRecords (kl_log.c): newest record per key kept with its offset,
 * tombstones kept then dropped after delete.retention.ms, the active segment
 * untouched, compressed batches cleaned and recompressed with each codec,
 * record headers kept through a rebuild,
 * min.compaction.lag.ms, max.compaction.lag.ms, the dirty-ratio threshold, incremental cleans and
 * a capped key map, a crash after every step
 * of the swap (and during the run) followed by recovery, keyless records
 * refused on compacted logs, retention by time and size, and the log start
 * offset of DeleteRecords across a restart.
 * Each test works in a fresh directory under $TMPDIR (or /tmp).
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/log.h"
#include "storage/kl_batch.h"
#include "storage/kl_cleaner.h"
#include "storage/kl_codec.h"
#include "storage/kl_log.h"
#include "unit.h"

/* ---- fixture -------------------------------------------------------------- */

static char root[512];
static char dir[600];

static void quiet(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)level;
    (void)module;
    (void)line;
    (void)opaque;
}

static void setup(void)
{
    unit_make_temp_dir(root, sizeof root, "test_kl_cleaner");
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    sd_log_set_sink(quiet, NULL);
}

static void teardown(void)
{
    sd_log_set_sink(NULL, NULL);
    unit_remove_tree(root);
}

static void wipe_dir(void) { nftw(dir, unit_remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* ---- helpers -------------------------------------------------------------- */

#define NOW 1700000000000LL

static kl_log_config_t compact_config(void)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.segment_bytes = 400;
    c.index_interval_bytes = 64;
    c.cleanup_compact = 1;
    c.cleanup_delete = 0;
    c.min_cleanable_dirty_ratio = 0.0;
    c.delete_retention_ms = 1000;
    return c;
}

static kl_log_t *open_log(const kl_log_config_t *config, int recover)
{
    kl_log_t *log = NULL;
    sd_err_t err = {0};
    int rc = kl_log_open(dir, config, recover, &log, &err);
    ck_assert_msg(rc == 0, "open: %s", err.msg);
    return log;
}

/* A record as the tests write and read it back. */
typedef struct rec_view {
    int64_t offset;
    char key[16];   /* "" = null key */
    char value[32]; /* "" with tombstone = 1 for a null value */
    int tombstone;
    int codec; /* of the batch it was read from */
} rec_view_t;

#define MAX_RECS 2048

/* Appends one batch of n records (keys/values, NULL = null) with the codec;
 * returns the base offset. */
static int64_t append_records(kl_log_t *log, const char *const *keys, const char *const *values,
                              int n, int codec, int64_t ts)
{
    kl_record_t recs[64];
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++)
        recs[i] = (kl_record_t){.key = (const uint8_t *)keys[i],
                                .key_len = keys[i] ? (int32_t)strlen(keys[i]) : -1,
                                .value = (const uint8_t *)values[i],
                                .value_len = values[i] ? (int32_t)strlen(values[i]) : -1,
                                .timestamp = ts + i};
    sd_writer_t w, packed, out;
    sd_writer_init(&w);
    sd_writer_init(&packed);
    sd_writer_init(&out);
    sd_err_t err = {0};
    ck_assert_int_eq(kl_batch_build(&w, NULL, recs, (size_t)n, &err), 0);
    const sd_writer_t *final = &w;
    if (codec != KL_CODEC_NONE) {
        ck_assert_int_eq(kl_codec_compress(codec, w.buf + KL_BATCH_HEADER_SIZE,
                                           w.len - KL_BATCH_HEADER_SIZE, &packed, &err),
                         0);
        sd_write_bytes(&out, w.buf, KL_BATCH_HEADER_SIZE);
        sd_write_bytes(&out, packed.buf, packed.len);
        sd_put_be16(out.buf + KL_BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
        sd_put_be32(out.buf + KL_BATCH_OFF_LENGTH, (uint32_t)(out.len - KL_BATCH_LOG_OVERHEAD));
        sd_put_be32(out.buf + KL_BATCH_OFF_CRC, kl_batch_compute_crc(out.buf, out.len));
        final = &out;
    }
    int64_t base = -1;
    int rc = kl_log_append(log, final->buf, final->len, ts, &base, &err);
    ck_assert_msg(rc == 0, "append: %s", err.msg);
    sd_writer_free(&w);
    sd_writer_free(&packed);
    sd_writer_free(&out);
    return base;
}

static int64_t append_kv(kl_log_t *log, const char *key, const char *value, int64_t ts)
{
    return append_records(log, &key, &value, 1, KL_CODEC_NONE, ts);
}

/* Every record of the log from its start offset, in order. */
static size_t read_all(kl_log_t *log, rec_view_t *out, size_t max)
{
    size_t n = 0;
    int64_t off = kl_log_start_offset(log), end = kl_log_end_offset(log);
    sd_writer_t scratch;
    sd_writer_init(&scratch);
    while (off < end) {
        kl_read_t rd;
        sd_err_t err = {0};
        ck_assert_msg(kl_log_read(log, off, 1 << 20, &rd, &err) == 0, "read: %s", err.msg);
        if (rd.len == 0)
            break;
        uint8_t *buf = sd_malloc((size_t)rd.len);
        ck_assert_int_eq(pread(rd.fd, buf, (size_t)rd.len, rd.pos), rd.len);
        close(rd.fd);
        kl_batch_iter_t it;
        const uint8_t *batch;
        size_t size;
        kl_batch_iter_init(&it, buf, (size_t)rd.len);
        while (kl_batch_iter_next(&it, &batch, &size) == 1) {
            kl_batch_header_t h;
            ck_assert_int_eq(kl_batch_validate(batch, size, 0, 0, &h, &err), 0);
            ck_assert_int_ge(kl_batch_last_offset(&h), off);
            int codec = h.attributes & KL_ATTR_CODEC_MASK;
            const uint8_t *plain = batch;
            size_t plain_size = size;
            if (codec) {
                sd_writer_reset(&scratch);
                sd_write_bytes(&scratch, batch, KL_BATCH_HEADER_SIZE);
                ck_assert_int_eq(kl_codec_decompress(codec, batch + KL_BATCH_HEADER_SIZE,
                                                     size - KL_BATCH_HEADER_SIZE, 1 << 24, &scratch,
                                                     &err),
                                 0);
                scratch.buf[KL_BATCH_OFF_ATTRIBUTES + 1] &= (uint8_t)~KL_ATTR_CODEC_MASK;
                plain = scratch.buf;
                plain_size = scratch.len;
            }
            kl_record_iter_t ri;
            kl_record_t rec;
            ck_assert_int_eq(kl_record_iter_init(&ri, plain, plain_size), 0);
            int rc;
            while ((rc = kl_record_iter_next(&ri, &rec, NULL)) == 1) {
                int64_t o = h.base_offset + rec.offset_delta;
                if (o < off)
                    continue;
                ck_assert_uint_lt(n, max);
                rec_view_t *v = &out[n++];
                memset(v, 0, sizeof *v);
                v->offset = o;
                v->codec = codec;
                if (rec.key_len > 0)
                    snprintf(v->key, sizeof v->key, "%.*s", rec.key_len, (const char *)rec.key);
                v->tombstone = rec.value_len < 0;
                if (rec.value_len > 0)
                    snprintf(v->value, sizeof v->value, "%.*s", rec.value_len,
                             (const char *)rec.value);
            }
            ck_assert_int_eq(rc, 0);
            off = kl_batch_last_offset(&h) + 1;
        }
        sd_free(buf);
    }
    sd_writer_free(&scratch);
    return n;
}

static void assert_same(const rec_view_t *a, size_t na, const rec_view_t *b, size_t nb)
{
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++) {
        ck_assert_int_eq(a[i].offset, b[i].offset);
        ck_assert_str_eq(a[i].key, b[i].key);
        ck_assert_str_eq(a[i].value, b[i].value);
        ck_assert_int_eq(a[i].tombstone, b[i].tombstone);
    }
}

/* The compaction model: what a clean of the sealed segments keeps. Records
 * at offsets >= active_base all stay. */
static size_t expected_clean(const rec_view_t *all, size_t n, int64_t active_base, int drop_tombs,
                             rec_view_t *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int newest = 1;
        if (all[i].offset < active_base) {
            for (size_t j = i + 1; j < n; j++)
                if (all[j].offset < active_base && strcmp(all[j].key, all[i].key) == 0)
                    newest = 0;
            if (!all[i].key[0] || (drop_tombs && all[i].tombstone))
                newest = 0;
        }
        if (newest)
            out[m++] = all[i];
    }
    return m;
}

static int64_t active_base(kl_log_t *log)
{
    /* The active segment's base: the end offset when it is empty, else
     * found from the segment files. */
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int64_t best = -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".log") == 0) {
            int64_t b = strtoll(e->d_name, NULL, 10);
            if (b > best)
                best = b;
        }
    closedir(d);
    (void)log;
    return best;
}

static int count_files_with(const char *needle)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, needle))
            n++;
    closedir(d);
    return n;
}

static void clean(kl_log_t *log, int64_t now, int force, kl_clean_stats_t *stats)
{
    sd_err_t err = {0};
    int rc = kl_log_clean_now(log, now, force, stats, &err);
    ck_assert_msg(rc == 0, "clean: %s", err.msg);
}

/* Writes a log of 5 keys with several versions each across many segments,
 * ending with a few records in the active segment. */
static void write_versions(kl_log_t *log, int rounds)
{
    char key[16], value[32];
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < 5; k++) {
            snprintf(key, sizeof key, "k%d", k);
            snprintf(value, sizeof value, "v%d-%d", k, r);
            append_kv(log, key, value, NOW + r * 10 + k);
        }
}

/* ---- compaction ------------------------------------------------------------ */

START_TEST(test_newest_wins)
{
    kl_log_config_t c = compact_config();
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 12);
    int64_t end = kl_log_end_offset(log);
    size_t segments = kl_log_segment_count(log);
    ck_assert_uint_gt(segments, 3);
    static rec_view_t before[MAX_RECS], after[MAX_RECS], want[MAX_RECS];
    size_t nb = read_all(log, before, MAX_RECS);
    ck_assert_uint_eq(nb, 60);
    int64_t abase = active_base(log);
    size_t nw = expected_clean(before, nb, abase, 0, want);

    kl_clean_stats_t st;
    clean(log, NOW + 1000, 0, &st);
    ck_assert_int_gt(st.segments_swapped, 0);
    ck_assert_int_lt(st.bytes_written, st.bytes_read);
    size_t na = read_all(log, after, MAX_RECS);
    assert_same(after, na, want, nw);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    ck_assert_int_eq(kl_log_start_offset(log), 0);
    /* Appends go on at the same end offset. */
    ck_assert_int_eq(append_kv(log, "k1", "later", NOW + 2000), end);
    kl_log_close(log);

    /* Reopened, cleanly and with recovery: the same records. */
    for (int recover = 0; recover < 2; recover++) {
        log = open_log(&c, recover);
        na = read_all(log, after, MAX_RECS);
        ck_assert_uint_eq(na, nw + 1);
        assert_same(after, nw, want, nw);
        ck_assert_int_eq(kl_log_end_offset(log), end + 1);
        kl_log_close(log);
    }
    ck_assert_int_eq(count_files_with(".cleaned"), 0);
    ck_assert_int_eq(count_files_with("cleaner-swap"), 0);
}
END_TEST

START_TEST(test_tombstones)
{
    kl_log_config_t c = compact_config();
    c.delete_retention_ms = 5000;
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 8);
    append_kv(log, "k2", NULL, NOW + 100); /* tombstones */
    append_kv(log, "k3", NULL, NOW + 200);
    for (int i = 0; i < 8; i++)
        append_kv(log, "other", "x",
                  NOW + 300 + i); /* pushes the tombstones out of the active segment */
    static rec_view_t all[MAX_RECS], got[MAX_RECS], want[MAX_RECS];
    size_t n = read_all(log, all, MAX_RECS);
    int64_t abase = active_base(log);

    /* First clean: the tombstones stay (they are the newest of their keys)
     * and get a delete horizon; older values of k2 and k3 go. */
    clean(log, NOW + 1000, 1, NULL);
    size_t nw = expected_clean(all, n, abase, 0, want);
    size_t ng = read_all(log, got, MAX_RECS);
    assert_same(got, ng, want, nw);
    int tombs = 0;
    for (size_t i = 0; i < ng; i++)
        tombs += got[i].tombstone;
    ck_assert_int_eq(tombs, 2);

    /* Before the horizon they stay; after it they go, even across a reopen
     * (the horizon is stored in the batch). */
    clean(log, NOW + 1000 + 4000, 1, NULL);
    ng = read_all(log, got, MAX_RECS);
    assert_same(got, ng, want, nw);
    kl_log_close(log);
    log = open_log(&c, 1);
    clean(log, NOW + 1000 + 5001, 1, NULL);
    nw = expected_clean(all, n, abase, 1, want);
    ng = read_all(log, got, MAX_RECS);
    assert_same(got, ng, want, nw);
    for (size_t i = 0; i < ng; i++)
        ck_assert(!got[i].tombstone);
    kl_log_close(log);
}
END_TEST

START_TEST(test_active_untouched)
{
    kl_log_config_t c = compact_config();
    c.segment_bytes = 1 << 20;
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 5);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    kl_clean_job_t *job = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 1, &job, &err), 0);
    ck_assert_ptr_null(job); /* only the active segment: nothing to clean */
    kl_log_close(log);

    /* With sealed segments, the active segment's bytes stay the same. */
    wipe_dir();
    c = compact_config();
    log = open_log(&c, 0);
    write_versions(log, 10);
    int64_t abase = active_base(log);
    char path[700];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".log", dir, abase);
    struct stat st1, st2;
    ck_assert_int_eq(stat(path, &st1), 0);
    static rec_view_t before[MAX_RECS], after[MAX_RECS];
    size_t nb = read_all(log, before, MAX_RECS);
    clean(log, NOW + 1000, 1, NULL);
    ck_assert_int_eq(stat(path, &st2), 0);
    ck_assert_int_eq(st1.st_ino, st2.st_ino);
    ck_assert_int_eq(st1.st_size, st2.st_size);
    size_t na = read_all(log, after, MAX_RECS);
    size_t tail_b = 0, tail_a = 0;
    while (tail_b < nb && before[tail_b].offset < abase)
        tail_b++;
    while (tail_a < na && after[tail_a].offset < abase)
        tail_a++;
    assert_same(after + tail_a, na - tail_a, before + tail_b, nb - tail_b);
    kl_log_close(log);
}
END_TEST

START_TEST(test_compressed_codecs)
{
    for (int codec = KL_CODEC_GZIP; codec <= KL_CODEC_ZSTD; codec++) {
        wipe_dir();
        kl_log_config_t c = compact_config();
        c.segment_bytes = 600;
        kl_log_t *log = open_log(&c, 0);
        for (int r = 0; r < 12; r++) {
            const char *keys[6] = {"a", "b", "a", "c", "d", "b"};
            const char *values[6];
            char v[6][32];
            for (int i = 0; i < 6; i++) {
                snprintf(v[i], sizeof v[i], "%s-%d-%d-payload-payload", keys[i], r, i);
                values[i] = v[i];
            }
            if (r == 5)
                values[3] = NULL; /* a tombstone for c */
            append_records(log, keys, values, 6, codec, NOW + r * 10);
        }
        ck_assert_uint_gt(kl_log_segment_count(log), 2);
        static rec_view_t all[MAX_RECS], got[MAX_RECS], want[MAX_RECS];
        size_t n = read_all(log, all, MAX_RECS);
        int64_t abase = active_base(log);
        kl_clean_stats_t st;
        clean(log, NOW + 1000, 1, &st);
        ck_assert_int_gt(st.batches_rewritten, 0);
        size_t nw = expected_clean(all, n, abase, 0, want);
        size_t ng = read_all(log, got, MAX_RECS);
        assert_same(got, ng, want, nw);
        for (size_t i = 0; i < ng; i++)
            ck_assert_msg(got[i].codec == codec, "%s: record %" PRId64 " read with codec %d",
                          kl_codec_name(codec), got[i].offset, got[i].codec);
        kl_log_close(log);
        log = open_log(&c, 1);
        ng = read_all(log, got, MAX_RECS);
        assert_same(got, ng, want, nw);
        kl_log_close(log);
    }
}
END_TEST

START_TEST(test_headers_survive_rebuild)
{
    kl_log_config_t c = compact_config();
    kl_log_t *log = open_log(&c, 0);
    kl_header_t hs[2] = {{(const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3},
                         {(const uint8_t *)"empty", 5, NULL, -1}};
    kl_record_t recs[3] = {{.key = (const uint8_t *)"h",
                            .key_len = 1,
                            .value = (const uint8_t *)"old",
                            .value_len = 3,
                            .timestamp = NOW},
                           {.key = (const uint8_t *)"h",
                            .key_len = 1,
                            .value = (const uint8_t *)"new",
                            .value_len = 3,
                            .headers = hs,
                            .header_count = 2,
                            .timestamp = NOW + 1},
                           {.key = (const uint8_t *)"g",
                            .key_len = 1,
                            .value = (const uint8_t *)"x",
                            .value_len = 1,
                            .timestamp = NOW + 2}};
    sd_writer_t w;
    sd_writer_init(&w);
    sd_err_t err = {0};
    ck_assert_int_eq(kl_batch_build(&w, NULL, recs, 3, &err), 0);
    int64_t base;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, NOW, &base, &err), 0);
    write_versions(log, 8); /* rolls the batch out of the active segment */
    kl_clean_stats_t st;
    clean(log, NOW + 1000, 1, &st);
    ck_assert_int_gt(st.batches_rewritten, 0);
    kl_read_t rd;
    ck_assert_int_eq(kl_log_read(log, 0, 1 << 16, &rd, &err), 0);
    uint8_t *buf = sd_malloc((size_t)rd.len);
    ck_assert_int_eq(pread(rd.fd, buf, (size_t)rd.len, rd.pos), rd.len);
    close(rd.fd);
    kl_batch_header_t h;
    ck_assert_int_eq(kl_batch_validate(buf, (size_t)rd.len, 0, 0, &h, &err), 0);
    ck_assert_int_eq(h.base_offset, 0);
    ck_assert_int_eq(h.last_offset_delta, 2);
    ck_assert_int_eq(h.records_count, 2);
    kl_record_iter_t it;
    kl_record_t rec;
    sd_reader_t hr;
    kl_record_iter_init(&it, buf, kl_batch_total_size(&h));
    ck_assert_int_eq(kl_record_iter_next(&it, &rec, &hr), 1);
    ck_assert_int_eq(rec.offset_delta, 1);
    ck_assert_int_eq(rec.timestamp, NOW + 1);
    ck_assert_int_eq(memcmp(rec.value, "new", 3), 0);
    kl_header_t got;
    ck_assert_int_eq(kl_record_header_next(&hr, &got), 1);
    ck_assert_int_eq(got.key_len, 5);
    ck_assert_int_eq(memcmp(got.value, "abc", 3), 0);
    ck_assert_int_eq(kl_record_header_next(&hr, &got), 1);
    ck_assert_int_eq(got.value_len, -1);
    ck_assert_int_eq(kl_record_header_next(&hr, &got), 0);
    ck_assert_int_eq(kl_record_iter_next(&it, &rec, NULL), 1);
    ck_assert_int_eq(rec.offset_delta, 2);
    sd_free(buf);
    sd_writer_free(&w);
    kl_log_close(log);
}
END_TEST

START_TEST(test_min_compaction_lag)
{
    kl_log_config_t c = compact_config();
    c.min_compaction_lag_ms = 60000;
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 10); /* timestamps NOW .. NOW + 94 */
    static rec_view_t before[MAX_RECS], after[MAX_RECS], want[MAX_RECS];
    size_t nb = read_all(log, before, MAX_RECS);
    /* Every record is younger than the lag: nothing is cleanable. */
    kl_clean_job_t *job = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 1, &job, &err), 0);
    ck_assert_ptr_null(job);
    /* Once old enough, they are. */
    clean(log, NOW + 100 + 60000, 1, NULL);
    size_t nw = expected_clean(before, nb, active_base(log), 0, want);
    size_t na = read_all(log, after, MAX_RECS);
    assert_same(after, na, want, nw);
    ck_assert_uint_lt(na, nb);
    kl_log_close(log);
}
END_TEST

START_TEST(test_dirty_ratio)
{
    kl_log_config_t c = compact_config();
    c.min_cleanable_dirty_ratio = 0.5;
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 10);
    kl_clean_stats_t st;
    clean(log, NOW + 1000, 0, &st); /* all dirty: ratio 1 */
    ck_assert_int_gt(st.segments_swapped, 0);
    /* A little more: one new sealed segment against the cleaned ones. */
    write_versions(log, 1);
    kl_clean_job_t *job = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 0, &job, &err), 0);
    ck_assert_ptr_null(job);
    /* Lots more: the dirty part outweighs the clean one. */
    write_versions(log, 20);
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 0, &job, &err), 0);
    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(kl_clean_job_run(job, &err), 0);
    ck_assert_int_eq(kl_log_clean_commit(log, job, KL_CLEAN_ALL_STEPS, &st, &err), 0);
    ck_assert_int_gt(st.segments_swapped, 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_max_compaction_lag)
{
    /* Below min.cleanable.dirty.ratio a log is still cleaned once its
     * oldest dirty record is older than max.compaction.lag.ms. */
    kl_log_config_t c = compact_config();
    c.min_cleanable_dirty_ratio = 1.0; /* never by ratio */
    c.max_compaction_lag_ms = 60000;
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 10);
    kl_clean_job_t *job = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 0, &job, &err), 0);
    ck_assert_ptr_null(job);
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 61000, 0, &job, &err), 0);
    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(kl_clean_job_run(job, &err), 0);
    kl_clean_stats_t st;
    ck_assert_int_eq(kl_log_clean_commit(log, job, KL_CLEAN_ALL_STEPS, &st, &err), 0);
    ck_assert_int_gt(st.segments_swapped, 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_incremental_clean)
{
    /* A second clean maps only the new (dirty) segments; records of the
     * cleaned part stay unless a newer one of their key is in the dirty
     * part. */
    kl_log_config_t c = compact_config();
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 6);
    clean(log, NOW + 1000, 0, NULL);
    char key[16], value[32];
    for (int r = 0; r < 6; r++)
        for (int k = 3; k < 8; k++) { /* k3, k4 again; k5..k7 new */
            snprintf(key, sizeof key, "k%d", k);
            snprintf(value, sizeof value, "w%d-%d", k, r);
            append_kv(log, key, value, NOW + 500 + r);
        }
    static rec_view_t before[MAX_RECS], after[MAX_RECS], want[MAX_RECS];
    size_t nb = read_all(log, before, MAX_RECS);
    size_t nw = expected_clean(before, nb, active_base(log), 0, want);
    kl_clean_stats_t st;
    clean(log, NOW + 2000, 0, &st);
    ck_assert_int_gt(st.segments_swapped, 0);
    size_t na = read_all(log, after, MAX_RECS);
    assert_same(after, na, want, nw);
    kl_log_close(log);
}
END_TEST

START_TEST(test_key_map_limit)
{
    /* A key map too small for more than one segment: each clean covers the
     * next dirty segment; together they reach the full result. */
    kl_log_config_t c = compact_config();
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 12);
    static rec_view_t before[MAX_RECS], after[MAX_RECS], want[MAX_RECS];
    size_t nb = read_all(log, before, MAX_RECS);
    size_t nw = expected_clean(before, nb, active_base(log), 0, want);
    int cleans = 0;
    for (;;) {
        kl_clean_job_t *job = NULL;
        sd_err_t err = {0};
        ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 0, &job, &err), 0);
        if (!job)
            break;
        kl_clean_job_set_map_limit(job, 1);
        ck_assert_int_eq(kl_clean_job_run(job, &err), 0);
        ck_assert_int_eq(kl_log_clean_commit(log, job, KL_CLEAN_ALL_STEPS, NULL, &err), 0);
        ck_assert_int_lt(++cleans, 100);
    }
    ck_assert_int_gt(cleans, 2);
    size_t na = read_all(log, after, MAX_RECS);
    assert_same(after, na, want, nw);
    kl_log_close(log);
}
END_TEST

START_TEST(test_crash_at_every_step)
{
    kl_log_config_t c = compact_config();
    static rec_view_t all[MAX_RECS], got[MAX_RECS], want[MAX_RECS], again[MAX_RECS];
    int finished = 0, stop;
    for (stop = 0; !finished; stop++) {
        ck_assert_int_lt(stop, 200);
        wipe_dir();
        kl_log_t *log = open_log(&c, 0);
        write_versions(log, 8);
        append_kv(log, "k4", NULL, NOW + 500);
        write_versions(log, 2);
        int64_t end = kl_log_end_offset(log);
        size_t n = read_all(log, all, MAX_RECS);
        int64_t abase = active_base(log);
        size_t nw = expected_clean(all, n, abase, 0, want);
        kl_clean_job_t *job = NULL;
        sd_err_t err = {0};
        ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 1, &job, &err), 0);
        ck_assert_ptr_nonnull(job);
        ck_assert_int_eq(kl_clean_job_run(job, &err), 0);
        int rc = kl_log_clean_commit(log, job, stop, NULL, &err);
        ck_assert_msg(rc == 0 || rc == 1, "commit: %s", err.msg);
        finished = rc == 0;
        kl_log_close(log); /* the "crash": what is on disk is what counts */

        log = open_log(&c, 1);
        size_t ng = read_all(log, got, MAX_RECS);
        /* All or nothing: the original records or the cleaned ones. */
        int swapped = ng != n;
        if (swapped)
            assert_same(got, ng, want, nw);
        else
            assert_same(got, ng, all, n);
        /* Steps 0 (nothing committed) ... 1 (commit record written) on:
         * a commit record means the swap is finished. */
        ck_assert_msg(swapped == (stop >= 1), "stop %d: swapped %d", stop, swapped);
        ck_assert_int_eq(count_files_with(".cleaned"), 0);
        ck_assert_int_eq(count_files_with("cleaner-swap"), 0);
        ck_assert_int_eq(kl_log_end_offset(log), end);
        /* Indexes are sound: every offset reads, and the log goes on. */
        for (int64_t o = 0; o < end; o++) {
            kl_read_t rd;
            ck_assert_int_eq(kl_log_read(log, o, 64, &rd, &err), 0);
            if (rd.fd >= 0)
                close(rd.fd);
        }
        ck_assert_int_eq(append_kv(log, "k0", "after", NOW + 3000), end);
        /* A clean afterwards reaches the same state. */
        clean(log, NOW + 1000, 1, NULL);
        size_t na = read_all(log, again, MAX_RECS);
        assert_same(again, nw, want, nw);
        ck_assert_uint_eq(na, nw + 1);
        kl_log_close(log);
    }
    /* Several segments were swapped, so crashes fell between two renames:
     * the commit took 3 + 2n steps. */
    ck_assert_int_ge(stop, 3 + 2 * 3 + 1);
}
END_TEST

START_TEST(test_crash_during_run)
{
    kl_log_config_t c = compact_config();
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 8);
    static rec_view_t all[MAX_RECS], got[MAX_RECS];
    size_t n = read_all(log, all, MAX_RECS);
    kl_clean_job_t *job = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 1, &job, &err), 0);
    ck_assert_int_eq(kl_clean_job_run(job, &err), 0);
    ck_assert_int_gt(count_files_with(".cleaned"), 0);
    /* A torn cleaned file, as a crash mid-write leaves it. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".cleaned")) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            ck_assert_int_eq(truncate(path, 30), 0);
        }
    closedir(d);
    ck_assert_int_eq(kl_log_clean_commit(log, job, 0, NULL, &err), 1);
    kl_log_close(log);
    log = open_log(&c, 1);
    size_t ng = read_all(log, got, MAX_RECS);
    assert_same(got, ng, all, n);
    ck_assert_int_eq(count_files_with(".cleaned"), 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_failure_after_commit_point)
{
    /* A rename failing after the commit record was written: the files stay
     * for the next open to finish, and the log is not cleaned again
     * meanwhile. */
    kl_log_config_t c = compact_config();
    kl_log_t *log = open_log(&c, 0);
    write_versions(log, 8);
    static rec_view_t all[MAX_RECS], got[MAX_RECS], want[MAX_RECS];
    size_t n = read_all(log, all, MAX_RECS);
    size_t nw = expected_clean(all, n, active_base(log), 0, want);
    kl_clean_job_t *job = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 1, &job, &err), 0);
    ck_assert_int_eq(kl_clean_job_run(job, &err), 0);
    /* The first cleaned file goes missing: its rename fails. */
    char victim[1024] = "";
    int seen = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".cleaned"))
            continue;
        seen++;
        if (!victim[0] || strcmp(e->d_name, victim + strlen(dir) + 1) < 0)
            snprintf(victim, sizeof victim, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    ck_assert_int_gt(seen, 1);
    ck_assert_int_eq(unlink(victim), 0);
    ck_assert_int_lt(kl_log_clean_commit(log, job, KL_CLEAN_ALL_STEPS, NULL, &err), 0);
    ck_assert_int_eq(count_files_with("cleaner-swap"), 1);
    ck_assert_int_gt(count_files_with(".cleaned"), 0);
    ck_assert_int_eq(kl_log_clean_prepare(log, NOW + 1000, 1, &job, &err), 0);
    ck_assert_ptr_null(job);
    /* Reads still work (old files stay open underneath). */
    size_t ng = read_all(log, got, MAX_RECS);
    ck_assert_uint_ge(ng, nw);
    kl_log_close(log);
    log = open_log(&c, 1);
    ck_assert_int_eq(count_files_with("cleaner-swap"), 0);
    ck_assert_int_eq(count_files_with(".cleaned"), 0);
    clean(log, NOW + 1000, 1, NULL);
    ng = read_all(log, got, MAX_RECS);
    assert_same(got, ng, want, nw);
    kl_log_close(log);
}
END_TEST

START_TEST(test_keys_required)
{
    kl_log_config_t c = compact_config();
    kl_log_t *log = open_log(&c, 0);
    for (int codec = KL_CODEC_NONE; codec <= KL_CODEC_ZSTD; codec++) {
        const char *keys[2] = {"a", NULL};
        const char *values[2] = {"1", "2"};
        kl_record_t recs[2];
        for (int i = 0; i < 2; i++)
            recs[i] = (kl_record_t){.key = (const uint8_t *)keys[i],
                                    .key_len = keys[i] ? 1 : -1,
                                    .value = (const uint8_t *)values[i],
                                    .value_len = 1,
                                    .timestamp = NOW};
        sd_writer_t w, packed;
        sd_writer_init(&w);
        sd_writer_init(&packed);
        sd_err_t err = {0};
        ck_assert_int_eq(kl_batch_build(&w, NULL, recs, 2, &err), 0);
        if (codec) {
            ck_assert_int_eq(kl_codec_compress(codec, w.buf + KL_BATCH_HEADER_SIZE,
                                               w.len - KL_BATCH_HEADER_SIZE, &packed, &err),
                             0);
            w.len = KL_BATCH_HEADER_SIZE;
            sd_write_bytes(&w, packed.buf, packed.len);
            sd_put_be16(w.buf + KL_BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
            sd_put_be32(w.buf + KL_BATCH_OFF_LENGTH, (uint32_t)(w.len - KL_BATCH_LOG_OVERHEAD));
            sd_put_be32(w.buf + KL_BATCH_OFF_CRC, kl_batch_compute_crc(w.buf, w.len));
        }
        int64_t base;
        int rc = kl_log_append(log, w.buf, w.len, NOW, &base, &err);
        ck_assert_int_eq(rc, KL_ERR_INVALID_RECORD);
        ck_assert_ptr_nonnull(strstr(err.msg, "without key"));
        ck_assert_int_eq(kl_log_kafka_error(rc), 87);
        sd_writer_free(&w);
        sd_writer_free(&packed);
    }
    ck_assert_int_eq(kl_log_end_offset(log), 0);
    /* Not compacted: accepted. */
    c.cleanup_compact = 0;
    kl_log_set_config(log, &c);
    append_kv(log, NULL, "fine", NOW);
    ck_assert_int_eq(kl_log_end_offset(log), 1);
    kl_log_close(log);
}
END_TEST

/* ---- retention and DeleteRecords ----------------------------------------- */

START_TEST(test_retention_time)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.segment_bytes = 400;
    c.retention_ms = 10000;
    kl_log_t *log = open_log(&c, 0);
    for (int i = 0; i < 30; i++)
        append_kv(log, "k", "value-value-value", i < 20 ? NOW : NOW + 20000);
    size_t before = kl_log_segment_count(log);
    int64_t end = kl_log_end_offset(log);
    /* At NOW + 15000 the old segments (largest timestamp NOW) are expired;
     * the first one holding a NOW + 20000 record is not. */
    size_t deleted = kl_log_apply_retention(log, NOW + 15000);
    ck_assert_uint_gt(deleted, 0);
    ck_assert_uint_eq(kl_log_segment_count(log), before - deleted);
    int64_t start = kl_log_start_offset(log);
    ck_assert_int_gt(start, 0);
    ck_assert_int_le(start, 20);
    kl_read_t rd;
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_read(log, start - 1, 100, &rd, &err), KL_ERR_OUT_OF_RANGE);
    /* Far later, everything but the active segment goes. */
    kl_log_apply_retention(log, NOW + 100000);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    kl_log_close(log);
    log = open_log(&c, 1);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    kl_log_close(log);
    /* cleanup.policy=compact alone: no retention. */
    c.cleanup_delete = 0;
    c.cleanup_compact = 1;
    log = open_log(&c, 0);
    for (int i = 0; i < 20; i++)
        append_kv(log, "k", "value-value-value", NOW);
    ck_assert_uint_eq(kl_log_apply_retention(log, NOW + 100000), 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_retention_size)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.segment_bytes = 400;
    c.retention_bytes = 1000;
    kl_log_t *log = open_log(&c, 0);
    for (int i = 0; i < 40; i++)
        append_kv(log, "k", "value-value-value", NOW);
    ck_assert_int_gt(kl_log_size_bytes(log), 2000);
    ck_assert_uint_gt(kl_log_apply_retention(log, NOW), 0);
    ck_assert_int_le(kl_log_size_bytes(log), 1000 + 400);
    ck_assert_int_gt(kl_log_size_bytes(log), 1000 - 400);
    ck_assert_uint_eq(kl_log_apply_retention(log, NOW), 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_delete_records_restart)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.segment_bytes = 400;
    kl_log_t *log = open_log(&c, 0);
    for (int i = 0; i < 30; i++)
        append_kv(log, "k", "value-value-value", NOW);
    size_t segments = kl_log_segment_count(log);
    sd_err_t err = {0};
    ck_assert_int_eq(kl_log_delete_records(log, 31, &err), KL_ERR_OUT_OF_RANGE);
    /* Inside a segment: reads below get OFFSET_OUT_OF_RANGE; whole segments
     * below go. */
    ck_assert_int_eq(kl_log_delete_records(log, 17, &err), 0);
    ck_assert_int_eq(kl_log_start_offset(log), 17);
    ck_assert_uint_lt(kl_log_segment_count(log), segments);
    kl_read_t rd;
    ck_assert_int_eq(kl_log_read(log, 16, 100, &rd, &err), KL_ERR_OUT_OF_RANGE);
    ck_assert_int_eq(kl_log_read(log, 17, 100, &rd, &err), 0);
    ck_assert_int_gt(rd.len, 0);
    close(rd.fd);
    /* Lower is a no-op. */
    ck_assert_int_eq(kl_log_delete_records(log, 5, &err), 0);
    ck_assert_int_eq(kl_log_start_offset(log), 17);
    kl_log_close(log);
    for (int recover = 0; recover < 2; recover++) {
        log = open_log(&c, recover);
        ck_assert_int_eq(kl_log_start_offset(log), 17);
        ck_assert_int_eq(kl_log_read(log, 16, 100, &rd, &err), KL_ERR_OUT_OF_RANGE);
        kl_log_close(log);
    }
    /* -1 = up to the end; the active segment stays. */
    log = open_log(&c, 0);
    ck_assert_int_eq(kl_log_delete_records(log, -1, &err), 0);
    ck_assert_int_eq(kl_log_start_offset(log), 30);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    ck_assert_int_eq(append_kv(log, "k", "v", NOW), 30);
    kl_log_close(log);
    log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_start_offset(log), 30);
    ck_assert_int_eq(kl_log_end_offset(log), 31);
    kl_log_close(log);
}
END_TEST

START_TEST(test_delete_records_crash_before_unlink)
{
    /* The start offset file written, the segments not yet deleted: the
     * next open deletes them. */
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.segment_bytes = 400;
    kl_log_t *log = open_log(&c, 0);
    for (int i = 0; i < 30; i++)
        append_kv(log, "k", "value-value-value", NOW);
    size_t segments = kl_log_segment_count(log);
    kl_log_close(log);
    char path[700];
    snprintf(path, sizeof path, "%s/log-start-offset", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("strand-log-start-offset 1\n20\n", f);
    fclose(f);
    log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_start_offset(log), 20);
    ck_assert_uint_lt(kl_log_segment_count(log), segments);
    kl_log_close(log);
}
END_TEST

static Suite *cleaner_suite(void)
{
    Suite *s = suite_create("kl_cleaner");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_newest_wins);
    tcase_add_test(tc, test_tombstones);
    tcase_add_test(tc, test_active_untouched);
    tcase_add_test(tc, test_compressed_codecs);
    tcase_add_test(tc, test_headers_survive_rebuild);
    tcase_add_test(tc, test_min_compaction_lag);
    tcase_add_test(tc, test_dirty_ratio);
    tcase_add_test(tc, test_max_compaction_lag);
    tcase_add_test(tc, test_incremental_clean);
    tcase_add_test(tc, test_key_map_limit);
    tcase_add_test(tc, test_crash_at_every_step);
    tcase_add_test(tc, test_crash_during_run);
    tcase_add_test(tc, test_failure_after_commit_point);
    tcase_add_test(tc, test_keys_required);
    tcase_add_test(tc, test_retention_time);
    tcase_add_test(tc, test_retention_size);
    tcase_add_test(tc, test_delete_records_restart);
    tcase_add_test(tc, test_delete_records_crash_before_unlink);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(cleaner_suite()); }
