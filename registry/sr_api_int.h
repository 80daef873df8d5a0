/*
 * sr_api_int.h - what the files of the REST layer (sr_api*.c) share: the
 * state of one call, the handlers the routing table in sr_api.c points at,
 * Confluent's error codes and the JSON helpers that build Confluent's bodies.
 */
#ifndef STRAND_SR_API_INT_H
#define STRAND_SR_API_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "compat.h"
#include "sr_api.h"
#include "sr_registry_int.h"
#include "sr_state.h"

/* Confluent's error codes (rest/exceptions/Errors.java). HTTP-level codes
 * (400, 404, 405, 415, 422, 500) are used as error codes too, as Jersey does. */
enum {
    SR_E_SUBJECT_NOT_FOUND = 40401,
    SR_E_VERSION_NOT_FOUND = 40402,
    SR_E_SCHEMA_NOT_FOUND = 40403,
    SR_E_SUBJECT_SOFT_DELETED = 40404,
    SR_E_SUBJECT_NOT_SOFT_DELETED = 40405,
    SR_E_VERSION_SOFT_DELETED = 40406,
    SR_E_VERSION_NOT_SOFT_DELETED = 40407,
    SR_E_SUBJECT_NO_CONFIG = 40408,
    SR_E_SUBJECT_NO_MODE = 40409,
    /* Confluent answered error_code 409 up to 8.0.3 and 40901 since; Strand
     * answers 40901 (HTTP 409 either way, which is what clients test). */
    SR_E_INCOMPATIBLE = 40901,
    SR_E_INVALID_SCHEMA = 42201,
    SR_E_INVALID_VERSION = 42202,
    SR_E_INVALID_COMPATIBILITY = 42203,
    SR_E_INVALID_MODE = 42204,
    SR_E_NOT_PERMITTED = 42205,
    SR_E_REFERENCE_EXISTS = 42206,
    SR_E_ID_DOES_NOT_MATCH = 42207,
    SR_E_INVALID_SUBJECT = 42208,
    SR_E_SCHEMA_TOO_LARGE = 42209,
    SR_E_INVALID_RULESET = 42210,
    SR_E_CONTEXT_NOT_EMPTY = 42211,
    SR_E_STORE = 50001,
    SR_E_TIMEOUT = 50002,
    SR_E_FORWARDING = 50003,
    SR_E_UNKNOWN_LEADER = 50004,
    /* Strand's own: the registry is still reading `_schemas` at start-up
     * (Confluent serves nothing until then), HTTP 503. */
    SR_E_STARTING = 50301,
};

#define SR_API_MAX_PARAMS 4

/* One request being answered. */
typedef struct sr_api_call {
    sr_registry_t *registry;
    sr_state_t *state;
    const sr_request_t *req;
    sr_response_t *resp;
    /* The path's variable segments in order ({subject}, {version}, {id}...),
     * percent-decoded, borrowed from the call's copy of the path. */
    const char *params[SR_API_MAX_PARAMS];
    size_t param_count;
    /* ":.ctx:" when the path came in under /contexts/{ctx}/, else "". */
    const char *context;
    char *joined; /* a subject put back together from several segments; owned */
    /* The subject named by the path, qualified with the context; owned. */
    char *subject;
    json_t *body; /* the parsed request body, NULL when the route takes none */
} sr_api_call_t;

typedef void (*sr_api_handler_fn)(sr_api_call_t *call);

/* --- handlers (one per route, grouped by file) --- */
/* sr_api_schemas.c */
void sr_api__get_schemas(sr_api_call_t *call);
void sr_api__get_schema_by_id(sr_api_call_t *call);
void sr_api__get_schema_text_by_id(sr_api_call_t *call);
void sr_api__get_schema_subjects(sr_api_call_t *call);
void sr_api__get_schema_versions(sr_api_call_t *call);
void sr_api__get_schema_by_guid(sr_api_call_t *call);
void sr_api__get_schema_ids_by_guid(sr_api_call_t *call);
void sr_api__get_schema_types(sr_api_call_t *call);
/* sr_api_subjects.c */
void sr_api__list_subjects(sr_api_call_t *call);
void sr_api__lookup_schema(sr_api_call_t *call);
void sr_api__delete_subject(sr_api_call_t *call);
void sr_api__get_subject_metadata(sr_api_call_t *call);
void sr_api__list_versions(sr_api_call_t *call);
void sr_api__get_version(sr_api_call_t *call);
void sr_api__get_version_schema(sr_api_call_t *call);
void sr_api__get_referenced_by(sr_api_call_t *call);
void sr_api__delete_version(sr_api_call_t *call);
/* sr_api_register.c */
void sr_api__register(sr_api_call_t *call);
/* sr_api_compat.c */
void sr_api__check_compatibility(sr_api_call_t *call);
/* sr_api_config.c */
void sr_api__get_config(sr_api_call_t *call);
void sr_api__put_config(sr_api_call_t *call);
void sr_api__delete_config(sr_api_call_t *call);
void sr_api__get_mode(sr_api_call_t *call);
void sr_api__put_mode(sr_api_call_t *call);
void sr_api__delete_mode(sr_api_call_t *call);
/* sr_api_misc.c */
void sr_api__root(sr_api_call_t *call);
void sr_api__list_contexts(sr_api_call_t *call);
void sr_api__delete_context(sr_api_call_t *call);
void sr_api__metadata_id(sr_api_call_t *call);
void sr_api__metadata_version(sr_api_call_t *call);

/* --- responses (sr_api_json.c) --- */

/* Answers `status` with `value` as compact JSON; steals value. */
void sr_api__reply(sr_api_call_t *call, int status, json_t *value);
/* Answers 200 with these bytes as the body (a raw schema text). */
void sr_api__reply_text(sr_api_call_t *call, const char *text, size_t len);
/* Answers a Confluent error body {"error_code":code,"message":...} with the
 * HTTP status the error table gives the code. */
void sr_api__error(sr_api_call_t *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The HTTP status of a Confluent error code. */
int sr_api__http_status(int code);
/* Answers the error of a failed sr_registry_write (50001 / 50002). */
void sr_api__write_error(sr_api_call_t *call, int rc, const sd_err_t *err, const char *what);
/* Answers 500 for an allocation failure. */
void sr_api__nomem(sr_api_call_t *call);

/* Query parameters: the last value of `key`, or NULL. */
const char *sr_api__arg(const sr_api_call_t *call, const char *key);
/* Jersey's boolean: "true" in any case is true, anything else false. */
bool sr_api__arg_bool(const sr_api_call_t *call, const char *key);
/* An integer parameter, `fallback` when absent or not an integer. */
long sr_api__arg_long(const sr_api_call_t *call, const char *key, long fallback);

/* Parses a decimal int32 (no sign, no spaces). */
bool sr_api__parse_int32(const char *text, int32_t *out);

/* Versions in a path: 1..2^31-1, "latest" or "-1" (latest = 0 here). false
 * when invalid (the caller answers 42202). */
bool sr_api__parse_version(const char *text, int32_t *version);
/* Answers 42202 for an invalid version text. */
void sr_api__invalid_version(sr_api_call_t *call, const char *text);

/* A schema as Confluent's Schema entity: subject, version, id, guid,
 * schemaType (omitted for AVRO), references (omitted when empty), metadata,
 * ruleSet, schema, ts, deleted (only when true). subject/version NULL/0 to
 * leave them out. NULL on allocation failure. */
json_t *sr_api__schema_json(const char *subject, const sr_version_t *version,
                            const sr_schema_t *schema);
/* The references array of a schema (never NULL unless out of memory). */
json_t *sr_api__references_json(const sr_schema_t *schema);

/* The subject's effective settings. */
/* Compatibility level name: subject config, else global, else the default. */
const char *sr_api__compatibility(sr_api_call_t *call, const sr_subject_t *subject);
/* The config object in scope (subject's, else global's), NULL when none. */
const json_t *sr_api__config_in_scope(sr_api_call_t *call, const sr_subject_t *subject);
/* Mode in scope: subject, else global, else "READWRITE"; a global
 * READONLY_OVERRIDE wins over every subject mode. */
const char *sr_api__mode(sr_api_call_t *call, const char *subject);

/* A subject's version by path number (0 = latest; with include_deleted the
 * highest stored, else the highest undeleted). */
const sr_version_t *sr_api__find_version(const sr_subject_t *subject, int32_t version,
                                         bool include_deleted);
/* Confluent's QualifiedSubject.isValidSubject: not empty, well-formed
 * UTF-8, no control characters. */
bool sr_api__valid_subject(const char *name);
/* True when the subject has a version the filter lets through. */
bool sr_api__subject_visible(const sr_subject_t *subject, bool include_deleted);

/* Writes records; 0 or answers the error and returns the code. */
int sr_api__write(sr_api_call_t *call, const sr_write_t *records, size_t count, const char *what);

/* A list of records being built for one write; keys and values owned. */
typedef struct sr_api_records {
    sr_write_t *items;
    size_t count;
    size_t cap;
    bool failed; /* an allocation failed on the way */
} sr_api_records_t;
/* Appends (key, value); steals both (value NULL = tombstone; key NULL marks
 * the list failed). */
void sr_api__records_add(sr_api_records_t *records, char *key, char *value);
void sr_api__records_free(sr_api_records_t *records);

/* --- schema parsing with references (sr_api_register.c) --- */

/* A parsed request schema. */
typedef struct sr_api_schema_input {
    sc_schema_type_t type;
    const char *type_name; /* "AVRO", ... static */
    const char *text;      /* borrowed from the body */
    size_t len;
    sr_reference_t *refs; /* owned (strings borrowed from the body) */
    size_t ref_count;
    const json_t *metadata; /* borrowed from the body; NULL when absent/null */
    const json_t *rule_set;
    sc_schema_t *parsed;
    char *stored; /* the text as stored: canonical or normalized; sd_free */
} sr_api_schema_input_t;

/* Reads schema, schemaType, references, metadata and ruleSet of a request
 * body, resolves the references in the state (read lock held), parses the
 * schema and computes its stored text. 0, or answers the error (42201, 42209,
 * 400) and returns -1. */
int sr_api__schema_input(sr_api_call_t *call, bool normalize, sr_api_schema_input_t *in);
void sr_api__schema_input_free(sr_api_schema_input_t *in);

/* Parses a stored schema with its references; 0 or a negative code with err. */
int sr_api__parse_stored(sr_api_call_t *call, const sr_schema_t *schema, sc_schema_t **out,
                         sd_err_t *err);

/* Runs sc_check of `in` against `versions` of `subject` (oldest first) at
 * `level`; fills *result. 0, or answers the error and returns -1. The
 * readable messages (Confluent's verbose form) go to *messages when it is not
 * NULL (a new array). */
int sr_api__check(sr_api_call_t *call, const sr_api_schema_input_t *in, const sr_subject_t *subject,
                  const sr_version_t *const *versions, size_t count, sc_level_t level,
                  bool *compatible, json_t **messages);

/* --- formats (sr_api_format.c) --- */

/* The schema's text in the `format` the request asks for (read lock held):
 * "resolved" writes Avro references out in place; anything else is the
 * stored text. Caller frees with sd_free; NULL on allocation failure. */
char *sr_api__formatted(sr_api_call_t *call, const sr_schema_t *schema, const char *format);
/* Replaces out's "schema" member with the formatted text (in place, the
 * member keeps its position). false on allocation failure. */
bool sr_api__format_member(sr_api_call_t *call, json_t *out, const sr_schema_t *schema);

/* --- forwarding to the leader (sr_api_forward.c) --- */

/* Sends the request as received to leader_url and copies its answer into the
 * response; 50003 when that fails. */
void sr_api__forward(sr_api_call_t *call, const char *leader_url);

/* Confluent's checks of a rule set (RuleSet.validate); NULL/null is valid.
 * Returns 0, or -1 with msg naming the problem (answer 42210). */
int sr_api__check_rule_set(const json_t *rule_set, char *msg, size_t len);

#endif
