/*
 * test_wire.c - Confluent's wire format: the bytes Java writes (id prefix,
 * [0] as one byte, index paths, the GUID vector of Confluent's JavaScript
 * client), every truncation of valid framings, every bad magic byte, index
 * counts out of range, header values, tombstones and GUID text.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "strand/wire.h"
#include "unit.h"
#include "wire/wire_int.h"

/* 01 + GUID from Confluent's JS client test suite, and its text. */
static const uint8_t guid_frame[] = {0x01, 0x89, 0x79, 0x17, 0x62, 0x23, 0x36, 0x41, 0x86,
                                     0x96, 0x74, 0x29, 0x9b, 0x90, 0xa8, 0x02, 0xe2};
static const char guid_text[] = "89791762-2336-4186-9674-299b90a802e2";

START_TEST(encode_classic_prefix)
{
    uint8_t out[STRAND_WIRE_PREFIX_MAX];
    strand_wire_error_t err = {0};
    int n = strand_wire_encode_id(1, NULL, 0, out, sizeof out, &err);
    ck_assert_int_eq(n, 5);
    ck_assert_mem_eq(out, "\x00\x00\x00\x00\x01", 5);

    n = strand_wire_encode_id(0x12345678, NULL, 0, out, sizeof out, &err);
    ck_assert_int_eq(n, 5);
    ck_assert_mem_eq(out, "\x00\x12\x34\x56\x78", 5);
}
END_TEST

START_TEST(encode_message_indexes_as_java)
{
    uint8_t out[STRAND_WIRE_PREFIX_MAX];
    strand_wire_error_t err = {0};
    /* [0] is the single byte 0, not count 1 + index 0. */
    int32_t first[] = {0};
    int n = strand_wire_encode_id(1, first, 1, out, sizeof out, &err);
    ck_assert_int_eq(n, 6);
    ck_assert_mem_eq(out, "\x00\x00\x00\x00\x01\x00", 6);

    int32_t nested[] = {1, 0};
    n = strand_wire_encode_id(1, nested, 2, out, sizeof out, &err);
    ck_assert_int_eq(n, 8);
    ck_assert_mem_eq(out, "\x00\x00\x00\x00\x01\x04\x02\x00", 8);

    /* 300 zig-zags to 600 = 0xd8 0x04. */
    int32_t big[] = {300};
    n = strand_wire_encode_id(7, big, 1, out, sizeof out, &err);
    ck_assert_int_eq(n, 8);
    ck_assert_mem_eq(out, "\x00\x00\x00\x00\x07\x02\xd8\x04", 8);

    n = strand_wire_encode_guid(guid_frame + 1, first, 1, out, sizeof out, &err);
    ck_assert_int_eq(n, 18);
    ck_assert_mem_eq(out, guid_frame, 17);
    ck_assert_int_eq(out[17], 0);
}
END_TEST

START_TEST(encode_errors)
{
    uint8_t out[STRAND_WIRE_PREFIX_MAX];
    strand_wire_error_t err = {0};
    ck_assert_int_eq(strand_wire_encode_id(1, NULL, 0, out, 4, &err), STRAND_WIRE_ERR_SPACE);
    ck_assert_str_eq(err.message, "the 5-byte Confluent prefix does not fit in a 4-byte buffer");

    int32_t negative[] = {2, -1};
    ck_assert_int_eq(strand_wire_encode_id(1, negative, 2, out, sizeof out, &err),
                     STRAND_WIRE_ERR_INDEXES);
    ck_assert_str_eq(err.message, "message index 2 of 2 is negative (-1)");

    int32_t many[STRAND_WIRE_MAX_INDEXES + 1] = {0};
    ck_assert_int_eq(
        strand_wire_encode_id(1, many, STRAND_WIRE_MAX_INDEXES + 1, out, sizeof out, &err),
        STRAND_WIRE_ERR_INDEXES);
    /* The longest path of the largest indexes fits in STRAND_WIRE_PREFIX_MAX. */
    for (size_t i = 0; i < STRAND_WIRE_MAX_INDEXES; i++)
        many[i] = INT32_MAX;
    int n = strand_wire_encode_guid(guid_frame + 1, many, STRAND_WIRE_MAX_INDEXES, out, sizeof out,
                                    &err);
    ck_assert_int_eq(n, 1 + 16 + 2 + 5 * STRAND_WIRE_MAX_INDEXES);
    ck_assert_int_le(n, STRAND_WIRE_PREFIX_MAX);
    /* A NULL error struct is allowed. */
    ck_assert_int_eq(strand_wire_encode_id(1, NULL, 0, out, 0, NULL), STRAND_WIRE_ERR_SPACE);
}
END_TEST

START_TEST(decode_classic_and_guid)
{
    strand_wire_frame_t f;
    strand_wire_error_t err = {0};
    const uint8_t v[] = {0, 0, 0, 0x01, 0x02, 'a', 'b'};
    ck_assert_int_eq(strand_wire_decode(v, sizeof v, 0, &f, &err), 0);
    ck_assert_int_eq(f.kind, STRAND_WIRE_ID);
    ck_assert_int_eq(f.id, 258);
    ck_assert_uint_eq(f.index_count, 0);
    ck_assert_ptr_eq(f.payload, v + 5);
    ck_assert_uint_eq(f.payload_len, 2);

    /* Negative ids are bytes like any other (Java reads a signed int). */
    const uint8_t neg[] = {0, 0xff, 0xff, 0xff, 0xff};
    ck_assert_int_eq(strand_wire_decode(neg, sizeof neg, 0, &f, &err), 0);
    ck_assert_int_eq(f.id, -1);
    ck_assert_ptr_nonnull(f.payload);
    ck_assert_uint_eq(f.payload_len, 0);

    ck_assert_int_eq(strand_wire_decode(guid_frame, sizeof guid_frame, 0, &f, &err), 0);
    ck_assert_int_eq(f.kind, STRAND_WIRE_GUID);
    ck_assert_mem_eq(f.guid, guid_frame + 1, 16);
    char text[STRAND_WIRE_GUID_TEXT_SIZE];
    strand_wire_guid_format(f.guid, text);
    ck_assert_str_eq(text, guid_text);
}
END_TEST

START_TEST(decode_message_indexes)
{
    strand_wire_frame_t f;
    strand_wire_error_t err = {0};
    /* Count 0 means [0]. */
    const uint8_t zero[] = {0, 0, 0, 0, 1, 0x00, 'p'};
    ck_assert_int_eq(strand_wire_decode(zero, sizeof zero, STRAND_WIRE_PROTOBUF, &f, &err), 0);
    ck_assert_uint_eq(f.index_count, 1);
    ck_assert_int_eq(f.indexes[0], 0);
    ck_assert_uint_eq(f.payload_len, 1);
    ck_assert_int_eq(f.payload[0], 'p');
    /* The long form of [0] that some writers use reads the same. */
    const uint8_t long_zero[] = {0, 0, 0, 0, 1, 0x02, 0x00};
    ck_assert_int_eq(
        strand_wire_decode(long_zero, sizeof long_zero, STRAND_WIRE_PROTOBUF, &f, &err), 0);
    ck_assert_uint_eq(f.index_count, 1);
    ck_assert_int_eq(f.indexes[0], 0);
    ck_assert_uint_eq(f.payload_len, 0);

    const uint8_t nested[] = {0, 0, 0, 0, 1, 0x06, 0x02, 0xd8, 0x04, 0x00, 'x'};
    ck_assert_int_eq(strand_wire_decode(nested, sizeof nested, STRAND_WIRE_PROTOBUF, &f, &err), 0);
    ck_assert_uint_eq(f.index_count, 3);
    ck_assert_int_eq(f.indexes[0], 1);
    ck_assert_int_eq(f.indexes[1], 300);
    ck_assert_int_eq(f.indexes[2], 0);
    ck_assert_uint_eq(f.payload_len, 1);

    /* Without the flag the same bytes are all payload. */
    ck_assert_int_eq(strand_wire_decode(nested, sizeof nested, 0, &f, &err), 0);
    ck_assert_uint_eq(f.index_count, 0);
    ck_assert_uint_eq(f.payload_len, 6);
}
END_TEST

/* Every truncation of a valid framing fails with STRAND_WIRE_ERR_TRUNCATED
 * while inside the framing, and succeeds with a shorter payload after it. */
static void check_truncations(const uint8_t *frame, size_t len, size_t framing, int flags)
{
    for (size_t cut = 0; cut <= len; cut++) {
        strand_wire_frame_t f;
        strand_wire_error_t err = {0};
        /* A fresh copy of exactly cut bytes, so ASan sees any overread. */
        uint8_t *copy = malloc(cut ? cut : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, frame, cut);
        int rc = strand_wire_decode(copy, cut, flags, &f, &err);
        if (cut < framing) {
            ck_assert_msg(rc == STRAND_WIRE_ERR_TRUNCATED, "cut %zu of %zu: rc %d (%s)", cut, len,
                          rc, err.message);
            ck_assert_int_eq(err.code, rc);
            ck_assert_msg(strstr(err.message, "bytes") != NULL, "cut %zu: %s", cut, err.message);
        } else {
            ck_assert_msg(rc == 0, "cut %zu of %zu: %s", cut, len, err.message);
            ck_assert_ptr_eq(f.payload, copy + framing);
            ck_assert_uint_eq(f.payload_len, cut - framing);
        }
        /* The same bytes as a header value: a truncation is the same error,
         * and only the exact framing is accepted. */
        rc = strand_wire_decode_header(copy, cut, flags, &f, &err);
        if (cut < framing)
            ck_assert_int_eq(rc, STRAND_WIRE_ERR_TRUNCATED);
        else if (cut == framing)
            ck_assert_int_eq(rc, 0);
        else
            ck_assert_int_eq(rc, STRAND_WIRE_ERR_INVALID);
        free(copy);
    }
}

START_TEST(every_truncation)
{
    const uint8_t classic[] = {0, 0, 0, 0, 9, 'a', 'b', 'c'};
    check_truncations(classic, sizeof classic, 5, 0);
    const uint8_t indexed[] = {0, 0, 0, 0, 9, 0x06, 0x02, 0xd8, 0x04, 0x00, 'a', 'b'};
    check_truncations(indexed, sizeof indexed, 10, STRAND_WIRE_PROTOBUF);
    uint8_t guid_indexed[sizeof guid_frame + 4];
    memcpy(guid_indexed, guid_frame, sizeof guid_frame);
    memcpy(guid_indexed + sizeof guid_frame, "\x04\x02\x00z", 4);
    check_truncations(guid_indexed, sizeof guid_indexed, 20, STRAND_WIRE_PROTOBUF);
    check_truncations(guid_frame, sizeof guid_frame, 17, 0);
}
END_TEST

START_TEST(truncation_messages)
{
    strand_wire_frame_t f;
    strand_wire_error_t err = {0};
    ck_assert_int_eq(strand_wire_decode("\0\0\0", 3, 0, &f, &err), STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(err.message, "value of 3 bytes is too short for the 5-byte Confluent header");
    ck_assert_int_eq(strand_wire_decode("\x01\x02", 2, 0, &f, &err), STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(err.message,
                     "value of 2 bytes is too short for the 17-byte Confluent GUID header");
    ck_assert_int_eq(strand_wire_decode("", 0, 0, &f, &err), STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(err.message,
                     "value of 0 bytes has no Confluent header (a magic byte and a schema id)");
    ck_assert_int_eq(strand_wire_decode("\0\0\0\0\1", 5, STRAND_WIRE_PROTOBUF, &f, &err),
                     STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(
        err.message,
        "value of 5 bytes ends inside the message-index count after the 5-byte header");
    ck_assert_int_eq(
        strand_wire_decode("\0\0\0\0\1\x06\x02\xd8\x84", 9, STRAND_WIRE_PROTOBUF, &f, &err),
        STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(err.message, "value of 9 bytes ends inside message index 2 of 3");
    ck_assert_int_eq(strand_wire_decode_header("\0\0\0", 3, 0, &f, &err),
                     STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(err.message,
                     "schema-id header value of 3 bytes is too short for the 5-byte Confluent "
                     "header");
}
END_TEST

START_TEST(every_bad_magic)
{
    for (int magic = 2; magic < 256; magic++) {
        uint8_t v[] = {(uint8_t)magic, 0, 0, 0, 1, 'x'};
        strand_wire_frame_t f;
        strand_wire_error_t err = {0};
        ck_assert_int_eq(strand_wire_decode(v, sizeof v, 0, &f, &err), STRAND_WIRE_ERR_MAGIC);
        char expected[80];
        snprintf(expected, sizeof expected, "unknown magic byte 0x%02x (expected 0 or 1)", magic);
        ck_assert_str_eq(err.message, expected);
        /* Even a single byte is judged by its magic first. */
        ck_assert_int_eq(strand_wire_decode(v, 1, STRAND_WIRE_PROTOBUF, &f, &err),
                         STRAND_WIRE_ERR_MAGIC);
        ck_assert_int_eq(strand_wire_decode_header(v, sizeof v, 0, &f, &err),
                         STRAND_WIRE_ERR_MAGIC);
    }
    strand_wire_frame_t f;
    strand_wire_error_t err = {0};
    ck_assert_int_eq(strand_wire_decode("\x07\0\0\0\1", 5, 0, &f, &err), STRAND_WIRE_ERR_MAGIC);
    ck_assert_str_eq(err.message, "unknown magic byte 0x07 (expected 0 or 1)");
}
END_TEST

START_TEST(index_counts_out_of_range)
{
    strand_wire_frame_t f;
    strand_wire_error_t err = {0};
    /* Zig-zag 0x05 = -3. */
    ck_assert_int_eq(strand_wire_decode("\0\0\0\0\1\x05", 6, STRAND_WIRE_PROTOBUF, &f, &err),
                     STRAND_WIRE_ERR_INDEXES);
    ck_assert_str_eq(err.message, "message-index count -3 is negative");
    /* 1000 zig-zagged is 2000 = 0xd0 0x0f. */
    ck_assert_int_eq(strand_wire_decode("\0\0\0\0\1\xd0\x0f", 7, STRAND_WIRE_PROTOBUF, &f, &err),
                     STRAND_WIRE_ERR_INDEXES);
    ck_assert_str_eq(err.message, "message-index count 1000 exceeds the 64 supported");
    /* Ten indexes declared, two bytes left: refused before reading any. */
    ck_assert_int_eq(strand_wire_decode("\0\0\0\0\1\x14\0\0", 8, STRAND_WIRE_PROTOBUF, &f, &err),
                     STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(err.message,
                     "message-index count 10 needs at least 10 bytes but value of 8 bytes has 2 "
                     "left");
    /* A varint of six bytes. */
    ck_assert_int_eq(strand_wire_decode("\0\0\0\0\1\xff\xff\xff\xff\xff\x01", 11,
                                        STRAND_WIRE_PROTOBUF, &f, &err),
                     STRAND_WIRE_ERR_INVALID);
    ck_assert_str_eq(err.message, "the message-index count at offset 5 is not a valid varint");
    /* A negative index (zig-zag 0x01 = -1). */
    ck_assert_int_eq(
        strand_wire_decode("\0\0\0\0\1\x04\x02\x01", 8, STRAND_WIRE_PROTOBUF, &f, &err),
        STRAND_WIRE_ERR_INDEXES);
    ck_assert_str_eq(err.message, "message index 2 of 2 is negative (-1)");
    ck_assert_int_eq(strand_wire_decode("\0\0\0\0\1\x02\xff\xff\xff\xff\x7f", 11,
                                        STRAND_WIRE_PROTOBUF, &f, &err),
                     STRAND_WIRE_ERR_INVALID);
    ck_assert_str_eq(err.message, "message index 1 of 1 is not a valid varint");
}
END_TEST

START_TEST(headers_and_tombstones)
{
    strand_wire_frame_t f;
    strand_wire_error_t err = {0};
    /* A null value is a tombstone, with or without a header. */
    ck_assert_int_eq(strand_wire_decode(NULL, 0, 0, &f, &err), 0);
    ck_assert_int_eq(f.kind, STRAND_WIRE_NONE);
    ck_assert_ptr_null(f.payload);
    ck_assert_int_eq(strand_wire_decode_record(NULL, 0, guid_frame, 17, 0, &f, &err), 0);
    ck_assert_int_eq(f.kind, STRAND_WIRE_NONE);
    ck_assert_ptr_null(f.payload);

    /* With the header, the value is unframed: all of it is payload. */
    const char payload[] = "\x00\x00\x00\x00\x05rest";
    ck_assert_int_eq(strand_wire_decode_record(payload, 9, guid_frame, 17, 0, &f, &err), 0);
    ck_assert_int_eq(f.kind, STRAND_WIRE_GUID);
    ck_assert_mem_eq(f.guid, guid_frame + 1, 16);
    ck_assert_ptr_eq(f.payload, (const uint8_t *)payload);
    ck_assert_uint_eq(f.payload_len, 9);
    /* An empty value with a header is an empty payload, not a tombstone. */
    ck_assert_int_eq(strand_wire_decode_record("", 0, "\0\0\0\0\x2a", 5, 0, &f, &err), 0);
    ck_assert_int_eq(f.kind, STRAND_WIRE_ID);
    ck_assert_int_eq(f.id, 42);
    ck_assert_ptr_nonnull(f.payload);
    ck_assert_uint_eq(f.payload_len, 0);
    /* Without it, the value's own prefix. */
    ck_assert_int_eq(strand_wire_decode_record(payload, 9, NULL, 0, 0, &f, &err), 0);
    ck_assert_int_eq(f.kind, STRAND_WIRE_ID);
    ck_assert_int_eq(f.id, 5);
    ck_assert_uint_eq(f.payload_len, 4);
    /* Protobuf indexes travel in the header. */
    const uint8_t header[] = {0, 0, 0, 0, 3, 0x04, 0x02, 0x00};
    ck_assert_int_eq(
        strand_wire_decode_record("pb", 2, header, sizeof header, STRAND_WIRE_PROTOBUF, &f, &err),
        0);
    ck_assert_int_eq(f.id, 3);
    ck_assert_uint_eq(f.index_count, 2);
    ck_assert_int_eq(f.indexes[0], 1);
    ck_assert_uint_eq(f.payload_len, 2);
    /* A header with bytes after the id is refused, naming them. */
    ck_assert_int_eq(strand_wire_decode_record("pb", 2, header, sizeof header, 0, &f, &err),
                     STRAND_WIRE_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "schema-id header value of 8 bytes has 3 bytes after the schema id");
    ck_assert_int_eq(strand_wire_decode_header(NULL, 0, 0, &f, &err), STRAND_WIRE_ERR_TRUNCATED);
    ck_assert_str_eq(STRAND_WIRE_VALUE_SCHEMA_ID_HEADER, "__value_schema_id");
    ck_assert_str_eq(STRAND_WIRE_KEY_SCHEMA_ID_HEADER, "__key_schema_id");
}
END_TEST

START_TEST(round_trips)
{
    int32_t paths[][3] = {{0, 0, 0}, {1, 0, 0}, {5, 2, 9}, {0, 63, 1000000}};
    size_t lengths[] = {1, 2, 3, 3};
    for (size_t p = 0; p < 4; p++) {
        for (int guid = 0; guid < 2; guid++) {
            uint8_t buf[STRAND_WIRE_PREFIX_MAX + 3];
            strand_wire_error_t err = {0};
            int n = guid ? strand_wire_encode_guid(guid_frame + 1, paths[p], lengths[p], buf,
                                                   STRAND_WIRE_PREFIX_MAX, &err)
                         : strand_wire_encode_id(INT32_MAX, paths[p], lengths[p], buf,
                                                 STRAND_WIRE_PREFIX_MAX, &err);
            ck_assert_int_gt(n, 0);
            memcpy(buf + n, "abc", 3);
            strand_wire_frame_t f;
            ck_assert_int_eq(strand_wire_decode(buf, (size_t)n + 3, STRAND_WIRE_PROTOBUF, &f, &err),
                             0);
            ck_assert_int_eq(f.kind, guid ? STRAND_WIRE_GUID : STRAND_WIRE_ID);
            if (!guid)
                ck_assert_int_eq(f.id, INT32_MAX);
            ck_assert_uint_eq(f.index_count, lengths[p]);
            for (size_t i = 0; i < lengths[p]; i++)
                ck_assert_int_eq(f.indexes[i], paths[p][i]);
            ck_assert_uint_eq(f.payload_len, 3);
            ck_assert_mem_eq(f.payload, "abc", 3);
        }
    }
}
END_TEST

START_TEST(internal_writer)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_err_t err = {0};
    sd_write_bytes(&w, "k", 1);
    int32_t first[] = {0};
    ck_assert_int_eq(wire__write_id(&w, 1, first, 1, &err), 0);
    ck_assert_int_eq(wire__write_guid(&w, guid_frame + 1, NULL, 0, &err), 0);
    ck_assert_uint_eq(w.len, 1 + 6 + 17);
    ck_assert_mem_eq(w.buf + 1, "\x00\x00\x00\x00\x01\x00", 6);
    ck_assert_mem_eq(w.buf + 7, guid_frame, 17);
    int32_t bad[] = {-4};
    ck_assert_int_eq(wire__write_id(&w, 1, bad, 1, &err), STRAND_WIRE_ERR_INDEXES);
    ck_assert_uint_eq(w.len, 24); /* nothing written on error */
    sd_writer_free(&w);
}
END_TEST

START_TEST(guid_text_forms)
{
    uint8_t guid[16];
    strand_wire_error_t err = {0};
    ck_assert_int_eq(strand_wire_guid_parse(guid_text, strlen(guid_text), guid, &err), 0);
    ck_assert_mem_eq(guid, guid_frame + 1, 16);
    const char *upper = "89791762-2336-4186-9674-299B90A802E2";
    ck_assert_int_eq(strand_wire_guid_parse(upper, strlen(upper), guid, &err), 0);
    ck_assert_mem_eq(guid, guid_frame + 1, 16);
    char text[STRAND_WIRE_GUID_TEXT_SIZE];
    strand_wire_guid_format(guid, text);
    ck_assert_str_eq(text, guid_text);

    ck_assert_int_eq(strand_wire_guid_parse(guid_text, 35, guid, &err), STRAND_WIRE_ERR_INVALID);
    ck_assert_str_eq(err.message,
                     "GUID text of 35 characters is not the 36-character 8-4-4-4-12 form");
    const char *no_dash = "89791762x2336-4186-9674-299b90a802e2";
    ck_assert_int_eq(strand_wire_guid_parse(no_dash, 36, guid, &err), STRAND_WIRE_ERR_INVALID);
    ck_assert_str_eq(err.message, "GUID text has 'x' at offset 8 where a '-' belongs");
    const char *bad_hex = "89791762-2336-4186-9674-299b90a802g2";
    ck_assert_int_eq(strand_wire_guid_parse(bad_hex, 36, guid, &err), STRAND_WIRE_ERR_INVALID);
    ck_assert_str_eq(err.message, "GUID text has a non-hex character 0x67 at offset 34");
    ck_assert_int_eq(strand_wire_guid_parse(NULL, 0, guid, NULL), STRAND_WIRE_ERR_INVALID);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("wire");
    tcase_add_test(tc, encode_classic_prefix);
    tcase_add_test(tc, encode_message_indexes_as_java);
    tcase_add_test(tc, encode_errors);
    tcase_add_test(tc, decode_classic_and_guid);
    tcase_add_test(tc, decode_message_indexes);
    tcase_add_test(tc, every_truncation);
    tcase_add_test(tc, truncation_messages);
    tcase_add_test(tc, every_bad_magic);
    tcase_add_test(tc, index_counts_out_of_range);
    tcase_add_test(tc, headers_and_tombstones);
    tcase_add_test(tc, round_trips);
    tcase_add_test(tc, internal_writer);
    tcase_add_test(tc, guid_text_forms);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
