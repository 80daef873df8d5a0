/*
 * wire.c - Confluent's schema-id framing (SchemaId.java in Confluent's
 * schema-registry: idToBytes / guidToBytes and the message-index codec of
 * MessageIndexes.java), encoded and decoded byte for byte as Java does.
 */
#include "strand/wire.h"

#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "base/error.h"
#include "wire/wire_int.h"

/* Zig-zag a 32-bit index and write it as unsigned LEB128 (Kafka's
 * ByteUtils.writeVarint), at most 5 bytes. Returns the bytes written. */
static size_t put_varint(uint8_t *p, int32_t v)
{
    uint32_t u = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    return n;
}

/* Builds the prefix into buf (STRAND_WIRE_PREFIX_MAX bytes). */
static int encode_prefix(uint8_t magic, const uint8_t *id_bytes, size_t id_len,
                         const int32_t *indexes, size_t index_count, uint8_t *buf, size_t *len,
                         sd_err_t *err)
{
    if (index_count > STRAND_WIRE_MAX_INDEXES)
        return sd_err_set(err, STRAND_WIRE_ERR_INDEXES,
                          "message-index path of %zu entries exceeds the %d supported", index_count,
                          STRAND_WIRE_MAX_INDEXES);
    size_t n = 0;
    buf[n++] = magic;
    memcpy(buf + n, id_bytes, id_len);
    n += id_len;
    if (index_count == 1 && indexes[0] == 0) {
        /* Java writes [0], the common case, as the single byte 0. */
        buf[n++] = 0;
    } else if (index_count > 0) {
        n += put_varint(buf + n, (int32_t)index_count);
        for (size_t i = 0; i < index_count; i++) {
            if (indexes[i] < 0)
                return sd_err_set(err, STRAND_WIRE_ERR_INDEXES,
                                  "message index %zu of %zu is negative (%d)", i + 1, index_count,
                                  (int)indexes[i]);
            n += put_varint(buf + n, indexes[i]);
        }
    }
    *len = n;
    return 0;
}

static void to_public(const sd_err_t *from, strand_wire_error_t *to)
{
    if (to) {
        to->code = from->code;
        snprintf(to->message, sizeof to->message, "%s", from->msg);
    }
}

static int encode_public(uint8_t magic, const uint8_t *id_bytes, size_t id_len,
                         const int32_t *indexes, size_t index_count, uint8_t *out, size_t cap,
                         strand_wire_error_t *err)
{
    uint8_t buf[STRAND_WIRE_PREFIX_MAX];
    size_t len = 0;
    sd_err_t e = {0};
    if (encode_prefix(magic, id_bytes, id_len, indexes, index_count, buf, &len, &e) != 0) {
        to_public(&e, err);
        return e.code;
    }
    if (len > cap) {
        sd_err_set(&e, STRAND_WIRE_ERR_SPACE,
                   "the %zu-byte Confluent prefix does not fit in a %zu-byte buffer", len, cap);
        to_public(&e, err);
        return e.code;
    }
    memcpy(out, buf, len);
    return (int)len;
}

int strand_wire_encode_id(int32_t id, const int32_t *indexes, size_t index_count, uint8_t *out,
                          size_t cap, strand_wire_error_t *err)
{
    uint8_t id_bytes[4];
    sd_put_be32(id_bytes, (uint32_t)id);
    return encode_public(STRAND_WIRE_MAGIC_ID, id_bytes, 4, indexes, index_count, out, cap, err);
}

int strand_wire_encode_guid(const uint8_t guid[16], const int32_t *indexes, size_t index_count,
                            uint8_t *out, size_t cap, strand_wire_error_t *err)
{
    return encode_public(STRAND_WIRE_MAGIC_GUID, guid, 16, indexes, index_count, out, cap, err);
}

int wire__write_id(sd_writer_t *w, int32_t id, const int32_t *indexes, size_t index_count,
                   sd_err_t *err)
{
    uint8_t id_bytes[4], buf[STRAND_WIRE_PREFIX_MAX];
    size_t len = 0;
    sd_put_be32(id_bytes, (uint32_t)id);
    int rc = encode_prefix(STRAND_WIRE_MAGIC_ID, id_bytes, 4, indexes, index_count, buf, &len, err);
    if (rc != 0)
        return rc;
    sd_write_bytes(w, buf, len);
    if (w->err)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory writing the Confluent prefix");
    return 0;
}

int wire__write_guid(sd_writer_t *w, const uint8_t guid[16], const int32_t *indexes,
                     size_t index_count, sd_err_t *err)
{
    uint8_t buf[STRAND_WIRE_PREFIX_MAX];
    size_t len = 0;
    int rc = encode_prefix(STRAND_WIRE_MAGIC_GUID, guid, 16, indexes, index_count, buf, &len, err);
    if (rc != 0)
        return rc;
    sd_write_bytes(w, buf, len);
    if (w->err)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory writing the Confluent prefix");
    return 0;
}

/*
 * The framing, from the first byte of the value (or of the header value):
 *
 *   offset  size  field
 *   0       1     magic: 0 (schema id) or 1 (schema GUID)
 *   1       4     magic 0: schema id, int32 big-endian
 *   1       16    magic 1: GUID, most- then least-significant long, big-endian
 *   5 / 17  1-5   Protobuf only: zig-zag varint count of message indexes;
 *                 0 means the path [0]
 *   ...     1-5   each   zig-zag varint message index (count of them)
 *   ...     rest  the payload (none in a header value)
 */
static int read_frame(sd_reader_t *r, int flags, const char *what, strand_wire_frame_t *out,
                      sd_err_t *err)
{
    memset(out, 0, offsetof(strand_wire_frame_t, indexes));
    out->payload = NULL;
    out->payload_len = 0;
    uint8_t magic;
    if (sd_read_u8(r, &magic) != 0)
        return sd_err_set(err, STRAND_WIRE_ERR_TRUNCATED,
                          "%s of 0 bytes has no Confluent header (a magic byte and a schema id)",
                          what);
    size_t header_size;
    if (magic == STRAND_WIRE_MAGIC_ID) {
        out->kind = STRAND_WIRE_ID;
        header_size = 5;
        if (sd_read_i32(r, &out->id) != 0)
            return sd_err_set(err, STRAND_WIRE_ERR_TRUNCATED,
                              "%s of %zu bytes is too short for the 5-byte Confluent header", what,
                              r->len);
    } else if (magic == STRAND_WIRE_MAGIC_GUID) {
        out->kind = STRAND_WIRE_GUID;
        header_size = 17;
        const uint8_t *guid;
        if (sd_read_bytes(r, 16, &guid) != 0)
            return sd_err_set(err, STRAND_WIRE_ERR_TRUNCATED,
                              "%s of %zu bytes is too short for the 17-byte Confluent GUID header",
                              what, r->len);
        memcpy(out->guid, guid, 16);
    } else {
        return sd_err_set(err, STRAND_WIRE_ERR_MAGIC, "unknown magic byte 0x%02x (expected 0 or 1)",
                          magic);
    }

    if (!(flags & STRAND_WIRE_PROTOBUF))
        return 0;
    int32_t count;
    if (sd_read_varint(r, &count) != 0) {
        if (r->err == SD_ERR_TRUNCATED)
            return sd_err_set(err, STRAND_WIRE_ERR_TRUNCATED,
                              "%s of %zu bytes ends inside the message-index count after the "
                              "%zu-byte header",
                              what, r->len, header_size);
        return sd_err_set(err, STRAND_WIRE_ERR_INVALID,
                          "the message-index count at offset %zu is not a valid varint",
                          header_size);
    }
    if (count == 0) {
        out->index_count = 1;
        out->indexes[0] = 0;
        return 0;
    }
    if (count < 0)
        return sd_err_set(err, STRAND_WIRE_ERR_INDEXES, "message-index count %d is negative",
                          (int)count);
    if (count > STRAND_WIRE_MAX_INDEXES)
        return sd_err_set(err, STRAND_WIRE_ERR_INDEXES,
                          "message-index count %d exceeds the %d supported", (int)count,
                          STRAND_WIRE_MAX_INDEXES);
    if ((size_t)count > sd_reader_left(r))
        return sd_err_set(err, STRAND_WIRE_ERR_TRUNCATED,
                          "message-index count %d needs at least %d bytes but %s of %zu bytes "
                          "has %zu left",
                          (int)count, (int)count, what, r->len, sd_reader_left(r));
    for (int32_t i = 0; i < count; i++) {
        int32_t index;
        if (sd_read_varint(r, &index) != 0) {
            if (r->err == SD_ERR_TRUNCATED)
                return sd_err_set(err, STRAND_WIRE_ERR_TRUNCATED,
                                  "%s of %zu bytes ends inside message index %d of %d", what,
                                  r->len, (int)i + 1, (int)count);
            return sd_err_set(err, STRAND_WIRE_ERR_INVALID,
                              "message index %d of %d is not a valid varint", (int)i + 1,
                              (int)count);
        }
        if (index < 0)
            return sd_err_set(err, STRAND_WIRE_ERR_INDEXES,
                              "message index %d of %d is negative (%d)", (int)i + 1, (int)count,
                              (int)index);
        out->indexes[i] = index;
    }
    out->index_count = (size_t)count;
    return 0;
}

static void set_tombstone(strand_wire_frame_t *out)
{
    memset(out, 0, offsetof(strand_wire_frame_t, indexes));
    out->kind = STRAND_WIRE_NONE;
    out->payload = NULL;
    out->payload_len = 0;
}

int wire__decode(const void *value, size_t len, int flags, strand_wire_frame_t *out, sd_err_t *err)
{
    if (!value) {
        set_tombstone(out);
        return 0;
    }
    sd_reader_t r;
    sd_reader_init(&r, value, len);
    int rc = read_frame(&r, flags, "value", out, err);
    if (rc != 0)
        return rc;
    out->payload = r.base + r.pos;
    out->payload_len = sd_reader_left(&r);
    return 0;
}

static int decode_header(const void *header, size_t len, int flags, strand_wire_frame_t *out,
                         sd_err_t *err)
{
    sd_reader_t r;
    sd_reader_init(&r, header, len);
    int rc = read_frame(&r, flags, "schema-id header value", out, err);
    if (rc != 0)
        return rc;
    if (sd_reader_left(&r) != 0)
        return sd_err_set(err, STRAND_WIRE_ERR_INVALID,
                          "schema-id header value of %zu bytes has %zu bytes after the schema id%s",
                          len, sd_reader_left(&r),
                          (flags & STRAND_WIRE_PROTOBUF) ? " and message indexes" : "");
    return 0;
}

int strand_wire_decode(const void *value, size_t len, int flags, strand_wire_frame_t *out,
                       strand_wire_error_t *err)
{
    sd_err_t e = {0};
    int rc = wire__decode(value, len, flags, out, &e);
    if (rc != 0)
        to_public(&e, err);
    return rc;
}

int strand_wire_decode_header(const void *header, size_t len, int flags, strand_wire_frame_t *out,
                              strand_wire_error_t *err)
{
    sd_err_t e = {0};
    int rc = header ? decode_header(header, len, flags, out, &e)
                    : sd_err_set(&e, STRAND_WIRE_ERR_TRUNCATED,
                                 "null schema-id header value has no Confluent header");
    if (rc != 0)
        to_public(&e, err);
    return rc;
}

int strand_wire_decode_record(const void *value, size_t value_len, const void *header,
                              size_t header_len, int flags, strand_wire_frame_t *out,
                              strand_wire_error_t *err)
{
    sd_err_t e = {0};
    int rc;
    if (!value) {
        set_tombstone(out);
        rc = 0;
    } else if (header) {
        rc = decode_header(header, header_len, flags, out, &e);
        if (rc == 0) {
            out->payload = value;
            out->payload_len = value_len;
        }
    } else {
        rc = wire__decode(value, value_len, flags, out, &e);
    }
    if (rc != 0)
        to_public(&e, err);
    return rc;
}

void strand_wire_guid_format(const uint8_t guid[16], char out[STRAND_WIRE_GUID_TEXT_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[guid[i] >> 4];
        out[n++] = hex[guid[i] & 0xf];
    }
    out[n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int strand_wire_guid_parse(const char *text, size_t len, uint8_t guid[16], strand_wire_error_t *err)
{
    sd_err_t e = {0};
    if (!text || len != 36) {
        sd_err_set(&e, STRAND_WIRE_ERR_INVALID,
                   "GUID text of %zu characters is not the 36-character 8-4-4-4-12 form",
                   text ? len : 0);
        to_public(&e, err);
        return e.code;
    }
    size_t pos = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (text[pos] != '-') {
                sd_err_set(&e, STRAND_WIRE_ERR_INVALID,
                           "GUID text has '%c' at offset %zu where a '-' belongs", text[pos], pos);
                to_public(&e, err);
                return e.code;
            }
            pos++;
        }
        int hi = hex_value(text[pos]), lo = hex_value(text[pos + 1]);
        if (hi < 0 || lo < 0) {
            size_t bad = hi < 0 ? pos : pos + 1;
            sd_err_set(&e, STRAND_WIRE_ERR_INVALID,
                       "GUID text has a non-hex character 0x%02x at offset %zu",
                       (unsigned char)text[bad], bad);
            to_public(&e, err);
            return e.code;
        }
        guid[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    return 0;
}
