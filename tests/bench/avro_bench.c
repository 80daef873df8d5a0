/*
 * avro_bench.c - the Avro schema engine against jansson alone: parse and
 * canonicalise (Parsing Canonical Form + fingerprint) a set of generated
 * schemas, beside parsing the same JSON texts with json_loadb, in the same
 * run. Also times the Confluent canonical and normalized texts. Prints a
 * table on stderr and one JSON line on stdout.
 *
 *     avro_bench [--count 10000] [--fields 24] [--reps 3]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_model.h"
#include "base/alloc.h"
#include "bench_util.h"

/* One generated schema: a record with nested named types, unions, defaults,
 * docs, logical types and properties, so every part of the parser works. */
static char *make_schema(int i, int fields, size_t *len)
{
    static const char *const kinds[] = {"int", "long", "string", "double", "boolean", "bytes"};
    size_t cap = 4096 + (size_t)fields * 256;
    char *s = malloc(cap);
    if (!s)
        die("out of memory");
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(s + n, cap - n, __VA_ARGS__)
    ADD("{\"type\":\"record\",\"name\":\"Event%d\",\"namespace\":\"com.example.gen%d\","
        "\"doc\":\"Generated event %d\",\"aliases\":[\"OldEvent%d\"],\"owner\":\"team-%d\","
        "\"fields\":[",
        i, i % 17, i, i, i % 5);
    ADD("{\"name\":\"id\",\"type\":\"long\",\"doc\":\"key\"},");
    ADD("{\"name\":\"meta\",\"type\":{\"type\":\"record\",\"name\":\"Meta\",\"fields\":["
        "{\"name\":\"source\",\"type\":\"string\",\"default\":\"unknown\"},"
        "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{}}]}},");
    ADD("{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":"
        "[\"CREATED\",\"UPDATED\",\"DELETED\"],\"default\":\"CREATED\"},\"default\":\"UPDATED\"},");
    ADD("{\"name\":\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":12,\"scale\":2}},");
    ADD("{\"name\":\"parent\",\"type\":[\"null\",\"Event%d\"],\"default\":null},", i);
    for (int f = 0; f < fields; f++) {
        const char *k = kinds[(f + i) % 6];
        if (f % 4 == 0)
            ADD("{\"name\":\"f%d\",\"type\":[\"null\",\"%s\"],\"default\":null,\"doc\":\"field "
                "%d\"},",
                f, k, f);
        else if (f % 4 == 1)
            ADD("{\"name\":\"f%d\",\"type\":{\"type\":\"array\",\"items\":\"%s\"},\"default\":[]},",
                f, k);
        else if (f % 4 == 2)
            ADD("{\"name\":\"f%d\",\"type\":\"%s\",\"order\":\"descending\",\"x-pii\":%s},", f, k,
                f % 3 ? "true" : "false");
        else
            ADD("{\"name\":\"f%d\",\"type\":\"Meta\"},", f);
    }
    ADD("{\"name\":\"checksum\",\"type\":{\"type\":\"fixed\",\"name\":\"Md5\",\"size\":16}}]}");
#undef ADD
    if (n >= cap)
        die("schema %d too large", i);
    *len = n;
    return s;
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
            double t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return v[n / 2];
}

int main(int argc, char **argv)
{
    bench_program = "avro_bench";
    int count = 10000, fields = 24, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--count") == 0)
            count = (int)parse_number("count", argv[++i], 1, 10000000);
        else if (i + 1 < argc && strcmp(argv[i], "--fields") == 0)
            fields = (int)parse_number("fields", argv[++i], 0, 1000);
        else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0)
            reps = (int)parse_number("reps", argv[++i], 1, 99);
        else
            die("usage: avro_bench [--count N] [--fields N] [--reps N]");
    }
    char **texts = malloc((size_t)count * sizeof *texts);
    size_t *lens = malloc((size_t)count * sizeof *lens);
    if (!texts || !lens)
        die("out of memory");
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        texts[i] = make_schema(i, fields, &lens[i]);
        total += lens[i];
    }
    double base[99], engine[99], canon[99], norm[99];
    uint64_t check = 0;
    for (int r = 0; r < reps; r++) {
        long long t0 = bench_now_ns();
        for (int i = 0; i < count; i++) {
            json_error_t jerr;
            json_t *doc = json_loadb(texts[i], lens[i], JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
            if (!doc)
                die("jansson: %s", jerr.text);
            json_decref(doc);
        }
        long long t1 = bench_now_ns();
        for (int i = 0; i < count; i++) {
            sd_avro_schema_t *s = NULL;
            sd_err_t err = {0};
            if (sd_avro_parse(texts[i], lens[i], NULL, &s, &err) != 0)
                die("schema %d: %s", i, err.msg);
            size_t len;
            char *pcf = sd_avro_canonical_form(s, &len, &err);
            if (!pcf)
                die("schema %d: %s", i, err.msg);
            check ^= sd_avro_crc64(pcf, len);
            sd_free(pcf);
            sd_avro_schema_free(s);
        }
        long long t2 = bench_now_ns();
        for (int i = 0; i < count; i++) {
            sd_avro_schema_t *s = NULL;
            if (sd_avro_parse(texts[i], lens[i], NULL, &s, NULL) != 0)
                die("schema %d", i);
            char *text = sd_avro_confluent_canonical(s, NULL, NULL);
            if (!text)
                die("schema %d: canonical text", i);
            sd_free(text);
            sd_avro_schema_free(s);
        }
        long long t3 = bench_now_ns();
        for (int i = 0; i < count; i++) {
            sd_avro_schema_t *s = NULL;
            if (sd_avro_parse(texts[i], lens[i], NULL, &s, NULL) != 0)
                die("schema %d", i);
            char *text = sd_avro_normalized(s, NULL, NULL);
            if (!text)
                die("schema %d: normalized text", i);
            sd_free(text);
            sd_avro_schema_free(s);
        }
        long long t4 = bench_now_ns();
        base[r] = (double)(t1 - t0) / 1e6;
        engine[r] = (double)(t2 - t1) / 1e6;
        canon[r] = (double)(t3 - t2) / 1e6;
        norm[r] = (double)(t4 - t3) / 1e6;
    }
    double b = median(base, reps), e = median(engine, reps);
    double c = median(canon, reps), nm = median(norm, reps);
    fprintf(stderr,
            "Avro schemas: %d generated schemas, %.1f KiB of JSON each on average, median of %d "
            "runs\n",
            count, (double)total / count / 1024, reps);
    fprintf(stderr, "  %-44s %10.1f ms %9.1f us/schema\n", "jansson json_loadb alone (baseline)", b,
            b * 1000 / count);
    fprintf(stderr, "  %-44s %10.1f ms %9.1f us/schema  ratio %.2f\n",
            "parse+validate, canonical form, fingerprint", e, e * 1000 / count, e / b);
    fprintf(stderr, "  %-44s %10.1f ms %9.1f us/schema  ratio %.2f\n",
            "parse+validate, Confluent canonical text", c, c * 1000 / count, c / b);
    fprintf(stderr, "  %-44s %10.1f ms %9.1f us/schema  ratio %.2f\n",
            "parse+validate, normalized text", nm, nm * 1000 / count, nm / b);
    printf("{\"schemas\":%d,\"bytes\":%zu,\"jansson_ms\":%.3f,\"parse_canonical_ms\":%.3f,"
           "\"confluent_canonical_ms\":%.3f,\"normalized_ms\":%.3f,\"ratio\":%.3f,"
           "\"check\":%llu}\n",
           count, total, b, e, c, nm, e / b, (unsigned long long)check);
    for (int i = 0; i < count; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    return 0;
}
