/*
 * test_bytes.c - the bounds-checked reader and the growable writer: every
 * truncation of a valid encoding fails cleanly, varint edge cases, patching.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/error.h"
#include "unit.h"

/* Writes one of everything; returns the buffer (caller frees). */
static uint8_t *encode_sample(size_t *len)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_write_i8(&w, -5);
    sd_write_i16(&w, -12345);
    sd_write_i32(&w, 0x12345678);
    sd_write_u32(&w, 0xdeadbeef);
    sd_write_i64(&w, INT64_MIN + 7);
    sd_write_f64(&w, 3.25);
    sd_write_uvarint(&w, 300);
    sd_write_varint(&w, -1);
    sd_write_varlong(&w, INT64_MIN);
    sd_write_uvarint64(&w, UINT64_MAX);
    sd_write_bytes(&w, "abc", 3);
    ck_assert_int_eq(w.err, 0);
    return sd_writer_steal(&w, len);
}

/* Decodes the sample; returns 0 when every read succeeded. */
static int decode_sample(const uint8_t *buf, size_t len)
{
    sd_reader_t r;
    sd_reader_init(&r, buf, len);
    int8_t i8;
    int16_t i16;
    int32_t i32, v32;
    uint32_t u32, uv;
    int64_t i64, vl;
    uint64_t u64;
    double d;
    const uint8_t *bytes;
    sd_read_i8(&r, &i8);
    sd_read_i16(&r, &i16);
    sd_read_i32(&r, &i32);
    sd_read_u32(&r, &u32);
    sd_read_i64(&r, &i64);
    sd_read_f64(&r, &d);
    sd_read_uvarint(&r, &uv);
    sd_read_varint(&r, &v32);
    sd_read_varlong(&r, &vl);
    sd_read_uvarint64(&r, &u64);
    sd_read_bytes(&r, 3, &bytes);
    if (r.err)
        return r.err;
    ck_assert_int_eq(i8, -5);
    ck_assert_int_eq(i16, -12345);
    ck_assert_int_eq(i32, 0x12345678);
    ck_assert_uint_eq(u32, 0xdeadbeef);
    ck_assert(i64 == INT64_MIN + 7);
    ck_assert(d == 3.25);
    ck_assert_uint_eq(uv, 300);
    ck_assert_int_eq(v32, -1);
    ck_assert(vl == INT64_MIN);
    ck_assert(u64 == UINT64_MAX);
    ck_assert_int_eq(memcmp(bytes, "abc", 3), 0);
    ck_assert_uint_eq(sd_reader_left(&r), 0);
    return 0;
}

START_TEST(round_trip)
{
    size_t len;
    uint8_t *buf = encode_sample(&len);
    ck_assert_int_eq(decode_sample(buf, len), 0);
    sd_free(buf);
}
END_TEST

START_TEST(every_truncation_fails)
{
    size_t len;
    uint8_t *buf = encode_sample(&len);
    for (size_t cut = 0; cut < len; cut++) {
        /* A fresh heap copy of exactly `cut` bytes, so ASan sees any over-read. */
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        ck_assert_msg(decode_sample(copy, cut) == SD_ERR_TRUNCATED, "cut at %zu", cut);
        free(copy);
    }
    sd_free(buf);
}
END_TEST

START_TEST(varint_known_encodings)
{
    /* Protobuf's examples: 1 -> 01, 300 -> ac 02; zig-zag -1 -> 01, 1 -> 02. */
    sd_writer_t w;
    sd_writer_init(&w);
    sd_write_uvarint(&w, 1);
    sd_write_uvarint(&w, 300);
    sd_write_varint(&w, -1);
    sd_write_varint(&w, 1);
    sd_write_varint(&w, INT32_MIN);
    const uint8_t expect[] = {0x01, 0xac, 0x02, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f};
    ck_assert_uint_eq(w.len, sizeof expect);
    ck_assert_int_eq(memcmp(w.buf, expect, sizeof expect), 0);
    sd_writer_free(&w);
}
END_TEST

START_TEST(varint_overlong_is_invalid)
{
    /* Six continuation bytes: too long for 32 bits. */
    const uint8_t too_long[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    sd_reader_t r;
    uint32_t v;
    sd_reader_init(&r, too_long, sizeof too_long);
    ck_assert_int_eq(sd_read_uvarint(&r, &v), -1);
    ck_assert_int_eq(r.err, SD_ERR_INVALID);
    /* Fifth byte may only carry 4 bits. */
    const uint8_t overflow[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    sd_reader_init(&r, overflow, sizeof overflow);
    ck_assert_int_eq(sd_read_uvarint(&r, &v), -1);
    /* Eleven bytes for 64 bits. */
    const uint8_t long64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    uint64_t v64;
    sd_reader_init(&r, long64, sizeof long64);
    ck_assert_int_eq(sd_read_uvarint64(&r, &v64), -1);
}
END_TEST

START_TEST(varint_all_widths_round_trip)
{
    int64_t samples[] = {0,         1,         -1,        63,          -64,
                         64,        8191,      -8192,     INT32_MAX,   INT32_MIN,
                         INT64_MAX, INT64_MIN, 1LL << 35, -(1LL << 49)};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        sd_writer_t w;
        sd_writer_init(&w);
        sd_write_varlong(&w, samples[i]);
        sd_reader_t r;
        sd_reader_init(&r, w.buf, w.len);
        int64_t back;
        ck_assert_int_eq(sd_read_varlong(&r, &back), 0);
        ck_assert(back == samples[i]);
        ck_assert_uint_eq(sd_reader_left(&r), 0);
        sd_writer_free(&w);
    }
}
END_TEST

START_TEST(sub_reader_is_narrowed)
{
    const uint8_t buf[] = {0, 0, 0, 1, 0, 0, 0, 2};
    sd_reader_t r, sub;
    sd_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(sd_reader_sub(&r, 4, &sub), 0);
    int32_t v;
    ck_assert_int_eq(sd_read_i32(&sub, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(sd_read_i32(&sub, &v), -1); /* cannot read into the parent's bytes */
    ck_assert_int_eq(sd_read_i32(&r, &v), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(sd_reader_sub(&r, 1, &sub), -1);
}
END_TEST

START_TEST(errors_are_sticky)
{
    const uint8_t buf[] = {1, 2, 3};
    sd_reader_t r;
    sd_reader_init(&r, buf, sizeof buf);
    int32_t v;
    uint8_t b;
    ck_assert_int_eq(sd_read_i32(&r, &v), -1);
    ck_assert_int_eq(sd_read_u8(&r, &b), -1); /* would fit, but the reader has failed */
}
END_TEST

START_TEST(writer_patch_and_growth)
{
    sd_writer_t w;
    sd_writer_init(&w);
    size_t at = sd_writer_placeholder_i32(&w);
    for (int i = 0; i < 100000; i++)
        sd_write_u8(&w, (uint8_t)i);
    sd_writer_patch_i32(&w, at, (int32_t)(w.len - 4));
    ck_assert_int_eq(w.err, 0);
    ck_assert_uint_eq(sd_be32(w.buf), 100000);
    ck_assert_uint_eq(w.buf[4 + 99999], (uint8_t)99999);
    sd_writer_free(&w);
}
END_TEST

START_TEST(writer_allocation_failure_is_sticky)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_alloc_fail_after(0);
    sd_write_i32(&w, 1);
    sd_alloc_fail_after(-1);
    ck_assert_int_eq(w.err, SD_ERR_NOMEM);
    sd_write_i32(&w, 2); /* ignored after the failure */
    ck_assert_uint_eq(w.len, 0);
    sd_writer_free(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bytes");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, every_truncation_fails);
    tcase_add_test(tc, varint_known_encodings);
    tcase_add_test(tc, varint_overlong_is_invalid);
    tcase_add_test(tc, varint_all_widths_round_trip);
    tcase_add_test(tc, sub_reader_is_narrowed);
    tcase_add_test(tc, errors_are_sticky);
    tcase_add_test(tc, writer_patch_and_growth);
    tcase_add_test(tc, writer_allocation_failure_is_sticky);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
