/*
 * compat.c - the format-neutral half of schema compatibility: level names and
 * what each level compares (Confluent's CompatibilityChecker semantics), the
 * list of findings, parsed schemas, and sc_check, which runs a format's
 * reader/writer check in the directions and against the versions a level
 * asks for.
 */
#include "compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "compat_int.h"

/* What each level compares: directions and how many earlier versions. */
static const struct {
    sc_level_t level;
    const char *name;
    bool backward;
    bool forward;
    bool transitive;
} levels[] = {
    {SC_LEVEL_NONE, "NONE", false, false, false},
    {SC_LEVEL_BACKWARD, "BACKWARD", true, false, false},
    {SC_LEVEL_BACKWARD_TRANSITIVE, "BACKWARD_TRANSITIVE", true, false, true},
    {SC_LEVEL_FORWARD, "FORWARD", false, true, false},
    {SC_LEVEL_FORWARD_TRANSITIVE, "FORWARD_TRANSITIVE", false, true, true},
    {SC_LEVEL_FULL, "FULL", true, true, false},
    {SC_LEVEL_FULL_TRANSITIVE, "FULL_TRANSITIVE", true, true, true},
};
#define LEVEL_COUNT (sizeof levels / sizeof levels[0])

/* Schema types as Confluent names them, the word the CLI takes, and the
 * checker (NULL until the format's rules exist). */
static const struct {
    sc_schema_type_t type;
    const char *name;
    const char *word;
    const sc_format_t *format;
} types[] = {
    {SC_TYPE_AVRO, "AVRO", "avro", &sc__avro_format},
    {SC_TYPE_PROTOBUF, "PROTOBUF", "protobuf", NULL},
    {SC_TYPE_JSON, "JSON", "json", NULL},
};
#define TYPE_COUNT (sizeof types / sizeof types[0])

static const char *const direction_names[] = {
    [SC_DIRECTION_BACKWARD] = "BACKWARD",
    [SC_DIRECTION_FORWARD] = "FORWARD",
};

int sc_level_parse(const char *name, sc_level_t *level, sd_err_t *err)
{
    for (size_t i = 0; name && i < LEVEL_COUNT; i++) {
        if (strcasecmp(name, levels[i].name) == 0) {
            *level = levels[i].level;
            return 0;
        }
    }
    return sd_err_set(err, SD_ERR_INVALID,
                      "unknown compatibility level '%s' (expected NONE, BACKWARD, "
                      "BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE)",
                      name ? name : "");
}

static size_t level_index(sc_level_t level)
{
    for (size_t i = 0; i < LEVEL_COUNT; i++)
        if (levels[i].level == level)
            return i;
    return 0;
}

const char *sc_level_name(sc_level_t level) { return levels[level_index(level)].name; }
bool sc_level_backward(sc_level_t level) { return levels[level_index(level)].backward; }
bool sc_level_forward(sc_level_t level) { return levels[level_index(level)].forward; }
bool sc_level_transitive(sc_level_t level) { return levels[level_index(level)].transitive; }

int sc_schema_type_parse(const char *name, sc_schema_type_t *type, sd_err_t *err)
{
    for (size_t i = 0; name && i < TYPE_COUNT; i++) {
        if (strcasecmp(name, types[i].word) == 0) {
            *type = types[i].type;
            return 0;
        }
    }
    return sd_err_set(err, SD_ERR_INVALID,
                      "unknown schema type '%s' (expected avro, protobuf or json)",
                      name ? name : "");
}

static size_t type_index(sc_schema_type_t type)
{
    for (size_t i = 0; i < TYPE_COUNT; i++)
        if (types[i].type == type)
            return i;
    return 0;
}

const char *sc_schema_type_name(sc_schema_type_t type) { return types[type_index(type)].name; }

const sc_format_t *sc_format_for(sc_schema_type_t type)
{
    for (size_t i = 0; i < TYPE_COUNT; i++)
        if (types[i].type == type)
            return types[i].format;
    return NULL;
}

const char *sc_direction_name(sc_direction_t direction)
{
    return direction == SC_DIRECTION_FORWARD ? direction_names[SC_DIRECTION_FORWARD]
                                             : direction_names[SC_DIRECTION_BACKWARD];
}

/* -- findings --------------------------------------------------------------- */

static char *vformat(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = n < 0 ? NULL : sd_malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}

int sc_findings_add(sc_findings_t *findings, const char *rule, const char *location,
                    const char *path, const char *fmt, ...)
{
    sc_finding_t f = {.rule = rule, .version = findings->version, .direction = findings->direction};
    if (findings->count == findings->cap) {
        size_t cap = findings->cap ? findings->cap * 2 : 8;
        sc_finding_t *items = sd_realloc(findings->items, cap * sizeof *items);
        if (!items)
            return SD_ERR_NOMEM;
        findings->items = items;
        findings->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    f.message = vformat(fmt, ap);
    va_end(ap);
    f.location = sd_strdup(location ? location : "/");
    f.path = sd_strdup(path ? path : "");
    if (!f.message || !f.location || !f.path) {
        sd_free(f.message);
        sd_free(f.location);
        sd_free(f.path);
        return SD_ERR_NOMEM;
    }
    findings->items[findings->count++] = f;
    return 0;
}

void sc_findings_truncate(sc_findings_t *findings, size_t count)
{
    while (findings->count > count) {
        sc_finding_t *f = &findings->items[--findings->count];
        sd_free(f->location);
        sd_free(f->path);
        sd_free(f->message);
    }
}

void sc_findings_free(sc_findings_t *findings)
{
    sc_findings_truncate(findings, 0);
    sd_free(findings->items);
    memset(findings, 0, sizeof *findings);
}

/* -- schemas ---------------------------------------------------------------- */

struct sc_schema {
    sc_schema_type_t type;
    const sc_format_t *format; /* static */
    void *model;               /* owned, released with format->free_model */
};

int sc_schema_parse(sc_schema_type_t type, const char *text, size_t len, const sc_reference_t *refs,
                    size_t ref_count, sc_schema_t **out, sd_err_t *err)
{
    sc_schema_t *schema = NULL;
    const sc_format_t *format = sc_format_for(type);
    int rc;

    *out = NULL;
    if (!format)
        return sd_err_set(err, SC_ERR_UNSUPPORTED, "%s schemas are not supported yet",
                          sc_schema_type_name(type));
    schema = sd_calloc(1, sizeof *schema);
    if (!schema) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    schema->type = type;
    schema->format = format;
    rc = format->parse(text, len, refs, ref_count, &schema->model, err);
    if (rc < 0)
        goto fail;
    *out = schema;
    return 0;
fail:
    sd_free(schema);
    return rc;
}

void sc_schema_free(sc_schema_t *schema)
{
    if (!schema)
        return;
    if (schema->model)
        schema->format->free_model(schema->model);
    sd_free(schema);
}

sc_schema_type_t sc_schema_type(const sc_schema_t *schema) { return schema->type; }
const void *sc_schema_model(const sc_schema_t *schema) { return schema->model; }

int sc_schema_text(const sc_schema_t *schema, bool normalized, char **text, size_t *len,
                   sd_err_t *err)
{
    size_t length = 0;
    *text = NULL;
    int rc = normalized ? schema->format->normalized_text(schema->model, text, &length, err)
                        : schema->format->canonical_text(schema->model, text, &length, err);
    if (rc == 0 && len)
        *len = length;
    return rc;
}

/* -- the check -------------------------------------------------------------- */

/* Confluent answers a change of schema type with this finding and nothing
 * else: the formats' rules do not apply across types. */
#define RULE_SCHEMA_TYPE "SCHEMA_TYPE_MISMATCH"

static int compare(sc_result_t *result, const sc_schema_t *new_schema,
                   const sc_schema_t *old_schema, size_t version, sc_direction_t direction,
                   sd_err_t *err)
{
    sc_findings_t *findings = &result->findings;
    sc_comparison_t *c = &result->comparisons[result->comparison_count];
    int rc = 0;

    findings->version = version;
    findings->direction = direction;
    c->version = version;
    c->direction = direction;
    c->first_finding = findings->count;
    if (new_schema->type != old_schema->type) {
        if (sc_findings_add(findings, RULE_SCHEMA_TYPE, "/", "",
                            "the new schema is %s but version %zu is %s; a schema of a "
                            "different type is never compatible",
                            sc_schema_type_name(new_schema->type), version + 1,
                            sc_schema_type_name(old_schema->type)) < 0)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    } else {
        const void *reader =
            direction == SC_DIRECTION_BACKWARD ? new_schema->model : old_schema->model;
        const void *writer =
            direction == SC_DIRECTION_BACKWARD ? old_schema->model : new_schema->model;
        rc = new_schema->format->check_reader_writer(reader, writer, findings, err);
        if (rc < 0)
            return rc;
    }
    c->finding_count = findings->count - c->first_finding;
    c->compatible = c->finding_count == 0;
    if (!c->compatible)
        result->compatible = false;
    result->comparison_count++;
    return 0;
}

int sc_check(const sc_schema_t *new_schema, const sc_schema_t *const *earlier, size_t count,
             sc_level_t level, sc_result_t *result, sd_err_t *err)
{
    memset(result, 0, sizeof *result);
    result->compatible = true;
    bool backward = sc_level_backward(level), forward = sc_level_forward(level);
    if (count == 0 || (!backward && !forward))
        return 0;
    /* Confluent goes from the latest version back to the oldest. */
    size_t oldest = sc_level_transitive(level) ? 0 : count - 1;
    size_t n = (count - oldest) * ((backward ? 1 : 0) + (forward ? 1 : 0));
    result->comparisons = sd_calloc(n, sizeof *result->comparisons);
    if (!result->comparisons)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    for (size_t v = count; v-- > oldest;) {
        int rc;
        if (backward &&
            (rc = compare(result, new_schema, earlier[v], v, SC_DIRECTION_BACKWARD, err)) < 0)
            return rc;
        if (forward &&
            (rc = compare(result, new_schema, earlier[v], v, SC_DIRECTION_FORWARD, err)) < 0)
            return rc;
    }
    return 0;
}

void sc_result_free(sc_result_t *result)
{
    sc_findings_free(&result->findings);
    sd_free(result->comparisons);
    result->comparisons = NULL;
    result->comparison_count = 0;
}
