/*
 * bytes.h - the one bounds-checked reader and the one growable writer.
 *
 * Every decoder in Strand (Kafka frames, record batches, the wire-format
 * header, ...) reads through sd_reader_t: each read checks the bytes left and
 * on failure sets r->err (sticky) and returns -1, so a decoder may do a run of
 * reads and test r->err once. Integers are big-endian (network order) unless
 * the name says varint. Varints follow protobuf: unsigned LEB128, and the
 * signed forms are zig-zag encoded (Kafka's varint/varlong).
 *
 * sd_writer_t grows on demand; a failed allocation sets w->err (sticky) and
 * later writes do nothing, so an encoder checks w->err once at the end.
 * Length fields whose value is known only later are reserved and patched.
 */
#ifndef STRAND_BASE_BYTES_H
#define STRAND_BASE_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct sd_reader {
    const uint8_t *base; /* borrowed */
    size_t len;
    size_t pos;
    int err; /* 0, or SD_ERR_TRUNCATED / SD_ERR_INVALID once a read failed */
} sd_reader_t;

void sd_reader_init(sd_reader_t *r, const void *base, size_t len);
static inline size_t sd_reader_left(const sd_reader_t *r) { return r->len - r->pos; }

int sd_read_i16(sd_reader_t *r, int16_t *v);
int sd_read_u16(sd_reader_t *r, uint16_t *v);
int sd_read_i32(sd_reader_t *r, int32_t *v);
int sd_read_u32(sd_reader_t *r, uint32_t *v);
int sd_read_i64(sd_reader_t *r, int64_t *v);
int sd_read_f64(sd_reader_t *r, double *v);
/* Unsigned LEB128 (at most 5 bytes for 32 bits / 10 for 64) and the zig-zag
 * signed forms (Kafka varint / varlong), plus single bytes and borrowed
 * byte runs, are defined inline below: record parsing calls them for every
 * field of every record. */
static inline int sd_read_u8(sd_reader_t *r, uint8_t *v);
static inline int sd_read_i8(sd_reader_t *r, int8_t *v);
static inline int sd_read_uvarint(sd_reader_t *r, uint32_t *v);
static inline int sd_read_uvarint64(sd_reader_t *r, uint64_t *v);
static inline int sd_read_varint(sd_reader_t *r, int32_t *v);
static inline int sd_read_varlong(sd_reader_t *r, int64_t *v);
/* Borrow n bytes: *out points into the reader's buffer. */
static inline int sd_read_bytes(sd_reader_t *r, size_t n, const uint8_t **out);
int sd_skip(sd_reader_t *r, size_t n);
/* A sub-reader over the next n bytes, which the parent skips. */
int sd_reader_sub(sd_reader_t *r, size_t n, sd_reader_t *sub);

typedef struct sd_writer {
    uint8_t *buf; /* owned; sd_writer_free releases it */
    size_t len;
    size_t cap;
    int err; /* 0, or SD_ERR_NOMEM once a growth failed */
} sd_writer_t;

void sd_writer_init(sd_writer_t *w);
void sd_writer_free(sd_writer_t *w);
void sd_writer_reset(sd_writer_t *w); /* len = 0, keeps the buffer */
/* Ensures room for n more bytes; returns 0 or -1 (and sets w->err). */
int sd_writer_reserve(sd_writer_t *w, size_t n);
/* Hands the buffer to the caller (free with sd_free); the writer is reset. */
uint8_t *sd_writer_steal(sd_writer_t *w, size_t *len);

void sd_write_i8(sd_writer_t *w, int8_t v);
void sd_write_u8(sd_writer_t *w, uint8_t v);
void sd_write_i16(sd_writer_t *w, int16_t v);
void sd_write_i32(sd_writer_t *w, int32_t v);
void sd_write_u32(sd_writer_t *w, uint32_t v);
void sd_write_i64(sd_writer_t *w, int64_t v);
void sd_write_f64(sd_writer_t *w, double v);
void sd_write_uvarint(sd_writer_t *w, uint32_t v);
void sd_write_uvarint64(sd_writer_t *w, uint64_t v);
void sd_write_varint(sd_writer_t *w, int32_t v);
void sd_write_varlong(sd_writer_t *w, int64_t v);
void sd_write_bytes(sd_writer_t *w, const void *p, size_t n);
/* Reserves a 4-byte field and returns its offset, for sd_writer_patch_i32. */
size_t sd_writer_placeholder_i32(sd_writer_t *w);
void sd_writer_patch_i32(sd_writer_t *w, size_t offset, int32_t v);
void sd_writer_patch_u32(sd_writer_t *w, size_t offset, uint32_t v);

/* Unaligned big-endian helpers for fixed layouts. */
static inline uint32_t sd_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint16_t sd_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint64_t sd_be64(const uint8_t *p)
{
    return ((uint64_t)sd_be32(p) << 32) | sd_be32(p + 4);
}
static inline void sd_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sd_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sd_put_be64(uint8_t *p, uint64_t v)
{
    sd_put_be32(p, (uint32_t)(v >> 32));
    sd_put_be32(p + 4, (uint32_t)v);
}

/* ---- inline readers (see the declarations above) ------------------------ */

/* The next n bytes, advancing; NULL (and err set) when they are not there. */
static inline const uint8_t *sd__take(sd_reader_t *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > r->len - r->pos) {
        r->err = SD_ERR_TRUNCATED;
        return NULL;
    }
    const uint8_t *p = r->base + r->pos;
    r->pos += n;
    return p;
}

static inline int sd_read_u8(sd_reader_t *r, uint8_t *v)
{
    const uint8_t *p = sd__take(r, 1);
    if (!p)
        return -1;
    *v = p[0];
    return 0;
}

static inline int sd_read_i8(sd_reader_t *r, int8_t *v)
{
    uint8_t u;
    if (sd_read_u8(r, &u))
        return -1;
    *v = (int8_t)u;
    return 0;
}

static inline int sd_read_uvarint64(sd_reader_t *r, uint64_t *v)
{
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        uint8_t byte;
        if (sd_read_u8(r, &byte))
            return -1;
        if (shift == 63 && byte > 1) {
            r->err = SD_ERR_INVALID;
            return -1;
        }
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = value;
            return 0;
        }
    }
    r->err = SD_ERR_INVALID;
    return -1;
}

static inline int sd_read_uvarint(sd_reader_t *r, uint32_t *v)
{
    /* One byte is the common case (small lengths and deltas). */
    if (!r->err && r->pos < r->len && r->base[r->pos] < 0x80) {
        *v = r->base[r->pos++];
        return 0;
    }
    uint32_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        uint8_t byte;
        if (sd_read_u8(r, &byte))
            return -1;
        if (shift == 28 && byte > 0x0f) {
            r->err = SD_ERR_INVALID;
            return -1;
        }
        value |= (uint32_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = value;
            return 0;
        }
    }
    r->err = SD_ERR_INVALID;
    return -1;
}

static inline int sd_read_varint(sd_reader_t *r, int32_t *v)
{
    uint32_t u;
    if (sd_read_uvarint(r, &u))
        return -1;
    *v = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
    return 0;
}

static inline int sd_read_varlong(sd_reader_t *r, int64_t *v)
{
    uint64_t u;
    if (sd_read_uvarint64(r, &u))
        return -1;
    *v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return 0;
}

static inline int sd_read_bytes(sd_reader_t *r, size_t n, const uint8_t **out)
{
    const uint8_t *p = sd__take(r, n);
    if (!p)
        return -1;
    *out = p;
    return 0;
}

#endif
