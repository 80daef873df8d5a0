/*
 * fuzz_avro_value.c - libFuzzer target for the Avro binary decoder and
 * projection (avro_value_resolve.c) and the encoder (avro_value.c). The first
 * input byte picks one of a few fixed schemas (and a writer/reader pair);
 * the rest is decoded as a value. A value that decodes must encode again and
 * decode to the same JSON, read the same through avro-c (and be written back
 * from avro-c's value), and project onto
 * the pair's reader; a failure must come with a message. Seeds:
 * tests/fuzz/corpus/fuzz_avro_value/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strand/avro_value.h"

#define R(name, fields) "{\"type\":\"record\",\"name\":\"" name "\",\"fields\":[" fields "]}"

/* Writer schemas, and a reader for each that the writer's data must
 * project onto. */
static const char *const pairs[][2] = {
    {R("Interop",
       "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},"
       "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"b\",\"type\":\"boolean\"},"
       "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"
       "{\"name\":\"by\",\"type\":\"bytes\"},{\"name\":\"n\",\"type\":\"null\"},"
       "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"double\"}},"
       "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":" R(
           "Foo",
           "{\"name\":\"label\",\"type\":\"string\"}") "}},"
                                                       "{\"name\":\"u\",\"type\":[\"boolean\","
                                                       "\"double\",{\"type\":\"array\",\"items\":"
                                                       "\"bytes\"}]},"
                                                       "{\"name\":\"e\",\"type\":{\"type\":"
                                                       "\"enum\",\"name\":\"Kind\",\"symbols\":["
                                                       "\"A\",\"B\",\"C\"]}},"
                                                       "{\"name\":\"x\",\"type\":{\"type\":"
                                                       "\"fixed\",\"name\":\"MD5\",\"size\":16}}"),
     R("Interop",
       "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"C\",\"Z\","
       "\"A\"],"
       "\"default\":\"Z\"}},"
       "{\"name\":\"i\",\"type\":\"double\"},{\"name\":\"l\",\"type\":\"float\"},"
       "{\"name\":\"s\",\"type\":\"bytes\"},{\"name\":\"by\",\"type\":\"string\"},"
       "{\"name\":\"u\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"string\"},\"double\","
       "\"boolean\"]},"
       "{\"name\":\"new\",\"type\":[\"null\",\"int\"],\"default\":null},"
       "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":" R(
           "Foo", "{\"name\":\"label\",\"type\":\"string\"},{\"name\":\"k\",\"type\":\"int\","
                  "\"default\":1}") "}}")},
    {R("L", "{\"name\":\"v\",\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"L\"]}"),
     R("L",
       "{\"name\":\"v\",\"type\":\"long\"},{\"name\":\"w\",\"type\":\"string\",\"default\":\"\"},"
       "{\"name\":\"next\",\"type\":[\"L\",\"null\"]}")},
    {"{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":[\"null\",\"string\",\"int\"]}}",
     "{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":[\"bytes\",\"null\",\"long\"]}}"},
    {"\"bytes\"", "\"string\""},
    {"{\"type\":\"array\",\"items\":\"null\"}", "{\"type\":\"array\",\"items\":\"null\"}"},
};
#define PAIRS (sizeof pairs / sizeof *pairs)

static strand_avro_codec_t *writers[PAIRS], *readers[PAIRS];
static strand_avro_resolver_t *resolvers[PAIRS];

/* Stops with what broke, for the crash report. */
static void broken(const char *what, const strand_avro_error_t *err)
{
    fprintf(stderr, "fuzz_avro_value: %s: %s\n", what, err ? err->message : "");
    abort();
}

/* Two JSON values are the same value when they encode alike (json_equal
 * cannot see map keys holding NUL). */
static int same(const strand_avro_codec_t *codec, unsigned flags, const json_t *a, const json_t *b)
{
    uint8_t *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0;
    int ok = strand_avro_encode_json(codec, a, flags, &ea, &la, NULL) == 0 &&
             strand_avro_encode_json(codec, b, flags, &eb, &lb, NULL) == 0 && la == lb &&
             memcmp(ea, eb, la) == 0;
    strand_avro_free(ea);
    strand_avro_free(eb);
    return ok;
}

static strand_avro_codec_t *compile(const char *text)
{
    strand_avro_schema_t *schema = NULL;
    strand_avro_codec_t *codec = NULL;
    if (strand_avro_schema_parse(text, strlen(text), &schema, NULL) ||
        strand_avro_codec_new(schema, &codec, NULL))
        abort();
    strand_avro_schema_free(schema);
    return codec;
}

static void setup(void)
{
    for (size_t i = 0; i < PAIRS; i++) {
        writers[i] = compile(pairs[i][0]);
        readers[i] = compile(pairs[i][1]);
        if (strand_avro_resolver_new(writers[i], readers[i], &resolvers[i], NULL))
            abort();
    }
}

/* avro-c reads what we decoded (unless it holds what avro-c cannot), and our
 * walker over avro-c's value writes the same value back. */
static void avro_c_round_trip(const strand_avro_codec_t *w, unsigned flags, const uint8_t *data,
                              size_t size, const json_t *value)
{
    strand_avro_error_t err = {0};
    avro_value_t v;
    int rc = strand_avro_decode_value(w, data, size, flags, &v, &err);
    if (rc == STRAND_AVRO_ERR_DECODE && strstr(err.message, "avro-c cannot represent"))
        return;
    if (rc != 0)
        broken("decode_value refused what decode_json read", &err);
    uint8_t *bytes = NULL;
    size_t len = 0;
    json_t *back = NULL;
    if (strand_avro_encode_value(w, &v, flags, &bytes, &len, &err) != 0 ||
        strand_avro_decode_json(w, bytes, len, flags, &back, &err) != 0 ||
        !same(w, flags, value, back))
        broken("avro-c value written back differs", &err);
    json_decref(back);
    strand_avro_free(bytes);
    avro_value_decref(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!writers[0])
        setup();
    if (size < 1)
        return 0;
    size_t which = data[0] % PAIRS;
    unsigned flags = (data[0] / PAIRS) & 1 ? STRAND_AVRO_RAW_BYTES : 0;
    data++;
    size--;
    strand_avro_codec_t *w = writers[which];
    strand_avro_error_t err = {0};
    json_t *value = NULL;
    if (strand_avro_decode_json(w, data, size, flags, &value, &err) != 0) {
        if (!err.message[0] || value)
            broken("decode failed without a message", &err);
        /* Our checker and the projection agree that the bytes are bad. */
        json_t *projected = NULL;
        if (strand_avro_resolver_decode_json(resolvers[which], data, size, flags, &projected,
                                             NULL) == 0)
            broken("the projection read bytes the decoder refused", &err);
        avro_value_t v;
        if (strand_avro_decode_value(w, data, size, flags, &v, NULL) == 0)
            broken("avro-c path read bytes the decoder refused", &err);
        return 0;
    }
    /* Encode again and decode to the same value. */
    uint8_t *again = NULL;
    size_t again_len = 0;
    if (strand_avro_encode_json(w, value, flags, &again, &again_len, &err) != 0)
        broken("re-encoding a decoded value", &err);
    json_t *value2 = NULL;
    if (strand_avro_decode_json(w, again, again_len, flags, &value2, &err) != 0 ||
        !same(w, flags, value, value2))
        broken("re-encoded value decodes differently", &err);
    avro_c_round_trip(w, flags, data, size, value);
    /* The text form is written for every decodable value. */
    char *text = NULL;
    if (strand_avro_decode_json_text(w, data, size, flags, &text, NULL, &err) != 0 || !text)
        broken("no text for a decodable value", &err);
    strand_avro_free(text);
    /* The reader can read whatever the writer wrote, except bytes that are
     * not UTF-8 where it reads a string. */
    json_t *projected = NULL;
    int rc =
        strand_avro_resolver_decode_json(resolvers[which], data, size, flags, &projected, &err);
    if (rc == STRAND_AVRO_ERR_DECODE && strstr(err.message, "string that is not UTF-8"))
        ;
    else if (rc != 0 || strand_avro_validate_json(readers[which], projected, &err) != 0)
        broken("projection of readable data", &err);
    json_decref(projected);
    json_decref(value2);
    json_decref(value);
    strand_avro_free(again);
    return 0;
}
