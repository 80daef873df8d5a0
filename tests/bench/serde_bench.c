/*
 * serde_bench.c - libstrand-serde's hot path against avro-c alone, in the
 * same run: serialize (validate, encode, frame, cache lookups) and
 * deserialize (framing, writer-schema lookup, bounds-checked decode) of a
 * 20-field Avro record, beside avro-c encoding and decoding the same values
 * with the schema already known. The schema is registered once, against the
 * registry given on the command line, before the clock starts.
 *
 *     serde_bench --registry URL [--count 200000]
 *
 * Both sides start from the same avro-c values and end with something the
 * caller owns, as an application needs:
 *   serialize:   strand_serializer_serialize_avro -> framed bytes (freed);
 *     baseline:  avro_value_write into a reused memory writer, then the
 *                bytes copied into a buffer of their own (freed).
 *   deserialize: strand_deserializer_deserialize_avro -> a new avro-c value
 *                (released);
 *     baseline:  a new generic value, avro_value_read from a reused memory
 *                reader over the payload (released).
 * Between the two, for where the time goes: the Avro value library alone
 * (strand_avro_encode_value: validate + encode; strand_avro_decode_value:
 * bounds-checked decode), with no registry, framing or caches. The JSON
 * paths (serialize_json / deserialize_json) are timed too, for information:
 * avro-c has no JSON codec to put beside them.
 *
 * Prints a table on stderr and one JSON line on stdout: records/s of each
 * side and their ratios (strand / baseline; target >= 0.8), and the HTTP
 * requests the registry client made while the clock ran (0: every lookup
 * was a cache hit).
 */
#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "strand/avro.h"
#include "strand/avro_value.h"
#include "strand/registry_client.h"
#include "strand/serde.h"

#define VALUES 64
#define TOPIC "bench-serde"

static const char SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"com.example.bench\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"user\",\"type\":\"string\"},"
    "{\"name\":\"session\",\"type\":\"string\"},"
    "{\"name\":\"ts\",\"type\":\"long\"},"
    "{\"name\":\"count\",\"type\":\"int\"},"
    "{\"name\":\"score\",\"type\":\"double\"},"
    "{\"name\":\"ratio\",\"type\":\"float\"},"
    "{\"name\":\"active\",\"type\":\"boolean\"},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\","
    "\"symbols\":[\"VIEW\",\"CLICK\",\"BUY\",\"LEAVE\"]}},"
    "{\"name\":\"country\",\"type\":\"string\"},"
    "{\"name\":\"city\",\"type\":\"string\"},"
    "{\"name\":\"lat\",\"type\":\"double\"},"
    "{\"name\":\"lon\",\"type\":\"double\"},"
    "{\"name\":\"age\",\"type\":\"int\"},"
    "{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"version\",\"type\":\"int\"},"
    "{\"name\":\"flags\",\"type\":\"long\"},"
    "{\"name\":\"payload\",\"type\":\"bytes\"},"
    "{\"name\":\"referrer\",\"type\":[\"null\",\"string\"],\"default\":null}"
    "]}";

static void check(int rc, const char *what)
{
    if (rc != 0)
        die("%s: %s", what, avro_strerror());
}

/* Value i: every field set, strings and arrays of varying lengths. */
static void fill(avro_value_t *v, int i)
{
    static const char *const cities[] = {"Amsterdam", "Berlin", "Lisbon", "Oslo", "Rome"};
    char text[128];
    avro_value_t f, b, item;
    check(avro_value_get_by_name(v, "id", &f, NULL) || avro_value_set_long(&f, 1000000LL + i),
          "id");
    snprintf(text, sizeof text, "user-%d", i * 7919);
    check(avro_value_get_by_name(v, "user", &f, NULL) || avro_value_set_string(&f, text), "user");
    snprintf(text, sizeof text, "session-%08x-%04x", (unsigned)i * 2654435761u, (unsigned)i);
    check(avro_value_get_by_name(v, "session", &f, NULL) || avro_value_set_string(&f, text), "s");
    check(avro_value_get_by_name(v, "ts", &f, NULL) || avro_value_set_long(&f, 1700000000000LL + i),
          "ts");
    check(avro_value_get_by_name(v, "count", &f, NULL) || avro_value_set_int(&f, i % 1000), "c");
    check(avro_value_get_by_name(v, "score", &f, NULL) || avro_value_set_double(&f, i * 0.37),
          "score");
    check(avro_value_get_by_name(v, "ratio", &f, NULL) || avro_value_set_float(&f, (float)i / 64),
          "ratio");
    check(avro_value_get_by_name(v, "active", &f, NULL) || avro_value_set_boolean(&f, i % 2), "a");
    check(avro_value_get_by_name(v, "kind", &f, NULL) || avro_value_set_enum(&f, i % 4), "kind");
    check(avro_value_get_by_name(v, "country", &f, NULL) || avro_value_set_string(&f, "NL"), "co");
    check(avro_value_get_by_name(v, "city", &f, NULL) || avro_value_set_string(&f, cities[i % 5]),
          "city");
    check(avro_value_get_by_name(v, "lat", &f, NULL) || avro_value_set_double(&f, 52.37 + i), "la");
    check(avro_value_get_by_name(v, "lon", &f, NULL) || avro_value_set_double(&f, 4.89 - i), "lo");
    check(avro_value_get_by_name(v, "age", &f, NULL) || avro_value_set_int(&f, 18 + i % 60), "age");
    snprintf(text, sizeof text, "user%d@example.com", i);
    check(avro_value_get_by_name(v, "email", &f, NULL), "email");
    if (i % 3)
        check(avro_value_set_branch(&f, 1, &b) || avro_value_set_string(&b, text), "email");
    else
        check(avro_value_set_branch(&f, 0, &b) || avro_value_set_null(&b), "email");
    check(avro_value_get_by_name(v, "tags", &f, NULL), "tags");
    for (int t = 0; t < i % 4; t++) {
        snprintf(text, sizeof text, "tag-%d", t);
        check(avro_value_append(&f, &item, NULL) || avro_value_set_string(&item, text), "tag");
    }
    check(avro_value_get_by_name(v, "version", &f, NULL) || avro_value_set_int(&f, 3), "version");
    check(avro_value_get_by_name(v, "flags", &f, NULL) || avro_value_set_long(&f, 1LL << (i % 40)),
          "flags");
    memset(text, 'x', sizeof text);
    check(avro_value_get_by_name(v, "payload", &f, NULL) ||
              avro_value_set_bytes(&f, text, (size_t)(16 + i % 32)),
          "payload");
    check(avro_value_get_by_name(v, "referrer", &f, NULL) || avro_value_set_branch(&f, 0, &b) ||
              avro_value_set_null(&b),
          "referrer");
}

static double per_second(long long count, long long ns)
{
    return ns > 0 ? (double)count * 1e9 / (double)ns : 0;
}

int main(int argc, char **argv)
{
    bench_program = "serde_bench";
    const char *registry = NULL;
    long long count = 200000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--registry") == 0 && i + 1 < argc)
            registry = argv[++i];
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = parse_number("count", argv[++i], 1000, 1000000000);
        else
            die("usage: serde_bench --registry URL [--count N]");
    }
    if (!registry)
        die("--registry URL is required");

    /* One registry client shared by the serializer and the deserializer, so
     * its counters show every request the benchmark made. */
    const char *keys[] = {"schema.registry.url"};
    const char *vals[] = {registry};
    strand_registry_client_t *client = NULL;
    strand_registry_error_t rerr;
    if (strand_registry_client_new(keys, vals, 1, &client, &rerr) != 0)
        die("registry client: %s", rerr.message);
    strand_serde_error_t err;
    strand_serializer_t *ser = NULL;
    strand_deserializer_t *des = NULL;
    if (strand_serializer_new(client, NULL, STRAND_SERDE_AVRO, 0, SCHEMA, strlen(SCHEMA), &ser,
                              &err) != 0 ||
        strand_deserializer_new(client, NULL, STRAND_SERDE_AVRO, 0, NULL, 0, &des, &err) != 0)
        die("serde: %s", err.message);

    avro_schema_t schema;
    if (avro_schema_from_json_length(SCHEMA, strlen(SCHEMA), &schema) != 0)
        die("avro-c: %s", avro_strerror());
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    strand_avro_schema_t *parsed = NULL;
    strand_avro_codec_t *codec = NULL;
    strand_avro_error_t aerr;
    if (strand_avro_schema_parse(SCHEMA, strlen(SCHEMA), &parsed, &aerr) != 0 ||
        strand_avro_codec_new(parsed, &codec, &aerr) != 0)
        die("codec: %s", aerr.message);
    avro_value_t values[VALUES];
    uint8_t *framed[VALUES];
    size_t framed_len[VALUES];
    size_t total_bytes = 0;
    for (int i = 0; i < VALUES; i++) {
        check(avro_generic_value_new(iface, &values[i]), "value");
        fill(&values[i], i);
        /* Registers the schema (the first time) and warms every cache. */
        if (strand_serializer_serialize_avro(ser, TOPIC, &values[i], NULL, 0, &framed[i],
                                             &framed_len[i], &err) != 0)
            die("serialize: %s", err.message);
        total_bytes += framed_len[i];
        avro_value_t back;
        if (strand_deserializer_deserialize_avro(des, TOPIC, framed[i], framed_len[i], NULL, 0,
                                                 &back, NULL, &err) != 0)
            die("deserialize: %s", err.message);
        if (!avro_value_equal(&values[i], &back))
            die("value %d did not come back equal", i);
        avro_value_decref(&back);
    }
    char *json[VALUES];
    size_t json_len[VALUES];
    for (int i = 0; i < VALUES; i++)
        if (strand_deserializer_deserialize_json(des, TOPIC, framed[i], framed_len[i], NULL, 0,
                                                 &json[i], &json_len[i], NULL, &err) != 0)
            die("deserialize json: %s", err.message);
    strand_registry_stats_t before, after;
    strand_registry_client_stats(client, &before);

    /* ---- serialize ---- */
    long long t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        uint8_t *out;
        size_t len;
        if (strand_serializer_serialize_avro(ser, TOPIC, &values[n % VALUES], NULL, 0, &out, &len,
                                             &err) != 0)
            die("serialize: %s", err.message);
        strand_serde_free(out);
    }
    long long ser_ns = bench_now_ns() - t0;

    t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        uint8_t *out;
        size_t len;
        if (strand_avro_encode_value(codec, &values[n % VALUES], 0, &out, &len, &aerr) != 0)
            die("encode: %s", aerr.message);
        strand_avro_free(out);
    }
    long long codec_ser_ns = bench_now_ns() - t0;

    static char wbuf[1 << 16];
    avro_writer_t writer = avro_writer_memory(wbuf, sizeof wbuf);
    t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        avro_writer_reset(writer);
        check(avro_value_write(writer, &values[n % VALUES]), "write");
        size_t len = (size_t)avro_writer_tell(writer);
        uint8_t *out = malloc(len);
        if (!out)
            die("out of memory");
        memcpy(out, wbuf, len);
        free(out);
    }
    long long base_ser_ns = bench_now_ns() - t0;

    /* ---- deserialize ---- */
    t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        int i = (int)(n % VALUES);
        avro_value_t out;
        if (strand_deserializer_deserialize_avro(des, TOPIC, framed[i], framed_len[i], NULL, 0,
                                                 &out, NULL, &err) != 0)
            die("deserialize: %s", err.message);
        avro_value_decref(&out);
    }
    long long des_ns = bench_now_ns() - t0;

    t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        int i = (int)(n % VALUES);
        avro_value_t out;
        if (strand_avro_decode_value(codec, framed[i] + 5, framed_len[i] - 5, 0, &out, &aerr) != 0)
            die("decode: %s", aerr.message);
        avro_value_decref(&out);
    }
    long long codec_des_ns = bench_now_ns() - t0;

    avro_reader_t reader =
        avro_reader_memory((const char *)framed[0] + 5, (int64_t)framed_len[0] - 5);
    t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        int i = (int)(n % VALUES);
        avro_value_t out;
        avro_reader_memory_set_source(reader, (const char *)framed[i] + 5,
                                      (int64_t)framed_len[i] - 5);
        check(avro_generic_value_new(iface, &out), "value");
        check(avro_value_read(reader, &out), "read");
        avro_value_decref(&out);
    }
    long long base_des_ns = bench_now_ns() - t0;

    /* ---- JSON, for information ---- */
    t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        int i = (int)(n % VALUES);
        uint8_t *out;
        size_t len;
        if (strand_serializer_serialize_json(ser, TOPIC, json[i], json_len[i], NULL, 0, &out, &len,
                                             &err) != 0)
            die("serialize json: %s", err.message);
        strand_serde_free(out);
    }
    long long ser_json_ns = bench_now_ns() - t0;
    t0 = bench_now_ns();
    for (long long n = 0; n < count; n++) {
        int i = (int)(n % VALUES);
        char *out;
        if (strand_deserializer_deserialize_json(des, TOPIC, framed[i], framed_len[i], NULL, 0,
                                                 &out, NULL, NULL, &err) != 0)
            die("deserialize json: %s", err.message);
        strand_serde_free(out);
    }
    long long des_json_ns = bench_now_ns() - t0;
    strand_registry_client_stats(client, &after);

    double ser_rate = per_second(count, ser_ns), base_ser_rate = per_second(count, base_ser_ns);
    double des_rate = per_second(count, des_ns), base_des_rate = per_second(count, base_des_ns);
    double ser_ratio = ser_rate / base_ser_rate, des_ratio = des_rate / base_des_rate;
    unsigned long long requests = (unsigned long long)(after.http_requests - before.http_requests);

    fprintf(stderr,
            "serde: %lld records of a 20-field Avro record (%zu framed bytes each on "
            "average)\n",
            count, total_bytes / VALUES);
    fprintf(stderr, "  %-28s %14s %14s %7s %16s\n", "", "strand rec/s", "avro-c rec/s", "ratio",
            "value lib rec/s");
    fprintf(stderr, "  %-28s %14.0f %14.0f %7.3f %16.0f\n", "serialize + validate", ser_rate,
            base_ser_rate, ser_ratio, per_second(count, codec_ser_ns));
    fprintf(stderr, "  %-28s %14.0f %14.0f %7.3f %16.0f\n", "deserialize", des_rate, base_des_rate,
            des_ratio, per_second(count, codec_des_ns));
    fprintf(stderr, "  %-28s %14.0f\n", "serialize JSON text", per_second(count, ser_json_ns));
    fprintf(stderr, "  %-28s %14.0f\n", "deserialize to JSON text", per_second(count, des_json_ns));
    fprintf(stderr, "  registry requests while timed: %llu\n", requests);
    printf("{\"count\":%lld,\"bytes_per_record\":%zu,\"serialize_per_s\":%.0f,"
           "\"serialize_base_per_s\":%.0f,\"serialize_ratio\":%.4f,"
           "\"serialize_value_lib_per_s\":%.0f,\"deserialize_per_s\":%.0f,"
           "\"deserialize_base_per_s\":%.0f,\"deserialize_ratio\":%.4f,"
           "\"deserialize_value_lib_per_s\":%.0f,"
           "\"serialize_json_per_s\":%.0f,\"deserialize_json_per_s\":%.0f,"
           "\"registry_requests\":%llu}\n",
           count, total_bytes / VALUES, ser_rate, base_ser_rate, ser_ratio,
           per_second(count, codec_ser_ns), des_rate, base_des_rate, des_ratio,
           per_second(count, codec_des_ns), per_second(count, ser_json_ns),
           per_second(count, des_json_ns), requests);

    avro_reader_free(reader);
    avro_writer_free(writer);
    for (int i = 0; i < VALUES; i++) {
        avro_value_decref(&values[i]);
        strand_serde_free(framed[i]);
        strand_serde_free(json[i]);
    }
    strand_avro_codec_free(codec);
    strand_avro_schema_free(parsed);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    strand_deserializer_free(des);
    strand_serializer_free(ser);
    strand_registry_client_free(client);
    return 0;
}
