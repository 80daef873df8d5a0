/*
 * avro_codec.h - the bridge from Strand's Avro schema model to avro-c, which
 * does the binary encoding and decoding of values under a known schema.
 */
#ifndef STRAND_AVRO_CODEC_H
#define STRAND_AVRO_CODEC_H

#include <avro.h>

#include "avro/avro_model.h"

/* Builds the avro-c schema of a parsed schema (from its Parsing Canonical
 * Form: avro-c ignores the attributes that form drops). On success *out is a
 * new avro-c schema the caller releases with avro_schema_decref. Fails with
 * SD_AVRO_ERR_SCHEMA for what avro-c cannot represent (an empty union or an
 * empty enum). */
int sd_avro_to_avro_c(const sd_avro_schema_t *schema, avro_schema_t *out, sd_err_t *err);

#endif
