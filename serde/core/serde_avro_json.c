/*
 * serde_avro_json.c - the serializer's fast path from JSON text (Avro's JSON
 * encoding) straight to Avro binary, driven by the schema, with no JSON
 * tree in between: parsing the text into jansson values costs several times
 * what validating and encoding them does.
 *
 * It handles the common shapes only and gives up ("bail") on anything else:
 * a missing field (defaults), an unknown or repeated member, "NaN" and the
 * infinities, integers out of range, escapes in member names, control
 * characters, invalid UTF-8, maps of more than MAP_MAX entries, nesting
 * deeper than DEPTH_MAX, and every error. The caller then runs the full
 * path (jansson and avro_value.c) on the same text, which produces the same
 * bytes or the error message naming the field, so the fast path never has
 * to explain anything. Its output must equal the full path's byte for byte;
 * the fuzz target and test_serde check that.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_model.h"
#include "avro/avro_value_int.h"
#include "base/bytes.h"
#include "core/serde_int.h"

#define DEPTH_MAX 64
#define MAP_MAX 64
#define FIELDS_MAX 256

typedef struct parser {
    const char *p;
    const char *end;
    sd_writer_t *w;
    sd_writer_t scratch; /* decoded strings with escapes */
} parser_t;

/* Every function returns 0, or BAIL to hand the text to the full path. */
#define BAIL 1

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int expect(parser_t *ps, char c)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != c)
        return BAIL;
    ps->p++;
    return 0;
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return BAIL;
    }
    *out = v;
    return 0;
}

static void put_utf8(sd_writer_t *w, uint32_t cp)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80)
        b[0] = (uint8_t)cp, n = 1;
    else if (cp < 0x800)
        b[0] = (uint8_t)(0xc0 | (cp >> 6)), b[1] = (uint8_t)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        b[0] = (uint8_t)(0xe0 | (cp >> 12)), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)),
        b[2] = (uint8_t)(0x80 | (cp & 0x3f)), n = 3;
    else
        b[0] = (uint8_t)(0xf0 | (cp >> 18)), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f)),
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (uint8_t)(0x80 | (cp & 0x3f)), n = 4;
    sd_write_bytes(w, b, n);
}

/* A JSON string: (*s, *len) is its UTF-8 text, borrowed from the input when it
 * has no escapes, else from the scratch writer (valid until the next
 * string). raw_only: give up on escapes (member names). */
static int string(parser_t *ps, const char **s, size_t *len, int raw_only)
{
    if (expect(ps, '"'))
        return BAIL;
    const char *start = ps->p;
    int escaped = 0, high = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20)
            return BAIL;
        if (c >= 0x80)
            high = 1;
        if (c == '\\') {
            escaped = 1;
            ps->p++;
            if (ps->p >= ps->end)
                return BAIL;
        }
        ps->p++;
    }
    if (ps->p >= ps->end)
        return BAIL;
    const char *stop = ps->p++;
    if (high && !avro_value__utf8_valid((const uint8_t *)start, (size_t)(stop - start)))
        return BAIL;
    if (!escaped) {
        *s = start;
        *len = (size_t)(stop - start);
        return 0;
    }
    if (raw_only)
        return BAIL;
    sd_writer_reset(&ps->scratch);
    for (const char *q = start; q < stop; q++) {
        if (*q != '\\') {
            sd_write_u8(&ps->scratch, (uint8_t)*q);
            continue;
        }
        q++;
        switch (*q) {
        case '"': sd_write_u8(&ps->scratch, '"'); break;
        case '\\': sd_write_u8(&ps->scratch, '\\'); break;
        case '/': sd_write_u8(&ps->scratch, '/'); break;
        case 'b': sd_write_u8(&ps->scratch, '\b'); break;
        case 'f': sd_write_u8(&ps->scratch, '\f'); break;
        case 'n': sd_write_u8(&ps->scratch, '\n'); break;
        case 'r': sd_write_u8(&ps->scratch, '\r'); break;
        case 't': sd_write_u8(&ps->scratch, '\t'); break;
        case 'u': {
            uint32_t cp, low;
            if (stop - q < 5 || hex4(q + 1, &cp))
                return BAIL;
            q += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return BAIL; /* a lone low surrogate */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (stop - q < 7 || q[1] != '\\' || q[2] != 'u' || hex4(q + 3, &low) ||
                    low < 0xdc00 || low > 0xdfff)
                    return BAIL;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                q += 6;
            }
            put_utf8(&ps->scratch, cp);
            break;
        }
        default: return BAIL;
        }
    }
    if (ps->scratch.err)
        return BAIL;
    *s = (const char *)ps->scratch.buf;
    *len = ps->scratch.len;
    return 0;
}

/* A JSON number token: is_integer when it has no fraction or exponent. */
static int number(parser_t *ps, const char **start, size_t *len, int *is_integer)
{
    skip_ws(ps);
    const char *p = ps->p, *s = p;
    if (p < ps->end && *p == '-')
        p++;
    if (p >= ps->end || *p < '0' || *p > '9')
        return BAIL;
    if (*p == '0')
        p++;
    else
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    *is_integer = 1;
    if (p < ps->end && *p == '.') {
        *is_integer = 0;
        p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            return BAIL;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        *is_integer = 0;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || *p < '0' || *p > '9')
            return BAIL;
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if ((size_t)(p - s) >= 64)
        return BAIL;
    *start = s;
    *len = (size_t)(p - s);
    ps->p = p;
    return 0;
}

static int integer(parser_t *ps, long long *v)
{
    const char *s;
    size_t len;
    int is_integer;
    if (number(ps, &s, &len, &is_integer) || !is_integer)
        return BAIL;
    char buf[64];
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    *v = strtoll(buf, NULL, 10);
    return errno ? BAIL : 0;
}

/* As jansson reads numbers: integers exactly, then converted; reals by
 * strtod, an overflow being an error. */
static int real(parser_t *ps, double *d)
{
    const char *s;
    size_t len;
    int is_integer;
    if (number(ps, &s, &len, &is_integer))
        return BAIL;
    char buf[64];
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    if (is_integer) {
        long long v = strtoll(buf, NULL, 10);
        if (errno)
            return BAIL;
        *d = (double)v;
        return 0;
    }
    *d = strtod(buf, NULL);
    return (errno == ERANGE && isinf(*d)) ? BAIL : 0;
}

static int literal(parser_t *ps, const char *word)
{
    skip_ws(ps);
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return BAIL;
    ps->p += n;
    return 0;
}

/* Skips one JSON value (checking its syntax). */
static int skip_value(parser_t *ps, int depth)
{
    if (depth > DEPTH_MAX)
        return BAIL;
    skip_ws(ps);
    if (ps->p >= ps->end)
        return BAIL;
    const char *s;
    size_t len;
    int is_integer;
    switch (*ps->p) {
    case '"': return string(ps, &s, &len, 0);
    case 't': return literal(ps, "true");
    case 'f': return literal(ps, "false");
    case 'n': return literal(ps, "null");
    case '[':
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return 0;
        }
        for (;;) {
            if (skip_value(ps, depth + 1))
                return BAIL;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            return expect(ps, ']');
        }
    case '{':
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return 0;
        }
        for (;;) {
            if (string(ps, &s, &len, 0) || expect(ps, ':') || skip_value(ps, depth + 1))
                return BAIL;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            return expect(ps, '}');
        }
    default: return number(ps, &s, &len, &is_integer);
    }
}

/* The number of items of the array or members of the object at ps->p
 * (which is left where it was). */
static int count_items(parser_t *ps, char close, size_t *count, int depth)
{
    parser_t probe = *ps;
    *count = 0;
    probe.p++; /* the opening bracket */
    skip_ws(&probe);
    if (probe.p < probe.end && *probe.p == close)
        return 0;
    for (;;) {
        const char *s;
        size_t len;
        if (close == '}' && (string(&probe, &s, &len, 0) || expect(&probe, ':')))
            return BAIL;
        if (skip_value(&probe, depth + 1))
            return BAIL;
        (*count)++;
        skip_ws(&probe);
        if (probe.p < probe.end && *probe.p == ',') {
            probe.p++;
            continue;
        }
        return expect(&probe, close);
    }
}

static int value(parser_t *ps, const sd_avro_node_t *n, int depth);

/* Whether field i of record n (i may be past the last) is named key. */
static int field_is(const sd_avro_node_t *n, size_t i, const char *key, size_t len)
{
    if (i >= n->u.record.field_count)
        return 0;
    const char *name = n->u.record.fields[i].name;
    return strncmp(name, key, len) == 0 && name[len] == '\0';
}

static int record(parser_t *ps, const sd_avro_node_t *n, int depth)
{
    size_t count = n->u.record.field_count;
    if (count > FIELDS_MAX)
        return BAIL;
    const char *at[FIELDS_MAX]; /* where each field's value starts */
    memset(at, 0, count * sizeof at[0]);
    if (expect(ps, '{'))
        return BAIL;
    skip_ws(ps);
    size_t seen = 0, hint = 0;
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        for (;;) {
            const char *key;
            size_t len;
            if (string(ps, &key, &len, 1) || expect(ps, ':'))
                return BAIL;
            /* Members usually come in the schema's order: try the next
             * field first. */
            size_t i = hint;
            if (!field_is(n, i, key, len))
                for (i = 0; i < count && !field_is(n, i, key, len); i++)
                    ;
            hint = i + 1;
            if (i == count || at[i])
                return BAIL; /* unknown or repeated */
            skip_ws(ps);
            at[i] = ps->p;
            seen++;
            if (skip_value(ps, depth + 1))
                return BAIL;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (expect(ps, '}'))
                return BAIL;
            break;
        }
    }
    if (seen != count)
        return BAIL; /* a missing field: its default is the full path's business */
    const char *after = ps->p;
    for (size_t i = 0; i < count; i++) {
        ps->p = at[i];
        if (value(ps, n->u.record.fields[i].type, depth + 1))
            return BAIL;
    }
    ps->p = after;
    return 0;
}

/* {"<branch>": value} or null. */
static int union_value(parser_t *ps, const sd_avro_node_t *n, int depth)
{
    size_t count = n->u.un.branch_count;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == 'n') {
        if (literal(ps, "null"))
            return BAIL;
        for (size_t i = 0; i < count; i++)
            if (sd_avro_deref(n->u.un.branches[i])->kind == SD_AVRO_NULL) {
                sd_write_varlong(ps->w, (int64_t)i);
                return 0;
            }
        return BAIL;
    }
    const char *key;
    size_t len;
    if (expect(ps, '{') || string(ps, &key, &len, 1) || expect(ps, ':'))
        return BAIL;
    for (size_t i = 0; i < count; i++) {
        const sd_avro_node_t *b = sd_avro_deref(n->u.un.branches[i]);
        const char *label = b->fullname ? b->fullname : sd_avro_kind_name(b->kind);
        if (b->kind != SD_AVRO_NULL && strncmp(label, key, len) == 0 && label[len] == '\0') {
            sd_write_varlong(ps->w, (int64_t)i);
            if (value(ps, b, depth + 1))
                return BAIL;
            return expect(ps, '}');
        }
    }
    return BAIL;
}

/* ISO-8859-1 bytes of a string's code points; BAIL above U+00FF. */
static int latin1(parser_t *ps, const char *s, size_t len, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80)
            i++;
        else if ((c == 0xc2 || c == 0xc3) && i + 1 < len)
            i += 2;
        else
            return BAIL;
    }
    *count = n;
    return 0;
}

static void put_latin1(sd_writer_t *w, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            sd_write_u8(w, c);
            i++;
        } else {
            sd_write_u8(w, (uint8_t)(((c & 0x03) << 6) | ((unsigned char)s[i + 1] & 0x3f)));
            i += 2;
        }
    }
}

static int value(parser_t *ps, const sd_avro_node_t *n, int depth)
{
    if (depth > DEPTH_MAX)
        return BAIL;
    n = sd_avro_deref(n);
    sd_writer_t *w = ps->w;
    const char *s;
    size_t len, count;
    long long i;
    double d;
    switch (n->kind) {
    case SD_AVRO_NULL: return literal(ps, "null");
    case SD_AVRO_BOOLEAN:
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == 't' && !literal(ps, "true")) {
            sd_write_u8(w, 1);
            return 0;
        }
        if (literal(ps, "false"))
            return BAIL;
        sd_write_u8(w, 0);
        return 0;
    case SD_AVRO_INT:
        if (integer(ps, &i) || i < INT32_MIN || i > INT32_MAX)
            return BAIL;
        sd_write_varint(w, (int32_t)i);
        return 0;
    case SD_AVRO_LONG:
        if (integer(ps, &i))
            return BAIL;
        sd_write_varlong(w, (int64_t)i);
        return 0;
    case SD_AVRO_FLOAT:
    case SD_AVRO_DOUBLE: {
        if (real(ps, &d))
            return BAIL;
        uint8_t b[8];
        if (n->kind == SD_AVRO_FLOAT) {
            float f = (float)d;
            uint32_t u;
            memcpy(&u, &f, 4);
            sd_put_be32(b, __builtin_bswap32(u)); /* little-endian */
            sd_write_bytes(w, b, 4);
        } else {
            uint64_t u;
            memcpy(&u, &d, 8);
            sd_put_be64(b, __builtin_bswap64(u));
            sd_write_bytes(w, b, 8);
        }
        return 0;
    }
    case SD_AVRO_STRING:
        if (string(ps, &s, &len, 0))
            return BAIL;
        sd_write_varlong(w, (int64_t)len);
        sd_write_bytes(w, s, len);
        return 0;
    case SD_AVRO_BYTES:
    case SD_AVRO_FIXED:
        if (string(ps, &s, &len, 0) || latin1(ps, s, len, &count))
            return BAIL;
        if (n->kind == SD_AVRO_FIXED && count != n->u.fixed.size)
            return BAIL;
        if (n->kind == SD_AVRO_BYTES)
            sd_write_varlong(w, (int64_t)count);
        put_latin1(w, s, len);
        return 0;
    case SD_AVRO_ENUM: {
        if (string(ps, &s, &len, 1))
            return BAIL;
        for (size_t k = 0; k < n->u.enm.symbol_count; k++)
            if (strncmp(n->u.enm.symbols[k], s, len) == 0 && n->u.enm.symbols[k][len] == '\0') {
                sd_write_varint(w, (int32_t)k);
                return 0;
            }
        return BAIL;
    }
    case SD_AVRO_ARRAY:
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '[' || count_items(ps, ']', &count, depth))
            return BAIL;
        ps->p++;
        if (count)
            sd_write_varlong(w, (int64_t)count);
        for (size_t k = 0; k < count; k++) {
            if (k && expect(ps, ','))
                return BAIL;
            if (value(ps, n->u.array.items, depth + 1))
                return BAIL;
        }
        sd_write_u8(w, 0);
        return expect(ps, ']');
    case SD_AVRO_MAP: {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '{' || count_items(ps, '}', &count, depth) ||
            count > MAP_MAX)
            return BAIL;
        ps->p++;
        const char *keys[MAP_MAX];
        size_t key_lens[MAP_MAX];
        if (count)
            sd_write_varlong(w, (int64_t)count);
        for (size_t k = 0; k < count; k++) {
            if (k && expect(ps, ','))
                return BAIL;
            if (string(ps, &keys[k], &key_lens[k], 1) || expect(ps, ':'))
                return BAIL;
            for (size_t m = 0; m < k; m++) /* a repeated key: jansson keeps one */
                if (key_lens[m] == key_lens[k] && memcmp(keys[m], keys[k], key_lens[k]) == 0)
                    return BAIL;
            sd_write_varlong(w, (int64_t)key_lens[k]);
            sd_write_bytes(w, keys[k], key_lens[k]);
            if (value(ps, n->u.map.values, depth + 1))
                return BAIL;
        }
        sd_write_u8(w, 0);
        return expect(ps, '}');
    }
    case SD_AVRO_RECORD: return record(ps, n, depth);
    case SD_AVRO_UNION: return union_value(ps, n, depth);
    default: return BAIL;
    }
}

int serde__avro_json_fast(const strand_avro_codec_t *codec, const char *text, size_t len,
                          sd_writer_t *w)
{
    parser_t ps = {.p = text, .end = text + len, .w = w};
    sd_writer_init(&ps.scratch);
    size_t mark = w->len;
    const sd_avro_node_t *root =
        sd_avro_deref(sd_avro_schema_root(strand_avro_codec_schema(codec)));
    int rc;
    if (root->kind == SD_AVRO_BYTES) {
        /* Confluent's raw top-level bytes: no length prefix. */
        const char *s;
        size_t n, count;
        rc = string(&ps, &s, &n, 0) || latin1(&ps, s, n, &count);
        if (!rc)
            put_latin1(w, s, n);
    } else {
        rc = value(&ps, root, 0);
    }
    skip_ws(&ps);
    if (!rc && ps.p != ps.end)
        rc = BAIL; /* trailing text */
    if (w->err) {
        /* Out of memory: let the full path report it. */
        rc = BAIL;
        w->err = 0;
    }
    if (rc)
        w->len = mark;
    sd_writer_free(&ps.scratch);
    return rc;
}
