/*
 * avro_value_int.h - what the Avro value sources share, and the
 * writer-appending entry points the serializer uses to put a payload right
 * after its wire-format header without a copy.
 */
#ifndef STRAND_AVRO_VALUE_INT_H
#define STRAND_AVRO_VALUE_INT_H

#include "avro/avro_model.h"
#include "base/bytes.h"
#include "strand/avro_value.h"

/* Validates and appends the encoding of a JSON value (borrowed) to w. On
 * failure w may hold a partial encoding after its previous length; the
 * caller truncates (w->len) or discards it. */
int avro_value__encode_json(const strand_avro_codec_t *codec, const json_t *value, unsigned flags,
                            sd_writer_t *w, sd_err_t *err);
/* The same for an avro-c value (borrowed). */
int avro_value__encode_value(const strand_avro_codec_t *codec, avro_value_t *value,
                             unsigned flags, sd_writer_t *w, sd_err_t *err);

/* Copies an sd_err_t into the public error struct (err may be NULL);
 * returns rc. */
int avro_value__public_error(int rc, const sd_err_t *in, strand_avro_error_t *err);

#endif
