/*
 * strand/serde.h - Confluent-compatible serializers and deserializers for
 * Kafka record keys and values: every value is checked against its schema,
 * framed with Confluent's wire format (strand/wire.h), and its schema
 * registered or looked up through the caching registry client
 * (strand/registry_client.h). Avro now; Protobuf and JSON Schema plug in
 * behind the same calls later (today they fail with
 * STRAND_SERDE_ERR_UNSUPPORTED).
 *
 * Serializing (what Confluent's serializers do, in their order):
 *   1. The subject comes from the side's subject name strategy:
 *        TopicNameStrategy        "<topic>-key" / "<topic>-value" (default)
 *        RecordNameStrategy       the schema's name (Avro: the full name of
 *                                 a record, enum or fixed; else the type name)
 *        TopicRecordNameStrategy  "<topic>-<name>"
 *   2. The schema id:
 *        auto.register.schemas=true (default): register the schema under the
 *          subject (normalize.schemas passed on); the id the registry gives;
 *        else use.schema.id=N (N >= 0): schema N; with id.compatibility.strict
 *          (default true) schema N must be able to read the client's data;
 *        else use.latest.version=true: the subject's latest version; with
 *          latest.compatibility.strict (default true) it must be able to read
 *          data written with the client's schema (Confluent's backward check:
 *          latest as reader, client schema as writer), else
 *          STRAND_SERDE_ERR_INCOMPATIBLE;
 *        else: look the schema up under the subject (it must be there).
 *      When the schema picked in 2 is not the client's own (use.schema.id,
 *      use.latest.version), the value is checked against the client's schema
 *      and projected onto the registry's by the Avro resolution rules, so the
 *      payload is always data of the schema whose id it carries.
 *   3. The value is validated (an invalid value is refused with the field
 *      path and the expected type, and no bytes) and framed: magic 0, the id
 *      as a big-endian int32, the payload. A top-level Avro "bytes" schema's
 *      payload is the bytes themselves, unprefixed. A NULL value is a
 *      tombstone: NULL out, no framing, no registry call.
 *
 * Deserializing: the schema id comes from the record's `__value_schema_id` /
 * `__key_schema_id` header when present (magic 0 + id or magic 1 + GUID;
 * the whole value is then the payload), else from the value's own prefix
 * (magic 0 + id or magic 1 + GUID). The writer schema is fetched by id or
 * GUID (once; then cached). Without a reader schema the value comes out as
 * the writer wrote it; with one (given at creation, or the subject's latest
 * version with use.latest.version=true) it is projected onto the reader by
 * the Avro resolution rules (reader defaults, enum symbols by name, numeric
 * and string/bytes promotions, union branches by name), and a writer schema
 * the reader cannot read is refused with STRAND_SERDE_ERR_INCOMPATIBLE. A
 * NULL value is a tombstone: NULL out.
 *
 * Values are Avro's JSON encoding (see strand/avro_value.h: unions as
 * {"branch": value}, bytes as ISO-8859-1 strings) or avro-c values.
 *
 * Caching and threads. Serializers and deserializers are thread-safe: any
 * number of threads may call one at the same time. Compiled schemas (the
 * parsed schema, its avro-c class and decoding plan) are cached per schema
 * id and GUID, and projections per (writer, reader) pair, for the life of
 * the object; concurrent misses on one id compile once, and the registry
 * client fetches each id once (single flight, no lock held during HTTP).
 * Hits take a shared read lock only. Each schema text is parsed once.
 *
 * Errors: functions return 0 or a negative STRAND_SERDE_ERR_* and fill the
 * caller's strand_serde_error_t (NULL is allowed) with a message naming the
 * problem: ".address.zip: expected int, got string \"x\"", "unknown magic
 * byte 0x07", "schema 42 not found in the registry (40403)".
 *
 * Ownership: output buffers and texts are the caller's, freed with
 * strand_serde_free; avro-c values with avro_value_decref. Inputs are
 * borrowed for the duration of the call.
 */
#ifndef STRAND_SERDE_H
#define STRAND_SERDE_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "strand/registry_client.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRAND_SERDE_ERROR_MAX 640

typedef struct strand_serde_error {
    int code;          /* 0, or a negative STRAND_SERDE_ERR_* */
    int registry_code; /* Confluent's error_code (40403, 42201, ...); 0 when none */
    int http_status;   /* the registry's HTTP status; 0 when none */
    char message[STRAND_SERDE_ERROR_MAX];
} strand_serde_error_t;

enum {
    STRAND_SERDE_ERR_NOMEM = -1,
    STRAND_SERDE_ERR_CONFIG = -400,         /* a property is unknown to serde or has a bad value */
    STRAND_SERDE_ERR_ARGUMENT = -401,       /* a bad argument (NULL topic, no schema given, ...) */
    STRAND_SERDE_ERR_INVALID_VALUE = -402,  /* the value does not match its schema */
    STRAND_SERDE_ERR_SCHEMA = -403,         /* a schema text that does not parse or compile */
    STRAND_SERDE_ERR_UNKNOWN_SCHEMA = -404, /* id, GUID, subject or version not in the registry */
    STRAND_SERDE_ERR_REGISTRY = -405,       /* the registry failed or refused (see registry_code) */
    STRAND_SERDE_ERR_INCOMPATIBLE = -406,   /* reader cannot read writer; a strict check failed */
    STRAND_SERDE_ERR_FRAMING = -407,        /* bad wire framing: unknown magic byte, truncated */
    STRAND_SERDE_ERR_DECODE = -408,         /* the payload is not data of its writer schema */
    STRAND_SERDE_ERR_UNSUPPORTED = -409,    /* a format or schema type not supported yet */
    STRAND_SERDE_ERR_SUBJECT = -410,        /* the strategy cannot name a subject */
};

typedef enum strand_serde_format {
    STRAND_SERDE_AVRO = 0,
    STRAND_SERDE_PROTOBUF = 1, /* not supported yet */
    STRAND_SERDE_JSON = 2,     /* JSON Schema; not supported yet */
} strand_serde_format_t;

/* ---- configuration ------------------------------------------------------- */

/* Properties, with Confluent's names. serde's own (checked by
 * strand_serde_config_set; values case-insensitive for booleans):
 *
 *   auto.register.schemas        true (default) / false
 *   use.latest.version           false (default) / true
 *   use.schema.id                an id >= 0, or -1 (default: off)
 *   id.compatibility.strict      true (default) / false
 *   normalize.schemas            false (default) / true
 *   latest.compatibility.strict  true (default) / false
 *   key.subject.name.strategy, value.subject.name.strategy
 *                                TopicNameStrategy (default),
 *                                RecordNameStrategy, TopicRecordNameStrategy;
 *                                Confluent's class names
 *                                io.confluent.kafka.serializers.subject.X
 *                                are accepted too
 *
 * Every other property is kept and handed to the registry client when the
 * serializer or deserializer makes its own (schema.registry.url,
 * basic.auth.user.info, request.timeout.ms, latest.cache.ttl.sec, ...; see
 * strand/registry_client.h), so a program can pass its whole property set. */
typedef struct strand_serde_config strand_serde_config_t;

/* Returns a new empty configuration (all defaults) the caller frees with
 * strand_serde_config_free, or NULL when out of memory. */
strand_serde_config_t *strand_serde_config_new(void);
/* Sets one property (both strings copied; a later set replaces). A serde
 * property with a bad value fails with STRAND_SERDE_ERR_CONFIG naming it. */
int strand_serde_config_set(strand_serde_config_t *config, const char *name, const char *value,
                            strand_serde_error_t *err);
void strand_serde_config_free(strand_serde_config_t *config);

/* ---- serializer ----------------------------------------------------------- */

typedef struct strand_serializer strand_serializer_t;

/* Creates the serializer of one side (is_key: record keys, else values).
 *
 * client: an existing registry client, borrowed (it must outlive the
 *   serializer; several serializers may share one), or NULL to make one from
 *   the configuration's properties (owned and freed with the serializer).
 * config: borrowed for the call only; NULL means all defaults (then client
 *   must not be NULL).
 * schema, schema_len: the schema the values are written with (Avro JSON
 *   text; parsed and validated now, strictly, as the registry checks a new
 *   schema), or NULL: then each call gives one, or, with use.latest.version
 *   or use.schema.id, the registry's schema is used as is.
 *
 * On success *out is a serializer the caller frees with
 * strand_serializer_free. Nothing is sent to the registry here. */
int strand_serializer_new(strand_registry_client_t *client, const strand_serde_config_t *config,
                          strand_serde_format_t format, int is_key, const char *schema,
                          size_t schema_len, strand_serializer_t **out, strand_serde_error_t *err);
/* No call may be in progress. NULL is allowed. */
void strand_serializer_free(strand_serializer_t *ser);

/* Serializes a value given as JSON text (json_len bytes, Avro's JSON
 * encoding) for `topic`. schema/schema_len override the serializer's schema
 * for this call (NULL: the serializer's); each distinct text is parsed once
 * and remembered (the first 1000 of them; later ones are parsed per call).
 * json == NULL is a tombstone: *out = NULL, *out_len = 0; the text "null" is
 * a value (a union's null branch, or a "null" schema), framed as any other.
 * On success *out holds *out_len framed bytes the caller frees with
 * strand_serde_free. On failure *out is NULL (never a partial output). */
int strand_serializer_serialize_json(strand_serializer_t *ser, const char *topic, const char *json,
                                     size_t json_len, const char *schema, size_t schema_len,
                                     uint8_t **out, size_t *out_len, strand_serde_error_t *err);
/* The same for an avro-c value (borrowed; NULL is a tombstone). Its avro-c
 * schema must equal the one the value is checked against (the call's or the
 * serializer's schema, else the registry's). */
int strand_serializer_serialize_avro(strand_serializer_t *ser, const char *topic,
                                     avro_value_t *value, const char *schema, size_t schema_len,
                                     uint8_t **out, size_t *out_len, strand_serde_error_t *err);

/* The subject the serializer uses for `topic` and a schema (the call's or
 * its own; NULL/0 for its own). *out is a NUL-terminated string the caller
 * frees with strand_serde_free. Fails with STRAND_SERDE_ERR_SUBJECT when a
 * record-name strategy has no schema to name. */
int strand_serializer_subject(strand_serializer_t *ser, const char *topic, const char *schema,
                              size_t schema_len, char **out, strand_serde_error_t *err);

/* ---- deserializer --------------------------------------------------------- */

typedef struct strand_deserializer strand_deserializer_t;

/* A Kafka record header (librdkafka's rd_kafka_header_get_all gives these
 * three). A NULL value is a header without a value. */
typedef struct strand_serde_header {
    const char *name;
    const void *value;
    size_t value_len;
} strand_serde_header_t;

/* Creates the deserializer of one side. client and config as for
 * strand_serializer_new. reader_schema (may be NULL): the schema values are
 * projected onto (parsed and validated now). With use.latest.version=true and
 * no reader schema, the subject's latest version (by the side's strategy;
 * cached for latest.cache.ttl.sec) is the reader. On success *out is a
 * deserializer the caller frees with strand_deserializer_free. */
int strand_deserializer_new(strand_registry_client_t *client, const strand_serde_config_t *config,
                            strand_serde_format_t format, int is_key, const char *reader_schema,
                            size_t reader_schema_len, strand_deserializer_t **out,
                            strand_serde_error_t *err);
void strand_deserializer_free(strand_deserializer_t *des);

/* Deserializes a record's key or value (len bytes; NULL is a tombstone) of
 * `topic` (used only with use.latest.version; may be NULL otherwise).
 * headers: the record's headers (header_count of them; NULL when none); the
 * last `__key_schema_id` / `__value_schema_id` for this side wins, as in
 * Kafka's Headers.lastHeader.
 * On success *out is compact JSON text (NUL-terminated, *out_len bytes when
 * out_len is not NULL) the caller frees with strand_serde_free, or NULL for
 * a tombstone; *schema_id (when not NULL) is the writer's id (-1 for a
 * tombstone, or when a GUID-framed schema came back without an id). */
int strand_deserializer_deserialize_json(strand_deserializer_t *des, const char *topic,
                                         const void *value, size_t len,
                                         const strand_serde_header_t *headers, size_t header_count,
                                         char **out, size_t *out_len, int32_t *schema_id,
                                         strand_serde_error_t *err);
/* The same into an avro-c value: *out is a new value of the reader's (else
 * the writer's) avro-c class the caller releases with avro_value_decref; for
 * a tombstone out->iface and out->self are NULL. */
int strand_deserializer_deserialize_avro(strand_deserializer_t *des, const char *topic,
                                         const void *value, size_t len,
                                         const strand_serde_header_t *headers, size_t header_count,
                                         avro_value_t *out, int32_t *schema_id,
                                         strand_serde_error_t *err);

/* Frees a buffer or text this library returned. NULL is allowed. */
void strand_serde_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
