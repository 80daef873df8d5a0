/*
 * sr_state.h - the schema registry's in-memory state: every subject, version,
 * schema (by id and by GUID), config and mode, rebuilt by applying the
 * records of the `_schemas` topic in offset order (Confluent Schema
 * Registry's storage format, see sr_records.h).
 *
 * One thread (the store's reader) applies records; any number of threads
 * read. Readers bracket their reads with sr_state_read_lock/unlock; every
 * pointer a query returns is borrowed until the unlock. The structs are
 * read-only outside sr_state.c.
 */
#ifndef STRAND_SR_STATE_H
#define STRAND_SR_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sr_reference {
    char *name;    /* the reference's name (Avro full name, Protobuf import path, JSON URL) */
    char *subject; /* subject and version of the referenced schema */
    int32_t version;
} sr_reference_t;

/* One distinct schema content; several subjects' versions may share it. */
typedef struct sr_schema {
    int32_t id;
    char guid[37];     /* lower-case UUID text, e.g. "0b0e...-..." */
    char *schema_type; /* "AVRO", "PROTOBUF" or "JSON" */
    char *schema;      /* the schema text as stored (Confluent stores the canonical text) */
    sr_reference_t *references;
    size_t reference_count;
    json_t *metadata; /* NULL when absent */
    json_t *rule_set; /* NULL when absent */
} sr_schema_t;

/* One version of a subject. */
typedef struct sr_version {
    int32_t version;
    int32_t id; /* sr_state_schema(state, id) is its content */
    bool deleted;
    int64_t ts; /* registration time, ms since the epoch (the record's timestamp) */
} sr_version_t;

typedef struct sr_subject {
    char *name;
    sr_version_t *versions; /* ascending by version; hard-deleted versions are gone */
    size_t version_count;
    json_t *config; /* the subject's CONFIG value object, NULL when not set */
    char *mode;     /* "READWRITE", "READONLY", "IMPORT", ...; NULL when not set */
} sr_subject_t;

typedef struct sr_state sr_state_t;

/* A new empty state; NULL on allocation failure. */
sr_state_t *sr_state_new(void);
void sr_state_free(sr_state_t *state);

/* Applies one record of `_schemas` (value NULL = tombstone) read at `offset`
 * with the record's timestamp. Records that cannot be read (bad JSON, an
 * unknown key type, a SCHEMA whose id is taken by different content) are
 * skipped with a warning naming the offset: the state never stops on them.
 * Takes the write lock. */
void sr_state_apply(sr_state_t *state, const void *key, size_t key_len, const void *value,
                    size_t value_len, int64_t offset, int64_t timestamp_ms);

/* How many records have been applied: changes whenever the state may have.
 * Needs no lock. */
uint64_t sr_state_generation(const sr_state_t *state);

void sr_state_read_lock(sr_state_t *state);
void sr_state_read_unlock(sr_state_t *state);

/* The queries below need the read lock (or the caller being the applier). */

/* The subject, or NULL if no record ever named it (or it was cleared, or
 * nothing is left of it: no version, deleted or not, no config, no mode). A
 * subject whose versions are all soft-deleted is still returned. */
const sr_subject_t *sr_state_subject(const sr_state_t *state, const char *name);
/* Subjects sorted by name (byte order), including those without versions. */
size_t sr_state_subject_count(const sr_state_t *state);
const sr_subject_t *sr_state_subject_at(const sr_state_t *state, size_t index);

/* The version entry of `subject`, or NULL (deleted ones included). */
const sr_version_t *sr_subject_version(const sr_subject_t *subject, int32_t version);
/* The highest version whose deleted flag is false, or NULL. */
const sr_version_t *sr_subject_latest(const sr_subject_t *subject);
/* The highest version number stored, deleted ones included, or 0. */
int32_t sr_subject_max_version(const sr_subject_t *subject);

/* The schema with this id / GUID, or NULL. A schema stays readable by id
 * while any version (deleted or not) uses it. */
const sr_schema_t *sr_state_schema(const sr_state_t *state, int32_t id);
const sr_schema_t *sr_state_schema_by_guid(const sr_state_t *state, const char *guid);
/* Schemas sorted by id. */
size_t sr_state_schema_count(const sr_state_t *state);
const sr_schema_t *sr_state_schema_at(const sr_state_t *state, size_t index);

/* The schema whose content equals (type, text, references, metadata,
 * ruleSet), compared as sr_schema_identity does, or NULL. */
const sr_schema_t *sr_state_schema_by_content(const sr_state_t *state, const char *schema_type,
                                              const char *schema, const sr_reference_t *refs,
                                              size_t ref_count, const json_t *metadata,
                                              const json_t *rule_set);

/* The id a new schema gets: one more than the highest id ever applied,
 * including ids whose schemas were hard-deleted and the id watermark of
 * NOOP records (see sr_records.h), never less than 1. */
int32_t sr_state_next_id(const sr_state_t *state);

/* Global config value object (NULL = never set) and mode (NULL = never set). */
const json_t *sr_state_global_config(const sr_state_t *state);
const char *sr_state_global_mode(const sr_state_t *state);

/* Calls fn for every version (deleted ones only when include_deleted) whose
 * schema references (subject, version), in subject then version order. */
typedef void (*sr_referrer_fn)(void *ctx, const sr_subject_t *subject, const sr_version_t *version);
void sr_state_referrers(const sr_state_t *state, const char *subject, int32_t version,
                        bool include_deleted, sr_referrer_fn fn, void *ctx);

/* Calls fn for each (subject, version) whose version uses schema `id`. */
void sr_state_versions_of(const sr_state_t *state, int32_t id, bool include_deleted,
                          sr_referrer_fn fn, void *ctx);

/* The identity of a schema content: a text that is equal for equal content
 * (type, schema text, references in order, metadata and ruleSet as compact
 * JSON with sorted keys). Caller frees with free(); NULL on allocation
 * failure. */
char *sr_schema_identity(const char *schema_type, const char *schema, const sr_reference_t *refs,
                         size_t ref_count, const json_t *metadata, const json_t *rule_set);

/* The GUID Strand gives a content that arrives without one: a name-based
 * UUID (version 3 layout) over its identity, so every registry process derives
 * the same one. `out` gets 36 characters and a NUL. */
void sr_schema_guid_for(const char *identity, char out[37]);

#endif
