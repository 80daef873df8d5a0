/*
 * bytes.c - bounds-checked reader and growable writer (see bytes.h).
 */
#include "base/bytes.h"

#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

void sd_reader_init(sd_reader_t *r, const void *base, size_t len)
{
    r->base = base;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}

int sd_read_u16(sd_reader_t *r, uint16_t *v)
{
    const uint8_t *p = sd__take(r, 2);
    if (!p)
        return -1;
    *v = sd_be16(p);
    return 0;
}

int sd_read_i16(sd_reader_t *r, int16_t *v)
{
    uint16_t u;
    if (sd_read_u16(r, &u))
        return -1;
    *v = (int16_t)u;
    return 0;
}

int sd_read_u32(sd_reader_t *r, uint32_t *v)
{
    const uint8_t *p = sd__take(r, 4);
    if (!p)
        return -1;
    *v = sd_be32(p);
    return 0;
}

int sd_read_i32(sd_reader_t *r, int32_t *v)
{
    uint32_t u;
    if (sd_read_u32(r, &u))
        return -1;
    *v = (int32_t)u;
    return 0;
}

int sd_read_i64(sd_reader_t *r, int64_t *v)
{
    const uint8_t *p = sd__take(r, 8);
    if (!p)
        return -1;
    *v = (int64_t)sd_be64(p);
    return 0;
}

int sd_read_f64(sd_reader_t *r, double *v)
{
    const uint8_t *p = sd__take(r, 8);
    if (!p)
        return -1;
    uint64_t bits = sd_be64(p);
    memcpy(v, &bits, sizeof *v);
    return 0;
}

int sd_skip(sd_reader_t *r, size_t n) { return sd__take(r, n) ? 0 : -1; }

int sd_reader_sub(sd_reader_t *r, size_t n, sd_reader_t *sub)
{
    const uint8_t *p = sd__take(r, n);
    if (!p)
        return -1;
    sd_reader_init(sub, p, n);
    return 0;
}

void sd_writer_init(sd_writer_t *w) { memset(w, 0, sizeof *w); }

void sd_writer_free(sd_writer_t *w)
{
    sd_free(w->buf);
    memset(w, 0, sizeof *w);
}

void sd_writer_reset(sd_writer_t *w)
{
    w->len = 0;
    w->err = 0;
}

int sd_writer_reserve(sd_writer_t *w, size_t n)
{
    if (w->err)
        return -1;
    if (n <= w->cap - w->len)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2) {
            w->err = SD_ERR_NOMEM;
            return -1;
        }
        cap *= 2;
    }
    uint8_t *grown = sd_realloc(w->buf, cap);
    if (!grown) {
        w->err = SD_ERR_NOMEM;
        return -1;
    }
    w->buf = grown;
    w->cap = cap;
    return 0;
}

uint8_t *sd_writer_steal(sd_writer_t *w, size_t *len)
{
    uint8_t *buf = w->buf;
    if (len)
        *len = w->len;
    sd_writer_init(w);
    return buf;
}

void sd_write_bytes(sd_writer_t *w, const void *p, size_t n)
{
    if (n == 0 || sd_writer_reserve(w, n))
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void sd_write_u8(sd_writer_t *w, uint8_t v) { sd_write_bytes(w, &v, 1); }
void sd_write_i8(sd_writer_t *w, int8_t v) { sd_write_u8(w, (uint8_t)v); }

void sd_write_i16(sd_writer_t *w, int16_t v)
{
    uint8_t b[2];
    sd_put_be16(b, (uint16_t)v);
    sd_write_bytes(w, b, 2);
}

void sd_write_u32(sd_writer_t *w, uint32_t v)
{
    uint8_t b[4];
    sd_put_be32(b, v);
    sd_write_bytes(w, b, 4);
}

void sd_write_i32(sd_writer_t *w, int32_t v) { sd_write_u32(w, (uint32_t)v); }

void sd_write_i64(sd_writer_t *w, int64_t v)
{
    uint8_t b[8];
    sd_put_be64(b, (uint64_t)v);
    sd_write_bytes(w, b, 8);
}

void sd_write_f64(sd_writer_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t b[8];
    sd_put_be64(b, bits);
    sd_write_bytes(w, b, 8);
}

void sd_write_uvarint64(sd_writer_t *w, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    sd_write_bytes(w, b, n);
}

void sd_write_uvarint(sd_writer_t *w, uint32_t v) { sd_write_uvarint64(w, v); }

void sd_write_varint(sd_writer_t *w, int32_t v)
{
    sd_write_uvarint(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void sd_write_varlong(sd_writer_t *w, int64_t v)
{
    sd_write_uvarint64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t sd_writer_placeholder_i32(sd_writer_t *w)
{
    size_t offset = w->len;
    sd_write_i32(w, 0);
    return offset;
}

void sd_writer_patch_u32(sd_writer_t *w, size_t offset, uint32_t v)
{
    if (w->err || offset + 4 > w->len)
        return;
    sd_put_be32(w->buf + offset, v);
}

void sd_writer_patch_i32(sd_writer_t *w, size_t offset, int32_t v)
{
    sd_writer_patch_u32(w, offset, (uint32_t)v);
}
