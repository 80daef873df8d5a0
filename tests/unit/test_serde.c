/*
 * test_serde.c - the serializer and deserializer (strand/serde.h) against
 * the real registry (Strand's own binary started as a child on port 0):
 * wire bytes exactly as Confluent writes them, every subject strategy on
 * both sides, auto.register.schemas, use.schema.id, use.latest.version with
 * latest.compatibility.strict, normalize.schemas, tombstones, raw top-level
 * bytes, header and GUID framing, invalid values, unknown ids, projection
 * onto reader schemas, every truncation of a framed value, avro-c values,
 * and eight threads sharing one cache (one fetch per id).
 */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avro/avro_value_int.h"
#include "base/alloc.h"
#include "core/serde_int.h"
#include "strand/registry_client.h"
#include "strand/serde.h"
#include "strand/wire.h"
#include "unit.h"
#include "unit_broker.h"

/* ---- the broker with its registry ------------------------------------------- */

static unit_broker_t shared_broker;

static void suite_setup(void)
{
    unit_broker_options_t options = {.name = "test_serde", .registry = true};
    unit_broker_start(&shared_broker, &options);
}

static void suite_teardown(void)
{
    unit_broker_stop(&shared_broker, false);
}

/* ---- helpers ------------------------------------------------------------------ */

static strand_registry_client_t *new_client(void)
{
    const char *keys[] = {"schema.registry.url"};
    const char *values[] = {shared_broker.registry_url};
    strand_registry_client_t *c = NULL;
    strand_registry_error_t err = {0};
    int rc = strand_registry_client_new(keys, values, 1, &c, &err);
    ck_assert_msg(rc == 0, "client: %s", err.message);
    return c;
}

static uint64_t requests(strand_registry_client_t *c)
{
    strand_registry_stats_t s;
    strand_registry_client_stats(c, &s);
    return s.http_requests;
}

/* A configuration from NULL-terminated name/value pairs. */
static strand_serde_config_t *config_of(const char *name, ...)
{
    strand_serde_config_t *config = strand_serde_config_new();
    ck_assert_ptr_nonnull(config);
    va_list ap;
    va_start(ap, name);
    for (const char *k = name; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        strand_serde_error_t err = {0};
        int rc = strand_serde_config_set(config, k, v, &err);
        ck_assert_msg(rc == 0, "%s=%s: %s", k, v, err.message);
    }
    va_end(ap);
    return config;
}

/* A serializer on client c with the configuration pairs (NULL-terminated). */
static strand_serializer_t *serializer(strand_registry_client_t *c, int is_key, const char *schema,
                                       const char *name, ...)
{
    strand_serde_config_t *config = strand_serde_config_new();
    va_list ap;
    va_start(ap, name);
    for (const char *k = name; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        strand_serde_error_t err = {0};
        ck_assert_int_eq(strand_serde_config_set(config, k, v, &err), 0);
    }
    va_end(ap);
    strand_serializer_t *ser = NULL;
    strand_serde_error_t err = {0};
    int rc = strand_serializer_new(c, config, STRAND_SERDE_AVRO, is_key, schema,
                                   schema ? strlen(schema) : 0, &ser, &err);
    ck_assert_msg(rc == 0, "serializer: %s", err.message);
    strand_serde_config_free(config);
    return ser;
}

static strand_deserializer_t *deserializer(strand_registry_client_t *c, int is_key,
                                           const char *reader)
{
    strand_deserializer_t *des = NULL;
    strand_serde_error_t err = {0};
    int rc = strand_deserializer_new(c, NULL, STRAND_SERDE_AVRO, is_key, reader,
                                     reader ? strlen(reader) : 0, &des, &err);
    ck_assert_msg(rc == 0, "deserializer: %s", err.message);
    return des;
}

static strand_deserializer_t *deserializer_with(strand_registry_client_t *c, int is_key,
                                                const char *name, const char *value)
{
    strand_serde_config_t *config = config_of(name, value, NULL);
    strand_deserializer_t *des = NULL;
    strand_serde_error_t err = {0};
    int rc = strand_deserializer_new(c, config, STRAND_SERDE_AVRO, is_key, NULL, 0, &des, &err);
    ck_assert_msg(rc == 0, "deserializer: %s", err.message);
    strand_serde_config_free(config);
    return des;
}

/* Serializes JSON text that must be valid; returns the bytes (free them). */
static uint8_t *ser_ok(strand_serializer_t *ser, const char *topic, const char *json, size_t *len)
{
    uint8_t *out = NULL;
    strand_serde_error_t err = {0};
    int rc =
        strand_serializer_serialize_json(ser, topic, json, strlen(json), NULL, 0, &out, len, &err);
    ck_assert_msg(rc == 0, "serialize %s: %s", json, err.message);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Deserializes and compares the JSON text. */
static void des_eq(strand_deserializer_t *des, const uint8_t *bytes, size_t len,
                   const char *expected, int32_t expected_id)
{
    char *json = NULL;
    int32_t id = -2;
    strand_serde_error_t err = {0};
    int rc =
        strand_deserializer_deserialize_json(des, "t", bytes, len, NULL, 0, &json, NULL, &id, &err);
    ck_assert_msg(rc == 0, "deserialize: %s", err.message);
    ck_assert_str_eq(json, expected);
    if (expected_id >= 0)
        ck_assert_int_eq(id, expected_id);
    strand_serde_free(json);
}

static int32_t framed_id(const uint8_t *bytes, size_t len)
{
    ck_assert_uint_ge(len, 5);
    ck_assert_int_eq(bytes[0], 0);
    return (int32_t)(((uint32_t)bytes[1] << 24) | ((uint32_t)bytes[2] << 16) |
                     ((uint32_t)bytes[3] << 8) | bytes[4]);
}

static int32_t register_text(strand_registry_client_t *c, const char *subject, const char *text)
{
    strand_registry_schema_input_t in = {.schema = text, .schema_len = strlen(text)};
    const strand_registry_schema_t *s = NULL;
    strand_registry_error_t err = {0};
    int rc = strand_registry_register(c, subject, &in, 0, &s, &err);
    ck_assert_msg(rc == 0, "register %s: %s", subject, err.message);
    int32_t id = s->id;
    strand_registry_schema_release(s);
    return id;
}

static int32_t latest_id(strand_registry_client_t *c, const char *subject)
{
    const strand_registry_schema_t *s = NULL;
    strand_registry_error_t err = {0};
    int rc = strand_registry_get_latest(c, subject, &s, &err);
    ck_assert_msg(rc == 0, "latest %s: %s", subject, err.message);
    int32_t id = s->id;
    strand_registry_schema_release(s);
    return id;
}

/* PUT /config/{subject}: the client has no call for it. */
static void set_compatibility(const char *subject, const char *level)
{
    char url[256], body[64];
    snprintf(url, sizeof url, "%s/config/%s", shared_broker.registry_url, subject);
    snprintf(body, sizeof body, "{\"compatibility\":\"%s\"}", level);
    CURL *curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
    struct curl_slist *headers =
        curl_slist_append(NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    ck_assert_int_eq(status, 200);
    fclose(sink);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
}

static const char *USER = "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.example\","
                          "\"fields\":[{\"name\":\"id\",\"type\":\"int\"},"
                          "{\"name\":\"name\",\"type\":\"string\"}]}";

/* ---- wire bytes ----------------------------------------------------------------- */

START_TEST(wire_bytes_exact)
{
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, USER, NULL);
    size_t len = 0;
    uint8_t *out = ser_ok(ser, "wire", "{\"id\":1,\"name\":\"x\"}", &len);
    int32_t id = latest_id(c, "wire-value");
    /* magic 0, the id big-endian, then int 1 (zig-zag 2), string "x". */
    uint8_t expected[] = {
        0,  (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id, 0x02, 0x02,
        'x'};
    ck_assert_uint_eq(len, sizeof expected);
    ck_assert_mem_eq(out, expected, sizeof expected);
    strand_serde_free(out);

    /* A large id is written big-endian too. */
    strand_deserializer_t *des = deserializer(c, 0, NULL);
    uint8_t big[] = {0, 0x01, 0x02, 0x03, 0x04};
    char *json = NULL;
    strand_serde_error_t err = {0};
    ck_assert_int_eq(strand_deserializer_deserialize_json(des, "wire", big, sizeof big, NULL, 0,
                                                          &json, NULL, NULL, &err),
                     STRAND_SERDE_ERR_UNKNOWN_SCHEMA);
    ck_assert_msg(strstr(err.message, "schema 16909060 not found in the registry (40403)"), "%s",
                  err.message);
    ck_assert_int_eq(err.registry_code, 40403);
    ck_assert_int_eq(err.http_status, 404);
    ck_assert_ptr_null(json);

    /* The same value, again: no further registry request. */
    uint64_t before = requests(c);
    out = ser_ok(ser, "wire", "{\"id\":1,\"name\":\"x\"}", &len);
    ck_assert_uint_eq(requests(c), before);
    des_eq(des, out, len, "{\"id\":1,\"name\":\"x\"}", id);
    strand_serde_free(out);

    strand_deserializer_free(des);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(tombstones)
{
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, USER, NULL);
    uint8_t *out = (uint8_t *)1;
    size_t len = 99;
    strand_serde_error_t err = {0};
    uint64_t before = requests(c);
    ck_assert_int_eq(
        strand_serializer_serialize_json(ser, "tomb", NULL, 0, NULL, 0, &out, &len, &err), 0);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(len, 0);
    out = (uint8_t *)1;
    ck_assert_int_eq(strand_serializer_serialize_avro(ser, "tomb", NULL, NULL, 0, &out, &len, &err),
                     0);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(requests(c), before); /* nothing registered for a tombstone */

    strand_deserializer_t *des = deserializer(c, 0, NULL);
    char *json = (char *)1;
    int32_t id = 5;
    ck_assert_int_eq(
        strand_deserializer_deserialize_json(des, "tomb", NULL, 0, NULL, 0, &json, NULL, &id, &err),
        0);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(id, -1);
    avro_value_t v = {(void *)1, (void *)1};
    ck_assert_int_eq(
        strand_deserializer_deserialize_avro(des, "tomb", NULL, 0, NULL, 0, &v, &id, &err), 0);
    ck_assert_ptr_null(v.iface);
    ck_assert_ptr_null(v.self);

    /* JSON null under a union is a value, framed: not a tombstone. */
    strand_serializer_t *opt = serializer(c, 0, "[\"null\",\"string\"]", NULL);
    out = ser_ok(opt, "tomb-opt", "null", &len);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(out[5], 0);
    des_eq(des, out, len, "null", -1);
    strand_serde_free(out);

    strand_serializer_free(opt);
    strand_deserializer_free(des);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(top_level_bytes_raw)
{
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 1, "\"bytes\"", NULL);
    size_t len = 0;
    uint8_t *out = ser_ok(ser, "raw", "\"\\u0001\\u00ff\\u0000A\"", &len);
    int32_t id = latest_id(c, "raw-key");
    ck_assert_int_eq(framed_id(out, len), id);
    /* The bytes themselves, without a length prefix. */
    uint8_t payload[] = {0x01, 0xff, 0x00, 'A'};
    ck_assert_uint_eq(len, 5 + sizeof payload);
    ck_assert_mem_eq(out + 5, payload, sizeof payload);

    strand_deserializer_t *des = deserializer(c, 1, NULL);
    des_eq(des, out, len, "\"\\u0001\xc3\xbf\\u0000A\"", id);
    /* An empty raw payload is the empty byte string. */
    des_eq(des, out, 5, "\"\"", id);
    strand_serde_free(out);
    strand_deserializer_free(des);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

/* ---- subjects and flags ---------------------------------------------------------- */

START_TEST(subject_strategies)
{
    static const struct {
        const char *strategy;
        int is_key;
        const char *subject;
    } cases[] = {
        {NULL, 0, "subj-value"},
        {NULL, 1, "subj-key"},
        {"TopicNameStrategy", 0, "subj-value"},
        {"io.confluent.kafka.serializers.subject.TopicNameStrategy", 1, "subj-key"},
        {"RecordNameStrategy", 0, "com.example.User"},
        {"io.confluent.kafka.serializers.subject.RecordNameStrategy", 1, "com.example.User"},
        {"TopicRecordNameStrategy", 0, "subj-com.example.User"},
        {"io.confluent.kafka.serializers.subject.TopicRecordNameStrategy", 1,
         "subj-com.example.User"},
    };
    strand_registry_client_t *c = new_client();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *prop =
            cases[i].is_key ? "key.subject.name.strategy" : "value.subject.name.strategy";
        strand_serializer_t *ser =
            cases[i].strategy ? serializer(c, cases[i].is_key, USER, prop, cases[i].strategy, NULL)
                              : serializer(c, cases[i].is_key, USER, NULL);
        char *subject = NULL;
        strand_serde_error_t err = {0};
        ck_assert_int_eq(strand_serializer_subject(ser, "subj", NULL, 0, &subject, &err), 0);
        ck_assert_str_eq(subject, cases[i].subject);
        size_t len;
        uint8_t *out = ser_ok(ser, "subj", "{\"id\":2,\"name\":\"s\"}", &len);
        ck_assert_int_eq(framed_id(out, len), latest_id(c, subject));
        strand_serde_free(out);
        strand_serde_free(subject);
        strand_serializer_free(ser);
    }

    /* The other side's strategy does not apply; a primitive is named by its type. */
    strand_serializer_t *ser =
        serializer(c, 0, "\"string\"", "key.subject.name.strategy", "RecordNameStrategy", NULL);
    char *subject = NULL;
    ck_assert_int_eq(strand_serializer_subject(ser, "prim", NULL, 0, &subject, NULL), 0);
    ck_assert_str_eq(subject, "prim-value");
    strand_serde_free(subject);
    strand_serializer_free(ser);
    ser = serializer(c, 0, "\"string\"", "value.subject.name.strategy", "RecordNameStrategy", NULL);
    ck_assert_int_eq(strand_serializer_subject(ser, "prim", NULL, 0, &subject, NULL), 0);
    ck_assert_str_eq(subject, "string");
    strand_serde_free(subject);
    strand_serializer_free(ser);

    /* A record strategy with no schema to name cannot make a subject. */
    ser = serializer(c, 0, NULL, "value.subject.name.strategy", "RecordNameStrategy",
                     "use.latest.version", "true", "auto.register.schemas", "false", NULL);
    strand_serde_error_t err = {0};
    uint8_t *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(
        strand_serializer_serialize_json(ser, "prim", "1", 1, NULL, 0, &out, &len, &err),
        STRAND_SERDE_ERR_SUBJECT);
    ck_assert_ptr_nonnull(strstr(err.message, "RecordNameStrategy"));
    ck_assert_ptr_null(out);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(auto_register_off_looks_up)
{
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, USER, "auto.register.schemas", "false", NULL);
    uint8_t *out = NULL;
    size_t len = 0;
    strand_serde_error_t err = {0};
    const char *value = "{\"id\":3,\"name\":\"l\"}";
    int rc = strand_serializer_serialize_json(ser, "lookup", value, strlen(value), NULL, 0, &out,
                                              &len, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_UNKNOWN_SCHEMA);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err.message, "subject \"lookup-value\""), "%s", err.message);
    ck_assert_msg(err.registry_code == 40401 || err.registry_code == 40403, "%d",
                  err.registry_code);

    /* Not registered by the failed call; registered now by someone else. */
    int32_t id = register_text(c, "lookup-value", USER);
    out = ser_ok(ser, "lookup", value, &len);
    ck_assert_int_eq(framed_id(out, len), id);
    strand_serde_free(out);

    /* The lookup finds an older version too: the id of this very schema. */
    const char *v2 = "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.example\","
                     "\"fields\":[{\"name\":\"id\",\"type\":\"int\"},"
                     "{\"name\":\"name\",\"type\":\"string\"},"
                     "{\"name\":\"age\",\"type\":\"int\",\"default\":0}]}";
    int32_t id2 = register_text(c, "lookup-value", v2);
    ck_assert_int_ne(id2, id);
    strand_serializer_t *fresh = serializer(c, 0, USER, "auto.register.schemas", "false", NULL);
    out = ser_ok(fresh, "lookup", value, &len);
    ck_assert_int_eq(framed_id(out, len), id);
    strand_serde_free(out);
    strand_serializer_free(fresh);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

static const char *V1 = "{\"type\":\"record\",\"name\":\"Evo\",\"fields\":["
                        "{\"name\":\"a\",\"type\":\"int\"}]}";
static const char *V2 = "{\"type\":\"record\",\"name\":\"Evo\",\"fields\":["
                        "{\"name\":\"a\",\"type\":\"int\"},"
                        "{\"name\":\"b\",\"type\":\"string\",\"default\":\"dflt\"}]}";
static const char *V3 = "{\"type\":\"record\",\"name\":\"Evo\",\"fields\":["
                        "{\"name\":\"a\",\"type\":\"long\"},"
                        "{\"name\":\"c\",\"type\":\"string\"}]}";

START_TEST(use_latest_version)
{
    strand_registry_client_t *c = new_client();
    register_text(c, "latest-value", V1);
    int32_t id2 = register_text(c, "latest-value", V2);

    /* The application writes V1; the latest (V2) reads it: framed with V2's
     * id and projected, so b takes its default. */
    strand_serializer_t *ser =
        serializer(c, 0, V1, "auto.register.schemas", "false", "use.latest.version", "true", NULL);
    size_t len;
    uint8_t *out = ser_ok(ser, "latest", "{\"a\":7}", &len);
    ck_assert_int_eq(framed_id(out, len), id2);
    uint8_t payload[] = {0x0e, 0x08, 'd', 'f', 'l', 't'};
    ck_assert_uint_eq(len, 5 + sizeof payload);
    ck_assert_mem_eq(out + 5, payload, sizeof payload);
    strand_deserializer_t *des = deserializer(c, 0, NULL);
    des_eq(des, out, len, "{\"a\":7,\"b\":\"dflt\"}", id2);
    strand_serde_free(out);

    /* With no schema of its own it writes the latest as is. */
    strand_serializer_t *bare = serializer(c, 0, NULL, "auto.register.schemas", "false",
                                           "use.latest.version", "true", NULL);
    out = ser_ok(bare, "latest", "{\"a\":1,\"b\":\"q\"}", &len);
    ck_assert_int_eq(framed_id(out, len), id2);
    des_eq(des, out, len, "{\"a\":1,\"b\":\"q\"}", id2);
    strand_serde_free(out);

    /* A deserializer with use.latest.version reads V1's data as V2. */
    int32_t id1 = register_text(c, "latest-value", V1);
    uint8_t v1_data[] = {
        0, (uint8_t)(id1 >> 24), (uint8_t)(id1 >> 16), (uint8_t)(id1 >> 8), (uint8_t)id1, 0x0e};
    strand_deserializer_t *latest = deserializer_with(c, 0, "use.latest.version", "true");
    char *json = NULL;
    int32_t got = -1;
    strand_serde_error_t err = {0};
    int rc = strand_deserializer_deserialize_json(latest, "latest", v1_data, sizeof v1_data, NULL,
                                                  0, &json, NULL, &got, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert_str_eq(json, "{\"a\":7,\"b\":\"dflt\"}");
    ck_assert_int_eq(got, id1);
    strand_serde_free(json);
    /* It needs the topic to name the subject. */
    rc = strand_deserializer_deserialize_json(latest, NULL, v1_data, sizeof v1_data, NULL, 0, &json,
                                              NULL, &got, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_ARGUMENT);
    strand_deserializer_free(latest);

    /* auto.register.schemas wins over use.latest.version (Confluent's order). */
    strand_serializer_t *both = serializer(c, 0, V1, "use.latest.version", "true", NULL);
    out = ser_ok(both, "latest", "{\"a\":7}", &len);
    ck_assert_int_ne(framed_id(out, len), id2);
    ck_assert_uint_eq(len, 6);
    strand_serde_free(out);

    strand_serializer_free(both);
    strand_serializer_free(bare);
    strand_serializer_free(ser);
    strand_deserializer_free(des);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(latest_compatibility_strict)
{
    strand_registry_client_t *c = new_client();
    register_text(c, "strict-value", V1);
    /* V3 cannot read V1's data (c has no default); NONE lets it in. */
    set_compatibility("strict-value", "NONE");
    int32_t id3 = register_text(c, "strict-value", V3);

    strand_serializer_t *ser =
        serializer(c, 0, V1, "auto.register.schemas", "false", "use.latest.version", "true", NULL);
    uint8_t *out = NULL;
    size_t len = 0;
    strand_serde_error_t err = {0};
    int rc =
        strand_serializer_serialize_json(ser, "strict", "{\"a\":1}", 7, NULL, 0, &out, &len, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_INCOMPATIBLE);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(err.message, "latest.compatibility.strict"), "%s", err.message);
    ck_assert_msg(strstr(err.message, ".c"), "%s", err.message);
    strand_serializer_free(ser);

    /* Not strict: the value must then be valid under the latest itself. */
    ser = serializer(c, 0, V1, "auto.register.schemas", "false", "use.latest.version", "true",
                     "latest.compatibility.strict", "false", NULL);
    rc = strand_serializer_serialize_json(ser, "strict", "{\"a\":1}", 7, NULL, 0, &out, &len, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_INVALID_VALUE);
    ck_assert_ptr_null(out);
    out = ser_ok(ser, "strict", "{\"a\":1,\"c\":\"z\"}", &len);
    ck_assert_int_eq(framed_id(out, len), id3);
    strand_serde_free(out);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(use_schema_id)
{
    strand_registry_client_t *c = new_client();
    int32_t id2 = register_text(c, "byid-value", V2);
    char id_text[16];
    snprintf(id_text, sizeof id_text, "%d", (int)id2);

    /* V1's data projected onto schema id2. */
    strand_serializer_t *ser =
        serializer(c, 0, V1, "auto.register.schemas", "false", "use.schema.id", id_text, NULL);
    size_t len;
    uint8_t *out = ser_ok(ser, "byid", "{\"a\":3}", &len);
    ck_assert_int_eq(framed_id(out, len), id2);
    strand_deserializer_t *des = deserializer(c, 0, NULL);
    des_eq(des, out, len, "{\"a\":3,\"b\":\"dflt\"}", id2);
    strand_serde_free(out);
    strand_serializer_free(ser);

    /* id.compatibility.strict: schema id2 cannot read V3's data. */
    ser = serializer(c, 0, V3, "auto.register.schemas", "false", "use.schema.id", id_text, NULL);
    strand_serde_error_t err = {0};
    out = NULL;
    int rc = strand_serializer_serialize_json(ser, "byid", "{\"a\":1,\"c\":\"x\"}", 15, NULL, 0,
                                              &out, &len, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_INCOMPATIBLE);
    ck_assert_msg(strstr(err.message, "id.compatibility.strict"), "%s", err.message);
    ck_assert_ptr_null(out);
    strand_serializer_free(ser);

    /* An unknown id is a clear error. */
    ser = serializer(c, 0, V1, "auto.register.schemas", "false", "use.schema.id", "987654", NULL);
    rc = strand_serializer_serialize_json(ser, "byid", "{\"a\":1}", 7, NULL, 0, &out, &len, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_UNKNOWN_SCHEMA);
    ck_assert_msg(strstr(err.message, "schema 987654 not found in the registry (40403)"), "%s",
                  err.message);
    strand_serializer_free(ser);
    strand_deserializer_free(des);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(normalize_schemas)
{
    /* The same record with its custom properties in two orders: normalized,
     * one schema and one id. */
    const char *ab = "{\"type\":\"record\",\"name\":\"Norm\",\"a\":1,\"b\":2,"
                     "\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}";
    const char *ba = "{\"type\":\"record\",\"name\":\"Norm\",\"b\":2,\"a\":1,"
                     "\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}";
    strand_registry_client_t *c = new_client();
    strand_serializer_t *s1 = serializer(c, 0, ab, "normalize.schemas", "true", NULL);
    strand_serializer_t *s2 = serializer(c, 0, ba, "normalize.schemas", "true", NULL);
    size_t l1, l2;
    uint8_t *o1 = ser_ok(s1, "norm", "{\"x\":1}", &l1);
    uint8_t *o2 = ser_ok(s2, "norm", "{\"x\":1}", &l2);
    ck_assert_int_eq(framed_id(o1, l1), framed_id(o2, l2));
    const strand_registry_schema_t *v = NULL;
    strand_registry_error_t re = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, framed_id(o1, l1), &v, &re), 0);
    ck_assert_msg(strstr(v->schema, "\"a\":1,\"b\":2"), "%s", v->schema);
    strand_registry_schema_release(v);
    strand_serde_free(o1);
    strand_serde_free(o2);
    strand_serializer_free(s1);
    strand_serializer_free(s2);
    strand_registry_client_free(c);
}
END_TEST

/* ---- values -------------------------------------------------------------------------- */

START_TEST(invalid_values_refused)
{
    const char *schema =
        "{\"type\":\"record\",\"name\":\"Person\",\"fields\":["
        "{\"name\":\"name\",\"type\":\"string\"},"
        "{\"name\":\"address\",\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":["
        "{\"name\":\"zip\",\"type\":\"int\"}]}},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}";
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        {"{\"name\":\"n\",\"address\":{\"zip\":\"x\"},\"tags\":[]}", ".address.zip: expected int"},
        {"{\"name\":\"n\",\"address\":{\"zip\":1},\"tags\":[\"a\",2]}",
         ".tags[1]: expected string"},
        {"{\"name\":5,\"address\":{\"zip\":1},\"tags\":[]}", ".name: expected string"},
        {"{\"name\":\"n\",\"tags\":[]}", ".address"},
        {"[1]", "expected"},
        {"{\"name\":", "not JSON"},
    };
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, schema, NULL);
    uint64_t before = requests(c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *out = (uint8_t *)1;
        size_t len = 7;
        strand_serde_error_t err = {0};
        int rc = strand_serializer_serialize_json(ser, "invalid", cases[i].json,
                                                  strlen(cases[i].json), NULL, 0, &out, &len, &err);
        ck_assert_int_eq(rc, STRAND_SERDE_ERR_INVALID_VALUE);
        ck_assert_int_eq(err.code, rc);
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(len, 0);
        ck_assert_msg(strstr(err.message, cases[i].message), "%s: %s", cases[i].json, err.message);
    }
    /* The schema was registered (auto-register comes first), once. */
    ck_assert_uint_le(requests(c) - before, 1);

    /* A per-call schema is parsed once, and a bad one is refused. */
    uint8_t *out = NULL;
    size_t len = 0;
    strand_serde_error_t err = {0};
    int rc = strand_serializer_serialize_json(ser, "invalid", "1", 1, "{\"type\":\"nope\"}", 16,
                                              &out, &len, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_SCHEMA);
    ck_assert_ptr_null(out);
    rc = strand_serializer_serialize_json(ser, "invalid-int", "5", 1, "\"int\"", 5, &out, &len,
                                          &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(out[5], 0x0a);
    strand_serde_free(out);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(avro_c_values)
{
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, USER, NULL);
    avro_schema_t schema = NULL;
    ck_assert_int_eq(avro_schema_from_json_length(USER, strlen(USER), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t value, field;
    ck_assert_int_eq(avro_generic_value_new(iface, &value), 0);
    avro_value_get_by_name(&value, "id", &field, NULL);
    avro_value_set_int(&field, 42);
    avro_value_get_by_name(&value, "name", &field, NULL);
    avro_value_set_string(&field, "avro-c");

    uint8_t *out = NULL;
    size_t len = 0;
    strand_serde_error_t err = {0};
    int rc = strand_serializer_serialize_avro(ser, "avroc", &value, NULL, 0, &out, &len, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    int32_t id = latest_id(c, "avroc-value");
    ck_assert_int_eq(framed_id(out, len), id);

    strand_deserializer_t *des = deserializer(c, 0, NULL);
    avro_value_t back;
    int32_t got_id = -1;
    rc =
        strand_deserializer_deserialize_avro(des, "avroc", out, len, NULL, 0, &back, &got_id, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert_int_eq(got_id, id);
    ck_assert(avro_value_equal(&value, &back));
    avro_value_decref(&back);
    des_eq(des, out, len, "{\"id\":42,\"name\":\"avro-c\"}", id);
    strand_serde_free(out);

    /* A value of another schema is refused, with no bytes. */
    avro_schema_t other = avro_schema_int();
    avro_value_iface_t *other_iface = avro_generic_class_from_schema(other);
    avro_value_t wrong;
    avro_generic_value_new(other_iface, &wrong);
    out = NULL;
    rc = strand_serializer_serialize_avro(ser, "avroc", &wrong, NULL, 0, &out, &len, &err);
    ck_assert_int_eq(rc, STRAND_SERDE_ERR_INVALID_VALUE);
    ck_assert_ptr_null(out);
    avro_value_decref(&wrong);
    avro_value_iface_decref(other_iface);
    avro_schema_decref(other);

    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    strand_deserializer_free(des);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

/* ---- reading ------------------------------------------------------------------------ */

START_TEST(headers_and_guid_framing)
{
    strand_registry_client_t *c = new_client();
    int32_t id = register_text(c, "hdr-value", USER);
    const strand_registry_schema_t *rec = NULL;
    strand_registry_error_t re = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, id, &rec, &re), 0);
    ck_assert_uint_eq(strlen(rec->guid), 36);
    uint8_t guid[16];
    ck_assert_int_eq(strand_wire_guid_parse(rec->guid, 36, guid, NULL), 0);
    strand_registry_schema_release(rec);

    const uint8_t payload[] = {0x04, 0x02, 'h'}; /* {"id":2,"name":"h"} */
    const char *expected = "{\"id\":2,\"name\":\"h\"}";
    strand_registry_client_t *fresh = new_client();
    strand_deserializer_t *des = deserializer(fresh, 0, NULL);
    strand_deserializer_t *keys = deserializer(fresh, 1, NULL);

    /* Magic 1 + GUID in the value. */
    uint8_t framed[1 + 16 + sizeof payload];
    framed[0] = 1;
    memcpy(framed + 1, guid, 16);
    memcpy(framed + 17, payload, sizeof payload);
    des_eq(des, framed, sizeof framed, expected, -1); /* a GUID fetch carries no id */

    /* The id in the value header (magic 0 and magic 1); the value unframed. */
    uint8_t id_header[5] = {0, (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8),
                            (uint8_t)id};
    uint8_t guid_header[17];
    guid_header[0] = 1;
    memcpy(guid_header + 1, guid, 16);
    const void *header_values[] = {id_header, guid_header};
    size_t header_lens[] = {sizeof id_header, sizeof guid_header};
    for (int i = 0; i < 2; i++) {
        strand_serde_header_t headers[] = {
            {"other", "x", 1},
            {"__value_schema_id", header_values[i], header_lens[i]},
        };
        char *json = NULL;
        int32_t got = -1;
        strand_serde_error_t err = {0};
        int rc = strand_deserializer_deserialize_json(des, "hdr", payload, sizeof payload, headers,
                                                      2, &json, NULL, &got, &err);
        ck_assert_msg(rc == 0, "%s", err.message);
        ck_assert_str_eq(json, expected);
        ck_assert_int_eq(got, i == 0 ? id : -1);
        strand_serde_free(json);
        /* The key side ignores the value's header: the payload is then read
         * as framed, and 0x04 is no magic byte. */
        rc = strand_deserializer_deserialize_json(keys, "hdr", payload, sizeof payload, headers, 2,
                                                  &json, NULL, &got, &err);
        ck_assert_int_eq(rc, STRAND_SERDE_ERR_FRAMING);
        ck_assert_msg(strstr(err.message, "unknown magic byte 0x04"), "%s", err.message);
        ck_assert_ptr_null(json);
        strand_serde_header_t key_headers[] = {
            {"__key_schema_id", header_values[i], header_lens[i]},
        };
        rc = strand_deserializer_deserialize_json(keys, "hdr", payload, sizeof payload, key_headers,
                                                  1, &json, NULL, &got, &err);
        ck_assert_msg(rc == 0, "%s", err.message);
        ck_assert_str_eq(json, expected);
        strand_serde_free(json);
    }
    /* A bad header is a framing error naming the header. */
    strand_serde_header_t bad[] = {{"__value_schema_id", "\x07\x00", 2}};
    char *json = NULL;
    strand_serde_error_t err = {0};
    ck_assert_int_eq(strand_deserializer_deserialize_json(des, "hdr", payload, sizeof payload, bad,
                                                          1, &json, NULL, NULL, &err),
                     STRAND_SERDE_ERR_FRAMING);
    ck_assert_msg(strstr(err.message, "header"), "%s", err.message);

    /* Unknown magic in the value itself. */
    uint8_t seven[] = {7, 0, 0, 0, 1, 0};
    ck_assert_int_eq(strand_deserializer_deserialize_json(des, "hdr", seven, sizeof seven, NULL, 0,
                                                          &json, NULL, NULL, &err),
                     STRAND_SERDE_ERR_FRAMING);
    ck_assert_msg(strstr(err.message, "unknown magic byte 0x07"), "%s", err.message);

    /* An unknown GUID. */
    uint8_t unknown[1 + 16 + 1] = {1,    0x89, 0x79, 0x17, 0x62, 0x23, 0x36, 0x41, 0x86,
                                   0x96, 0x74, 0x29, 0x9b, 0x90, 0xa8, 0x02, 0xe2, 0};
    ck_assert_int_eq(strand_deserializer_deserialize_json(des, "hdr", unknown, sizeof unknown, NULL,
                                                          0, &json, NULL, NULL, &err),
                     STRAND_SERDE_ERR_UNKNOWN_SCHEMA);
    ck_assert_msg(strstr(err.message, "89791762-2336-4186-9674-299b90a802e2"), "%s", err.message);

    strand_deserializer_free(keys);
    strand_deserializer_free(des);
    strand_registry_client_free(fresh);
    strand_registry_client_free(c);
}
END_TEST

static const char *WRITER =
    "{\"type\":\"record\",\"name\":\"Shape\",\"namespace\":\"p\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"int\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\",\"GREEN\","
    "\"BLUE\"]}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"gone\",\"type\":\"string\"}]}";

START_TEST(projection_with_reader)
{
    /* Promotions (int->long, float->double, string->bytes, int in a union
     * -> long), enum symbols by name in another order, a new field with its
     * default, a writer field dropped. */
    const char *reader =
        "{\"type\":\"record\",\"name\":\"Shape\",\"namespace\":\"p\",\"fields\":["
        "{\"name\":\"n\",\"type\":\"long\"},"
        "{\"name\":\"f\",\"type\":\"double\"},"
        "{\"name\":\"s\",\"type\":\"bytes\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"BLUE\","
        "\"GREEN\",\"RED\"]}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
        "{\"name\":\"added\",\"type\":\"int\",\"default\":7}]}";
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, WRITER, NULL);
    size_t len;
    uint8_t *out = ser_ok(
        ser, "proj",
        "{\"n\":5,\"f\":1.5,\"s\":\"hi\",\"e\":\"GREEN\",\"u\":{\"int\":3},\"gone\":\"bye\"}",
        &len);
    int32_t id = framed_id(out, len);

    strand_deserializer_t *plain = deserializer(c, 0, NULL);
    des_eq(plain, out, len,
           "{\"n\":5,\"f\":1.5,\"s\":\"hi\",\"e\":\"GREEN\",\"u\":{\"int\":3},\"gone\":\"bye\"}",
           id);
    strand_deserializer_t *des = deserializer(c, 0, reader);
    des_eq(des, out, len,
           "{\"n\":5,\"f\":1.5,\"s\":\"hi\",\"e\":\"GREEN\",\"u\":{\"long\":3},\"added\":7}", id);
    /* The projected avro-c value is of the reader's class. */
    avro_value_t v;
    strand_serde_error_t err = {0};
    ck_assert_int_eq(
        strand_deserializer_deserialize_avro(des, "proj", out, len, NULL, 0, &v, NULL, &err), 0);
    avro_value_t field;
    int64_t n = 0;
    ck_assert_int_eq(avro_value_get_by_name(&v, "n", &field, NULL), 0);
    ck_assert_int_eq(avro_value_get_long(&field, &n), 0);
    ck_assert_int_eq(n, 5);
    int symbol = -1;
    ck_assert_int_eq(avro_value_get_by_name(&v, "e", &field, NULL), 0);
    avro_value_get_enum(&field, &symbol);
    ck_assert_int_eq(symbol, 1); /* GREEN in the reader's order */
    int32_t added = 0;
    avro_value_get_by_name(&v, "added", &field, NULL);
    avro_value_get_int(&field, &added);
    ck_assert_int_eq(added, 7);
    avro_value_decref(&v);

    /* A reader that cannot read the writer's data: a field with no default,
     * an enum missing a writer symbol. */
    const char *no_default =
        "{\"type\":\"record\",\"name\":\"Shape\",\"namespace\":\"p\",\"fields\":["
        "{\"name\":\"n\",\"type\":\"int\"},{\"name\":\"missing\",\"type\":\"int\"}]}";
    const char *fewer_symbols =
        "{\"type\":\"record\",\"name\":\"Shape\",\"namespace\":\"p\",\"fields\":["
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\"]}}]}";
    const char *with_enum_default =
        "{\"type\":\"record\",\"name\":\"Shape\",\"namespace\":\"p\",\"fields\":["
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":[\"RED\","
        "\"OTHER\"],\"default\":\"OTHER\"}}]}";
    const char *refused[] = {no_default, fewer_symbols};
    const char *names[] = {"missing", "GREEN"};
    for (int i = 0; i < 2; i++) {
        strand_deserializer_t *bad = deserializer(c, 0, refused[i]);
        char *json = NULL;
        for (int round = 0; round < 2; round++) { /* the refusal is remembered, same answer */
            int rc = strand_deserializer_deserialize_json(bad, "proj", out, len, NULL, 0, &json,
                                                          NULL, NULL, &err);
            ck_assert_int_eq(rc, STRAND_SERDE_ERR_INCOMPATIBLE);
            ck_assert_ptr_null(json);
            ck_assert_msg(strstr(err.message, "cannot read data of schema"), "%s", err.message);
            ck_assert_msg(strstr(err.message, names[i]), "%s", err.message);
        }
        strand_deserializer_free(bad);
    }
    strand_deserializer_t *dflt = deserializer(c, 0, with_enum_default);
    des_eq(dflt, out, len, "{\"e\":\"OTHER\"}", id);
    strand_deserializer_free(dflt);

    /* An invalid reader schema is refused at creation. */
    strand_deserializer_t *none = NULL;
    ck_assert_int_eq(
        strand_deserializer_new(c, NULL, STRAND_SERDE_AVRO, 0, "{\"type\":1}", 10, &none, &err),
        STRAND_SERDE_ERR_SCHEMA);
    ck_assert_ptr_null(none);
    ck_assert_msg(strstr(err.message, "reader schema"), "%s", err.message);

    strand_serde_free(out);
    strand_deserializer_free(des);
    strand_deserializer_free(plain);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(every_truncation)
{
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, WRITER, NULL);
    size_t len;
    uint8_t *out = ser_ok(
        ser, "trunc",
        "{\"n\":-300,\"f\":2.5,\"s\":\"text\",\"e\":\"BLUE\",\"u\":{\"int\":1},\"gone\":\"g\"}",
        &len);
    strand_deserializer_t *des = deserializer(c, 0, NULL);
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so the sanitizer sees any overread. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, out, n);
        char *json = NULL;
        strand_serde_error_t err = {0};
        int rc = strand_deserializer_deserialize_json(des, "trunc", copy, n, NULL, 0, &json, NULL,
                                                      NULL, &err);
        ck_assert_msg(rc == (n < 5 ? STRAND_SERDE_ERR_FRAMING : STRAND_SERDE_ERR_DECODE),
                      "%zu bytes: %d %s", n, rc, err.message);
        ck_assert_ptr_null(json);
        ck_assert_str_ne(err.message, "");
        avro_value_t v;
        rc = strand_deserializer_deserialize_avro(des, "trunc", copy, n, NULL, 0, &v, NULL, &err);
        ck_assert_int_ne(rc, 0);
        ck_assert_ptr_null(v.iface);
        free(copy);
    }
    /* And a trailing byte too many. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, out, len);
    longer[len] = 0;
    char *json = NULL;
    strand_serde_error_t err = {0};
    ck_assert_int_eq(strand_deserializer_deserialize_json(des, "trunc", longer, len + 1, NULL, 0,
                                                          &json, NULL, NULL, &err),
                     STRAND_SERDE_ERR_DECODE);
    free(longer);
    strand_serde_free(out);
    strand_deserializer_free(des);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(references_resolved)
{
    strand_registry_client_t *c = new_client();
    const char *inner = "{\"type\":\"record\",\"name\":\"Money\",\"namespace\":\"r\","
                        "\"fields\":[{\"name\":\"cents\",\"type\":\"long\"}]}";
    register_text(c, "money", inner);
    const char *outer = "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"r\","
                        "\"fields\":[{\"name\":\"total\",\"type\":\"r.Money\"}]}";
    strand_registry_reference_t ref = {.name = "r.Money", .subject = "money", .version = 1};
    strand_registry_schema_input_t in = {
        .schema = outer, .schema_len = strlen(outer), .references = &ref, .reference_count = 1};
    const strand_registry_schema_t *s = NULL;
    strand_registry_error_t re = {0};
    ck_assert_int_eq(strand_registry_register(c, "orders-value", &in, 0, &s, &re), 0);
    int32_t id = s->id;
    strand_registry_schema_release(s);

    uint8_t framed[] = {
        0,   (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id, 0x90,
        0x03}; /* cents 200 */
    strand_deserializer_t *des = deserializer(c, 0, NULL);
    des_eq(des, framed, sizeof framed, "{\"total\":{\"cents\":200}}", id);
    strand_deserializer_free(des);
    strand_registry_client_free(c);
}
END_TEST

/* ---- configuration -------------------------------------------------------------------- */

START_TEST(configuration)
{
    strand_serde_config_t *config = strand_serde_config_new();
    strand_serde_error_t err = {0};
    ck_assert_int_eq(strand_serde_config_set(config, "auto.register.schemas", "yes", &err),
                     STRAND_SERDE_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "auto.register.schemas"));
    ck_assert_int_eq(strand_serde_config_set(config, "value.subject.name.strategy",
                                             "io.confluent.kafka.serializers.subject.Nope", &err),
                     STRAND_SERDE_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "value.subject.name.strategy"));
    ck_assert_int_eq(strand_serde_config_set(config, "use.schema.id", "x", &err),
                     STRAND_SERDE_ERR_CONFIG);
    ck_assert_int_eq(strand_serde_config_set(config, "use.latest.version", "TRUE", &err), 0);
    /* Names serde does not know go to the registry client. */
    ck_assert_int_eq(strand_serde_config_set(config, "request.timeout.ms", "2000", &err), 0);

    /* No schema.registry.url: the client cannot be made. */
    strand_serializer_t *ser = NULL;
    ck_assert_int_eq(strand_serializer_new(NULL, config, STRAND_SERDE_AVRO, 0, NULL, 0, &ser, &err),
                     STRAND_SERDE_ERR_CONFIG);
    ck_assert_ptr_null(ser);
    ck_assert_int_eq(strand_serializer_new(NULL, NULL, STRAND_SERDE_AVRO, 0, NULL, 0, &ser, &err),
                     STRAND_SERDE_ERR_ARGUMENT);

    /* With it, the serializer makes and owns its client. */
    strand_serde_config_set(config, "schema.registry.url", shared_broker.registry_url, &err);
    strand_serde_config_set(config, "auto.register.schemas", "true", &err);
    ck_assert_int_eq(
        strand_serializer_new(NULL, config, STRAND_SERDE_AVRO, 0, "\"long\"", 6, &ser, &err), 0);
    uint8_t *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(
        strand_serializer_serialize_json(ser, "owned", "-1", 2, NULL, 0, &out, &len, &err), 0);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(out[5], 0x01);
    strand_serde_free(out);
    strand_serializer_free(ser);

    /* Formats to come say so; a bad schema is refused at creation. */
    strand_deserializer_t *des = NULL;
    ck_assert_int_eq(
        strand_deserializer_new(NULL, config, STRAND_SERDE_PROTOBUF, 0, NULL, 0, &des, &err),
        STRAND_SERDE_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.message, "PROTOBUF"));
    ck_assert_int_eq(strand_serializer_new(NULL, config, STRAND_SERDE_JSON, 0, NULL, 0, &ser, &err),
                     STRAND_SERDE_ERR_UNSUPPORTED);
    const char *bad_name = "{\"type\":\"record\",\"name\":\"1x\",\"fields\":[]}";
    ck_assert_int_eq(strand_serializer_new(NULL, config, STRAND_SERDE_AVRO, 0, bad_name,
                                           strlen(bad_name), &ser, &err),
                     STRAND_SERDE_ERR_SCHEMA);
    ck_assert_ptr_null(ser);
    strand_serde_config_free(config);

    /* With no schema anywhere, serializing says what to do. */
    config = config_of("schema.registry.url", shared_broker.registry_url, NULL);
    ck_assert_int_eq(strand_serializer_new(NULL, config, STRAND_SERDE_AVRO, 0, NULL, 0, &ser, &err),
                     0);
    ck_assert_int_eq(
        strand_serializer_serialize_json(ser, "none", "1", 1, NULL, 0, &out, &len, &err),
        STRAND_SERDE_ERR_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.message, "no schema"));
    strand_serializer_free(ser);
    strand_serde_config_free(config);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------------ */

START_TEST(allocation_failures)
{
    const char *reader = "{\"type\":\"record\",\"name\":\"Shape\",\"namespace\":\"p\",\"fields\":["
                         "{\"name\":\"n\",\"type\":\"long\"},{\"name\":\"s\",\"type\":\"bytes\"},"
                         "{\"name\":\"added\",\"type\":\"int\",\"default\":7}]}";
    /* n -300, f 2.5, s "ab", e BLUE, u int 1, gone "g" */
    const uint8_t framed[] = {0,    0,    0,   0,   1,    0xd7, 0x04, 0x00, 0x00, 0x20,
                              0x40, 0x04, 'a', 'b', 0x04, 0x02, 0x02, 0x02, 'g'};
    long n = 0;
    for (;; n++) {
        strand_deserializer_t *des = NULL;
        strand_serde_error_t err = {0};
        char *json = NULL;
        sd_alloc_fail_after(n);
        int rc = serde__deserializer_new_offline(NULL, STRAND_SERDE_AVRO, 0, reader, strlen(reader),
                                                 &des, &err);
        if (!rc)
            rc = serde__deserializer_seed(des, 1, NULL, WRITER, strlen(WRITER), &err);
        if (!rc)
            rc = strand_deserializer_deserialize_json(des, "t", framed, sizeof framed, NULL, 0,
                                                      &json, NULL, NULL, &err);
        sd_alloc_fail_after(-1);
        if (rc == 0) {
            ck_assert_str_eq(json, "{\"n\":-300,\"s\":\"ab\",\"added\":7}");
            strand_serde_free(json);
            strand_deserializer_free(des);
            break;
        }
        ck_assert_int_lt(rc, 0);
        ck_assert_int_eq(err.code, rc);
        ck_assert_str_ne(err.message, "");
        ck_assert_ptr_null(json);
        /* A failure to allocate is not remembered: the same call works now. */
        if (des && serde__deserializer_seed(des, 1, NULL, WRITER, strlen(WRITER), NULL) == 0) {
            rc = strand_deserializer_deserialize_json(des, "t", framed, sizeof framed, NULL, 0,
                                                      &json, NULL, NULL, &err);
            ck_assert_msg(rc == 0, "after failing allocation %ld: %s", n, err.message);
            strand_serde_free(json);
        }
        strand_deserializer_free(des);
    }
    ck_assert_int_gt(n, 10);

    /* The serializer: a schema given with the call, registered, encoded. */
    strand_registry_client_t *c = new_client();
    strand_serializer_t *ser = serializer(c, 0, NULL, NULL);
    for (n = 0;; n++) {
        uint8_t *out = NULL;
        size_t len = 0;
        strand_serde_error_t err = {0};
        sd_alloc_fail_after(n);
        int rc = strand_serializer_serialize_json(ser, "alloc", "{\"a\":7}", 7, V1, strlen(V1),
                                                  &out, &len, &err);
        sd_alloc_fail_after(-1);
        if (rc == 0) {
            ck_assert_uint_eq(len, 6);
            strand_serde_free(out);
            break;
        }
        ck_assert_ptr_null(out);
        ck_assert_int_lt(rc, 0);
        ck_assert_str_ne(err.message, "");
    }
    ck_assert_int_gt(n, 3);
    strand_serializer_free(ser);
    strand_registry_client_free(c);
}
END_TEST

/* ---- the JSON fast path ---------------------------------------------------------------- */

static const char *ALL_KINDS =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"f\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"y\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
    "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"string\",{\"type\":\"record\",\"name\":\"In\","
    "\"fields\":[{\"name\":\"z\",\"type\":\"int\",\"default\":4}]}]}]}";

/* The JSON for ALL_KINDS with the members given (printf-style pieces). */
static const char *const all_kinds_values[] = {
    "{\"i\":1,\"l\":-2,\"f\":1.5,\"d\":-0.25,\"b\":true,\"n\":null,\"s\":\"abc\","
    "\"y\":\"\\u0000\\u00ff\",\"e\":\"B\",\"x\":\"hi\",\"a\":[1,2,3],\"m\":{\"k\":\"v\"},"
    "\"u\":{\"f.In\":{\"z\":9}}}",
    /* members in another order, whitespace everywhere */
    " { \"u\" : null , \"m\" : { } , \"a\" : [ ] , \"x\" : \"\\u00e9\\u0001\" , \"e\" : \"A\" ,"
    " \"y\" : \"\" , \"s\" : \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u20ac\\ud83d\\ude00\" , \"n\" : null ,"
    " \"b\" : false , \"d\" : 1e300 , \"f\" : 3 , \"l\" : 9223372036854775807 ,"
    " \"i\" : -2147483648 } ",
    "{\"i\":0,\"l\":-9223372036854775808,\"f\":-0.0,\"d\":1E-400,\"b\":true,\"n\":null,"
    "\"s\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"y\":\"\xc3\xbf\",\"e\":\"A\","
    "\"x\":\"\xc2\x80\xc3\xbf\",\"a\":[0],\"m\":{\"a\":\"1\",\"b\":\"2\",\"\xc3\xa9\":\"3\"},"
    "\"u\":{\"string\":\"s\"}}",
    /* the full path's business: each must still come out the same */
    "{\"i\":1.0,\"l\":1,\"f\":1,\"d\":1,\"b\":true,\"n\":null,\"s\":\"\",\"y\":\"\",\"e\":\"A\","
    "\"x\":\"ab\",\"a\":[],\"m\":{},\"u\":null}",
    "{\"i\":1,\"l\":1,\"f\":\"NaN\",\"d\":\"-Infinity\",\"b\":true,\"n\":null,\"s\":\"\","
    "\"y\":\"\",\"e\":\"A\",\"x\":\"ab\",\"a\":[],\"m\":{},\"u\":{\"f.In\":{}}}",
    "{\"i\":1,\"l\":1,\"f\":1,\"d\":1,\"b\":true,\"n\":null,\"s\":\"\",\"y\":\"\",\"e\":\"A\","
    "\"x\":\"ab\",\"a\":[],\"m\":{\"k\":\"1\",\"k\":\"2\"},\"u\":null}",
    "{\"i\":1,\"i\":2,\"l\":1,\"f\":1,\"d\":1,\"b\":true,\"n\":null,\"s\":\"\",\"y\":\"\","
    "\"e\":\"A\",\"x\":\"ab\",\"a\":[],\"m\":{},\"u\":null}",
    "{\"i\":2147483648,\"l\":1,\"f\":1,\"d\":1,\"b\":true,\"n\":null,\"s\":\"\",\"y\":\"\","
    "\"e\":\"A\",\"x\":\"ab\",\"a\":[],\"m\":{},\"u\":null}",
    "{\"i\":1,\"l\":1,\"f\":1,\"d\":1e999,\"b\":true,\"n\":null,\"s\":\"\",\"y\":\"\u0100\","
    "\"e\":\"C\",\"x\":\"abc\",\"a\":[1,],\"m\":{},\"u\":null} trailing",
    "{\"i\":01}",
    "{\"i\":1,\"l\":1,\"f\":1,\"d\":1,\"b\":true,\"n\":null,\"s\":\"\\ud800\",\"y\":\"\","
    "\"e\":\"A\",\"x\":\"ab\",\"a\":[],\"m\":{},\"u\":null,\"extra\":1}",
    "{\"i\":1,\"l\":1,\"f\":1,\"d\":1,\"b\":true,\"n\":null,\"s\":\"\xff\",\"y\":\"\","
    "\"e\":\"A\",\"x\":\"ab\",\"a\":[],\"m\":{},\"u\":null}",
    "",
    "[",
};

/* The fast path either gives up or writes exactly what the full path does. */
static int fast_matches_full(const char *schema_text, const char *json)
{
    strand_avro_schema_t *schema = NULL;
    strand_avro_codec_t *codec = NULL;
    ck_assert_int_eq(strand_avro_schema_parse(schema_text, strlen(schema_text), &schema, NULL), 0);
    ck_assert_int_eq(strand_avro_codec_new(schema, &codec, NULL), 0);
    sd_writer_t fast, full;
    sd_writer_init(&fast);
    sd_writer_init(&full);
    sd_write_u8(&fast, 0xaa); /* what the prefix would be: left alone */
    int fast_rc = serde__avro_json_fast(codec, json, strlen(json), &fast);
    json_t *value = json_loadb(json, strlen(json), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int full_rc =
        value ? avro_value__encode_json(codec, value, STRAND_AVRO_RAW_BYTES, &full, NULL) : -1;
    json_decref(value);
    if (fast_rc == 0) {
        ck_assert_msg(full_rc == 0, "fast path took what the full path refuses: %s", json);
        ck_assert_uint_eq(fast.len, full.len + 1);
        ck_assert_msg(full.len == 0 || memcmp(fast.buf + 1, full.buf, full.len) == 0,
                      "different bytes for %s", json);
    } else {
        ck_assert_uint_eq(fast.len, 1);
    }
    sd_writer_free(&fast);
    sd_writer_free(&full);
    strand_avro_codec_free(codec);
    strand_avro_schema_free(schema);
    return fast_rc == 0;
}

START_TEST(json_fast_path_matches)
{
    size_t n = sizeof all_kinds_values / sizeof all_kinds_values[0];
    for (size_t i = 0; i < n; i++) {
        int fast = fast_matches_full(ALL_KINDS, all_kinds_values[i]);
        /* The first three are the common shapes the fast path is for. */
        if (i < 3)
            ck_assert_msg(fast, "the fast path gave up on %s", all_kinds_values[i]);
    }
    ck_assert(fast_matches_full("\"bytes\"", "\"\\u0001\xc3\xbf\""));
    ck_assert(fast_matches_full("\"bytes\"", " \"\" "));
    ck_assert(!fast_matches_full("\"bytes\"", "\"\xc4\x80\""));
    ck_assert(fast_matches_full("[\"null\",\"long\",\"string\"]", "{\"long\":-1}"));
    ck_assert(fast_matches_full("[\"null\",\"long\",\"string\"]", "null"));
    ck_assert(!fast_matches_full("[\"long\",\"string\"]", "null"));
    ck_assert(!fast_matches_full("[\"null\",\"long\"]", "{\"long\":1,\"x\":2}"));
    ck_assert(fast_matches_full("{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":"
                                "\"double\"}}",
                                "[{\"a\":1.5},{},{\"b\":2,\"c\":-3e-5}]"));
    ck_assert(fast_matches_full(WRITER, "{\"n\":5,\"f\":1.5,\"s\":\"hi\",\"e\":\"GREEN\","
                                        "\"u\":{\"int\":3},\"gone\":\"bye\"}"));
    /* A missing field with a default goes the full path. */
    ck_assert(!fast_matches_full(V2, "{\"a\":1}"));
    ck_assert(fast_matches_full(V2, "{\"a\":1,\"b\":\"x\"}"));
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------- */

#define THREAD_IDS 4
#define THREADS 8

typedef struct thread_arg {
    strand_serializer_t *ser;
    strand_deserializer_t *des;
    pthread_barrier_t *barrier;
    uint8_t *framed[THREAD_IDS];
    size_t framed_len[THREAD_IDS];
    int failures;
} thread_arg_t;

static void *thread_main(void *p)
{
    thread_arg_t *a = p;
    pthread_barrier_wait(a->barrier);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < THREAD_IDS; i++) {
            char *json = NULL;
            char expected[64];
            snprintf(expected, sizeof expected, "{\"v%d\":%d}", i, i);
            if (strand_deserializer_deserialize_json(a->des, "threads", a->framed[i],
                                                     a->framed_len[i], NULL, 0, &json, NULL, NULL,
                                                     NULL) != 0 ||
                strcmp(json, expected) != 0)
                a->failures++;
            strand_serde_free(json);
        }
        uint8_t *out = NULL;
        size_t len = 0;
        if (strand_serializer_serialize_json(a->ser, "threads", "{\"a\":1}", 7, NULL, 0, &out, &len,
                                             NULL) != 0 ||
            len != 6)
            a->failures++;
        strand_serde_free(out);
    }
    return NULL;
}

START_TEST(threads_share_one_cache)
{
    strand_registry_client_t *setup = new_client();
    thread_arg_t base = {0};
    for (int i = 0; i < THREAD_IDS; i++) {
        char schema[128], value[32], topic[32];
        snprintf(schema, sizeof schema,
                 "{\"type\":\"record\",\"name\":\"T%d\",\"fields\":[{\"name\":\"v%d\",\"type\":"
                 "\"int\"}]}",
                 i, i);
        snprintf(value, sizeof value, "{\"v%d\":%d}", i, i);
        snprintf(topic, sizeof topic, "threads%d", i);
        strand_serializer_t *s = serializer(setup, 0, schema, NULL);
        base.framed[i] = ser_ok(s, topic, value, &base.framed_len[i]);
        strand_serializer_free(s);
    }
    strand_registry_client_free(setup);

    for (int round = 0; round < 3; round++) {
        strand_registry_client_t *reading = new_client();
        strand_registry_client_t *writing = new_client();
        strand_deserializer_t *des = deserializer(reading, 0, NULL);
        strand_serializer_t *ser = serializer(writing, 0, V1, NULL);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, THREADS);
        pthread_t threads[THREADS];
        thread_arg_t args[THREADS];
        for (int t = 0; t < THREADS; t++) {
            args[t] = base;
            args[t].ser = ser;
            args[t].des = des;
            args[t].barrier = &barrier;
            ck_assert_int_eq(pthread_create(&threads[t], NULL, thread_main, &args[t]), 0);
        }
        for (int t = 0; t < THREADS; t++)
            pthread_join(threads[t], NULL);
        pthread_barrier_destroy(&barrier);
        for (int t = 0; t < THREADS; t++)
            ck_assert_int_eq(args[t].failures, 0);
        /* One fetch per id; one registration for the one schema and subject. */
        strand_registry_stats_t stats;
        strand_registry_client_stats(reading, &stats);
        ck_assert_uint_eq(stats.http_requests, THREAD_IDS);
        strand_registry_client_stats(writing, &stats);
        ck_assert_uint_eq(stats.http_requests, 1);
        strand_serializer_free(ser);
        strand_deserializer_free(des);
        strand_registry_client_free(writing);
        strand_registry_client_free(reading);
    }
    for (int i = 0; i < THREAD_IDS; i++)
        strand_serde_free(base.framed[i]);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("serde");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, wire_bytes_exact);
    tcase_add_test(tc, tombstones);
    tcase_add_test(tc, top_level_bytes_raw);
    tcase_add_test(tc, subject_strategies);
    tcase_add_test(tc, auto_register_off_looks_up);
    tcase_add_test(tc, use_latest_version);
    tcase_add_test(tc, latest_compatibility_strict);
    tcase_add_test(tc, use_schema_id);
    tcase_add_test(tc, normalize_schemas);
    tcase_add_test(tc, invalid_values_refused);
    tcase_add_test(tc, avro_c_values);
    tcase_add_test(tc, headers_and_guid_framing);
    tcase_add_test(tc, projection_with_reader);
    tcase_add_test(tc, every_truncation);
    tcase_add_test(tc, references_resolved);
    tcase_add_test(tc, configuration);
    tcase_add_test(tc, threads_share_one_cache);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    TCase *local = tcase_create("local");
    tcase_add_test(local, json_fast_path_matches);
    suite_add_tcase(s, local);
    return unit_run(s);
}
