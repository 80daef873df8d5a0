/*
 * avro_value_resolve.c - Avro values out: decoding plans built once per
 * (writer, reader) pair by the Avro specification's (1.11) "Schema
 * Resolution" rules, the bounds-checked binary decoder that follows them to
 * reader-shaped JSON (Avro's JSON encoding), and resolvers.
 *
 * avro-c's own resolver cannot fill reader defaults and maps enums by index,
 * so projection is ours: the writer's bytes are read with sd_reader_t and the
 * reader's value is built from the plan.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "avro/avro_int.h"
#include "avro/avro_value_int.h"
#include "base/alloc.h"

typedef avro_value_walk_t walk_t;

static const char *type_label(const sd_avro_node_t *n)
{
    return n->fullname ? n->fullname : sd_avro_kind_name(n->kind);
}

/* ---- defaults -------------------------------------------------------------- */

static json_t *json_float(float f);

/* A schema default is written like the JSON encoding except that a union's
 * default is the bare value of its first branch. This rewrites it into the
 * JSON encoding (union values wrapped), so decoded records and defaults look
 * alike. */
static json_t *default_json(const sd_avro_node_t *n, const json_t *v, sd_err_t *err, int depth)
{
    n = sd_avro_deref(n);
    if (depth > AVRO_VALUE_MAX_DEPTH) {
        sd_err_set(err, STRAND_AVRO_ERR_VALUE, "default nested too deeply");
        return NULL;
    }
    switch (n->kind) {
    case SD_AVRO_UNION:
        /* The first branch is the rule; later ones are tried for schemas
         * stored before defaults were validated. */
        for (size_t i = 0; i < n->u.un.branch_count; i++) {
            const sd_avro_node_t *b = sd_avro_deref(n->u.un.branches[i]);
            if (b->kind == SD_AVRO_NULL) {
                if (json_is_null(v))
                    return json_null();
                continue;
            }
            sd_err_t ignored = {0};
            json_t *inner = default_json(b, v, &ignored, depth + 1);
            if (!inner)
                continue;
            json_t *wrapped = json_object();
            if (!wrapped)
                json_decref(inner);
            if (!wrapped || json_object_set_new(wrapped, type_label(b), inner)) {
                json_decref(wrapped);
                sd_err_set(err, SD_ERR_NOMEM, "out of memory");
                return NULL;
            }
            return wrapped;
        }
        sd_err_set(err, STRAND_AVRO_ERR_VALUE, "the default fits no branch of the union");
        return NULL;
    case SD_AVRO_RECORD: {
        if (!json_is_object(v)) {
            sd_err_set(err, STRAND_AVRO_ERR_VALUE, "the default of record %s is not an object",
                       n->fullname);
            return NULL;
        }
        json_t *out = json_object();
        if (!out)
            goto nomem;
        for (size_t i = 0; i < n->u.record.field_count; i++) {
            const sd_avro_field_t *f = &n->u.record.fields[i];
            const json_t *fv = json_object_get(v, f->name);
            if (!fv)
                fv = f->default_value;
            if (!fv) {
                json_decref(out);
                sd_err_set(err, STRAND_AVRO_ERR_VALUE,
                           "the default of record %s lacks field %s (which has no default)",
                           n->fullname, f->name);
                return NULL;
            }
            json_t *c = default_json(f->type, fv, err, depth + 1);
            if (!c || json_object_set_new(out, f->name, c)) {
                json_decref(out);
                if (c)
                    sd_err_set(err, SD_ERR_NOMEM, "out of memory");
                return NULL;
            }
        }
        return out;
    }
    case SD_AVRO_ARRAY: {
        if (!json_is_array(v)) {
            sd_err_set(err, STRAND_AVRO_ERR_VALUE, "the default of an array is not an array");
            return NULL;
        }
        json_t *out = json_array();
        if (!out)
            goto nomem;
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *c = default_json(n->u.array.items, json_array_get(v, i), err, depth + 1);
            if (!c || json_array_append_new(out, c)) {
                json_decref(out);
                if (c)
                    sd_err_set(err, SD_ERR_NOMEM, "out of memory");
                return NULL;
            }
        }
        return out;
    }
    case SD_AVRO_MAP: {
        if (!json_is_object(v)) {
            sd_err_set(err, STRAND_AVRO_ERR_VALUE, "the default of a map is not an object");
            return NULL;
        }
        json_t *out = json_object();
        if (!out)
            goto nomem;
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item)
        {
            json_t *c = default_json(n->u.map.values, item, err, depth + 1);
            if (!c || json_object_set_new(out, key, c)) {
                json_decref(out);
                if (c)
                    sd_err_set(err, SD_ERR_NOMEM, "out of memory");
                return NULL;
            }
        }
        return out;
    }
    default: {
        sd_err_t e = {0};
        if (avro_value__check_json(n, v, &e)) {
            sd_err_set(err, STRAND_AVRO_ERR_VALUE, "the default does not fit: %s", e.msg);
            return NULL;
        }
        /* A float or double default written as an integer reads as the
         * number a decoded value would be. */
        json_t *out = n->kind == SD_AVRO_FLOAT && json_is_number(v)
                          ? json_float((float)json_number_value(v))
                      : n->kind == SD_AVRO_DOUBLE && json_is_integer(v)
                          ? json_real((double)json_integer_value(v))
                          : json_deep_copy(v);
        if (!out)
            goto nomem;
        return out;
    }
    }
nomem:
    sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    return NULL;
}

json_t *avro_value__default_json(const sd_avro_node_t *node, const json_t *value, sd_err_t *err)
{
    return default_json(node, value, err, 0);
}

/* ---- plans ----------------------------------------------------------------- */

typedef struct memo {
    const sd_avro_node_t *w, *r;
    avro_plan_t *plan;
} memo_t;

typedef struct compile {
    avro_plans_t *plans;
    memo_t *memo;
    size_t memo_count;
    size_t memo_cap;
    walk_t walk;
} compile_t;

static int nomem(walk_t *c) { return avro_value__fail(c, SD_ERR_NOMEM, "out of memory"); }

static avro_plan_t *plan_new(compile_t *c, avro_plan_op_t op, const sd_avro_node_t *w,
                             const sd_avro_node_t *r)
{
    avro_plans_t *ps = c->plans;
    if (ps->count == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        avro_plan_t **all = sd_realloc(ps->all, cap * sizeof *all);
        if (!all)
            return NULL;
        ps->all = all;
        ps->cap = cap;
    }
    avro_plan_t *p = sd_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->op = op;
    p->w = w;
    p->r = r;
    p->out = r->kind;
    ps->all[ps->count++] = p;
    return p;
}

static void plan_free(avro_plan_t *p)
{
    switch (p->op) {
    case AVRO_PLAN_RECORD:
        if (p->u.rec.defaults)
            for (size_t i = 0; i < p->r->u.record.field_count; i++)
                json_decref(p->u.rec.defaults[i]);
        sd_free(p->u.rec.defaults);
        sd_free(p->u.rec.fields);
        sd_free(p->u.rec.target);
        break;
    case AVRO_PLAN_ENUM: sd_free(p->u.enm.map); break;
    case AVRO_PLAN_WRITER_UNION: sd_free(p->u.wun.branches); break;
    default: break;
    }
    sd_free(p);
}

void avro_value__plans_free(avro_plans_t *plans)
{
    for (size_t i = 0; i < plans->count; i++)
        plan_free(plans->all[i]);
    sd_free(plans->all);
    memset(plans, 0, sizeof *plans);
}

/* Named types match by unqualified name (the specification's rule), by
 * full name, or through a reader alias. */
static int names_match(const sd_avro_node_t *w, const sd_avro_node_t *r)
{
    if (strcmp(w->name, r->name) == 0 || strcmp(w->fullname, r->fullname) == 0)
        return 1;
    for (size_t i = 0; i < r->alias_count; i++) {
        const char *alias = r->aliases[i];
        const char *dot = strrchr(alias, '.');
        if (strcmp(alias, w->fullname) == 0 || strcmp(dot ? dot + 1 : alias, w->name) == 0)
            return 1;
    }
    return 0;
}

static int promotes(sd_avro_kind_t w, sd_avro_kind_t r)
{
    switch (w) {
    case SD_AVRO_INT: return r == SD_AVRO_LONG || r == SD_AVRO_FLOAT || r == SD_AVRO_DOUBLE;
    case SD_AVRO_LONG: return r == SD_AVRO_FLOAT || r == SD_AVRO_DOUBLE;
    case SD_AVRO_FLOAT: return r == SD_AVRO_DOUBLE;
    case SD_AVRO_STRING: return r == SD_AVRO_BYTES;
    case SD_AVRO_BYTES: return r == SD_AVRO_STRING;
    default: return 0;
    }
}

static int is_named(sd_avro_kind_t k)
{
    return k == SD_AVRO_RECORD || k == SD_AVRO_ENUM || k == SD_AVRO_FIXED;
}

/* Fewest bytes a value of n takes, 0 when unknown; *budget bounds the work
 * on large or recursive schemas. */
static size_t min_size(const sd_avro_node_t *n, int *budget)
{
    if (--*budget < 0)
        return 0;
    n = sd_avro_deref(n);
    switch (n->kind) {
    case SD_AVRO_NULL: return 0;
    case SD_AVRO_FLOAT: return 4;
    case SD_AVRO_DOUBLE: return 8;
    case SD_AVRO_FIXED: return n->u.fixed.size;
    case SD_AVRO_RECORD: {
        size_t sum = 0;
        for (size_t i = 0; i<n->u.record.field_count && * budget> 0; i++)
            sum += min_size(n->u.record.fields[i].type, budget);
        return *budget > 0 ? sum : 0;
    }
    default: return 1;
    }
}

static int compile(compile_t *c, const sd_avro_node_t *w, const sd_avro_node_t *r,
                   avro_plan_t **out, int depth);

static int compile_record(compile_t *c, const sd_avro_node_t *w, const sd_avro_node_t *r,
                          avro_plan_t **out, int depth)
{
    for (size_t i = 0; i < c->memo_count; i++)
        if (c->memo[i].w == w && c->memo[i].r == r) {
            *out = c->memo[i].plan;
            return 0;
        }
    avro_plan_t *p = plan_new(c, AVRO_PLAN_RECORD, w, r);
    if (!p)
        return nomem(&c->walk);
    if (c->memo_count == c->memo_cap) {
        size_t cap = c->memo_cap ? c->memo_cap * 2 : 8;
        memo_t *memo = sd_realloc(c->memo, cap * sizeof *memo);
        if (!memo)
            return nomem(&c->walk);
        c->memo = memo;
        c->memo_cap = cap;
    }
    c->memo[c->memo_count++] = (memo_t){w, r, p};
    size_t wn = w->u.record.field_count, rn = r->u.record.field_count;
    p->u.rec.fields = sd_calloc(wn ? wn : 1, sizeof *p->u.rec.fields);
    p->u.rec.target = sd_calloc(wn ? wn : 1, sizeof *p->u.rec.target);
    p->u.rec.defaults = sd_calloc(rn ? rn : 1, sizeof *p->u.rec.defaults);
    char *used = sd_calloc(rn ? rn : 1, 1);
    int rc = 0;
    if (!p->u.rec.fields || !p->u.rec.target || !p->u.rec.defaults || !used) {
        rc = nomem(&c->walk);
        goto done;
    }
    for (size_t i = 0; i < wn; i++) {
        const sd_avro_field_t *wf = &w->u.record.fields[i];
        const sd_avro_field_t *rf = sd_avro_record_field(r, wf->name);
        for (size_t j = 0; !rf && j < rn; j++)
            for (size_t a = 0; a < r->u.record.fields[j].alias_count; a++)
                if (strcmp(r->u.record.fields[j].aliases[a], wf->name) == 0) {
                    rf = &r->u.record.fields[j];
                    break;
                }
        if (!rf || used[rf->position])
            continue; /* a writer-only field: skipped */
        used[rf->position] = 1;
        p->u.rec.target[i] = rf->position;
        rc = compile(c, wf->type, rf->type, &p->u.rec.fields[i], depth + 1);
        if (rc) {
            avro_value__prepend_field(&c->walk, rf->name);
            goto done;
        }
    }
    for (size_t j = 0; j < rn; j++) {
        if (used[j])
            continue;
        const sd_avro_field_t *rf = &r->u.record.fields[j];
        if (!rf->default_value) {
            rc = avro_value__fail(&c->walk, STRAND_AVRO_ERR_INCOMPATIBLE,
                                  "reader field has no default and the writer's record %s lacks "
                                  "it",
                                  w->fullname);
            avro_value__prepend_field(&c->walk, rf->name);
            goto done;
        }
        sd_err_t e = {0};
        p->u.rec.defaults[j] = default_json(rf->type, rf->default_value, &e, 0);
        if (!p->u.rec.defaults[j]) {
            rc = avro_value__fail(
                &c->walk, e.code == SD_ERR_NOMEM ? SD_ERR_NOMEM : STRAND_AVRO_ERR_INCOMPATIBLE,
                "reader field's default is unusable: %s", e.msg);
            avro_value__prepend_field(&c->walk, rf->name);
            goto done;
        }
    }
    *out = p;
done:
    sd_free(used);
    return rc;
}

/* The specification's "match" of a writer type and a reader type, exactly
 * (same type) or through a promotion; arrays and maps match by their items,
 * named types by name (and fixed by size). */
static int matches(const sd_avro_node_t *w, const sd_avro_node_t *r, int allow_promotion, int depth)
{
    w = sd_avro_deref(w);
    r = sd_avro_deref(r);
    if (depth > AVRO_VALUE_MAX_DEPTH)
        return 0;
    if (w->kind != r->kind)
        return allow_promotion && promotes(w->kind, r->kind);
    switch (w->kind) {
    case SD_AVRO_RECORD:
    case SD_AVRO_ENUM: return names_match(w, r);
    case SD_AVRO_FIXED: return names_match(w, r) && w->u.fixed.size == r->u.fixed.size;
    case SD_AVRO_ARRAY: return matches(w->u.array.items, r->u.array.items, 1, depth + 1);
    case SD_AVRO_MAP: return matches(w->u.map.values, r->u.map.values, 1, depth + 1);
    default: return 1;
    }
}

/* The reader branch a (non-union) writer type goes to: the first it matches
 * exactly, else the first it matches through a promotion (as Java does; the
 * specification's "first that matches" would take a promotion listed
 * earlier). */
static const sd_avro_node_t *pick_branch(const sd_avro_node_t *w, const sd_avro_node_t *r)
{
    /* A named type goes first to the branch of the same full name: a union
     * may hold a.R and b.R, which match each other by unqualified name. */
    if (w->fullname)
        for (size_t i = 0; i < r->u.un.branch_count; i++) {
            const sd_avro_node_t *b = sd_avro_deref(r->u.un.branches[i]);
            if (b->kind == w->kind && strcmp(b->fullname, w->fullname) == 0 && matches(w, b, 0, 0))
                return b;
        }
    for (int promote = 0; promote < 2; promote++)
        for (size_t i = 0; i < r->u.un.branch_count; i++) {
            const sd_avro_node_t *b = sd_avro_deref(r->u.un.branches[i]);
            if (b->kind != SD_AVRO_UNION && matches(w, b, promote, 0))
                return b;
        }
    return NULL;
}

static int compile(compile_t *c, const sd_avro_node_t *w, const sd_avro_node_t *r,
                   avro_plan_t **out, int depth)
{
    w = sd_avro_deref(w);
    r = sd_avro_deref(r);
    walk_t *wk = &c->walk;
    if (depth > AVRO_VALUE_MAX_DEPTH)
        return avro_value__fail(wk, STRAND_AVRO_ERR_INCOMPATIBLE, "nested deeper than %d",
                                AVRO_VALUE_MAX_DEPTH);
    avro_plan_t *p = NULL;
    if (w->kind == SD_AVRO_UNION) {
        if (!(p = plan_new(c, AVRO_PLAN_WRITER_UNION, w, r)))
            return nomem(wk);
        size_t n = w->u.un.branch_count;
        if (!(p->u.wun.branches = sd_calloc(n ? n : 1, sizeof *p->u.wun.branches)))
            return nomem(wk);
        for (size_t i = 0; i < n; i++) {
            int rc = compile(c, w->u.un.branches[i], r, &p->u.wun.branches[i], depth + 1);
            if (rc) {
                char seg[300];
                int len = snprintf(seg, sizeof seg, "<%s>",
                                   type_label(sd_avro_deref(w->u.un.branches[i])));
                avro_value__prepend(wk, seg, (size_t)len < sizeof seg ? (size_t)len : 0);
                return rc;
            }
        }
        *out = p;
        return 0;
    }
    if (r->kind == SD_AVRO_UNION) {
        const sd_avro_node_t *b = pick_branch(w, r);
        if (!b)
            return avro_value__fail(wk, STRAND_AVRO_ERR_INCOMPATIBLE,
                                    "the writer's %s fits no branch of the reader's union",
                                    type_label(w));
        if (!(p = plan_new(c, AVRO_PLAN_READER_UNION, w, r)))
            return nomem(wk);
        p->u.run.branch = b->kind == SD_AVRO_NULL ? NULL : type_label(b);
        int rc = compile(c, w, b, &p->u.run.inner, depth + 1);
        if (rc)
            return rc;
        *out = p;
        return 0;
    }
    if (w->kind != r->kind) {
        if (!promotes(w->kind, r->kind))
            return avro_value__fail(wk, STRAND_AVRO_ERR_INCOMPATIBLE,
                                    "the writer's %s cannot be read as %s", type_label(w),
                                    type_label(r));
    } else if (is_named(w->kind) && !names_match(w, r)) {
        return avro_value__fail(wk, STRAND_AVRO_ERR_INCOMPATIBLE,
                                "the writer's %s %s cannot be read as %s %s (names differ)",
                                sd_avro_kind_name(w->kind), w->fullname, sd_avro_kind_name(r->kind),
                                r->fullname);
    }
    switch (w->kind) {
    case SD_AVRO_NULL:
    case SD_AVRO_BOOLEAN:
    case SD_AVRO_INT:
    case SD_AVRO_LONG:
    case SD_AVRO_FLOAT:
    case SD_AVRO_DOUBLE:
    case SD_AVRO_BYTES:
    case SD_AVRO_STRING: {
        static const avro_plan_op_t ops[] = {
            [SD_AVRO_NULL] = AVRO_PLAN_NULL,   [SD_AVRO_BOOLEAN] = AVRO_PLAN_BOOLEAN,
            [SD_AVRO_INT] = AVRO_PLAN_INT,     [SD_AVRO_LONG] = AVRO_PLAN_LONG,
            [SD_AVRO_FLOAT] = AVRO_PLAN_FLOAT, [SD_AVRO_DOUBLE] = AVRO_PLAN_DOUBLE,
            [SD_AVRO_BYTES] = AVRO_PLAN_BYTES, [SD_AVRO_STRING] = AVRO_PLAN_STRING,
        };
        if (!(p = plan_new(c, ops[w->kind], w, r)))
            return nomem(wk);
        break;
    }
    case SD_AVRO_FIXED:
        if (w->u.fixed.size != r->u.fixed.size)
            return avro_value__fail(wk, STRAND_AVRO_ERR_INCOMPATIBLE,
                                    "fixed %s has %zu bytes in the writer, %zu in the reader",
                                    r->fullname, w->u.fixed.size, r->u.fixed.size);
        if (!(p = plan_new(c, AVRO_PLAN_FIXED, w, r)))
            return nomem(wk);
        break;
    case SD_AVRO_ENUM: {
        if (!(p = plan_new(c, AVRO_PLAN_ENUM, w, r)))
            return nomem(wk);
        size_t n = w->u.enm.symbol_count;
        if (!(p->u.enm.map = sd_calloc(n ? n : 1, sizeof *p->u.enm.map)))
            return nomem(wk);
        long fallback =
            r->u.enm.default_symbol ? sd_avro_enum_symbol_index(r, r->u.enm.default_symbol) : -1;
        for (size_t i = 0; i < n; i++) {
            long index = sd_avro_enum_symbol_index(r, w->u.enm.symbols[i]);
            if (index < 0)
                index = fallback;
            if (index < 0)
                return avro_value__fail(wk, STRAND_AVRO_ERR_INCOMPATIBLE,
                                        "the writer's symbol %s is not in the reader's enum %s, "
                                        "which has no default",
                                        w->u.enm.symbols[i], r->fullname);
            p->u.enm.map[i] = index;
        }
        break;
    }
    case SD_AVRO_ARRAY:
    case SD_AVRO_MAP: {
        int map = w->kind == SD_AVRO_MAP;
        if (!(p = plan_new(c, map ? AVRO_PLAN_MAP : AVRO_PLAN_ARRAY, w, r)))
            return nomem(wk);
        int budget = 4096;
        p->u.coll.item_min =
            min_size(map ? w->u.map.values : w->u.array.items, &budget) + (map ? 1 : 0);
        int rc = compile(c, map ? w->u.map.values : w->u.array.items,
                         map ? r->u.map.values : r->u.array.items, &p->u.coll.item, depth + 1);
        if (rc) {
            avro_value__prepend(wk, map ? "[*]" : "[]", map ? 3 : 2);
            return rc;
        }
        break;
    }
    case SD_AVRO_RECORD: return compile_record(c, w, r, out, depth);
    default: return avro_value__fail(wk, STRAND_AVRO_ERR_INCOMPATIBLE, "unresolved type");
    }
    *out = p;
    return 0;
}

int avro_value__plan(avro_plans_t *plans, const sd_avro_node_t *writer,
                     const sd_avro_node_t *reader, sd_err_t *err)
{
    compile_t c = {.plans = plans};
    avro_value__walk_init(&c.walk, NULL, err);
    int rc = compile(&c, writer, reader, &plans->root, 0);
    sd_free(c.memo);
    if (rc) {
        avro_value__finish(&c.walk);
        avro_value__plans_free(plans);
    }
    return rc;
}

/* ---- the decoder ------------------------------------------------------------- */

/* Elements of a type that takes no bytes (null, empty records) cost nothing
 * to declare; this bounds how many one decode may produce. */
#define ZERO_SIZE_BUDGET (1u << 16)

typedef struct decoder {
    sd_reader_t r;
    walk_t walk;
    size_t zero_budget;
    int raw_pending; /* the next bytes value is the whole input */
    int for_avro_c;  /* refuse what avro-c cannot hold (NUL in map keys) */
} decoder_t;

static int bad(decoder_t *d, size_t at, const char *what)
{
    return avro_value__fail(&d->walk, STRAND_AVRO_ERR_DECODE, "offset %zu: %s", at, what);
}

/* An error from a failed sd_reader read at offset at. */
static int bad_read(decoder_t *d, size_t at, const char *what)
{
    return avro_value__fail(&d->walk, STRAND_AVRO_ERR_DECODE, "offset %zu: %s %s", at,
                            d->r.err == SD_ERR_TRUNCATED ? "truncated" : "invalid", what);
}

static int read_int(decoder_t *d, int32_t *v)
{
    size_t at = d->r.pos;
    if (sd_read_varint(&d->r, v))
        return bad_read(d, at, "int");
    return 0;
}

static int read_long(decoder_t *d, int64_t *v)
{
    size_t at = d->r.pos;
    if (sd_read_varlong(&d->r, v))
        return bad_read(d, at, "long");
    return 0;
}

/* A length-prefixed run (bytes, string), borrowed from the input. */
static int read_run(decoder_t *d, const uint8_t **p, size_t *n, const char *what)
{
    if (d->raw_pending) {
        d->raw_pending = 0;
        *n = sd_reader_left(&d->r);
        sd_read_bytes(&d->r, *n, p);
        return 0;
    }
    size_t at = d->r.pos;
    int64_t len;
    if (sd_read_varlong(&d->r, &len))
        return bad_read(d, at, what);
    if (len < 0 || (uint64_t)len > sd_reader_left(&d->r)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s of %lld bytes, but %zu bytes are left", what, (long long)len,
                 sd_reader_left(&d->r));
        return bad(d, at, msg);
    }
    *n = (size_t)len;
    sd_read_bytes(&d->r, *n, p);
    return 0;
}

static float get_float(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double get_double(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | p[i];
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* A JSON number, or "NaN"/"Infinity"/"-Infinity", which JSON cannot hold. */
static json_t *json_floating(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

/* A float as the double its shortest decimal form denotes (0.1f as 0.1, not
 * 0.100000001490116), so that the JSON reads as Java's Float.toString and
 * still converts back to the same float. */
static json_t *json_float(float f)
{
    if (isnan(f) || isinf(f))
        return json_floating(f);
    char text[48];
    double d;
    avro__java_double(text, sizeof text, f, 1);
    if (avro__parse_java_double(text, &d) || (float)d != f)
        d = f;
    return json_real(d);
}

/* Bytes as an ISO-8859-1 JSON string: each byte one code point. */
static json_t *json_latin1(const uint8_t *p, size_t n)
{
    size_t extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += p[i] >> 7;
    char stack[256];
    char *buf = n + extra <= sizeof stack ? stack : sd_malloc(n + extra);
    if (!buf)
        return NULL;
    char *o = buf;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            *o++ = (char)p[i];
        } else {
            *o++ = (char)(0xc0 | (p[i] >> 6));
            *o++ = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    json_t *s = json_stringn_nocheck(buf, n + extra);
    if (buf != stack)
        sd_free(buf);
    return s;
}

/* A collection's next block count (0 ends it), bounded by the bytes left. */
static int read_block(decoder_t *d, size_t item_min, size_t *count)
{
    size_t at = d->r.pos;
    int64_t n;
    if (sd_read_varlong(&d->r, &n))
        return bad_read(d, at, "block count");
    if (n < 0) {
        int64_t size;
        if (n == INT64_MIN)
            return bad(d, at, "invalid block count");
        n = -n;
        size_t at2 = d->r.pos;
        if (sd_read_varlong(&d->r, &size))
            return bad_read(d, at2, "block size");
        if (size < 0 || (uint64_t)size > sd_reader_left(&d->r))
            return bad(d, at2, "block size beyond the input");
    }
    if (item_min ? (uint64_t)n > sd_reader_left(&d->r) / item_min : (uint64_t)n > d->zero_budget) {
        char msg[160];
        snprintf(msg, sizeof msg, "block of %lld items cannot fit in the %zu bytes left",
                 (long long)n, sd_reader_left(&d->r));
        return bad(d, at, msg);
    }
    if (!item_min)
        d->zero_budget -= (size_t)n;
    *count = (size_t)n;
    return 0;
}

static int skip(decoder_t *d, const sd_avro_node_t *n, int depth);

static int decode(decoder_t *d, const avro_plan_t *p, json_t **out, int depth)
{
    walk_t *wk = &d->walk;
    *out = NULL;
    if (depth > AVRO_VALUE_MAX_DEPTH)
        return bad(d, d->r.pos, "value nested too deeply");
    size_t at = d->r.pos;
    switch (p->op) {
    case AVRO_PLAN_NULL: *out = json_null(); return 0;
    case AVRO_PLAN_BOOLEAN: {
        uint8_t b;
        if (sd_read_u8(&d->r, &b))
            return bad_read(d, at, "boolean");
        if (b > 1)
            return bad(d, at, "boolean byte other than 0 or 1");
        *out = json_boolean(b);
        break;
    }
    case AVRO_PLAN_INT: {
        int32_t v;
        if (read_int(d, &v))
            return wk->code;
        *out = p->out == SD_AVRO_INT || p->out == SD_AVRO_LONG ? json_integer(v)
               : p->out == SD_AVRO_FLOAT                       ? json_float((float)v)
                                                               : json_floating((double)v);
        break;
    }
    case AVRO_PLAN_LONG: {
        int64_t v;
        if (read_long(d, &v))
            return wk->code;
        *out = p->out == SD_AVRO_LONG    ? json_integer(v)
               : p->out == SD_AVRO_FLOAT ? json_float((float)v)
                                         : json_floating((double)v);
        break;
    }
    case AVRO_PLAN_FLOAT:
    case AVRO_PLAN_DOUBLE: {
        const uint8_t *b;
        int is_float = p->op == AVRO_PLAN_FLOAT;
        if (sd_read_bytes(&d->r, is_float ? 4 : 8, &b))
            return bad_read(d, at, is_float ? "float" : "double");
        if (is_float && p->out == SD_AVRO_FLOAT)
            *out = json_float(get_float(b));
        else
            *out = json_floating(is_float ? (double)get_float(b) : get_double(b));
        break;
    }
    case AVRO_PLAN_BYTES:
    case AVRO_PLAN_STRING:
    case AVRO_PLAN_FIXED: {
        const uint8_t *b;
        size_t n;
        if (p->op == AVRO_PLAN_FIXED) {
            n = p->w->u.fixed.size;
            if (sd_read_bytes(&d->r, n, &b))
                return bad_read(d, at, "fixed");
        } else if (read_run(d, &b, &n, p->op == AVRO_PLAN_STRING ? "string" : "bytes")) {
            return wk->code;
        }
        /* A writer's string must be UTF-8 even when read as bytes. */
        if ((p->out == SD_AVRO_STRING || p->op == AVRO_PLAN_STRING) &&
            !avro_value__utf8_valid(b, n))
            return bad(d, at, "string that is not UTF-8");
        if (p->out == SD_AVRO_STRING) {
            *out = json_stringn_nocheck((const char *)b, n);
        } else {
            *out = json_latin1(b, n);
        }
        break;
    }
    case AVRO_PLAN_ENUM: {
        int32_t i;
        if (read_int(d, &i))
            return wk->code;
        if (i < 0 || (size_t)i >= p->w->u.enm.symbol_count) {
            char msg[200];
            snprintf(msg, sizeof msg, "enum %s index %d out of range (%zu symbols)", p->w->fullname,
                     (int)i, p->w->u.enm.symbol_count);
            return bad(d, at, msg);
        }
        *out = json_string(p->r->u.enm.symbols[p->u.enm.map[i]]);
        break;
    }
    case AVRO_PLAN_ARRAY:
    case AVRO_PLAN_MAP: {
        int map = p->op == AVRO_PLAN_MAP;
        json_t *coll = map ? json_object() : json_array();
        if (!coll)
            return nomem(wk);
        size_t index = 0;
        for (;;) {
            size_t count;
            if (read_block(d, p->u.coll.item_min, &count)) {
                json_decref(coll);
                return wk->code;
            }
            if (!count)
                break;
            for (size_t k = 0; k < count; k++, index++) {
                const uint8_t *key = NULL;
                size_t klen = 0;
                size_t kat = d->r.pos;
                if (map) {
                    if (read_run(d, &key, &klen, "map key")) {
                        json_decref(coll);
                        return wk->code;
                    }
                    if (!avro_value__utf8_valid(key, klen)) {
                        json_decref(coll);
                        return bad(d, kat, "map key that is not UTF-8");
                    }
                }
                json_t *item;
                int rc = decode(d, p->u.coll.item, &item, depth + 1);
                if (!rc) {
                    rc = map ? json_object_setn_new_nocheck(coll, (const char *)key, klen, item)
                             : json_array_append_new(coll, item);
                    if (rc)
                        rc = nomem(wk);
                }
                if (rc) {
                    if (map) {
                        char kbuf[64];
                        snprintf(kbuf, sizeof kbuf, "%.*s", (int)(klen < 63 ? klen : 63), key);
                        avro_value__prepend_key(wk, kbuf);
                    } else {
                        avro_value__prepend_index(wk, index);
                    }
                    json_decref(coll);
                    return rc;
                }
            }
        }
        *out = coll;
        return 0;
    }
    case AVRO_PLAN_RECORD: {
        size_t wn = p->w->u.record.field_count, rn = p->r->u.record.field_count;
        json_t *stack[32] = {0};
        json_t **slots = rn <= 32 ? stack : sd_calloc(rn, sizeof *slots);
        json_t *obj = slots ? json_object() : NULL;
        int rc = 0;
        if (!obj) {
            rc = nomem(wk);
            goto record_done;
        }
        for (size_t i = 0; i < wn; i++) {
            const avro_plan_t *fp = p->u.rec.fields[i];
            if (fp)
                rc = decode(d, fp, &slots[p->u.rec.target[i]], depth + 1);
            else
                rc = skip(d, p->w->u.record.fields[i].type, depth + 1);
            if (rc) {
                avro_value__prepend_field(wk, p->w->u.record.fields[i].name);
                goto record_done;
            }
        }
        for (size_t j = 0; j < rn; j++) {
            json_t *v = slots[j];
            slots[j] = NULL;
            if (!v && !(v = json_deep_copy(p->u.rec.defaults[j]))) {
                rc = nomem(wk);
                goto record_done;
            }
            if (json_object_set_new_nocheck(obj, p->r->u.record.fields[j].name, v)) {
                rc = nomem(wk);
                goto record_done;
            }
        }
        *out = obj;
        obj = NULL;
    record_done:
        if (slots) {
            for (size_t j = 0; j < rn; j++)
                json_decref(slots[j]);
            if (slots != stack)
                sd_free(slots);
        }
        json_decref(obj);
        return rc;
    }
    case AVRO_PLAN_WRITER_UNION: {
        int64_t i;
        if (read_long(d, &i))
            return wk->code;
        if (i < 0 || (uint64_t)i >= p->w->u.un.branch_count) {
            char msg[120];
            snprintf(msg, sizeof msg, "union branch %lld out of range (%zu branches)", (long long)i,
                     p->w->u.un.branch_count);
            return bad(d, at, msg);
        }
        return decode(d, p->u.wun.branches[i], out, depth);
    }
    case AVRO_PLAN_READER_UNION: {
        json_t *inner;
        int rc = decode(d, p->u.run.inner, &inner, depth);
        if (rc || !p->u.run.branch) {
            *out = inner;
            return rc;
        }
        json_t *obj = json_object();
        if (!obj)
            json_decref(inner);
        if (!obj || json_object_set_new_nocheck(obj, p->u.run.branch, inner)) {
            json_decref(obj);
            return nomem(wk);
        }
        *out = obj;
        return 0;
    }
    }
    if (!*out)
        return nomem(wk);
    return 0;
}

/* Bytes handed to avro-c: one block from avro-c's allocator holding this
 * header and the data with a NUL after it, which avro-c frees through the
 * wrapped buffer (as avro_value_read's are; avro-c's set_* would copy them
 * again, into a buffer whose allocation it does not check). */
typedef struct given_block {
    size_t allocated;
} given_block_t;

static void given_block_free(avro_wrapped_buffer_t *self)
{
    /* avro-c packs a record's fields without padding, so self may be
     * misaligned: read the member bytewise. */
    given_block_t *block;
    memcpy(&block, (char *)self + offsetof(avro_wrapped_buffer_t, user_data), sizeof block);
    avro_free(block, block->allocated);
}

/* Sets a string, bytes or fixed avro-c value to n bytes of s (which need
 * not end in NUL; avro-c counts the NUL in a string's size). */
static int give(avro_value_t *v, sd_avro_kind_t kind, const uint8_t *s, size_t n)
{
    size_t allocated = sizeof(given_block_t) + n + 1;
    given_block_t *block = avro_malloc(allocated);
    if (!block)
        return ENOMEM;
    block->allocated = allocated;
    char *data = (char *)(block + 1);
    if (n)
        memcpy(data, s, n);
    data[n] = '\0';
    avro_wrapped_buffer_t buf = {
        .buf = data,
        .size = kind == SD_AVRO_STRING ? n + 1 : n,
        .user_data = block,
        .free = given_block_free,
    };
    int rc = kind == SD_AVRO_STRING  ? avro_value_give_string_len(v, &buf)
             : kind == SD_AVRO_BYTES ? avro_value_give_bytes(v, &buf)
                                     : avro_value_give_fixed(v, &buf);
    if (rc)
        given_block_free(&buf);
    return rc;
}

static int avro_c_failed(decoder_t *d)
{
    return avro_value__fail(&d->walk, STRAND_AVRO_ERR_AVRO_C, "avro-c: %s", avro_strerror());
}

/* Reads one value of writer type n, checking it as it goes, into out (a
 * fresh avro-c value of type n) or, when out is NULL, past it. Filling out
 * makes the same avro-c calls as avro_value_read (a repeated map key goes
 * into the value already there), so it gives avro-c's value in one pass. */
static int fill(decoder_t *d, const sd_avro_node_t *n, avro_value_t *out, int depth)
{
    if (depth > AVRO_VALUE_MAX_DEPTH)
        return bad(d, d->r.pos, "value nested too deeply");
    n = sd_avro_deref(n);
    size_t at = d->r.pos;
    switch (n->kind) {
    case SD_AVRO_NULL:
        if (out && avro_value_set_null(out))
            return avro_c_failed(d);
        return 0;
    case SD_AVRO_BOOLEAN: {
        uint8_t b;
        if (sd_read_u8(&d->r, &b))
            return bad_read(d, at, "boolean");
        if (b > 1)
            return bad(d, at, "boolean byte other than 0 or 1");
        if (out && avro_value_set_boolean(out, b))
            return avro_c_failed(d);
        return 0;
    }
    case SD_AVRO_INT: {
        int32_t v;
        if (read_int(d, &v))
            return d->walk.code;
        if (out && avro_value_set_int(out, v))
            return avro_c_failed(d);
        return 0;
    }
    case SD_AVRO_LONG: {
        int64_t v;
        if (read_long(d, &v))
            return d->walk.code;
        if (out && avro_value_set_long(out, v))
            return avro_c_failed(d);
        return 0;
    }
    case SD_AVRO_FLOAT:
    case SD_AVRO_DOUBLE:
    case SD_AVRO_FIXED: {
        size_t size = n->kind == SD_AVRO_FLOAT    ? 4
                      : n->kind == SD_AVRO_DOUBLE ? 8
                                                  : n->u.fixed.size;
        const uint8_t *b;
        if (sd_read_bytes(&d->r, size, &b))
            return bad_read(d, at, sd_avro_kind_name(n->kind));
        if (!out)
            return 0;
        int rc = n->kind == SD_AVRO_FLOAT    ? avro_value_set_float(out, get_float(b))
                 : n->kind == SD_AVRO_DOUBLE ? avro_value_set_double(out, get_double(b))
                                             : give(out, SD_AVRO_FIXED, b, size);
        return rc ? avro_c_failed(d) : 0;
    }
    case SD_AVRO_BYTES:
    case SD_AVRO_STRING: {
        const uint8_t *b;
        size_t len;
        if (read_run(d, &b, &len, n->kind == SD_AVRO_STRING ? "string" : "bytes"))
            return d->walk.code;
        if (n->kind == SD_AVRO_STRING && !avro_value__utf8_valid(b, len))
            return bad(d, at, "string that is not UTF-8");
        if (!out)
            return 0;
        return give(out, n->kind, b, len) ? avro_c_failed(d) : 0;
    }
    case SD_AVRO_ENUM: {
        int32_t i;
        if (read_int(d, &i))
            return d->walk.code;
        if (i < 0 || (size_t)i >= n->u.enm.symbol_count)
            return bad(d, at, "enum index out of range");
        if (out && avro_value_set_enum(out, i))
            return avro_c_failed(d);
        return 0;
    }
    case SD_AVRO_ARRAY:
    case SD_AVRO_MAP: {
        int map = n->kind == SD_AVRO_MAP;
        const sd_avro_node_t *item = map ? n->u.map.values : n->u.array.items;
        int budget = 4096;
        size_t item_min = min_size(item, &budget) + (map ? 1 : 0);
        for (;;) {
            size_t count;
            if (read_block(d, item_min, &count))
                return d->walk.code;
            if (!count)
                return 0;
            for (size_t k = 0; k < count; k++) {
                const uint8_t *key;
                size_t klen;
                size_t kat = d->r.pos;
                if (map && read_run(d, &key, &klen, "map key"))
                    return d->walk.code;
                if (map && !avro_value__utf8_valid(key, klen))
                    return bad(d, kat, "map key that is not UTF-8");
                if (map && d->for_avro_c && memchr(key, 0, klen))
                    return bad(d, kat, "map key holding NUL, which avro-c cannot represent");
                avro_value_t child;
                if (out && map) {
                    /* avro-c takes keys as C strings. */
                    char stack[256];
                    char *ckey = klen < sizeof stack ? stack : sd_malloc(klen + 1);
                    if (!ckey)
                        return nomem(&d->walk);
                    memcpy(ckey, key, klen);
                    ckey[klen] = '\0';
                    int rc = avro_value_add(out, ckey, &child, NULL, NULL);
                    if (ckey != stack)
                        sd_free(ckey);
                    if (rc)
                        return avro_c_failed(d);
                } else if (out && avro_value_append(out, &child, NULL)) {
                    return avro_c_failed(d);
                }
                if (fill(d, item, out ? &child : NULL, depth + 1))
                    return d->walk.code;
            }
        }
    }
    case SD_AVRO_RECORD:
        for (size_t i = 0; i < n->u.record.field_count; i++) {
            avro_value_t field;
            if (out && avro_value_get_by_index(out, i, &field, NULL))
                return avro_c_failed(d);
            if (fill(d, n->u.record.fields[i].type, out ? &field : NULL, depth + 1)) {
                avro_value__prepend_field(&d->walk, n->u.record.fields[i].name);
                return d->walk.code;
            }
        }
        return 0;
    case SD_AVRO_UNION: {
        int64_t i;
        if (read_long(d, &i))
            return d->walk.code;
        if (i < 0 || (uint64_t)i >= n->u.un.branch_count)
            return bad(d, at, "union branch out of range");
        avro_value_t branch;
        if (out && avro_value_set_branch(out, (int)i, &branch))
            return avro_c_failed(d);
        return fill(d, n->u.un.branches[i], out ? &branch : NULL, depth);
    }
    default: return bad(d, at, "unresolved type");
    }
}

/* Reads past one value of writer type n, checking it as it goes. */
static int skip(decoder_t *d, const sd_avro_node_t *n, int depth)
{
    return fill(d, n, NULL, depth);
}

static void decoder_init(decoder_t *d, const void *data, size_t len, unsigned flags,
                         const sd_avro_node_t *writer_root, sd_err_t *err)
{
    sd_reader_init(&d->r, data, len);
    avro_value__walk_init(&d->walk, NULL, err);
    d->zero_budget = ZERO_SIZE_BUDGET;
    d->raw_pending =
        (flags & STRAND_AVRO_RAW_BYTES) && sd_avro_deref(writer_root)->kind == SD_AVRO_BYTES;
    d->for_avro_c = 0;
}

static int decoder_end(decoder_t *d, int rc)
{
    if (!rc && sd_reader_left(&d->r)) {
        char msg[80];
        snprintf(msg, sizeof msg, "%zu bytes left over after the value", sd_reader_left(&d->r));
        rc = bad(d, d->r.pos, msg);
    }
    if (rc)
        return avro_value__finish(&d->walk);
    return 0;
}

int avro_value__decode(const avro_plans_t *plans, const void *data, size_t len, unsigned flags,
                       json_t **out, sd_err_t *err)
{
    decoder_t d;
    *out = NULL;
    if (!data && len)
        return sd_err_set(err, SD_ERR_INVALID, "no data");
    decoder_init(&d, data ? data : "", len, flags, plans->root->w, err);
    json_t *value = NULL;
    int rc = decoder_end(&d, decode(&d, plans->root, &value, 0));
    if (rc)
        json_decref(value);
    else
        *out = value;
    return rc;
}

/* ---- public decoding --------------------------------------------------------- */

/* JSON text as Avro's Java JSON encoder writes it: compact, doubles as
 * Java's Double.toString, strings escaped like Jackson. Map keys may hold
 * NUL, so their lengths come from the iterator. */
static void write_text(sd_writer_t *w, const json_t *v)
{
    char buf[48];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        sd_write_u8(w, '{');
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                sd_write_u8(w, ',');
            first = 0;
            avro__write_json_string(w, json_object_iter_key(it), json_object_iter_key_len(it));
            sd_write_u8(w, ':');
            write_text(w, json_object_iter_value(it));
        }
        sd_write_u8(w, '}');
        break;
    }
    case JSON_ARRAY:
        sd_write_u8(w, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                sd_write_u8(w, ',');
            write_text(w, json_array_get(v, i));
        }
        sd_write_u8(w, ']');
        break;
    case JSON_REAL:
        avro__java_double(buf, sizeof buf, json_real_value(v), 0);
        sd_write_bytes(w, buf, strlen(buf));
        break;
    default: avro__write_json(w, v); break;
    }
}

static int to_text(json_t *value, char **out, size_t *out_len, sd_err_t *e)
{
    sd_writer_t w;
    sd_writer_init(&w);
    write_text(&w, value);
    sd_write_u8(&w, 0);
    if (w.err) {
        sd_writer_free(&w);
        return sd_err_set(e, SD_ERR_NOMEM, "out of memory");
    }
    size_t n;
    *out = (char *)sd_writer_steal(&w, &n);
    if (out_len)
        *out_len = n - 1;
    return 0;
}

/* Decodes len bytes, exactly one value of the codec's schema, into *out, a
 * new value of the codec's class (zeroed on failure), in one checked pass.
 * for_avro_c refuses map keys holding NUL, which avro-c would cut short. */
static int to_value(const strand_avro_codec_t *codec, const void *data, size_t len, unsigned flags,
                    int for_avro_c, avro_value_t *out, sd_err_t *e)
{
    decoder_t d;
    memset(out, 0, sizeof *out);
    if (!data && len)
        return sd_err_set(e, SD_ERR_INVALID, "no data");
    if (avro_generic_value_new(codec->avro_c_class, out)) {
        memset(out, 0, sizeof *out);
        return sd_err_set(e, STRAND_AVRO_ERR_AVRO_C, "avro-c: %s", avro_strerror());
    }
    decoder_init(&d, data ? data : "", len, flags, codec->root, e);
    d.for_avro_c = for_avro_c;
    int rc = decoder_end(&d, fill(&d, codec->root, out, 0));
    if (rc) {
        avro_value_decref(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int strand_avro_decode_json(const strand_avro_codec_t *codec, const void *data, size_t len,
                            unsigned flags, json_t **out, strand_avro_error_t *err)
{
    sd_err_t e = {0};
    return avro_value__public_error(avro_value__decode(&codec->identity, data, len, flags, out, &e),
                                    &e, err);
}

int strand_avro_decode_json_text(const strand_avro_codec_t *codec, const void *data, size_t len,
                                 unsigned flags, char **out, size_t *out_len,
                                 strand_avro_error_t *err)
{
    sd_err_t e = {0};
    json_t *value = NULL;
    *out = NULL;
    int rc = avro_value__decode(&codec->identity, data, len, flags, &value, &e);
    if (!rc)
        rc = to_text(value, out, out_len, &e);
    json_decref(value);
    return avro_value__public_error(rc, &e, err);
}

int strand_avro_decode_value(const strand_avro_codec_t *codec, const void *data, size_t len,
                             unsigned flags, avro_value_t *out, strand_avro_error_t *err)
{
    sd_err_t e = {0};
    int rc = to_value(codec, data, len, flags, 1, out, &e);
    return avro_value__public_error(rc, &e, err);
}

/* ---- resolvers --------------------------------------------------------------- */

int strand_avro_resolver_new(const strand_avro_codec_t *writer, const strand_avro_codec_t *reader,
                             strand_avro_resolver_t **out, strand_avro_error_t *err)
{
    sd_err_t e = {0};
    *out = NULL;
    strand_avro_resolver_t *res = sd_calloc(1, sizeof *res);
    if (!res)
        return avro_value__public_error(sd_err_set(&e, SD_ERR_NOMEM, "out of memory"), &e, err);
    res->refcount = 1;
    int rc = avro_value__plan(&res->plans, writer->root, reader->root, &e);
    if (rc) {
        sd_free(res);
        return avro_value__public_error(rc, &e, err);
    }
    res->writer = strand_avro_codec_incref((strand_avro_codec_t *)writer);
    res->reader = strand_avro_codec_incref((strand_avro_codec_t *)reader);
    *out = res;
    return avro_value__public_error(0, NULL, err);
}

strand_avro_resolver_t *strand_avro_resolver_incref(strand_avro_resolver_t *resolver)
{
    if (resolver)
        __atomic_add_fetch(&resolver->refcount, 1, __ATOMIC_RELAXED);
    return resolver;
}

void strand_avro_resolver_free(strand_avro_resolver_t *resolver)
{
    if (!resolver || __atomic_sub_fetch(&resolver->refcount, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    avro_value__plans_free(&resolver->plans);
    strand_avro_codec_free(resolver->writer);
    strand_avro_codec_free(resolver->reader);
    sd_free(resolver);
}

int strand_avro_resolver_decode_json(const strand_avro_resolver_t *resolver, const void *data,
                                     size_t len, unsigned flags, json_t **out,
                                     strand_avro_error_t *err)
{
    sd_err_t e = {0};
    return avro_value__public_error(avro_value__decode(&resolver->plans, data, len, flags, out, &e),
                                    &e, err);
}

int strand_avro_resolver_decode_json_text(const strand_avro_resolver_t *resolver, const void *data,
                                          size_t len, unsigned flags, char **out, size_t *out_len,
                                          strand_avro_error_t *err)
{
    sd_err_t e = {0};
    json_t *value = NULL;
    *out = NULL;
    int rc = avro_value__decode(&resolver->plans, data, len, flags, &value, &e);
    if (!rc)
        rc = to_text(value, out, out_len, &e);
    json_decref(value);
    return avro_value__public_error(rc, &e, err);
}

/* Writer binary -> reader-shaped JSON -> reader binary, appended to w. */
static int project(const strand_avro_resolver_t *resolver, const void *data, size_t len,
                   unsigned decode_flags, unsigned encode_flags, sd_writer_t *w, sd_err_t *e)
{
    json_t *value = NULL;
    int rc = avro_value__decode(&resolver->plans, data, len, decode_flags, &value, e);
    if (!rc)
        rc = avro_value__encode_json(resolver->reader, value, encode_flags, w, e);
    json_decref(value);
    return rc;
}

int strand_avro_resolver_decode_binary(const strand_avro_resolver_t *resolver, const void *data,
                                       size_t len, unsigned flags, uint8_t **out, size_t *out_len,
                                       strand_avro_error_t *err)
{
    sd_err_t e = {0};
    sd_writer_t w;
    sd_writer_init(&w);
    *out = NULL;
    *out_len = 0;
    int rc = project(resolver, data, len, flags, flags, &w, &e);
    if (!rc && sd_writer_reserve(&w, 1))
        rc = sd_err_set(&e, SD_ERR_NOMEM, "out of memory");
    if (!rc)
        *out = sd_writer_steal(&w, out_len);
    sd_writer_free(&w);
    return avro_value__public_error(rc, &e, err);
}

int strand_avro_resolver_decode_value(const strand_avro_resolver_t *resolver, const void *data,
                                      size_t len, unsigned flags, avro_value_t *out,
                                      strand_avro_error_t *err)
{
    sd_err_t e = {0};
    sd_writer_t w;
    sd_writer_init(&w);
    memset(out, 0, sizeof *out);
    /* The intermediate reader binary is ours and valid: avro-c reads it
     * length-prefixed, whatever the flags said about the writer's. */
    int rc = project(resolver, data, len, flags, 0, &w, &e);
    if (!rc)
        rc = to_value(resolver->reader, w.buf, w.len, 0, 0, out, &e);
    sd_writer_free(&w);
    return avro_value__public_error(rc, &e, err);
}
