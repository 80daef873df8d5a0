/*
 * test_avro_value.c - Avro values (strand/avro_value.h): the binary encoding
 * against the Avro specification's examples and against avro-c in both
 * directions, JSON validation with messages naming the path, top-level raw
 * bytes, projection by the resolution rules (defaults, enums by symbol,
 * promotions, unions, aliases, skipped fields), refused pairs, bounds-checked
 * decoding of every truncation and of corrupted bytes, avro-c values through
 * our writer and decoder byte for byte, allocation failures (ours and
 * avro-c's).
 */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_model.h"
#include "base/alloc.h"
#include "strand/avro_value.h"
#include "unit.h"

static strand_avro_codec_t *codec_of(const char *schema_json)
{
    strand_avro_schema_t *schema = NULL;
    strand_avro_error_t err = {0};
    int rc = strand_avro_schema_parse(schema_json, strlen(schema_json), &schema, &err);
    ck_assert_msg(rc == 0, "schema: %s: %s", schema_json, err.message);
    strand_avro_codec_t *codec = NULL;
    rc = strand_avro_codec_new(schema, &codec, &err);
    ck_assert_msg(rc == 0, "codec: %s", err.message);
    strand_avro_schema_free(schema);
    return codec;
}

static json_t *json_of(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, jerr.text);
    return j;
}

/* Encodes JSON text; returns the bytes (caller frees with strand_avro_free). */
static uint8_t *encode_ok(const strand_avro_codec_t *c, const char *text, unsigned flags,
                          size_t *len)
{
    uint8_t *out = NULL;
    strand_avro_error_t err = {0};
    int rc = strand_avro_encode_json_text(c, text, strlen(text), flags, &out, len, &err);
    ck_assert_msg(rc == 0, "encode %s: %s", text, err.message);
    ck_assert_ptr_nonnull(out);
    return out;
}

static void expect_bytes(const char *schema, const char *value, const char *hex)
{
    strand_avro_codec_t *c = codec_of(schema);
    size_t len;
    uint8_t *out = encode_ok(c, value, 0, &len);
    char got[512] = "";
    for (size_t i = 0; i < len && i < 250; i++)
        sprintf(got + 2 * i, "%02x", out[i]);
    ck_assert_msg(strcmp(got, hex) == 0, "%s as %s: %s, expected %s", value, schema, got, hex);
    /* and back */
    char *text = NULL;
    strand_avro_error_t err = {0};
    ck_assert_msg(strand_avro_decode_json_text(c, out, len, 0, &text, NULL, &err) == 0, "%s",
                  err.message);
    json_t *a = json_of(text), *b = json_of(value);
    ck_assert_msg(json_equal(a, b), "round trip of %s gave %s", value, text);
    json_decref(a);
    json_decref(b);
    strand_avro_free(text);
    strand_avro_free(out);
    strand_avro_codec_free(c);
}

static void expect_invalid(const char *schema, const char *value, const char *message)
{
    strand_avro_codec_t *c = codec_of(schema);
    json_t *j = json_of(value);
    strand_avro_error_t err = {0};
    int rc = strand_avro_validate_json(c, j, &err);
    ck_assert_msg(rc == STRAND_AVRO_ERR_VALUE, "%s valid as %s (rc %d)", value, schema, rc);
    ck_assert_msg(strstr(err.message, message) != NULL, "message \"%s\" lacks \"%s\"", err.message,
                  message);
    uint8_t *out = (uint8_t *)1;
    size_t len;
    ck_assert_int_eq(strand_avro_encode_json(c, j, 0, &out, &len, NULL), STRAND_AVRO_ERR_VALUE);
    ck_assert_ptr_null(out);
    json_decref(j);
    strand_avro_codec_free(c);
}

/* ---- encoding ------------------------------------------------------------ */

START_TEST(test_spec_examples)
{
    /* The specification's "Binary Encoding" examples. */
    expect_bytes("\"int\"", "0", "00");
    expect_bytes("\"int\"", "-1", "01");
    expect_bytes("\"int\"", "1", "02");
    expect_bytes("\"int\"", "-2", "03");
    expect_bytes("\"int\"", "2", "04");
    expect_bytes("\"int\"", "-64", "7f");
    expect_bytes("\"long\"", "64", "8001");
    expect_bytes("\"int\"", "2147483647", "feffffff0f");
    expect_bytes("\"int\"", "-2147483648", "ffffffff0f");
    expect_bytes("\"long\"", "-9223372036854775808", "ffffffffffffffffff01");
    expect_bytes("\"string\"", "\"foo\"", "06666f6f");
    expect_bytes("\"null\"", "null", "");
    expect_bytes("\"boolean\"", "true", "01");
    expect_bytes("\"float\"", "1.5", "0000c03f");
    expect_bytes("\"double\"", "-2.0", "00000000000000c0");
    expect_bytes("\"bytes\"", "\"\\u0000\\u00ff\"", "0400ff");
    expect_bytes("{\"type\":\"array\",\"items\":\"long\"}", "[3, 27]", "04063600");
    expect_bytes("{\"type\":\"map\",\"values\":\"int\"}", "{\"a\": 1}", "0202610200");
    expect_bytes("[\"null\",\"string\"]", "null", "00");
    expect_bytes("[\"null\",\"string\"]", "{\"string\": \"a\"}", "020261");
    expect_bytes("{\"type\":\"record\",\"name\":\"test\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "\"long\"},{\"name\":\"b\",\"type\":\"string\"}]}",
                 "{\"a\": 27, \"b\": \"foo\"}", "3606666f6f");
    expect_bytes("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}", "\"B\"", "02");
    expect_bytes("{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}", "\"\\u0001\\u0080\"", "0180");
    expect_bytes("{\"type\":\"int\",\"logicalType\":\"date\"}", "19000", "f0a802");
    expect_bytes("\"double\"", "\"NaN\"", "000000000000f87f");
    expect_bytes("\"float\"", "\"-Infinity\"", "000080ff");
    expect_bytes("[\"null\",{\"type\":\"record\",\"name\":\"ns.R\",\"fields\":[]}]",
                 "{\"ns.R\": {}}", "02");
}
END_TEST

static const char *address_schema =
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"age\",\"type\":[\"null\",\"int\"],\"default\":null},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"},\"default\":[]},"
    "{\"name\":\"address\",\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":["
    "{\"name\":\"zip\",\"type\":\"int\"},"
    "{\"name\":\"props\",\"type\":{\"type\":\"map\",\"values\":\"long\"}}]}},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"A\",\"B\"]},"
    "\"default\":\"A\"},"
    "{\"name\":\"id\",\"type\":{\"type\":\"fixed\",\"name\":\"Id\",\"size\":4}}]}";

static void expect_text(const char *schema, const char *value, const char *text)
{
    strand_avro_codec_t *c = codec_of(schema);
    size_t len;
    uint8_t *bytes = encode_ok(c, value, 0, &len);
    char *out = NULL;
    size_t out_len = 0;
    ck_assert_int_eq(strand_avro_decode_json_text(c, bytes, len, 0, &out, &out_len, NULL), 0);
    ck_assert_str_eq(out, text);
    ck_assert_uint_eq(out_len, strlen(text));
    strand_avro_free(out);
    strand_avro_free(bytes);
    strand_avro_codec_free(c);
}

START_TEST(test_json_text)
{
    /* As Java's JSON encoder writes them: Float/Double.toString, Jackson's
     * escapes, UTF-8 kept. */
    expect_text("\"float\"", "0.1", "0.1");
    expect_text("\"float\"", "16777216", "1.6777216E7");
    expect_text("\"double\"", "1", "1.0");
    expect_text("\"double\"", "1e10", "1.0E10");
    expect_text("\"double\"", "0.001", "0.001");
    expect_text("\"double\"", "\"-Infinity\"", "\"-Infinity\"");
    expect_text("{\"type\":\"array\",\"items\":\"float\"}", "[1.5,-0.25]", "[1.5,-0.25]");
    expect_text("\"string\"", "\"a\\\"\\n\\u00e9\"", "\"a\\\"\\n\u00e9\"");
    expect_text("\"bytes\"", "\"\\u0000\\u00ff\"", "\"\\u0000\u00ff\"");
}
END_TEST

START_TEST(test_validation_messages)
{
    const char *s = address_schema;
    expect_invalid(s, "{\"name\":\"x\",\"address\":{\"zip\":\"x\",\"props\":{}},\"id\":\"abcd\"}",
                   ".address.zip: expected int, got string \"x\"");
    expect_invalid(s,
                   "{\"name\":\"x\",\"address\":{\"zip\":1,\"props\":{\"k\":1.5}},\"id\":\"abcd\"}",
                   ".address.props[\"k\"]: expected long, got number 1.5");
    expect_invalid(s,
                   "{\"name\":\"x\",\"tags\":[\"a\",3],\"address\":{\"zip\":1,\"props\":{}},"
                   "\"id\":\"abcd\"}",
                   ".tags[1]: expected string, got integer 3");
    expect_invalid(s, "{\"address\":{\"zip\":1,\"props\":{}},\"id\":\"abcd\"}",
                   ".name: missing field of type string");
    expect_invalid(s,
                   "{\"name\":\"x\",\"address\":{\"zip\":1,\"props\":{}},\"id\":\"abcd\","
                   "\"extra\":1}",
                   "[\"extra\"]: unknown field of record User");
    expect_invalid(
        s, "{\"name\":\"x\",\"age\":3,\"address\":{\"zip\":1,\"props\":{}},\"id\":\"abcd\"}",
        ".age: expected a union value");
    expect_invalid(s,
                   "{\"name\":\"x\",\"age\":{\"long\":3},\"address\":{\"zip\":1,\"props\":{}},"
                   "\"id\":\"abcd\"}",
                   ".age: \"long\" is not a branch of the union");
    expect_invalid(s,
                   "{\"name\":\"x\",\"age\":{\"int\":\"3\"},\"address\":{\"zip\":1,\"props\":{}},"
                   "\"id\":\"abcd\"}",
                   ".age<int>: expected int, got string \"3\"");
    expect_invalid(s,
                   "{\"name\":\"x\",\"kind\":\"C\",\"address\":{\"zip\":1,\"props\":{}},"
                   "\"id\":\"abcd\"}",
                   ".kind: expected a symbol of enum Kind, got string \"C\"");
    expect_invalid(s, "{\"name\":\"x\",\"address\":{\"zip\":1,\"props\":{}},\"id\":\"abc\"}",
                   ".id: expected fixed Id of 4 bytes, got 3");
    expect_invalid("\"int\"", "2147483648", ".: expected int (32 bits), got integer 2147483648");
    expect_invalid("\"bytes\"", "\"\\u0100\"", "character above U+00FF");
    expect_invalid("\"null\"", "0", ".: expected null, got integer 0");
    expect_invalid("\"boolean\"", "\"true\"", "expected boolean");
    expect_invalid("\"double\"", "\"nan\"", "expected double, got string \"nan\"");
    expect_invalid("\"int\"", "1.0", "expected int, got number 1");
    expect_invalid("[\"int\",\"string\"]", "null", "no null branch");

    /* Defaults fill missing fields on input. */
    strand_avro_codec_t *c = codec_of(s);
    size_t len;
    uint8_t *out = encode_ok(
        c, "{\"name\":\"x\",\"address\":{\"zip\":1,\"props\":{}},\"id\":\"abcd\"}", 0, &len);
    char *text = NULL;
    ck_assert_int_eq(strand_avro_decode_json_text(c, out, len, 0, &text, NULL, NULL), 0);
    ck_assert_str_eq(text, "{\"name\":\"x\",\"age\":null,\"tags\":[],\"address\":{\"zip\":1,"
                           "\"props\":{}},\"kind\":\"A\",\"id\":\"abcd\"}");
    strand_avro_free(text);
    strand_avro_free(out);
    strand_avro_codec_free(c);
}
END_TEST

START_TEST(test_raw_bytes)
{
    strand_avro_codec_t *c = codec_of("\"bytes\"");
    ck_assert_int_eq(strand_avro_codec_is_bytes(c), 1);
    size_t len;
    uint8_t *out = encode_ok(c, "\"ab\\u00ff\"", STRAND_AVRO_RAW_BYTES, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(out, "ab\xff", 3);
    json_t *j = NULL;
    ck_assert_int_eq(strand_avro_decode_json(c, out, len, STRAND_AVRO_RAW_BYTES, &j, NULL), 0);
    ck_assert_str_eq(json_string_value(j), "ab\xc3\xbf");
    json_decref(j);
    /* Without the flag those bytes are a length 'a' (97/2 ... ) and fail. */
    strand_avro_error_t err = {0};
    ck_assert_int_eq(strand_avro_decode_json(c, out, len, 0, &j, &err), STRAND_AVRO_ERR_DECODE);
    /* Empty payload: empty bytes. */
    ck_assert_int_eq(strand_avro_decode_json(c, "", 0, STRAND_AVRO_RAW_BYTES, &j, NULL), 0);
    ck_assert_str_eq(json_string_value(j), "");
    json_decref(j);
    avro_value_t v;
    ck_assert_int_eq(strand_avro_decode_value(c, out, len, STRAND_AVRO_RAW_BYTES, &v, NULL), 0);
    const void *p;
    size_t n;
    avro_value_get_bytes(&v, &p, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(p, "ab\xff", 3);
    uint8_t *again;
    size_t again_len;
    ck_assert_int_eq(
        strand_avro_encode_value(c, &v, STRAND_AVRO_RAW_BYTES, &again, &again_len, NULL), 0);
    ck_assert_uint_eq(again_len, 3);
    strand_avro_free(again);
    avro_value_decref(&v);
    strand_avro_free(out);
    strand_avro_codec_free(c);

    /* No effect on other schemas. */
    c = codec_of("\"string\"");
    out = encode_ok(c, "\"ab\"", STRAND_AVRO_RAW_BYTES, &len);
    ck_assert_uint_eq(len, 3);
    strand_avro_free(out);
    strand_avro_codec_free(c);
}
END_TEST

/* ---- avro-c in both directions --------------------------------------------- */

static const char *interop_schema =
    "{\"type\": \"record\", \"name\":\"Interop\", \"namespace\": \"org.apache.avro\","
    "\"fields\": ["
    "{\"name\": \"intField\", \"type\": \"int\"},"
    "{\"name\": \"longField\", \"type\": \"long\"},"
    "{\"name\": \"stringField\", \"type\": \"string\"},"
    "{\"name\": \"boolField\", \"type\": \"boolean\"},"
    "{\"name\": \"floatField\", \"type\": \"float\"},"
    "{\"name\": \"doubleField\", \"type\": \"double\"},"
    "{\"name\": \"bytesField\", \"type\": \"bytes\"},"
    "{\"name\": \"nullField\", \"type\": \"null\"},"
    "{\"name\": \"arrayField\", \"type\": {\"type\": \"array\", \"items\": \"double\"}},"
    "{\"name\": \"mapField\", \"type\": {\"type\": \"map\", \"values\":"
    " {\"type\": \"record\", \"name\": \"Foo\", \"fields\": [{\"name\": \"label\", \"type\": "
    "\"string\"}]}}},"
    "{\"name\": \"unionField\", \"type\": [\"boolean\", \"double\", {\"type\": \"array\", "
    "\"items\": \"bytes\"}]},"
    "{\"name\": \"enumField\", \"type\": {\"type\": \"enum\", \"name\": \"Kind\", \"symbols\": "
    "[\"A\",\"B\",\"C\"]}},"
    "{\"name\": \"fixedField\", \"type\": {\"type\": \"fixed\", \"name\": \"MD5\", \"size\": 16}},"
    "{\"name\": \"recordField\", \"type\": {\"type\": \"record\", \"name\": \"Node\","
    " \"fields\": [{\"name\": \"label\", \"type\": \"string\"},"
    " {\"name\": \"children\", \"type\": {\"type\": \"array\", \"items\": \"Node\"}}]}}]}";

static const char *interop_value =
    "{\"intField\": -12, \"longField\": 1234567890123, \"stringField\": \"h\\u00e9llo\","
    "\"boolField\": true, \"floatField\": 1.25, \"doubleField\": -3.5e100,"
    "\"bytesField\": \"\\u0000\\u0001\\u00fe\", \"nullField\": null,"
    "\"arrayField\": [1.0, 2.5], \"mapField\": {\"k1\": {\"label\": \"one\"}, \"k2\": "
    "{\"label\": \"two\"}},"
    "\"unionField\": {\"array\": [\"ab\", \"\"]}, \"enumField\": \"C\","
    "\"fixedField\": \"0123456789abcdef\","
    "\"recordField\": {\"label\": \"root\", \"children\": [{\"label\": \"leaf\", \"children\": "
    "[]}]}}";

START_TEST(test_avro_c_interop)
{
    strand_avro_codec_t *c = codec_of(interop_schema);
    size_t len;
    uint8_t *ours = encode_ok(c, interop_value, 0, &len);

    /* avro-c reads our bytes, and writes the same bytes back. */
    avro_value_iface_t *cls = strand_avro_codec_avro_c_class(c);
    avro_value_t v;
    ck_assert_int_eq(avro_generic_value_new(cls, &v), 0);
    avro_reader_t reader = avro_reader_memory((const char *)ours, (int64_t)len);
    ck_assert_int_eq(avro_value_read(reader, &v), 0);
    avro_reader_free(reader);
    avro_value_t field;
    int32_t i;
    avro_value_get_by_name(&v, "intField", &field, NULL);
    avro_value_get_int(&field, &i);
    ck_assert_int_eq(i, -12);
    int e;
    avro_value_get_by_name(&v, "enumField", &field, NULL);
    avro_value_get_enum(&field, &e);
    ck_assert_int_eq(e, 2);
    size_t size;
    ck_assert_int_eq(avro_value_sizeof(&v, &size), 0);
    ck_assert_uint_eq(size, len);
    char *theirs = malloc(size);
    avro_writer_t writer = avro_writer_memory(theirs, (int64_t)size);
    ck_assert_int_eq(avro_value_write(writer, &v), 0);
    avro_writer_free(writer);
    ck_assert_mem_eq(theirs, ours, len);

    /* Our walker over avro-c's value gives the same bytes. */
    uint8_t *again;
    size_t again_len;
    strand_avro_error_t err = {0};
    ck_assert_int_eq(strand_avro_validate_value(c, &v, &err), 0);
    ck_assert_int_eq(strand_avro_encode_value(c, &v, 0, &again, &again_len, &err), 0);
    ck_assert_uint_eq(again_len, len);
    ck_assert_mem_eq(again, ours, len);
    strand_avro_free(again);

    /* Our decoder into an avro-c value. */
    avro_value_t mine;
    ck_assert_int_eq(strand_avro_decode_value(c, ours, len, 0, &mine, &err), 0);
    ck_assert(avro_value_equal(&v, &mine));
    avro_value_decref(&mine);

    /* A value built with avro-c alone, written by avro-c, decoded by us. */
    avro_value_t built, sub, branch, item;
    avro_generic_value_new(cls, &built);
    avro_value_get_by_name(&built, "intField", &sub, NULL);
    avro_value_set_int(&sub, 7);
    avro_value_get_by_name(&built, "stringField", &sub, NULL);
    avro_value_set_string(&sub, "s");
    avro_value_get_by_name(&built, "unionField", &sub, NULL);
    avro_value_set_branch(&sub, 1, &branch);
    avro_value_set_double(&branch, 0.5);
    avro_value_get_by_name(&built, "fixedField", &sub, NULL);
    avro_value_set_fixed(&sub, (void *)"0123456789abcdef", 16);
    avro_value_get_by_name(&built, "mapField", &sub, NULL);
    avro_value_add(&sub, "x", &item, NULL, NULL);
    avro_value_get_by_name(&item, "label", &branch, NULL);
    avro_value_set_string(&branch, "lx");
    avro_value_get_by_name(&built, "recordField", &sub, NULL);
    avro_value_get_by_name(&sub, "label", &branch, NULL);
    avro_value_set_string(&branch, "r");
    /* avro-c cannot write a bytes value never set (EINVAL); ours can. */
    uint8_t *unset_ok;
    size_t unset_len;
    ck_assert_int_eq(strand_avro_encode_value(c, &built, 0, &unset_ok, &unset_len, NULL), 0);
    strand_avro_free(unset_ok);
    avro_value_get_by_name(&built, "bytesField", &sub, NULL);
    avro_value_set_bytes(&sub, (void *)"\x01", 1);
    ck_assert_int_eq(avro_value_sizeof(&built, &size), 0);
    char *buf = malloc(size);
    writer = avro_writer_memory(buf, (int64_t)size);
    ck_assert_msg(avro_value_write(writer, &built) == 0, "avro-c: %s", avro_strerror());
    avro_writer_free(writer);
    char *text = NULL;
    ck_assert_int_eq(strand_avro_decode_json_text(c, buf, size, 0, &text, NULL, &err), 0);
    ck_assert_msg(strstr(text, "\"intField\":7,") &&
                      strstr(text, "\"unionField\":{\"double\":0.5}") &&
                      strstr(text, "\"mapField\":{\"x\":{\"label\":\"lx\"}}"),
                  "%s", text);
    strand_avro_free(text);
    free(buf);

    /* A value of another schema is refused; an unset union is refused. */
    strand_avro_codec_t *other = codec_of("\"string\"");
    ck_assert_int_eq(strand_avro_validate_value(other, &v, &err), STRAND_AVRO_ERR_VALUE);
    ck_assert_msg(strstr(err.message, "not the codec's schema"), "%s", err.message);
    strand_avro_codec_free(other);
    avro_value_t fresh;
    avro_generic_value_new(cls, &fresh);
    ck_assert_int_eq(strand_avro_validate_value(c, &fresh, &err), STRAND_AVRO_ERR_VALUE);
    ck_assert_msg(strstr(err.message, ".unionField: no branch of the union chosen"), "%s",
                  err.message);
    avro_value_get_by_name(&fresh, "unionField", &sub, NULL);
    avro_value_set_branch(&sub, 0, &branch);
    avro_value_get_by_name(&fresh, "enumField", &sub, NULL);
    avro_value_set_enum(&sub, 3);
    ck_assert_int_eq(strand_avro_validate_value(c, &fresh, &err), STRAND_AVRO_ERR_VALUE);
    ck_assert_msg(strstr(err.message, ".enumField: enum org.apache.avro.Kind index 3 out of range"),
                  "%s", err.message);
    avro_value_decref(&fresh);

    avro_value_decref(&built);
    avro_value_decref(&v);
    free(theirs);
    strand_avro_free(ours);
    strand_avro_codec_free(c);
}
END_TEST

START_TEST(test_weather_records)
{
    /* Lines of Apache Avro's share/test/data/weather.json. */
    static const char *lines[] = {
        "{\"station\":\"011990-99999\",\"time\":-619524000000,\"temp\":0}",
        "{\"station\":\"011990-99999\",\"time\":-619506000000,\"temp\":22}",
        "{\"station\":\"011990-99999\",\"time\":-619484400000,\"temp\":-11}",
        "{\"station\":\"012650-99999\",\"time\":-655531200000,\"temp\":111}",
        "{\"station\":\"012650-99999\",\"time\":-655509600000,\"temp\":78}",
    };
    strand_avro_codec_t *c = codec_of(
        "{\"type\": \"record\", \"name\": \"test.Weather\", \"doc\": \"A weather reading.\","
        "\"fields\": [{\"name\": \"station\", \"type\": \"string\", \"order\": \"ignore\"},"
        "{\"name\": \"time\", \"type\": \"long\"}, {\"name\": \"temp\", \"type\": \"int\"}]}");
    for (size_t k = 0; k < sizeof lines / sizeof *lines; k++) {
        size_t len;
        uint8_t *out = encode_ok(c, lines[k], 0, &len);
        char *text = NULL;
        ck_assert_int_eq(strand_avro_decode_json_text(c, out, len, 0, &text, NULL, NULL), 0);
        ck_assert_str_eq(text, lines[k]);
        strand_avro_free(text);
        strand_avro_free(out);
    }
    strand_avro_codec_free(c);
}
END_TEST

/* ---- random values of Apache Avro's test schemas, through avro-c ---------- */

static unsigned long rng_state = 12345;

static unsigned long rng(void)
{
    rng_state = rng_state * 6364136223846793005ul + 1442695040888963407ul;
    return rng_state >> 33;
}

/* A random value of type n in the JSON encoding; nesting shrinks with
 * depth so that recursive types end. */
static json_t *random_value(const sd_avro_node_t *n, int depth)
{
    n = sd_avro_deref(n);
    switch (n->kind) {
    case SD_AVRO_NULL: return json_null();
    case SD_AVRO_BOOLEAN: return json_boolean(rng() & 1);
    case SD_AVRO_INT: return json_integer((int32_t)(rng() << 1) >> (rng() % 31));
    case SD_AVRO_LONG:
        return json_integer((json_int_t)((rng() << 31) ^ rng()) - (json_int_t)(rng() << 20));
    case SD_AVRO_FLOAT: return json_real((double)(float)((double)(long)rng() / 1024.0));
    case SD_AVRO_DOUBLE: return json_real((double)(long)rng() / 3.0);
    case SD_AVRO_STRING:
    case SD_AVRO_BYTES:
    case SD_AVRO_FIXED: {
        size_t len = n->kind == SD_AVRO_FIXED ? n->u.fixed.size : rng() % 12;
        char buf[64];
        size_t o = 0;
        for (size_t i = 0; i < len && o < sizeof buf - 2; i++) {
            unsigned ch = n->kind == SD_AVRO_STRING ? 0x20 + rng() % 0x5f : rng() % 256;
            if (ch < 0x80)
                buf[o++] = (char)ch;
            else
                buf[o++] = (char)(0xc0 | (ch >> 6)), buf[o++] = (char)(0x80 | (ch & 0x3f));
        }
        return json_stringn(buf, o);
    }
    case SD_AVRO_ENUM: return json_string(n->u.enm.symbols[rng() % n->u.enm.symbol_count]);
    case SD_AVRO_ARRAY:
    case SD_AVRO_MAP: {
        int map = n->kind == SD_AVRO_MAP;
        json_t *out = map ? json_object() : json_array();
        size_t count = depth > 3 ? 0 : rng() % 4;
        for (size_t i = 0; i < count; i++) {
            json_t *item = random_value(map ? n->u.map.values : n->u.array.items, depth + 1);
            if (map) {
                char key[16];
                snprintf(key, sizeof key, "k%zu", i);
                json_object_set_new(out, key, item);
            } else {
                json_array_append_new(out, item);
            }
        }
        return out;
    }
    case SD_AVRO_RECORD: {
        json_t *out = json_object();
        for (size_t i = 0; i < n->u.record.field_count; i++)
            json_object_set_new(out, n->u.record.fields[i].name,
                                random_value(n->u.record.fields[i].type, depth + 1));
        return out;
    }
    case SD_AVRO_UNION: {
        size_t count = n->u.un.branch_count, pick = rng() % count;
        if (depth > 3)
            for (size_t i = 0; i < count; i++)
                if (sd_avro_deref(n->u.un.branches[i])->kind == SD_AVRO_NULL)
                    pick = i;
        const sd_avro_node_t *b = sd_avro_deref(n->u.un.branches[pick]);
        if (b->kind == SD_AVRO_NULL)
            return json_null();
        json_t *out = json_object();
        json_object_set_new(out, b->fullname ? b->fullname : sd_avro_kind_name(b->kind),
                            random_value(b, depth + 1));
        return out;
    }
    default: return json_null();
    }
}

/* An avro-c value v holding the value whose encoding is bytes (len): our
 * writer over v gives avro-c's bytes, for v and for the same value in a
 * class of an equal schema; our decoder gives a value avro-c finds equal
 * and writes as the same bytes; with truncations, every shorter input is
 * refused and leaves *out zeroed. */
static void avro_c_value_round_trip(const strand_avro_codec_t *c, avro_value_iface_t *copy_class,
                                    avro_value_t *v, const uint8_t *bytes, size_t len,
                                    const char *what, int truncations)
{
    strand_avro_error_t err = {0};
    uint8_t *mine;
    size_t mine_len;
    ck_assert_msg(strand_avro_encode_value(c, v, 0, &mine, &mine_len, &err) == 0, "%s: %s", what,
                  err.message);
    ck_assert_msg(mine_len == len && memcmp(mine, bytes, len) == 0,
                  "%s: our writer over an avro-c value wrote other bytes", what);
    strand_avro_free(mine);

    avro_value_t same;
    ck_assert_int_eq(avro_generic_value_new(copy_class, &same), 0);
    ck_assert_int_eq(avro_value_copy(&same, v), 0);
    ck_assert_msg(strand_avro_encode_value(c, &same, 0, &mine, &mine_len, &err) == 0, "%s: %s",
                  what, err.message);
    ck_assert_msg(mine_len == len && memcmp(mine, bytes, len) == 0,
                  "%s: a value of an equal schema wrote other bytes", what);
    strand_avro_free(mine);
    avro_value_decref(&same);

    avro_value_t decoded;
    ck_assert_msg(strand_avro_decode_value(c, bytes, len, 0, &decoded, &err) == 0, "%s: %s", what,
                  err.message);
    ck_assert_msg(avro_value_equal(v, &decoded), "%s: decoded a value avro-c finds different",
                  what);
    char theirs[65536];
    avro_writer_t writer = avro_writer_memory(theirs, sizeof theirs);
    ck_assert_int_eq(avro_value_write(writer, &decoded), 0);
    ck_assert_msg((size_t)avro_writer_tell(writer) == len && memcmp(theirs, bytes, len) == 0,
                  "%s: avro-c wrote our decoded value as other bytes", what);
    avro_writer_free(writer);
    avro_value_decref(&decoded);

    for (size_t cut = 0; truncations && cut < len; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, bytes, cut);
        memset(&decoded, 0xab, sizeof decoded);
        ck_assert_msg(strand_avro_decode_value(c, part, cut, 0, &decoded, &err) ==
                          STRAND_AVRO_ERR_DECODE,
                      "%s: cut at %zu of %zu decoded", what, cut, len);
        ck_assert_msg(strstr(err.message, "offset "), "%s", err.message);
        ck_assert_ptr_null(decoded.iface);
        ck_assert_ptr_null(decoded.self);
        free(part);
    }
}

START_TEST(test_random_values_through_avro_c)
{
    /* Every schema of tests/data/avro/schemas: random values encoded by us
     * are read by avro-c, which writes the same bytes back; we decode those
     * to the same value; avro-c's value goes through our writer and decoder
     * (avro_c_value_round_trip). */
    DIR *dir = opendir("tests/data/avro/schemas");
    ck_assert_ptr_nonnull(dir);
    struct dirent *e;
    int schemas = 0;
    while ((e = readdir(dir))) {
        if (!strstr(e->d_name, ".avsc"))
            continue;
        char path[512];
        snprintf(path, sizeof path, "tests/data/avro/schemas/%s", e->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        char text[16384];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        strand_avro_codec_t *c = codec_of(text);
        const sd_avro_node_t *root = sd_avro_schema_root(strand_avro_codec_schema(c));
        /* Values of a schema equal to the codec's but not its own object. */
        avro_schema_t copy = avro_schema_copy(strand_avro_codec_avro_c_schema(c));
        ck_assert_ptr_nonnull(copy);
        avro_value_iface_t *copy_class = avro_generic_class_from_schema(copy);
        ck_assert_ptr_nonnull(copy_class);
        for (int k = 0; k < 50; k++) {
            json_t *value = random_value(root, 0);
            uint8_t *ours;
            size_t len;
            strand_avro_error_t err = {0};
            ck_assert_msg(strand_avro_encode_json(c, value, 0, &ours, &len, &err) == 0, "%s: %s",
                          e->d_name, err.message);
            avro_value_t v;
            avro_generic_value_new(strand_avro_codec_avro_c_class(c), &v);
            avro_reader_t reader = avro_reader_memory((const char *)ours, (int64_t)len);
            ck_assert_msg(avro_value_read(reader, &v) == 0, "%s: avro-c: %s", e->d_name,
                          avro_strerror());
            avro_reader_free(reader);
            char theirs[65536];
            avro_writer_t writer = avro_writer_memory(theirs, sizeof theirs);
            ck_assert_int_eq(avro_value_write(writer, &v), 0);
            ck_assert_uint_eq((size_t)avro_writer_tell(writer), len);
            avro_writer_free(writer);
            ck_assert_msg(memcmp(theirs, ours, len) == 0, "%s: avro-c wrote other bytes",
                          e->d_name);
            avro_c_value_round_trip(c, copy_class, &v, ours, len, e->d_name, k < 3);
            json_t *back = NULL;
            ck_assert_int_eq(strand_avro_decode_json(c, theirs, len, 0, &back, &err), 0);
            /* Floats come back in their shortest decimal form, so compare
             * encodings. */
            uint8_t *again;
            size_t again_len;
            ck_assert_int_eq(strand_avro_encode_json(c, back, 0, &again, &again_len, &err), 0);
            ck_assert_msg(again_len == len && memcmp(again, ours, len) == 0,
                          "%s: a value changed on the way", e->d_name);
            strand_avro_free(again);
            json_decref(back);
            avro_value_decref(&v);
            strand_avro_free(ours);
            json_decref(value);
        }
        strand_avro_codec_free(c);
        avro_value_iface_decref(copy_class);
        avro_schema_decref(copy);
        schemas++;
    }
    closedir(dir);
    ck_assert_int_ge(schemas, 5);
}
END_TEST

/* ---- projection ------------------------------------------------------------ */

/* Encodes value under writer, projects onto reader, compares the JSON. */
static void expect_projection(const char *writer, const char *reader, const char *value,
                              const char *expected_json)
{
    strand_avro_codec_t *w = codec_of(writer), *r = codec_of(reader);
    strand_avro_resolver_t *res = NULL;
    strand_avro_error_t err = {0};
    ck_assert_msg(strand_avro_resolver_new(w, r, &res, &err) == 0, "resolver: %s", err.message);
    size_t len;
    uint8_t *bytes = encode_ok(w, value, 0, &len);
    char *text = NULL;
    ck_assert_msg(strand_avro_resolver_decode_json_text(res, bytes, len, 0, &text, NULL, &err) == 0,
                  "%s", err.message);
    json_t *a = json_of(text), *b = json_of(expected_json);
    ck_assert_msg(json_equal(a, b), "%s projected gives %s, expected %s", value, text,
                  expected_json);
    json_decref(a);
    json_decref(b);
    strand_avro_free(text);

    /* The same through reader binary and through an avro-c value. */
    uint8_t *rbytes;
    size_t rlen;
    ck_assert_int_eq(strand_avro_resolver_decode_binary(res, bytes, len, 0, &rbytes, &rlen, &err),
                     0);
    uint8_t *expect;
    size_t expect_len;
    expect = encode_ok(r, expected_json, 0, &expect_len);
    ck_assert_uint_eq(rlen, expect_len);
    ck_assert_mem_eq(rbytes, expect, rlen);
    avro_value_t v;
    ck_assert_int_eq(strand_avro_resolver_decode_value(res, bytes, len, 0, &v, &err), 0);
    uint8_t *vbytes;
    size_t vlen;
    ck_assert_int_eq(strand_avro_encode_value(r, &v, 0, &vbytes, &vlen, &err), 0);
    ck_assert_uint_eq(vlen, expect_len);
    ck_assert_mem_eq(vbytes, expect, vlen);
    avro_value_decref(&v);
    strand_avro_free(vbytes);
    strand_avro_free(expect);
    strand_avro_free(rbytes);
    strand_avro_free(bytes);
    strand_avro_resolver_free(res);
    strand_avro_codec_free(w);
    strand_avro_codec_free(r);
}

static void expect_refused(const char *writer, const char *reader, const char *message)
{
    strand_avro_codec_t *w = codec_of(writer), *r = codec_of(reader);
    strand_avro_resolver_t *res = (strand_avro_resolver_t *)1;
    strand_avro_error_t err = {0};
    ck_assert_int_eq(strand_avro_resolver_new(w, r, &res, &err), STRAND_AVRO_ERR_INCOMPATIBLE);
    ck_assert_ptr_null(res);
    ck_assert_msg(strstr(err.message, message), "message \"%s\" lacks \"%s\"", err.message,
                  message);
    strand_avro_codec_free(w);
    strand_avro_codec_free(r);
}

#define REC(fields) "{\"type\":\"record\",\"name\":\"R\",\"fields\":[" fields "]}"

START_TEST(test_projection_defaults)
{
    expect_projection(
        REC("{\"name\":\"a\",\"type\":\"int\"}"),
        REC("{\"name\":\"a\",\"type\":\"int\"},"
            "{\"name\":\"b\",\"type\":\"int\",\"default\":7},"
            "{\"name\":\"c\",\"type\":[\"null\",\"string\"],\"default\":null},"
            "{\"name\":\"d\",\"type\":[\"string\",\"null\"],\"default\":\"x\"},"
            "{\"name\":\"e\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"fields\":["
            "{\"name\":\"f\",\"type\":\"long\",\"default\":3},"
            "{\"name\":\"g\",\"type\":[\"null\",\"int\"]}]},"
            "\"default\":{\"g\":null}},"
            "{\"name\":\"h\",\"type\":\"bytes\",\"default\":\"\\u00ff\"},"
            "{\"name\":\"i\",\"type\":{\"type\":\"map\",\"values\":[\"int\",\"null\"]},"
            "\"default\":{\"k\":1}}"),
        "{\"a\":1}",
        "{\"a\":1,\"b\":7,\"c\":null,\"d\":{\"string\":\"x\"},\"e\":{\"f\":3,\"g\":null},"
        "\"h\":\"\\u00ff\",\"i\":{\"k\":{\"int\":1}}}");
    /* Number defaults read as decoded numbers would. */
    expect_projection(REC("{\"name\":\"a\",\"type\":\"int\"}"),
                      REC("{\"name\":\"a\",\"type\":\"int\"},"
                          "{\"name\":\"f\",\"type\":\"float\",\"default\":1},"
                          "{\"name\":\"g\",\"type\":\"double\",\"default\":2},"
                          "{\"name\":\"h\",\"type\":\"float\",\"default\":0.1}"),
                      "{\"a\":1}", "{\"a\":1,\"f\":1.0,\"g\":2.0,\"h\":0.1}");
    /* Field order follows the reader; writer-only fields are skipped. */
    expect_projection(
        REC("{\"name\":\"x\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"map\","
            "\"values\":[\"null\",\"string\"]}}},"
            "{\"name\":\"b\",\"type\":\"string\"},{\"name\":\"a\",\"type\":\"int\"},"
            "{\"name\":\"y\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}}"),
        REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}"),
        "{\"x\":[{\"k\":{\"string\":\"v\"},\"n\":null}],\"b\":\"s\",\"a\":5,\"y\":\"abc\"}",
        "{\"a\":5,\"b\":\"s\"}");
    /* Reader field aliases and record aliases. */
    expect_projection(REC("{\"name\":\"old\",\"type\":\"int\"}"),
                      "{\"type\":\"record\",\"name\":\"New\",\"aliases\":[\"R\"],\"fields\":["
                      "{\"name\":\"new\",\"aliases\":[\"old\"],\"type\":\"int\"}]}",
                      "{\"old\":4}", "{\"new\":4}");
    expect_refused(REC("{\"name\":\"a\",\"type\":\"int\"}"),
                   REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"}"),
                   ".b: reader field has no default and the writer's record R lacks it");
    expect_refused(
        REC("{\"name\":\"a\",\"type\":\"int\"}"),
        "{\"type\":\"record\",\"name\":\"Q\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}",
        "cannot be read as record Q (names differ)");
}
END_TEST

static const char *enum_w = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}";

START_TEST(test_projection_enums)
{
    /* By symbol, not by index. */
    const char *reordered = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"C\",\"B\",\"A\"]}";
    expect_projection(enum_w, reordered, "\"A\"", "\"A\"");
    expect_projection(enum_w, reordered, "\"C\"", "\"C\"");
    /* A missing symbol takes the reader's default. */
    const char *with_default =
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"U\",\"B\",\"A\"],\"default\":\"U\"}";
    expect_projection(enum_w, with_default, "\"C\"", "\"U\"");
    expect_projection(enum_w, with_default, "\"B\"", "\"B\"");
    expect_refused(enum_w, "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}",
                   "the writer's symbol C is not in the reader's enum E, which has no default");
    expect_refused(enum_w, "{\"type\":\"enum\",\"name\":\"X\",\"symbols\":[\"A\",\"B\",\"C\"]}",
                   "names differ");
}
END_TEST

START_TEST(test_projection_promotions)
{
    expect_projection("\"int\"", "\"long\"", "-5", "-5");
    expect_projection("\"int\"", "\"float\"", "16777217", "16777216.0");
    expect_projection("\"int\"", "\"double\"", "3", "3.0");
    expect_projection("\"long\"", "\"double\"", "-9007199254740993", "-9007199254740992.0");
    expect_projection("\"long\"", "\"float\"", "1", "1.0");
    expect_projection("\"float\"", "\"double\"", "0.5", "0.5");
    expect_projection("\"string\"", "\"bytes\"", "\"\\u00e9\"", "\"\\u00c3\\u00a9\"");
    expect_projection("\"bytes\"", "\"string\"", "\"\\u00c3\\u00a9\"", "\"\\u00e9\"");
    expect_projection("{\"type\":\"array\",\"items\":\"int\"}",
                      "{\"type\":\"array\",\"items\":\"double\"}", "[1,2]", "[1.0,2.0]");
    expect_projection("{\"type\":\"map\",\"values\":\"int\"}",
                      "{\"type\":\"map\",\"values\":\"long\"}", "{\"a\":1}", "{\"a\":1}");
    expect_refused("\"long\"", "\"int\"", ".: the writer's long cannot be read as int");
    expect_refused("\"double\"", "\"float\"", "cannot be read as float");
    expect_refused("{\"type\":\"fixed\",\"name\":\"F\",\"size\":2}",
                   "{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}", "2 bytes in the writer, 3");

    /* Invalid UTF-8 written as bytes cannot become a string. */
    strand_avro_codec_t *w = codec_of("\"bytes\""), *r = codec_of("\"string\"");
    strand_avro_resolver_t *res;
    ck_assert_int_eq(strand_avro_resolver_new(w, r, &res, NULL), 0);
    json_t *j = NULL;
    strand_avro_error_t err = {0};
    ck_assert_int_eq(strand_avro_resolver_decode_json(res, "\x02\xff", 2, 0, &j, &err),
                     STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, "offset 0: string that is not UTF-8"), "%s", err.message);
    strand_avro_resolver_free(res);
    strand_avro_codec_free(w);
    strand_avro_codec_free(r);
}
END_TEST

START_TEST(test_projection_unions)
{
    /* Writer union -> reader union: branches by type, in any order. */
    expect_projection("[\"null\",\"int\",\"string\"]", "[\"string\",\"long\",\"null\"]",
                      "{\"int\":3}", "{\"long\":3}");
    expect_projection("[\"null\",\"int\",\"string\"]", "[\"string\",\"long\",\"null\"]", "null",
                      "null");
    expect_projection("[\"null\",\"int\",\"string\"]", "[\"string\",\"int\",\"null\"]",
                      "{\"string\":\"s\"}", "{\"string\":\"s\"}");
    /* Exact type before a promotion. */
    expect_projection("\"int\"", "[\"double\",\"int\"]", "3", "{\"int\":3}");
    expect_projection("\"int\"", "[\"null\",\"double\"]", "3", "{\"double\":3.0}");
    /* Arrays and maps match by their items. */
    expect_refused("{\"type\":\"map\",\"values\":\"int\"}",
                   "[\"null\",{\"type\":\"map\",\"values\":\"string\"}]",
                   "the writer's map fits no branch of the reader's union");
    expect_projection("{\"type\":\"map\",\"values\":\"int\"}",
                      "[\"null\",{\"type\":\"map\",\"values\":\"double\"}]", "{\"k\":1}",
                      "{\"map\":{\"k\":1.0}}");
    /* Writer union -> reader non-union. */
    expect_projection("[\"int\",\"long\"]", "\"long\"", "{\"int\":3}", "3");
    /* Named branches by name. */
    expect_projection(
        "[\"null\",{\"type\":\"record\",\"name\":\"a.P\",\"fields\":[{\"name\":\"x\",\"type\":"
        "\"int\"}]}]",
        "[\"null\",{\"type\":\"record\",\"name\":\"b.Q\",\"fields\":[]},"
        "{\"type\":\"record\",\"name\":\"a.P\",\"fields\":[{\"name\":\"x\",\"type\":\"long\"}]}]",
        "{\"a.P\":{\"x\":1}}", "{\"a.P\":{\"x\":1}}");
    /* Same simple name in two namespaces: each keeps its own branch. */
    static const char *two_rs =
        "[{\"type\":\"record\",\"name\":\"a.R\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]},"
        "{\"type\":\"record\",\"name\":\"b.R\",\"fields\":[{\"name\":\"y\",\"type\":\"string\"}]}]";
    expect_projection(two_rs, two_rs, "{\"b.R\":{\"y\":\"s\"}}", "{\"b.R\":{\"y\":\"s\"}}");
    expect_projection(two_rs, two_rs, "{\"a.R\":{\"x\":1}}", "{\"a.R\":{\"x\":1}}");
    expect_invalid("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "\"A\\u0000B\"",
                   "expected a symbol of enum E");
    expect_refused("[\"null\",\"int\"]", "\"int\"",
                   "<null>: the writer's null cannot be read as int");
    expect_refused("\"string\"", "[\"null\",\"int\"]",
                   "the writer's string fits no branch of the reader's union");
}
END_TEST

START_TEST(test_projection_recursive)
{
    const char *list =
        "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
        "{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    const char *list2 =
        "{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\",\"type\":\"long\"},"
        "{\"name\":\"w\",\"type\":\"int\",\"default\":0},"
        "{\"name\":\"next\",\"type\":[\"null\",\"L\"]}]}";
    expect_projection(list, list2, "{\"v\":1,\"next\":{\"L\":{\"v\":2,\"next\":null}}}",
                      "{\"v\":1,\"w\":0,\"next\":{\"L\":{\"v\":2,\"w\":0,\"next\":null}}}");
}
END_TEST

/* ---- decoding robustness ---------------------------------------------------- */

START_TEST(test_truncations_and_corruption)
{
    strand_avro_codec_t *c = codec_of(interop_schema);
    strand_avro_resolver_t *res = NULL;
    ck_assert_int_eq(strand_avro_resolver_new(c, c, &res, NULL), 0);
    size_t len;
    uint8_t *full = encode_ok(c, interop_value, 0, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, full, cut);
        json_t *j = NULL;
        strand_avro_error_t err = {0};
        int rc = strand_avro_decode_json(c, part, cut, 0, &j, &err);
        ck_assert_msg(rc == STRAND_AVRO_ERR_DECODE, "cut at %zu decoded", cut);
        ck_assert_msg(strstr(err.message, "offset "), "%s", err.message);
        ck_assert_ptr_null(j);
        avro_value_t v;
        ck_assert_int_eq(strand_avro_decode_value(c, part, cut, 0, &v, NULL),
                         STRAND_AVRO_ERR_DECODE);
        free(part);
    }
    strand_avro_error_t err = {0};
    json_t *j = NULL;
    /* Trailing bytes. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, full, len);
    longer[len] = 0;
    ck_assert_int_eq(strand_avro_decode_json(c, longer, len + 1, 0, &j, &err),
                     STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, "1 bytes left over"), "%s", err.message);
    free(longer);
    /* Every single-byte corruption decodes or fails cleanly. */
    for (size_t k = 0; k < len; k++)
        for (int bit = 0; bit < 8; bit++) {
            full[k] ^= (uint8_t)(1u << bit);
            if (strand_avro_decode_json(c, full, len, 0, &j, NULL) == 0)
                json_decref(j);
            if (strand_avro_resolver_decode_json(res, full, len, 0, &j, NULL) == 0)
                json_decref(j);
            avro_value_t v;
            if (strand_avro_decode_value(c, full, len, 0, &v, NULL) == 0)
                avro_value_decref(&v);
            full[k] ^= (uint8_t)(1u << bit);
        }
    strand_avro_free(full);
    strand_avro_resolver_free(res);
    strand_avro_codec_free(c);

    /* Specific messages. */
    c = codec_of(REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"s\",\"type\":\"string\"}"));
    ck_assert_int_eq(strand_avro_decode_json(c, "\x02\x7f", 2, 0, &j, &err),
                     STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, ".s: offset 1: string of -64 bytes, but 0 bytes are left"),
                  "%s", err.message);
    ck_assert_int_eq(strand_avro_decode_json(c, "\xff\xff\xff\xff\x7f", 5, 0, &j, &err),
                     STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, ".a: offset 0: invalid int"), "%s", err.message);
    strand_avro_codec_free(c);
    c = codec_of("{\"type\":\"array\",\"items\":\"null\"}");
    ck_assert_int_eq(strand_avro_decode_json(c, "\x80\x80\x80\x80\x80\x80\x80\x01", 8, 0, &j, &err),
                     STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, "cannot fit"), "%s", err.message);
    /* A negative block count has a byte size. */
    ck_assert_int_eq(strand_avro_decode_json(c, "\x03\x00\x00", 3, 0, &j, &err), 0);
    ck_assert_uint_eq(json_array_size(j), 2);
    json_decref(j);
    strand_avro_codec_free(c);
    c = codec_of("[\"null\",\"int\"]");
    ck_assert_int_eq(strand_avro_decode_json(c, "\x04", 1, 0, &j, &err), STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, "offset 0: union branch 2 out of range"), "%s", err.message);
    strand_avro_codec_free(c);
    c = codec_of("\"boolean\"");
    ck_assert_int_eq(strand_avro_decode_json(c, "\x02", 1, 0, &j, &err), STRAND_AVRO_ERR_DECODE);
    strand_avro_codec_free(c);
}
END_TEST

START_TEST(test_schema_references)
{
    /* A schema using a type from a referenced schema (Confluent's schema
     * references) compiles and round-trips, avro-c included. */
    static const char *address =
        "{\"type\":\"record\",\"name\":\"Address\",\"namespace\":\"x\",\"fields\":["
        "{\"name\":\"zip\",\"type\":\"int\"}]}";
    static const char *user = "{\"type\":\"record\",\"name\":\"User\",\"fields\":["
                              "{\"name\":\"home\",\"type\":\"x.Address\"},"
                              "{\"name\":\"work\",\"type\":[\"null\",\"x.Address\"]}]}";
    sd_avro_schema_t *ref = NULL, *schema = NULL;
    sd_err_t e = {0};
    ck_assert_int_eq(sd_avro_parse(address, strlen(address), NULL, &ref, &e), 0);
    sd_avro_named_t *named = sd_avro_named_new();
    ck_assert_int_eq(sd_avro_named_add(named, ref, &e), 0);
    ck_assert_msg(sd_avro_parse(user, strlen(user), named, &schema, &e) == 0, "%s", e.msg);
    strand_avro_codec_t *c = NULL;
    strand_avro_error_t err = {0};
    ck_assert_msg(strand_avro_codec_new(schema, &c, &err) == 0, "%s", err.message);
    sd_avro_schema_free(schema);
    sd_avro_named_free(named);
    sd_avro_schema_free(ref);
    static const char *value = "{\"home\":{\"zip\":1},\"work\":{\"x.Address\":{\"zip\":2}}}";
    size_t len;
    uint8_t *bytes = encode_ok(c, value, 0, &len);
    ck_assert_uint_eq(len, 3);
    char *text = NULL;
    ck_assert_int_eq(strand_avro_decode_json_text(c, bytes, len, 0, &text, NULL, &err), 0);
    ck_assert_str_eq(text, value);
    avro_value_t v;
    ck_assert_int_eq(strand_avro_decode_value(c, bytes, len, 0, &v, &err), 0);
    uint8_t *again;
    size_t again_len;
    ck_assert_int_eq(strand_avro_encode_value(c, &v, 0, &again, &again_len, &err), 0);
    ck_assert_uint_eq(again_len, len);
    ck_assert_mem_eq(again, bytes, len);
    avro_value_decref(&v);
    strand_avro_free(again);
    strand_avro_free(text);
    strand_avro_free(bytes);
    strand_avro_codec_free(c);
}
END_TEST

START_TEST(test_strings_and_keys)
{
    strand_avro_codec_t *c = codec_of("{\"type\":\"map\",\"values\":\"string\"}");
    strand_avro_error_t err = {0};
    json_t *j = NULL;
    /* A value that is not UTF-8. */
    ck_assert_int_eq(strand_avro_decode_json(c, "\x02\x02k\x04\xc3\x28\x00", 7, 0, &j, &err),
                     STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, "[\"k\"]: offset 3: string that is not UTF-8"), "%s",
                  err.message);
    avro_value_t v;
    ck_assert_int_eq(strand_avro_decode_value(c, "\x02\x02k\x04\xc3\x28\x00", 7, 0, &v, &err),
                     STRAND_AVRO_ERR_DECODE);
    /* A key holding NUL: fine as JSON, which avro-c cannot hold. */
    static const char with_nul[] = "\x02\x06"
                                   "a\x00"
                                   "b\x02"
                                   "x\x00";
    ck_assert_int_eq(strand_avro_decode_json(c, with_nul, sizeof with_nul - 1, 0, &j, &err), 0);
    char *text = NULL;
    ck_assert_int_eq(
        strand_avro_decode_json_text(c, with_nul, sizeof with_nul - 1, 0, &text, NULL, &err), 0);
    ck_assert_str_eq(text, "{\"a\\u0000b\":\"x\"}");
    strand_avro_free(text);
    uint8_t *again;
    size_t len;
    ck_assert_int_eq(strand_avro_encode_json(c, j, 0, &again, &len, &err), 0);
    ck_assert_uint_eq(len, sizeof with_nul - 1);
    ck_assert_mem_eq(again, with_nul, len);
    strand_avro_free(again);
    json_decref(j);
    ck_assert_int_eq(strand_avro_decode_value(c, with_nul, sizeof with_nul - 1, 0, &v, &err),
                     STRAND_AVRO_ERR_DECODE);
    ck_assert_msg(strstr(err.message, "avro-c cannot represent"), "%s", err.message);
    strand_avro_codec_free(c);

    /* UTF-8 is checked wherever a sequence falls among ASCII (which is
     * scanned eight bytes at a time). */
    strand_avro_codec_t *sc = codec_of("\"string\"");
    for (size_t pos = 0; pos + 2 <= 24; pos++)
        for (int valid = 0; valid < 2; valid++) {
            uint8_t in[25];
            in[0] = 48; /* 24 bytes */
            memset(in + 1, 'a', 24);
            in[1 + pos] = 0xc3;
            in[2 + pos] = valid ? 0xa9 : 0x28;
            json_t *sj = NULL;
            ck_assert_int_eq(strand_avro_decode_json(sc, in, sizeof in, 0, &sj, &err),
                             valid ? 0 : STRAND_AVRO_ERR_DECODE);
            json_decref(sj);
            ck_assert_int_eq(strand_avro_decode_value(sc, in, sizeof in, 0, &v, &err),
                             valid ? 0 : STRAND_AVRO_ERR_DECODE);
            if (valid)
                avro_value_decref(&v);
            avro_value_t sv;
            avro_generic_value_new(strand_avro_codec_avro_c_class(sc), &sv);
            char chars[25];
            memcpy(chars, in + 1, 24);
            chars[24] = '\0';
            avro_value_set_string(&sv, chars);
            ck_assert_int_eq(strand_avro_validate_value(sc, &sv, &err),
                             valid ? 0 : STRAND_AVRO_ERR_VALUE);
            avro_value_decref(&sv);
        }
    strand_avro_codec_free(sc);

    /* Logical types travel as their underlying types. */
    expect_bytes("{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4,\"scale\":2}",
                 "\"\\u0004\\u00d2\"", "0404d2");
    expect_bytes("{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}", "1", "02");
    expect_bytes("{\"type\":\"string\",\"logicalType\":\"uuid\"}",
                 "\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\"",
                 "4836626137623831302d396461642d313164312d383062342d303063303466643433306338");
}
END_TEST

typedef struct shared {
    strand_avro_codec_t *codec;
    strand_avro_resolver_t *resolver;
    const uint8_t *bytes;
    size_t len;
    avro_value_t *copy; /* the value, in a class of an equal schema */
    int failures;
} shared_t;

static void *hammer(void *arg)
{
    shared_t *sh = arg;
    for (int i = 0; i < 300; i++) {
        json_t *j = NULL, *p = NULL;
        uint8_t *out = NULL;
        size_t len = 0;
        avro_value_t v;
        if (strand_avro_decode_json(sh->codec, sh->bytes, sh->len, 0, &j, NULL) ||
            strand_avro_encode_json(sh->codec, j, 0, &out, &len, NULL) || len != sh->len ||
            memcmp(out, sh->bytes, len) ||
            strand_avro_resolver_decode_json(sh->resolver, sh->bytes, sh->len, 0, &p, NULL) ||
            strand_avro_decode_value(sh->codec, sh->bytes, sh->len, 0, &v, NULL))
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
        else
            avro_value_decref(&v);
        json_decref(j);
        json_decref(p);
        strand_avro_free(out);
        if (strand_avro_encode_value(sh->codec, sh->copy, 0, &out, &len, NULL) || len != sh->len ||
            memcmp(out, sh->bytes, len))
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
        strand_avro_free(out);
    }
    return NULL;
}

START_TEST(test_threads)
{
    /* One codec and one resolver shared by several threads. */
    shared_t sh = {.codec = codec_of(interop_schema)};
    ck_assert_int_eq(strand_avro_resolver_new(sh.codec, sh.codec, &sh.resolver, NULL), 0);
    uint8_t *bytes = encode_ok(sh.codec, interop_value, 0, &sh.len);
    sh.bytes = bytes;
    /* The threads race to remember the equal schema. */
    avro_schema_t copy = avro_schema_copy(strand_avro_codec_avro_c_schema(sh.codec));
    avro_value_iface_t *copy_class = avro_generic_class_from_schema(copy);
    avro_value_t copy_value;
    ck_assert_int_eq(avro_generic_value_new(copy_class, &copy_value), 0);
    avro_reader_t reader = avro_reader_memory((const char *)bytes, (int64_t)sh.len);
    ck_assert_int_eq(avro_value_read(reader, &copy_value), 0);
    avro_reader_free(reader);
    sh.copy = &copy_value;
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, hammer, &sh), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    ck_assert_int_eq(sh.failures, 0);
    avro_value_decref(&copy_value);
    avro_value_iface_decref(copy_class);
    avro_schema_decref(copy);
    strand_avro_free(bytes);
    strand_avro_resolver_free(sh.resolver);
    strand_avro_codec_free(sh.codec);
}
END_TEST

/* One pass over every entry point; 1 when everything succeeded. */
static int all_entry_points(void)
{
    static const char *reader_schema =
        REC("{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"d\",\"type\":[\"null\",\"string\"],"
            "\"default\":null},{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"},"
            "\"default\":{\"k\":\"v\"}}");
    static const char *writer_schema =
        REC("{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"x\",\"type\":{\"type\":\"array\","
            "\"items\":\"string\"}}");
    strand_avro_schema_t *schema = NULL, *wschema = NULL, *rschema = NULL;
    strand_avro_codec_t *c = NULL, *w = NULL, *r = NULL;
    strand_avro_resolver_t *res = NULL;
    uint8_t *bytes = NULL, *wbytes = NULL, *rbytes = NULL, *vbytes = NULL;
    size_t len = 0, wlen = 0, rlen = 0, vlen = 0;
    json_t *j = NULL, *p = NULL;
    char *text = NULL;
    avro_value_t v = {0}, pv = {0};
    int ok = 0;
    if (strand_avro_schema_parse(interop_schema, strlen(interop_schema), &schema, NULL) ||
        strand_avro_codec_new(schema, &c, NULL) ||
        strand_avro_encode_json_text(c, interop_value, strlen(interop_value), 0, &bytes, &len,
                                     NULL) ||
        strand_avro_decode_json(c, bytes, len, 0, &j, NULL) ||
        strand_avro_validate_json(c, j, NULL) ||
        strand_avro_decode_json_text(c, bytes, len, 0, &text, NULL, NULL) ||
        strand_avro_decode_value(c, bytes, len, 0, &v, NULL) ||
        strand_avro_encode_value(c, &v, 0, &vbytes, &vlen, NULL))
        goto done;
    if (strand_avro_schema_parse(writer_schema, strlen(writer_schema), &wschema, NULL) ||
        strand_avro_schema_parse(reader_schema, strlen(reader_schema), &rschema, NULL) ||
        strand_avro_codec_new(wschema, &w, NULL) || strand_avro_codec_new(rschema, &r, NULL) ||
        strand_avro_resolver_new(w, r, &res, NULL))
        goto done;
    static const char *wvalue = "{\"a\":1,\"x\":[\"p\",\"q\"]}";
    if (strand_avro_encode_json_text(w, wvalue, strlen(wvalue), 0, &wbytes, &wlen, NULL) ||
        strand_avro_resolver_decode_json(res, wbytes, wlen, 0, &p, NULL) ||
        strand_avro_resolver_decode_binary(res, wbytes, wlen, 0, &rbytes, &rlen, NULL) ||
        strand_avro_resolver_decode_value(res, wbytes, wlen, 0, &pv, NULL))
        goto done;
    ok = 1;
done:
    if (v.iface)
        avro_value_decref(&v);
    if (pv.iface)
        avro_value_decref(&pv);
    json_decref(j);
    json_decref(p);
    strand_avro_free(text);
    strand_avro_free(bytes);
    strand_avro_free(wbytes);
    strand_avro_free(rbytes);
    strand_avro_free(vbytes);
    strand_avro_resolver_free(res);
    strand_avro_codec_free(c);
    strand_avro_codec_free(w);
    strand_avro_codec_free(r);
    strand_avro_schema_free(schema);
    strand_avro_schema_free(wschema);
    strand_avro_schema_free(rschema);
    return ok;
}

START_TEST(test_avro_c_values_of_equal_schemas)
{
    /* A codec remembers a few avro-c schemas found equal to its own; values
     * of more of them than it remembers, and of its own, all encode alike,
     * and a value of another schema is still refused afterwards. */
    strand_avro_codec_t *c = codec_of(interop_schema);
    size_t len;
    uint8_t *bytes = encode_ok(c, interop_value, 0, &len);
    avro_schema_t copies[7];
    avro_value_iface_t *classes[7];
    avro_value_t values[7];
    for (int i = 0; i < 7; i++) {
        copies[i] = avro_schema_copy(strand_avro_codec_avro_c_schema(c));
        classes[i] = avro_generic_class_from_schema(copies[i]);
        ck_assert_int_eq(avro_generic_value_new(classes[i], &values[i]), 0);
        avro_reader_t reader = avro_reader_memory((const char *)bytes, (int64_t)len);
        ck_assert_int_eq(avro_value_read(reader, &values[i]), 0);
        avro_reader_free(reader);
    }
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 7; i++) {
            uint8_t *out;
            size_t out_len;
            strand_avro_error_t err = {0};
            ck_assert_msg(strand_avro_encode_value(c, &values[i], 0, &out, &out_len, &err) == 0,
                          "%s", err.message);
            ck_assert_uint_eq(out_len, len);
            ck_assert_mem_eq(out, bytes, len);
            strand_avro_free(out);
        }
    /* The codec holds its own references: the application may drop its. */
    for (int i = 0; i < 7; i++) {
        avro_value_decref(&values[i]);
        avro_value_iface_decref(classes[i]);
        avro_schema_decref(copies[i]);
    }
    avro_schema_t other = NULL;
    static const char other_text[] =
        "{\"type\":\"record\",\"name\":\"Interop\",\"namespace\":\"org.apache.avro\","
        "\"fields\":[{\"name\":\"intField\",\"type\":\"long\"}]}";
    ck_assert_int_eq(avro_schema_from_json_length(other_text, strlen(other_text), &other), 0);
    avro_value_iface_t *other_class = avro_generic_class_from_schema(other);
    avro_value_t v;
    ck_assert_int_eq(avro_generic_value_new(other_class, &v), 0);
    strand_avro_error_t err = {0};
    ck_assert_int_eq(strand_avro_validate_value(c, &v, &err), STRAND_AVRO_ERR_VALUE);
    ck_assert_msg(strstr(err.message, "not the codec's schema"), "%s", err.message);
    avro_value_decref(&v);
    avro_value_iface_decref(other_class);
    avro_schema_decref(other);
    strand_avro_free(bytes);
    strand_avro_codec_free(c);
}
END_TEST

START_TEST(test_avro_c_map_keys)
{
    /* Keys go to avro-c as C strings: a long one (copied through our
     * allocator), a repeated one (into the value already there, as
     * avro_value_read does), one holding NUL (refused). */
    strand_avro_codec_t *c = codec_of("{\"type\":\"map\",\"values\":{\"type\":\"array\","
                                      "\"items\":\"int\"}}");
    uint8_t in[512];
    size_t n = 0;
    char key[300];
    memset(key, 'k', sizeof key);
    in[n++] = 0x06; /* 3 entries */
    in[n++] = 0xd8; /* key of 300 bytes: zig-zag 600 */
    in[n++] = 0x04;
    memcpy(in + n, key, sizeof key);
    n += sizeof key;
    in[n++] = 0x02, in[n++] = 0x02, in[n++] = 0x00; /* [1] */
    in[n++] = 0x02, in[n++] = 'a';
    in[n++] = 0x02, in[n++] = 0x04, in[n++] = 0x00; /* [2] */
    in[n++] = 0x02, in[n++] = 'a';
    in[n++] = 0x02, in[n++] = 0x06, in[n++] = 0x00; /* [3] */
    in[n++] = 0x00;
    avro_value_t v, item, elem;
    strand_avro_error_t err = {0};
    ck_assert_msg(strand_avro_decode_value(c, in, n, 0, &v, &err) == 0, "%s", err.message);
    avro_value_t expected;
    avro_generic_value_new(strand_avro_codec_avro_c_class(c), &expected);
    avro_reader_t reader = avro_reader_memory((const char *)in, (int64_t)n);
    ck_assert_int_eq(avro_value_read(reader, &expected), 0);
    avro_reader_free(reader);
    ck_assert(avro_value_equal(&v, &expected));
    size_t size;
    avro_value_get_size(&v, &size);
    ck_assert_uint_eq(size, 2);
    ck_assert_int_eq(avro_value_get_by_name(&v, "a", &item, NULL), 0);
    avro_value_get_size(&item, &size);
    ck_assert_uint_eq(size, 2); /* [2] and then [3] appended to it */
    avro_value_get_by_index(&item, 1, &elem, NULL);
    int32_t i;
    avro_value_get_int(&elem, &i);
    ck_assert_int_eq(i, 3);
    avro_value_decref(&expected);
    avro_value_decref(&v);

    /* Our allocation for the long key fails cleanly. */
    sd_alloc_fail_after(0);
    memset(&v, 0xab, sizeof v);
    int rc = strand_avro_decode_value(c, in, n, 0, &v, &err);
    sd_alloc_fail_after(-1);
    ck_assert_int_eq(rc, SD_ERR_NOMEM);
    ck_assert_ptr_null(v.iface);
    strand_avro_codec_free(c);
}
END_TEST

/* avro-c's allocator, failing once a count of allocations ran out. */
static long avro_c_allocations_left = -1;

static void *failing_avro_c_allocator(void *user_data, void *ptr, size_t osize, size_t nsize)
{
    (void)user_data;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (avro_c_allocations_left == 0)
        return NULL;
    if (avro_c_allocations_left > 0)
        avro_c_allocations_left--;
    return realloc(ptr, nsize);
}

START_TEST(test_avro_c_allocation_failures)
{
    /* Each of avro-c's allocations while decoding into an avro-c value
     * fails in turn: the decode fails cleanly (the sanitizer build checks
     * for leaks) until there are enough. Arrays and maps are left out:
     * avro-c's own array growth loses its buffer when it fails. */
    static const char *schema =
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
        "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"s\",\"type\":\"string\"},"
        "{\"name\":\"b\",\"type\":\"bytes\"},{\"name\":\"f\",\"type\":{\"type\":\"fixed\","
        "\"name\":\"F\",\"size\":3}},{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
        "\"symbols\":[\"A\",\"B\"]}},{\"name\":\"u\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":["
        "{\"name\":\"t\",\"type\":\"string\"}]}}]}";
    static const char *value = "{\"i\":1,\"s\":\"text\",\"b\":\"\\u0001\\u0002\",\"f\":\"abc\","
                               "\"e\":\"B\",\"u\":{\"string\":\"x\"},\"r\":{\"t\":\"inner\"}}";
    strand_avro_codec_t *c = codec_of(schema);
    size_t len;
    uint8_t *bytes = encode_ok(c, value, 0, &len);
    struct avro_allocator_state saved = AVRO_CURRENT_ALLOCATOR;
    for (long n = 0;; n++) {
        avro_value_t v;
        strand_avro_error_t err = {0};
        avro_c_allocations_left = n;
        avro_set_allocator(failing_avro_c_allocator, NULL);
        int rc = strand_avro_decode_value(c, bytes, len, 0, &v, &err);
        avro_set_allocator(saved.alloc, saved.user_data);
        if (rc == 0) {
            uint8_t *again;
            size_t again_len;
            ck_assert_int_eq(strand_avro_encode_value(c, &v, 0, &again, &again_len, &err), 0);
            ck_assert_uint_eq(again_len, len);
            ck_assert_mem_eq(again, bytes, len);
            strand_avro_free(again);
            avro_value_decref(&v);
            break;
        }
        ck_assert_msg(rc == STRAND_AVRO_ERR_AVRO_C, "%d: %s", rc, err.message);
        ck_assert_ptr_null(v.iface);
        ck_assert_msg(n < 1000, "never succeeded");
    }
    strand_avro_free(bytes);
    strand_avro_codec_free(c);
}
END_TEST

START_TEST(test_allocation_failures)
{
    /* jansson allocates through the same wrapper, so its allocations fail
     * in turn too. */
    json_set_alloc_funcs(sd_malloc, sd_free);
    for (long n = 0;; n++) {
        sd_alloc_fail_after(n);
        int ok = all_entry_points();
        sd_alloc_fail_after(-1);
        if (ok)
            break;
        ck_assert_msg(n < 100000, "never succeeded");
    }
    json_set_alloc_funcs(malloc, free);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("avro_value");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_spec_examples);
    tcase_add_test(tc, test_json_text);
    tcase_add_test(tc, test_validation_messages);
    tcase_add_test(tc, test_raw_bytes);
    tcase_add_test(tc, test_avro_c_interop);
    tcase_add_test(tc, test_weather_records);
    tcase_add_test(tc, test_random_values_through_avro_c);
    tcase_add_test(tc, test_projection_defaults);
    tcase_add_test(tc, test_projection_enums);
    tcase_add_test(tc, test_projection_promotions);
    tcase_add_test(tc, test_projection_unions);
    tcase_add_test(tc, test_projection_recursive);
    tcase_add_test(tc, test_truncations_and_corruption);
    tcase_add_test(tc, test_schema_references);
    tcase_add_test(tc, test_strings_and_keys);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_avro_c_values_of_equal_schemas);
    tcase_add_test(tc, test_avro_c_map_keys);
    tcase_add_test(tc, test_avro_c_allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(suite()); }
