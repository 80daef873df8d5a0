/*
 * kl_codec.c - Kafka record batch compression (see kl_codec.h) over zlib,
 * libsnappy, liblz4 (frame API) and libzstd. Every decoder writes through one
 * output "sink" that holds the max_out cap, so a small hostile input cannot
 * make us allocate more than the caller allowed (plus the codec libraries'
 * own bounded working memory, noted per codec).
 */
#include "storage/kl_codec.h"

#include <limits.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "base/alloc.h"
#include "storage/kl_log.h"

/* Decoders grow their output by at least this much at a time. */
#define OUTPUT_CHUNK ((size_t)64 * 1024)

/* ---------------------------------------------------------------- output sink */

/* Where a decoder appends: out, from out->len at the start of the call, at
 * most max_out bytes in total. */
typedef struct sink {
    sd_writer_t *out;
    size_t start;
    size_t max_out;
    const char *codec;
} sink_t;

static size_t sink_produced(const sink_t *s) { return s->out->len - s->start; }

static int too_large(const sink_t *s, sd_err_t *err)
{
    return sd_err_set(err, SD_ERR_TOO_LARGE, "%s: decompressed data exceeds the %zu byte limit",
                      s->codec, s->max_out);
}

static int no_memory(const char *codec, size_t bytes, sd_err_t *err)
{
    return sd_err_set(err, SD_ERR_NOMEM, "%s: out of memory (%zu bytes)", codec, bytes);
}

/* Makes writable room at out->buf + out->len for a streaming decoder and sets
 * *avail to its size: at most one byte more than the cap still allows, so a
 * stream that overshoots is caught (by sink_commit) after a single extra byte
 * rather than after the decoder ran dry. The room doubles with the output. */
static int sink_space(sink_t *s, size_t *avail, sd_err_t *err)
{
    size_t produced = sink_produced(s);
    size_t room = s->max_out - produced; /* produced <= max_out: sink_commit checks */
    if (room < SIZE_MAX)
        room++;
    size_t want = produced < OUTPUT_CHUNK ? OUTPUT_CHUNK : produced;
    if (want > room)
        want = room;
    sd_writer_t *out = s->out;
    if (out->cap - out->len < want && sd_writer_reserve(out, want))
        return no_memory(s->codec, want, err);
    size_t free_bytes = out->cap - out->len;
    *avail = free_bytes < room ? free_bytes : room;
    return 0;
}

/* Accounts for n bytes a decoder wrote at out->buf + out->len. */
static int sink_commit(sink_t *s, size_t n, sd_err_t *err)
{
    s->out->len += n;
    if (sink_produced(s) > s->max_out)
        return too_large(s, err);
    return 0;
}

/* Reserves exactly n bytes (a size the input declared) once the cap allows
 * them. At least one byte is reserved so out->buf is never NULL afterwards. */
static int sink_reserve_exact(sink_t *s, size_t n, sd_err_t *err)
{
    if (n > s->max_out - sink_produced(s))
        return too_large(s, err);
    if (sd_writer_reserve(s->out, n ? n : 1))
        return no_memory(s->codec, n, err);
    return 0;
}

/* ------------------------------------------------------------------- none */

static int none_decompress(const uint8_t *src, size_t len, sink_t *s, sd_err_t *err)
{
    int rc = sink_reserve_exact(s, len, err);
    if (rc)
        return rc;
    if (len)
        memcpy(s->out->buf + s->out->len, src, len);
    s->out->len += len;
    return 0;
}

static int none_compress(const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err)
{
    sd_write_bytes(out, src, len);
    return out->err ? no_memory("none", len, err) : 0;
}

/* ------------------------------------------------------------------- gzip */

/* zlib allocates through Strand's wrapper, so allocation-failure tests reach it. */
static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        return Z_NULL;
    return sd_malloc((size_t)items * size);
}

static void zlib_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    sd_free(p);
}

/* Next piece of input for zlib, whose counters are 32-bit. */
static void zlib_feed(z_stream *zs, const uint8_t *src, size_t len, size_t *fed)
{
    if (zs->avail_in == 0 && *fed < len) {
        size_t n = len - *fed;
        if (n > UINT_MAX)
            n = UINT_MAX;
        zs->next_in = (Bytef *)(uintptr_t)(src + *fed);
        zs->avail_in = (uInt)n;
        *fed += n;
    }
}

/* Gzip members back to back (as `cat a.gz b.gz`); windowBits 15 + 32 lets
 * zlib recognise the gzip or zlib header of each. Working memory: zlib's
 * ~40 KB window and state, whatever the input. */
static int gzip_decompress(const uint8_t *src, size_t len, sink_t *s, sd_err_t *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = zlib_alloc;
    zs.zfree = zlib_free;
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return no_memory("gzip", sizeof zs, err);
    int rc = 0;
    size_t fed = 0;
    size_t member_start = 0;
    int member = 1;
    for (;;) {
        zlib_feed(&zs, src, len, &fed);
        size_t avail;
        if ((rc = sink_space(s, &avail, err)))
            goto done;
        uInt out_size = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
        zs.next_out = s->out->buf + s->out->len;
        zs.avail_out = out_size;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        if ((rc = sink_commit(s, out_size - zs.avail_out, err)))
            goto done;
        size_t consumed = fed - zs.avail_in;
        if (zrc == Z_STREAM_END) {
            if (consumed == len)
                break;
            /* Another member follows; anything else is rejected by its
             * header check on the next round. */
            member++;
            member_start = consumed;
            if (inflateReset(&zs) != Z_OK) {
                rc = sd_err_set(err, KL_ERR_CORRUPT, "gzip: cannot reset the inflater");
                goto done;
            }
            continue;
        }
        if (zrc == Z_NEED_DICT) {
            rc = sd_err_set(err, KL_ERR_CORRUPT,
                            "gzip: member %d at byte %zu needs a preset dictionary", member,
                            member_start);
            goto done;
        }
        if (zrc == Z_MEM_ERROR) {
            rc = no_memory("gzip", 0, err);
            goto done;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = sd_err_set(err, KL_ERR_CORRUPT, "gzip: member %d at byte %zu: %s", member,
                            member_start, zs.msg ? zs.msg : "invalid data");
            goto done;
        }
        /* Room to write and all input given, yet the member goes on. */
        if (consumed == len && zs.avail_out > 0) {
            rc = sd_err_set(err, KL_ERR_CORRUPT,
                            "gzip: input ends inside member %d (which starts at byte %zu)", member,
                            member_start);
            goto done;
        }
    }
done:
    inflateEnd(&zs);
    return rc;
}

static int gzip_compress(const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = zlib_alloc;
    zs.zfree = zlib_free;
    /* 15 + 16: a gzip header and trailer around the deflate stream, as
     * java.util.zip.GZIPOutputStream writes. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return no_memory("gzip", sizeof zs, err);
    int rc = 0;
    size_t fed = 0;
    /* Usually all the output fits the bound; a chunk more whenever not. */
    size_t bound = len <= ULONG_MAX ? deflateBound(&zs, (uLong)len) : OUTPUT_CHUNK;
    if (sd_writer_reserve(out, bound)) {
        rc = no_memory("gzip", bound, err);
        goto done;
    }
    for (;;) {
        zlib_feed(&zs, src, len, &fed);
        if (out->cap == out->len && sd_writer_reserve(out, OUTPUT_CHUNK)) {
            rc = no_memory("gzip", OUTPUT_CHUNK, err);
            goto done;
        }
        size_t avail = out->cap - out->len;
        uInt out_size = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
        zs.next_out = out->buf + out->len;
        zs.avail_out = out_size;
        int zrc = deflate(&zs, fed == len ? Z_FINISH : Z_NO_FLUSH);
        out->len += out_size - zs.avail_out;
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = zrc == Z_MEM_ERROR
                     ? no_memory("gzip", 0, err)
                     : sd_err_set(err, SD_ERR_INVALID, "gzip: deflate failed (%d)", zrc);
            goto done;
        }
    }
done:
    deflateEnd(&zs);
    return rc;
}

/* ----------------------------------------------------------------- snappy */

/*
 * Xerial framing (snappy-java's SnappyOutputStream; kafka-python writes it
 * too), big-endian:
 *
 *   offset size field
 *        0    8 magic                 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0
 *        8    4 version               1
 *       12    4 compatible version    1
 *       16    - blocks, each: 4-byte compressed length, then one raw snappy
 *               block of at most 32 KiB uncompressed
 *
 * snappy-java also reads streams concatenated with their headers, so a magic
 * may reappear where a block length is expected; a length never starts with
 * 0x82 (it would be negative), so the two cannot be confused. A raw snappy
 * block cannot start with the magic either: its length varint would be
 * followed by a copy tag with nothing yet to copy.
 */
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
enum {
    XERIAL_HEADER_SIZE = 16,
    XERIAL_VERSION = 1,
    XERIAL_BLOCK_SIZE = 32 * 1024,
};

/* One raw snappy block at src[at .. at + n). The declared length is checked
 * against the cap before anything is allocated; no working memory beyond
 * that. */
static int snappy_block(const uint8_t *src, size_t at, size_t n, sink_t *s, sd_err_t *err)
{
    size_t declared;
    if (snappy_uncompressed_length((const char *)src + at, n, &declared) != SNAPPY_OK)
        return sd_err_set(err, KL_ERR_CORRUPT, "snappy: block at byte %zu has no valid length", at);
    int rc = sink_reserve_exact(s, declared, err);
    if (rc)
        return rc;
    size_t got = declared;
    if (snappy_uncompress((const char *)src + at, n, (char *)s->out->buf + s->out->len, &got) !=
            SNAPPY_OK ||
        got != declared)
        return sd_err_set(err, KL_ERR_CORRUPT, "snappy: block at byte %zu is corrupt", at);
    s->out->len += got;
    return 0;
}

static int snappy_decompress(const uint8_t *src, size_t len, sink_t *s, sd_err_t *err)
{
    if (len < sizeof xerial_magic || memcmp(src, xerial_magic, sizeof xerial_magic) != 0)
        return snappy_block(src, 0, len, s, err);
    size_t pos = 0;
    while (pos < len) {
        size_t left = len - pos;
        if (left >= sizeof xerial_magic &&
            memcmp(src + pos, xerial_magic, sizeof xerial_magic) == 0) {
            /* Versions are not checked, as librdkafka does not. */
            if (left < XERIAL_HEADER_SIZE)
                return sd_err_set(
                    err, KL_ERR_CORRUPT,
                    "snappy: xerial header at byte %zu is cut short (%zu of %d bytes)", pos, left,
                    XERIAL_HEADER_SIZE);
            pos += XERIAL_HEADER_SIZE;
            continue;
        }
        if (left < 4)
            return sd_err_set(err, KL_ERR_CORRUPT,
                              "snappy: xerial block length at byte %zu is cut short", pos);
        uint32_t n = sd_be32(src + pos);
        if (n > INT32_MAX || n > left - 4)
            return sd_err_set(err, KL_ERR_CORRUPT,
                              "snappy: xerial block at byte %zu declares %u bytes but %zu remain",
                              pos, n, left - 4);
        int rc = snappy_block(src, pos + 4, n, s, err);
        if (rc)
            return rc;
        pos += 4 + (size_t)n;
    }
    return 0;
}

static int snappy_compress_xerial(const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err)
{
    static const uint8_t nothing[1];
    if (len == 0)
        src = nothing; /* src may be NULL; no arithmetic on it */
    sd_write_bytes(out, xerial_magic, sizeof xerial_magic);
    sd_write_i32(out, XERIAL_VERSION);
    sd_write_i32(out, XERIAL_VERSION);
    size_t pos = 0;
    /* Empty input still gets one (empty) block: librdkafka takes a stream
     * without any block for raw snappy and fails on it. */
    do {
        size_t n = len - pos < XERIAL_BLOCK_SIZE ? len - pos : XERIAL_BLOCK_SIZE;
        size_t bound = snappy_max_compressed_length(n);
        size_t length_at = sd_writer_placeholder_i32(out);
        if (out->err || sd_writer_reserve(out, bound))
            return no_memory("snappy", bound, err);
        size_t written = bound;
        if (snappy_compress((const char *)src + pos, n, (char *)out->buf + out->len, &written) !=
            SNAPPY_OK)
            return sd_err_set(err, SD_ERR_INVALID, "snappy: compression failed");
        out->len += written;
        sd_writer_patch_i32(out, length_at, (int32_t)written);
        pos += n;
    } while (pos < len);
    return out->err ? no_memory("snappy", 0, err) : 0;
}

/* -------------------------------------------------------------------- lz4 */

/* LZ4 frames back to back (skippable frames included). The frame decoder
 * checks the header checksum, and the block and content checksums when the
 * frame has them. Working memory: at most about 2 x 4 MiB block buffers, as
 * the frame header's block size asks. Kafka's pre-0.10 LZ4 header checksum
 * bug concerns only magic 0/1 messages, never magic 2 batches. */
static int lz4_decompress(const uint8_t *src, size_t len, sink_t *s, sd_err_t *err)
{
    LZ4F_dctx *dctx = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return no_memory("lz4", 0, err);
    int rc = 0;
    size_t pos = 0;
    size_t frame_start = 0;
    int frame_done = 0;
    for (;;) {
        if (frame_done && pos == len)
            break;
        size_t avail;
        if ((rc = sink_space(s, &avail, err)))
            goto done;
        size_t written = avail;
        size_t consumed = len - pos;
        size_t r =
            LZ4F_decompress(dctx, s->out->buf + s->out->len, &written, src + pos, &consumed, NULL);
        if (LZ4F_isError(r)) {
            rc = sd_err_set(err, KL_ERR_CORRUPT, "lz4: frame at byte %zu: %s", frame_start,
                            LZ4F_getErrorName(r));
            goto done;
        }
        pos += consumed;
        if ((rc = sink_commit(s, written, err)))
            goto done;
        if (r == 0) {
            /* The context is ready for a following frame. */
            frame_done = 1;
            frame_start = pos;
            continue;
        }
        frame_done = 0;
        if (consumed == 0 && written == 0) {
            rc = sd_err_set(err, KL_ERR_CORRUPT,
                            pos == len ? "lz4: input ends inside the frame at byte %zu"
                                       : "lz4: frame at byte %zu does not decode",
                            frame_start);
            goto done;
        }
    }
done:
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

static int lz4_compress(const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err)
{
    /* Defaults (64 KiB blocks, no checksums, no content size) except for
     * independent blocks: Kafka's Java reader (KafkaLZ4BlockInputStream)
     * rejects linked ones, librdkafka and kafka-python write independent
     * blocks for the same reason. */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    if (LZ4F_isError(bound))
        return sd_err_set(err, SD_ERR_INVALID, "lz4: %zu bytes cannot be compressed", len);
    if (sd_writer_reserve(out, bound))
        return no_memory("lz4", bound, err);
    size_t r = LZ4F_compressFrame(out->buf + out->len, bound, src, len, &prefs);
    if (LZ4F_isError(r))
        return sd_err_set(err, SD_ERR_INVALID, "lz4: %s", LZ4F_getErrorName(r));
    out->len += r;
    return 0;
}

/* ------------------------------------------------------------------- zstd */

/*
 * The window a zstd frame declares is allocated before its first block, so it
 * is capped: to the power of two covering max_out, but at least 8 MiB (the
 * largest window levels 1-19 use without a known content size; librdkafka
 * declares 2 MiB for a few KB) and at most 128 MiB (zstd's own default
 * limit). Frames needing more (levels 20-22, long-distance matching) fail
 * with SD_ERR_TOO_LARGE unless max_out is large enough to allow them.
 */
enum { ZSTD_WINDOW_LOG_FLOOR = 23, ZSTD_WINDOW_LOG_CEILING = 27 };

static int zstd_window_log(size_t max_out)
{
    int log = ZSTD_WINDOW_LOG_FLOOR;
    while (log < ZSTD_WINDOW_LOG_CEILING && ((size_t)1 << log) < max_out)
        log++;
    return log;
}

/* Zstd frames back to back, with or without a content size (streaming
 * producers such as the Java client leave it out); skippable frames are
 * skipped, checksums are checked when present. */
static int zstd_decompress(const uint8_t *src, size_t len, sink_t *s, sd_err_t *err)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx)
        return no_memory("zstd", 0, err);
    int rc = 0;
    int window_log = zstd_window_log(s->max_out);
    if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log))) {
        rc = sd_err_set(err, SD_ERR_INVALID, "zstd: cannot set the window limit");
        goto done;
    }
    ZSTD_inBuffer in = {src, len, 0};
    size_t frame_start = 0;
    size_t r = 1; /* nonzero: a frame is expected or unfinished */
    for (;;) {
        if (r == 0 && in.pos == len)
            break;
        size_t avail;
        if ((rc = sink_space(s, &avail, err)))
            goto done;
        ZSTD_outBuffer ob = {s->out->buf + s->out->len, avail, 0};
        size_t before = in.pos;
        r = ZSTD_decompressStream(dctx, &ob, &in);
        if (ZSTD_isError(r)) {
            if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
                rc = sd_err_set(err, SD_ERR_TOO_LARGE,
                                "zstd: frame at byte %zu needs a window over %zu bytes",
                                frame_start, (size_t)1 << window_log);
            else
                rc = sd_err_set(err, KL_ERR_CORRUPT, "zstd: frame at byte %zu: %s", frame_start,
                                ZSTD_getErrorName(r));
            goto done;
        }
        if ((rc = sink_commit(s, ob.pos, err)))
            goto done;
        if (r == 0) {
            frame_start = in.pos;
            continue;
        }
        if (in.pos == before && ob.pos == 0) {
            rc = sd_err_set(err, KL_ERR_CORRUPT,
                            in.pos == len ? "zstd: input ends inside the frame at byte %zu"
                                          : "zstd: frame at byte %zu does not decode",
                            frame_start);
            goto done;
        }
    }
done:
    ZSTD_freeDCtx(dctx);
    return rc;
}

static int zstd_compress(const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err)
{
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound))
        return sd_err_set(err, SD_ERR_INVALID, "zstd: %zu bytes cannot be compressed", len);
    if (sd_writer_reserve(out, bound))
        return no_memory("zstd", bound, err);
    size_t r = ZSTD_compress(out->buf + out->len, bound, src, len, ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation
                   ? no_memory("zstd", 0, err)
                   : sd_err_set(err, SD_ERR_INVALID, "zstd: %s", ZSTD_getErrorName(r));
    out->len += r;
    return 0;
}

/* ------------------------------------------------------------------ table */

typedef struct codec_entry {
    const char *name;
    int (*decompress)(const uint8_t *src, size_t len, sink_t *s, sd_err_t *err);
    int (*compress)(const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err);
} codec_entry_t;

static const codec_entry_t codecs[] = {
    [KL_CODEC_NONE] = {"none", none_decompress, none_compress},
    [KL_CODEC_GZIP] = {"gzip", gzip_decompress, gzip_compress},
    [KL_CODEC_SNAPPY] = {"snappy", snappy_decompress, snappy_compress_xerial},
    [KL_CODEC_LZ4] = {"lz4", lz4_decompress, lz4_compress},
    [KL_CODEC_ZSTD] = {"zstd", zstd_decompress, zstd_compress},
};

static const codec_entry_t *lookup(int codec)
{
    if (codec < 0 || (size_t)codec >= sizeof codecs / sizeof codecs[0])
        return NULL;
    return &codecs[codec];
}

const char *kl_codec_name(int codec)
{
    const codec_entry_t *c = lookup(codec);
    return c ? c->name : "unknown";
}

int kl_codec_decompress(int codec, const uint8_t *src, size_t len, size_t max_out, sd_writer_t *out,
                        sd_err_t *err)
{
    const codec_entry_t *c = lookup(codec);
    if (!c)
        return sd_err_set(err, KL_ERR_CORRUPT, "unknown compression codec %d", codec);
    if (out->err)
        return no_memory(c->name, 0, err);
    if (len == 0 && codec != KL_CODEC_NONE)
        return sd_err_set(err, KL_ERR_CORRUPT, "%s: no compressed data", c->name);
    sink_t s = {.out = out, .start = out->len, .max_out = max_out, .codec = c->name};
    int rc = c->decompress(src, len, &s, err);
    if (rc)
        out->len = s.start;
    return rc;
}

int kl_codec_compress(int codec, const uint8_t *src, size_t len, sd_writer_t *out, sd_err_t *err)
{
    const codec_entry_t *c = lookup(codec);
    if (!c)
        return sd_err_set(err, SD_ERR_INVALID, "unknown compression codec %d", codec);
    if (out->err)
        return no_memory(c->name, 0, err);
    size_t start = out->len;
    int rc = c->compress(src, len, out, err);
    if (rc)
        out->len = start;
    return rc;
}
