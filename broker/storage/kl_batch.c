/*
 * kl_batch.c - record batch v2: header decoding, validation, in-place edits,
 * record iteration and building (see kl_batch.h for the layout table).
 * Spec: Kafka's docs/implementation.html, "Record Batch" and "Record".
 */
#include "storage/kl_batch.h"
#include "storage/kl_codec.h"

#include <inttypes.h>
#include <string.h>

#include "base/crc32c.h"

void kl_batch_header_decode(const uint8_t *p, kl_batch_header_t *h)
{
    h->base_offset = (int64_t)sd_be64(p + KL_BATCH_OFF_BASE_OFFSET);
    h->batch_length = (int32_t)sd_be32(p + KL_BATCH_OFF_LENGTH);
    h->partition_leader_epoch = (int32_t)sd_be32(p + KL_BATCH_OFF_LEADER_EPOCH);
    h->magic = (int8_t)p[KL_BATCH_OFF_MAGIC];
    h->crc = sd_be32(p + KL_BATCH_OFF_CRC);
    h->attributes = (int16_t)sd_be16(p + KL_BATCH_OFF_ATTRIBUTES);
    h->last_offset_delta = (int32_t)sd_be32(p + KL_BATCH_OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = (int64_t)sd_be64(p + KL_BATCH_OFF_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)sd_be64(p + KL_BATCH_OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)sd_be64(p + KL_BATCH_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)sd_be16(p + KL_BATCH_OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)sd_be32(p + KL_BATCH_OFF_BASE_SEQUENCE);
    h->records_count = (int32_t)sd_be32(p + KL_BATCH_OFF_RECORDS_COUNT);
}

uint32_t kl_batch_compute_crc(const uint8_t *batch, size_t size)
{
    return sd_crc32c(0, batch + KL_BATCH_OFF_ATTRIBUTES, size - KL_BATCH_OFF_ATTRIBUTES);
}

/* The checks that need the records of an uncompressed client batch: they
 * parse, fill the batch exactly, and their offset deltas run 0..count-1 as
 * every producer writes them (consumers compute offsets from those deltas). */
static int validate_records(const uint8_t *batch, size_t size, const kl_batch_header_t *h,
                            sd_err_t *err)
{
    kl_record_iter_t it;
    kl_record_iter_init(&it, batch, size);
    kl_record_t rec;
    int32_t index = 0;
    int rc;
    while ((rc = kl_record_iter_next(&it, &rec, NULL)) == 1) {
        if (rec.offset_delta != index)
            return sd_err_set(err, KL_ERR_INVALID_RECORD,
                              "record %" PRId32 " of the batch has offsetDelta %" PRId32, index,
                              rec.offset_delta);
        index++;
    }
    if (rc < 0)
        return sd_err_set(err, KL_ERR_CORRUPT,
                          "record %" PRId32 " of the batch is malformed or the records do not "
                          "fill the batch (recordsCount %" PRId32 ")",
                          index, h->records_count);
    return 0;
}

int kl_batch_validate(const uint8_t *buf, size_t len, int flags, int32_t max_bytes,
                      kl_batch_header_t *h, sd_err_t *err)
{
    if (len <= KL_BATCH_OFF_MAGIC)
        return sd_err_set(err, KL_ERR_CORRUPT, "record batch truncated: %zu bytes", len);
    /* Byte 16 is the magic in every message format, so an old-format
     * message set is told apart before its layout is read as v2. */
    if (buf[KL_BATCH_OFF_MAGIC] != KL_BATCH_MAGIC_V2)
        return sd_err_set(err, KL_ERR_UNSUPPORTED_MAGIC,
                          "record batch magic %d, only magic 2 is supported",
                          (int8_t)buf[KL_BATCH_OFF_MAGIC]);
    if (len < KL_BATCH_HEADER_SIZE)
        return sd_err_set(err, KL_ERR_CORRUPT,
                          "record batch truncated: %zu bytes, the header needs %d", len,
                          KL_BATCH_HEADER_SIZE);
    kl_batch_header_decode(buf, h);
    if (h->batch_length < KL_BATCH_HEADER_SIZE - KL_BATCH_LOG_OVERHEAD)
        return sd_err_set(err, KL_ERR_CORRUPT, "record batch batchLength %" PRId32 " below %d",
                          h->batch_length, KL_BATCH_HEADER_SIZE - KL_BATCH_LOG_OVERHEAD);
    int64_t size = kl_batch_total_size(h);
    if ((uint64_t)size > len)
        return sd_err_set(err, KL_ERR_CORRUPT,
                          "record batch batchLength %" PRId32 " runs past the end (%zu bytes)",
                          h->batch_length, len);
    if ((flags & KL_BATCH_FROM_CLIENT) && max_bytes > 0 && size > max_bytes)
        return sd_err_set(err, KL_ERR_TOO_LARGE,
                          "record batch of %" PRId64 " bytes exceeds max.message.bytes %" PRId32,
                          size, max_bytes);
    uint32_t crc = kl_batch_compute_crc(buf, (size_t)size);
    if (crc != h->crc)
        return sd_err_set(err, KL_ERR_CORRUPT,
                          "record batch CRC mismatch: stored 0x%08" PRIx32
                          ", computed 0x%08" PRIx32,
                          h->crc, crc);
    if (!(flags & KL_BATCH_FROM_CLIENT))
        return 0;
    if (h->attributes & KL_ATTR_CONTROL)
        return sd_err_set(err, KL_ERR_INVALID_RECORD,
                          "control batches may not be produced by clients");
    int codec = h->attributes & KL_ATTR_CODEC_MASK;
    if (codec > 4)
        return sd_err_set(err, KL_ERR_CORRUPT, "record batch has unknown compression codec %d",
                          codec);
    if (h->records_count < 1)
        return sd_err_set(err, KL_ERR_INVALID_RECORD, "record batch recordsCount %" PRId32,
                          h->records_count);
    /* Producers number a batch's records 0..count-1, compressed or not. */
    if (h->last_offset_delta != h->records_count - 1)
        return sd_err_set(err, KL_ERR_INVALID_RECORD,
                          "record batch lastOffsetDelta %" PRId32
                          " does not match recordsCount %" PRId32,
                          h->last_offset_delta, h->records_count);
    /* A compressed batch's records are one block the broker does not open
     * on the hot path; its count is taken as declared. */
    if (codec == 0)
        return validate_records(buf, (size_t)size, h, err);
    return 0;
}

void kl_batch_iter_init(kl_batch_iter_t *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = len;
    it->pos = 0;
}

int kl_batch_iter_next(kl_batch_iter_t *it, const uint8_t **batch, size_t *size)
{
    size_t left = it->len - it->pos;
    if (left == 0)
        return 0;
    if (left < KL_BATCH_HEADER_SIZE)
        return KL_ERR_CORRUPT;
    const uint8_t *p = it->buf + it->pos;
    int32_t batch_length = (int32_t)sd_be32(p + KL_BATCH_OFF_LENGTH);
    if (batch_length < KL_BATCH_HEADER_SIZE - KL_BATCH_LOG_OVERHEAD ||
        (uint64_t)batch_length + KL_BATCH_LOG_OVERHEAD > left)
        return KL_ERR_CORRUPT;
    *batch = p;
    *size = (size_t)batch_length + KL_BATCH_LOG_OVERHEAD;
    it->pos += *size;
    return 1;
}

void kl_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    sd_put_be64(batch + KL_BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void kl_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t now_ms)
{
    uint16_t attributes = sd_be16(batch + KL_BATCH_OFF_ATTRIBUTES);
    sd_put_be16(batch + KL_BATCH_OFF_ATTRIBUTES, (uint16_t)(attributes | KL_ATTR_LOG_APPEND_TIME));
    sd_put_be64(batch + KL_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)now_ms);
    sd_put_be32(batch + KL_BATCH_OFF_CRC, kl_batch_compute_crc(batch, size));
}

int kl_record_iter_init(kl_record_iter_t *it, const uint8_t *batch, size_t size)
{
    kl_batch_header_t h;
    kl_batch_header_decode(batch, &h);
    sd_reader_init(&it->records, batch + KL_BATCH_HEADER_SIZE, size - KL_BATCH_HEADER_SIZE);
    it->remaining = h.records_count > 0 ? h.records_count : 0;
    it->base_timestamp = h.base_timestamp;
    if (h.attributes & KL_ATTR_CODEC_MASK) {
        it->remaining = 0;
        return KL_ERR_INVALID_RECORD;
    }
    return 0;
}

int kl_record_iter_open(kl_record_iter_t *it, const uint8_t *batch, size_t size,
                        size_t max_decompressed, sd_writer_t *scratch, sd_err_t *err)
{
    kl_batch_header_t h;
    kl_batch_header_decode(batch, &h);
    int codec = h.attributes & KL_ATTR_CODEC_MASK;
    if (codec == KL_CODEC_NONE)
        return kl_record_iter_init(it, batch, size);
    sd_writer_reset(scratch);
    it->remaining = 0;
    int rc = kl_codec_decompress(codec, batch + KL_BATCH_HEADER_SIZE, size - KL_BATCH_HEADER_SIZE,
                                 max_decompressed, scratch, err);
    if (rc)
        return rc;
    sd_reader_init(&it->records, scratch->buf, scratch->len);
    it->remaining = h.records_count > 0 ? h.records_count : 0;
    it->base_timestamp = h.base_timestamp;
    return 0;
}

/* Reads a varint length that may be -1 (null) and the bytes it covers. */
static int read_nullable_bytes(sd_reader_t *r, const uint8_t **p, int32_t *len)
{
    if (sd_read_varint(r, len) || *len < -1)
        return -1;
    *p = NULL;
    if (*len >= 0 && sd_read_bytes(r, (size_t)*len, p))
        return -1;
    return 0;
}

int kl_record_header_next(sd_reader_t *headers, kl_header_t *h)
{
    if (sd_reader_left(headers) == 0 && !headers->err)
        return 0;
    if (read_nullable_bytes(headers, &h->key, &h->key_len) || h->key_len < 0 ||
        read_nullable_bytes(headers, &h->value, &h->value_len))
        return KL_ERR_CORRUPT;
    return 1;
}

/*
 * Record layout (varints are zig-zag):
 *   length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint | key | valueLength varint | value |
 *   headerCount varint | [headerKeyLength varint | key | headerValueLength varint | value]
 * length covers everything after itself.
 */
int kl_record_iter_next(kl_record_iter_t *it, kl_record_t *rec, sd_reader_t *headers)
{
    if (it->remaining == 0)
        return sd_reader_left(&it->records) == 0 && !it->records.err ? 0 : KL_ERR_CORRUPT;
    int32_t length;
    sd_reader_t body;
    if (sd_read_varint(&it->records, &length) || length < 0 ||
        sd_reader_sub(&it->records, (size_t)length, &body))
        return KL_ERR_CORRUPT;
    int64_t timestamp_delta;
    if (sd_read_i8(&body, &rec->attributes) || sd_read_varlong(&body, &timestamp_delta) ||
        sd_read_varint(&body, &rec->offset_delta) ||
        read_nullable_bytes(&body, &rec->key, &rec->key_len) ||
        read_nullable_bytes(&body, &rec->value, &rec->value_len) ||
        sd_read_varint(&body, &rec->header_count) || rec->header_count < 0)
        return KL_ERR_CORRUPT;
    /* The header section is the rest of the record: it must hold exactly
     * header_count headers. */
    sd_reader_t section = body;
    section.base += section.pos;
    section.len -= section.pos;
    section.pos = 0;
    sd_reader_t check = section;
    kl_header_t h;
    for (int32_t i = 0; i < rec->header_count; i++)
        if (kl_record_header_next(&check, &h) != 1)
            return KL_ERR_CORRUPT;
    if (sd_reader_left(&check) != 0)
        return KL_ERR_CORRUPT;
    if (headers)
        *headers = section;
    rec->headers = NULL;
    /* Wrapping addition: the delta is whatever the producer wrote. */
    rec->timestamp = (int64_t)((uint64_t)it->base_timestamp + (uint64_t)timestamp_delta);
    it->remaining--;
    return 1;
}

void kl_batch_params_init(kl_batch_params_t *params)
{
    memset(params, 0, sizeof *params);
    params->partition_leader_epoch = -1;
    params->producer_id = -1;
    params->producer_epoch = -1;
    params->base_sequence = -1;
    params->base_timestamp = -1;
}

static size_t uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}
static size_t varint_size(int32_t v)
{
    return uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}
static size_t varlong_size(int64_t v)
{
    return uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static size_t nullable_size(int32_t len) { return varint_size(len) + (len > 0 ? (size_t)len : 0); }

/* Size of a record after its length varint, or 0 when arguments are bad. */
static size_t record_body_size(const kl_record_t *rec, int64_t timestamp_delta,
                               int32_t offset_delta)
{
    if (rec->key_len < -1 || rec->value_len < -1 || rec->header_count < 0 ||
        (rec->header_count > 0 && !rec->headers) || (rec->key_len > 0 && !rec->key) ||
        (rec->value_len > 0 && !rec->value))
        return 0;
    uint64_t size = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta) +
                    nullable_size(rec->key_len) + nullable_size(rec->value_len) +
                    varint_size(rec->header_count);
    for (int32_t i = 0; i < rec->header_count; i++) {
        const kl_header_t *h = &rec->headers[i];
        if (h->key_len < 0 || h->value_len < -1 || (h->key_len > 0 && !h->key) ||
            (h->value_len > 0 && !h->value))
            return 0;
        size += nullable_size(h->key_len) + nullable_size(h->value_len);
    }
    return size > INT32_MAX ? 0 : (size_t)size;
}

static void write_nullable(sd_writer_t *w, const uint8_t *p, int32_t len)
{
    sd_write_varint(w, len);
    if (len > 0)
        sd_write_bytes(w, p, (size_t)len);
}

int kl_batch_build(sd_writer_t *w, const kl_batch_params_t *params, const kl_record_t *records,
                   size_t count, sd_err_t *err)
{
    kl_batch_params_t defaults;
    if (!params) {
        kl_batch_params_init(&defaults);
        params = &defaults;
    }
    if (params->attributes & KL_ATTR_CODEC_MASK)
        return sd_err_set(err, KL_ERR_INVALID_RECORD, "kl_batch_build does not compress");
    if (count > INT32_MAX)
        return sd_err_set(err, KL_ERR_INVALID_RECORD, "too many records for one batch: %zu", count);
    int32_t last_offset_delta = (int32_t)count - 1;
    if (params->keep_offset_deltas) {
        last_offset_delta = params->last_offset_delta;
        if (last_offset_delta < 0 || last_offset_delta < (int32_t)count - 1)
            return sd_err_set(err, KL_ERR_INVALID_RECORD,
                              "lastOffsetDelta %" PRId32 " for %zu records", last_offset_delta,
                              count);
    } else if (count == 0) {
        return sd_err_set(err, KL_ERR_INVALID_RECORD, "an empty batch needs keep_offset_deltas");
    }
    int64_t base_timestamp = params->base_timestamp;
    int64_t max_timestamp = params->base_timestamp;
    if (count > 0) {
        if (!(params->attributes & KL_ATTR_DELETE_HORIZON))
            base_timestamp = records[0].timestamp;
        max_timestamp = records[0].timestamp;
        for (size_t i = 1; i < count; i++)
            if (records[i].timestamp > max_timestamp)
                max_timestamp = records[i].timestamp;
    }

    size_t start = w->len;
    sd_write_i64(w, params->base_offset);
    size_t length_at = sd_writer_placeholder_i32(w);
    sd_write_i32(w, params->partition_leader_epoch);
    sd_write_i8(w, KL_BATCH_MAGIC_V2);
    size_t crc_at = sd_writer_placeholder_i32(w);
    sd_write_i16(w, params->attributes);
    sd_write_i32(w, last_offset_delta);
    sd_write_i64(w, base_timestamp);
    sd_write_i64(w, max_timestamp);
    sd_write_i64(w, params->producer_id);
    sd_write_i16(w, params->producer_epoch);
    sd_write_i32(w, params->base_sequence);
    sd_write_i32(w, (int32_t)count);
    for (size_t i = 0; i < count; i++) {
        const kl_record_t *rec = &records[i];
        int64_t timestamp_delta = (int64_t)((uint64_t)rec->timestamp - (uint64_t)base_timestamp);
        int32_t offset_delta = params->keep_offset_deltas ? rec->offset_delta : (int32_t)i;
        if (params->keep_offset_deltas &&
            (offset_delta < 0 || offset_delta > last_offset_delta ||
             (i > 0 && offset_delta <= records[i - 1].offset_delta))) {
            w->len = start;
            return sd_err_set(err, KL_ERR_INVALID_RECORD,
                              "record %zu: offset delta %" PRId32 " out of order", i, offset_delta);
        }
        size_t body = record_body_size(rec, timestamp_delta, offset_delta);
        if (body == 0) {
            w->len = start;
            return sd_err_set(err, KL_ERR_INVALID_RECORD,
                              "record %zu: bad key, value or header lengths", i);
        }
        sd_write_varint(w, (int32_t)body);
        sd_write_i8(w, rec->attributes);
        sd_write_varlong(w, timestamp_delta);
        sd_write_varint(w, offset_delta);
        write_nullable(w, rec->key, rec->key_len);
        write_nullable(w, rec->value, rec->value_len);
        sd_write_varint(w, rec->header_count);
        for (int32_t j = 0; j < rec->header_count; j++) {
            write_nullable(w, rec->headers[j].key, rec->headers[j].key_len);
            write_nullable(w, rec->headers[j].value, rec->headers[j].value_len);
        }
    }
    if (w->err)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory building a record batch");
    size_t size = w->len - start;
    if (size - KL_BATCH_LOG_OVERHEAD > INT32_MAX) {
        w->len = start;
        return sd_err_set(err, KL_ERR_INVALID_RECORD, "record batch too large: %zu bytes", size);
    }
    sd_writer_patch_i32(w, length_at, (int32_t)(size - KL_BATCH_LOG_OVERHEAD));
    sd_writer_patch_u32(w, crc_at, kl_batch_compute_crc(w->buf + start, size));
    return 0;
}
