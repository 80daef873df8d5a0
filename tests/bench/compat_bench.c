/*
 * compat_bench.c - how long a transitive compatibility check of a wide Avro
 * record takes, beside the cost of only parsing the same JSON with jansson.
 *
 * The new schema is a record of --fields fields (ints, longs, strings,
 * optional strings, enums, arrays, maps, a nested record); earlier version k
 * (1..--versions) has the first fields - versions + k of them, so every
 * version is compatible both ways and the checker walks every field of every
 * pair. Three figures, each the median of --runs runs:
 *
 *   check    sc_check at --level (FULL_TRANSITIVE) on schemas parsed beforehand
 *   total    parsing all versions + the new schema with sd_avro_parse, then check
 *   jansson  json_loads of the same texts (the baseline: JSON alone)
 *
 * One human line per figure on stderr and one JSON line on stdout.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "bench_util.h"
#include "compat.h"

#define TARGET_MS 50.0

/* The JSON of field i; fields past `required` have defaults. */
static void add_field(json_t *fields, int i, int required)
{
    char name[32];
    snprintf(name, sizeof name, "f%03d", i);
    json_t *type = NULL;
    json_t *dflt = NULL;
    char tname[32];
    snprintf(tname, sizeof tname, "T%03d", i);
    switch (i % 8) {
    case 0:
        type = json_string("int");
        dflt = json_integer(0);
        break;
    case 1:
        type = json_string("long");
        dflt = json_integer(0);
        break;
    case 2:
        type = json_string("string");
        dflt = json_string("");
        break;
    case 3:
        type = json_pack("[s, s]", "null", "string");
        dflt = json_null();
        break;
    case 4:
        type = json_pack("{s:s, s:s, s:[s, s, s]}", "type", "enum", "name", tname, "symbols", "A",
                         "B", "C");
        dflt = json_string("A");
        break;
    case 5:
        type = json_pack("{s:s, s:s}", "type", "array", "items", "double");
        dflt = json_array();
        break;
    case 6:
        type = json_pack("{s:s, s:s}", "type", "map", "values", "bytes");
        dflt = json_object();
        break;
    default:
        type = json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:[s, s]}]}", "type", "record", "name",
                         tname, "fields", "name", "x", "type", "int", "name", "y", "type", "null",
                         "long");
        dflt = json_pack("{s:i, s:n}", "x", 0, "y");
        break;
    }
    json_t *f = json_pack("{s:s, s:o}", "name", name, "type", type);
    if (i >= required)
        json_object_set_new(f, "default", dflt);
    else
        json_decref(dflt);
    json_array_append_new(fields, f);
}

/* The text of a record with the first n fields; caller frees with free(). */
static char *schema_text(int n, int required)
{
    json_t *fields = json_array();
    for (int i = 0; i < n; i++)
        add_field(fields, i, required);
    json_t *root = json_pack("{s:s, s:s, s:s, s:o}", "type", "record", "name", "Wide", "namespace",
                             "com.example.bench", "fields", fields);
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        die("out of memory");
    return text;
}

static int compare_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static double median_ms(long long *ns, int n)
{
    qsort(ns, (size_t)n, sizeof *ns, compare_ll);
    return (n % 2 ? (double)ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2.0) / 1e6;
}

static sc_schema_t *parse(const char *text)
{
    sc_schema_t *s = NULL;
    sd_err_t err = {0};
    if (sc_schema_parse(SC_TYPE_AVRO, text, strlen(text), NULL, 0, &s, &err) < 0)
        die("cannot parse a generated schema: %s", err.msg);
    return s;
}

static void usage(void)
{
    printf("usage: compat_bench [--fields N] [--versions N] [--runs N] [--level LEVEL]\n");
}

int main(int argc, char **argv)
{
    int fields = 200, versions = 100, runs = 7;
    sc_level_t level = SC_LEVEL_FULL_TRANSITIVE;
    bench_program = "compat_bench";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            usage();
            return 0;
        }
        if (i + 1 >= argc)
            die("%s needs a value", arg);
        const char *v = argv[++i];
        if (strcmp(arg, "--fields") == 0)
            fields = (int)parse_number("fields", v, 2, 100000);
        else if (strcmp(arg, "--versions") == 0)
            versions = (int)parse_number("versions", v, 1, 10000);
        else if (strcmp(arg, "--runs") == 0)
            runs = (int)parse_number("runs", v, 1, 1000);
        else if (strcmp(arg, "--level") == 0) {
            sd_err_t err = {0};
            if (sc_level_parse(v, &level, &err) < 0)
                die("%s", err.msg);
        } else
            die("unknown option %s", arg);
    }
    if (versions >= fields)
        die("--versions must be smaller than --fields");

    /* texts[0 .. versions) are the earlier versions, texts[versions] the new. */
    int required = fields - versions;
    char **texts = calloc((size_t)versions + 1, sizeof *texts);
    size_t bytes = 0;
    for (int k = 0; k <= versions; k++) {
        texts[k] = schema_text(required + k, required);
        bytes += strlen(texts[k]);
    }

    long long *check_ns = calloc((size_t)runs, sizeof *check_ns);
    long long *total_ns = calloc((size_t)runs, sizeof *total_ns);
    long long *json_ns = calloc((size_t)runs, sizeof *json_ns);
    const sc_schema_t **earlier = calloc((size_t)versions, sizeof *earlier);
    sc_schema_t **parsed = calloc((size_t)versions + 1, sizeof *parsed);
    size_t findings = 0, comparisons = 0;

    for (int r = 0; r < runs; r++) {
        /* Baseline: the JSON alone. */
        long long t0 = bench_now_ns();
        for (int k = 0; k <= versions; k++) {
            json_t *j = json_loads(texts[k], 0, NULL);
            if (!j)
                die("jansson cannot parse a generated schema");
            json_decref(j);
        }
        json_ns[r] = bench_now_ns() - t0;

        /* Parse everything, then check. */
        t0 = bench_now_ns();
        for (int k = 0; k <= versions; k++)
            parsed[k] = parse(texts[k]);
        for (int k = 0; k < versions; k++)
            earlier[k] = parsed[k];
        long long t1 = bench_now_ns();
        sc_result_t result;
        sd_err_t err = {0};
        if (sc_check(parsed[versions], earlier, (size_t)versions, level, &result, &err) < 0)
            die("check failed: %s", err.msg);
        long long t2 = bench_now_ns();
        findings = result.findings.count;
        comparisons = result.comparison_count;
        if (!result.compatible)
            die("the generated versions should be compatible; first finding: %s at %s",
                result.findings.items[0].rule, result.findings.items[0].location);
        sc_result_free(&result);
        for (int k = 0; k <= versions; k++)
            sc_schema_free(parsed[k]);
        check_ns[r] = t2 - t1;
        total_ns[r] = t2 - t0;
    }

    double check_ms = median_ms(check_ns, runs);
    double total_ms = median_ms(total_ns, runs);
    double json_ms = median_ms(json_ns, runs);
    fprintf(stderr,
            "compat_bench: %s, %d-field record against %d earlier versions (%zu comparisons, "
            "%zu findings, %.1f KiB of JSON), median of %d runs:\n"
            "  check only          %8.2f ms  (target < %.0f ms: %s)\n"
            "  parse + check       %8.2f ms\n"
            "  jansson parse only  %8.2f ms  (baseline)\n",
            sc_level_name(level), fields, versions, comparisons, findings, bytes / 1024.0, runs,
            check_ms, TARGET_MS, check_ms < TARGET_MS ? "ok" : "ABOVE TARGET", total_ms, json_ms);
    printf("{\"level\":\"%s\",\"fields\":%d,\"versions\":%d,\"runs\":%d,\"comparisons\":%zu,"
           "\"check_ms\":%.3f,\"parse_check_ms\":%.3f,\"jansson_ms\":%.3f,\"target_ms\":%.0f}\n",
           sc_level_name(level), fields, versions, runs, comparisons, check_ms, total_ms, json_ms,
           TARGET_MS);

    for (int k = 0; k <= versions; k++)
        free(texts[k]);
    free(texts);
    free(check_ns);
    free(total_ns);
    free(json_ns);
    free(earlier);
    free(parsed);
    return 0;
}
