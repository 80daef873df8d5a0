/*
 * avro_text.c - the text forms of a parsed Avro schema: Parsing Canonical
 * Form and its CRC-64-AVRO fingerprint (Avro specification 1.11, "Parsing
 * Canonical Form for Schemas", "Schema Fingerprints"), and the two texts
 * Confluent's registry uses for identity (see the comment above
 * sd_avro_confluent_canonical).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_int.h"
#include "base/alloc.h"

/* ---- JSON text as Jackson writes it -------------------------------- */

static void put(sd_writer_t *w, const char *s) { sd_write_bytes(w, s, strlen(s)); }

void avro__write_json_string(sd_writer_t *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    sd_write_u8(w, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sd_write_bytes(w, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\t': esc[1] = 't'; break;
        case '\n': esc[1] = 'n'; break;
        case '\f': esc[1] = 'f'; break;
        case '\r': esc[1] = 'r'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        sd_write_bytes(w, esc, n);
    }
    sd_write_bytes(w, s + run, len - run);
    sd_write_u8(w, '"');
}

static void put_str(sd_writer_t *w, const char *s) { avro__write_json_string(w, s, strlen(s)); }

int avro__parse_java_double(const char *s, double *out)
{
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (strcmp(s, "Infinity") == 0 || strcmp(s, "+Infinity") == 0) {
        *out = INFINITY;
        return 0;
    }
    if (strcmp(s, "-Infinity") == 0) {
        *out = -INFINITY;
        return 0;
    }
    /* Decimal numbers only: no hex, no "inf"/"nan" spellings strtod takes. */
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return -1;
    char *end;
    if (!*s)
        return -1;
    *out = strtod(s, &end);
    return *end ? -1 : 0;
}

void avro__java_double(char *out, size_t cap, double d, int as_float)
{
    if (as_float)
        d = (double)(float)d;
    if (isnan(d)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, cap, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (d == 0) {
        snprintf(out, cap, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    /* Shortest digits that read back to the same value, as Java prints. */
    char buf[40];
    for (int p = 0; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p, d);
        if (as_float ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
            break;
    }
    char digits[24];
    size_t nd = 0;
    const char *p = buf;
    int negative = *p == '-';
    if (negative)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    double a = fabs(d);
    size_t o = 0;
#define OUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 1 < cap)                                                                           \
            out[o++] = (c);                                                                        \
    } while (0)
    if (negative)
        OUT('-');
    if (a >= 1e-3 && a < 1e7) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++)
                OUT((size_t)i < nd ? digits[i] : '0');
            OUT('.');
            if ((size_t)exp + 1 < nd) {
                for (size_t i = (size_t)exp + 1; i < nd; i++)
                    OUT(digits[i]);
            } else {
                OUT('0');
            }
        } else {
            OUT('0');
            OUT('.');
            for (int i = -1; i > exp; i--)
                OUT('0');
            for (size_t i = 0; i < nd; i++)
                OUT(digits[i]);
        }
    } else {
        OUT(digits[0]);
        OUT('.');
        if (nd > 1) {
            for (size_t i = 1; i < nd; i++)
                OUT(digits[i]);
        } else {
            OUT('0');
        }
        OUT('E');
        char e[16];
        snprintf(e, sizeof e, "%d", exp);
        for (char *q = e; *q; q++)
            OUT(*q);
    }
#undef OUT
    out[o] = '\0';
}

static void put_double(sd_writer_t *w, double d, int as_float)
{
    char buf[48];
    if (as_float)
        d = (double)(float)d;
    avro__java_double(buf, sizeof buf, d, as_float);
    if (isnan(d) || isinf(d)) /* Jackson quotes the non-numeric numbers */
        put_str(w, buf);
    else
        put(w, buf);
}

void avro__write_json(sd_writer_t *w, const json_t *v)
{
    char buf[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *value;
        int first = 1;
        sd_write_u8(w, '{');
        json_object_foreach((json_t *)v, key, value)
        {
            if (!first)
                sd_write_u8(w, ',');
            first = 0;
            put_str(w, key);
            sd_write_u8(w, ':');
            avro__write_json(w, value);
        }
        sd_write_u8(w, '}');
        break;
    }
    case JSON_ARRAY:
        sd_write_u8(w, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                sd_write_u8(w, ',');
            avro__write_json(w, json_array_get(v, i));
        }
        sd_write_u8(w, ']');
        break;
    case JSON_STRING:
        avro__write_json_string(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(w, buf);
        break;
    case JSON_REAL: put_double(w, json_real_value(v), 0); break;
    case JSON_TRUE: put(w, "true"); break;
    case JSON_FALSE: put(w, "false"); break;
    case JSON_NULL: put(w, "null"); break;
    }
}

static char *finish(sd_writer_t *w, size_t *len, sd_err_t *err)
{
    sd_write_u8(w, '\0');
    if (w->err) {
        sd_writer_free(w);
        sd_err_set(err, SD_ERR_NOMEM, "out of memory writing an Avro schema");
        return NULL;
    }
    size_t n;
    char *text = (char *)sd_writer_steal(w, &n);
    if (len)
        *len = n - 1;
    return text;
}

/* ---- a set of nodes already written ------------------------------------ */

typedef struct node_set {
    const sd_avro_node_t **slots;
    size_t cap;
    size_t count;
    int err;
} node_set_t;

static size_t ptr_hash(const void *p)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull);
}

static int set_has(const node_set_t *s, const sd_avro_node_t *n)
{
    if (!s->cap)
        return 0;
    for (size_t i = ptr_hash(n) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slots[i])
            return 0;
        if (s->slots[i] == n)
            return 1;
    }
}

static void set_add(node_set_t *s, const sd_avro_node_t *n)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        const sd_avro_node_t **slots = sd_calloc(cap, sizeof *slots);
        if (!slots) {
            s->err = 1;
            return;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i])
                continue;
            size_t k = ptr_hash(s->slots[i]) & (cap - 1);
            while (slots[k])
                k = (k + 1) & (cap - 1);
            slots[k] = s->slots[i];
        }
        sd_free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t k = ptr_hash(n) & (s->cap - 1);
    while (s->slots[k] && s->slots[k] != n)
        k = (k + 1) & (s->cap - 1);
    if (!s->slots[k]) {
        s->slots[k] = n;
        s->count++;
    }
}

static int is_named(const sd_avro_node_t *n)
{
    return n->kind == SD_AVRO_RECORD || n->kind == SD_AVRO_ENUM || n->kind == SD_AVRO_FIXED;
}

/* ---- Parsing Canonical Form ----------------------------------------- */

/* [PRIMITIVES] [FULLNAMES] [STRIP] [ORDER] [STRINGS] [INTEGERS]
 * [WHITESPACE]: only type, name, fields, symbols, items, values and size
 * survive, in that order; a named type is written in full once, then by its
 * full name. Names are written raw, as the spec's [STRINGS] asks. */
static void pcf(sd_writer_t *w, const sd_avro_node_t *n, node_set_t *seen)
{
    n = sd_avro_deref(n);
    char buf[32];
    if (is_named(n)) {
        if (set_has(seen, n) || seen->err) {
            sd_write_u8(w, '"');
            put(w, n->fullname);
            sd_write_u8(w, '"');
            return;
        }
        set_add(seen, n);
        put(w, "{\"name\":\"");
        put(w, n->fullname);
        put(w, "\",\"type\":\"");
        put(w, sd_avro_kind_name(n->kind));
        sd_write_u8(w, '"');
    }
    switch (n->kind) {
    case SD_AVRO_RECORD:
        put(w, ",\"fields\":[");
        for (size_t i = 0; i < n->u.record.field_count; i++) {
            if (i)
                sd_write_u8(w, ',');
            put(w, "{\"name\":\"");
            put(w, n->u.record.fields[i].name);
            put(w, "\",\"type\":");
            pcf(w, n->u.record.fields[i].type, seen);
            sd_write_u8(w, '}');
        }
        put(w, "]}");
        break;
    case SD_AVRO_ENUM:
        put(w, ",\"symbols\":[");
        for (size_t i = 0; i < n->u.enm.symbol_count; i++) {
            if (i)
                sd_write_u8(w, ',');
            sd_write_u8(w, '"');
            put(w, n->u.enm.symbols[i]);
            sd_write_u8(w, '"');
        }
        put(w, "]}");
        break;
    case SD_AVRO_FIXED:
        snprintf(buf, sizeof buf, ",\"size\":%zu}", n->u.fixed.size);
        put(w, buf);
        break;
    case SD_AVRO_ARRAY:
        put(w, "{\"type\":\"array\",\"items\":");
        pcf(w, n->u.array.items, seen);
        sd_write_u8(w, '}');
        break;
    case SD_AVRO_MAP:
        put(w, "{\"type\":\"map\",\"values\":");
        pcf(w, n->u.map.values, seen);
        sd_write_u8(w, '}');
        break;
    case SD_AVRO_UNION:
        sd_write_u8(w, '[');
        for (size_t i = 0; i < n->u.un.branch_count; i++) {
            if (i)
                sd_write_u8(w, ',');
            pcf(w, n->u.un.branches[i], seen);
        }
        sd_write_u8(w, ']');
        break;
    default:
        sd_write_u8(w, '"');
        put(w, sd_avro_kind_name(n->kind));
        sd_write_u8(w, '"');
    }
}

char *sd_avro_canonical_form(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err)
{
    sd_writer_t w;
    node_set_t seen = {0};
    sd_writer_init(&w);
    pcf(&w, schema->root, &seen);
    sd_free(seen.slots);
    if (seen.err)
        w.err = SD_ERR_NOMEM;
    return finish(&w, len, err);
}

/* CRC-64-AVRO: the spec's Rabin fingerprint, reflected, with this empty
 * value; the table is built on first use (idempotent, so a race is benign). */
#define AVRO_CRC64_EMPTY 0xc15d213aa4d7a795ull

uint64_t sd_avro_crc64(const void *data, size_t len)
{
    static uint64_t table[256];
    static int ready;
    if (!ready) {
        for (int i = 0; i < 256; i++) {
            uint64_t fp = (uint64_t)i;
            for (int j = 0; j < 8; j++)
                fp = (fp >> 1) ^ (AVRO_CRC64_EMPTY & (0 - (fp & 1)));
            table[i] = fp;
        }
        ready = 1;
    }
    uint64_t fp = AVRO_CRC64_EMPTY;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ table[(fp ^ p[i]) & 0xff];
    return fp;
}

int sd_avro_fingerprint(const sd_avro_schema_t *schema, uint64_t *fingerprint, sd_err_t *err)
{
    size_t len;
    char *text = sd_avro_canonical_form(schema, &len, err);
    if (!text)
        return SD_ERR_NOMEM;
    *fingerprint = sd_avro_crc64(text, len);
    sd_free(text);
    return 0;
}

/* ---- Confluent's canonical text --------------------------------------- */

/* A name relative to the enclosing namespace, as Java's Name.getQualified:
 * the short name when its namespace is the null one or the enclosing one. */
static void put_qualified(sd_writer_t *w, const char *fullname, const char *space)
{
    const char *dot = strrchr(fullname, '.');
    if (!dot) {
        put_str(w, fullname);
        return;
    }
    size_t sl = (size_t)(dot - fullname);
    if (strlen(space) == sl && strncmp(space, fullname, sl) == 0)
        put_str(w, dot + 1);
    else
        put_str(w, fullname);
}

static void put_props(sd_writer_t *w, const json_t *props)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)props, key, value)
    {
        sd_write_u8(w, ',');
        put_str(w, key);
        sd_write_u8(w, ':');
        avro__write_json(w, value);
    }
}

/* A float or double field's textual default ("NaN", "1.5") is a number to
 * Java once parsed. */
static void put_default(sd_writer_t *w, const json_t *v, const sd_avro_node_t *type)
{
    double d;
    if (json_is_string(v) && (type->kind == SD_AVRO_FLOAT || type->kind == SD_AVRO_DOUBLE) &&
        avro__parse_java_double(json_string_value(v), &d) == 0) {
        put_double(w, d, 0);
        return;
    }
    avro__write_json(w, v);
}

static void canonical(sd_writer_t *w, const sd_avro_node_t *n, const char *space)
{
    static const char *const order_names[] = {"ascending", "descending", "ignore"};
    if (n->kind == SD_AVRO_REF) {
        put_qualified(w, sd_avro_deref(n)->fullname, space);
        return;
    }
    if (n->kind == SD_AVRO_UNION) {
        sd_write_u8(w, '[');
        for (size_t i = 0; i < n->u.un.branch_count; i++) {
            if (i)
                sd_write_u8(w, ',');
            canonical(w, n->u.un.branches[i], space);
        }
        sd_write_u8(w, ']');
        return;
    }
    if (n->kind <= SD_AVRO_STRING && !json_object_size(n->props)) {
        put_str(w, sd_avro_kind_name(n->kind));
        return;
    }
    put(w, "{\"type\":");
    put_str(w, sd_avro_kind_name(n->kind));
    if (is_named(n)) {
        put(w, ",\"name\":");
        put_str(w, n->name);
        if (strcmp(n->space, space) != 0) {
            put(w, ",\"namespace\":");
            put_str(w, n->space);
        }
        if (n->doc) {
            put(w, ",\"doc\":");
            put_str(w, n->doc);
        }
    }
    char buf[32];
    switch (n->kind) {
    case SD_AVRO_RECORD:
        put(w, ",\"fields\":[");
        for (size_t i = 0; i < n->u.record.field_count; i++) {
            const sd_avro_field_t *f = &n->u.record.fields[i];
            if (i)
                sd_write_u8(w, ',');
            put(w, "{\"name\":");
            put_str(w, f->name);
            put(w, ",\"type\":");
            canonical(w, f->type, n->space);
            if (f->doc) {
                put(w, ",\"doc\":");
                put_str(w, f->doc);
            }
            if (f->default_value) {
                put(w, ",\"default\":");
                put_default(w, f->default_value, f->type);
            }
            if (f->order != SD_AVRO_ORDER_ASCENDING) {
                put(w, ",\"order\":");
                put_str(w, order_names[f->order]);
            }
            if (f->alias_count) {
                put(w, ",\"aliases\":[");
                for (size_t k = 0; k < f->alias_count; k++) {
                    if (k)
                        sd_write_u8(w, ',');
                    put_str(w, f->aliases[k]);
                }
                sd_write_u8(w, ']');
            }
            put_props(w, f->props);
            sd_write_u8(w, '}');
        }
        sd_write_u8(w, ']');
        break;
    case SD_AVRO_ENUM:
        put(w, ",\"symbols\":[");
        for (size_t i = 0; i < n->u.enm.symbol_count; i++) {
            if (i)
                sd_write_u8(w, ',');
            put_str(w, n->u.enm.symbols[i]);
        }
        sd_write_u8(w, ']');
        if (n->u.enm.default_symbol) {
            put(w, ",\"default\":");
            put_str(w, n->u.enm.default_symbol);
        }
        break;
    case SD_AVRO_FIXED:
        snprintf(buf, sizeof buf, ",\"size\":%zu", n->u.fixed.size);
        put(w, buf);
        break;
    case SD_AVRO_ARRAY:
        put(w, ",\"items\":");
        canonical(w, n->u.array.items, space);
        break;
    case SD_AVRO_MAP:
        put(w, ",\"values\":");
        canonical(w, n->u.map.values, space);
        break;
    default: break;
    }
    put_props(w, n->props);
    if (is_named(n) && n->alias_count) {
        /* Java keeps aliases in a set: a repeated alias is written once. */
        put(w, ",\"aliases\":[");
        int first = 1;
        avro_names_t written = {0};
        for (size_t i = 0; i < n->alias_count; i++) {
            if (avro__names_find(&written, n->aliases[i]))
                continue;
            if (avro__names_put(&written, n->aliases[i], (sd_avro_node_t *)n) != 0)
                w->err = SD_ERR_NOMEM;
            if (!first)
                sd_write_u8(w, ',');
            first = 0;
            put_qualified(w, n->aliases[i], n->space);
        }
        avro__names_free(&written);
        sd_write_u8(w, ']');
    }
    sd_write_u8(w, '}');
}

/*
 * Confluent's registry identifies a schema by AvroSchema.canonicalString(),
 * which is Java Avro's Schema.toString(references, false): compact JSON with
 * every attribute. We reproduce that writer:
 *  - a primitive without properties is its name; otherwise {"type":...,props};
 *  - named types: "type", "name" (short), "namespace" only when it differs
 *    from the enclosing record's ("" when a null namespace sits inside a
 *    non-null one), "doc", then fields / symbols + enum "default" / size,
 *    then properties in the order written, then "aliases" relative to the
 *    type's namespace (a repeated alias once);
 *  - fields: "name", "type", "doc", "default" (as written; a textual default
 *    of a float/double field becomes a number, as Java converts it),
 *    "order" unless ascending, "aliases", properties;
 *  - a second use of a named type, and every use of a type from a
 *    referenced schema, is its name relative to the enclosing namespace;
 *  - strings escaped and numbers printed as Jackson does (doubles as Java's
 *    Double.toString, so 1e3 becomes 1000.0).
 * Not reproduced: integers beyond 64 bits in defaults or properties (the
 * JSON parser refuses them) and doc strings holding U+0000 (cut there).
 */
char *sd_avro_confluent_canonical(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err)
{
    sd_writer_t w;
    sd_writer_init(&w);
    canonical(&w, schema->root, "");
    return finish(&w, len, err);
}

/* ---- Confluent's normalized text ---------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes strs sorted and without repeats as a JSON array. */
static void put_sorted_names(sd_writer_t *w, const char *const *strs, size_t count)
{
    const char **copy = sd_malloc(count * sizeof *copy);
    if (!copy) {
        w->err = SD_ERR_NOMEM;
        return;
    }
    memcpy(copy, strs, count * sizeof *copy);
    qsort(copy, count, sizeof *copy, cmp_str);
    sd_write_u8(w, '[');
    for (size_t i = 0; i < count; i++) {
        if (i && strcmp(copy[i], copy[i - 1]) == 0)
            continue;
        if (i)
            sd_write_u8(w, ',');
        put_str(w, copy[i]);
    }
    sd_write_u8(w, ']');
    sd_free(copy);
}

static void put_sorted_props(sd_writer_t *w, const json_t *props)
{
    size_t count = json_object_size(props);
    if (!count)
        return;
    const char **keys = sd_malloc(count * sizeof *keys);
    if (!keys) {
        w->err = SD_ERR_NOMEM;
        return;
    }
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)props, key, value) keys[i++] = key;
    qsort(keys, count, sizeof *keys, cmp_str);
    for (i = 0; i < count; i++) {
        sd_write_u8(w, ',');
        put_str(w, keys[i]);
        sd_write_u8(w, ':');
        avro__write_json(w, json_object_get(props, keys[i]));
    }
    sd_free(keys);
}

/* A default as Java's Field.defaultVal() turns it into an object and
 * Confluent writes it back: numbers take the type's kind (an int default of
 * a double field becomes 1.0), a union default follows the first branch. */
static void put_converted(sd_writer_t *w, const json_t *v, const sd_avro_node_t *t)
{
    if (t)
        t = sd_avro_deref(t);
    if (t && t->kind == SD_AVRO_UNION)
        t = t->u.un.branch_count ? sd_avro_deref(t->u.un.branches[0]) : NULL;
    sd_avro_kind_t k = t ? t->kind : SD_AVRO_NULL;
    double d;
    if (json_is_integer(v) && (k == SD_AVRO_FLOAT || k == SD_AVRO_DOUBLE)) {
        put_double(w, (double)json_integer_value(v), k == SD_AVRO_FLOAT);
    } else if (json_is_real(v) && k == SD_AVRO_FLOAT) {
        put_double(w, json_real_value(v), 1);
    } else if (json_is_string(v) && (k == SD_AVRO_FLOAT || k == SD_AVRO_DOUBLE) &&
               avro__parse_java_double(json_string_value(v), &d) == 0) {
        put_double(w, d, k == SD_AVRO_FLOAT);
    } else if (json_is_array(v)) {
        sd_write_u8(w, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                sd_write_u8(w, ',');
            put_converted(w, json_array_get(v, i), k == SD_AVRO_ARRAY ? t->u.array.items : NULL);
        }
        sd_write_u8(w, ']');
    } else if (json_is_object(v)) {
        const char *key;
        json_t *value;
        int first = 1;
        sd_write_u8(w, '{');
        json_object_foreach((json_t *)v, key, value)
        {
            const sd_avro_node_t *vt = NULL;
            if (k == SD_AVRO_MAP) {
                vt = t->u.map.values;
            } else if (k == SD_AVRO_RECORD) {
                const sd_avro_field_t *f = sd_avro_record_field(t, key);
                vt = f ? f->type : NULL;
            }
            if (!first)
                sd_write_u8(w, ',');
            first = 0;
            put_str(w, key);
            sd_write_u8(w, ':');
            put_converted(w, value, vt);
        }
        sd_write_u8(w, '}');
    } else {
        avro__write_json(w, v);
    }
}

/* Java Avro 1.11 has no duration logical type: it stays a plain property. */
static int java_logical(const sd_avro_node_t *n)
{
    return n->logical && n->logical != SD_AVRO_LOGICAL_DURATION;
}

static void put_logical(sd_writer_t *w, const sd_avro_node_t *n)
{
    char buf[64];
    put(w, ",\"logicalType\":");
    put_str(w, n->logical_name);
    if (n->logical == SD_AVRO_LOGICAL_DECIMAL) {
        snprintf(buf, sizeof buf, ",\"precision\":%d", n->precision);
        put(w, buf);
        if (n->scale) {
            snprintf(buf, sizeof buf, ",\"scale\":%d", n->scale);
            put(w, buf);
        }
    }
}

/* AvroSchemaUtils.toNormalizedString: full names, "name" before "type",
 * sorted aliases and properties, every field with its order; types from
 * referenced schemas by full name. A recognised logical type is written
 * first and then again among the sorted properties; the JSON reader keeps
 * the first position and one value, as Jackson does. */
static void build(sd_writer_t *w, const sd_avro_schema_t *schema, const sd_avro_node_t *n,
                  const char *space, node_set_t *seen)
{
    static const char *const order_names[] = {"ascending", "descending", "ignore"};
    const sd_avro_node_t *d = sd_avro_deref(n);
    if (is_named(d)) {
        if (set_has(seen, d) || seen->err || !avro__is_own(schema, d)) {
            put_str(w, d->fullname);
            return;
        }
        set_add(seen, d);
        put(w, "{\"name\":");
        put_str(w, d->fullname);
        /* A full name without dots would be read back in the enclosing
         * namespace: say it is the null one (Confluent omits this and so
         * moves such a type into the enclosing namespace). */
        if (!*d->space && *space)
            put(w, ",\"namespace\":\"\"");
        put(w, ",\"type\":");
        put_str(w, sd_avro_kind_name(d->kind));
        if (d->kind == SD_AVRO_ENUM) {
            put(w, ",\"symbols\":");
            sd_write_u8(w, '[');
            for (size_t i = 0; i < d->u.enm.symbol_count; i++) {
                if (i)
                    sd_write_u8(w, ',');
                put_str(w, d->u.enm.symbols[i]);
            }
            sd_write_u8(w, ']');
        } else if (d->kind == SD_AVRO_FIXED) {
            char buf[32];
            snprintf(buf, sizeof buf, ",\"size\":%zu", d->u.fixed.size);
            put(w, buf);
            if (java_logical(d))
                put_logical(w, d);
        } else {
            put(w, ",\"fields\":[");
            for (size_t i = 0; i < d->u.record.field_count; i++) {
                const sd_avro_field_t *f = &d->u.record.fields[i];
                if (i)
                    sd_write_u8(w, ',');
                put(w, "{\"name\":");
                put_str(w, f->name);
                put(w, ",\"type\":");
                build(w, schema, f->type, d->space, seen);
                put(w, ",\"order\":");
                put_str(w, order_names[f->order]);
                if (f->doc) {
                    put(w, ",\"doc\":");
                    put_str(w, f->doc);
                }
                if (f->alias_count) {
                    put(w, ",\"aliases\":");
                    put_sorted_names(w, f->aliases, f->alias_count);
                }
                if (f->default_value) {
                    put(w, ",\"default\":");
                    put_converted(w, f->default_value, f->type);
                }
                put_sorted_props(w, f->props);
                sd_write_u8(w, '}');
            }
            sd_write_u8(w, ']');
        }
        if (d->doc && *d->doc) {
            put(w, ",\"doc\":");
            put_str(w, d->doc);
        }
        if (d->alias_count) {
            put(w, ",\"aliases\":");
            put_sorted_names(w, d->aliases, d->alias_count);
        }
        if (d->kind == SD_AVRO_ENUM && d->u.enm.default_symbol) {
            put(w, ",\"default\":");
            put_str(w, d->u.enm.default_symbol);
        }
        put_sorted_props(w, d->props);
        sd_write_u8(w, '}');
        return;
    }
    switch (d->kind) {
    case SD_AVRO_UNION:
        sd_write_u8(w, '[');
        for (size_t i = 0; i < d->u.un.branch_count; i++) {
            if (i)
                sd_write_u8(w, ',');
            build(w, schema, d->u.un.branches[i], space, seen);
        }
        sd_write_u8(w, ']');
        return;
    case SD_AVRO_ARRAY:
    case SD_AVRO_MAP:
        put(w, d->kind == SD_AVRO_ARRAY ? "{\"type\":\"array\",\"items\":"
                                        : "{\"type\":\"map\",\"values\":");
        build(w, schema, d->kind == SD_AVRO_ARRAY ? d->u.array.items : d->u.map.values, space,
              seen);
        put_sorted_props(w, d->props);
        sd_write_u8(w, '}');
        return;
    default:
        if (!java_logical(d) && !json_object_size(d->props)) {
            put_str(w, sd_avro_kind_name(d->kind));
            return;
        }
        put(w, "{\"type\":");
        put_str(w, sd_avro_kind_name(d->kind));
        if (java_logical(d))
            put_logical(w, d);
        put_sorted_props(w, d->props);
        sd_write_u8(w, '}');
    }
}

char *avro__normalized_raw(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err);

char *avro__normalized_raw(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err)
{
    sd_writer_t w;
    node_set_t seen = {0};
    sd_writer_init(&w);
    build(&w, schema, schema->root, "", &seen);
    sd_free(seen.slots);
    if (seen.err)
        w.err = SD_ERR_NOMEM;
    return finish(&w, len, err);
}

/*
 * AvroSchema.normalize() builds the text above and parses it again; what the
 * registry stores and returns is that new schema's canonicalString(). So the
 * normalized text here is the canonical text of the re-parsed normalized
 * form: full names collapse back to namespace-relative ones, "order" is
 * written only when not ascending, but aliases and properties stay sorted
 * and defaults stay converted to their field's type.
 */
char *sd_avro_normalized(const sd_avro_schema_t *schema, size_t *len, sd_err_t *err)
{
    size_t raw_len;
    char *raw = avro__normalized_raw(schema, &raw_len, err);
    if (!raw)
        return NULL;
    sd_avro_schema_t *again = NULL;
    int rc = sd_avro_parse_flags(raw, raw_len, schema->refs, SD_AVRO_PARSE_LENIENT, &again, err);
    sd_free(raw);
    if (rc)
        return NULL;
    char *text = sd_avro_confluent_canonical(again, len, err);
    sd_avro_schema_free(again);
    return text;
}
