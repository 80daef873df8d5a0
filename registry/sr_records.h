/*
 * sr_records.h - keys and values of the `_schemas` topic, byte for byte as
 * Confluent Schema Registry writes them (compact JSON, fixed field order), so
 * the topic moves between Strand and Confluent registries in both directions.
 *
 *   SCHEMA          {"keytype":"SCHEMA","subject":S,"version":V,"magic":1}
 *   CONFIG          {"keytype":"CONFIG","subject":S,"magic":0}   (global: no subject)
 *   MODE            {"keytype":"MODE","subject":S,"magic":0}
 *   DELETE_SUBJECT  {"keytype":"DELETE_SUBJECT","subject":S,"magic":0}
 *   CLEAR_SUBJECT   {"keytype":"CLEAR_SUBJECT","subject":S,"magic":0}
 *   NOOP            {"keytype":"NOOP","magic":0}
 *
 * Values (fields in this order, absent ones left out as Jackson's NON_EMPTY
 * does):
 *
 *   SCHEMA          {"subject","version","id",["guid"],["schemaType" unless AVRO],
 *                    ["references":[{"name","subject","version"}]],["metadata"],
 *                    ["ruleSet"],"schema","deleted"}
 *   CONFIG          {["subject"],["alias"],["normalize"],["validateFields"],
 *                    ["validateRules"],["compatibilityLevel"],["compatibilityGroup"],
 *                    ["compatibilityPolicy"],["defaultMetadata"],["overrideMetadata"],
 *                    ["defaultRuleSet"],["overrideRuleSet"], then any other field}
 *   MODE            {["subject"],"mode"}
 *   DELETE_SUBJECT  {"subject","version"}
 *   CLEAR_SUBJECT   {"subject"}
 *
 * Decoding accepts what Confluent and Karapace write: magic 0 or 1 on SCHEMA
 * keys, "subject":null for global keys, fields in any order.
 *
 * The one Strand addition: a NOOP record may carry a value {"maxId":N}, the
 * id watermark, written when a permanent delete removes the highest id so
 * that ids are never reused after compaction. Confluent registries log and
 * skip such a value.
 */
#ifndef STRAND_SR_RECORDS_H
#define STRAND_SR_RECORDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "sr_state.h"

typedef enum sr_keytype {
    SR_KEY_SCHEMA = 0,
    SR_KEY_CONFIG,
    SR_KEY_MODE,
    SR_KEY_DELETE_SUBJECT,
    SR_KEY_CLEAR_SUBJECT,
    SR_KEY_NOOP,
    SR_KEY_OTHER, /* CONTEXT, ASSOC, ...: read and ignored */
} sr_keytype_t;

typedef struct sr_key {
    sr_keytype_t type;
    char *subject;   /* owned; NULL for global CONFIG/MODE and NOOP */
    int32_t version; /* SCHEMA only */
    int magic;
} sr_key_t;

/* Decodes a key. Returns 0, or SD_ERR_INVALID with err naming what is wrong.
 * On success release with sr_key_clear. */
int sr_key_decode(const void *bytes, size_t len, sr_key_t *key, sd_err_t *err);
void sr_key_clear(sr_key_t *key);

/* Key encoders: NUL-terminated compact JSON exactly as Confluent writes it;
 * caller frees with free(); NULL on allocation failure. subject NULL = the
 * global key (CONFIG, MODE). */
char *sr_key_schema(const char *subject, int32_t version);
char *sr_key_config(const char *subject);
char *sr_key_mode(const char *subject);
char *sr_key_delete_subject(const char *subject);
char *sr_key_clear_subject(const char *subject);
char *sr_key_noop(void);

/* The content of a SCHEMA value. Borrowed pointers. */
typedef struct sr_schema_record {
    const char *subject;
    int32_t version;
    int32_t id;
    const char *schema_type; /* "AVRO" is written as Confluent does (see sr_records.c) */
    const char *schema;
    const sr_reference_t *references;
    size_t reference_count;
    const json_t *metadata; /* NULL = absent */
    const json_t *rule_set; /* NULL = absent */
    const char *guid;       /* NULL = not written */
    bool deleted;
} sr_schema_record_t;

/* Value encoders, same ownership as the key encoders. */
char *sr_value_schema(const sr_schema_record_t *record);
/* config: the config fields as GET /config returns them
 * ({"compatibilityLevel":..., "normalize":..., ...}); subject NULL = global. */
char *sr_value_config(const char *subject, const json_t *config);
char *sr_value_mode(const char *subject, const char *mode);
char *sr_value_delete_subject(const char *subject, int32_t version);
char *sr_value_clear_subject(const char *subject);
/* The id watermark value of a NOOP record. */
char *sr_value_noop_watermark(int32_t max_id);

/* Parses a value as a JSON object (CONFIG, MODE, DELETE_SUBJECT, ...).
 * Returns a new reference, or NULL with err naming the problem. */
json_t *sr_value_object(const void *bytes, size_t len, sd_err_t *err);

/* A decoded SCHEMA value; every pointer owned, release with
 * sr_schema_value_clear. Absent or empty schemaType becomes "AVRO"; subject
 * and guid are NULL when absent; version 0 when absent. md5 and unknown
 * fields are ignored. */
typedef struct sr_schema_value {
    char *subject;
    int32_t version;
    int32_t id;
    char *schema_type;
    char *schema;
    sr_reference_t *references;
    size_t reference_count;
    json_t *metadata; /* NULL = absent */
    json_t *rule_set; /* NULL = absent */
    char *guid;
    bool deleted;
} sr_schema_value_t;

/* Returns 0, SD_ERR_INVALID or SD_ERR_NOMEM with err naming the problem; on
 * failure *value is left cleared. */
int sr_schema_value_decode(const void *bytes, size_t len, sr_schema_value_t *value, sd_err_t *err);
void sr_schema_value_clear(sr_schema_value_t *value);

#endif
