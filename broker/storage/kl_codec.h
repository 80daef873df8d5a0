/*
 * kl_codec.h - the compression codecs of Kafka record batches: gzip, snappy,
 * lz4 and zstd, in the framings Kafka clients write and read. The broker
 * stores batches as sent; it opens compressed ones only to look inside
 * (ListOffsets by timestamp, log compaction) and recompresses what it
 * rewrites. Spec: Kafka's docs/implementation.html ("Record Batch",
 * attributes bits 0-2) and each codec's own format.
 */
#ifndef STRAND_BROKER_KL_CODEC_H
#define STRAND_BROKER_KL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "base/error.h"

/* Codec ids as in the batch attributes' low 3 bits. */
enum {
    KL_CODEC_NONE = 0,
    KL_CODEC_GZIP = 1,
    KL_CODEC_SNAPPY = 2,
    KL_CODEC_LZ4 = 3,
    KL_CODEC_ZSTD = 4,
};

/*
 * Decompresses src[0..len) and appends the result to out. Input is untrusted:
 * what is accepted, per codec,
 *   gzip    one or more concatenated gzip members (zlib streams are accepted
 *           too); nothing may follow the last one
 *   snappy  xerial framing (what the Java client and kafka-python write) when
 *           it starts with the xerial magic, else one raw snappy block (what
 *           librdkafka writes)
 *   lz4     one or more LZ4 frames (skippable frames are skipped)
 *   zstd    one or more zstd frames, with or without a content size
 * max_out caps the bytes this call may append: more fails with
 * SD_ERR_TOO_LARGE before the excess is allocated. Other errors: KL_ERR_CORRUPT
 * (malformed, truncated or trailing bytes, unknown codec), SD_ERR_NOMEM. The
 * message names the codec and the problem. On failure out->len is restored
 * (its capacity may have grown, and after SD_ERR_NOMEM its sticky error
 * stays set). KL_CODEC_NONE copies.
 */
int kl_codec_decompress(int codec, const uint8_t *src, size_t len, size_t max_out, sd_writer_t *out,
                        sd_err_t *err);

/*
 * Compresses src[0..len) and appends the result to out, in the framing the
 * Java client writes (so every client reads it): a gzip member, xerial-framed
 * snappy in 32 KiB blocks, an LZ4 frame with independent blocks, a zstd
 * frame. src may be NULL when len is 0. Returns 0, SD_ERR_NOMEM, or
 * SD_ERR_INVALID for an unknown codec; on failure out->len is restored, as
 * above. KL_CODEC_NONE copies.
 */
int kl_codec_compress(int codec, const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err);

/* "none", "gzip", "snappy", "lz4", "zstd", or "unknown". Static storage. */
const char *kl_codec_name(int codec);

#endif
