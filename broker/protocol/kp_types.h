/*
 * kp_types.h - Kafka protocol primitive types, request/response headers, the
 * decode arena and the output buffer with file splices.
 *
 * Implements the primitive types of the Kafka protocol guide (int16/int32
 * length strings and bytes, their compact uvarint forms in flexible versions,
 * arrays, uuids, tagged-field sections) on top of sd_reader_t / sd_writer_t.
 * The per-message codecs generated from the JSON specs (kp_messages.h) are
 * built from the helpers at the end of this file.
 */
#ifndef STRAND_KP_TYPES_H
#define STRAND_KP_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"

/* A borrowed view of a string: not NUL-terminated, len -1 means null (and
 * ptr is then NULL). Decoded strings point into the request buffer and are
 * valid as long as it is. */
typedef struct kp_str {
    const char *ptr;
    int32_t len;
} kp_str_t;

/* A borrowed view of bytes; len -1 means null. */
typedef struct kp_bytes {
    const uint8_t *ptr;
    int32_t len;
} kp_bytes_t;

/* The "records" type: nullable bytes holding record batches. Decoding fills
 * ptr/len as a borrowed view and sets fd = -1. For encoding, fd >= 0 means the
 * len bytes are taken from file fd at file_pos when the frame is sent (a
 * splice, see kp_out_t) and ptr is unused; fd < 0 means ptr/len are copied. */
typedef struct kp_records {
    const uint8_t *ptr;
    int32_t len;
    int fd;
    int64_t file_pos;
} kp_records_t;

typedef struct kp_uuid {
    uint8_t b[16];
} kp_uuid_t;

/* String literal as a kp_str_t (not for NULL). */
#define KP_STR(lit) ((kp_str_t){(lit), (int32_t)(sizeof(lit) - 1)})
#define KP_STR_NULL ((kp_str_t){NULL, -1})
/* View of a NUL-terminated string; NULL gives the null string. */
kp_str_t kp_str_from(const char *s);
/* True when a equals the NUL-terminated s (a null string equals nothing). */
bool kp_str_eq(kp_str_t a, const char *s);

/*
 * Bump allocator for decoded arrays (and whatever a handler builds for one
 * request). Allocations live until kp_arena_reset or kp_arena_free; nothing
 * is freed individually. Chunks come from sd_malloc. An arena refuses to grow
 * past its limit (default KP_ARENA_DEFAULT_LIMIT bytes of chunks) so a hostile
 * request cannot make the decoder allocate without bound.
 */
typedef struct kp_arena kp_arena_t;

#define KP_ARENA_DEFAULT_LIMIT ((size_t)64 << 20)

/* A new, empty arena, or NULL on OOM. Free with kp_arena_free. */
kp_arena_t *kp_arena_new(void);
/* Zeroed, 8-byte aligned memory owned by the arena; NULL on OOM or when the
 * limit would be exceeded. size 0 returns a valid unique pointer. */
void *kp_arena_alloc(kp_arena_t *a, size_t size);
/* Forgets every allocation; keeps the first chunk for reuse. */
void kp_arena_reset(kp_arena_t *a);
void kp_arena_free(kp_arena_t *a);
/* Maximum bytes of chunks the arena may hold; 0 means no limit. */
void kp_arena_set_limit(kp_arena_t *a, size_t max_bytes);

/*
 * Output buffer for one response frame: the bytes in w, plus splices saying
 * "insert len bytes of file fd from file_pos here, at buffer offset at". The
 * frame on the wire is
 *     w.buf[0, s0.at) file(s0) w.buf[s0.at, s1.at) file(s1) ... w.buf[sN.at, w.len)
 * with splices in ascending `at` order, so a sender alternates write() of
 * buffer ranges and sendfile() of file ranges. Errors are sticky: w.err for a
 * failed buffer growth, err for everything else (failed splice growth
 * SD_ERR_NOMEM, a value the encoder cannot represent SD_ERR_INVALID).
 */
typedef struct kp_splice {
    size_t at;
    int fd;
    int64_t file_pos;
    size_t len;
} kp_splice_t;

typedef struct kp_out {
    sd_writer_t w;
    kp_splice_t *splices; /* owned */
    size_t nsplices, splices_cap;
    int err;
} kp_out_t;

void kp_out_init(kp_out_t *o);
/* Empties the buffer and the splice list (keeps their memory) and clears err. */
void kp_out_reset(kp_out_t *o);
void kp_out_free(kp_out_t *o);
/* The frame's size: w.len plus the length of every splice. */
size_t kp_out_total(const kp_out_t *o);
/* 0, or the first error (w.err or err). */
int kp_out_error(const kp_out_t *o);
/* Records a splice of len bytes of fd at the current end of the buffer. */
void kp_out_splice(kp_out_t *o, int fd, int64_t file_pos, size_t len);
/* Frame helpers: kp_out_frame_begin writes a 4-byte size placeholder and
 * returns its offset; kp_out_frame_end patches it with the size of everything
 * after it, splices included. */
size_t kp_out_frame_begin(kp_out_t *o);
void kp_out_frame_end(kp_out_t *o, size_t at);

/* One API of the generated table (kp_messages.h). Versions come from the
 * request spec's validVersions; flexible_from is the first flexible version
 * or -1 when none is. */
typedef struct kp_api {
    int16_t api_key;
    const char *name;
    int16_t min_version, max_version, flexible_from;
} kp_api_t;

/* Request header (header v1 and v2; the spec is RequestHeader.json). */
typedef struct kp_request_header {
    int16_t api_key, api_version;
    int32_t correlation_id;
    kp_str_t client_id; /* borrowed from the reader's buffer; may be null */
} kp_request_header_t;

/*
 * Decodes a request header. api_key, api_version and correlation_id come
 * first in every header version; the API's flexibleVersions then decide
 * between header v1 (client_id) and v2 (client_id, then a tagged-field
 * section). client_id keeps its int16 length even in v2. An api_key not in
 * the generated table is decoded as v1 and still returns 0, so the broker can
 * answer UNSUPPORTED_VERSION. Returns 0, or -1 with r->err set.
 */
int kp_request_header_decode(sd_reader_t *r, kp_request_header_t *h);

/* Writes the response header: the correlation id, plus an empty tagged-field
 * section when the API version is flexible, except for ApiVersions whose
 * response header is always v0 (clients parse it before knowing our range). */
void kp_response_header_encode(kp_out_t *o, int16_t api_key, int16_t api_version,
                               int32_t correlation_id);

/* 1 when api_version of api_key is a flexible version (request spec's
 * flexibleVersions), 0 otherwise or for an unknown key. */
int kp_is_flexible(int16_t api_key, int16_t api_version);

/*
 * Helpers for the generated codecs (kp_messages.c); not meant for handlers.
 * Readers return 0 or -1 with r->err set (SD_ERR_TRUNCATED when a length runs
 * past the input, SD_ERR_INVALID for a malformed value, SD_ERR_NOMEM when the
 * arena refuses). `compact` selects the flexible-version encoding, `nullable`
 * whether null is allowed in this version.
 */
int kp__read_bool(sd_reader_t *r, bool *v);
int kp__read_uuid(sd_reader_t *r, kp_uuid_t *v);
int kp__read_string(sd_reader_t *r, int compact, int nullable, kp_str_t *s);
int kp__read_bytes(sd_reader_t *r, int compact, int nullable, kp_bytes_t *b);
int kp__read_records(sd_reader_t *r, int compact, int nullable, kp_records_t *rec);
/* Reads an array count, checks it against the bytes left (each element takes
 * at least min_elem_size bytes) and allocates count zeroed elements of
 * elem_size from the arena. Sets *count (-1 for null) and returns the array;
 * NULL for a null or empty array or on error (then *count is 0). */
void *kp__read_array(sd_reader_t *r, kp_arena_t *arena, int compact, int nullable,
                     size_t min_elem_size, size_t elem_size, int32_t *count);
/* Reads the header of one tagged field: its tag and a sub-reader over its
 * body (which the parent skips). */
int kp__read_tag(sd_reader_t *r, uint32_t *tag, sd_reader_t *body);
/* Reads a whole tagged-field section, skipping every field. */
int kp__skip_tagged_fields(sd_reader_t *r);

void kp__write_bool(kp_out_t *o, bool v);
void kp__write_uuid(kp_out_t *o, const kp_uuid_t *v);
void kp__write_string(kp_out_t *o, int compact, int nullable, kp_str_t s);
void kp__write_bytes(kp_out_t *o, int compact, int nullable, kp_bytes_t b);
void kp__write_records(kp_out_t *o, int compact, int nullable, const kp_records_t *rec);
/* Writes an array count (-1 = null); returns 1 when count elements follow. */
int kp__write_array_count(kp_out_t *o, int compact, int nullable, int32_t count, const void *elems);
/* A tagged field: kp__tag_begin writes the tag and returns where the body
 * starts; after the body is written, kp__tag_end inserts its size before it.
 * A tagged body must not contain a splice. */
size_t kp__tag_begin(kp_out_t *o, uint32_t tag);
void kp__tag_end(kp_out_t *o, size_t body_at);
bool kp__uuid_is_zero(const kp_uuid_t *v);
/* a equals the default: a null default is {NULL, -1}, else the literal. */
bool kp__str_is(kp_str_t a, const char *lit, int32_t lit_len);

#endif
