/*
 * fuzz_deserializer.c - libFuzzer target for the deserializer
 * (strand/serde.h) over arbitrary bytes, with a fixed set of schemas put
 * into its cache beforehand and no registry client (unknown ids are "not
 * found"; nothing goes to the network). The first byte chooses: bit 0 the
 * projecting deserializer (a reader schema), bit 1 the avro-c output, bit 2
 * a schema-id header (the next byte is its length, the header follows). A
 * success must be valid JSON that encodes again under the schema it came
 * out as; a failure must carry a known code and a message. With bit 3 the
 * rest is JSON text for the serializer instead: under each schema, its fast
 * path must give up or write exactly what the full path writes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_value_int.h"
#include "core/serde_int.h"
#include "strand/avro_value.h"
#include "strand/serde.h"

/* Id 1 also goes by this GUID (magic 1 framing). */
#define GUID "89791762-2336-4186-9674-299b90a802e2"

static const char *const schemas[] = {
    /* 1: every kind */
    ("{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"f\",\"fields\":["
     "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},"
     "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"
     "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"n\",\"type\":\"null\"},"
     "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"y\",\"type\":\"bytes\"},"
     "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}},"
     "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\",\"size\":4}},"
     "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
     "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
     "{\"name\":\"u\",\"type\":[\"null\",\"string\",{\"type\":\"record\",\"name\":\"In\","
     "\"fields\":[{\"name\":\"z\",\"type\":\"int\"}]}]}]}"),
    /* 2: raw bytes */
    "\"bytes\"",
    /* 3: recursive */
    ("{\"type\":\"record\",\"name\":\"Node\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
     "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}"),
    /* 4: a top-level union */
    "[\"null\",\"long\",\"string\"]",
};

/* Reads id 1 with promotions, enum symbols by name and a default; refuses
 * the others. */
static const char *reader_schema =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"f\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"double\"},{\"name\":\"l\",\"type\":\"float\"},"
    "{\"name\":\"s\",\"type\":\"bytes\"},{\"name\":\"y\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"C\",\"A\"],"
    "\"default\":\"A\"}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\",{\"type\":\"record\",\"name\":\"In\","
    "\"fields\":[{\"name\":\"z\",\"type\":\"long\"},{\"name\":\"w\",\"type\":\"int\","
    "\"default\":3}]}]},"
    "{\"name\":\"added\",\"type\":{\"type\":\"map\",\"values\":\"int\"},\"default\":{}}]}";

#define SCHEMA_COUNT (sizeof schemas / sizeof schemas[0])

static strand_deserializer_t *plain, *projecting;
static strand_avro_codec_t *writer_codecs[SCHEMA_COUNT], *reader_codec;

static strand_avro_codec_t *codec_of(const char *text)
{
    strand_avro_schema_t *schema = NULL;
    strand_avro_codec_t *codec = NULL;
    if (strand_avro_schema_parse(text, strlen(text), &schema, NULL) ||
        strand_avro_codec_new(schema, &codec, NULL))
        abort();
    strand_avro_schema_free(schema);
    return codec;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    strand_serde_error_t err;
    if (serde__deserializer_new_offline(NULL, STRAND_SERDE_AVRO, 0, NULL, 0, &plain, &err) ||
        serde__deserializer_new_offline(NULL, STRAND_SERDE_AVRO, 0, reader_schema,
                                        strlen(reader_schema), &projecting, &err))
        abort();
    for (size_t i = 0; i < SCHEMA_COUNT; i++) {
        const char *guid = i == 0 ? GUID : NULL;
        if (serde__deserializer_seed(plain, (int32_t)i + 1, guid, schemas[i], strlen(schemas[i]),
                                     &err) ||
            serde__deserializer_seed(projecting, (int32_t)i + 1, guid, schemas[i],
                                     strlen(schemas[i]), &err))
            abort();
        writer_codecs[i] = codec_of(schemas[i]);
    }
    reader_codec = codec_of(reader_schema);
    return 0;
}

static void check_error(int rc, const strand_serde_error_t *err)
{
    if (rc != STRAND_SERDE_ERR_FRAMING && rc != STRAND_SERDE_ERR_DECODE &&
        rc != STRAND_SERDE_ERR_UNKNOWN_SCHEMA && rc != STRAND_SERDE_ERR_INCOMPATIBLE)
        abort();
    if (err->code != rc || !err->message[0])
        abort();
}

/* The output is a value of the schema it came out as: it encodes again. */
static void check_json(const char *json, size_t len, int32_t id, int projected)
{
    if (id < 1 || (size_t)id > SCHEMA_COUNT || strlen(json) != len)
        abort();
    const strand_avro_codec_t *codec = projected ? reader_codec : writer_codecs[id - 1];
    uint8_t *bytes = NULL;
    size_t n = 0;
    strand_avro_error_t err;
    int rc =
        strand_avro_encode_json_text(codec, json, len, STRAND_AVRO_RAW_BYTES, &bytes, &n, &err);
    /* jansson cannot read a NUL in an object key back (map keys may hold
     * one); anything else must encode. */
    if (rc && !(rc == STRAND_AVRO_ERR_JSON && strstr(err.message, "NUL byte in object key")))
        abort();
    strand_avro_free(bytes);
}

/* The serializer's JSON fast path against the full path, under codec. */
static void check_fast_path(const strand_avro_codec_t *codec, const char *text, size_t len)
{
    sd_writer_t fast, full;
    sd_writer_init(&fast);
    sd_writer_init(&full);
    if (serde__avro_json_fast(codec, text, len, &fast) == 0) {
        json_t *value = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!value || avro_value__encode_json(codec, value, STRAND_AVRO_RAW_BYTES, &full, NULL))
            abort();
        if (fast.len != full.len || (full.len && memcmp(fast.buf, full.buf, full.len) != 0))
            abort();
        json_decref(value);
    } else if (fast.len != 0) {
        abort();
    }
    sd_writer_free(&fast);
    sd_writer_free(&full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 8) {
        char *text = malloc(size);
        if (!text)
            abort();
        memcpy(text, data + 1, size - 1);
        for (size_t i = 0; i < SCHEMA_COUNT; i++)
            check_fast_path(writer_codecs[i], text, size - 1);
        check_fast_path(reader_codec, text, size - 1);
        free(text);
        return 0;
    }
    int use_reader = data[0] & 1, as_avro = data[0] & 2, with_header = data[0] & 4;
    data++;
    size--;
    size_t header_len = 0;
    if (with_header) {
        if (size < 1)
            return 0;
        header_len = data[0] < size - 1 ? data[0] : size - 1;
        data++;
        size--;
    }
    /* Copies of exactly the header and the value, so any overread is caught. */
    uint8_t *header = malloc(header_len ? header_len : 1);
    size_t value_len = size - header_len;
    uint8_t *value = malloc(value_len ? value_len : 1);
    if (!header || !value)
        abort();
    memcpy(header, data, header_len);
    memcpy(value, data + header_len, value_len);
    strand_serde_header_t headers[] = {
        {"unrelated", "x", 1},
        {"__value_schema_id", header, header_len},
    };

    strand_deserializer_t *des = use_reader ? projecting : plain;
    strand_serde_error_t err;
    int32_t id = -1;
    int rc;
    if (as_avro) {
        avro_value_t out;
        rc = strand_deserializer_deserialize_avro(des, "fuzz", value, value_len,
                                                  with_header ? headers : NULL, 2, &out, &id, &err);
        if (rc == 0) {
            if (!out.iface)
                abort();
            avro_value_decref(&out);
        }
    } else {
        char *json = NULL;
        size_t json_len = 0;
        rc = strand_deserializer_deserialize_json(des, "fuzz", value, value_len,
                                                  with_header ? headers : NULL, 2, &json, &json_len,
                                                  &id, &err);
        if (rc == 0) {
            if (!json)
                abort();
            /* A GUID fetch carries no id: only id 1 has one. */
            check_json(json, json_len, id < 0 ? 1 : id, use_reader);
            strand_serde_free(json);
        } else if (json) {
            abort();
        }
    }
    if (rc)
        check_error(rc, &err);
    free(header);
    free(value);
    return 0;
}
