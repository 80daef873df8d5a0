/*
 * fuzz_wire.c - libFuzzer target for the wire-format decoder (wire.c). The
 * first byte chooses the mode: bit 0 the Protobuf index path, bits 1-2 a
 * value prefix, a header value, or a record split into header and value at
 * the second byte. A success must point its payload inside the input and
 * re-encode to a framing that decodes to the same frame; a failure must
 * carry a known code and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strand/wire.h"

static void check_error(int rc, const strand_wire_error_t *err)
{
    if (rc != STRAND_WIRE_ERR_TRUNCATED && rc != STRAND_WIRE_ERR_INVALID &&
        rc != STRAND_WIRE_ERR_MAGIC && rc != STRAND_WIRE_ERR_INDEXES)
        abort();
    if (err->code != rc || !err->message[0])
        abort();
}

static void check_frame(const strand_wire_frame_t *f, int flags)
{
    if (!(flags & STRAND_WIRE_PROTOBUF) && f->index_count != 0)
        abort();
    if ((flags & STRAND_WIRE_PROTOBUF) && f->index_count == 0)
        abort();
    uint8_t buf[STRAND_WIRE_PREFIX_MAX];
    strand_wire_error_t err;
    int n =
        f->kind == STRAND_WIRE_ID
            ? strand_wire_encode_id(f->id, f->indexes, f->index_count, buf, sizeof buf, &err)
            : strand_wire_encode_guid(f->guid, f->indexes, f->index_count, buf, sizeof buf, &err);
    if (n <= 0)
        abort();
    strand_wire_frame_t again;
    if (strand_wire_decode_header(buf, (size_t)n, flags, &again, &err) != 0)
        abort();
    if (again.kind != f->kind || again.index_count != f->index_count)
        abort();
    if (f->kind == STRAND_WIRE_ID ? again.id != f->id : memcmp(again.guid, f->guid, 16) != 0)
        abort();
    if (memcmp(again.indexes, f->indexes, f->index_count * sizeof f->indexes[0]) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int flags = (data[0] & 1) ? STRAND_WIRE_PROTOBUF : 0;
    int mode = (data[0] >> 1) & 3;
    data++;
    size--;
    /* A copy of exactly the input, so that any overread is caught. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    strand_wire_frame_t f;
    strand_wire_error_t err = {0};
    int rc;
    if (mode == 0 || mode == 3) {
        rc = strand_wire_decode(copy, size, flags, &f, &err);
        if (rc == 0 && (f.payload < copy || f.payload + f.payload_len != copy + size))
            abort();
    } else if (mode == 1) {
        rc = strand_wire_decode_header(copy, size, flags, &f, &err);
        if (rc == 0 && f.payload)
            abort();
    } else {
        size_t split = size ? copy[0] % (size + 1) : 0;
        const uint8_t *header = size ? copy + 1 : copy;
        size_t header_len = split > 0 ? split - 1 : 0;
        const uint8_t *value = copy + (split > 0 ? split : 0);
        size_t value_len = size - (split > 0 ? split : 0);
        rc = strand_wire_decode_record(value, value_len, split > 0 ? header : NULL, header_len,
                                       flags, &f, &err);
        if (rc == 0 && (f.payload < copy || f.payload + f.payload_len > copy + size))
            abort();
    }
    if (rc == 0)
        check_frame(&f, flags);
    else
        check_error(rc, &err);
    free(copy);
    return 0;
}
