/*
 * test_kl_codec.c - record batch codecs (kl_codec.c): round trips of every
 * codec over empty, small and 1 MB inputs and the framing of what we write;
 * data written by librdkafka, kafka-python and the command-line tools
 * (tests/data/codec/, see its README); several members or frames; every
 * truncation and flipped bytes; the max_out cap against inputs that inflate
 * hugely; allocation failures.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "storage/kl_batch.h"
#include "storage/kl_codec.h"
#include "storage/kl_log.h"
#include "unit.h"

#define DATA_DIR "tests/data/codec/"
#define ONE_MB ((size_t)1 << 20)

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

/* A whole file under tests/data/codec/; caller frees with free(). */
static uint8_t *load(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, DATA_DIR "%s", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (tests run from the repository root)", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* Text runs with counters mixed with pseudo-random bytes: compressible, but
 * not trivially. Caller frees with free(). */
static uint8_t *make_payload(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    uint32_t x = 2463534242u;
    size_t i = 0;
    while (i < n) {
        char line[64];
        int k = snprintf(line, sizeof line, "record %zu value ", i);
        for (int j = 0; j < k && i < n; j++)
            p[i++] = (uint8_t)line[j];
        for (int j = 0; j < 8 && i < n; j++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p[i++] = (uint8_t)x;
        }
    }
    return p;
}

static void compress_ok(int codec, const uint8_t *src, size_t len, sd_writer_t *out)
{
    sd_err_t err;
    int rc = kl_codec_compress(codec, src, len, out, &err);
    ck_assert_msg(rc == 0, "%s compress: %s", kl_codec_name(codec), err.msg);
}

/* Decompresses src and checks the result is exactly expect. */
static void expect_decompress(int codec, const uint8_t *src, size_t len, const uint8_t *expect,
                              size_t expect_len, const char *what)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_err_t err;
    int rc = kl_codec_decompress(codec, src, len, expect_len, &w, &err);
    ck_assert_msg(rc == 0, "%s: %s", what, err.msg);
    ck_assert_msg(w.len == expect_len, "%s: %zu bytes, expected %zu", what, w.len, expect_len);
    ck_assert_msg(expect_len == 0 || memcmp(w.buf, expect, expect_len) == 0, "%s: wrong bytes",
                  what);
    sd_writer_free(&w);
}

/* ------------------------------------------------------------- round trips */

START_TEST(test_names)
{
    ck_assert_str_eq(kl_codec_name(KL_CODEC_NONE), "none");
    ck_assert_str_eq(kl_codec_name(KL_CODEC_GZIP), "gzip");
    ck_assert_str_eq(kl_codec_name(KL_CODEC_SNAPPY), "snappy");
    ck_assert_str_eq(kl_codec_name(KL_CODEC_LZ4), "lz4");
    ck_assert_str_eq(kl_codec_name(KL_CODEC_ZSTD), "zstd");
    ck_assert_str_eq(kl_codec_name(5), "unknown");
    ck_assert_str_eq(kl_codec_name(7), "unknown");
    ck_assert_str_eq(kl_codec_name(-1), "unknown");
}
END_TEST

/* What we write is what the Java client writes (and so what every client
 * reads). n is the uncompressed size. */
static void check_framing(int codec, const uint8_t *c, size_t len, size_t n)
{
    switch (codec) {
    case KL_CODEC_NONE: ck_assert_uint_eq(len, n); break;
    case KL_CODEC_GZIP:
        ck_assert_uint_ge(len, 18);
        ck_assert(c[0] == 0x1f && c[1] == 0x8b && c[2] == 8);
        break;
    case KL_CODEC_SNAPPY: {
        ck_assert_uint_ge(len, 16);
        ck_assert(memcmp(c, xerial_magic, 8) == 0);
        ck_assert_uint_eq(sd_be32(c + 8), 1);
        ck_assert_uint_eq(sd_be32(c + 12), 1);
        size_t pos = 16, blocks = 0, total = 0;
        while (pos < len) {
            ck_assert_uint_ge(len - pos, 4);
            size_t bl = sd_be32(c + pos);
            ck_assert_uint_le(bl, len - pos - 4);
            size_t un;
            ck_assert_int_eq(snappy_uncompressed_length((const char *)c + pos + 4, bl, &un),
                             SNAPPY_OK);
            ck_assert_uint_le(un, 32 * 1024);
            total += un;
            blocks++;
            pos += 4 + bl;
        }
        ck_assert_uint_eq(total, n);
        /* At least one block, even when empty: librdkafka takes a bare
         * header for raw snappy. */
        ck_assert_uint_eq(blocks, n ? (n + 32767) / 32768 : 1);
        break;
    }
    case KL_CODEC_LZ4:
        ck_assert_uint_ge(len, 7);
        ck_assert(c[0] == 0x04 && c[1] == 0x22 && c[2] == 0x4d && c[3] == 0x18);
        ck_assert_uint_eq(c[4] >> 6, 1);       /* version 01 */
        ck_assert_uint_eq(c[4] & 0x20, 0x20);  /* independent blocks: Kafka's Java reader
                                                  rejects linked ones */
        ck_assert_uint_eq(c[4] & 0x03, 0);     /* reserved bits */
        ck_assert_uint_ge((c[5] >> 4) & 7, 4); /* block size id 4-7 */
        break;
    case KL_CODEC_ZSTD:
        ck_assert_uint_ge(len, 4);
        ck_assert(c[0] == 0x28 && c[1] == 0xb5 && c[2] == 0x2f && c[3] == 0xfd);
        ck_assert_uint_eq(ZSTD_getFrameContentSize(c, len), n);
        break;
    default: ck_abort();
    }
}

/* _i is the codec. Each size is compressed after some bytes already in the
 * writer and decompressed after others: both calls append. */
START_TEST(test_roundtrip)
{
    int codec = _i;
    static const size_t sizes[] = {0, 5, ONE_MB};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t *src = n == 5 ? (uint8_t *)strdup("hello") : make_payload(n);
        sd_writer_t c, d;
        sd_writer_init(&c);
        sd_writer_init(&d);
        sd_write_bytes(&c, "pre", 3);
        compress_ok(codec, src, n, &c);
        ck_assert(memcmp(c.buf, "pre", 3) == 0);
        check_framing(codec, c.buf + 3, c.len - 3, n);
        if (codec != KL_CODEC_NONE && n == ONE_MB)
            ck_assert_msg(c.len < n, "%s did not compress", kl_codec_name(codec));

        sd_err_t err;
        sd_write_bytes(&d, "xy", 2);
        int rc = kl_codec_decompress(codec, c.buf + 3, c.len - 3, n, &d, &err);
        ck_assert_msg(rc == 0, "%s: %s", kl_codec_name(codec), err.msg);
        ck_assert_uint_eq(d.len, 2 + n);
        ck_assert(memcmp(d.buf, "xy", 2) == 0);
        ck_assert(n == 0 || memcmp(d.buf + 2, src, n) == 0);

        /* One byte under the exact size is refused, and the writer keeps
         * only what it held before. */
        if (n > 0) {
            sd_writer_reset(&d);
            sd_write_bytes(&d, "xy", 2);
            rc = kl_codec_decompress(codec, c.buf + 3, c.len - 3, n - 1, &d, &err);
            ck_assert_int_eq(rc, SD_ERR_TOO_LARGE);
            ck_assert_int_eq(err.code, SD_ERR_TOO_LARGE);
            ck_assert_msg(strncmp(err.msg, kl_codec_name(codec), strlen(kl_codec_name(codec))) == 0,
                          "message does not name the codec: %s", err.msg);
            ck_assert_uint_eq(d.len, 2);
            ck_assert(memcmp(d.buf, "xy", 2) == 0);
        }
        sd_writer_free(&c);
        sd_writer_free(&d);
        free(src);
    }
}
END_TEST

START_TEST(test_unknown_codec)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_err_t err;
    for (int codec = 5; codec <= 8; codec++) {
        ck_assert_int_eq(kl_codec_decompress(codec, (const uint8_t *)"x", 1, 100, &w, &err),
                         KL_ERR_CORRUPT);
        ck_assert_ptr_nonnull(strstr(err.msg, "unknown compression codec"));
        ck_assert_int_eq(kl_codec_compress(codec, (const uint8_t *)"x", 1, &w, &err),
                         SD_ERR_INVALID);
    }
    ck_assert_int_eq(kl_codec_decompress(-1, (const uint8_t *)"x", 1, 100, &w, &err),
                     KL_ERR_CORRUPT);
    ck_assert_uint_eq(w.len, 0);
    sd_writer_free(&w);
}
END_TEST

/* Zero bytes is not a compressed anything; for "none" it is zero records. */
START_TEST(test_empty_input)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_err_t err;
    ck_assert_int_eq(kl_codec_decompress(KL_CODEC_NONE, NULL, 0, 0, &w, &err), 0);
    for (int codec = KL_CODEC_GZIP; codec <= KL_CODEC_ZSTD; codec++) {
        ck_assert_int_eq(kl_codec_decompress(codec, NULL, 0, 100, &w, &err), KL_ERR_CORRUPT);
        ck_assert_ptr_nonnull(strstr(err.msg, "no compressed data"));
    }
    ck_assert_uint_eq(w.len, 0);
    /* Compressing nothing (src may then be NULL) gives a valid stream of
     * nothing. */
    for (int codec = KL_CODEC_NONE; codec <= KL_CODEC_ZSTD; codec++) {
        sd_writer_t c;
        sd_writer_init(&c);
        compress_ok(codec, NULL, 0, &c);
        check_framing(codec, c.buf, c.len, 0);
        ck_assert_int_eq(kl_codec_decompress(codec, c.buf, c.len, 0, &w, &err), 0);
        ck_assert_uint_eq(w.len, 0);
        sd_writer_free(&c);
    }
    /* NONE honours the cap like the others. */
    ck_assert_int_eq(kl_codec_decompress(KL_CODEC_NONE, (const uint8_t *)"abc", 3, 2, &w, &err),
                     SD_ERR_TOO_LARGE);
    ck_assert_uint_eq(w.len, 0);
    sd_writer_free(&w);
}
END_TEST

/* ------------------------------------------------- what real clients write */

typedef struct fixture {
    const char *file;
    int codec;
    const char *expect; /* the decompressed bytes */
    int several;        /* several members / frames / xerial blocks: a cut
                           between two of them leaves valid data */
} fixture_t;

static const fixture_t fixtures[] = {
    {"kafka_python_gzip.bin", KL_CODEC_GZIP, "kafka_python.raw", 0},
    {"kafka_python_snappy_xerial.bin", KL_CODEC_SNAPPY, "kafka_python.raw", 1},
    {"cli_gzip_two_members.bin", KL_CODEC_GZIP, "kafka_python.raw", 1},
    {"cli_lz4_two_frames.bin", KL_CODEC_LZ4, "kafka_python.raw", 1},
    {"cli_zstd_two_frames.bin", KL_CODEC_ZSTD, "kafka_python.raw", 1},
};
#define N_FIXTURES ((int)(sizeof fixtures / sizeof fixtures[0]))

/* The librdkafka batches, in codec order 1-4. */
static const char *const batch_names[] = {"librdkafka_gzip", "librdkafka_snappy", "librdkafka_lz4",
                                          "librdkafka_zstd"};
#define N_BATCHES ((int)(sizeof batch_names / sizeof batch_names[0]))

START_TEST(test_fixture)
{
    const fixture_t *f = &fixtures[_i];
    size_t len, expect_len;
    uint8_t *src = load(f->file, &len);
    uint8_t *expect = load(f->expect, &expect_len);
    expect_decompress(f->codec, src, len, expect, expect_len, f->file);
    free(src);
    free(expect);
}
END_TEST

/* Splits lines.txt (what kcat produced from) into its lines. */
static size_t split_lines(char *text, size_t len, char **lines, size_t max)
{
    size_t n = 0;
    char *p = text, *end = text + len;
    while (p < end && n < max) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

/* A stored librdkafka batch: its compressed records decompress to what the
 * other decoders got, and those bytes are the batch's records: rebuilt as an
 * uncompressed batch they validate, and the values are kcat's input lines. */
START_TEST(test_librdkafka_batch)
{
    int codec = KL_CODEC_GZIP + _i;
    char name[64];
    size_t len, records_len, text_len;
    snprintf(name, sizeof name, "%s.batch", batch_names[_i]);
    uint8_t *batch = load(name, &len);
    snprintf(name, sizeof name, "%s.records", batch_names[_i]);
    uint8_t *records = load(name, &records_len);
    char *text = (char *)load("lines.txt", &text_len);

    kl_batch_header_t h;
    sd_err_t err;
    ck_assert_int_eq(kl_batch_validate(batch, len, 0, 0, &h, &err), 0);
    ck_assert_int_eq((size_t)kl_batch_total_size(&h), len);
    ck_assert_int_eq(h.attributes & KL_ATTR_CODEC_MASK, codec);
    ck_assert_int_eq(h.records_count, 64);

    sd_writer_t w;
    sd_writer_init(&w);
    sd_write_bytes(&w, batch, KL_BATCH_HEADER_SIZE);
    int rc = kl_codec_decompress(codec, batch + KL_BATCH_HEADER_SIZE, len - KL_BATCH_HEADER_SIZE,
                                 ONE_MB, &w, &err);
    ck_assert_msg(rc == 0, "%s: %s", batch_names[_i], err.msg);
    ck_assert_uint_eq(w.len - KL_BATCH_HEADER_SIZE, records_len);
    ck_assert(memcmp(w.buf + KL_BATCH_HEADER_SIZE, records, records_len) == 0);

    /* The same batch, uncompressed. */
    sd_put_be16(w.buf + KL_BATCH_OFF_ATTRIBUTES, (uint16_t)(h.attributes & ~KL_ATTR_CODEC_MASK));
    sd_put_be32(w.buf + KL_BATCH_OFF_LENGTH, (uint32_t)(w.len - KL_BATCH_LOG_OVERHEAD));
    sd_put_be32(w.buf + KL_BATCH_OFF_CRC, kl_batch_compute_crc(w.buf, w.len));
    kl_batch_header_t plain;
    rc = kl_batch_validate(w.buf, w.len, KL_BATCH_FROM_CLIENT, 0, &plain, &err);
    ck_assert_msg(rc == 0, "%s: %s", batch_names[_i], err.msg);

    char *lines[80];
    size_t n_lines = split_lines(text, text_len, lines, 80);
    ck_assert_uint_eq(n_lines, 64);
    kl_record_iter_t it;
    kl_record_t rec;
    ck_assert_int_eq(kl_record_iter_init(&it, w.buf, w.len), 0);
    size_t i = 0;
    while ((rc = kl_record_iter_next(&it, &rec, NULL)) == 1) {
        ck_assert_uint_lt(i, n_lines);
        ck_assert_int_eq(rec.key_len, -1);
        ck_assert_int_eq(rec.value_len, (int32_t)strlen(lines[i]));
        ck_assert(memcmp(rec.value, lines[i], strlen(lines[i])) == 0);
        i++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(i, 64);

    sd_writer_free(&w);
    free(batch);
    free(records);
    free(text);
}
END_TEST

/* ------------------------------------------ several members, frames, streams */

START_TEST(test_gzip_members_and_zlib)
{
    size_t n = 100000;
    uint8_t *src = make_payload(n);
    sd_writer_t c;
    sd_writer_init(&c);
    compress_ok(KL_CODEC_GZIP, src, 30000, &c);
    compress_ok(KL_CODEC_GZIP, src + 30000, 0, &c); /* an empty member too */
    compress_ok(KL_CODEC_GZIP, src + 30000, n - 30000, &c);
    expect_decompress(KL_CODEC_GZIP, c.buf, c.len, src, n, "three gzip members");

    /* A zlib stream (not gzip) is accepted as well. */
    uLongf zlen = compressBound(n);
    uint8_t *z = malloc(zlen);
    ck_assert_int_eq(compress2(z, &zlen, src, n, 6), Z_OK);
    expect_decompress(KL_CODEC_GZIP, z, zlen, src, n, "zlib stream");
    free(z);
    sd_writer_free(&c);
    free(src);
}
END_TEST

START_TEST(test_snappy_raw_and_concatenated)
{
    size_t n = 100000;
    uint8_t *src = make_payload(n);
    /* Raw snappy, as librdkafka writes it. */
    size_t raw_len = snappy_max_compressed_length(n);
    uint8_t *raw = malloc(raw_len);
    ck_assert_int_eq(snappy_compress((const char *)src, n, (char *)raw, &raw_len), SNAPPY_OK);
    expect_decompress(KL_CODEC_SNAPPY, raw, raw_len, src, n, "raw snappy");

    /* Two xerial streams back to back, headers and all (snappy-java reads
     * these). */
    sd_writer_t c;
    sd_writer_init(&c);
    compress_ok(KL_CODEC_SNAPPY, src, 40000, &c);
    compress_ok(KL_CODEC_SNAPPY, src + 40000, n - 40000, &c);
    expect_decompress(KL_CODEC_SNAPPY, c.buf, c.len, src, n, "two xerial streams");

    /* A bare xerial header is an empty stream. */
    expect_decompress(KL_CODEC_SNAPPY, c.buf, 16, NULL, 0, "xerial header alone");
    sd_writer_free(&c);
    free(raw);
    free(src);
}
END_TEST

START_TEST(test_lz4_frames)
{
    size_t n = ONE_MB;
    uint8_t *src = make_payload(n);
    sd_writer_t c;
    sd_writer_init(&c);

    /* Linked blocks (the library default, which Kafka's Java reader refuses
     * but other writers may use) with a content size and both checksums. */
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.contentSize = 200000;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    size_t bound = LZ4F_compressFrameBound(200000, &prefs);
    ck_assert_int_eq(sd_writer_reserve(&c, bound), 0);
    size_t r = LZ4F_compressFrame(c.buf, bound, src, 200000, &prefs);
    ck_assert(!LZ4F_isError(r));
    c.len = r;
    /* A skippable frame between the two: magic 0x184D2A5?, length, data. */
    static const uint8_t skippable[] = {0x53, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'};
    sd_write_bytes(&c, skippable, sizeof skippable);
    compress_ok(KL_CODEC_LZ4, src + 200000, n - 200000, &c);
    expect_decompress(KL_CODEC_LZ4, c.buf, c.len, src, n, "lz4 frames");
    sd_writer_free(&c);
    free(src);
}
END_TEST

START_TEST(test_zstd_frames)
{
    size_t n = ONE_MB;
    uint8_t *src = make_payload(n);
    sd_writer_t c;
    sd_writer_init(&c);

    /* Streamed without a pledged size, as the Java client writes: no
     * content size in the frame header. */
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ck_assert_ptr_nonnull(cctx);
    size_t bound = ZSTD_compressBound(300000);
    ck_assert_int_eq(sd_writer_reserve(&c, bound), 0);
    ZSTD_outBuffer out = {c.buf, bound, 0};
    for (size_t pos = 0; pos < 300000; pos += 60000) {
        ZSTD_inBuffer in = {src + pos, 60000, 0};
        while (in.pos < in.size)
            ck_assert(!ZSTD_isError(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue)));
    }
    ZSTD_inBuffer none = {NULL, 0, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(cctx, &out, &none, ZSTD_e_end);
        ck_assert(!ZSTD_isError(left));
    } while (left != 0);
    ZSTD_freeCCtx(cctx);
    c.len = out.pos;
    ck_assert(ZSTD_getFrameContentSize(c.buf, c.len) == ZSTD_CONTENTSIZE_UNKNOWN);
    /* A skippable frame: magic 0x184D2A5?, 4-byte length, data. */
    static const uint8_t skippable[] = {0x5e, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 'h', 'i'};
    sd_write_bytes(&c, skippable, sizeof skippable);
    compress_ok(KL_CODEC_ZSTD, src + 300000, n - 300000, &c);
    expect_decompress(KL_CODEC_ZSTD, c.buf, c.len, src, n, "zstd frames");
    sd_writer_free(&c);
    free(src);
}
END_TEST

/* ------------------------------------------------ truncated and corrupted */

/* An input under test and the bytes it must give. */
typedef struct sample {
    char name[64];
    int codec;
    uint8_t *data;
    size_t len;
    const uint8_t *expect;
    size_t expect_len;
    int several;
    int checksummed; /* corruption of the content cannot go unnoticed */
} sample_t;

/* The fixtures, the librdkafka batches' records, and our own output for
 * kafka_python.raw. Caller frees with free_samples. */
static size_t load_samples(sample_t *s, size_t max, uint8_t **raw)
{
    size_t n = 0, raw_len;
    *raw = load("kafka_python.raw", &raw_len);
    for (int i = 0; i < N_FIXTURES; i++) {
        ck_assert_uint_lt(n, max);
        sample_t *x = &s[n++];
        snprintf(x->name, sizeof x->name, "%s", fixtures[i].file);
        x->codec = fixtures[i].codec;
        x->data = load(fixtures[i].file, &x->len);
        x->expect = *raw;
        x->expect_len = raw_len;
        x->several = fixtures[i].several;
        /* gzip members end in a CRC-32; the CLI's lz4 and zstd frames carry
         * a content checksum. */
        x->checksummed = x->codec == KL_CODEC_GZIP || strncmp(x->name, "cli_", 4) == 0;
    }
    for (int i = 0; i < N_BATCHES; i++) {
        char file[64];
        size_t len;
        snprintf(file, sizeof file, "%s.batch", batch_names[i]);
        uint8_t *batch = load(file, &len);
        ck_assert_uint_lt(n, max);
        sample_t *x = &s[n++];
        snprintf(x->name, sizeof x->name, "%s records", batch_names[i]);
        x->codec = KL_CODEC_GZIP + i;
        x->len = len - KL_BATCH_HEADER_SIZE;
        x->data = malloc(x->len);
        memcpy(x->data, batch + KL_BATCH_HEADER_SIZE, x->len);
        free(batch);
        /* The records differ between batches only in their timestamps, so
         * the expected bytes are this batch's own decoded records. */
        snprintf(file, sizeof file, "%s.records", batch_names[i]);
        x->expect = load(file, &len);
        x->expect_len = len;
        x->several = 0;
        x->checksummed = x->codec == KL_CODEC_GZIP;
    }
    for (int codec = KL_CODEC_GZIP; codec <= KL_CODEC_ZSTD; codec++) {
        ck_assert_uint_lt(n, max);
        sample_t *x = &s[n++];
        snprintf(x->name, sizeof x->name, "our %s", kl_codec_name(codec));
        sd_writer_t w;
        sd_writer_init(&w);
        compress_ok(codec, *raw, raw_len, &w);
        x->codec = codec;
        x->data = sd_writer_steal(&w, &x->len);
        x->expect = *raw;
        x->expect_len = raw_len;
        x->several = codec == KL_CODEC_SNAPPY; /* xerial: two blocks */
        x->checksummed = codec == KL_CODEC_GZIP;
    }
    return n;
}

static void free_samples(sample_t *s, size_t n, uint8_t *raw)
{
    for (size_t i = 0; i < n; i++) {
        if (strncmp(s[i].name, "our ", 4) == 0)
            sd_free(s[i].data);
        else
            free(s[i].data);
        if (s[i].expect != raw)
            free((void *)s[i].expect);
    }
    free(raw);
}

/* Every cut fails as corrupt, leaving the writer as it was, unless it falls
 * between two members / frames / xerial blocks: then what decodes is a
 * prefix of the whole. */
START_TEST(test_every_truncation)
{
    sample_t s[20];
    uint8_t *raw;
    size_t n = load_samples(s, 20, &raw);
    sd_writer_t w;
    sd_writer_init(&w);
    for (size_t k = 0; k < n; k++) {
        size_t prefixes = 0;
        for (size_t cut = 0; cut < s[k].len; cut++) {
            sd_writer_reset(&w);
            sd_write_bytes(&w, "keep", 4);
            sd_err_t err;
            int rc = kl_codec_decompress(s[k].codec, s[k].data, cut, s[k].expect_len, &w, &err);
            if (rc == 0) {
                ck_assert_msg(s[k].several, "%s cut at %zu decoded", s[k].name, cut);
                ck_assert_uint_lt(w.len - 4, s[k].expect_len);
                ck_assert(memcmp(w.buf + 4, s[k].expect, w.len - 4) == 0);
                prefixes++;
                continue;
            }
            ck_assert_msg(rc == KL_ERR_CORRUPT, "%s cut at %zu: %d %s", s[k].name, cut, rc,
                          err.msg);
            ck_assert_uint_eq(w.len, 4);
            ck_assert(memcmp(w.buf, "keep", 4) == 0);
            ck_assert_msg(
                strncmp(err.msg, kl_codec_name(s[k].codec), strlen(kl_codec_name(s[k].codec))) == 0,
                "%s: message does not name the codec: %s", s[k].name, err.msg);
        }
        /* Two units: a cut right after the first one (and at most a few
         * more places for xerial's block boundaries) decodes. */
        if (s[k].several)
            ck_assert_msg(prefixes >= 1 && prefixes <= 4, "%s: %zu cuts decoded", s[k].name,
                          prefixes);
    }
    sd_writer_free(&w);
    free_samples(s, n, raw);
}
END_TEST

/* Flipping any one byte never crashes or runs past the cap; with a checksum
 * the result is an error or (for bytes outside the content, such as the gzip
 * header's mtime) the right data. */
START_TEST(test_flipped_bytes)
{
    sample_t s[20];
    uint8_t *raw;
    size_t n = load_samples(s, 20, &raw);
    sd_writer_t w;
    sd_writer_init(&w);
    for (size_t k = 0; k < n; k++) {
        uint8_t *copy = malloc(s[k].len);
        size_t cap = 2 * s[k].expect_len;
        for (size_t i = 0; i < s[k].len; i++) {
            memcpy(copy, s[k].data, s[k].len);
            copy[i] ^= 0xff;
            sd_writer_reset(&w);
            sd_err_t err;
            int rc = kl_codec_decompress(s[k].codec, copy, s[k].len, cap, &w, &err);
            ck_assert_msg(rc == 0 || rc == KL_ERR_CORRUPT || rc == SD_ERR_TOO_LARGE,
                          "%s byte %zu: %d %s", s[k].name, i, rc, err.msg);
            if (rc != 0) {
                ck_assert_uint_eq(w.len, 0);
                continue;
            }
            ck_assert_uint_le(w.len, cap);
            if (s[k].checksummed)
                ck_assert_msg(w.len == s[k].expect_len && memcmp(w.buf, s[k].expect, w.len) == 0,
                              "%s byte %zu: wrong data passed the checksum", s[k].name, i);
        }
        free(copy);
    }
    sd_writer_free(&w);
    free_samples(s, n, raw);
}
END_TEST

static void expect_error(int codec, const uint8_t *src, size_t len, int code, const char *text)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_err_t err;
    int rc = kl_codec_decompress(codec, src, len, ONE_MB, &w, &err);
    ck_assert_msg(rc == code, "%s: got %d (%s), expected %d", kl_codec_name(codec), rc,
                  rc ? err.msg : "", code);
    ck_assert_msg(strstr(err.msg, text) != NULL, "message '%s' lacks '%s'", err.msg, text);
    ck_assert_uint_eq(w.len, 0);
    sd_writer_free(&w);
}

/* Damage whose outcome is known: checksums, lengths, trailing bytes. */
START_TEST(test_known_corruptions)
{
    size_t len;
    uint8_t *batch = load("librdkafka_gzip.batch", &len);
    uint8_t *gz = batch + KL_BATCH_HEADER_SIZE;
    size_t gz_len = len - KL_BATCH_HEADER_SIZE;
    uint8_t *buf = malloc(gz_len + 8);

    /* gzip: the CRC-32 in the trailer; bytes after the last member. */
    memcpy(buf, gz, gz_len);
    buf[gz_len - 8] ^= 1;
    expect_error(KL_CODEC_GZIP, buf, gz_len, KL_ERR_CORRUPT, "incorrect data check");
    memcpy(buf, gz, gz_len);
    memcpy(buf + gz_len, "junk", 4);
    expect_error(KL_CODEC_GZIP, buf, gz_len + 4, KL_ERR_CORRUPT, "member 2");
    buf[gz_len] = 0;
    expect_error(KL_CODEC_GZIP, buf, gz_len + 1, KL_ERR_CORRUPT, "gzip: input ends");
    free(buf);
    free(batch);

    /* raw snappy: a byte too many, a length varint that never ends. */
    batch = load("librdkafka_snappy.batch", &len);
    size_t sn_len = len - KL_BATCH_HEADER_SIZE;
    buf = malloc(sn_len + 1);
    memcpy(buf, batch + KL_BATCH_HEADER_SIZE, sn_len);
    buf[sn_len] = 0;
    expect_error(KL_CODEC_SNAPPY, buf, sn_len + 1, KL_ERR_CORRUPT, "snappy: block at byte 0");
    static const uint8_t endless[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_error(KL_CODEC_SNAPPY, endless, sizeof endless, KL_ERR_CORRUPT, "no valid length");
    free(buf);
    free(batch);

    /* xerial: a block longer than what is left; a cut header. */
    uint8_t *x = load("kafka_python_snappy_xerial.bin", &len);
    sd_put_be32(x + 16, 0x7fffffff);
    expect_error(KL_CODEC_SNAPPY, x, len, KL_ERR_CORRUPT, "declares 2147483647 bytes");
    sd_put_be32(x + 16, 0x80000000u);
    expect_error(KL_CODEC_SNAPPY, x, len, KL_ERR_CORRUPT, "declares");
    expect_error(KL_CODEC_SNAPPY, x, 12, KL_ERR_CORRUPT, "xerial header at byte 0 is cut short");
    free(x);

    /* lz4: the frame descriptor's checksum; a byte after the frame. */
    batch = load("librdkafka_lz4.batch", &len);
    size_t lz_len = len - KL_BATCH_HEADER_SIZE;
    buf = malloc(lz_len + 1);
    memcpy(buf, batch + KL_BATCH_HEADER_SIZE, lz_len);
    buf[6] ^= 1; /* FLG, BD, then HC (no content size) */
    expect_error(KL_CODEC_LZ4, buf, lz_len, KL_ERR_CORRUPT, "lz4: frame at byte 0");
    memcpy(buf, batch + KL_BATCH_HEADER_SIZE, lz_len);
    buf[lz_len] = 0x04;
    expect_error(KL_CODEC_LZ4, buf, lz_len + 1, KL_ERR_CORRUPT, "lz4: ");
    free(buf);
    free(batch);

    /* lz4 content checksum (the CLI writes one, last 4 bytes). */
    uint8_t *l = load("cli_lz4_two_frames.bin", &len);
    l[len - 1] ^= 1;
    expect_error(KL_CODEC_LZ4, l, len, KL_ERR_CORRUPT, "lz4: frame at byte");
    free(l);

    /* zstd: the checksum of the CLI's frames; a byte after the frame. */
    uint8_t *z = load("cli_zstd_two_frames.bin", &len);
    z[len - 1] ^= 1;
    expect_error(KL_CODEC_ZSTD, z, len, KL_ERR_CORRUPT, "zstd: frame at byte");
    free(z);
    batch = load("librdkafka_zstd.batch", &len);
    size_t zs_len = len - KL_BATCH_HEADER_SIZE;
    buf = malloc(zs_len + 1);
    memcpy(buf, batch + KL_BATCH_HEADER_SIZE, zs_len);
    buf[zs_len] = 0x28;
    expect_error(KL_CODEC_ZSTD, buf, zs_len + 1, KL_ERR_CORRUPT, "zstd: ");
    free(buf);
    free(batch);
}
END_TEST

/* --------------------------------------------------------------- max_out */

/* A small input that inflates hugely: 16 MiB of zeros, decompressed with a
 * 1 MiB cap. The call fails without having allocated anywhere near 16 MiB. */
START_TEST(test_max_out_bomb)
{
    int codec = KL_CODEC_GZIP + _i;
    size_t n = 16 * ONE_MB;
    uint8_t *zeros = calloc(n, 1);
    sd_writer_t c, d;
    sd_writer_init(&c);
    sd_writer_init(&d);
    compress_ok(codec, zeros, n, &c);
    ck_assert_uint_lt(c.len, n / 16);
    sd_err_t err;
    int rc = kl_codec_decompress(codec, c.buf, c.len, ONE_MB, &d, &err);
    ck_assert_int_eq(rc, SD_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(err.msg, kl_codec_name(codec)));
    ck_assert_ptr_nonnull(strstr(err.msg, "1048576"));
    ck_assert_uint_eq(d.len, 0);
    ck_assert_uint_le(d.cap, 4 * ONE_MB);
    /* The exact size passes. */
    rc = kl_codec_decompress(codec, c.buf, c.len, n, &d, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(d.len, n);
    sd_writer_free(&c);
    sd_writer_free(&d);
    free(zeros);
}
END_TEST

START_TEST(test_max_out_declared_sizes)
{
    /* Raw snappy declares its size up front: refused before allocating. */
    size_t n = 16 * ONE_MB;
    uint8_t *zeros = calloc(n, 1);
    size_t raw_len = snappy_max_compressed_length(n);
    uint8_t *raw = malloc(raw_len);
    ck_assert_int_eq(snappy_compress((const char *)zeros, n, (char *)raw, &raw_len), SNAPPY_OK);
    sd_writer_t d;
    sd_writer_init(&d);
    sd_err_t err;
    ck_assert_int_eq(kl_codec_decompress(KL_CODEC_SNAPPY, raw, raw_len, ONE_MB, &d, &err),
                     SD_ERR_TOO_LARGE);
    ck_assert_uint_eq(d.cap, 0);
    free(raw);

    /* A varint claiming 4 GiB - 1 in six bytes. */
    static const uint8_t claim[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    ck_assert_int_eq(kl_codec_decompress(KL_CODEC_SNAPPY, claim, sizeof claim, ONE_MB, &d, &err),
                     SD_ERR_TOO_LARGE);
    ck_assert_uint_eq(d.cap, 0);

    /* A zstd frame header asking for a 1 GiB window: magic, descriptor (no
     * content size, not single-segment), window byte (exponent 20: 2^30),
     * then a last raw block of one byte. */
    static const uint8_t window[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x09, 0x00, 0x00, 'a'};
    ck_assert_int_eq(kl_codec_decompress(KL_CODEC_ZSTD, window, sizeof window, ONE_MB, &d, &err),
                     SD_ERR_TOO_LARGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "window"));
    /* A modest window (2^21, as librdkafka writes) with a 1 MiB cap is fine. */
    static const uint8_t small_window[] = {0x28,    0xb5, 0x2f, 0xfd, 0x00,
                                           11 << 3, 0x09, 0x00, 0x00, 'a'};
    ck_assert_int_eq(
        kl_codec_decompress(KL_CODEC_ZSTD, small_window, sizeof small_window, ONE_MB, &d, &err), 0);
    ck_assert_uint_eq(d.len, 1);
    ck_assert_uint_eq(d.buf[0], 'a');
    sd_writer_free(&d);
    free(zeros);
}
END_TEST

/* ------------------------------------------------------- allocation failure */

START_TEST(test_alloc_failure)
{
    int codec = _i;
    size_t n = 200000;
    uint8_t *src = make_payload(n);
    sd_writer_t good;
    sd_writer_init(&good);
    compress_ok(codec, src, n, &good);
    for (long k = 0; k < 24; k++) {
        sd_writer_t w;
        sd_writer_init(&w);
        sd_err_t err;
        sd_alloc_fail_after(k);
        int rc = kl_codec_compress(codec, src, n, &w, &err);
        sd_alloc_fail_after(-1);
        ck_assert_msg(rc == 0 || rc == SD_ERR_NOMEM, "%s compress, fail after %ld: %d",
                      kl_codec_name(codec), k, rc);
        if (rc == 0)
            expect_decompress(codec, w.buf, w.len, src, n, "compressed under failures");
        sd_writer_free(&w);

        sd_writer_init(&w);
        sd_alloc_fail_after(k);
        rc = kl_codec_decompress(codec, good.buf, good.len, n, &w, &err);
        sd_alloc_fail_after(-1);
        ck_assert_msg(rc == 0 || rc == SD_ERR_NOMEM, "%s decompress, fail after %ld: %d",
                      kl_codec_name(codec), k, rc);
        if (rc == 0)
            ck_assert(w.len == n && memcmp(w.buf, src, n) == 0);
        else
            ck_assert_uint_eq(w.len, 0);
        sd_writer_free(&w);
    }
    sd_writer_free(&good);
    free(src);
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("kl_codec");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_names);
    tcase_add_loop_test(tc, test_roundtrip, KL_CODEC_NONE, KL_CODEC_ZSTD + 1);
    tcase_add_test(tc, test_unknown_codec);
    tcase_add_test(tc, test_empty_input);
    tcase_add_loop_test(tc, test_fixture, 0, N_FIXTURES);
    tcase_add_loop_test(tc, test_librdkafka_batch, 0, N_BATCHES);
    tcase_add_test(tc, test_gzip_members_and_zlib);
    tcase_add_test(tc, test_snappy_raw_and_concatenated);
    tcase_add_test(tc, test_lz4_frames);
    tcase_add_test(tc, test_zstd_frames);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_flipped_bytes);
    tcase_add_test(tc, test_known_corruptions);
    tcase_add_loop_test(tc, test_max_out_bomb, 0, 4);
    tcase_add_test(tc, test_max_out_declared_sizes);
    tcase_add_loop_test(tc, test_alloc_failure, KL_CODEC_NONE, KL_CODEC_ZSTD + 1);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(codec_suite()); }
