/*
 * serde_int.h - the parts of the serializer and deserializer
 * (strand/serde.h): refcounted cache entries, the single-flight maps that
 * hold them, the format interface each schema format implements (Avro in
 * serde_avro.c), the context a serializer or deserializer shares its caches
 * through (serde_context.c), and the test hooks of the fuzz target.
 */
#ifndef STRAND_SERDE_INT_H
#define STRAND_SERDE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "base/config.h"
#include "strand/avro_value.h"
#include "strand/registry_client.h"
#include "strand/serde.h"

/* ---- errors (serde_common.c) --------------------------------------------- */

/* Fills err (may be NULL) and returns code. */
int serde__error(strand_serde_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a registry client error: "<context>: <registry's message> (<code>)"
 * with a 404 becoming STRAND_SERDE_ERR_UNKNOWN_SCHEMA and a 409
 * STRAND_SERDE_ERR_INCOMPATIBLE. Returns the serde code. */
int serde__registry_error(strand_serde_error_t *err, const strand_registry_error_t *from,
                          const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void serde__clear_error(strand_serde_error_t *err);
/* Puts "<context>: " in front of err's message; returns rc. */
int serde__error_prefix(strand_serde_error_t *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- refcounted cache entries --------------------------------------------- */

typedef struct serde_ref serde_ref_t;
struct serde_ref {
    int refs; /* atomic */
    void (*destroy)(serde_ref_t *ref);
};

serde_ref_t *serde__retain(serde_ref_t *ref);
/* Drops one reference; the last destroys. NULL is allowed. */
void serde__release(serde_ref_t *ref);

/* ---- single-flight maps (serde_common.c) ------------------------------------
 *
 * Byte keys to refcounted entries. A hit takes the read lock only. A miss
 * inserts a pending entry and computes the value without any lock held;
 * callers missing the same key meanwhile wait for that result. Failures the
 * maker marks permanent (an incompatible pair of schemas) are remembered
 * like values; others (the registry unreachable) are not. Past `cap`
 * entries, values are made for the one caller and not kept. */

typedef struct serde_map_entry serde_map_entry_t;

typedef struct serde_map {
    pthread_rwlock_t lock;     /* the table */
    pthread_mutex_t wait_lock; /* with `done`: waiting on a pending entry */
    pthread_cond_t done;
    serde_map_entry_t **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
    size_t cap;
} serde_map_t;

/* Makes the value of a key: 0 and one reference in *out (handed to the map),
 * or a negative code with err filled and *permanent set when the failure
 * should be remembered. */
typedef int (*serde_make_fn)(void *arg, serde_ref_t **out, int *permanent,
                             strand_serde_error_t *err);

int serde__map_init(serde_map_t *map, size_t cap);
void serde__map_free(serde_map_t *map);
/* The value for key (one reference for the caller in *out) or the error. */
int serde__map_get(serde_map_t *map, const void *key, size_t key_len, serde_make_fn make, void *arg,
                   serde_ref_t **out, strand_serde_error_t *err);
/* Finds without making: one reference, or NULL. */
serde_ref_t *serde__map_find(serde_map_t *map, const void *key, size_t key_len);

/* ---- compiled schemas and the format interface ----------------------------- */

typedef struct serde_format serde_format_t;

/* A schema compiled for one format, immutable once made. */
typedef struct serde_schema {
    serde_ref_t ref;
    const serde_format_t *format;
    void *impl;    /* the format's compiled form (Avro: strand_avro_codec_t *) */
    int32_t id;    /* the registry's id; -1 for a schema the application gave */
    char guid[37]; /* the registry's GUID, "" when unknown */
    char *name;    /* what RecordNameStrategy names it by; NULL when nothing */
    char *text;    /* the text registered / looked up (Confluent's canonical text) */
    size_t text_len;
    char *identity; /* the encoding identity (Avro: Parsing Canonical Form) */
    size_t identity_len;
} serde_schema_t;

/* How data written with one schema is read with another. identity: the two
 * encode alike, no work to do. */
typedef struct serde_projection {
    serde_ref_t ref;
    serde_schema_t *writer; /* held */
    serde_schema_t *reader; /* held */
    int identity;
    void *impl; /* NULL when identity (Avro: strand_avro_resolver_t *) */
} serde_projection_t;

/* Flags of serde_format_t.compile. */
enum {
    SERDE_FROM_REGISTRY = 1u << 0, /* parsed as Confluent parses stored schemas (lenient) */
};

struct serde_format {
    strand_serde_format_t format;
    const char *schema_type; /* the registry's schemaType: "AVRO" */
    /* Compiles text (with the schemas its references name, in order) into
     * out->impl, name, text and identity. */
    int (*compile)(const char *text, size_t len, serde_schema_t *const *refs, size_t ref_count,
                   unsigned flags, serde_schema_t *out, strand_serde_error_t *err);
    void (*release)(void *impl);
    /* Validates a value (JSON text, len bytes; an avro-c value) and appends
     * its payload to w (which the caller truncates on failure). */
    int (*encode_text)(const serde_schema_t *schema, const char *text, size_t len, sd_writer_t *w,
                       strand_serde_error_t *err);
    int (*encode_avro)(const serde_schema_t *schema, avro_value_t *value, sd_writer_t *w,
                       strand_serde_error_t *err);
    /* Builds the projection's impl; a pair the reader cannot read fails with
     * STRAND_SERDE_ERR_INCOMPATIBLE. */
    int (*project_new)(const serde_schema_t *writer, const serde_schema_t *reader, void **impl,
                       strand_serde_error_t *err);
    void (*project_release)(void *impl);
    /* Appends the reader's payload for a writer's payload to w. */
    int (*project_payload)(const serde_projection_t *projection, const uint8_t *data, size_t len,
                           sd_writer_t *w, strand_serde_error_t *err);
    /* Decodes a payload of `writer`, projected when projection is not NULL,
     * into JSON text (caller frees with sd_free) or an avro-c value. */
    int (*decode_json)(const serde_schema_t *writer, const serde_projection_t *projection,
                       const uint8_t *data, size_t len, char **out, size_t *out_len,
                       strand_serde_error_t *err);
    int (*decode_avro)(const serde_schema_t *writer, const serde_projection_t *projection,
                       const uint8_t *data, size_t len, avro_value_t *out,
                       strand_serde_error_t *err);
};

extern const serde_format_t serde__avro_format;

/* The fast path of Avro JSON text to binary (serde_avro_json.c): 0 with the
 * payload appended to w, or 1 when the text needs the full path (anything
 * unusual, and every error); w is then as it was. */
int serde__avro_json_fast(const strand_avro_codec_t *codec, const char *text, size_t len,
                          sd_writer_t *w);

/* The format's implementation, or NULL with err filled
 * (STRAND_SERDE_ERR_UNSUPPORTED for Protobuf and JSON Schema today). */
const serde_format_t *serde__format(strand_serde_format_t format, strand_serde_error_t *err);

/* ---- configuration (serde_config.c) ------------------------------------------ */

typedef enum serde_strategy {
    SERDE_TOPIC_NAME = 0,
    SERDE_RECORD_NAME,
    SERDE_TOPIC_RECORD_NAME,
} serde_strategy_t;

struct strand_serde_config {
    sd_props_t *props; /* everything set, serde's own and the client's */
};

/* The typed settings of one side. */
typedef struct serde_settings {
    int auto_register;
    int use_latest;
    int32_t use_schema_id; /* -1: off */
    int id_compat_strict;
    int normalize;
    int latest_compat_strict;
    serde_strategy_t strategy; /* of this side */
} serde_settings_t;

/* Reads the side's settings from config (NULL: defaults). */
int serde__settings(const strand_serde_config_t *config, int is_key, serde_settings_t *out,
                    strand_serde_error_t *err);

/* ---- the shared context (serde_context.c) ------------------------------------- */

typedef struct serde_context {
    strand_registry_client_t *client; /* NULL: offline (test hook) */
    int owns_client;
    const serde_format_t *format;
    serde_settings_t settings;
    int is_key;
    serde_map_t by_id;       /* 'i' id / 'g' GUID / 'v' subject+version -> serde_schema_t */
    serde_map_t texts;       /* application schema text -> serde_schema_t */
    serde_map_t projections; /* (writer, reader) -> serde_projection_t */
} serde_context_t;

/* Sets up the context: borrows client, or makes one from config. */
int serde__context_init(serde_context_t *ctx, strand_registry_client_t *client,
                        const strand_serde_config_t *config, strand_serde_format_t format,
                        int is_key, int offline, strand_serde_error_t *err);
void serde__context_free(serde_context_t *ctx);

/* Compiles an application's schema text, once per distinct text. */
int serde__schema_from_text(serde_context_t *ctx, const char *text, size_t len,
                            serde_schema_t **out, strand_serde_error_t *err);
/* The writer schema of an id / GUID (fetched once, compiled once). */
int serde__schema_by_id(serde_context_t *ctx, int32_t id, serde_schema_t **out,
                        strand_serde_error_t *err);
int serde__schema_by_guid(serde_context_t *ctx, const uint8_t guid[16], serde_schema_t **out,
                          strand_serde_error_t *err);
/* The subject's latest version (the client's cache applies its TTL). */
int serde__schema_latest(serde_context_t *ctx, const char *subject, serde_schema_t **out,
                         strand_serde_error_t *err);
/* The compiled schema of a registry record (cached under its id). */
int serde__schema_from_record(serde_context_t *ctx, const strand_registry_schema_t *record,
                              serde_schema_t **out, strand_serde_error_t *err);
/* The projection of writer data onto reader (cached, refusals too). */
int serde__projection(serde_context_t *ctx, serde_schema_t *writer, serde_schema_t *reader,
                      serde_projection_t **out, strand_serde_error_t *err);
/* The subject of `topic` under the side's strategy for schema (may be NULL
 * for TopicNameStrategy). *out is a new string (sd_free). */
int serde__subject(const serde_context_t *ctx, const char *topic, const serde_schema_t *schema,
                   char **out, strand_serde_error_t *err);

/* Compiles text as the registry's schema `id` (and GUID text, may be NULL)
 * and puts it into the id cache, as if fetched (test hook). */
int serde__context_seed(serde_context_t *ctx, int32_t id, const char *guid, const char *text,
                        size_t len, strand_serde_error_t *err);

static inline void serde__schema_release(serde_schema_t *s) { serde__release(s ? &s->ref : NULL); }
static inline void serde__projection_release(serde_projection_t *p)
{
    serde__release(p ? &p->ref : NULL);
}

/* ---- test hooks (fuzz targets) -------------------------------------------------- */

/* A deserializer with no registry client: ids that were not seeded are
 * reported not found, and nothing goes to the network. */
int serde__deserializer_new_offline(const strand_serde_config_t *config,
                                    strand_serde_format_t format, int is_key,
                                    const char *reader_schema, size_t reader_schema_len,
                                    strand_deserializer_t **out, strand_serde_error_t *err);
/* Puts schema text under id (and guid, text "8-4-4-4-12", when not NULL)
 * into the deserializer's cache, as if the registry had answered. */
int serde__deserializer_seed(strand_deserializer_t *des, int32_t id, const char *guid,
                             const char *text, size_t len, strand_serde_error_t *err);

#endif
