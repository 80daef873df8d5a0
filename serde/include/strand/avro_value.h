/*
 * strand/avro_value.h - Avro values under a schema: validate, encode to and
 * decode from the Avro binary encoding, and project data written with one
 * schema onto another by the Avro specification's (1.11) resolution rules.
 * Values come in and go out as JSON in Avro's JSON encoding (jansson values
 * or text) and as avro-c values.
 *
 * Compiled objects. A codec (strand_avro_codec_t) is made once from a parsed
 * schema and holds everything the hot path needs: the avro-c schema and value
 * class, and the decoding plan of the schema. A resolver
 * (strand_avro_resolver_t) is made once from a writer codec and a reader
 * codec; it refuses, at creation, a pair whose data the reader cannot read,
 * and holds the projection plan (field, enum-symbol and union-branch maps,
 * reader defaults already converted). Both are refcounted, immutable after
 * creation and safe to use from any number of threads at once: each call
 * allocates its own working state. Cache them per schema id (and per
 * writer/reader id pair).
 *
 * Avro's JSON encoding, as read and written here:
 *   null -> null; boolean -> true/false; int, long -> JSON integers (in
 *   range); float, double -> JSON numbers, with "NaN", "Infinity" and
 *   "-Infinity" as strings for the values JSON cannot hold; string -> string;
 *   bytes, fixed -> a string whose code points U+0000..U+00FF are the bytes
 *   (ISO-8859-1); enum -> its symbol; array -> array; map -> object; record ->
 *   object with every field (on input a missing field takes the field's
 *   default when it has one; an unknown member is an error); union -> null
 *   for the null branch, else {"<branch>": value} where <branch> is the full
 *   name of a named type or the type name ("int", "array", "map", ...).
 *   Logical types are written as their underlying type.
 *
 * Errors. Functions return 0 or a negative code (strand/avro.h's and the
 * ones below) and fill the caller's strand_avro_error_t (NULL is allowed).
 * Value errors name the JSON path and the expected type:
 *   ".address.zip: expected int, got string \"x\""
 * ("." is the root, ".f" a record field, "[3]" an array item, "[\"k\"]" a
 * map value). Decoding errors name the byte offset and what was expected:
 *   ".address.zip: offset 12: truncated int"
 * Every decoder is bounds-checked: any bytes give a value or an error. The
 * whole input must be one value (trailing bytes are an error); strings and
 * map keys must be UTF-8; values nest at most 256 records, arrays and maps
 * deep; an array of a type that takes no bytes (null, an empty record) may
 * declare at most 65536 items per decode.
 *
 * Projection follows the specification's resolution rules: records by field
 * name or reader field alias (and record names by unqualified name, full
 * name or reader alias), writer-only fields skipped, reader-only fields
 * filled from their defaults; enums by symbol, a symbol the reader lacks
 * becoming the reader's default symbol; int -> long, float, double;
 * long -> float, double; float -> double; string <-> bytes; a writer union
 * reads the chosen branch; a reader union takes the first branch of the
 * writer's type (by name for named types), else the first the writer's type
 * promotes to; fixed by name and size; arrays and maps by their items.
 */
#ifndef STRAND_AVRO_VALUE_H
#define STRAND_AVRO_VALUE_H

#include <avro.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "strand/avro.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strand_avro_codec strand_avro_codec_t;
typedef struct strand_avro_resolver strand_avro_resolver_t;

enum {
    STRAND_AVRO_ERR_VALUE = -110,        /* a value does not match the schema */
    STRAND_AVRO_ERR_DECODE = -111,       /* bytes that are not a value of the schema */
    STRAND_AVRO_ERR_INCOMPATIBLE = -112, /* the reader cannot read the writer's data */
    STRAND_AVRO_ERR_AVRO_C = -113,       /* avro-c refused the schema or failed */
};

/* Flags of the encode and decode functions. */
enum {
    /* A schema whose root is "bytes" is encoded as the bytes themselves, with
     * no length prefix, and decoded as all the input: Confluent's payload
     * rule for a top-level bytes schema. No effect on other schemas. */
    STRAND_AVRO_RAW_BYTES = 1u << 0,
};

/* ---- codecs ------------------------------------------------------------ */

/* Compiles a parsed schema. On success *out is a codec the caller releases
 * with strand_avro_codec_free; the codec holds its own reference to the
 * schema (the caller may free its own). Fails with STRAND_AVRO_ERR_AVRO_C
 * for what avro-c cannot represent (an empty union or enum). */
int strand_avro_codec_new(strand_avro_schema_t *schema, strand_avro_codec_t **out,
                          strand_avro_error_t *err);
/* Adds a reference (for caches); returns codec. */
strand_avro_codec_t *strand_avro_codec_incref(strand_avro_codec_t *codec);
/* Drops a reference; frees with the last. NULL is allowed. */
void strand_avro_codec_free(strand_avro_codec_t *codec);

/* Borrowed, valid while the codec lives. */
const strand_avro_schema_t *strand_avro_codec_schema(const strand_avro_codec_t *codec);
avro_schema_t strand_avro_codec_avro_c_schema(const strand_avro_codec_t *codec);
avro_value_iface_t *strand_avro_codec_avro_c_class(const strand_avro_codec_t *codec);
/* 1 when the schema's root is "bytes" (STRAND_AVRO_RAW_BYTES applies). */
int strand_avro_codec_is_bytes(const strand_avro_codec_t *codec);

/* ---- JSON values --------------------------------------------------------- */

/* Checks a JSON value (borrowed) against the schema. */
int strand_avro_validate_json(const strand_avro_codec_t *codec, const json_t *value,
                              strand_avro_error_t *err);

/* Validates and encodes a JSON value (borrowed). On success *out holds *len
 * bytes the caller frees with strand_avro_free (never NULL, even for an
 * empty encoding). */
int strand_avro_encode_json(const strand_avro_codec_t *codec, const json_t *value, unsigned flags,
                            uint8_t **out, size_t *len, strand_avro_error_t *err);
/* The same from JSON text (len bytes, need not be NUL-terminated). */
int strand_avro_encode_json_text(const strand_avro_codec_t *codec, const char *text, size_t len,
                                 unsigned flags, uint8_t **out, size_t *out_len,
                                 strand_avro_error_t *err);

/* Decodes len bytes of Avro binary (the whole input must be one value) into
 * a new JSON value the caller releases with json_decref. Floats come out as
 * the double of their shortest decimal form (0.1f as 0.1), which converts
 * back to the same float. */
int strand_avro_decode_json(const strand_avro_codec_t *codec, const void *data, size_t len,
                            unsigned flags, json_t **out, strand_avro_error_t *err);
/* The same as compact JSON text, NUL-terminated, which the caller frees with
 * strand_avro_free (length in *out_len when not NULL). Written as Java's
 * Avro JSON encoder writes it: numbers as Double.toString ("1.0",
 * "1.0E10"), strings escaped like Jackson, other characters as UTF-8. */
int strand_avro_decode_json_text(const strand_avro_codec_t *codec, const void *data, size_t len,
                                 unsigned flags, char **out, size_t *out_len,
                                 strand_avro_error_t *err);

/* ---- avro-c values ------------------------------------------------------- */

/* Checks an avro-c value (borrowed): its schema must equal the codec's
 * (avro_schema_equal), and its contents must be a valid value (enum indexes
 * in range, a branch chosen in every union, fixed sizes, UTF-8 strings). */
int strand_avro_validate_value(const strand_avro_codec_t *codec, avro_value_t *value,
                               strand_avro_error_t *err);
/* Validates and encodes an avro-c value (borrowed); *out as for
 * strand_avro_encode_json. */
int strand_avro_encode_value(const strand_avro_codec_t *codec, avro_value_t *value, unsigned flags,
                             uint8_t **out, size_t *len, strand_avro_error_t *err);
/* Decodes len bytes into *out, a new value of the codec's class which the
 * caller releases with avro_value_decref (on failure *out is zeroed). One
 * pass of our own bounds-checked decoder checks the bytes and fills the
 * avro-c value (avro-c never parses them); a map key holding NUL, which
 * avro-c keeps as a C string, is refused here though the JSON decoders
 * accept it. */
int strand_avro_decode_value(const strand_avro_codec_t *codec, const void *data, size_t len,
                             unsigned flags, avro_value_t *out, strand_avro_error_t *err);

/* ---- projection (schema resolution) ------------------------------------- */

/* Builds the projection of data written with `writer` onto `reader`. Both
 * codecs are borrowed; the resolver holds its own references. Refuses, with
 * STRAND_AVRO_ERR_INCOMPATIBLE and a message naming the path, a pair where
 * some writer value could not be read: a reader field with no default that
 * the writer lacks, a writer enum symbol the reader lacks (and the reader
 * enum has no default), a writer union branch no reader branch accepts, a
 * type mismatch, fixed sizes or names that differ. On success *out is a
 * resolver the caller releases with strand_avro_resolver_free. */
int strand_avro_resolver_new(const strand_avro_codec_t *writer, const strand_avro_codec_t *reader,
                             strand_avro_resolver_t **out, strand_avro_error_t *err);
strand_avro_resolver_t *strand_avro_resolver_incref(strand_avro_resolver_t *resolver);
void strand_avro_resolver_free(strand_avro_resolver_t *resolver);

/* Decodes writer-schema binary into a reader-shaped value: as
 * strand_avro_decode_json, strand_avro_decode_json_text and
 * strand_avro_decode_value, for the reader's schema and class.
 * STRAND_AVRO_RAW_BYTES applies to the writer's schema. Fails with
 * STRAND_AVRO_ERR_DECODE on bad bytes, and on a writer's bytes that are not
 * UTF-8 where the reader has a string. The avro-c form goes through the
 * reader's binary encoding (slower than the JSON forms). */
int strand_avro_resolver_decode_json(const strand_avro_resolver_t *resolver, const void *data,
                                     size_t len, unsigned flags, json_t **out,
                                     strand_avro_error_t *err);
int strand_avro_resolver_decode_json_text(const strand_avro_resolver_t *resolver, const void *data,
                                          size_t len, unsigned flags, char **out, size_t *out_len,
                                          strand_avro_error_t *err);
int strand_avro_resolver_decode_value(const strand_avro_resolver_t *resolver, const void *data,
                                      size_t len, unsigned flags, avro_value_t *out,
                                      strand_avro_error_t *err);
/* Re-encodes writer-schema binary as reader-schema binary; *out as for
 * strand_avro_encode_json (with STRAND_AVRO_RAW_BYTES applying to both). */
int strand_avro_resolver_decode_binary(const strand_avro_resolver_t *resolver, const void *data,
                                       size_t len, unsigned flags, uint8_t **out, size_t *out_len,
                                       strand_avro_error_t *err);

#ifdef __cplusplus
}
#endif

#endif
