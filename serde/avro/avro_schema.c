/*
 * avro_schema.c - parses Avro schema JSON into the tree of avro_model.h and
 * validates it, after the Avro specification 1.11 ("Schema Declaration",
 * "Names", "Logical Types") with the checks Confluent's registry applies to
 * a new schema: names, duplicates, union rules, defaults, decimal parameters.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "avro/avro_int.h"
#include "base/alloc.h"

/* ---- arena ---------------------------------------------------------- */

void *avro__arena_alloc(avro_arena_t *arena, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    avro_arena_chunk_t *c = arena->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 4096 ? size : 4096;
        if (c && c->cap * 2 > cap && c->cap < (1u << 20))
            cap = c->cap * 2;
        c = sd_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = arena->head;
        c->used = 0;
        c->cap = cap;
        arena->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

void avro__arena_free(avro_arena_t *arena)
{
    avro_arena_chunk_t *c = arena->head;
    while (c) {
        avro_arena_chunk_t *next = c->next;
        sd_free(c);
        c = next;
    }
    arena->head = NULL;
}

static char *arena_strndup(avro_arena_t *arena, const char *s, size_t len)
{
    char *copy = avro__arena_alloc(arena, len + 1);
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

/* "space.name", or name alone when space is empty. */
static char *arena_join(avro_arena_t *arena, const char *space, const char *name)
{
    size_t sl = strlen(space), nl = strlen(name);
    if (!sl)
        return arena_strndup(arena, name, nl);
    char *full = avro__arena_alloc(arena, sl + nl + 2);
    if (full) {
        memcpy(full, space, sl);
        full[sl] = '.';
        memcpy(full + sl + 1, name, nl + 1);
    }
    return full;
}

/* ---- name table ----------------------------------------------------- */

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

sd_avro_node_t *avro__names_find(const avro_names_t *names, const char *fullname)
{
    if (!names->cap)
        return NULL;
    size_t mask = names->cap - 1;
    for (size_t i = name_hash(fullname) & mask;; i = (i + 1) & mask) {
        if (!names->keys[i])
            return NULL;
        if (strcmp(names->keys[i], fullname) == 0)
            return names->nodes[i];
    }
}

static void names_insert(const char **keys, sd_avro_node_t **nodes, size_t cap, const char *key,
                         sd_avro_node_t *node)
{
    size_t mask = cap - 1;
    size_t i = name_hash(key) & mask;
    while (keys[i] && strcmp(keys[i], key) != 0)
        i = (i + 1) & mask;
    keys[i] = key;
    nodes[i] = node;
}

int avro__names_put(avro_names_t *names, const char *fullname, sd_avro_node_t *node)
{
    if ((names->count + 1) * 2 > names->cap) {
        size_t cap = names->cap ? names->cap * 2 : 16;
        const char **keys = sd_calloc(cap, sizeof *keys);
        sd_avro_node_t **nodes = sd_calloc(cap, sizeof *nodes);
        if (!keys || !nodes) {
            sd_free(keys);
            sd_free(nodes);
            return SD_ERR_NOMEM;
        }
        for (size_t i = 0; i < names->cap; i++)
            if (names->keys[i])
                names_insert(keys, nodes, cap, names->keys[i], names->nodes[i]);
        sd_free(names->keys);
        sd_free(names->nodes);
        names->keys = keys;
        names->nodes = nodes;
        names->cap = cap;
    }
    if (!avro__names_find(names, fullname))
        names->count++;
    names_insert(names->keys, names->nodes, names->cap, fullname, node);
    return 0;
}

void avro__names_free(avro_names_t *names)
{
    sd_free(names->keys);
    sd_free(names->nodes);
    memset(names, 0, sizeof *names);
}

/* ---- small tables ---------------------------------------------------- */

static const char *const kind_names[] = {
    [SD_AVRO_NULL] = "null",   [SD_AVRO_BOOLEAN] = "boolean", [SD_AVRO_INT] = "int",
    [SD_AVRO_LONG] = "long",   [SD_AVRO_FLOAT] = "float",     [SD_AVRO_DOUBLE] = "double",
    [SD_AVRO_BYTES] = "bytes", [SD_AVRO_STRING] = "string",   [SD_AVRO_RECORD] = "record",
    [SD_AVRO_ENUM] = "enum",   [SD_AVRO_ARRAY] = "array",     [SD_AVRO_MAP] = "map",
    [SD_AVRO_UNION] = "union", [SD_AVRO_FIXED] = "fixed",     [SD_AVRO_REF] = "ref",
};

const char *sd_avro_kind_name(sd_avro_kind_t kind)
{
    if ((unsigned)kind < sizeof kind_names / sizeof kind_names[0])
        return kind_names[kind];
    return "?";
}

static int primitive_kind(const char *s)
{
    for (int k = SD_AVRO_NULL; k <= SD_AVRO_STRING; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

/* Attributes Java Avro reserves (Schema.SCHEMA_RESERVED, ENUM_RESERVED,
 * FIELD_RESERVED); everything else is a property. */
static const char *const schema_reserved[] = {"doc",       "fields",  "items",   "name",
                                              "namespace", "size",    "symbols", "values",
                                              "type",      "aliases", NULL};
static const char *const field_reserved[] = {"default", "doc",     "name", "order",
                                             "type",    "aliases", NULL};

static int is_reserved(const char *key, const char *const *set, int enum_default)
{
    if (enum_default && strcmp(key, "default") == 0)
        return 1;
    for (; *set; set++)
        if (key[0] == (*set)[0] && strcmp(key, *set) == 0)
            return 1;
    return 0;
}

static const struct {
    const char *name;
    sd_avro_logical_t logical;
    sd_avro_kind_t base;
} logical_table[] = {
    {"uuid", SD_AVRO_LOGICAL_UUID, SD_AVRO_STRING},
    {"date", SD_AVRO_LOGICAL_DATE, SD_AVRO_INT},
    {"time-millis", SD_AVRO_LOGICAL_TIME_MILLIS, SD_AVRO_INT},
    {"time-micros", SD_AVRO_LOGICAL_TIME_MICROS, SD_AVRO_LONG},
    {"timestamp-millis", SD_AVRO_LOGICAL_TIMESTAMP_MILLIS, SD_AVRO_LONG},
    {"timestamp-micros", SD_AVRO_LOGICAL_TIMESTAMP_MICROS, SD_AVRO_LONG},
    {"local-timestamp-millis", SD_AVRO_LOGICAL_LOCAL_TIMESTAMP_MILLIS, SD_AVRO_LONG},
    {"local-timestamp-micros", SD_AVRO_LOGICAL_LOCAL_TIMESTAMP_MICROS, SD_AVRO_LONG},
    {"duration", SD_AVRO_LOGICAL_DURATION, SD_AVRO_FIXED},
};

/* ---- parse context and messages ------------------------------------ */

typedef struct parse_ctx {
    sd_avro_schema_t *schema;
    const sd_avro_named_t *refs;
    int strict;
    sd_err_t *err;
    char path[384];
    size_t path_len;
} parse_ctx_t;

static size_t path_push(parse_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static size_t path_push(parse_ctx_t *ctx, const char *fmt, ...)
{
    size_t old = ctx->path_len;
    if (old < sizeof ctx->path - 1) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(ctx->path + old, sizeof ctx->path - old, fmt, ap);
        va_end(ap);
        if (n > 0)
            ctx->path_len =
                old + (size_t)n < sizeof ctx->path - 1 ? old + (size_t)n : sizeof ctx->path - 1;
    }
    return old;
}

/* path_push(ctx, ".%s", name) without the formatting cost: once per field. */
static size_t path_push_field(parse_ctx_t *ctx, const char *name)
{
    size_t old = ctx->path_len;
    size_t room = sizeof ctx->path - 1 - old;
    size_t len = strlen(name);
    if (room) {
        ctx->path[old] = '.';
        if (len > room - 1)
            len = room - 1;
        memcpy(ctx->path + old + 1, name, len);
        ctx->path_len = old + 1 + len;
        ctx->path[ctx->path_len] = '\0';
    }
    return old;
}

static void path_pop(parse_ctx_t *ctx, size_t old)
{
    ctx->path_len = old;
    ctx->path[old] = '\0';
}

static int fail(parse_ctx_t *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(parse_ctx_t *ctx, int code, const char *fmt, ...)
{
    if (!ctx->err)
        return code;
    char msg[SD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sd_err_set(ctx->err, code, "%s: %s", ctx->path_len ? ctx->path : "schema", msg);
}

static int nomem(parse_ctx_t *ctx)
{
    return sd_err_set(ctx->err, SD_ERR_NOMEM, "out of memory parsing an Avro schema");
}

/* A JSON value in a message: compact, cut at 60 bytes. */
static void describe(const json_t *v, char *out, size_t cap)
{
    sd_writer_t w;
    sd_writer_init(&w);
    avro__write_json(&w, v);
    if (w.err || !w.len) {
        snprintf(out, cap, "(value)");
    } else if (w.len > 60) {
        snprintf(out, cap, "%.57s...", (const char *)w.buf);
    } else {
        snprintf(out, cap, "%.*s", (int)w.len, (const char *)w.buf);
    }
    sd_writer_free(&w);
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int valid_simple_name(const char *s, size_t len)
{
    if (!len || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* Every dot-separated component is a valid simple name. */
static int valid_full_name(const char *s)
{
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (!valid_simple_name(s, len))
            return 0;
        if (!dot)
            return 1;
        s = dot + 1;
    }
}

/* ---- nodes ---------------------------------------------------------- */

static sd_avro_node_t *new_node(parse_ctx_t *ctx, sd_avro_kind_t kind)
{
    sd_avro_node_t *n = avro__arena_alloc(&ctx->schema->arena, sizeof *n);
    if (n) {
        n->kind = kind;
        n->props = ctx->schema->empty;
    }
    return n;
}

/* Copies the attributes outside `reserved` into a new props object (owned by
 * the schema), or leaves the shared empty one. */
static int collect_props(parse_ctx_t *ctx, json_t *obj, const char *const *reserved,
                         int enum_default, json_t **props)
{
    const char *key;
    json_t *value;
    json_t *out = NULL;
    json_object_foreach(obj, key, value)
    {
        if (is_reserved(key, reserved, enum_default))
            continue;
        if (!out) {
            out = json_object();
            if (!out || json_array_append_new(ctx->schema->owned, out) != 0)
                return nomem(ctx);
        }
        if (json_object_set(out, key, value) != 0)
            return nomem(ctx);
    }
    if (out)
        *props = out;
    return 0;
}

static sd_avro_node_t *find_named(parse_ctx_t *ctx, const char *fullname)
{
    sd_avro_node_t *n = avro__names_find(&ctx->schema->names, fullname);
    if (!n && ctx->refs)
        n = avro__names_find(&ctx->refs->table, fullname);
    return n;
}

/* A type name as used: a name with dots is full; otherwise it is relative to
 * the enclosing namespace, falling back to the null namespace as Java does. */
static int lookup_name(parse_ctx_t *ctx, const char *name, const char *space, sd_avro_node_t **out)
{
    *out = NULL;
    if (!strchr(name, '.') && *space) {
        char *full = arena_join(&ctx->schema->arena, space, name);
        if (!full)
            return nomem(ctx);
        *out = find_named(ctx, full);
    }
    if (!*out)
        *out = find_named(ctx, name);
    return 0;
}

static int parse_type(parse_ctx_t *ctx, json_t *j, const char *space, sd_avro_node_t **out);

/* Whether key repeats one of the i keys before it in list: a linear scan for
 * short lists, a table filled as it goes (`seen`) for long ones, so a huge
 * record, enum or union costs linear time. -1 when out of memory. */
static sd_avro_node_t seen_marker;

static int repeats(avro_names_t *seen, size_t count, const char *key,
                   const char *(*key_at)(const void *list, size_t k), const void *list, size_t i)
{
    if (count <= 16) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(key_at(list, k), key) == 0)
                return 1;
        return 0;
    }
    if (avro__names_find(seen, key))
        return 1;
    return avro__names_put(seen, key, &seen_marker) ? -1 : 0;
}

static const char *field_key(const void *list, size_t k)
{
    return ((const sd_avro_field_t *)list)[k].name;
}

static const char *symbol_key(const void *list, size_t k) { return ((const char *const *)list)[k]; }

static int resolve_logical(parse_ctx_t *ctx, sd_avro_node_t *n, json_t *obj)
{
    json_t *lt = json_object_get(obj, "logicalType");
    if (!json_is_string(lt))
        return 0;
    n->logical_name = json_string_value(lt);
    const char *name = n->logical_name;
    if (strcmp(name, "decimal") == 0) {
        if (n->kind != SD_AVRO_BYTES && n->kind != SD_AVRO_FIXED)
            return 0;
        json_t *pj = json_object_get(obj, "precision");
        json_t *sj = json_object_get(obj, "scale");
        long long precision = json_is_integer(pj) ? json_integer_value(pj) : 0;
        long long scale = json_is_integer(sj) ? json_integer_value(sj) : 0;
        const char *problem = NULL;
        char buf[128];
        if (pj && !json_is_integer(pj)) {
            problem = "decimal precision is not an integer";
        } else if (sj && !json_is_integer(sj)) {
            problem = "decimal scale is not an integer";
        } else if (precision <= 0 || precision > INT_MAX) {
            snprintf(buf, sizeof buf, "decimal precision %lld must be positive", precision);
            problem = buf;
        } else if (scale < 0 || scale > precision) {
            snprintf(buf, sizeof buf, "decimal scale %lld must be between 0 and the precision %lld",
                     scale, precision);
            problem = buf;
        } else if (n->kind == SD_AVRO_FIXED) {
            long long max = n->u.fixed.size
                                ? (long long)floor(log10(2.0) * (8.0 * (double)n->u.fixed.size - 1))
                                : 0;
            if (precision > max) {
                snprintf(buf, sizeof buf,
                         "decimal precision %lld does not fit a fixed of %zu bytes (at most %lld)",
                         precision, n->u.fixed.size, max);
                problem = buf;
            }
        }
        if (problem) {
            /* Avro ignores an invalid logical type; a new schema is refused. */
            if (ctx->strict)
                return fail(ctx, SD_AVRO_ERR_SCHEMA, "%s", problem);
            return 0;
        }
        n->logical = SD_AVRO_LOGICAL_DECIMAL;
        n->precision = (int)precision;
        n->scale = (int)scale;
        return 0;
    }
    for (size_t i = 0; i < sizeof logical_table / sizeof logical_table[0]; i++) {
        if (strcmp(name, logical_table[i].name) != 0)
            continue;
        if (n->kind == logical_table[i].base &&
            (logical_table[i].logical != SD_AVRO_LOGICAL_DURATION || n->u.fixed.size == 12))
            n->logical = logical_table[i].logical;
        break;
    }
    return 0;
}

static int parse_aliases(parse_ctx_t *ctx, json_t *aj, const char *space, int resolve,
                         const char ***out, size_t *count)
{
    if (!aj)
        return 0;
    if (!json_is_array(aj))
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "aliases must be an array of names");
    size_t n = json_array_size(aj);
    if (!n)
        return 0;
    const char **list = avro__arena_alloc(&ctx->schema->arena, n * sizeof *list);
    if (!list)
        return nomem(ctx);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(aj, i);
        if (!json_is_string(a))
            return fail(ctx, SD_AVRO_ERR_SCHEMA, "alias %zu is not a string", i);
        const char *s = json_string_value(a);
        if (ctx->strict && !(resolve ? valid_full_name(s) : valid_simple_name(s, strlen(s))))
            return fail(ctx, SD_AVRO_ERR_SCHEMA, "invalid alias \"%s\"", s);
        if (resolve && !strchr(s, '.')) {
            list[i] = arena_join(&ctx->schema->arena, space, s);
            if (!list[i])
                return nomem(ctx);
        } else {
            list[i] = s;
        }
    }
    *out = list;
    *count = n;
    return 0;
}

static int parse_fields_into(parse_ctx_t *ctx, sd_avro_node_t *rec, json_t *obj, avro_names_t *seen)
{
    json_t *fj = json_object_get(obj, "fields");
    if (!json_is_array(fj))
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "record %s has no \"fields\" array", rec->fullname);
    size_t count = json_array_size(fj);
    sd_avro_field_t *fields = NULL;
    if (count) {
        fields = avro__arena_alloc(&ctx->schema->arena, count * sizeof *fields);
        if (!fields)
            return nomem(ctx);
    }
    rec->u.record.fields = fields;
    for (size_t i = 0; i < count; i++) {
        json_t *f = json_array_get(fj, i);
        json_t *name_j = json_object_get(f, "name");
        if (!json_is_object(f) || !json_is_string(name_j)) {
            size_t old = path_push(ctx, ".[%zu]", i);
            int rc = fail(ctx, SD_AVRO_ERR_SCHEMA, "field %zu has no name", i);
            path_pop(ctx, old);
            return rc;
        }
        sd_avro_field_t *field = &fields[i];
        field->name = json_string_value(name_j);
        field->position = i;
        field->props = ctx->schema->empty;
        size_t old = path_push_field(ctx, field->name);
        int rc = 0;
        if (ctx->strict ? !valid_simple_name(field->name, json_string_length(name_j))
                        : !*field->name) {
            rc = fail(ctx, SD_AVRO_ERR_SCHEMA, "invalid field name \"%s\"", field->name);
            goto out;
        }
        int dup = repeats(seen, count, field->name, field_key, fields, i);
        if (dup) {
            rc = dup < 0 ? nomem(ctx)
                         : fail(ctx, SD_AVRO_ERR_SCHEMA, "duplicate field name \"%s\" in record %s",
                                field->name, rec->fullname);
            goto out;
        }
        json_t *tj = json_object_get(f, "type");
        if (!tj) {
            rc = fail(ctx, SD_AVRO_ERR_SCHEMA, "field has no type");
            goto out;
        }
        if ((rc = parse_type(ctx, tj, rec->space, &field->type)) != 0)
            goto out;
        json_t *doc = json_object_get(f, "doc");
        if (json_is_string(doc))
            field->doc = json_string_value(doc);
        field->default_value = json_object_get(f, "default");
        json_t *order = json_object_get(f, "order");
        if (json_is_string(order)) {
            const char *o = json_string_value(order);
            field->order_given = 1;
            if (strcasecmp(o, "ascending") == 0) {
                field->order = SD_AVRO_ORDER_ASCENDING;
            } else if (strcasecmp(o, "descending") == 0) {
                field->order = SD_AVRO_ORDER_DESCENDING;
            } else if (strcasecmp(o, "ignore") == 0) {
                field->order = SD_AVRO_ORDER_IGNORE;
            } else {
                rc = fail(ctx, SD_AVRO_ERR_SCHEMA,
                          "order \"%s\" is not ascending, descending or ignore", o);
                goto out;
            }
        }
        if ((rc = parse_aliases(ctx, json_object_get(f, "aliases"), "", 0, &field->aliases,
                                &field->alias_count)) != 0)
            goto out;
        rc = collect_props(ctx, f, field_reserved, 0, &field->props);
    out:
        path_pop(ctx, old);
        if (rc)
            return rc;
        rec->u.record.field_count = i + 1;
    }
    return 0;
}

static int parse_enum_into(parse_ctx_t *ctx, sd_avro_node_t *n, json_t *obj, avro_names_t *seen)
{
    json_t *sj = json_object_get(obj, "symbols");
    if (!json_is_array(sj))
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "enum %s has no \"symbols\" array", n->fullname);
    size_t count = json_array_size(sj);
    const char **symbols = NULL;
    if (count) {
        symbols = avro__arena_alloc(&ctx->schema->arena, count * sizeof *symbols);
        if (!symbols)
            return nomem(ctx);
    }
    for (size_t i = 0; i < count; i++) {
        json_t *s = json_array_get(sj, i);
        if (!json_is_string(s))
            return fail(ctx, SD_AVRO_ERR_SCHEMA, "enum %s: symbol %zu is not a string", n->fullname,
                        i);
        symbols[i] = json_string_value(s);
        if (ctx->strict && !valid_simple_name(symbols[i], json_string_length(s)))
            return fail(ctx, SD_AVRO_ERR_SCHEMA, "enum %s: invalid symbol \"%s\"", n->fullname,
                        symbols[i]);
        int dup = repeats(seen, count, symbols[i], symbol_key, symbols, i);
        if (dup)
            return dup < 0 ? nomem(ctx)
                           : fail(ctx, SD_AVRO_ERR_SCHEMA, "enum %s: duplicate symbol \"%s\"",
                                  n->fullname, symbols[i]);
    }
    n->u.enm.symbols = symbols;
    n->u.enm.symbol_count = count;
    json_t *dj = json_object_get(obj, "default");
    if (json_is_string(dj)) {
        n->u.enm.default_symbol = json_string_value(dj);
        if (sd_avro_enum_symbol_index(n, n->u.enm.default_symbol) < 0)
            return fail(ctx, SD_AVRO_ERR_SCHEMA,
                        "enum %s: default \"%s\" is not one of its symbols", n->fullname,
                        n->u.enm.default_symbol);
    } else if (dj && ctx->strict) {
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "enum %s: default is not a string", n->fullname);
    }
    return 0;
}

static int parse_fields(parse_ctx_t *ctx, sd_avro_node_t *rec, json_t *obj)
{
    avro_names_t seen = {0};
    int rc = parse_fields_into(ctx, rec, obj, &seen);
    avro__names_free(&seen);
    return rc;
}

static int parse_enum(parse_ctx_t *ctx, sd_avro_node_t *n, json_t *obj)
{
    avro_names_t seen = {0};
    int rc = parse_enum_into(ctx, n, obj, &seen);
    avro__names_free(&seen);
    return rc;
}

static int parse_named(parse_ctx_t *ctx, json_t *obj, sd_avro_kind_t kind, const char *space,
                       sd_avro_node_t **out)
{
    sd_avro_schema_t *schema = ctx->schema;
    json_t *name_j = json_object_get(obj, "name");
    if (!json_is_string(name_j))
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "%s has no name", kind_names[kind]);
    const char *name = json_string_value(name_j);
    sd_avro_node_t *n = new_node(ctx, kind);
    if (!n)
        return nomem(ctx);
    const char *dot = strrchr(name, '.');
    json_t *ns_j = json_object_get(obj, "namespace");
    if (dot) {
        n->space = arena_strndup(&schema->arena, name, (size_t)(dot - name));
        n->name = dot + 1;
        n->fullname = name;
    } else {
        n->space = json_is_string(ns_j) ? json_string_value(ns_j) : space;
        n->name = name;
        n->fullname = arena_join(&schema->arena, n->space, name);
    }
    if (!n->space || !n->fullname)
        return nomem(ctx);
    size_t old = ctx->path_len ? ctx->path_len : path_push(ctx, "%s", n->fullname);
    int rc = 0;
    if (ctx->strict ? !valid_full_name(n->fullname) || (dot && !*n->space)
                    : !*n->name || json_string_length(name_j) != strlen(name)) {
        rc = fail(ctx, SD_AVRO_ERR_SCHEMA, "invalid name \"%s\"", n->fullname);
        goto out;
    }
    if (primitive_kind(ctx->strict ? n->name : n->fullname) >= 0) {
        rc = fail(ctx, SD_AVRO_ERR_SCHEMA,
                  "\"%s\" is a primitive type name and cannot be redefined", n->fullname);
        goto out;
    }
    if (find_named(ctx, n->fullname)) {
        rc = fail(ctx, SD_AVRO_ERR_SCHEMA, "type %s is defined twice", n->fullname);
        goto out;
    }
    if (avro__names_put(&schema->names, n->fullname, n) != 0) {
        rc = nomem(ctx);
        goto out;
    }
    if (schema->defined_count == schema->defined_cap) {
        size_t cap = schema->defined_cap ? schema->defined_cap * 2 : 8;
        sd_avro_node_t **grown = sd_realloc(schema->defined, cap * sizeof *grown);
        if (!grown) {
            rc = nomem(ctx);
            goto out;
        }
        schema->defined = grown;
        schema->defined_cap = cap;
    }
    schema->defined[schema->defined_count++] = n;
    json_t *doc = json_object_get(obj, "doc");
    if (json_is_string(doc))
        n->doc = json_string_value(doc);
    if ((rc = parse_aliases(ctx, json_object_get(obj, "aliases"), n->space, 1, &n->aliases,
                            &n->alias_count)) != 0)
        goto out;
    if (kind == SD_AVRO_RECORD) {
        rc = parse_fields(ctx, n, obj);
    } else if (kind == SD_AVRO_ENUM) {
        rc = parse_enum(ctx, n, obj);
    } else {
        json_t *sj = json_object_get(obj, "size");
        if (!json_is_integer(sj) || json_integer_value(sj) < 0 ||
            json_integer_value(sj) > INT_MAX) {
            rc = fail(ctx, SD_AVRO_ERR_SCHEMA, "fixed %s needs a \"size\" from 0 to %d",
                      n->fullname, INT_MAX);
            goto out;
        }
        n->u.fixed.size = (size_t)json_integer_value(sj);
    }
    if (rc)
        goto out;
    if ((rc = collect_props(ctx, obj, schema_reserved, kind == SD_AVRO_ENUM, &n->props)) != 0)
        goto out;
    rc = resolve_logical(ctx, n, obj);
out:
    path_pop(ctx, old);
    if (!rc)
        *out = n;
    return rc;
}

/* Two union branches clash when both are unnamed of the same kind or both
 * name the same type. */
static const char *branch_key(const sd_avro_node_t *b)
{
    const sd_avro_node_t *d = sd_avro_deref(b);
    if (d->kind == SD_AVRO_RECORD || d->kind == SD_AVRO_ENUM || d->kind == SD_AVRO_FIXED)
        return d->fullname;
    return kind_names[d->kind];
}

static const char *branch_key_at(const void *list, size_t k)
{
    return branch_key(((sd_avro_node_t *const *)list)[k]);
}

static int parse_union_into(parse_ctx_t *ctx, json_t *arr, const char *space, sd_avro_node_t **out,
                            avro_names_t *seen)
{
    sd_avro_node_t *n = new_node(ctx, SD_AVRO_UNION);
    if (!n)
        return nomem(ctx);
    size_t count = json_array_size(arr);
    if (count) {
        n->u.un.branches = avro__arena_alloc(&ctx->schema->arena, count * sizeof(void *));
        if (!n->u.un.branches)
            return nomem(ctx);
    }
    for (size_t i = 0; i < count; i++) {
        sd_avro_node_t *b = NULL;
        int rc = parse_type(ctx, json_array_get(arr, i), space, &b);
        if (rc)
            return rc;
        if (b->kind == SD_AVRO_UNION)
            return fail(ctx, SD_AVRO_ERR_SCHEMA,
                        "a union may not immediately contain a union "
                        "(branch %zu)",
                        i);
        const char *key = branch_key(b);
        int dup = repeats(seen, count, key, branch_key_at, n->u.un.branches, i);
        if (dup)
            return dup < 0
                       ? nomem(ctx)
                       : fail(ctx, SD_AVRO_ERR_SCHEMA, "union has duplicate branch \"%s\"", key);
        n->u.un.branches[i] = b;
        n->u.un.branch_count = i + 1;
    }
    *out = n;
    return 0;
}

static int parse_union(parse_ctx_t *ctx, json_t *arr, const char *space, sd_avro_node_t **out)
{
    avro_names_t seen = {0};
    int rc = parse_union_into(ctx, arr, space, out, &seen);
    avro__names_free(&seen);
    return rc;
}

static int parse_type(parse_ctx_t *ctx, json_t *j, const char *space, sd_avro_node_t **out)
{
    int rc;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        int k = primitive_kind(s);
        if (k >= 0) {
            if (!(*out = new_node(ctx, (sd_avro_kind_t)k)))
                return nomem(ctx);
            return 0;
        }
        sd_avro_node_t *target;
        if ((rc = lookup_name(ctx, s, space, &target)) != 0)
            return rc;
        if (!target)
            return fail(ctx, SD_AVRO_ERR_REFERENCE, "unknown type \"%s\"", s);
        sd_avro_node_t *ref = new_node(ctx, SD_AVRO_REF);
        if (!ref)
            return nomem(ctx);
        ref->u.ref.target = target;
        *out = ref;
        return 0;
    }
    if (json_is_array(j))
        return parse_union(ctx, j, space, out);
    if (!json_is_object(j))
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "a type must be a name, an object or an array");
    json_t *tj = json_object_get(j, "type");
    if (!json_is_string(tj))
        return fail(ctx, SD_AVRO_ERR_SCHEMA,
                    tj ? "\"type\" must be a type name" : "object has no \"type\"");
    const char *t = json_string_value(tj);
    int k = primitive_kind(t);
    sd_avro_node_t *n = NULL;
    if (k >= 0) {
        if (!(n = new_node(ctx, (sd_avro_kind_t)k)))
            return nomem(ctx);
    } else if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0) {
        return parse_named(ctx, j, SD_AVRO_RECORD, space, out);
    } else if (strcmp(t, "enum") == 0) {
        return parse_named(ctx, j, SD_AVRO_ENUM, space, out);
    } else if (strcmp(t, "fixed") == 0) {
        return parse_named(ctx, j, SD_AVRO_FIXED, space, out);
    } else if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
        int is_array = t[0] == 'a';
        json_t *inner = json_object_get(j, is_array ? "items" : "values");
        if (!inner)
            return fail(ctx, SD_AVRO_ERR_SCHEMA, "%s has no \"%s\"", t,
                        is_array ? "items" : "values");
        if (!(n = new_node(ctx, is_array ? SD_AVRO_ARRAY : SD_AVRO_MAP)))
            return nomem(ctx);
        size_t old = path_push(ctx, is_array ? "[]" : "{}");
        rc = parse_type(ctx, inner, space, is_array ? &n->u.array.items : &n->u.map.values);
        path_pop(ctx, old);
        if (rc)
            return rc;
    } else {
        /* {"type":"Name"} names a defined type; its other attributes are
         * ignored, as Java does. */
        sd_avro_node_t *target;
        if ((rc = lookup_name(ctx, t, space, &target)) != 0)
            return rc;
        if (!target)
            return fail(ctx, SD_AVRO_ERR_REFERENCE, "unknown type \"%s\"", t);
        if (!(n = new_node(ctx, SD_AVRO_REF)))
            return nomem(ctx);
        n->u.ref.target = target;
        *out = n;
        return 0;
    }
    if ((rc = collect_props(ctx, j, schema_reserved, 0, &n->props)) != 0)
        return rc;
    if ((rc = resolve_logical(ctx, n, j)) != 0)
        return rc;
    *out = n;
    return 0;
}

/* ---- default values ----------------------------------------------- */

/* Counts the characters of a UTF-8 string, or returns -1 when one is above
 * U+00FF (bytes and fixed defaults are ISO-8859-1 strings). */
static long latin1_length(const char *s, size_t len)
{
    long n = 0;
    for (size_t i = 0; i < len; n++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            i++;
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < len) {
            i += 2;
        } else {
            return -1;
        }
    }
    return n;
}

typedef struct default_problem {
    char where[160];
    const json_t *value;
    const char *expected;
    char expected_buf[160];
} default_problem_t;

static int bad_default(default_problem_t *p, const json_t *v, const char *expected)
{
    p->value = v;
    p->expected = expected;
    return 0;
}

static void where_push(default_problem_t *p, size_t *old, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void where_push(default_problem_t *p, size_t *old, const char *fmt, ...)
{
    *old = strlen(p->where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->where + *old, sizeof p->where - *old, fmt, ap);
    va_end(ap);
}

static int default_ok(const json_t *v, const sd_avro_node_t *t, default_problem_t *p)
{
    t = sd_avro_deref(t);
    size_t old;
    switch (t->kind) {
    case SD_AVRO_NULL: return json_is_null(v) ? 1 : bad_default(p, v, "null");
    case SD_AVRO_BOOLEAN: return json_is_boolean(v) ? 1 : bad_default(p, v, "a boolean");
    case SD_AVRO_INT:
        if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
            json_integer_value(v) <= INT32_MAX)
            return 1;
        return bad_default(p, v, "an int");
    case SD_AVRO_LONG: return json_is_integer(v) ? 1 : bad_default(p, v, "a long");
    case SD_AVRO_FLOAT:
    case SD_AVRO_DOUBLE:
        if (json_is_number(v))
            return 1;
        return bad_default(p, v, t->kind == SD_AVRO_FLOAT ? "a float" : "a double");
    case SD_AVRO_STRING: return json_is_string(v) ? 1 : bad_default(p, v, "a string");
    case SD_AVRO_BYTES:
        if (json_is_string(v) && latin1_length(json_string_value(v), json_string_length(v)) >= 0)
            return 1;
        return bad_default(p, v, "bytes (a string of ISO-8859-1 characters)");
    case SD_AVRO_FIXED:
        if (json_is_string(v) &&
            latin1_length(json_string_value(v), json_string_length(v)) == (long)t->u.fixed.size)
            return 1;
        snprintf(p->expected_buf, sizeof p->expected_buf,
                 "a fixed %s (a string of %zu ISO-8859-1 characters)", t->fullname,
                 t->u.fixed.size);
        return bad_default(p, v, p->expected_buf);
    case SD_AVRO_ENUM:
        if (json_is_string(v) && sd_avro_enum_symbol_index(t, json_string_value(v)) >= 0)
            return 1;
        snprintf(p->expected_buf, sizeof p->expected_buf, "a symbol of enum %s", t->fullname);
        return bad_default(p, v, p->expected_buf);
    case SD_AVRO_ARRAY:
        if (!json_is_array(v))
            return bad_default(p, v, "an array");
        for (size_t i = 0; i < json_array_size(v); i++) {
            where_push(p, &old, "[%zu]", i);
            if (!default_ok(json_array_get(v, i), t->u.array.items, p))
                return 0;
            p->where[old] = '\0';
        }
        return 1;
    case SD_AVRO_MAP: {
        if (!json_is_object(v))
            return bad_default(p, v, "a map (a JSON object)");
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)v, key, value)
        {
            where_push(p, &old, "[\"%s\"]", key);
            if (!default_ok(value, t->u.map.values, p))
                return 0;
            p->where[old] = '\0';
        }
        return 1;
    }
    case SD_AVRO_RECORD:
        if (!json_is_object(v)) {
            snprintf(p->expected_buf, sizeof p->expected_buf, "a record %s (a JSON object)",
                     t->fullname);
            return bad_default(p, v, p->expected_buf);
        }
        for (size_t i = 0; i < t->u.record.field_count; i++) {
            const sd_avro_field_t *f = &t->u.record.fields[i];
            const json_t *fv = json_object_get(v, f->name);
            where_push(p, &old, ".%s", f->name);
            if (!fv && !f->default_value) {
                p->value = NULL;
                p->expected = "a value (the field has no default)";
                return 0;
            }
            if (!default_ok(fv ? fv : f->default_value, f->type, p))
                return 0;
            p->where[old] = '\0';
        }
        return 1;
    case SD_AVRO_UNION:
        if (!t->u.un.branch_count)
            return bad_default(p, v, "a value of an empty union");
        return default_ok(v, t->u.un.branches[0], p);
    case SD_AVRO_REF: break;
    }
    return bad_default(p, v, "a value");
}

static int check_default(parse_ctx_t *ctx, const json_t *v, const sd_avro_node_t *type)
{
    default_problem_t p;
    memset(&p, 0, sizeof p);
    /* Java reads a float or double field's textual default ("NaN", "1.5")
     * as a number; only there, not inside unions, arrays or records. */
    double number;
    if ((type->kind == SD_AVRO_FLOAT || type->kind == SD_AVRO_DOUBLE) && json_is_string(v) &&
        avro__parse_java_double(json_string_value(v), &number) == 0)
        return 0;
    if (default_ok(v, type, &p))
        return 0;
    char shown[80];
    const sd_avro_node_t *d = sd_avro_deref(type);
    const char *first =
        d->kind == SD_AVRO_UNION ? " (a union default must match its first branch)" : "";
    if (!p.where[0]) {
        describe(v, shown, sizeof shown);
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "default %s is not %s%s", shown, p.expected, first);
    }
    if (!p.value)
        return fail(ctx, SD_AVRO_ERR_SCHEMA, "default has no %s: %s", p.where + (p.where[0] == '.'),
                    p.expected);
    describe(p.value, shown, sizeof shown);
    return fail(ctx, SD_AVRO_ERR_SCHEMA, "default at %s: %s is not %s%s", p.where, shown,
                p.expected, first);
}

/* Defaults are checked once the whole tree exists, so a default may use a
 * type that is still being defined where the field appears. */
static int check_defaults(parse_ctx_t *ctx, const sd_avro_node_t *n)
{
    int rc = 0;
    switch (n->kind) {
    case SD_AVRO_RECORD:
        for (size_t i = 0; i < n->u.record.field_count && !rc; i++) {
            const sd_avro_field_t *f = &n->u.record.fields[i];
            size_t old = path_push_field(ctx, f->name);
            if (f->default_value)
                rc = check_default(ctx, f->default_value, f->type);
            if (!rc)
                rc = check_defaults(ctx, f->type);
            path_pop(ctx, old);
        }
        return rc;
    case SD_AVRO_ARRAY: {
        size_t old = path_push(ctx, "[]");
        rc = check_defaults(ctx, n->u.array.items);
        path_pop(ctx, old);
        return rc;
    }
    case SD_AVRO_MAP: {
        size_t old = path_push(ctx, "{}");
        rc = check_defaults(ctx, n->u.map.values);
        path_pop(ctx, old);
        return rc;
    }
    case SD_AVRO_UNION:
        for (size_t i = 0; i < n->u.un.branch_count && !rc; i++)
            rc = check_defaults(ctx, n->u.un.branches[i]);
        return rc;
    default: return 0;
    }
}

/* ---- public entry points -------------------------------------------- */

static void named_release(sd_avro_named_t *set);

int sd_avro_parse_flags(const char *json, size_t len, const sd_avro_named_t *refs, unsigned flags,
                        sd_avro_schema_t **out, sd_err_t *err)
{
    *out = NULL;
    sd_avro_schema_t *schema = sd_calloc(1, sizeof *schema);
    if (!schema)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory parsing an Avro schema");
    schema->refcount = 1;
    schema->flags = flags;
    int rc;
    json_error_t jerr;
    schema->doc = json_loadb(json, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!schema->doc) {
        rc = sd_err_set(err, SD_AVRO_ERR_JSON, "schema is not JSON: %s at line %d column %d",
                        jerr.text, jerr.line, jerr.column);
        goto fail;
    }
    schema->owned = json_array();
    schema->empty = json_object();
    if (!schema->owned || !schema->empty) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory parsing an Avro schema");
        goto fail;
    }
    parse_ctx_t ctx = {
        .schema = schema, .refs = refs, .strict = !(flags & SD_AVRO_PARSE_LENIENT), .err = err};
    ctx.path[0] = '\0';
    if ((rc = parse_type(&ctx, schema->doc, "", &schema->root)) != 0)
        goto fail;
    if (ctx.strict) {
        path_pop(&ctx, 0);
        const sd_avro_node_t *root = schema->root;
        if (root->kind == SD_AVRO_RECORD)
            path_push(&ctx, "%s", root->fullname);
        if ((rc = check_defaults(&ctx, root)) != 0)
            goto fail;
        /* Named types defined inside other records' fields are reached by
         * the walk above; records only reachable through REF need no pass. */
    }
    if (refs) {
        schema->refs = (sd_avro_named_t *)refs;
        schema->refs->refcount++;
    }
    *out = schema;
    return 0;
fail:
    sd_avro_schema_free(schema);
    return rc;
}

int sd_avro_parse(const char *json, size_t len, const sd_avro_named_t *refs, sd_avro_schema_t **out,
                  sd_err_t *err)
{
    return sd_avro_parse_flags(json, len, refs, 0, out, err);
}

void sd_avro_schema_free(sd_avro_schema_t *schema)
{
    if (!schema || --schema->refcount > 0)
        return;
    avro__arena_free(&schema->arena);
    avro__names_free(&schema->names);
    sd_free(schema->defined);
    json_decref(schema->owned);
    json_decref(schema->empty);
    json_decref(schema->doc);
    if (schema->refs)
        named_release(schema->refs);
    sd_free(schema);
}

sd_avro_schema_t *sd_avro_schema_incref(sd_avro_schema_t *schema)
{
    if (schema)
        schema->refcount++;
    return schema;
}

const sd_avro_node_t *sd_avro_schema_root(const sd_avro_schema_t *schema) { return schema->root; }

const sd_avro_node_t *sd_avro_schema_find(const sd_avro_schema_t *schema, const char *fullname)
{
    const sd_avro_node_t *n = avro__names_find(&schema->names, fullname);
    if (!n && schema->refs)
        n = avro__names_find(&schema->refs->table, fullname);
    return n;
}

size_t sd_avro_schema_named_count(const sd_avro_schema_t *schema) { return schema->defined_count; }

const sd_avro_node_t *sd_avro_schema_named_at(const sd_avro_schema_t *schema, size_t i)
{
    return i < schema->defined_count ? schema->defined[i] : NULL;
}

int avro__is_own(const sd_avro_schema_t *schema, const sd_avro_node_t *node)
{
    return node->fullname && avro__names_find(&schema->names, node->fullname) == node;
}

const sd_avro_node_t *sd_avro_deref(const sd_avro_node_t *node)
{
    while (node && node->kind == SD_AVRO_REF)
        node = node->u.ref.target;
    return node;
}

const sd_avro_field_t *sd_avro_record_field(const sd_avro_node_t *record, const char *name)
{
    record = sd_avro_deref(record);
    if (!record || record->kind != SD_AVRO_RECORD)
        return NULL;
    for (size_t i = 0; i < record->u.record.field_count; i++)
        if (strcmp(record->u.record.fields[i].name, name) == 0)
            return &record->u.record.fields[i];
    return NULL;
}

long sd_avro_enum_symbol_index(const sd_avro_node_t *enm, const char *symbol)
{
    enm = sd_avro_deref(enm);
    if (!enm || enm->kind != SD_AVRO_ENUM)
        return -1;
    for (size_t i = 0; i < enm->u.enm.symbol_count; i++)
        if (strcmp(enm->u.enm.symbols[i], symbol) == 0)
            return (long)i;
    return -1;
}

/* ---- named sets for references --------------------------------------- */

sd_avro_named_t *sd_avro_named_new(void)
{
    sd_avro_named_t *set = sd_calloc(1, sizeof *set);
    if (set)
        set->refcount = 1;
    return set;
}

static void named_release(sd_avro_named_t *set)
{
    if (!set || --set->refcount > 0)
        return;
    for (size_t i = 0; i < set->count; i++)
        sd_avro_schema_free(set->schemas[i]);
    sd_free(set->schemas);
    avro__names_free(&set->table);
    sd_free(set);
}

void sd_avro_named_free(sd_avro_named_t *set) { named_release(set); }

int sd_avro_named_add(sd_avro_named_t *set, sd_avro_schema_t *schema, sd_err_t *err)
{
    /* The schema holds the set it was parsed with: holding it back would
     * keep both alive forever. */
    if (schema->refs == set)
        return sd_err_set(err, SD_ERR_INVALID,
                          "a schema cannot be added to the set it was parsed with");
    for (size_t i = 0; i < set->count; i++)
        if (set->schemas[i] == schema)
            return 0;
    if (schema->refs && schema->refs != set) {
        for (size_t i = 0; i < schema->refs->count; i++) {
            int rc = sd_avro_named_add(set, schema->refs->schemas[i], err);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < schema->defined_count; i++) {
        sd_avro_node_t *n = schema->defined[i];
        sd_avro_node_t *have = avro__names_find(&set->table, n->fullname);
        if (have && have != n)
            return sd_err_set(err, SD_AVRO_ERR_SCHEMA,
                              "type %s is defined by two referenced schemas", n->fullname);
    }
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 4;
        sd_avro_schema_t **grown = sd_realloc(set->schemas, cap * sizeof *grown);
        if (!grown)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory adding a referenced schema");
        set->schemas = grown;
        set->cap = cap;
    }
    for (size_t i = 0; i < schema->defined_count; i++) {
        sd_avro_node_t *n = schema->defined[i];
        if (avro__names_put(&set->table, n->fullname, n) != 0)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory adding a referenced schema");
    }
    set->schemas[set->count++] = sd_avro_schema_incref(schema);
    return 0;
}
