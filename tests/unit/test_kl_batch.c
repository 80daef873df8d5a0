/*
 * test_kl_batch.c - record batch v2 (kl_batch.c): building and reading back,
 * validation of every truncation and of flipped bytes, wrong magic, control
 * batches, size limits, inconsistent counts, compressed batches, iteration
 * over a buffer, and the in-place base offset / LogAppendTime edits.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/crc32c.h"
#include "storage/kl_batch.h"
#include "unit.h"

static const kl_header_t sample_headers[] = {
    {(const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3},
    {(const uint8_t *)"empty", 5, NULL, -1},
};

/* Three records: a keyed one with headers, a null key, a tombstone. */
static void build_sample(sd_writer_t *w, int64_t base_offset)
{
    kl_record_t records[3] = {
        {.key = (const uint8_t *)"k1",
         .key_len = 2,
         .value = (const uint8_t *)"hello",
         .value_len = 5,
         .headers = sample_headers,
         .header_count = 2,
         .timestamp = 1000},
        {.key = NULL,
         .key_len = -1,
         .value = (const uint8_t *)"",
         .value_len = 0,
         .timestamp = 1500},
        {.key = (const uint8_t *)"k3",
         .key_len = 2,
         .value = NULL,
         .value_len = -1,
         .timestamp = 1200},
    };
    kl_batch_params_t params;
    kl_batch_params_init(&params);
    params.base_offset = base_offset;
    ck_assert_int_eq(kl_batch_build(w, &params, records, 3, NULL), 0);
}

/* Rewrites the CRC after a deliberate edit of a covered field. */
static void fix_crc(uint8_t *batch, size_t size)
{
    sd_put_be32(batch + KL_BATCH_OFF_CRC, kl_batch_compute_crc(batch, size));
}

START_TEST(test_build_roundtrip)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 42);
    kl_batch_header_t h;
    sd_err_t err;
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, &err), 0);
    ck_assert_int_eq(kl_batch_total_size(&h), (int64_t)w.len);
    ck_assert_int_eq(h.base_offset, 42);
    ck_assert_int_eq(h.magic, 2);
    ck_assert_int_eq(h.records_count, 3);
    ck_assert_int_eq(h.last_offset_delta, 2);
    ck_assert_int_eq(h.base_timestamp, 1000);
    ck_assert_int_eq(h.max_timestamp, 1500);
    ck_assert_int_eq(h.producer_id, -1);
    ck_assert_int_eq(h.producer_epoch, -1);
    ck_assert_int_eq(h.base_sequence, -1);
    ck_assert_int_eq(h.partition_leader_epoch, -1);
    ck_assert_int_eq(h.attributes, 0);
    /* The CRC agrees with the portable implementation. */
    ck_assert_uint_eq(h.crc, sd_crc32c_sw(0, w.buf + 21, w.len - 21));

    kl_record_iter_t it;
    ck_assert_int_eq(kl_record_iter_init(&it, w.buf, w.len), 0);
    kl_record_t rec;
    sd_reader_t headers;
    kl_header_t hd;
    ck_assert_int_eq(kl_record_iter_next(&it, &rec, &headers), 1);
    ck_assert_int_eq(rec.offset_delta, 0);
    ck_assert_int_eq(rec.timestamp, 1000);
    ck_assert_int_eq(rec.key_len, 2);
    ck_assert(memcmp(rec.key, "k1", 2) == 0);
    ck_assert_int_eq(rec.value_len, 5);
    ck_assert(memcmp(rec.value, "hello", 5) == 0);
    ck_assert_int_eq(rec.header_count, 2);
    ck_assert_int_eq(kl_record_header_next(&headers, &hd), 1);
    ck_assert_int_eq(hd.key_len, 5);
    ck_assert(memcmp(hd.key, "trace", 5) == 0);
    ck_assert_int_eq(hd.value_len, 3);
    ck_assert(memcmp(hd.value, "abc", 3) == 0);
    ck_assert_int_eq(kl_record_header_next(&headers, &hd), 1);
    ck_assert_int_eq(hd.value_len, -1);
    ck_assert_ptr_null(hd.value);
    ck_assert_int_eq(kl_record_header_next(&headers, &hd), 0);

    ck_assert_int_eq(kl_record_iter_next(&it, &rec, NULL), 1);
    ck_assert_int_eq(rec.offset_delta, 1);
    ck_assert_int_eq(rec.timestamp, 1500);
    ck_assert_int_eq(rec.key_len, -1);
    ck_assert_ptr_null(rec.key);
    ck_assert_int_eq(rec.value_len, 0);
    ck_assert_int_eq(rec.header_count, 0);

    ck_assert_int_eq(kl_record_iter_next(&it, &rec, NULL), 1);
    ck_assert_int_eq(rec.offset_delta, 2);
    ck_assert_int_eq(rec.timestamp, 1200);
    ck_assert_int_eq(rec.value_len, -1);
    ck_assert_ptr_null(rec.value);
    ck_assert_int_eq(kl_record_iter_next(&it, &rec, NULL), 0);
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_every_truncation)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    kl_batch_header_t h;
    for (size_t len = 0; len < w.len; len++) {
        uint8_t *copy = sd_malloc(len);
        memcpy(copy, w.buf, len);
        sd_err_t err;
        ck_assert_int_eq(kl_batch_validate(copy, len, KL_BATCH_FROM_CLIENT, 0, &h, &err),
                         KL_ERR_CORRUPT);
        ck_assert_int_eq(kl_batch_validate(copy, len, 0, 0, &h, NULL), KL_ERR_CORRUPT);
        kl_batch_iter_t it;
        const uint8_t *batch;
        size_t size;
        kl_batch_iter_init(&it, copy, len);
        ck_assert_int_eq(kl_batch_iter_next(&it, &batch, &size), len == 0 ? 0 : KL_ERR_CORRUPT);
        sd_free(copy);
    }
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_flipped_bytes)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    kl_batch_header_t h;
    for (size_t i = 0; i < w.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            w.buf[i] ^= (uint8_t)(1u << bit);
            int rc = kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL);
            if (i < 8 || (i >= 12 && i < 16))
                ck_assert_int_eq(rc, 0); /* baseOffset and leader epoch: not covered */
            else if (i == KL_BATCH_OFF_MAGIC)
                ck_assert_int_eq(rc, KL_ERR_UNSUPPORTED_MAGIC);
            else
                ck_assert_msg(rc == KL_ERR_CORRUPT, "byte %zu bit %d gave %d", i, bit, rc);
            w.buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL), 0);
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_wrong_magic)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    kl_batch_header_t h;
    sd_err_t err;
    for (int magic = 0; magic < 4; magic++) {
        if (magic == 2)
            continue;
        w.buf[KL_BATCH_OFF_MAGIC] = (uint8_t)magic;
        ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, &err),
                         KL_ERR_UNSUPPORTED_MAGIC);
        ck_assert_int_eq(err.code, KL_ERR_UNSUPPORTED_MAGIC);
        ck_assert_ptr_nonnull(strstr(err.msg, "magic"));
    }
    sd_writer_free(&w);

    /* A v1 message set: offset, size, crc, magic 1, attributes, timestamp,
     * null key, 1-byte value (38 bytes, shorter than a v2 header). */
    uint8_t v1[38] = {0};
    sd_put_be32(v1 + 8, 23);
    v1[16] = 1;
    sd_put_be32(v1 + 26, 0xffffffffu);
    sd_put_be32(v1 + 30, 1);
    v1[34] = 'x';
    ck_assert_int_eq(kl_batch_validate(v1, 35, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_UNSUPPORTED_MAGIC);
}
END_TEST

START_TEST(test_control_batch)
{
    sd_writer_t w;
    sd_writer_init(&w);
    kl_batch_params_t params;
    kl_batch_params_init(&params);
    params.attributes = KL_ATTR_CONTROL | KL_ATTR_TRANSACTIONAL;
    params.producer_id = 7;
    params.producer_epoch = 0;
    uint8_t key[4] = {0, 0, 0, 1}; /* COMMIT marker key: version 0, type 1 */
    kl_record_t rec = {.key = key, .key_len = 4, .value = NULL, .value_len = -1, .timestamp = 5};
    ck_assert_int_eq(kl_batch_build(&w, &params, &rec, 1, NULL), 0);
    kl_batch_header_t h;
    sd_err_t err;
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, &err),
                     KL_ERR_INVALID_RECORD);
    ck_assert_ptr_nonnull(strstr(err.msg, "control"));
    /* What the log itself wrote is fine when read back. */
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, 0, 0, &h, NULL), 0);
    ck_assert_int_eq(h.attributes, KL_ATTR_CONTROL | KL_ATTR_TRANSACTIONAL);
    ck_assert_int_eq(h.producer_id, 7);
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_too_large)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    kl_batch_header_t h;
    int32_t size = (int32_t)w.len;
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, size, &h, NULL), 0);
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, size - 1, &h, NULL),
                     KL_ERR_TOO_LARGE);
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_inconsistent_counts)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    kl_batch_header_t h;
    uint8_t *b = w.buf;

    /* lastOffsetDelta no longer recordsCount - 1. */
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, 5);
    fix_crc(b, w.len);
    ck_assert_int_eq(kl_batch_validate(b, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_INVALID_RECORD);
    ck_assert_int_eq(kl_batch_validate(b, w.len, 0, 0, &h, NULL), 0);
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, 2);

    /* More records declared than present, and fewer. */
    sd_put_be32(b + KL_BATCH_OFF_RECORDS_COUNT, 4);
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, 3);
    fix_crc(b, w.len);
    ck_assert_int_eq(kl_batch_validate(b, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_CORRUPT);
    sd_put_be32(b + KL_BATCH_OFF_RECORDS_COUNT, 2);
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, 1);
    fix_crc(b, w.len);
    ck_assert_int_eq(kl_batch_validate(b, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_CORRUPT);

    /* No records at all, or a negative delta. */
    sd_put_be32(b + KL_BATCH_OFF_RECORDS_COUNT, 0);
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, 0);
    fix_crc(b, w.len);
    ck_assert_int_eq(kl_batch_validate(b, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_INVALID_RECORD);
    sd_put_be32(b + KL_BATCH_OFF_RECORDS_COUNT, 3);
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)-1);
    fix_crc(b, w.len);
    ck_assert_int_eq(kl_batch_validate(b, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_INVALID_RECORD);
    sd_writer_free(&w);

    /* Offset deltas out of sequence inside an uncompressed batch. */
    sd_writer_init(&w);
    kl_batch_params_t params;
    kl_batch_params_init(&params);
    params.keep_offset_deltas = 1;
    params.last_offset_delta = 1;
    kl_record_t recs[2] = {
        {.key_len = -1, .value = (const uint8_t *)"a", .value_len = 1, .offset_delta = 0},
        {.key_len = -1, .value = (const uint8_t *)"b", .value_len = 1, .offset_delta = 1},
    };
    ck_assert_int_eq(kl_batch_build(&w, &params, recs, 2, NULL), 0);
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL), 0);
    sd_writer_reset(&w);
    params.last_offset_delta = 5;
    recs[1].offset_delta = 5; /* a compacted batch: fine on disk, not from a client */
    ck_assert_int_eq(kl_batch_build(&w, &params, recs, 2, NULL), 0);
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, 0, 0, &h, NULL), 0);
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_INVALID_RECORD);
    sd_writer_free(&w);
}
END_TEST

/* Record-level damage under a valid CRC: bad varints, lengths past the
 * record, trailing bytes. */
START_TEST(test_malformed_records)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    kl_batch_header_t h;
    size_t n = w.len;
    uint8_t *copy = sd_malloc(n + 1);
    for (size_t i = KL_BATCH_HEADER_SIZE; i < n; i++) {
        static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(copy, w.buf, n);
            if (copy[i] == values[v])
                continue;
            copy[i] = values[v];
            fix_crc(copy, n);
            int rc = kl_batch_validate(copy, n, KL_BATCH_FROM_CLIENT, 0, &h, NULL);
            /* Either still a well-formed batch (a changed payload byte) or
             * rejected; never anything but these codes. */
            ck_assert(rc == 0 || rc == KL_ERR_CORRUPT || rc == KL_ERR_INVALID_RECORD);
        }
    }
    /* One extra byte inside the batch after the last record. */
    memcpy(copy, w.buf, n);
    copy[n] = 0;
    sd_put_be32(copy + KL_BATCH_OFF_LENGTH, (uint32_t)(n + 1 - KL_BATCH_LOG_OVERHEAD));
    fix_crc(copy, n + 1);
    ck_assert_int_eq(kl_batch_validate(copy, n + 1, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_CORRUPT);
    ck_assert_int_eq(kl_batch_validate(copy, n + 1, 0, 0, &h, NULL), 0);
    /* A negative record length. */
    memcpy(copy, w.buf, n);
    copy[KL_BATCH_HEADER_SIZE] = 0x01; /* zig-zag -1 */
    fix_crc(copy, n);
    ck_assert_int_eq(kl_batch_validate(copy, n, KL_BATCH_FROM_CLIENT, 0, &h, NULL), KL_ERR_CORRUPT);
    sd_free(copy);
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_compressed_batch)
{
    /* A gzip batch's records are not opened: any bytes, count as declared. */
    uint8_t b[KL_BATCH_HEADER_SIZE + 16];
    memset(b, 0, sizeof b);
    sd_put_be32(b + KL_BATCH_OFF_LENGTH, sizeof b - KL_BATCH_LOG_OVERHEAD);
    b[KL_BATCH_OFF_MAGIC] = 2;
    sd_put_be16(b + KL_BATCH_OFF_ATTRIBUTES, 1);
    sd_put_be32(b + KL_BATCH_OFF_LAST_OFFSET_DELTA, 9);
    sd_put_be32(b + KL_BATCH_OFF_RECORDS_COUNT, 10);
    memset(b + KL_BATCH_HEADER_SIZE, 0xa5, 16);
    fix_crc(b, sizeof b);
    kl_batch_header_t h;
    ck_assert_int_eq(kl_batch_validate(b, sizeof b, KL_BATCH_FROM_CLIENT, 0, &h, NULL), 0);
    kl_record_iter_t it;
    ck_assert_int_eq(kl_record_iter_init(&it, b, sizeof b), KL_ERR_INVALID_RECORD);
    /* An unknown codec. */
    sd_put_be16(b + KL_BATCH_OFF_ATTRIBUTES, 6);
    fix_crc(b, sizeof b);
    ck_assert_int_eq(kl_batch_validate(b, sizeof b, KL_BATCH_FROM_CLIENT, 0, &h, NULL),
                     KL_ERR_CORRUPT);
}
END_TEST

START_TEST(test_iterate_buffer)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    size_t first = w.len;
    build_sample(&w, 3);
    build_sample(&w, 6);
    kl_batch_iter_t it;
    const uint8_t *batch;
    size_t size;
    kl_batch_iter_init(&it, w.buf, w.len);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(kl_batch_iter_next(&it, &batch, &size), 1);
        ck_assert_ptr_eq(batch, w.buf + (size_t)i * first);
        ck_assert_uint_eq(size, first);
    }
    ck_assert_int_eq(kl_batch_iter_next(&it, &batch, &size), 0);
    /* A torn last batch stops the walk without moving. */
    kl_batch_iter_init(&it, w.buf, w.len - 1);
    ck_assert_int_eq(kl_batch_iter_next(&it, &batch, &size), 1);
    ck_assert_int_eq(kl_batch_iter_next(&it, &batch, &size), 1);
    ck_assert_int_eq(kl_batch_iter_next(&it, &batch, &size), KL_ERR_CORRUPT);
    ck_assert_uint_eq(it.pos, 2 * first);
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_in_place_edits)
{
    sd_writer_t w;
    sd_writer_init(&w);
    build_sample(&w, 0);
    kl_batch_header_t h;
    uint32_t crc = sd_be32(w.buf + KL_BATCH_OFF_CRC);
    kl_batch_set_base_offset(w.buf, 123456789012LL);
    ck_assert_uint_eq(sd_be32(w.buf + KL_BATCH_OFF_CRC), crc);
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL), 0);
    ck_assert_int_eq(h.base_offset, 123456789012LL);

    kl_batch_set_log_append_time(w.buf, w.len, 1700000000000LL);
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &h, NULL), 0);
    ck_assert_int_eq(h.max_timestamp, 1700000000000LL);
    ck_assert_int_eq(h.attributes & KL_ATTR_LOG_APPEND_TIME, KL_ATTR_LOG_APPEND_TIME);
    ck_assert_int_eq(h.base_timestamp, 1000); /* untouched */
    ck_assert_uint_ne(h.crc, crc);
    ck_assert_uint_eq(h.crc, sd_crc32c_sw(0, w.buf + 21, w.len - 21));
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_build_arguments)
{
    sd_writer_t w;
    sd_writer_init(&w);
    kl_batch_params_t params;
    kl_batch_params_init(&params);
    kl_record_t rec = {.key_len = -2, .value_len = 0};
    ck_assert_int_eq(kl_batch_build(&w, NULL, &rec, 1, NULL), KL_ERR_INVALID_RECORD);
    ck_assert_uint_eq(w.len, 0);
    ck_assert_int_eq(kl_batch_build(&w, NULL, NULL, 0, NULL), KL_ERR_INVALID_RECORD);
    params.attributes = 2; /* snappy */
    rec.key_len = -1;
    ck_assert_int_eq(kl_batch_build(&w, &params, &rec, 1, NULL), KL_ERR_INVALID_RECORD);
    kl_header_t bad = {.key = NULL, .key_len = -1, .value = NULL, .value_len = -1};
    rec.headers = &bad;
    rec.header_count = 1;
    ck_assert_int_eq(kl_batch_build(&w, NULL, &rec, 1, NULL), KL_ERR_INVALID_RECORD);
    ck_assert_uint_eq(w.len, 0);

    /* An emptied batch (log compaction keeps it for its offsets). */
    kl_batch_params_init(&params);
    params.keep_offset_deltas = 1;
    params.last_offset_delta = 4;
    params.base_timestamp = 77;
    ck_assert_int_eq(kl_batch_build(&w, &params, NULL, 0, NULL), 0);
    kl_batch_header_t h;
    ck_assert_int_eq(kl_batch_validate(w.buf, w.len, 0, 0, &h, NULL), 0);
    ck_assert_int_eq(h.records_count, 0);
    ck_assert_int_eq(h.last_offset_delta, 4);
    ck_assert_int_eq(h.base_timestamp, 77);
    sd_writer_free(&w);
}
END_TEST

START_TEST(test_build_alloc_failure)
{
    for (long n = 0; n < 8; n++) {
        sd_writer_t w;
        sd_writer_init(&w);
        sd_alloc_fail_after(n);
        int rc = kl_batch_build(
            &w, NULL, &(kl_record_t){.key_len = -1, .value = (const uint8_t *)"v", .value_len = 1},
            1, NULL);
        sd_alloc_fail_after(-1);
        ck_assert(rc == 0 || rc == SD_ERR_NOMEM);
        sd_writer_free(&w);
    }
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("kl_batch");
    TCase *tc = tcase_create("batch");
    tcase_add_test(tc, test_build_roundtrip);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_flipped_bytes);
    tcase_add_test(tc, test_wrong_magic);
    tcase_add_test(tc, test_control_batch);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_inconsistent_counts);
    tcase_add_test(tc, test_malformed_records);
    tcase_add_test(tc, test_compressed_batch);
    tcase_add_test(tc, test_iterate_buffer);
    tcase_add_test(tc, test_in_place_edits);
    tcase_add_test(tc, test_build_arguments);
    tcase_add_test(tc, test_build_alloc_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(batch_suite()); }
