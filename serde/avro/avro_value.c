/*
 * avro_value.c - Avro values in: codecs, validation of JSON (Avro's JSON
 * encoding) and avro-c values against a schema, and their Avro binary
 * encoding (Avro specification 1.11, "Binary Encoding" and "JSON Encoding").
 * One walker both validates and encodes; validation alone passes no writer.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "avro/avro_codec.h"
#include "avro/avro_value_int.h"
#include "base/alloc.h"

#define MAX_DEPTH AVRO_VALUE_MAX_DEPTH
#define PATH_MAX_LEN AVRO_VALUE_PATH_MAX

typedef avro_value_walk_t walk_t;
#define prepend avro_value__prepend
#define prepend_field avro_value__prepend_field
#define prepend_index avro_value__prepend_index
#define prepend_key avro_value__prepend_key
#define fail avro_value__fail
#define finish avro_value__finish

void avro_value__walk_init(avro_value_walk_t *c, sd_writer_t *w, sd_err_t *err)
{
    c->w = w;
    c->err = err;
    c->pos = PATH_MAX_LEN;
    c->truncated = 0;
    c->what[0] = '\0';
    c->code = 0;
}

void avro_value__prepend(walk_t *c, const char *seg, size_t n)
{
    if (c->truncated)
        return;
    if (n > c->pos) {
        c->truncated = 1; /* too deep to name: keep the innermost part */
        return;
    }
    c->pos -= n;
    memcpy(c->path + c->pos, seg, n);
}

void avro_value__prepend_field(walk_t *c, const char *name)
{
    prepend(c, name, strlen(name));
    prepend(c, ".", 1);
}

void avro_value__prepend_index(walk_t *c, size_t i)
{
    char seg[32];
    int n = snprintf(seg, sizeof seg, "[%zu]", i);
    prepend(c, seg, (size_t)n);
}

void avro_value__prepend_key(walk_t *c, const char *key)
{
    char seg[80];
    int n = snprintf(seg, sizeof seg, "[\"%.60s%s\"]", key, strlen(key) > 60 ? "..." : "");
    prepend(c, seg, (size_t)n);
}

int avro_value__fail(walk_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->what, sizeof c->what, fmt, ap);
    va_end(ap);
    c->code = code;
    return code;
}

int avro_value__finish(walk_t *c)
{
    const char *path = c->path + c->pos;
    int n = (int)(PATH_MAX_LEN - c->pos);
    if (n == 0)
        path = ".", n = 1;
    return sd_err_set(c->err, c->code, "%s%.*s: %s", c->truncated ? "..." : "", n, path, c->what);
}

/* "string \"x\"", "number 1.5", "object", ...: what a JSON value is. */
static void describe(const json_t *j, char *out, size_t cap)
{
    switch (json_typeof(j)) {
    case JSON_STRING: {
        size_t n = json_string_length(j);
        snprintf(out, cap, "string \"%.*s%s\"", (int)(n > 40 ? 40 : n), json_string_value(j),
                 n > 40 ? "..." : "");
        break;
    }
    case JSON_INTEGER: snprintf(out, cap, "integer %lld", (long long)json_integer_value(j)); break;
    case JSON_REAL: snprintf(out, cap, "number %.17g", json_real_value(j)); break;
    case JSON_TRUE: snprintf(out, cap, "true"); break;
    case JSON_FALSE: snprintf(out, cap, "false"); break;
    case JSON_NULL: snprintf(out, cap, "null"); break;
    case JSON_ARRAY: snprintf(out, cap, "array"); break;
    default: snprintf(out, cap, "object"); break;
    }
}

static int expected(walk_t *c, const char *type, const json_t *j)
{
    char got[96];
    describe(j, got, sizeof got);
    return fail(c, STRAND_AVRO_ERR_VALUE, "expected %s, got %s", type, got);
}

static const char *type_label(const sd_avro_node_t *n)
{
    if (n->fullname)
        return n->fullname;
    return sd_avro_kind_name(n->kind);
}

/* ---- binary writers ----------------------------------------------------- */

static void put_float(sd_writer_t *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    sd_write_bytes(w, b, 4);
}

static void put_double(sd_writer_t *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (8 * i));
    sd_write_bytes(w, b, 8);
}

/* The avro-c walker writes through these: room is checked once per value,
 * inline, and the writer is grown out of line only when it is full. */
static inline uint8_t *room(sd_writer_t *w, size_t n)
{
    if (!w->err && w->cap - w->len >= n)
        return w->buf + w->len;
    return sd_writer_reserve(w, n) ? NULL : w->buf + w->len;
}

/* Zig-zag varint of a long (an int's is the same bytes). */
static inline void put_long(sd_writer_t *w, int64_t v)
{
    uint8_t *p = room(w, 10);
    if (!p)
        return;
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (u >= 0x80) {
        *p++ = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    *p++ = (uint8_t)u;
    w->len = (size_t)(p - w->buf);
}

static inline void put_run(sd_writer_t *w, const void *src, size_t n)
{
    uint8_t *p = room(w, n);
    if (!p || !n)
        return;
    memcpy(p, src, n);
    w->len += n;
}

static inline void put_byte(sd_writer_t *w, uint8_t b)
{
    uint8_t *p = room(w, 1);
    if (p) {
        *p = b;
        w->len++;
    }
}

/* Little-endian bytes of a float or double (n = 4 or 8). */
static inline void put_le(sd_writer_t *w, uint64_t u, int n)
{
    uint8_t *p = room(w, (size_t)n);
    if (!p)
        return;
    for (int k = 0; k < n; k++)
        p[k] = (uint8_t)(u >> (8 * k));
    w->len += (size_t)n;
}

/* The bytes of an ISO-8859-1 JSON string: each code point must be below
 * 256. Returns the byte count, or -1 when a code point is larger. */
static long latin1_count(const char *s, size_t n)
{
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80)
            count++;
        else if ((ch == 0xc2 || ch == 0xc3) && i + 1 < n &&
                 ((unsigned char)s[i + 1] & 0xc0) == 0x80)
            count++, i++;
        else
            return -1; /* above U+00FF (or not UTF-8) */
    }
    return count;
}

static void put_latin1(sd_writer_t *w, const char *s, size_t n)
{
    if (!n || sd_writer_reserve(w, n))
        return;
    uint8_t *p = w->buf + w->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x80)
            *p++ = ch;
        else
            *p++ = (uint8_t)(((ch & 0x03) << 6) | ((unsigned char)s[++i] & 0x3f));
    }
    w->len = (size_t)(p - w->buf);
}

/* ---- JSON in ------------------------------------------------------------- */

static int enc_json(walk_t *c, const sd_avro_node_t *n, const json_t *j, int depth);

/* The JSON number of a float/double, or a "NaN"/"Infinity"/"-Infinity"
 * string. */
static int json_double(const json_t *j, double *d)
{
    if (json_is_number(j)) {
        *d = json_number_value(j);
        return 0;
    }
    if (!json_is_string(j))
        return -1;
    const char *s = json_string_value(j);
    if (strcmp(s, "NaN") == 0)
        *d = NAN;
    else if (strcmp(s, "Infinity") == 0)
        *d = INFINITY;
    else if (strcmp(s, "-Infinity") == 0)
        *d = -INFINITY;
    else
        return -1;
    return 0;
}

static int enc_record(walk_t *c, const sd_avro_node_t *n, const json_t *j, int depth)
{
    if (!json_is_object(j))
        return expected(c, n->fullname, j);
    size_t matched = 0;
    for (size_t i = 0; i < n->u.record.field_count; i++) {
        const sd_avro_field_t *f = &n->u.record.fields[i];
        const json_t *v = json_object_get(j, f->name);
        int rc;
        if (v) {
            matched++;
            rc = enc_json(c, f->type, v, depth + 1);
        } else if (f->default_value) {
            sd_err_t derr = {0};
            json_t *d = avro_value__default_json(f->type, f->default_value, &derr);
            if (!d)
                rc = fail(c, STRAND_AVRO_ERR_VALUE, "missing, and its default is unusable: %s",
                          derr.msg);
            else
                rc = enc_json(c, f->type, d, depth + 1);
            json_decref(d);
        } else {
            rc = fail(c, STRAND_AVRO_ERR_VALUE, "missing field of type %s",
                      type_label(sd_avro_deref(f->type)));
        }
        if (rc) {
            prepend_field(c, f->name);
            return rc;
        }
    }
    if (matched < json_object_size(j)) {
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it)) {
            const char *key = json_object_iter_key(it);
            if (strlen(key) != json_object_iter_key_len(it) || !sd_avro_record_field(n, key)) {
                int rc = fail(c, STRAND_AVRO_ERR_VALUE, "unknown field of record %s", n->fullname);
                prepend_key(c, key);
                return rc;
            }
        }
    }
    return 0;
}

static int enc_union(walk_t *c, const sd_avro_node_t *n, const json_t *j, int depth)
{
    size_t count = n->u.un.branch_count;
    if (json_is_null(j)) {
        for (size_t i = 0; i < count; i++)
            if (sd_avro_deref(n->u.un.branches[i])->kind == SD_AVRO_NULL) {
                if (c->w)
                    sd_write_varlong(c->w, (int64_t)i);
                return 0;
            }
        return fail(c, STRAND_AVRO_ERR_VALUE, "expected a union value, got null (no null branch)");
    }
    if (!json_is_object(j) || json_object_size(j) != 1) {
        char got[96];
        describe(j, got, sizeof got);
        return fail(c, STRAND_AVRO_ERR_VALUE,
                    "expected a union value ({\"<type>\": value} or null), got %s", got);
    }
    void *it = json_object_iter((json_t *)j);
    const char *key = json_object_iter_key(it);
    const json_t *v = json_object_iter_value(it);
    for (size_t i = 0; i < count && strlen(key) == json_object_iter_key_len(it); i++) {
        const sd_avro_node_t *b = sd_avro_deref(n->u.un.branches[i]);
        if (b->kind != SD_AVRO_NULL && strcmp(type_label(b), key) == 0) {
            if (c->w)
                sd_write_varlong(c->w, (int64_t)i);
            int rc = enc_json(c, b, v, depth);
            if (rc) {
                char seg[80];
                int len = snprintf(seg, sizeof seg, "<%.70s>", key);
                prepend(c, seg, (size_t)len);
            }
            return rc;
        }
    }
    return fail(c, STRAND_AVRO_ERR_VALUE, "\"%.80s\" is not a branch of the union", key);
}

static int enc_json(walk_t *c, const sd_avro_node_t *n, const json_t *j, int depth)
{
    sd_writer_t *w = c->w;
    if (depth > MAX_DEPTH)
        return fail(c, STRAND_AVRO_ERR_VALUE, "nested deeper than %d", MAX_DEPTH);
    n = sd_avro_deref(n);
    switch (n->kind) {
    case SD_AVRO_NULL:
        if (!json_is_null(j))
            return expected(c, "null", j);
        return 0;
    case SD_AVRO_BOOLEAN:
        if (!json_is_boolean(j))
            return expected(c, "boolean", j);
        if (w)
            sd_write_u8(w, json_is_true(j) ? 1 : 0);
        return 0;
    case SD_AVRO_INT: {
        if (!json_is_integer(j))
            return expected(c, "int", j);
        json_int_t v = json_integer_value(j);
        if (v < INT32_MIN || v > INT32_MAX)
            return expected(c, "int (32 bits)", j);
        if (w)
            sd_write_varint(w, (int32_t)v);
        return 0;
    }
    case SD_AVRO_LONG:
        if (!json_is_integer(j))
            return expected(c, "long", j);
        if (w)
            sd_write_varlong(w, (int64_t)json_integer_value(j));
        return 0;
    case SD_AVRO_FLOAT:
    case SD_AVRO_DOUBLE: {
        double d;
        if (json_double(j, &d))
            return expected(c, n->kind == SD_AVRO_FLOAT ? "float" : "double", j);
        if (w) {
            if (n->kind == SD_AVRO_FLOAT)
                put_float(w, (float)d);
            else
                put_double(w, d);
        }
        return 0;
    }
    case SD_AVRO_STRING:
        if (!json_is_string(j))
            return expected(c, "string", j);
        if (w) {
            sd_write_varlong(w, (int64_t)json_string_length(j));
            sd_write_bytes(w, json_string_value(j), json_string_length(j));
        }
        return 0;
    case SD_AVRO_BYTES:
    case SD_AVRO_FIXED: {
        if (!json_is_string(j))
            return expected(c,
                            n->kind == SD_AVRO_BYTES ? "bytes (an ISO-8859-1 string)"
                                                     : "fixed (an ISO-8859-1 string)",
                            j);
        long count = latin1_count(json_string_value(j), json_string_length(j));
        if (count < 0)
            return fail(c, STRAND_AVRO_ERR_VALUE,
                        "expected %s, got a string with a character above U+00FF",
                        n->kind == SD_AVRO_BYTES ? "bytes" : "fixed");
        if (n->kind == SD_AVRO_FIXED && (size_t)count != n->u.fixed.size)
            return fail(c, STRAND_AVRO_ERR_VALUE, "expected fixed %s of %zu bytes, got %ld",
                        n->fullname, n->u.fixed.size, count);
        if (w) {
            if (n->kind == SD_AVRO_BYTES)
                sd_write_varlong(w, count);
            put_latin1(w, json_string_value(j), json_string_length(j));
        }
        return 0;
    }
    case SD_AVRO_ENUM: {
        long index = json_is_string(j) && strlen(json_string_value(j)) == json_string_length(j)
                         ? sd_avro_enum_symbol_index(n, json_string_value(j))
                         : -1;
        if (index < 0) {
            char type[300];
            snprintf(type, sizeof type, "a symbol of enum %s", n->fullname);
            return expected(c, type, j);
        }
        if (w)
            sd_write_varint(w, (int32_t)index);
        return 0;
    }
    case SD_AVRO_ARRAY: {
        if (!json_is_array(j))
            return expected(c, "array", j);
        size_t size = json_array_size(j);
        if (size && w)
            sd_write_varlong(w, (int64_t)size);
        for (size_t i = 0; i < size; i++) {
            int rc = enc_json(c, n->u.array.items, json_array_get(j, i), depth + 1);
            if (rc) {
                prepend_index(c, i);
                return rc;
            }
        }
        if (w)
            sd_write_u8(w, 0);
        return 0;
    }
    case SD_AVRO_MAP: {
        if (!json_is_object(j))
            return expected(c, "map (an object)", j);
        size_t size = json_object_size(j);
        if (size && w)
            sd_write_varlong(w, (int64_t)size);
        /* Keys may hold NUL (JSON "\u0000"): their length comes from the
         * iterator, not strlen. */
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it)) {
            const char *key = json_object_iter_key(it);
            json_t *v = json_object_iter_value(it);
            if (w) {
                size_t klen = json_object_iter_key_len(it);
                sd_write_varlong(w, (int64_t)klen);
                sd_write_bytes(w, key, klen);
            }
            int rc = enc_json(c, n->u.map.values, v, depth + 1);
            if (rc) {
                prepend_key(c, key);
                return rc;
            }
        }
        if (w)
            sd_write_u8(w, 0);
        return 0;
    }
    case SD_AVRO_RECORD: return enc_record(c, n, j, depth);
    case SD_AVRO_UNION: return enc_union(c, n, j, depth);
    default: return fail(c, STRAND_AVRO_ERR_VALUE, "unresolved type");
    }
}

int avro_value__check_json(const sd_avro_node_t *node, const json_t *value, sd_err_t *err)
{
    walk_t c;
    avro_value__walk_init(&c, NULL, err);
    if (enc_json(&c, node, value, 0))
        return finish(&c);
    return 0;
}

int avro_value__encode_json(const strand_avro_codec_t *codec, const json_t *value, unsigned flags,
                            sd_writer_t *w, sd_err_t *err)
{
    walk_t c;
    avro_value__walk_init(&c, w, err);
    if (!value)
        return sd_err_set(err, SD_ERR_INVALID, "no value");
    int rc;
    if ((flags & STRAND_AVRO_RAW_BYTES) && codec->root->kind == SD_AVRO_BYTES) {
        long count = json_is_string(value)
                         ? latin1_count(json_string_value(value), json_string_length(value))
                         : -1;
        if (count < 0)
            rc = expected(&c, "bytes (an ISO-8859-1 string)", value);
        else {
            if (w)
                put_latin1(w, json_string_value(value), json_string_length(value));
            rc = 0;
        }
    } else {
        rc = enc_json(&c, codec->root, value, 0);
    }
    if (rc)
        return finish(&c);
    if (w && w->err)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    return 0;
}

/* ---- avro-c values in -------------------------------------------------- */

static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Text is mostly ASCII: eight bytes at a time while it is. */
        if (n - i >= 8) {
            uint64_t eight;
            memcpy(&eight, s + i, 8);
            if (!(eight & 0x8080808080808080u)) {
                i += 8;
                continue;
            }
        }
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t more;
        uint32_t cp;
        if (b >= 0xc2 && b <= 0xdf)
            more = 1, cp = b & 0x1f;
        else if (b >= 0xe0 && b <= 0xef)
            more = 2, cp = b & 0x0f;
        else if (b >= 0xf0 && b <= 0xf4)
            more = 3, cp = b & 0x07;
        else
            return 0;
        if (n - i <= more)
            return 0;
        for (size_t k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += more + 1;
    }
    return 1;
}

int avro_value__utf8_valid(const uint8_t *s, size_t n) { return utf8_valid(s, n); }

static const avro_type_t kind_to_avro_c[] = {
    [SD_AVRO_NULL] = AVRO_NULL,   [SD_AVRO_BOOLEAN] = AVRO_BOOLEAN, [SD_AVRO_INT] = AVRO_INT32,
    [SD_AVRO_LONG] = AVRO_INT64,  [SD_AVRO_FLOAT] = AVRO_FLOAT,     [SD_AVRO_DOUBLE] = AVRO_DOUBLE,
    [SD_AVRO_BYTES] = AVRO_BYTES, [SD_AVRO_STRING] = AVRO_STRING,   [SD_AVRO_RECORD] = AVRO_RECORD,
    [SD_AVRO_ENUM] = AVRO_ENUM,   [SD_AVRO_ARRAY] = AVRO_ARRAY,     [SD_AVRO_MAP] = AVRO_MAP,
    [SD_AVRO_UNION] = AVRO_UNION, [SD_AVRO_FIXED] = AVRO_FIXED,
};

static int enc_value(walk_t *c, const sd_avro_node_t *n, avro_value_t *v, int depth, int raw)
{
    sd_writer_t *w = c->w;
    if (depth > MAX_DEPTH)
        return fail(c, STRAND_AVRO_ERR_VALUE, "nested deeper than %d", MAX_DEPTH);
    n = sd_avro_deref(n);
    if (n->kind > SD_AVRO_FIXED || avro_value_get_type(v) != kind_to_avro_c[n->kind])
        return fail(c, STRAND_AVRO_ERR_VALUE, "expected %s, got an avro-c value of another type",
                    type_label(n));
    switch (n->kind) {
    case SD_AVRO_NULL: return 0;
    case SD_AVRO_BOOLEAN: {
        int b = 0;
        avro_value_get_boolean(v, &b);
        if (w)
            put_byte(w, b ? 1 : 0);
        return 0;
    }
    case SD_AVRO_INT: {
        int32_t i = 0;
        avro_value_get_int(v, &i);
        if (w)
            put_long(w, i);
        return 0;
    }
    case SD_AVRO_LONG: {
        int64_t l = 0;
        avro_value_get_long(v, &l);
        if (w)
            put_long(w, l);
        return 0;
    }
    case SD_AVRO_FLOAT: {
        float f = 0;
        avro_value_get_float(v, &f);
        if (w) {
            uint32_t u;
            memcpy(&u, &f, 4);
            put_le(w, u, 4);
        }
        return 0;
    }
    case SD_AVRO_DOUBLE: {
        double d = 0;
        avro_value_get_double(v, &d);
        if (w) {
            uint64_t u;
            memcpy(&u, &d, 8);
            put_le(w, u, 8);
        }
        return 0;
    }
    case SD_AVRO_BYTES: {
        const void *p = NULL;
        size_t size = 0;
        avro_value_get_bytes(v, &p, &size);
        if (w) {
            if (!raw)
                put_long(w, (int64_t)size);
            if (size) /* an avro-c bytes value never set has no buffer */
                put_run(w, p, size);
        }
        return 0;
    }
    case SD_AVRO_STRING: {
        const char *p = NULL;
        size_t size = 0; /* avro-c counts the terminating NUL */
        avro_value_get_string(v, &p, &size);
        if (size)
            size--;
        if (!p)
            size = 0;
        if (size && !utf8_valid((const uint8_t *)p, size))
            return fail(c, STRAND_AVRO_ERR_VALUE, "expected string, got invalid UTF-8");
        if (w) {
            put_long(w, (int64_t)size);
            if (size)
                put_run(w, p, size);
        }
        return 0;
    }
    case SD_AVRO_FIXED: {
        const void *p = NULL;
        size_t size = 0;
        avro_value_get_fixed(v, &p, &size);
        if (size != n->u.fixed.size)
            return fail(c, STRAND_AVRO_ERR_VALUE, "expected fixed %s of %zu bytes, got %zu",
                        n->fullname, n->u.fixed.size, size);
        if (w)
            put_run(w, p, size);
        return 0;
    }
    case SD_AVRO_ENUM: {
        int index = -1;
        avro_value_get_enum(v, &index);
        if (index < 0 || (size_t)index >= n->u.enm.symbol_count)
            return fail(c, STRAND_AVRO_ERR_VALUE, "enum %s index %d out of range (0..%zu)",
                        n->fullname, index, n->u.enm.symbol_count - 1);
        if (w)
            put_long(w, index);
        return 0;
    }
    case SD_AVRO_ARRAY:
    case SD_AVRO_MAP: {
        size_t size = 0;
        avro_value_get_size(v, &size);
        if (size && w)
            put_long(w, (int64_t)size);
        for (size_t i = 0; i < size; i++) {
            avro_value_t item;
            const char *key = NULL;
            if (avro_value_get_by_index(v, i, &item, &key))
                return fail(c, STRAND_AVRO_ERR_AVRO_C, "avro-c: %s", avro_strerror());
            if (n->kind == SD_AVRO_MAP && key && !utf8_valid((const uint8_t *)key, strlen(key))) {
                int rc = fail(c, STRAND_AVRO_ERR_VALUE, "map key that is not UTF-8");
                prepend_index(c, i);
                return rc;
            }
            if (n->kind == SD_AVRO_MAP && w) {
                size_t klen = key ? strlen(key) : 0;
                put_long(w, (int64_t)klen);
                put_run(w, key, klen);
            }
            int rc = enc_value(c, n->kind == SD_AVRO_ARRAY ? n->u.array.items : n->u.map.values,
                               &item, depth + 1, 0);
            if (rc) {
                if (n->kind == SD_AVRO_MAP)
                    prepend_key(c, key ? key : "");
                else
                    prepend_index(c, i);
                return rc;
            }
        }
        if (w)
            put_byte(w, 0);
        return 0;
    }
    case SD_AVRO_RECORD:
        for (size_t i = 0; i < n->u.record.field_count; i++) {
            const sd_avro_field_t *f = &n->u.record.fields[i];
            avro_value_t field;
            if (avro_value_get_by_index(v, i, &field, NULL))
                return fail(c, STRAND_AVRO_ERR_AVRO_C, "avro-c: %s", avro_strerror());
            int rc = enc_value(c, f->type, &field, depth + 1, 0);
            if (rc) {
                prepend_field(c, f->name);
                return rc;
            }
        }
        return 0;
    case SD_AVRO_UNION: {
        int d = -1;
        avro_value_t branch;
        avro_value_get_discriminant(v, &d);
        if (d < 0 || (size_t)d >= n->u.un.branch_count || avro_value_get_current_branch(v, &branch))
            return fail(c, STRAND_AVRO_ERR_VALUE, "no branch of the union chosen");
        if (w)
            put_long(w, d);
        return enc_value(c, n->u.un.branches[d], &branch, depth, 0);
    }
    default: return fail(c, STRAND_AVRO_ERR_VALUE, "unresolved type");
    }
}

/* 1 when an avro-c value's schema is the codec's: the same object, one
 * found equal before, or equal now (then remembered in a free slot). */
static int schema_matches(const strand_avro_codec_t *codec, avro_schema_t schema)
{
    if (!schema)
        return 0;
    if (schema == codec->avro_c)
        return 1;
    avro_schema_t *slots = ((strand_avro_codec_t *)codec)->equal_schemas;
    for (int i = 0; i < AVRO_VALUE_EQUAL_SCHEMAS; i++)
        if (__atomic_load_n(&slots[i], __ATOMIC_ACQUIRE) == schema)
            return 1;
    if (!avro_schema_equal(schema, codec->avro_c))
        return 0;
    avro_schema_incref(schema);
    for (int i = 0; i < AVRO_VALUE_EQUAL_SCHEMAS; i++) {
        avro_schema_t empty = NULL;
        if (__atomic_compare_exchange_n(&slots[i], &empty, schema, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 1;
        if (empty == schema)
            break; /* another thread remembered it */
    }
    avro_schema_decref(schema);
    return 1;
}

int avro_value__encode_value(const strand_avro_codec_t *codec, avro_value_t *value, unsigned flags,
                             sd_writer_t *w, sd_err_t *err)
{
    walk_t c;
    avro_value__walk_init(&c, w, err);
    if (!value || !value->iface)
        return sd_err_set(err, SD_ERR_INVALID, "no value");
    if (!schema_matches(codec, avro_value_get_schema(value)))
        return sd_err_set(err, STRAND_AVRO_ERR_VALUE,
                          ".: the avro-c value's schema is not the codec's schema");
    int raw = (flags & STRAND_AVRO_RAW_BYTES) && codec->root->kind == SD_AVRO_BYTES;
    if (enc_value(&c, codec->root, value, 0, raw))
        return finish(&c);
    if (w && w->err)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    return 0;
}

/* ---- codecs -------------------------------------------------------------- */

int avro_value__public_error(int rc, const sd_err_t *in, strand_avro_error_t *err)
{
    if (err) {
        err->code = rc;
        if (rc && in)
            snprintf(err->message, sizeof err->message, "%s", in->msg);
        else
            err->message[0] = '\0';
    }
    return rc;
}

int strand_avro_codec_new(strand_avro_schema_t *schema, strand_avro_codec_t **out,
                          strand_avro_error_t *err)
{
    sd_err_t e = {0};
    int rc = 0;
    *out = NULL;
    strand_avro_codec_t *codec = sd_calloc(1, sizeof *codec);
    if (!codec) {
        rc = sd_err_set(&e, SD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    codec->refcount = 1;
    codec->schema = sd_avro_schema_incref(schema);
    codec->root = sd_avro_deref(sd_avro_schema_root(schema));
    rc = sd_avro_to_avro_c(schema, &codec->avro_c, &e);
    if (rc) {
        if (rc != SD_ERR_NOMEM)
            rc = e.code = STRAND_AVRO_ERR_AVRO_C;
        goto fail;
    }
    codec->avro_c_class = avro_generic_class_from_schema(codec->avro_c);
    if (!codec->avro_c_class) {
        rc = sd_err_set(&e, STRAND_AVRO_ERR_AVRO_C, "avro-c: %s", avro_strerror());
        goto fail;
    }
    rc = avro_value__plan(&codec->identity, codec->root, codec->root, &e);
    if (rc)
        goto fail;
    *out = codec;
    return avro_value__public_error(0, NULL, err);
fail:
    strand_avro_codec_free(codec);
    return avro_value__public_error(rc, &e, err);
}

strand_avro_codec_t *strand_avro_codec_incref(strand_avro_codec_t *codec)
{
    if (codec)
        __atomic_add_fetch(&codec->refcount, 1, __ATOMIC_RELAXED);
    return codec;
}

void strand_avro_codec_free(strand_avro_codec_t *codec)
{
    if (!codec || __atomic_sub_fetch(&codec->refcount, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    avro_value__plans_free(&codec->identity);
    for (int i = 0; i < AVRO_VALUE_EQUAL_SCHEMAS; i++)
        if (codec->equal_schemas[i])
            avro_schema_decref(codec->equal_schemas[i]);
    if (codec->avro_c_class)
        avro_value_iface_decref(codec->avro_c_class);
    if (codec->avro_c)
        avro_schema_decref(codec->avro_c);
    sd_avro_schema_free(codec->schema);
    sd_free(codec);
}

const strand_avro_schema_t *strand_avro_codec_schema(const strand_avro_codec_t *codec)
{
    return codec->schema;
}

avro_schema_t strand_avro_codec_avro_c_schema(const strand_avro_codec_t *codec)
{
    return codec->avro_c;
}

avro_value_iface_t *strand_avro_codec_avro_c_class(const strand_avro_codec_t *codec)
{
    return codec->avro_c_class;
}

int strand_avro_codec_is_bytes(const strand_avro_codec_t *codec)
{
    return codec->root->kind == SD_AVRO_BYTES;
}

/* ---- public entry points ---------------------------------------------------- */

int strand_avro_validate_json(const strand_avro_codec_t *codec, const json_t *value,
                              strand_avro_error_t *err)
{
    sd_err_t e = {0};
    return avro_value__public_error(avro_value__encode_json(codec, value, 0, NULL, &e), &e, err);
}

/* Hands the writer's bytes out (an empty encoding is still a buffer). */
static int steal(sd_writer_t *w, uint8_t **out, size_t *len, sd_err_t *e)
{
    if (sd_writer_reserve(w, 1))
        return sd_err_set(e, SD_ERR_NOMEM, "out of memory");
    *out = sd_writer_steal(w, len);
    return 0;
}

int strand_avro_encode_json(const strand_avro_codec_t *codec, const json_t *value, unsigned flags,
                            uint8_t **out, size_t *len, strand_avro_error_t *err)
{
    sd_err_t e = {0};
    sd_writer_t w;
    sd_writer_init(&w);
    *out = NULL;
    *len = 0;
    int rc = avro_value__encode_json(codec, value, flags, &w, &e);
    if (!rc)
        rc = steal(&w, out, len, &e);
    sd_writer_free(&w);
    return avro_value__public_error(rc, &e, err);
}

int strand_avro_encode_json_text(const strand_avro_codec_t *codec, const char *text, size_t len,
                                 unsigned flags, uint8_t **out, size_t *out_len,
                                 strand_avro_error_t *err)
{
    sd_err_t e = {0};
    json_error_t jerr;
    *out = NULL;
    *out_len = 0;
    json_t *value = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!value) {
        sd_err_set(&e, STRAND_AVRO_ERR_JSON, "not JSON: line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
        return avro_value__public_error(STRAND_AVRO_ERR_JSON, &e, err);
    }
    int rc = strand_avro_encode_json(codec, value, flags, out, out_len, err);
    json_decref(value);
    return rc;
}

int strand_avro_validate_value(const strand_avro_codec_t *codec, avro_value_t *value,
                               strand_avro_error_t *err)
{
    sd_err_t e = {0};
    return avro_value__public_error(avro_value__encode_value(codec, value, 0, NULL, &e), &e, err);
}

int strand_avro_encode_value(const strand_avro_codec_t *codec, avro_value_t *value, unsigned flags,
                             uint8_t **out, size_t *len, strand_avro_error_t *err)
{
    sd_err_t e = {0};
    sd_writer_t w;
    sd_writer_init(&w);
    *out = NULL;
    *len = 0;
    int rc = avro_value__encode_value(codec, value, flags, &w, &e);
    if (!rc)
        rc = steal(&w, out, len, &e);
    sd_writer_free(&w);
    return avro_value__public_error(rc, &e, err);
}
