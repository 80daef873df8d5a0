/*
 * strand_compat.c - the `strand-compat` command: checks a new schema against
 * earlier versions (files, or a subject of a Confluent-compatible schema
 * registry over its REST API) at one of Confluent's seven compatibility
 * levels, and reports every finding as text, JSON or a JUnit XML report for
 * CI. Exit status: 0 compatible, 1 incompatible, 2 error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/http_body.h"
#include "compat.h"

#define PROGRAM "strand-compat"

enum { EXIT_COMPATIBLE = 0, EXIT_INCOMPATIBLE = 1, EXIT_ERROR = 2 };

/* Largest schema file or registry response read, so a wrong path to a huge
 * file fails cleanly instead of filling memory. */
#define MAX_SCHEMA_BYTES (64u << 20)

typedef enum output_format { OUTPUT_TEXT, OUTPUT_JSON, OUTPUT_JUNIT } output_format_t;

static const struct {
    const char *name;
    output_format_t format;
} output_formats[] = {
    {"text", OUTPUT_TEXT},
    {"json", OUTPUT_JSON},
    {"junit", OUTPUT_JUNIT},
};

/* Schema types inferred from a file's extension. */
static const struct {
    const char *extension;
    sc_schema_type_t type;
} extensions[] = {
    {".avsc", SC_TYPE_AVRO},
    {".proto", SC_TYPE_PROTOBUF},
    {".json", SC_TYPE_JSON},
};

/* Referenced schemas, dependencies first; names and texts owned. */
typedef struct refset {
    sc_reference_t *items;
    size_t count;
    size_t cap;
} refset_t;

/* Most referenced schemas followed for one schema, so a reference cycle or a
 * runaway chain in a registry ends with an error. */
#define MAX_REFERENCES 1000

/* One schema taking part: the new one or an earlier version. */
typedef struct source {
    char *label; /* owned: the file name, or "subject S version N" */
    int version; /* 1-based version number (registry's own numbers) */
    char *text;  /* owned schema text */
    size_t len;
    sc_schema_type_t type;
    const refset_t *refs; /* borrowed (the --reference files) or &own_refs */
    refset_t own_refs;    /* a registry version's references */
    sc_schema_t *schema;  /* owned, once parsed */
} source_t;

typedef struct options {
    const char *level_name; /* NULL = BACKWARD, or the subject's level */
    const char *type_name;  /* NULL = from each file's extension */
    output_format_t format;
    const char *registry;
    const char *subject;
    const char *user; /* basic auth user:password for the registry */
    refset_t files;   /* --reference files, for every schema read from a file */
} options_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROGRAM " check [--level LEVEL] [--type TYPE] [--format FORMAT]\n"
            "                     [--reference FILE]... NEW OLD...\n"
            "       " PROGRAM " check --registry URL --subject SUBJECT [--level LEVEL]\n"
            "                     [--user USER:PASSWORD] [--type TYPE] [--format FORMAT]\n"
            "                     [--reference FILE]... NEW\n"
            "\n"
            "Checks whether the schema in NEW is compatible with earlier versions of it,\n"
            "with the rules and levels of Confluent Schema Registry.\n"
            "\n"
            "With files, OLD... are the earlier versions, oldest first (version 1 is the\n"
            "first OLD). With --registry, the earlier versions are the subject's\n"
            "registered (undeleted) versions, fetched over the registry's REST API, and\n"
            "the level is the one the subject is configured with (GET /config/SUBJECT\n"
            "?defaultToGlobal=true) unless --level is given.\n"
            "\n"
            "Options:\n"
            "  -l, --level LEVEL     NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD,\n"
            "                        FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE (any case).\n"
            "                        Default for files: BACKWARD, as in the registry.\n"
            "                          BACKWARD  NEW reads data written with the latest OLD\n"
            "                          FORWARD   the latest OLD reads data written with NEW\n"
            "                          FULL      both\n"
            "                          _TRANSITIVE: against every OLD, not only the latest\n"
            "  -t, --type TYPE       avro, protobuf or json. Default: from each file's\n"
            "                        extension (.avsc avro, .proto protobuf, .json json);\n"
            "                        with --registry, from the registry's schemaType.\n"
            "                        Only avro is supported today.\n"
            "  -f, --format FORMAT   text (default): one line per finding;\n"
            "                        json: one JSON document (compatible, level, findings\n"
            "                          with rule, location, path, message, version,\n"
            "                          direction);\n"
            "                        junit: a JUnit XML report, one testcase per earlier\n"
            "                          version compared and one failure per finding.\n"
            "      --registry URL    a Confluent-compatible schema registry\n"
            "      --subject SUBJECT the subject whose versions NEW is checked against\n"
            "      --user USER:PASS  HTTP basic authentication for the registry\n"
            "  -R, --reference FILE  a schema the others reference (Confluent schema\n"
            "                        references, e.g. an Avro record used by name);\n"
            "                        repeat it, dependencies first. It applies to every\n"
            "                        schema read from a file; with --registry, the\n"
            "                        versions' own references are fetched from the registry.\n"
            "  -h, --help            this text\n"
            "\n"
            "A finding names the rule broken (Avro: READER_FIELD_MISSING_DEFAULT_VALUE,\n"
            "TYPE_MISMATCH, MISSING_UNION_BRANCH, MISSING_ENUM_SYMBOLS, NAME_MISMATCH,\n"
            "FIXED_SIZE_MISMATCH; SCHEMA_TYPE_MISMATCH when the schema types differ), the\n"
            "location in the reading schema (a JSON pointer such as /fields/2/type, and\n"
            "a field path such as User.address.zip), the earlier version and the\n"
            "direction (BACKWARD: NEW reads that version's data; FORWARD: that version\n"
            "reads NEW's data).\n"
            "\n"
            "Exit status: 0 compatible, 1 incompatible, 2 error (unreadable file,\n"
            "invalid schema, unsupported schema type, registry unreachable, bad usage).\n"
            "\n"
            "Example (CI):\n"
            "  " PROGRAM " check --level FULL_TRANSITIVE --format junit \\\n"
            "      schemas/user.avsc released/user-v1.avsc released/user-v2.avsc > compat.xml\n");
}

static void fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROGRAM ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void refset_free(refset_t *set)
{
    for (size_t i = 0; i < set->count; i++) {
        sd_free((char *)set->items[i].name);
        sd_free((char *)set->items[i].text);
    }
    sd_free(set->items);
    memset(set, 0, sizeof *set);
}

/* Appends a reference; steals name and text (freed here on failure). */
static int refset_add(refset_t *set, char *name, char *text, size_t len)
{
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 4;
        sc_reference_t *items = sd_realloc(set->items, cap * sizeof *items);
        if (!items) {
            sd_free(name);
            sd_free(text);
            fail_msg("out of memory");
            return -1;
        }
        set->items = items;
        set->cap = cap;
    }
    set->items[set->count++] = (sc_reference_t){.name = name, .text = text, .len = len};
    return 0;
}

static bool refset_has(const refset_t *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return true;
    return false;
}

static void sources_free(source_t *sources, size_t count)
{
    for (size_t i = 0; sources && i < count; i++) {
        sd_free(sources[i].label);
        sd_free(sources[i].text);
        refset_free(&sources[i].own_refs);
        sc_schema_free(sources[i].schema);
    }
    sd_free(sources);
}

/* Reads a whole file into a NUL-terminated buffer the caller frees with
 * sd_free. Returns 0 or -1 with a message on stderr naming the file. */
static int read_file(const char *path, char **text, size_t *len)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;

    f = fopen(path, "rb");
    if (!f) {
        fail_msg("%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > MAX_SCHEMA_BYTES + 1) {
                fail_msg("%s: larger than %u bytes; not a schema", path, MAX_SCHEMA_BYTES);
                goto fail;
            }
            char *grown = sd_realloc(buf, cap);
            if (!grown) {
                fail_msg("%s: out of memory", path);
                goto fail;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fail_msg("%s: cannot read: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
fail:
    if (f)
        fclose(f);
    sd_free(buf);
    return -1;
}

static int type_from_extension(const char *path, sc_schema_type_t *type)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
        size_t ext = strlen(extensions[i].extension);
        if (len > ext && strcasecmp(path + len - ext, extensions[i].extension) == 0) {
            *type = extensions[i].type;
            return 0;
        }
    }
    return -1;
}

/* Parses one source; -1 with a message naming it on failure. */
static int parse_source(source_t *s)
{
    sd_err_t err = {0};
    const sc_reference_t *refs = s->refs ? s->refs->items : NULL;
    size_t ref_count = s->refs ? s->refs->count : 0;
    if (sc_schema_parse(s->type, s->text, s->len, refs, ref_count, &s->schema, &err) < 0) {
        if (err.code == SC_ERR_UNSUPPORTED)
            fail_msg("%s: %s", s->label, err.msg);
        else
            fail_msg("%s: invalid %s schema: %s", s->label, sc_schema_type_name(s->type), err.msg);
        return -1;
    }
    return 0;
}

/* -- the registry ------------------------------------------------------------ */


/* GETs base + path and parses the JSON answer. Returns the HTTP status (with
 * *json set, owned by the caller, when the body is JSON) or -1 with a
 * message on stderr. */
static long registry_get(CURL *curl, const options_t *opt, const char *path, json_t **json)
{
    sd_http_body_t body = {.max = MAX_SCHEMA_BYTES};
    char *url = NULL;
    long status = -1;
    size_t base_len = strlen(opt->registry);

    *json = NULL;
    while (base_len > 0 && opt->registry[base_len - 1] == '/')
        base_len--;
    url = sd_malloc(base_len + strlen(path) + 1);
    if (!url) {
        fail_msg("out of memory");
        goto fail;
    }
    memcpy(url, opt->registry, base_len);
    strcpy(url + base_len, path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sd_http_body_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        fail_msg("registry %s: %s", url,
                 body.too_large ? "answer too large" : curl_easy_strerror(rc));
        goto fail;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (body.data)
        *json = json_loadb(body.data, body.len, 0, NULL);
    if (!*json && status == 200) {
        fail_msg("registry %s: the answer is not JSON", url);
        status = -1;
    }
fail:
    sd_free(url);
    sd_free(body.data);
    return status;
}

static void registry_error(const char *what, long status, json_t *json)
{
    const char *message = json_string_value(json_object_get(json, "message"));
    fail_msg("registry: %s: HTTP %ld%s%s", what, status, message ? ": " : "",
             message ? message : "");
}

/* Adds the schemas `references` (a Confluent "references" array) names to
 * set, each after the ones it references in turn. Returns 0 or -1 (message
 * printed). */
static int registry_references(CURL *curl, const options_t *opt, json_t *references, refset_t *set,
                               int depth)
{
    size_t i;
    json_t *ref;
    if (depth > 32) {
        fail_msg("registry: schema references nest deeper than 32 levels");
        return -1;
    }
    json_array_foreach(references, i, ref)
    {
        const char *name = json_string_value(json_object_get(ref, "name"));
        const char *subject = json_string_value(json_object_get(ref, "subject"));
        json_t *version = json_object_get(ref, "version");
        if (!name || !subject || !json_is_integer(version)) {
            fail_msg("registry: a schema reference lacks its name, subject or version");
            return -1;
        }
        if (refset_has(set, name))
            continue;
        if (set->count >= MAX_REFERENCES) {
            fail_msg("registry: more than %d schema references", MAX_REFERENCES);
            return -1;
        }
        char *escaped = curl_easy_escape(curl, subject, 0);
        char path[1100];
        json_t *json = NULL;
        int rc = -1;
        if (!escaped || strlen(escaped) > 900) {
            fail_msg("registry: referenced subject name too long");
            goto next;
        }
        snprintf(path, sizeof path, "/subjects/%s/versions/%lld", escaped,
                 (long long)json_integer_value(version));
        long status = registry_get(curl, opt, path, &json);
        if (status < 0)
            goto next;
        const char *text = json_string_value(json_object_get(json, "schema"));
        if (status != 200 || !text) {
            registry_error("reading a referenced schema", status, json);
            goto next;
        }
        if (registry_references(curl, opt, json_object_get(json, "references"), set, depth + 1) < 0)
            goto next;
        if (refset_has(set, name)) { /* a cycle brought it in already */
            rc = 0;
            goto next;
        }
        char *name_copy = sd_strdup(name);
        char *text_copy = sd_strdup(text);
        if (!name_copy || !text_copy) {
            sd_free(name_copy);
            sd_free(text_copy);
            fail_msg("out of memory");
            goto next;
        }
        rc = refset_add(set, name_copy, text_copy, strlen(text_copy));
    next:
        json_decref(json);
        if (escaped)
            curl_free(escaped);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Fills sources[1..] with the subject's versions NEW is compared with (all of
 * them for transitive levels, else the latest), and *level with the subject's
 * level when opt->level_name is NULL. Returns 0 or -1 (message printed). */
static int registry_fetch(const options_t *opt, sc_level_t *level, source_t **sources,
                          size_t *count)
{
    CURL *curl = NULL;
    char *subject = NULL;
    json_t *json = NULL;
    json_t *versions = NULL;
    char path[1024];
    int rc = -1;
    sd_err_t err = {0};

    curl = curl_easy_init();
    if (!curl) {
        fail_msg("cannot start libcurl");
        goto fail;
    }
    curl_easy_setopt(curl, CURLOPT_USERAGENT, PROGRAM);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (opt->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, opt->user);
    }
    subject = curl_easy_escape(curl, opt->subject, 0);
    if (!subject || strlen(subject) > 900) {
        fail_msg("subject name too long");
        goto fail;
    }

    if (!opt->level_name) {
        snprintf(path, sizeof path, "/config/%s?defaultToGlobal=true", subject);
        long status = registry_get(curl, opt, path, &json);
        if (status < 0)
            goto fail;
        const char *name = json_string_value(json_object_get(json, "compatibilityLevel"));
        if (status != 200 || !name) {
            registry_error("reading the subject's compatibility level", status, json);
            goto fail;
        }
        if (sc_level_parse(name, level, &err) < 0) {
            fail_msg("registry: %s", err.msg);
            goto fail;
        }
        json_decref(json);
        json = NULL;
    }

    snprintf(path, sizeof path, "/subjects/%s/versions", subject);
    long status = registry_get(curl, opt, path, &versions);
    if (status < 0)
        goto fail;
    if (status == 404 && json_integer_value(json_object_get(versions, "error_code")) == 40401) {
        rc = 0; /* a new subject: nothing to be compatible with */
        goto fail;
    }
    if (status != 200 || !json_is_array(versions)) {
        registry_error("listing the subject's versions", status, versions);
        goto fail;
    }
    size_t n = json_array_size(versions);
    size_t first = sc_level_transitive(*level) || n == 0 ? 0 : n - 1;
    source_t *grown = sd_realloc(*sources, (1 + n - first) * sizeof *grown);
    if (!grown) {
        fail_msg("out of memory");
        goto fail;
    }
    *sources = grown;
    for (size_t i = first; i < n; i++) {
        json_t *v = json_array_get(versions, i);
        if (!json_is_integer(v)) {
            fail_msg("registry: the subject's versions are not integers");
            goto fail;
        }
        source_t *s = &(*sources)[*count];
        memset(s, 0, sizeof *s);
        s->version = (int)json_integer_value(v);
        snprintf(path, sizeof path, "/subjects/%s/versions/%d", subject, s->version);
        status = registry_get(curl, opt, path, &json);
        if (status < 0)
            goto fail;
        const char *text = json_string_value(json_object_get(json, "schema"));
        if (status != 200 || !text) {
            registry_error("reading a version of the subject", status, json);
            goto fail;
        }
        s->refs = &s->own_refs;
        if (registry_references(curl, opt, json_object_get(json, "references"), &s->own_refs, 0) <
            0)
            goto fail;
        const char *type = json_string_value(json_object_get(json, "schemaType"));
        s->type = SC_TYPE_AVRO;
        if (type && sc_schema_type_parse(type, &s->type, &err) < 0) {
            fail_msg("registry: %s", err.msg);
            goto fail;
        }
        char label[1100];
        snprintf(label, sizeof label, "subject %s version %d", opt->subject, s->version);
        s->label = sd_strdup(label);
        s->text = sd_strdup(text);
        (*count)++;
        if (!s->label || !s->text) {
            fail_msg("out of memory");
            goto fail;
        }
        s->len = strlen(s->text);
        json_decref(json);
        json = NULL;
    }
    rc = 0;
fail:
    json_decref(json);
    json_decref(versions);
    if (subject)
        curl_free(subject);
    if (curl)
        curl_easy_cleanup(curl);
    return rc;
}

/* -- output ------------------------------------------------------------------- */

typedef struct report {
    const char *level;
    const source_t *sources; /* [0] is NEW, [1 + i] is earlier version i */
    size_t count;
    const sc_result_t *result;
} report_t;

static const source_t *earlier(const report_t *r, size_t index) { return &r->sources[1 + index]; }

static void print_text(const report_t *r)
{
    const sc_result_t *res = r->result;
    const char *name = r->sources[0].label;
    if (res->comparison_count == 0) {
        printf("%s: compatible (%s: nothing to compare with)\n", name, r->level);
        return;
    }
    if (res->compatible) {
        printf("%s: compatible at %s with", name, r->level);
        for (size_t i = 0; i < res->comparison_count; i++) {
            if (i > 0 && res->comparisons[i].version == res->comparisons[i - 1].version)
                continue;
            const source_t *s = earlier(r, res->comparisons[i].version);
            printf("%s version %d (%s)", i ? "," : "", s->version, s->label);
        }
        printf("\n");
        return;
    }
    printf("%s: NOT compatible at %s: %zu finding%s\n", name, r->level, res->findings.count,
           res->findings.count == 1 ? "" : "s");
    /* The location is in the schema that reads: the new one for BACKWARD,
     * the earlier version for FORWARD. */
    for (size_t i = 0; i < res->findings.count; i++) {
        const sc_finding_t *f = &res->findings.items[i];
        const source_t *s = earlier(r, f->version);
        bool backward = f->direction == SC_DIRECTION_BACKWARD;
        printf("  %s version %d (%s): %s at %s%s%s%s in %s: %s\n", sc_direction_name(f->direction),
               s->version, s->label, f->rule, f->location, f->path[0] ? " (" : "", f->path,
               f->path[0] ? ")" : "", backward ? "the new schema" : "that version", f->message);
    }
    printf("(BACKWARD: the new schema must read data written with the version; "
           "FORWARD: the version must read data written with the new schema)\n");
}

static int print_json(const report_t *r)
{
    const sc_result_t *res = r->result;
    json_t *root = json_object();
    json_t *versions = json_array();
    json_t *comparisons = json_array();
    json_t *findings = json_array();
    char *text = NULL;
    int rc = -1;

    if (!root || !versions || !comparisons || !findings)
        goto fail;
    json_object_set_new(root, "compatible", json_boolean(res->compatible));
    json_object_set_new(root, "level", json_string(r->level));
    json_object_set_new(root, "schemaType", json_string(sc_schema_type_name(r->sources[0].type)));
    json_object_set_new(root, "schema", json_string(r->sources[0].label));
    for (size_t i = 1; i < r->count; i++)
        json_array_append_new(versions, json_pack("{s:i, s:s}", "version", r->sources[i].version,
                                                  "source", r->sources[i].label));
    for (size_t i = 0; i < res->comparison_count; i++) {
        const sc_comparison_t *c = &res->comparisons[i];
        const source_t *s = earlier(r, c->version);
        json_array_append_new(comparisons,
                              json_pack("{s:i, s:s, s:s, s:b, s:I}", "version", s->version,
                                        "source", s->label, "direction",
                                        sc_direction_name(c->direction), "compatible",
                                        c->compatible, "findings", (json_int_t)c->finding_count));
    }
    for (size_t i = 0; i < res->findings.count; i++) {
        const sc_finding_t *f = &res->findings.items[i];
        const source_t *s = earlier(r, f->version);
        json_array_append_new(
            findings,
            json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}", "rule", f->rule, "location",
                      f->location, "path", f->path, "message", f->message, "version", s->version,
                      "source", s->label, "direction", sc_direction_name(f->direction),
                      /* the schema the location points into */
                      "reader", f->direction == SC_DIRECTION_BACKWARD ? "new" : "earlier"));
    }
    json_object_set(root, "versions", versions);
    json_object_set(root, "comparisons", comparisons);
    json_object_set(root, "findings", findings);
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        goto fail;
    printf("%s\n", text);
    rc = 0;
fail:
    free(text); /* jansson's allocator */
    json_decref(findings);
    json_decref(comparisons);
    json_decref(versions);
    json_decref(root);
    if (rc < 0)
        fail_msg("out of memory writing JSON");
    return rc;
}

/* Writes s with XML's five special characters escaped; control characters
 * XML 1.0 cannot carry become '?'. */
static void xml_text(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': fputs("&amp;", stdout); break;
        case '<': fputs("&lt;", stdout); break;
        case '>': fputs("&gt;", stdout); break;
        case '"': fputs("&quot;", stdout); break;
        case '\'': fputs("&apos;", stdout); break;
        default: putchar(ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r' ? '?' : ch);
        }
    }
}

static void print_junit(const report_t *r)
{
    const sc_result_t *res = r->result;
    size_t failed = 0;
    /* One testcase per earlier version compared; both directions of FULL
     * levels fall into the same testcase. */
    size_t cases = 0;
    for (size_t i = 0; i < res->comparison_count;) {
        size_t v = res->comparisons[i].version;
        bool bad = false;
        for (; i < res->comparison_count && res->comparisons[i].version == v; i++)
            bad = bad || !res->comparisons[i].compatible;
        cases++;
        failed += bad;
    }
    printf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    printf("<testsuites name=\"" PROGRAM "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n", cases,
           failed);
    printf("  <testsuite name=\"");
    xml_text(r->sources[0].label);
    printf(" at %s\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\">\n", r->level, cases,
           failed);
    for (size_t i = 0; i < res->comparison_count;) {
        size_t v = res->comparisons[i].version;
        const source_t *s = earlier(r, v);
        printf("    <testcase classname=\"" PROGRAM ".%s\" name=\"", r->level);
        xml_text(r->sources[0].label);
        printf(" against version %d (", s->version);
        xml_text(s->label);
        printf(")\" time=\"0\">\n");
        for (; i < res->comparison_count && res->comparisons[i].version == v; i++) {
            const sc_comparison_t *c = &res->comparisons[i];
            for (size_t k = c->first_finding; k < c->first_finding + c->finding_count; k++) {
                const sc_finding_t *f = &res->findings.items[k];
                printf("      <failure type=\"%s\" message=\"%s at ", f->rule, f->rule);
                xml_text(f->location);
                printf(": ");
                xml_text(f->message);
                printf("\">");
                printf("%s (%s) at ", f->rule, sc_direction_name(f->direction));
                xml_text(f->location);
                if (f->path[0]) {
                    printf(" (");
                    xml_text(f->path);
                    printf(")");
                }
                printf(": ");
                xml_text(f->message);
                printf("</failure>\n");
            }
        }
        printf("    </testcase>\n");
    }
    printf("  </testsuite>\n</testsuites>\n");
}

/* -- main --------------------------------------------------------------------- */

static int run_check(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"level", required_argument, NULL, 'l'},
        {"type", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},
        {"registry", required_argument, NULL, 'r'},
        {"subject", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"reference", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    options_t opt = {0};
    source_t *sources = NULL;
    size_t count = 0;
    const sc_schema_t **old = NULL;
    sc_result_t result = {0};
    sc_level_t level = SC_LEVEL_BACKWARD;
    sc_schema_type_t forced_type = SC_TYPE_AVRO;
    sd_err_t err = {0};
    int status = EXIT_ERROR;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "l:t:f:R:h", long_options, NULL)) != -1) {
        switch (ch) {
        case 'l': opt.level_name = optarg; break;
        case 't': opt.type_name = optarg; break;
        case 'r': opt.registry = optarg; break;
        case 's': opt.subject = optarg; break;
        case 'u': opt.user = optarg; break;
        case 'R': {
            char *text = NULL, *name = NULL;
            size_t len = 0;
            if (read_file(optarg, &text, &len) < 0)
                goto fail;
            if (!(name = sd_strdup(optarg))) {
                sd_free(text);
                fail_msg("out of memory");
                goto fail;
            }
            if (refset_add(&opt.files, name, text, len) < 0)
                goto fail;
            break;
        }
        case 'h':
            usage(stdout);
            status = EXIT_COMPATIBLE;
            goto fail;
        case 'f': {
            size_t i, n = sizeof output_formats / sizeof output_formats[0];
            for (i = 0; i < n && strcasecmp(optarg, output_formats[i].name) != 0; i++)
                ;
            if (i == n) {
                fail_msg("unknown --format '%s' (expected text, json or junit)", optarg);
                goto fail;
            }
            opt.format = output_formats[i].format;
            break;
        }
        default: fprintf(stderr, "Try '" PROGRAM " --help'.\n"); goto fail;
        }
    }
    if (opt.level_name && sc_level_parse(opt.level_name, &level, &err) < 0) {
        fail_msg("--level: %s", err.msg);
        goto fail;
    }
    if (opt.type_name && sc_schema_type_parse(opt.type_name, &forced_type, &err) < 0) {
        fail_msg("--type: %s", err.msg);
        goto fail;
    }
    size_t files = (size_t)(argc - optind);
    if (opt.registry || opt.subject) {
        if (!opt.registry || !opt.subject) {
            fail_msg("--registry and --subject go together");
            goto fail;
        }
        if (files != 1) {
            fail_msg("with --registry, give exactly one NEW schema file");
            goto fail;
        }
    } else if (files < 2) {
        fail_msg("give the NEW schema file and at least one OLD one (try --help)");
        goto fail;
    }

    sources = sd_calloc(files, sizeof *sources);
    if (!sources) {
        fail_msg("out of memory");
        goto fail;
    }
    for (size_t i = 0; i < files; i++) {
        source_t *s = &sources[i];
        const char *path = argv[optind + i];
        count = i + 1;       /* so that a failure below frees this one too */
        s->version = (int)i; /* OLD files are versions 1..n */
        s->label = sd_strdup(path);
        if (!s->label) {
            fail_msg("out of memory");
            goto fail;
        }
        if (opt.type_name) {
            s->type = forced_type;
        } else if (type_from_extension(path, &s->type) < 0) {
            fail_msg("%s: cannot tell the schema type from the file name; use --type "
                     "avro|protobuf|json (or name it .avsc, .proto or .json)",
                     path);
            goto fail;
        }
        if (read_file(path, &s->text, &s->len) < 0)
            goto fail;
        s->refs = &opt.files;
    }
    if (opt.registry) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fail_msg("cannot start libcurl");
            goto fail;
        }
        int rc = registry_fetch(&opt, &level, &sources, &count);
        curl_global_cleanup();
        if (rc < 0)
            goto fail;
        if (opt.type_name) /* --type overrides what the registry says */
            for (size_t i = 1; i < count; i++)
                sources[i].type = forced_type;
    }
    for (size_t i = 0; i < count; i++)
        if (parse_source(&sources[i]) < 0)
            goto fail;

    old = sd_calloc(count, sizeof *old);
    if (!old) {
        fail_msg("out of memory");
        goto fail;
    }
    for (size_t i = 1; i < count; i++)
        old[i - 1] = sources[i].schema;
    if (sc_check(sources[0].schema, old, count - 1, level, &result, &err) < 0) {
        fail_msg("%s", err.msg);
        goto fail;
    }
    report_t report = {
        .level = sc_level_name(level), .sources = sources, .count = count, .result = &result};
    switch (opt.format) {
    case OUTPUT_TEXT: print_text(&report); break;
    case OUTPUT_JSON:
        if (print_json(&report) < 0)
            goto fail;
        break;
    case OUTPUT_JUNIT: print_junit(&report); break;
    }
    if (fflush(stdout) != 0) {
        fail_msg("cannot write the report: %s", strerror(errno));
        goto fail;
    }
    status = result.compatible ? EXIT_COMPATIBLE : EXIT_INCOMPATIBLE;
fail:
    sc_result_free(&result);
    sd_free(old);
    sources_free(sources, count);
    refset_free(&opt.files);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_COMPATIBLE;
    }
    if (strcmp(argv[1], "check") == 0)
        return run_check(argc - 1, argv + 1);
    fail_msg("unknown command '%s' (try --help)", argv[1]);
    return EXIT_ERROR;
}
