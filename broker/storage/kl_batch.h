/*
 * kl_batch.h - Kafka record batch v2 (magic 2): decoding the 61-byte header,
 * validating a batch as a client sent it or as it was read back from disk,
 * the few in-place edits the broker makes (base offset, LogAppendTime), the
 * records of an uncompressed batch, and building an uncompressed batch.
 * Spec: Kafka's docs/implementation.html, "Record Batch" and "Record".
 */
#ifndef STRAND_BROKER_KL_BATCH_H
#define STRAND_BROKER_KL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "base/error.h"
#include "storage/kl_log.h"

/*
 * Header layout (big-endian), offsets in bytes:
 *
 *   offset size field
 *        0    8 baseOffset            set by the log on append
 *        8    4 batchLength           bytes after this field (total = 12 + batchLength)
 *       12    4 partitionLeaderEpoch
 *       16    1 magic                 2 (byte 16 is the magic in v0/v1 too)
 *       17    4 crc                   CRC-32C of bytes 21 .. end of batch
 *       21    2 attributes            see KL_ATTR_*
 *       23    4 lastOffsetDelta
 *       27    8 baseTimestamp
 *       35    8 maxTimestamp
 *       43    8 producerId
 *       51    2 producerEpoch
 *       53    4 baseSequence
 *       57    4 recordsCount
 *       61    - records               one compressed block when the codec is not 0
 */
enum {
    KL_BATCH_OFF_BASE_OFFSET = 0,
    KL_BATCH_OFF_LENGTH = 8,
    KL_BATCH_OFF_LEADER_EPOCH = 12,
    KL_BATCH_OFF_MAGIC = 16,
    KL_BATCH_OFF_CRC = 17,
    KL_BATCH_OFF_ATTRIBUTES = 21,
    KL_BATCH_OFF_LAST_OFFSET_DELTA = 23,
    KL_BATCH_OFF_BASE_TIMESTAMP = 27,
    KL_BATCH_OFF_MAX_TIMESTAMP = 35,
    KL_BATCH_OFF_PRODUCER_ID = 43,
    KL_BATCH_OFF_PRODUCER_EPOCH = 51,
    KL_BATCH_OFF_BASE_SEQUENCE = 53,
    KL_BATCH_OFF_RECORDS_COUNT = 57,
    KL_BATCH_HEADER_SIZE = 61,
    KL_BATCH_LOG_OVERHEAD = 12, /* baseOffset + batchLength */
    KL_BATCH_MAGIC_V2 = 2,
};

/* Attribute bits. */
enum {
    KL_ATTR_CODEC_MASK = 0x07, /* 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd */
    KL_ATTR_LOG_APPEND_TIME = 0x08,
    KL_ATTR_TRANSACTIONAL = 0x10,
    KL_ATTR_CONTROL = 0x20,
    KL_ATTR_DELETE_HORIZON = 0x40,
};

typedef struct kl_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} kl_batch_header_t;

/* Decodes the header at p, which must hold KL_BATCH_HEADER_SIZE bytes. Checks
 * nothing: see kl_batch_validate. */
void kl_batch_header_decode(const uint8_t *p, kl_batch_header_t *h);

/* Whole size of the batch on the wire and on disk. */
static inline int64_t kl_batch_total_size(const kl_batch_header_t *h)
{
    return (int64_t)KL_BATCH_LOG_OVERHEAD + h->batch_length;
}
static inline int64_t kl_batch_last_offset(const kl_batch_header_t *h)
{
    return h->base_offset + h->last_offset_delta;
}

/* CRC-32C of batch[21 .. size), the value the crc field must hold. */
uint32_t kl_batch_compute_crc(const uint8_t *batch, size_t size);

/* Validation flags. */
enum {
    /* The batch comes from a producer: no control batches, at most max_bytes,
     * recordsCount >= 1, lastOffsetDelta >= 0, and for an uncompressed batch
     * the records parse and fill it exactly, with offset deltas 0..count-1. */
    KL_BATCH_FROM_CLIENT = 1,
};

/* Validates the batch at the start of buf[0..len) (more batches may follow):
 * framing (at least 61 bytes, batchLength inside the buffer), magic 2, CRC,
 * plus the client checks when flags has KL_BATCH_FROM_CLIENT. max_bytes <= 0
 * means no size limit. On success fills *h; the batch is
 * kl_batch_total_size(h) bytes. Returns 0 or KL_ERR_CORRUPT,
 * KL_ERR_UNSUPPORTED_MAGIC, KL_ERR_TOO_LARGE, KL_ERR_INVALID_RECORD with a
 * message in err. */
int kl_batch_validate(const uint8_t *buf, size_t len, int flags, int32_t max_bytes,
                      kl_batch_header_t *h, sd_err_t *err);

/* Walks the batches of a buffer by their length fields alone. */
typedef struct kl_batch_iter {
    const uint8_t *buf; /* borrowed */
    size_t len;
    size_t pos;
} kl_batch_iter_t;

void kl_batch_iter_init(kl_batch_iter_t *it, const uint8_t *buf, size_t len);
/* Returns 1 and the next batch (borrowed view), 0 at the end, or
 * KL_ERR_CORRUPT when the bytes left are not a whole batch (fewer than 61, or
 * a batchLength below the header or past the end); the iterator then stays
 * put. */
int kl_batch_iter_next(kl_batch_iter_t *it, const uint8_t **batch, size_t *size);

/* In-place edits of a batch of `size` bytes. Setting the base offset leaves
 * the CRC valid (it does not cover the first 21 bytes). */
void kl_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
/* LogAppendTime: maxTimestamp = now_ms, attribute bit 3 set, CRC recomputed. */
void kl_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t now_ms);

/* A record header; value_len -1 means a null value. */
typedef struct kl_header {
    const uint8_t *key; /* borrowed */
    int32_t key_len;
    const uint8_t *value; /* borrowed */
    int32_t value_len;
} kl_header_t;

/* A record, as given to kl_batch_build or as read by kl_record_iter_next.
 * key_len / value_len -1 mean null (a null value is a tombstone). */
typedef struct kl_record {
    const uint8_t *key; /* borrowed */
    int32_t key_len;
    const uint8_t *value; /* borrowed */
    int32_t value_len;
    const kl_header_t *headers; /* borrowed; NULL from the reader */
    int32_t header_count;
    int64_t timestamp;    /* absolute: baseTimestamp + timestampDelta */
    int32_t offset_delta; /* set by the reader; kl_batch_build uses it only with
                             params.keep_offset_deltas */
    int8_t attributes;    /* unused by Kafka today; written as is */
} kl_record_t;

/* Reads the records of an uncompressed batch. */
typedef struct kl_record_iter {
    sd_reader_t records; /* bytes 61 .. end of the batch */
    int32_t remaining;
    int64_t base_timestamp;
} kl_record_iter_t;

/* `batch` must have passed kl_batch_validate (it is borrowed while iterating).
 * Returns 0, or KL_ERR_INVALID_RECORD for a compressed batch. */
int kl_record_iter_init(kl_record_iter_t *it, const uint8_t *batch, size_t size);
/* Like kl_record_iter_init, for a compressed batch too: its records are
 * decompressed into `scratch` (reset first; the caller owns it and keeps it
 * while iterating), at most max_decompressed bytes. Returns 0 or the codec's
 * error (KL_ERR_CORRUPT, SD_ERR_TOO_LARGE, SD_ERR_NOMEM) with err set. */
int kl_record_iter_open(kl_record_iter_t *it, const uint8_t *batch, size_t size,
                        size_t max_decompressed, sd_writer_t *scratch, sd_err_t *err);
/* Returns 1 with the next record (pointers into the batch) and, when
 * `headers` is not NULL, a reader over its header section for
 * kl_record_header_next; 0 after the last record (when the records section
 * also ended exactly); KL_ERR_CORRUPT on malformed bytes. */
int kl_record_iter_next(kl_record_iter_t *it, kl_record_t *rec, sd_reader_t *headers);
/* Returns 1 with the next header, 0 when none is left, KL_ERR_CORRUPT. */
int kl_record_header_next(sd_reader_t *headers, kl_header_t *h);

/* How kl_batch_build fills the header. kl_batch_params_init gives what a
 * plain producer sends: no producer id, epoch or sequence, no leader epoch,
 * CreateTime, offset deltas 0..count-1. */
typedef struct kl_batch_params {
    int64_t base_offset;
    int32_t partition_leader_epoch;
    int16_t attributes; /* codec bits must be 0: the builder does not compress */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    /* Log compaction keeps offsets: with keep_offset_deltas the records'
     * offset_delta fields are written and lastOffsetDelta is
     * last_offset_delta (which may exceed count - 1; count may be 0). */
    int keep_offset_deltas;
    int32_t last_offset_delta;
    /* Used instead of the first record's timestamp when attributes has
     * KL_ATTR_DELETE_HORIZON (or when there is no record). */
    int64_t base_timestamp;
} kl_batch_params_t;

void kl_batch_params_init(kl_batch_params_t *params);

/* Appends one valid uncompressed magic-2 batch holding records[0..count) to
 * w (which may already hold other batches). params NULL = defaults.
 * Returns 0, SD_ERR_NOMEM, or KL_ERR_INVALID_RECORD for bad arguments. */
int kl_batch_build(sd_writer_t *w, const kl_batch_params_t *params, const kl_record_t *records,
                   size_t count, sd_err_t *err);

#endif
