/*
 * fuzz_codec.c - libFuzzer target for the record batch codecs (kl_codec.c).
 * The first byte picks the codec by its low 3 bits (so the unknown ids 5-7
 * are tried too); the rest is decompressed with a 1 MiB cap, appended after a
 * few bytes already in the writer. A failure must leave the writer as it was
 * and report a known code with a message naming the codec; a success must
 * stay within the cap, and what it decoded must come back unchanged through
 * our own compressor and decompressor. The seeds are a codec byte followed by
 * files from tests/data/codec/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "storage/kl_codec.h"
#include "storage/kl_log.h"

#define CAP ((size_t)1 << 20)
/* Round trips cost a compression each; bombs that reach the cap skip it. */
#define ROUND_TRIP_MAX ((size_t)256 << 10)

static const uint8_t prefix[] = {'k', 'e', 'e', 'p'};

static void round_trip(int codec, const uint8_t *data, size_t size)
{
    sd_writer_t c, d;
    sd_writer_init(&c);
    sd_writer_init(&d);
    sd_err_t err;
    if (kl_codec_compress(codec, data, size, &c, &err) != 0)
        abort();
    if (kl_codec_decompress(codec, c.buf, c.len, size, &d, &err) != 0)
        abort();
    if (d.len != size || (size && memcmp(d.buf, data, size) != 0))
        abort();
    sd_writer_free(&c);
    sd_writer_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int codec = data[0] & 7;
    const uint8_t *src = data + 1;
    size_t len = size - 1;

    sd_writer_t w;
    sd_writer_init(&w);
    sd_write_bytes(&w, prefix, sizeof prefix);
    sd_err_t err;
    int rc = kl_codec_decompress(codec, src, len, CAP, &w, &err);
    if (w.len < sizeof prefix || memcmp(w.buf, prefix, sizeof prefix) != 0)
        abort();
    size_t produced = w.len - sizeof prefix;
    if (rc == 0) {
        if (produced > CAP)
            abort();
        if (codec == KL_CODEC_NONE && (produced != len || memcmp(w.buf + sizeof prefix, src, len)))
            abort();
        if (produced <= ROUND_TRIP_MAX)
            round_trip(codec, w.buf + sizeof prefix, produced);
    } else {
        if (rc != KL_ERR_CORRUPT && rc != SD_ERR_TOO_LARGE)
            abort();
        if (err.code != rc || produced != 0)
            abort();
        const char *name = codec <= KL_CODEC_ZSTD ? kl_codec_name(codec) : "unknown";
        if (strncmp(err.msg, name, strlen(name)) != 0)
            abort();
    }
    sd_writer_free(&w);
    return 0;
}
