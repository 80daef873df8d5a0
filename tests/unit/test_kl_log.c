/*
 * test_kl_log.c - the partition log (kl_log.c, kl_segment.c, kl_index.c):
 * appends and reads across segments and reopens, index lookups from every
 * offset, max_bytes, offsets by timestamp, out-of-range reads,
 * LogAppendTime, all-or-nothing appends, rolling rules, recovery of torn
 * tails, garbage and flipped bytes (with indexes rebuilt), damaged indexes on
 * a clean open, the recovery checkpoint and group-commit bookkeeping.
 * Each test works in a fresh directory under /tmp, removed afterwards.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/log.h"
#include "storage/kl_batch.h"
#include "storage/kl_index.h"
#include "storage/kl_log.h"
#include "unit.h"

/* ---- fixture -------------------------------------------------------------- */

static char root[64];
static char dir[128]; /* the partition directory, inside root */
static char warnings[8192];
static int warning_count;

static void capture(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)module;
    (void)opaque;
    if (level < SD_LOG_WARN)
        return;
    warning_count++;
    size_t used = strlen(warnings);
    snprintf(warnings + used, sizeof warnings - used, "%s\n", line);
}

static void setup(void)
{
    unit_make_temp_dir(root, sizeof root, "test_kl_log");
    snprintf(dir, sizeof dir, "%s/topic-0", root);
    warnings[0] = '\0';
    warning_count = 0;
    sd_log_set_sink(capture, NULL);
}

static void teardown(void)
{
    sd_log_set_sink(NULL, NULL);
    unit_remove_tree(root);
}

/* ---- helpers -------------------------------------------------------------- */

static kl_log_config_t small_config(void)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.segment_bytes = 4096;
    c.index_interval_bytes = 256;
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

/* Appends to w one batch of `count` records with values of value_len bytes
 * and timestamps ts, ts+1, ... */
static void build_batch(sd_writer_t *w, int count, int value_len, int64_t ts)
{
    kl_record_t recs[64];
    static uint8_t value[4096];
    ck_assert_int_le(count, 64);
    for (int i = 0; i < value_len && i < (int)sizeof value; i++)
        value[i] = (uint8_t)('a' + i % 26);
    for (int i = 0; i < count; i++)
        recs[i] = (kl_record_t){.key = (const uint8_t *)"key",
                                .key_len = 3,
                                .value = value,
                                .value_len = value_len,
                                .timestamp = ts + i};
    ck_assert_int_eq(kl_batch_build(w, NULL, recs, (size_t)count, NULL), 0);
}

/* Appends one batch; returns its base offset. */
static int64_t append_batch(kl_log_t *log, int count, int value_len, int64_t ts)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, count, value_len, ts);
    int64_t base;
    sd_err_t err = {0};
    int rc = kl_log_append(log, w.buf, w.len, ts, &base, &err);
    ck_assert_msg(rc == 0, "append: %s", err.msg);
    sd_writer_free(&w);
    return base;
}

/* Reads at `offset` and checks the result: whole valid batches, the first
 * containing offset, consecutive offsets. Returns the bytes read. */
static int32_t check_read(kl_log_t *log, int64_t offset, int32_t max_bytes, int64_t *first_base)
{
    kl_read_t rd;
    sd_err_t err = {0};
    int rc = kl_log_read(log, offset, max_bytes, &rd, &err);
    ck_assert_msg(rc == 0, "read %" PRId64 ": %s", offset, err.msg);
    if (rd.len == 0) {
        ck_assert_int_eq(rd.fd, -1);
        return 0;
    }
    ck_assert_int_ge(rd.fd, 0);
    uint8_t *buf = sd_malloc((size_t)rd.len);
    ck_assert_int_eq(pread(rd.fd, buf, (size_t)rd.len, rd.pos), rd.len);
    close(rd.fd);
    kl_batch_iter_t it;
    const uint8_t *batch;
    size_t size;
    kl_batch_iter_init(&it, buf, (size_t)rd.len);
    int64_t expect = -1;
    int n = 0;
    while (kl_batch_iter_next(&it, &batch, &size) == 1) {
        kl_batch_header_t h;
        ck_assert_int_eq(kl_batch_validate(batch, size, 0, 0, &h, NULL), 0);
        if (n == 0) {
            ck_assert_int_le(h.base_offset, offset);
            ck_assert_int_ge(kl_batch_last_offset(&h), offset);
            if (first_base)
                *first_base = h.base_offset;
        } else {
            ck_assert_int_eq(h.base_offset, expect);
        }
        expect = kl_batch_last_offset(&h) + 1;
        n++;
    }
    ck_assert_uint_eq(it.pos, (size_t)rd.len); /* whole batches only */
    ck_assert(n == 1 || rd.len <= max_bytes);
    sd_free(buf);
    return rd.len;
}

static int64_t file_size(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return st.st_size;
}

static void segment_name(int64_t base, const char *ext, char *out, size_t len)
{
    snprintf(out, len, "%020" PRId64 ".%s", base, ext);
}

/* Base offsets of the segments on disk, sorted (at most max). */
static size_t disk_segments(int64_t *bases, size_t max)
{
    size_t n = 0;
    for (int64_t base = 0; base < 100000 && n < max; base++) {
        char name[64];
        segment_name(base, "log", name, sizeof name);
        if (file_size(name) >= 0)
            bases[n++] = base;
    }
    return n;
}

static void append_bytes(const char *name, const void *bytes, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
    close(fd);
}

static void flip_byte(const char *name, int64_t pos)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, pos), 1);
    b ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &b, 1, pos), 1);
    close(fd);
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* The .index of a segment on disk agrees with its .log: entries increase
 * and each points at a batch with that base offset. */
static size_t check_index_file(int64_t base)
{
    char name[64], path[256];
    segment_name(base, "index", name, sizeof name);
    int64_t size = file_size(name);
    ck_assert_int_ge(size, 0);
    ck_assert_int_eq(size % 8, 0);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int ifd = open(path, O_RDONLY);
    segment_name(base, "log", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int lfd = open(path, O_RDONLY);
    ck_assert(ifd >= 0 && lfd >= 0);
    uint32_t prev_rel = 0, prev_pos = 0;
    for (int64_t i = 0; i < size / 8; i++) {
        uint8_t e[8], hdr[KL_BATCH_HEADER_SIZE];
        ck_assert_int_eq(pread(ifd, e, 8, i * 8), 8);
        uint32_t rel = sd_be32(e), pos = sd_be32(e + 4);
        if (i > 0)
            ck_assert(rel > prev_rel && pos > prev_pos);
        ck_assert_int_eq(pread(lfd, hdr, sizeof hdr, pos), (ssize_t)sizeof hdr);
        ck_assert_int_eq((int64_t)sd_be64(hdr), base + rel);
        prev_rel = rel;
        prev_pos = pos;
    }
    close(ifd);
    close(lfd);
    return (size_t)(size / 8);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_append_read)
{
    kl_log_t *log = open_log(NULL, 0);
    ck_assert_int_eq(kl_log_start_offset(log), 0);
    ck_assert_int_eq(kl_log_end_offset(log), 0);
    ck_assert_int_eq(append_batch(log, 5, 10, 1000), 0);
    ck_assert_int_eq(append_batch(log, 5, 10, 2000), 5);
    ck_assert_int_eq(append_batch(log, 1, 10, 3000), 10);
    ck_assert_int_eq(kl_log_end_offset(log), 11);
    for (int64_t off = 0; off < 11; off++) {
        int64_t base;
        check_read(log, off, 1 << 20, &base);
        ck_assert_int_eq(base, off < 5 ? 0 : off < 10 ? 5 : 10);
    }
    /* At the end: nothing yet. Past it or before the start: out of range. */
    ck_assert_int_eq(check_read(log, 11, 1 << 20, NULL), 0);
    kl_read_t rd;
    sd_err_t err;
    ck_assert_int_eq(kl_log_read(log, 12, 100, &rd, &err), KL_ERR_OUT_OF_RANGE);
    ck_assert_int_eq(rd.fd, -1);
    ck_assert_int_eq(kl_log_read(log, -1, 100, &rd, &err), KL_ERR_OUT_OF_RANGE);
    ck_assert_int_eq(kl_log_kafka_error(KL_ERR_OUT_OF_RANGE), 1);
    /* At least one batch even when max_bytes is smaller. */
    ck_assert_int_gt(check_read(log, 0, 1, NULL), 1);
    kl_log_close(log);
}
END_TEST

START_TEST(test_segments_and_reopen)
{
    kl_log_config_t c = small_config();
    kl_log_t *log = open_log(&c, 0);
    int64_t expect = 0;
    for (int i = 0; i < 200; i++) {
        int count = 1 + i % 4;
        ck_assert_int_eq(append_batch(log, count, 40 + i % 50, 1000 + i), expect);
        expect += count;
    }
    ck_assert_int_eq(kl_log_end_offset(log), expect);
    size_t segments = kl_log_segment_count(log);
    ck_assert_int_gt(segments, 5);
    int64_t bytes = kl_log_size_bytes(log);
    for (int64_t off = 0; off < expect; off++)
        check_read(log, off, 700, NULL);
    kl_log_close(log);
    ck_assert_int_eq(warning_count, 0);

    for (int recover = 0; recover < 2; recover++) {
        log = open_log(&c, recover);
        ck_assert_int_eq(kl_log_end_offset(log), expect);
        ck_assert_int_eq(kl_log_flushed_offset(log), expect);
        ck_assert_uint_eq(kl_log_segment_count(log), segments);
        ck_assert_int_eq(kl_log_size_bytes(log), bytes);
        for (int64_t off = 0; off < expect; off++)
            check_read(log, off, 1000, NULL);
        /* Appends continue where the log ended. */
        ck_assert_int_eq(append_batch(log, 2, 10, 5000), expect);
        expect += 2;
        bytes = kl_log_size_bytes(log);
        segments = kl_log_segment_count(log);
        kl_log_close(log);
    }
    ck_assert_msg(warning_count == 0, "%s", warnings);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    ck_assert_uint_eq(n, kl_log_segment_count(log = open_log(&c, 0)));
    kl_log_close(log);
    size_t entries = 0;
    for (size_t i = 0; i < n; i++)
        entries += check_index_file(bases[i]);
    ck_assert_int_gt(entries, 0);
}
END_TEST

START_TEST(test_index_lookups)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.index_interval_bytes = 100;
    kl_log_t *log = open_log(&c, 0);
    enum { BATCHES = 1000 };
    static int64_t bases[BATCHES + 1];
    srand(7);
    for (int i = 0; i < BATCHES; i++)
        bases[i] = append_batch(log, 1 + rand() % 5, rand() % 200, 1000 + i);
    int64_t end = kl_log_end_offset(log);
    bases[BATCHES] = end;
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    for (int i = 0; i < BATCHES; i++) {
        for (int64_t off = bases[i]; off < bases[i + 1]; off++) {
            int64_t base;
            check_read(log, off, 1, &base);
            ck_assert_int_eq(base, bases[i]);
        }
    }
    /* Large reads stay whole-batch and bounded. */
    for (int i = 0; i < 200; i++) {
        int64_t off = rand() % end;
        int32_t max = 1 + rand() % 5000;
        check_read(log, off, max, NULL);
    }
    kl_log_close(log);
    ck_assert_int_gt(check_index_file(0), 100);
}
END_TEST

START_TEST(test_max_bytes)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.index_interval_bytes = 300;
    kl_log_t *log = open_log(&c, 0);
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, 1, 100, 0);
    int32_t size = (int32_t)w.len; /* every batch below has this size */
    sd_writer_free(&w);
    for (int i = 0; i < 50; i++)
        append_batch(log, 1, 100, i);
    for (int k = 1; k <= 50; k++) {
        kl_read_t rd;
        ck_assert_int_eq(kl_log_read(log, 0, k * size, &rd, NULL), 0);
        ck_assert_int_eq(rd.len, k * size);
        close(rd.fd);
        ck_assert_int_eq(kl_log_read(log, 3, k * size + size - 1, &rd, NULL), 0);
        ck_assert_int_eq(rd.pos, 3 * size);
        ck_assert_int_eq(rd.len, (k < 47 ? k : 47) * size);
        close(rd.fd);
    }
    kl_log_close(log);
}
END_TEST

START_TEST(test_offset_for_timestamp)
{
    kl_log_config_t c = small_config();
    kl_log_t *log = open_log(&c, 0);
    /* Batch i (one record) has timestamp 1000 + 10 * i, except a late one. */
    for (int i = 0; i < 300; i++)
        append_batch(log, 1, 100, i == 150 ? 500 : 1000 + 10 * i);
    ck_assert_int_gt(kl_log_segment_count(log), 3);
    for (int pass = 0; pass < 2; pass++) {
        int64_t off, ts;
        ck_assert_int_eq(kl_log_offset_for_timestamp(log, 0, &off, &ts), 0);
        ck_assert_int_eq(off, 0);
        ck_assert_int_eq(ts, 1000);
        for (int i = 0; i < 300; i++) {
            if (i == 150)
                continue;
            int64_t target = 1000 + 10 * i;
            ck_assert_int_eq(kl_log_offset_for_timestamp(log, target, &off, &ts), 0);
            ck_assert_int_eq(off, i);
            ck_assert_int_eq(ts, target);
            ck_assert_int_eq(kl_log_offset_for_timestamp(log, target - 5, &off, &ts), 0);
            ck_assert_int_eq(off, i == 151 ? 151 : i);
        }
        ck_assert_int_eq(kl_log_offset_for_timestamp(log, 1000 + 10 * 299 + 1, &off, &ts), 0);
        ck_assert_int_eq(off, -1);
        ck_assert_int_eq(ts, -1);
        /* The same after a reopen, from the indexes on disk. */
        kl_log_close(log);
        log = open_log(&c, pass);
    }
    kl_log_close(log);
}
END_TEST

START_TEST(test_timestamp_inside_batches)
{
    kl_log_t *log = open_log(NULL, 0);
    /* Records at 100, 200, ... 500 in one batch. */
    sd_writer_t w;
    sd_writer_init(&w);
    kl_record_t recs[5];
    for (int i = 0; i < 5; i++)
        recs[i] = (kl_record_t){.key_len = -1,
                                .value_len = 0,
                                .value = (const uint8_t *)"",
                                .timestamp = 100 * (i + 1)};
    ck_assert_int_eq(kl_batch_build(&w, NULL, recs, 5, NULL), 0);
    /* A batch whose maxTimestamp claims more than its records hold. */
    size_t second = w.len;
    ck_assert_int_eq(kl_batch_build(&w, NULL, recs, 2, NULL), 0);
    sd_put_be64(w.buf + second + KL_BATCH_OFF_MAX_TIMESTAMP, 5000);
    sd_put_be32(w.buf + second + KL_BATCH_OFF_CRC,
                kl_batch_compute_crc(w.buf + second, w.len - second));
    /* Then records at 3000 and 6000. */
    recs[0].timestamp = 3000;
    recs[1].timestamp = 6000;
    ck_assert_int_eq(kl_batch_build(&w, NULL, recs, 2, NULL), 0);
    int64_t base;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, NULL), 0);
    int64_t off, ts;
    ck_assert_int_eq(kl_log_offset_for_timestamp(log, 250, &off, &ts), 0);
    ck_assert_int_eq(off, 2);
    ck_assert_int_eq(ts, 300);
    ck_assert_int_eq(kl_log_offset_for_timestamp(log, 500, &off, &ts), 0);
    ck_assert_int_eq(off, 4);
    ck_assert_int_eq(kl_log_offset_for_timestamp(log, 2000, &off, &ts), 0);
    ck_assert_int_eq(off, 7);
    ck_assert_int_eq(ts, 3000);
    ck_assert_int_eq(kl_log_offset_for_timestamp(log, 5500, &off, &ts), 0);
    ck_assert_int_eq(off, 8);
    ck_assert_int_eq(ts, 6000);
    /* A compressed batch stands for itself. */
    sd_writer_reset(&w);
    uint8_t b[KL_BATCH_HEADER_SIZE + 4] = {0};
    sd_put_be32(b + KL_BATCH_OFF_LENGTH, sizeof b - KL_BATCH_LOG_OVERHEAD);
    b[KL_BATCH_OFF_MAGIC] = 2;
    sd_put_be16(b + KL_BATCH_OFF_ATTRIBUTES, 1);
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, 3);
    sd_put_be32(b + KL_BATCH_OFF_RECORDS_COUNT, 4);
    sd_put_be64(b + KL_BATCH_OFF_BASE_TIMESTAMP, 7000);
    sd_put_be64(b + KL_BATCH_OFF_MAX_TIMESTAMP, 7003);
    sd_put_be32(b + KL_BATCH_OFF_CRC, kl_batch_compute_crc(b, sizeof b));
    ck_assert_int_eq(kl_log_append(log, b, sizeof b, 0, &base, NULL), 0);
    ck_assert_int_eq(base, 9);
    ck_assert_int_eq(kl_log_offset_for_timestamp(log, 7002, &off, &ts), 0);
    ck_assert_int_eq(off, 9);
    ck_assert_int_eq(ts, 7003);
    ck_assert_int_eq(kl_log_offset_for_timestamp(log, 7004, &off, &ts), 0);
    ck_assert_int_eq(off, -1);
    sd_writer_free(&w);
    kl_log_close(log);
}
END_TEST

START_TEST(test_log_append_time)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.log_append_time = 1;
    kl_log_t *log = open_log(&c, 0);
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, 3, 20, 1000);
    build_batch(&w, 2, 20, 1003);
    int64_t base;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 1700000000123LL, &base, NULL), 0);
    ck_assert_int_eq(base, 0);
    kl_read_t rd;
    ck_assert_int_eq(kl_log_read(log, 0, 1 << 20, &rd, NULL), 0);
    ck_assert_int_eq(rd.len, (int32_t)w.len);
    uint8_t *buf = sd_malloc(w.len);
    ck_assert_int_eq(pread(rd.fd, buf, w.len, rd.pos), (ssize_t)w.len);
    close(rd.fd);
    kl_batch_iter_t it;
    const uint8_t *batch;
    size_t size;
    kl_batch_iter_init(&it, buf, w.len);
    int64_t expect = 0;
    while (kl_batch_iter_next(&it, &batch, &size) == 1) {
        kl_batch_header_t h;
        ck_assert_int_eq(kl_batch_validate(batch, size, KL_BATCH_FROM_CLIENT, 0, &h, NULL), 0);
        ck_assert_int_eq(h.base_offset, expect);
        ck_assert_int_eq(h.max_timestamp, 1700000000123LL);
        ck_assert(h.attributes & KL_ATTR_LOG_APPEND_TIME);
        expect = kl_batch_last_offset(&h) + 1;
    }
    ck_assert_int_eq(expect, 5);
    int64_t off, ts;
    ck_assert_int_eq(kl_log_offset_for_timestamp(log, 1700000000000LL, &off, &ts), 0);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(ts, 1700000000123LL);
    sd_free(buf);
    sd_writer_free(&w);
    kl_log_close(log);
}
END_TEST

START_TEST(test_all_or_nothing)
{
    kl_log_t *log = open_log(NULL, 0);
    append_batch(log, 2, 10, 0);
    int64_t size = kl_log_size_bytes(log);
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, 3, 10, 0);
    size_t first = w.len;
    build_batch(&w, 3, 10, 0);
    build_batch(&w, 3, 10, 0);
    int64_t base = 99;
    sd_err_t err;

    /* A flipped byte in the second batch. */
    w.buf[first + 40] ^= 1;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, &err), KL_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "batch 1"));
    ck_assert_int_eq(base, -1);
    w.buf[first + 40] ^= 1;
    /* Old magic in the second, and a torn third. */
    w.buf[first + KL_BATCH_OFF_MAGIC] = 1;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, &err), KL_ERR_UNSUPPORTED_MAGIC);
    w.buf[first + KL_BATCH_OFF_MAGIC] = 2;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len - 1, 0, &base, &err), KL_ERR_CORRUPT);
    ck_assert_int_eq(kl_log_end_offset(log), 2);
    ck_assert_int_eq(kl_log_size_bytes(log), size);
    char name[64];
    segment_name(0, "log", name, sizeof name);
    ck_assert_int_eq(file_size(name), size);

    /* Intact, the three go in with consecutive offsets. */
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, &err), 0);
    ck_assert_int_eq(base, 2);
    ck_assert_int_eq(kl_log_end_offset(log), 11);
    ck_assert_int_eq(kl_log_size_bytes(log), size + (int64_t)w.len);
    sd_writer_free(&w);
    kl_log_close(log);
}
END_TEST

/* A write cut short (here by RLIMIT_FSIZE: a partial write, then EFBIG)
 * leaves no partial batch, and an append spanning a roll is taken back
 * whole, the new segment included. */
START_TEST(test_write_failure)
{
    signal(SIGXFSZ, SIG_IGN);
    kl_log_config_t c = small_config();
    kl_log_t *log = open_log(&c, 0);
    for (int i = 0; i < 10; i++)
        append_batch(log, 1, 200, 0);
    int64_t size = kl_log_size_bytes(log), end = kl_log_end_offset(log);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    char name[64];
    segment_name(0, "log", name, sizeof name);

    struct rlimit saved, limit;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    limit = saved;
    limit.rlim_cur = (rlim_t)size + 100;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, 1, 500, 0);
    int64_t base;
    sd_err_t err;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, &err), KL_ERR_STORAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, name));
    ck_assert_int_eq(file_size(name), size);
    ck_assert_int_eq(kl_log_end_offset(log), end);

    /* A small batch fits in the old segment, a large one rolls and fails. */
    sd_writer_reset(&w);
    build_batch(&w, 1, 10, 0);
    size_t small = w.len;
    build_batch(&w, 4, 1000, 0);
    ck_assert_int_gt((int64_t)(w.len - small), (int64_t)limit.rlim_cur);
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, &err), KL_ERR_STORAGE);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    ck_assert_int_eq(file_size(name), size);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    char rolled[64];
    segment_name(end + 1, "log", rolled, sizeof rolled);
    ck_assert_int_eq(file_size(rolled), -1);
    segment_name(end + 1, "index", rolled, sizeof rolled);
    ck_assert_int_eq(file_size(rolled), -1);

    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, &err), 0);
    ck_assert_int_eq(base, end);
    ck_assert_uint_eq(kl_log_segment_count(log), 2);
    for (int64_t off = 0; off < kl_log_end_offset(log); off++)
        check_read(log, off, 5000, NULL);
    sd_writer_free(&w);
    kl_log_close(log);
    log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_end_offset(log), end + 5);
    ck_assert_int_eq(warning_count, 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_client_errors)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.max_message_bytes = 200;
    kl_log_t *log = open_log(&c, 0);
    sd_writer_t w;
    sd_writer_init(&w);
    int64_t base;
    sd_err_t err;
    build_batch(&w, 1, 300, 0);
    int rc = kl_log_append(log, w.buf, w.len, 0, &base, &err);
    ck_assert_int_eq(rc, KL_ERR_TOO_LARGE);
    ck_assert_int_eq(kl_log_kafka_error(rc), 10);

    sd_writer_reset(&w);
    kl_batch_params_t params;
    kl_batch_params_init(&params);
    params.attributes = KL_ATTR_CONTROL;
    kl_record_t rec = {.key = (const uint8_t *)"\0\0\0\0", .key_len = 4, .value_len = -1};
    ck_assert_int_eq(kl_batch_build(&w, &params, &rec, 1, NULL), 0);
    rc = kl_log_append(log, w.buf, w.len, 0, &base, &err);
    ck_assert_int_eq(rc, KL_ERR_INVALID_RECORD);
    ck_assert_int_eq(kl_log_kafka_error(rc), 87);

    rc = kl_log_append(log, w.buf, 0, 0, &base, &err);
    ck_assert_int_eq(rc, KL_ERR_INVALID_RECORD);
    ck_assert_int_eq(kl_log_kafka_error(KL_ERR_CORRUPT), 2);
    ck_assert_int_eq(kl_log_kafka_error(KL_ERR_UNSUPPORTED_MAGIC), 43);
    ck_assert_int_eq(kl_log_kafka_error(KL_ERR_STORAGE), 56);
    ck_assert_int_eq(kl_log_kafka_error(0), 0);
    ck_assert_int_eq(kl_log_kafka_error(SD_ERR_NOMEM), -1);
    ck_assert_int_eq(kl_log_end_offset(log), 0);
    ck_assert_int_eq(kl_log_size_bytes(log), 0);
    sd_writer_free(&w);
    kl_log_close(log);
}
END_TEST

/* Fills a log of several segments and closes it cleanly. */
static int64_t fill(const kl_log_config_t *c, int batches)
{
    kl_log_t *log = open_log(c, 0);
    for (int i = 0; i < batches; i++)
        append_batch(log, 1 + i % 3, 60, 1000 + i);
    int64_t end = kl_log_end_offset(log);
    kl_log_close(log);
    return end;
}

START_TEST(test_recover_torn_tail)
{
    kl_log_config_t c = small_config();
    int64_t end = fill(&c, 100);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    char name[64];
    segment_name(bases[n - 1], "log", name, sizeof name);
    int64_t size = file_size(name);
    /* Half a batch at the end, as a crash in the middle of a write leaves. */
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, 2, 60, 0);
    kl_batch_set_base_offset(w.buf, end);
    size_t torn = w.len / 2;
    append_bytes(name, w.buf, torn);
    sd_writer_free(&w);

    kl_log_t *log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    ck_assert_int_eq(file_size(name), size);
    ck_assert_int_eq(warning_count, 1);
    ck_assert_msg(strstr(warnings, name) && strstr(warnings, "cut"), "%s", warnings);
    char cut[64];
    snprintf(cut, sizeof cut, "cut %zu bytes", torn);
    ck_assert_msg(strstr(warnings, cut), "%s", warnings);
    ck_assert_int_eq(append_batch(log, 1, 10, 0), end);
    for (int64_t off = 0; off <= end; off++)
        check_read(log, off, 500, NULL);
    kl_log_close(log);
    check_index_file(bases[n - 1]);
}
END_TEST

START_TEST(test_recover_garbage)
{
    kl_log_config_t c = small_config();
    int64_t end = fill(&c, 60);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    char name[64];
    segment_name(bases[n - 1], "log", name, sizeof name);
    int64_t size = file_size(name);
    uint8_t garbage[1000];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    append_bytes(name, garbage, sizeof garbage);
    /* Zeros too: what a file system shows after a crash that extended it. */
    uint8_t zeros[300] = {0};
    append_bytes(name, zeros, sizeof zeros);

    kl_log_t *log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    ck_assert_int_eq(file_size(name), size);
    ck_assert_int_eq(warning_count, 1);
    ck_assert_ptr_nonnull(strstr(warnings, "cut 1300 bytes"));
    kl_log_close(log);
}
END_TEST

START_TEST(test_recover_flipped_byte)
{
    kl_log_config_t c = small_config();
    fill(&c, 150);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    ck_assert_uint_ge(n, 4);
    /* Corrupt the third batch of the second segment. */
    char name[64];
    segment_name(bases[1], "log", name, sizeof name);
    kl_log_t *log = open_log(&c, 0);
    int64_t pos = 0, third = -1;
    for (int i = 0; i < 3; i++) {
        kl_read_t rd;
        ck_assert_int_eq(kl_log_read(log, i == 0 ? bases[1] : third, 1, &rd, NULL), 0);
        pos = rd.pos;
        uint8_t hdr[KL_BATCH_HEADER_SIZE];
        ck_assert_int_eq(pread(rd.fd, hdr, sizeof hdr, rd.pos), (ssize_t)sizeof hdr);
        close(rd.fd);
        kl_batch_header_t h;
        kl_batch_header_decode(hdr, &h);
        if (i < 2)
            third = kl_batch_last_offset(&h) + 1;
    }
    kl_log_close(log);
    flip_byte(name, pos + 70);
    /* Only a rescan from before that segment finds it: drop the checkpoint,
     * as after a crash before any checkpoint was written. */
    remove_file("recovery-point");

    log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_end_offset(log), third);
    ck_assert_uint_eq(kl_log_segment_count(log), 2);
    ck_assert_int_eq(file_size(name), pos);
    ck_assert_msg(strstr(warnings, name) && strstr(warnings, "CRC"), "%s", warnings);
    for (size_t i = 2; i < n; i++) {
        char later[64];
        segment_name(bases[i], "log", later, sizeof later);
        ck_assert_int_eq(file_size(later), -1);
        segment_name(bases[i], "index", later, sizeof later);
        ck_assert_int_eq(file_size(later), -1);
    }
    for (int64_t off = 0; off < third; off++)
        check_read(log, off, 300, NULL);
    ck_assert_int_eq(append_batch(log, 1, 10, 0), third);
    kl_log_close(log);
    check_index_file(bases[0]);
    check_index_file(bases[1]);

    /* A clean reopen agrees. */
    log = open_log(&c, 0);
    ck_assert_int_eq(kl_log_end_offset(log), third + 1);
    kl_log_close(log);
}
END_TEST

START_TEST(test_recover_first_batch_of_segment)
{
    /* The bad batch is the first of a segment: that segment goes entirely
     * and the one before becomes active again. */
    kl_log_config_t c = small_config();
    fill(&c, 150);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    ck_assert_uint_ge(n, 3);
    char name[64];
    segment_name(bases[2], "log", name, sizeof name);
    flip_byte(name, 30);
    remove_file("recovery-point");
    kl_log_t *log = open_log(&c, 1);
    ck_assert_uint_eq(kl_log_segment_count(log), 2);
    ck_assert_int_eq(kl_log_end_offset(log), bases[2]);
    ck_assert_int_eq(file_size(name), -1);
    ck_assert_int_eq(append_batch(log, 1, 10, 0), bases[2]);
    kl_log_close(log);
}
END_TEST

START_TEST(test_recover_lost_tail_before_roll)
{
    /* The old segment's tail was never synced and is gone, and the new
     * segment is empty: the log ends where the data ends. */
    kl_log_config_t c = small_config();
    kl_log_t *log = open_log(&c, 0);
    while (kl_log_segment_count(log) < 2)
        append_batch(log, 1, 100, 0);
    int64_t rolled_at = kl_log_end_offset(log) - 1;
    kl_log_close(log);
    /* Leave the new segment empty and cut the old one's last batch. */
    char name[64], path[256];
    segment_name(rolled_at, "log", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(truncate(path, 0), 0);
    segment_name(0, "log", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, 1, 100, 0);
    ck_assert_int_eq(truncate(path, file_size(name) - (int64_t)w.len), 0);
    sd_writer_free(&w);
    remove_file("recovery-point");
    log = open_log(&c, 1);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    ck_assert_int_eq(kl_log_end_offset(log), rolled_at - 1);
    ck_assert_int_eq(append_batch(log, 1, 10, 0), rolled_at - 1);
    kl_log_close(log);
}
END_TEST

START_TEST(test_recover_from_checkpoint)
{
    /* Segments wholly below the checkpoint are trusted, not rescanned. */
    kl_log_config_t c = small_config();
    int64_t end = fill(&c, 150);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    char name[64];
    segment_name(bases[0], "log", name, sizeof name);
    flip_byte(name, 100);
    kl_log_t *log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    ck_assert_uint_eq(kl_log_segment_count(log), n);
    ck_assert_int_eq(warning_count, 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_damaged_index_clean_open)
{
    kl_log_config_t c = small_config();
    int64_t end = fill(&c, 150);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    char name[64];
    /* A partial entry, a garbage entry, and a missing index. */
    segment_name(bases[0], "index", name, sizeof name);
    append_bytes(name, "abc", 3);
    segment_name(bases[1], "index", name, sizeof name);
    uint8_t bad[8] = {0, 0, 0, 1, 0, 0, 0, 5};
    append_bytes(name, bad, sizeof bad);
    segment_name(bases[n - 1], "index", name, sizeof name);
    remove_file(name);
    segment_name(bases[2], "timeindex", name, sizeof name);
    uint8_t bad_time[12] = {0};
    append_bytes(name, bad_time, sizeof bad_time);

    kl_log_t *log = open_log(&c, 0);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    ck_assert_uint_eq(kl_log_segment_count(log), n);
    for (int64_t off = 0; off < end; off++)
        check_read(log, off, 500, NULL);
    kl_log_close(log);
    for (size_t i = 0; i < n; i++)
        check_index_file(bases[i]);
    segment_name(bases[2], "timeindex", name, sizeof name);
    ck_assert_int_eq(file_size(name) % 12, 0);
}
END_TEST

START_TEST(test_clean_open_torn_tail)
{
    /* Even when told the shutdown was clean, a torn last batch is cut. */
    kl_log_config_t c = small_config();
    int64_t end = fill(&c, 30);
    int64_t bases[64];
    size_t n = disk_segments(bases, 64);
    char name[64];
    segment_name(bases[n - 1], "log", name, sizeof name);
    uint8_t junk[70];
    memset(junk, 0, sizeof junk);
    sd_put_be32(junk + 8, 1000);
    junk[16] = 2;
    append_bytes(name, junk, sizeof junk);
    kl_log_t *log = open_log(&c, 0);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    ck_assert_ptr_nonnull(strstr(warnings, "cut 70 bytes"));
    kl_log_close(log);
}
END_TEST

static char *read_text(const char *name)
{
    static char text[256];
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void write_text(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* The flusher thread's side of group commit, done inline. */
static int64_t flush(kl_log_t *log, size_t *nfds)
{
    int fds[8];
    size_t n;
    int64_t upto;
    ck_assert_int_eq(kl_log_flush_fds(log, fds, 8, &n, &upto), 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(fdatasync(fds[i]), 0);
        close(fds[i]);
    }
    kl_log_mark_flushed(log, upto);
    if (nfds)
        *nfds = n;
    return upto;
}

START_TEST(test_checkpoint_and_flush)
{
    kl_log_config_t c = small_config();
    kl_log_t *log = open_log(&c, 0);
    ck_assert_int_eq(kl_log_flushed_offset(log), 0);
    size_t n;
    flush(log, &n);
    ck_assert_uint_eq(n, 0);
    append_batch(log, 3, 10, 0);
    ck_assert_int_eq(kl_log_flushed_offset(log), 0);
    /* The new partition's directory entry and its segment. */
    ck_assert_int_eq(flush(log, &n), 3);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(kl_log_flushed_offset(log), 3);
    flush(log, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(kl_log_checkpoint(log), 0);
    ck_assert_str_eq(read_text("recovery-point"), "strand-recovery-point 1\n3\n");

    /* A roll leaves the old segment unflushed: both are handed out, and
     * the directory (the new segment's entry). */
    while (kl_log_segment_count(log) < 2)
        append_batch(log, 1, 200, 0);
    int64_t end = kl_log_end_offset(log);
    ck_assert_int_eq(flush(log, &n), end);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(kl_log_flushed_offset(log), end);

    /* A flush handed out before more appends covers only what it saw. */
    append_batch(log, 1, 10, 0);
    int fds[8];
    int64_t upto;
    ck_assert_int_eq(kl_log_flush_fds(log, fds, 8, &n, &upto), 0);
    ck_assert_int_eq(upto, end + 1);
    append_batch(log, 1, 10, 0);
    for (size_t i = 0; i < n; i++)
        close(fds[i]);
    kl_log_mark_flushed(log, upto);
    ck_assert_int_eq(kl_log_flushed_offset(log), end + 1);
    /* Too few slots: upto stops before the segments left out. */
    while (kl_log_segment_count(log) < 4)
        append_batch(log, 1, 200, 0);
    ck_assert_int_eq(kl_log_flush_fds(log, fds, 1, &n, &upto), 0);
    ck_assert_uint_eq(n, 1);
    close(fds[0]);
    ck_assert_int_lt(upto, kl_log_end_offset(log));
    kl_log_mark_flushed(log, upto);

    ck_assert_int_eq(kl_log_checkpoint(log), 0);
    char expect[64];
    snprintf(expect, sizeof expect, "strand-recovery-point 1\n%" PRId64 "\n", upto);
    ck_assert_str_eq(read_text("recovery-point"), expect);
    end = kl_log_end_offset(log);
    /* Close syncs everything and checkpoints the end. */
    kl_log_close(log);
    snprintf(expect, sizeof expect, "strand-recovery-point 1\n%" PRId64 "\n", end);
    ck_assert_str_eq(read_text("recovery-point"), expect);
    log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_flushed_offset(log), end);
    kl_log_close(log);

    /* A damaged checkpoint means a full rescan, not a failure. */
    write_text("recovery-point", "strand-recovery-point 1\nnot a number\n");
    log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_end_offset(log), end);
    ck_assert_int_eq(kl_log_flushed_offset(log), 0);
    ck_assert_ptr_nonnull(strstr(warnings, "recovery-point"));
    kl_log_close(log);
}
END_TEST

START_TEST(test_roll_on_time)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.segment_ms = 1000;
    kl_log_t *log = open_log(&c, 0);
    kl_log_maybe_roll(log, 5000); /* empty: stays */
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    sd_writer_t w;
    sd_writer_init(&w);
    build_batch(&w, 1, 10, 0);
    int64_t base;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 10000, &base, NULL), 0);
    kl_log_maybe_roll(log, 10500);
    ck_assert_uint_eq(kl_log_segment_count(log), 1);
    kl_log_maybe_roll(log, 11001);
    ck_assert_uint_eq(kl_log_segment_count(log), 2);
    /* The append path rolls on age as well. */
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 11002, &base, NULL), 0);
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 12500, &base, NULL), 0);
    ck_assert_uint_eq(kl_log_segment_count(log), 3);
    ck_assert_int_eq(base, 2);
    sd_writer_free(&w);
    for (int64_t off = 0; off < 3; off++)
        check_read(log, off, 1000, NULL);
    kl_log_close(log);
}
END_TEST

START_TEST(test_roll_on_index_full)
{
    kl_log_config_t c;
    kl_log_config_defaults(&c);
    c.index_interval_bytes = 1;
    c.segment_index_bytes = 4 * 8;
    kl_log_t *log = open_log(&c, 0);
    for (int i = 0; i < 20; i++)
        append_batch(log, 1, 10, 0);
    /* Entries come from the second batch on: 5 batches per segment. */
    ck_assert_uint_eq(kl_log_segment_count(log), 4);
    kl_log_close(log);
    for (int64_t b = 0; b < 20; b += 5)
        ck_assert_uint_eq(check_index_file(b), 4);
}
END_TEST

/* A compressed-looking batch (not opened by the log) declaring many
 * offsets, to reach the relative offset limit quickly. */
static void build_wide_batch(sd_writer_t *w, int32_t last_offset_delta)
{
    uint8_t b[KL_BATCH_HEADER_SIZE + 8];
    memset(b, 0, sizeof b);
    sd_put_be32(b + KL_BATCH_OFF_LENGTH, sizeof b - KL_BATCH_LOG_OVERHEAD);
    b[KL_BATCH_OFF_MAGIC] = 2;
    sd_put_be16(b + KL_BATCH_OFF_ATTRIBUTES, 4); /* zstd */
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)last_offset_delta);
    sd_put_be32(b + KL_BATCH_OFF_RECORDS_COUNT, (uint32_t)last_offset_delta + 1);
    sd_put_be32(b + KL_BATCH_OFF_CRC, kl_batch_compute_crc(b, sizeof b));
    sd_write_bytes(w, b, sizeof b);
}

START_TEST(test_roll_on_offset_overflow)
{
    kl_log_t *log = open_log(NULL, 0);
    sd_writer_t w;
    sd_writer_init(&w);
    build_wide_batch(&w, INT32_MAX - 10);
    int64_t base;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, NULL), 0);
    ck_assert_int_eq(base, 0);
    sd_writer_reset(&w);
    build_wide_batch(&w, 5);
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, NULL), 0);
    ck_assert_int_eq(base, (int64_t)INT32_MAX - 9);
    ck_assert_uint_eq(kl_log_segment_count(log), 1); /* last relative offset INT32_MAX - 4 */
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, NULL), 0);
    ck_assert_uint_eq(kl_log_segment_count(log), 2); /* INT32_MAX + 2 would not fit */
    ck_assert_int_eq(base, (int64_t)INT32_MAX - 3);
    ck_assert_int_eq(kl_log_start_offset(log), 0);
    ck_assert_int_eq(kl_log_end_offset(log), (int64_t)INT32_MAX + 3);
    check_read(log, 12345, 1, NULL);
    check_read(log, (int64_t)INT32_MAX + 1, 1, NULL);
    sd_writer_free(&w);
    kl_log_close(log);
    log = open_log(NULL, 1);
    ck_assert_int_eq(kl_log_end_offset(log), (int64_t)INT32_MAX + 3);
    ck_assert_uint_eq(kl_log_segment_count(log), 2);
    kl_log_close(log);
}
END_TEST

START_TEST(test_roll_within_one_append)
{
    /* One request spanning a roll: one write per segment, offsets and
     * reads continuous across the boundary. */
    kl_log_config_t c = small_config();
    kl_log_t *log = open_log(&c, 0);
    sd_writer_t w;
    sd_writer_init(&w);
    for (int i = 0; i < 30; i++)
        build_batch(&w, 2, 300, i);
    int64_t base;
    ck_assert_int_eq(kl_log_append(log, w.buf, w.len, 0, &base, NULL), 0);
    ck_assert_int_eq(base, 0);
    ck_assert_int_eq(kl_log_end_offset(log), 60);
    ck_assert_uint_gt(kl_log_segment_count(log), 2);
    for (int64_t off = 0; off < 60; off++)
        check_read(log, off, 4096, NULL);
    sd_writer_free(&w);
    kl_log_close(log);
    log = open_log(&c, 1);
    ck_assert_int_eq(kl_log_end_offset(log), 60);
    ck_assert_int_eq(warning_count, 0);
    kl_log_close(log);
}
END_TEST

START_TEST(test_open_alloc_failures)
{
    kl_log_config_t c = small_config();
    int64_t end = fill(&c, 80);
    remove_file("recovery-point");
    int succeeded = 0;
    for (long n = 0; n < 400 && !succeeded; n++) {
        kl_log_t *log = NULL;
        sd_alloc_fail_after(n);
        int rc = kl_log_open(dir, &c, 1, &log, NULL);
        sd_alloc_fail_after(-1);
        if (rc == 0) {
            ck_assert_int_eq(kl_log_end_offset(log), end);
            kl_log_close(log);
            succeeded = 1;
        } else {
            ck_assert_ptr_null(log);
        }
    }
    ck_assert(succeeded);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("kl_log");
    TCase *tc = tcase_create("log");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_append_read);
    tcase_add_test(tc, test_segments_and_reopen);
    tcase_add_test(tc, test_index_lookups);
    tcase_add_test(tc, test_max_bytes);
    tcase_add_test(tc, test_offset_for_timestamp);
    tcase_add_test(tc, test_timestamp_inside_batches);
    tcase_add_test(tc, test_log_append_time);
    tcase_add_test(tc, test_all_or_nothing);
    tcase_add_test(tc, test_write_failure);
    tcase_add_test(tc, test_client_errors);
    tcase_add_test(tc, test_recover_torn_tail);
    tcase_add_test(tc, test_recover_garbage);
    tcase_add_test(tc, test_recover_flipped_byte);
    tcase_add_test(tc, test_recover_first_batch_of_segment);
    tcase_add_test(tc, test_recover_lost_tail_before_roll);
    tcase_add_test(tc, test_recover_from_checkpoint);
    tcase_add_test(tc, test_damaged_index_clean_open);
    tcase_add_test(tc, test_clean_open_torn_tail);
    tcase_add_test(tc, test_checkpoint_and_flush);
    tcase_add_test(tc, test_roll_on_time);
    tcase_add_test(tc, test_roll_on_index_full);
    tcase_add_test(tc, test_roll_on_offset_overflow);
    tcase_add_test(tc, test_roll_within_one_append);
    tcase_add_test(tc, test_open_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(log_suite()); }
