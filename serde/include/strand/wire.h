/*
 * strand/wire.h - Confluent's wire format: the schema-id framing in front of
 * a Kafka record's key or value, and the schema-id record headers.
 *
 *   classic prefix:  0x00 | id (int32, big-endian)     | [indexes] | payload
 *   GUID prefix:     0x01 | GUID (16 bytes, RFC 4122)  | [indexes] | payload
 *   headers `__key_schema_id` / `__value_schema_id`: one of the two prefixes
 *   above without the payload, which then travels unframed in the record.
 *
 * [indexes] is present for Protobuf only: the message-index path as a count
 * then each index, all as Kafka's zig-zag varints; the path [0] (the first
 * top-level message) is written as the single byte 0x00, and a count of 0
 * reads back as [0]. A null Kafka value is a tombstone: no framing at all.
 *
 * Nothing here allocates. Decoded payloads point into the caller's buffer
 * (borrowed for as long as that buffer lives).
 */
#ifndef STRAND_WIRE_H
#define STRAND_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRAND_WIRE_MAGIC_ID 0x00
#define STRAND_WIRE_MAGIC_GUID 0x01
#define STRAND_WIRE_KEY_SCHEMA_ID_HEADER "__key_schema_id"
#define STRAND_WIRE_VALUE_SCHEMA_ID_HEADER "__value_schema_id"

/* Deepest message-index path accepted (nesting depth of Protobuf message
 * declarations); a longer declared path is an error, checked before use. */
#define STRAND_WIRE_MAX_INDEXES 64
/* Longest prefix the encoder can write: magic, GUID, count and 64 indexes. */
#define STRAND_WIRE_PREFIX_MAX (1 + 16 + 5 * (1 + STRAND_WIRE_MAX_INDEXES))
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus its NUL. */
#define STRAND_WIRE_GUID_TEXT_SIZE 37

#define STRAND_WIRE_ERROR_MAX 512

typedef struct strand_wire_error {
    int code;                            /* 0, or a negative code below */
    char message[STRAND_WIRE_ERROR_MAX]; /* says what is wrong, with sizes and bytes */
} strand_wire_error_t;

enum {
    STRAND_WIRE_ERR_TRUNCATED = -2, /* input ends inside the framing */
    STRAND_WIRE_ERR_INVALID = -3,   /* malformed varint, trailing bytes, bad GUID text */
    STRAND_WIRE_ERR_MAGIC = -200,   /* first byte is neither 0 nor 1 */
    STRAND_WIRE_ERR_INDEXES = -201, /* message-index path too long or negative */
    STRAND_WIRE_ERR_SPACE = -202,   /* the output buffer is too small */
};

typedef enum strand_wire_id_kind {
    STRAND_WIRE_NONE = 0, /* a tombstone (null value): no schema, no payload */
    STRAND_WIRE_ID = 1,   /* magic 0: a 32-bit schema id */
    STRAND_WIRE_GUID = 2, /* magic 1: a 16-byte schema GUID */
} strand_wire_id_kind_t;

/* Decoder flag: the framing carries a Protobuf message-index path. Confluent
 * writes one only for Protobuf, and the bytes cannot tell, so the caller (who
 * knows the deserializer's format) says so. */
#define STRAND_WIRE_PROTOBUF 0x1

typedef struct strand_wire_frame {
    strand_wire_id_kind_t kind;
    int32_t id;       /* kind == STRAND_WIRE_ID */
    uint8_t guid[16]; /* kind == STRAND_WIRE_GUID, in wire (big-endian) order */
    /* With STRAND_WIRE_PROTOBUF: the path, at least one entry ([0] when the
     * count byte was 0). Without: index_count is 0. */
    size_t index_count;
    int32_t indexes[STRAND_WIRE_MAX_INDEXES];
    /* The payload after the framing; borrowed from the decoded input. NULL
     * only for a tombstone; an empty payload is non-NULL with length 0. */
    const uint8_t *payload;
    size_t payload_len;
} strand_wire_frame_t;

/* Writes the prefix (or header value) for schema `id` into out[0..cap):
 * magic 0, the id, then, when index_count > 0, the message-index path
 * (`[0]` as the single byte 0). Returns the number of bytes written, or a
 * negative code (STRAND_WIRE_ERR_SPACE when cap is too small,
 * STRAND_WIRE_ERR_INDEXES for a negative index or a path longer than
 * STRAND_WIRE_MAX_INDEXES) with err filled (err may be NULL).
 * STRAND_WIRE_PREFIX_MAX bytes are always enough. */
int strand_wire_encode_id(int32_t id, const int32_t *indexes, size_t index_count, uint8_t *out,
                          size_t cap, strand_wire_error_t *err);
/* The same with magic 1 and a 16-byte GUID (for a header value). */
int strand_wire_encode_guid(const uint8_t guid[16], const int32_t *indexes, size_t index_count,
                            uint8_t *out, size_t cap, strand_wire_error_t *err);

/* Decodes a framed record value (magic 0 + id or magic 1 + GUID, then the
 * index path with STRAND_WIRE_PROTOBUF, then the payload). value == NULL is
 * a tombstone: returns 0 with kind STRAND_WIRE_NONE and a NULL payload.
 * Returns 0 or a negative code with err filled; *out is then unspecified. */
int strand_wire_decode(const void *value, size_t len, int flags, strand_wire_frame_t *out,
                       strand_wire_error_t *err);

/* Decodes a `__key_schema_id` / `__value_schema_id` header value: the same
 * framing, which must fill the header exactly (trailing bytes are an error).
 * The frame's payload is left NULL/0. */
int strand_wire_decode_header(const void *header, size_t len, int flags, strand_wire_frame_t *out,
                              strand_wire_error_t *err);

/* What Confluent's default (dual) deserializer does: when `header` is not
 * NULL (the record carries the schema-id header for this key or value), the
 * id comes from it and the whole value is the payload; otherwise the value's
 * own prefix is decoded. A NULL value is a tombstone either way. */
int strand_wire_decode_record(const void *value, size_t value_len, const void *header,
                              size_t header_len, int flags, strand_wire_frame_t *out,
                              strand_wire_error_t *err);

/* GUID bytes to lower-case text "8-4-4-4-12" (36 characters and a NUL). */
void strand_wire_guid_format(const uint8_t guid[16], char out[STRAND_WIRE_GUID_TEXT_SIZE]);
/* Text "8-4-4-4-12" (either case) to bytes; len is the text's length.
 * Returns 0 or STRAND_WIRE_ERR_INVALID with err filled. */
int strand_wire_guid_parse(const char *text, size_t len, uint8_t guid[16],
                           strand_wire_error_t *err);

#ifdef __cplusplus
}
#endif

#endif
