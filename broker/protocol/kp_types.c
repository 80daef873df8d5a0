/*
 * kp_types.c - Kafka protocol primitive types, headers, the decode arena and
 * the output buffer with splices (see kp_types.h). The encodings follow the
 * "Protocol Primitive Types" section of the Kafka protocol guide and the
 * RequestHeader / ResponseHeader message specs.
 */
#include "protocol/kp_types.h"

#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "protocol/kp_messages.h"

/* ---- strings ------------------------------------------------------------ */

kp_str_t kp_str_from(const char *s)
{
    if (!s)
        return KP_STR_NULL;
    size_t n = strlen(s);
    return (kp_str_t){s, n > INT32_MAX ? INT32_MAX : (int32_t)n};
}

bool kp_str_eq(kp_str_t a, const char *s)
{
    if (a.len < 0 || !s)
        return false;
    size_t n = strlen(s);
    return (size_t)a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

/* ---- arena -------------------------------------------------------------- */

/* Chunks form a list whose head is the chunk being bumped. Allocations
 * bigger than a regular chunk get a chunk of their own, linked behind the
 * head so the head's free space stays usable. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap; /* bytes of data after the header */
    size_t used;
    uint64_t data[]; /* 8-byte aligned */
} arena_chunk_t;

struct kp_arena {
    arena_chunk_t *head;
    size_t total; /* bytes of all chunks, headers included */
    size_t limit; /* 0 = none */
};

enum {
    ARENA_FIRST_CHUNK = 4096,
    ARENA_MAX_CHUNK = 1 << 20,
    ARENA_KEEP_MAX = 256 << 10, /* reset keeps one chunk up to this size */
};

kp_arena_t *kp_arena_new(void)
{
    kp_arena_t *a = sd_calloc(1, sizeof *a);
    if (a)
        a->limit = KP_ARENA_DEFAULT_LIMIT;
    return a;
}

void kp_arena_set_limit(kp_arena_t *a, size_t max_bytes) { a->limit = max_bytes; }

static arena_chunk_t *chunk_new(kp_arena_t *a, size_t cap)
{
    size_t bytes = sizeof(arena_chunk_t) + cap;
    if (a->limit && (bytes > a->limit || a->total > a->limit - bytes))
        return NULL;
    arena_chunk_t *c = sd_malloc(bytes);
    if (!c)
        return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    a->total += bytes;
    return c;
}

void *kp_arena_alloc(kp_arena_t *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + 7) & ~(size_t)7;
    if (size == 0)
        size = 8;
    arena_chunk_t *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t regular = c ? c->cap * 2 : ARENA_FIRST_CHUNK;
        if (regular > ARENA_MAX_CHUNK)
            regular = ARENA_MAX_CHUNK;
        if (size > regular / 2 && c) {
            /* Big: a chunk of its own behind the head. */
            arena_chunk_t *big = chunk_new(a, size);
            if (!big)
                return NULL;
            big->next = c->next;
            c->next = big;
            c = big;
        } else {
            c = chunk_new(a, size > regular ? size : regular);
            if (!c)
                return NULL;
            c->next = a->head;
            a->head = c;
        }
    }
    uint8_t *p = (uint8_t *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

void kp_arena_reset(kp_arena_t *a)
{
    arena_chunk_t *keep = NULL;
    arena_chunk_t *c = a->head;
    a->total = 0;
    while (c) {
        arena_chunk_t *next = c->next;
        if (!keep && c->cap <= ARENA_KEEP_MAX) {
            keep = c;
            keep->used = 0;
            keep->next = NULL;
            a->total = sizeof(arena_chunk_t) + c->cap;
        } else {
            sd_free(c);
        }
        c = next;
    }
    a->head = keep;
}

void kp_arena_free(kp_arena_t *a)
{
    if (!a)
        return;
    arena_chunk_t *c = a->head;
    while (c) {
        arena_chunk_t *next = c->next;
        sd_free(c);
        c = next;
    }
    sd_free(a);
}

/* ---- output buffer ------------------------------------------------------ */

void kp_out_init(kp_out_t *o)
{
    memset(o, 0, sizeof *o);
    sd_writer_init(&o->w);
}

void kp_out_reset(kp_out_t *o)
{
    sd_writer_reset(&o->w);
    o->nsplices = 0;
    o->err = 0;
}

void kp_out_free(kp_out_t *o)
{
    sd_writer_free(&o->w);
    sd_free(o->splices);
    memset(o, 0, sizeof *o);
}

size_t kp_out_total(const kp_out_t *o)
{
    size_t total = o->w.len;
    for (size_t i = 0; i < o->nsplices; i++)
        total += o->splices[i].len;
    return total;
}

int kp_out_error(const kp_out_t *o) { return o->w.err ? o->w.err : o->err; }

void kp_out_splice(kp_out_t *o, int fd, int64_t file_pos, size_t len)
{
    if (o->err || o->w.err)
        return;
    if (len == 0)
        return;
    if (o->nsplices == o->splices_cap) {
        size_t cap = o->splices_cap ? o->splices_cap * 2 : 8;
        kp_splice_t *grown = sd_realloc(o->splices, cap * sizeof *grown);
        if (!grown) {
            o->err = SD_ERR_NOMEM;
            return;
        }
        o->splices = grown;
        o->splices_cap = cap;
    }
    o->splices[o->nsplices++] = (kp_splice_t){o->w.len, fd, file_pos, len};
}

size_t kp_out_frame_begin(kp_out_t *o) { return sd_writer_placeholder_i32(&o->w); }

void kp_out_frame_end(kp_out_t *o, size_t at)
{
    size_t after = kp_out_total(o) - at - 4;
    if (after > INT32_MAX) {
        o->err = SD_ERR_TOO_LARGE;
        return;
    }
    sd_writer_patch_i32(&o->w, at, (int32_t)after);
}

/* ---- headers ------------------------------------------------------------ */

int kp_is_flexible(int16_t api_key, int16_t api_version)
{
    const kp_api_t *api = kp_api_find(api_key);
    return api && api->flexible_from >= 0 && api_version >= api->flexible_from;
}

/*
 * Request header layout (RequestHeader.json):
 *   offset size
 *   0      2    request_api_key
 *   2      2    request_api_version
 *   4      4    correlation_id
 *   8      2+n  client_id, int16 length, -1 = null   (v1+; never compact)
 *   ...         tagged fields                         (v2 only)
 */
int kp_request_header_decode(sd_reader_t *r, kp_request_header_t *h)
{
    memset(h, 0, sizeof *h);
    h->client_id = KP_STR_NULL;
    sd_read_i16(r, &h->api_key);
    sd_read_i16(r, &h->api_version);
    sd_read_i32(r, &h->correlation_id);
    if (r->err)
        return -1;
    if (kp__read_string(r, 0, 1, &h->client_id))
        return -1;
    if (kp_is_flexible(h->api_key, h->api_version) && kp__skip_tagged_fields(r))
        return -1;
    return 0;
}

void kp_response_header_encode(kp_out_t *o, int16_t api_key, int16_t api_version,
                               int32_t correlation_id)
{
    sd_write_i32(&o->w, correlation_id);
    if (api_key != 18 && kp_is_flexible(api_key, api_version))
        sd_write_uvarint(&o->w, 0);
}

/* ---- readers for the generated codecs ----------------------------------- */

static int fail(sd_reader_t *r, int code)
{
    if (!r->err)
        r->err = code;
    return -1;
}

int kp__read_bool(sd_reader_t *r, bool *v)
{
    uint8_t b;
    if (sd_read_u8(r, &b))
        return -1;
    *v = b != 0;
    return 0;
}

int kp__read_uuid(sd_reader_t *r, kp_uuid_t *v)
{
    const uint8_t *p;
    if (sd_read_bytes(r, sizeof v->b, &p))
        return -1;
    memcpy(v->b, p, sizeof v->b);
    return 0;
}

/* Reads a length prefix: compact is uvarint length+1 (0 = null); otherwise a
 * big-endian int16 or int32 (wide) with -1 = null. Sets *len (-1 for null)
 * after checking it is not negative otherwise and fits in the bytes left. */
static int read_length(sd_reader_t *r, int compact, int wide, int nullable, int32_t *len)
{
    int64_t n;
    if (compact) {
        uint32_t u;
        if (sd_read_uvarint(r, &u))
            return -1;
        n = (int64_t)u - 1;
    } else if (wide) {
        int32_t v;
        if (sd_read_i32(r, &v))
            return -1;
        n = v;
    } else {
        int16_t v;
        if (sd_read_i16(r, &v))
            return -1;
        n = v;
    }
    if (n == -1) {
        if (!nullable)
            return fail(r, SD_ERR_INVALID);
        *len = -1;
        return 0;
    }
    if (n < -1 || n > INT32_MAX)
        return fail(r, SD_ERR_INVALID);
    if ((uint64_t)n > sd_reader_left(r))
        return fail(r, SD_ERR_TRUNCATED);
    *len = (int32_t)n;
    return 0;
}

int kp__read_string(sd_reader_t *r, int compact, int nullable, kp_str_t *s)
{
    int32_t len;
    const uint8_t *p = NULL;
    if (read_length(r, compact, 0, nullable, &len))
        return -1;
    if (len >= 0 && sd_read_bytes(r, (size_t)len, &p))
        return -1;
    s->ptr = (const char *)p;
    s->len = len;
    return 0;
}

int kp__read_bytes(sd_reader_t *r, int compact, int nullable, kp_bytes_t *b)
{
    int32_t len;
    const uint8_t *p = NULL;
    if (read_length(r, compact, 1, nullable, &len))
        return -1;
    if (len >= 0 && sd_read_bytes(r, (size_t)len, &p))
        return -1;
    b->ptr = p;
    b->len = len;
    return 0;
}

int kp__read_records(sd_reader_t *r, int compact, int nullable, kp_records_t *rec)
{
    kp_bytes_t b;
    rec->fd = -1;
    rec->file_pos = 0;
    if (kp__read_bytes(r, compact, nullable, &b))
        return -1;
    rec->ptr = b.ptr;
    rec->len = b.len;
    return 0;
}

void *kp__read_array(sd_reader_t *r, kp_arena_t *arena, int compact, int nullable,
                     size_t min_elem_size, size_t elem_size, int32_t *count)
{
    int64_t n;
    *count = 0;
    if (compact) {
        uint32_t u;
        if (sd_read_uvarint(r, &u))
            return NULL;
        n = (int64_t)u - 1;
    } else {
        int32_t v;
        if (sd_read_i32(r, &v))
            return NULL;
        n = v;
    }
    if (n == -1) {
        if (!nullable) {
            fail(r, SD_ERR_INVALID);
            return NULL;
        }
        *count = -1;
        return NULL;
    }
    if (n < -1 || n > INT32_MAX) {
        fail(r, SD_ERR_INVALID);
        return NULL;
    }
    if (n == 0)
        return NULL;
    if (min_elem_size == 0)
        min_elem_size = 1;
    if ((uint64_t)n > sd_reader_left(r) / min_elem_size) {
        fail(r, SD_ERR_TRUNCATED);
        return NULL;
    }
    if (elem_size && (uint64_t)n > SIZE_MAX / elem_size) {
        fail(r, SD_ERR_NOMEM);
        return NULL;
    }
    void *elems = kp_arena_alloc(arena, (size_t)n * elem_size);
    if (!elems) {
        fail(r, SD_ERR_NOMEM);
        return NULL;
    }
    *count = (int32_t)n;
    return elems;
}

/*
 * Tagged-field section (flexible versions):
 *   uvarint  number of fields
 *   then per field: uvarint tag, uvarint size, size bytes of body
 * Each field needs at least two bytes, so a hostile count ends at the input's
 * end rather than looping.
 */
int kp__read_tag(sd_reader_t *r, uint32_t *tag, sd_reader_t *body)
{
    uint32_t size;
    if (sd_read_uvarint(r, tag) || sd_read_uvarint(r, &size))
        return -1;
    return sd_reader_sub(r, size, body);
}

int kp__skip_tagged_fields(sd_reader_t *r)
{
    uint32_t n;
    if (sd_read_uvarint(r, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tag;
        sd_reader_t body;
        if (kp__read_tag(r, &tag, &body))
            return -1;
    }
    return 0;
}

/* ---- writers for the generated codecs ----------------------------------- */

static void invalid(kp_out_t *o)
{
    if (!o->err)
        o->err = SD_ERR_INVALID;
}

void kp__write_bool(kp_out_t *o, bool v) { sd_write_u8(&o->w, v ? 1 : 0); }

void kp__write_uuid(kp_out_t *o, const kp_uuid_t *v) { sd_write_bytes(&o->w, v->b, sizeof v->b); }

/* Writes a length prefix (see read_length); returns 1 when len bytes of
 * content should follow, 0 for null or on error. */
static int write_length(kp_out_t *o, int compact, int wide, int nullable, int32_t len,
                        const void *ptr)
{
    if (len < -1 || (len > 0 && !ptr) || (len == -1 && !nullable) ||
        (!compact && !wide && len > INT16_MAX)) {
        invalid(o);
        return 0;
    }
    if (compact)
        sd_write_uvarint(&o->w, (uint32_t)len + 1);
    else if (wide)
        sd_write_i32(&o->w, len);
    else
        sd_write_i16(&o->w, (int16_t)len);
    return len > 0;
}

void kp__write_string(kp_out_t *o, int compact, int nullable, kp_str_t s)
{
    if (write_length(o, compact, 0, nullable, s.len, s.ptr))
        sd_write_bytes(&o->w, s.ptr, (size_t)s.len);
}

void kp__write_bytes(kp_out_t *o, int compact, int nullable, kp_bytes_t b)
{
    if (write_length(o, compact, 1, nullable, b.len, b.ptr))
        sd_write_bytes(&o->w, b.ptr, (size_t)b.len);
}

void kp__write_records(kp_out_t *o, int compact, int nullable, const kp_records_t *rec)
{
    if (rec->fd >= 0) {
        if (rec->len < -1 || (rec->len == -1 && !nullable)) {
            invalid(o);
            return;
        }
        /* The prefix goes in the buffer, the bytes come from the file. */
        write_length(o, compact, 1, nullable, rec->len, rec);
        if (rec->len > 0)
            kp_out_splice(o, rec->fd, rec->file_pos, (size_t)rec->len);
        return;
    }
    if (write_length(o, compact, 1, nullable, rec->len, rec->ptr))
        sd_write_bytes(&o->w, rec->ptr, (size_t)rec->len);
}

int kp__write_array_count(kp_out_t *o, int compact, int nullable, int32_t count, const void *elems)
{
    if (count < -1 || (count > 0 && !elems) || (count == -1 && !nullable)) {
        invalid(o);
        return 0;
    }
    if (compact)
        sd_write_uvarint(&o->w, (uint32_t)count + 1);
    else
        sd_write_i32(&o->w, count);
    return count > 0;
}

size_t kp__tag_begin(kp_out_t *o, uint32_t tag)
{
    sd_write_uvarint(&o->w, tag);
    return o->w.len;
}

/* The body's size is known only once it is written: it is moved forward by
 * the size's varint length and the size written in front of it. */
void kp__tag_end(kp_out_t *o, size_t body_at)
{
    if (o->w.err)
        return;
    if (o->nsplices && o->splices[o->nsplices - 1].at >= body_at) {
        invalid(o);
        return;
    }
    size_t body_len = o->w.len - body_at;
    if (body_len > UINT32_MAX) {
        invalid(o);
        return;
    }
    uint8_t prefix[5];
    size_t n = 0;
    uint32_t v = (uint32_t)body_len;
    while (v >= 0x80) {
        prefix[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    prefix[n++] = (uint8_t)v;
    if (sd_writer_reserve(&o->w, n))
        return;
    memmove(o->w.buf + body_at + n, o->w.buf + body_at, body_len);
    memcpy(o->w.buf + body_at, prefix, n);
    o->w.len += n;
}

bool kp__uuid_is_zero(const kp_uuid_t *v)
{
    for (size_t i = 0; i < sizeof v->b; i++)
        if (v->b[i])
            return false;
    return true;
}

bool kp__str_is(kp_str_t a, const char *lit, int32_t lit_len)
{
    if (!lit)
        return a.len < 0;
    return a.len == lit_len && (lit_len == 0 || memcmp(a.ptr, lit, (size_t)lit_len) == 0);
}
