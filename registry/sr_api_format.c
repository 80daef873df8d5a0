/*
 * sr_api_format.c - the `format` query parameter of the endpoints that
 * return a schema's text. "resolved" (Avro) writes each referenced named
 * type out in place at its first use, as Avro's Schema.toString does for
 * Confluent's AvroSchema.formattedString("resolved"); any other value gives
 * the text as stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sr_api_int.h"

#define MAX_DEPTH 64

typedef struct resolver {
    sr_api_call_t *call;
    json_t *types;   /* full name -> the referenced schema's JSON */
    json_t *defined; /* full names already written out */
    bool failed;
} resolver_t;

static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                         "float", "double",  "bytes", "string"};

static bool is_primitive(const char *name)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++)
        if (strcmp(name, primitives[i]) == 0)
            return true;
    return false;
}

/* "ns.name" in out (or name when it holds a dot or there is no namespace). */
static void full_name(const char *name, const char *ns, char *out, size_t len)
{
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, len, "%s", name);
    else
        snprintf(out, len, "%s.%s", ns, name);
}

/* Adds the types the references name, transitively (read lock held). */
static void collect(resolver_t *r, const sr_reference_t *refs, size_t count, int depth)
{
    for (size_t i = 0; i < count && !r->failed && depth < MAX_DEPTH; i++) {
        const sr_subject_t *subject = sr_state_subject(r->call->state, refs[i].subject);
        const sr_version_t *v = sr_api__find_version(subject, refs[i].version, true);
        const sr_schema_t *s = v ? sr_state_schema(r->call->state, v->id) : NULL;
        if (!s || json_object_get(r->types, refs[i].name))
            continue;
        json_t *parsed = json_loads(s->schema, JSON_ALLOW_NUL, NULL);
        if (parsed && json_object_set_new(r->types, refs[i].name, parsed) != 0)
            r->failed = true;
        collect(r, s->references, s->reference_count, depth + 1);
    }
}

static json_t *resolve_node(resolver_t *r, json_t *node, const char *ns, int depth);

/* Resolves node in place inside its parent: a replacement is returned (new
 * reference) or NULL to keep it. */
static json_t *resolve_name(resolver_t *r, const char *name, const char *ns, int depth)
{
    if (is_primitive(name))
        return NULL;
    char full[512];
    full_name(name, ns, full, sizeof full);
    const char *key = full;
    json_t *type = json_object_get(r->types, full);
    if (!type && (type = json_object_get(r->types, name)))
        key = name;
    if (!type || json_object_get(r->defined, key))
        return NULL;
    json_object_set_new(r->defined, key, json_true());
    json_t *copy = json_deep_copy(type);
    if (!copy) {
        r->failed = true;
        return NULL;
    }
    json_t *replaced = resolve_node(r, copy, NULL, depth + 1);
    if (replaced) {
        json_decref(copy);
        return replaced;
    }
    return copy;
}

static void resolve_member(resolver_t *r, json_t *object, const char *key, const char *ns,
                           int depth)
{
    json_t *child = json_object_get(object, key);
    if (!child)
        return;
    json_t *replaced = resolve_node(r, child, ns, depth + 1);
    if (replaced && json_object_set_new(object, key, replaced) != 0)
        r->failed = true;
}

static json_t *resolve_node(resolver_t *r, json_t *node, const char *ns, int depth)
{
    if (depth > MAX_DEPTH || r->failed)
        return NULL;
    if (json_is_string(node))
        return resolve_name(r, json_string_value(node), ns, depth);
    if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            json_t *replaced = resolve_node(r, json_array_get(node, i), ns, depth + 1);
            if (replaced && json_array_set_new(node, i, replaced) != 0)
                r->failed = true;
        }
        return NULL;
    }
    if (!json_is_object(node))
        return NULL;
    const json_t *type = json_object_get(node, "type");
    const char *kind = json_is_string(type) ? json_string_value(type) : NULL;
    if (kind && (!strcmp(kind, "record") || !strcmp(kind, "error") || !strcmp(kind, "enum") ||
                 !strcmp(kind, "fixed"))) {
        const json_t *name = json_object_get(node, "name");
        const json_t *own_ns = json_object_get(node, "namespace");
        if (!json_is_string(name))
            return NULL;
        char full[512], inner_ns[512];
        full_name(json_string_value(name), json_is_string(own_ns) ? json_string_value(own_ns) : ns,
                  full, sizeof full);
        json_object_set_new(r->defined, full, json_true());
        const char *dot = strrchr(full, '.');
        snprintf(inner_ns, sizeof inner_ns, "%.*s", dot ? (int)(dot - full) : 0, full);
        json_t *fields = json_object_get(node, "fields");
        for (size_t i = 0; json_is_array(fields) && i < json_array_size(fields); i++)
            resolve_member(r, json_array_get(fields, i), "type", inner_ns, depth);
        return NULL;
    }
    if (kind && !strcmp(kind, "array"))
        resolve_member(r, node, "items", ns, depth);
    else if (kind && !strcmp(kind, "map"))
        resolve_member(r, node, "values", ns, depth);
    else
        resolve_member(r, node, "type", ns, depth);
    return NULL;
}

char *sr_api__formatted(sr_api_call_t *call, const sr_schema_t *schema, const char *format)
{
    if (!format || strcmp(format, "resolved") != 0 || strcmp(schema->schema_type, "AVRO") != 0 ||
        schema->reference_count == 0)
        return sd_strdup(schema->schema);
    resolver_t r = {.call = call, .types = json_object(), .defined = json_object()};
    json_t *root = json_loads(schema->schema, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    char *out = NULL;
    if (r.types && r.defined && root) {
        collect(&r, schema->references, schema->reference_count, 0);
        json_t *replaced = resolve_node(&r, root, NULL, 0);
        if (replaced) {
            json_decref(root);
            root = replaced;
        }
        if (!r.failed) {
            char *text = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
            if (text) {
                out = sd_strdup(text);
                free(text);
            }
        }
    } else if (!root && r.types && r.defined) {
        out = sd_strdup(schema->schema);
    }
    json_decref(root);
    json_decref(r.types);
    json_decref(r.defined);
    return out;
}

bool sr_api__format_member(sr_api_call_t *call, json_t *out, const sr_schema_t *schema)
{
    const char *format = sr_api__arg(call, "format");
    if (!format || strcmp(format, "resolved") != 0)
        return true;
    char *text = sr_api__formatted(call, schema, format);
    if (!text)
        return false;
    int rc = json_object_set_new(out, "schema", json_string(text));
    sd_free(text);
    return rc == 0;
}
