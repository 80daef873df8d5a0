/*
 * fuzz_request.c - libFuzzer target for the Kafka request decoders: a request
 * frame (without its 4-byte size) goes through kp_request_header_decode and
 * the generated body decoder for its api key and version. The body is also
 * decoded as that API's response, to cover the response decoders.
 *
 * Beyond "no crash, no over-read", every message that decodes must re-encode
 * without error, and decoding that encoding and encoding again must give the
 * same bytes (the encoding of a decoded message is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kp_messages.h"
#include "protocol/kp_types.h"

static kp_arena_t *arena;

static int decode(int is_request, int16_t key, int16_t version, sd_reader_t *r, void **msg)
{
    return is_request ? kp_request_decode_any(key, version, r, arena, msg)
                      : kp_response_decode_any(key, version, r, arena, msg);
}

static void encode(int is_request, int16_t key, int16_t version, kp_out_t *o, const void *msg)
{
    if (is_request)
        kp_request_encode_any(key, version, o, msg);
    else
        kp_response_encode_any(key, version, o, msg);
}

static void check_canonical(int is_request, int16_t key, int16_t version, const void *msg)
{
    kp_out_t first, second;
    sd_reader_t r;
    void *copy = NULL;

    kp_out_init(&first);
    kp_out_init(&second);
    encode(is_request, key, version, &first, msg);
    if (kp_out_error(&first) || first.nsplices)
        abort();
    sd_reader_init(&r, first.w.buf, first.w.len);
    if (decode(is_request, key, version, &r, &copy) || sd_reader_left(&r))
        abort();
    encode(is_request, key, version, &second, copy);
    if (kp_out_error(&second) || second.w.len != first.w.len ||
        (first.w.len && memcmp(first.w.buf, second.w.buf, first.w.len)))
        abort();
    kp_out_free(&first);
    kp_out_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_reader_t r;
    kp_request_header_t h;
    void *msg = NULL;

    if (!arena && !(arena = kp_arena_new()))
        abort();
    kp_arena_reset(arena);

    sd_reader_init(&r, data, size);
    if (kp_request_header_decode(&r, &h))
        return 0;
    size_t body_at = r.pos;
    if (kp_request_decode_any(h.api_key, h.api_version, &r, arena, &msg) == 0)
        check_canonical(1, h.api_key, h.api_version, msg);
    else if (!r.err)
        abort(); /* a failure always says why */

    sd_reader_init(&r, data + body_at, size - body_at);
    if (kp_response_decode_any(h.api_key, h.api_version, &r, arena, &msg) == 0)
        check_canonical(0, h.api_key, h.api_version, msg);
    else if (!r.err)
        abort();
    return 0;
}
