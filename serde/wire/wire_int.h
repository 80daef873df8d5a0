/*
 * wire_int.h - the wire-format encoder for Strand's own serializers, which
 * build a record in an sd_writer_t (strand/wire.h is the public API).
 */
#ifndef STRAND_WIRE_INT_H
#define STRAND_WIRE_INT_H

#include "base/bytes.h"
#include "base/error.h"
#include "strand/wire.h"

/* Appends magic 0, id and (index_count > 0) the message-index path to w.
 * Returns 0, or a negative code with err filled (bad indexes, or
 * SD_ERR_NOMEM when w could not grow). */
int wire__write_id(sd_writer_t *w, int32_t id, const int32_t *indexes, size_t index_count,
                   sd_err_t *err);
/* The same with magic 1 and a GUID. */
int wire__write_guid(sd_writer_t *w, const uint8_t guid[16], const int32_t *indexes,
                     size_t index_count, sd_err_t *err);

/* strand_wire_decode over sd_err_t, for callers inside the library. */
int wire__decode(const void *value, size_t len, int flags, strand_wire_frame_t *out, sd_err_t *err);

#endif
