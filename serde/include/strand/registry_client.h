/*
 * strand/registry_client.h - a caching, thread-safe client of a
 * Confluent-compatible schema registry (Confluent's REST API over libcurl).
 *
 * Configuration uses Confluent's client property names. Schemas come back as
 * refcounted immutable records: the caller owns one reference per record a
 * function returns and drops it with strand_registry_schema_release, and may
 * keep and read it from any thread without a lock.
 *
 * Caching: id -> schema, GUID -> schema and (subject, schema, normalize) ->
 * registered/looked-up schema never expire (ids are immutable); the latest
 * version of a subject expires after `latest.cache.ttl.sec`, and a register
 * on the subject drops it. An answer about a subject that carries the
 * schema text (register, lookup, versions) also fills the id and GUID caches
 * with an id-only record (subject NULL, version -1), as Confluent's client
 * remembers a registered id. Concurrent misses on one key make one HTTP request
 * (the other callers wait for its result); no lock is held during I/O.
 */
#ifndef STRAND_REGISTRY_CLIENT_H
#define STRAND_REGISTRY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strand_registry_client strand_registry_client_t;

#define STRAND_REGISTRY_ERROR_MAX 512

typedef struct strand_registry_error {
    int code;        /* 0, or a negative STRAND_REGISTRY_ERR_* */
    int http_status; /* the registry's HTTP status; 0 when none was received */
    int error_code;  /* Confluent's error_code (e.g. 40403); 0 when none */
    char message[STRAND_REGISTRY_ERROR_MAX]; /* the registry's message, or ours */
} strand_registry_error_t;

enum {
    STRAND_REGISTRY_ERR_NOMEM = -1,
    STRAND_REGISTRY_ERR_CONFIG = -300,    /* a property is missing or invalid */
    STRAND_REGISTRY_ERR_ARGUMENT = -301,  /* a bad argument (NULL subject, ...) */
    STRAND_REGISTRY_ERR_TRANSPORT = -302, /* no answer: connect failure, timeout, TLS */
    STRAND_REGISTRY_ERR_HTTP = -303,      /* the registry answered an error status */
    STRAND_REGISTRY_ERR_RESPONSE = -304,  /* the registry's answer is malformed */
};

typedef struct strand_registry_reference {
    const char *name;    /* the import name the schema uses */
    const char *subject; /* the subject holding the referenced schema */
    int32_t version;
} strand_registry_reference_t;

/* An immutable schema record. Every string is NUL-terminated and lives as
 * long as the record. Fields the answer did not carry are -1 / NULL / "". */
typedef struct strand_registry_schema {
    int32_t id;              /* -1 when unknown (a GUID fetch) */
    char guid[37];           /* "" when the registry sent none */
    const char *subject;     /* NULL unless the request named a subject */
    int32_t version;         /* -1 unless the request named a subject */
    const char *schema_type; /* "AVRO", "PROTOBUF" or "JSON" (AVRO when omitted) */
    const char *schema;      /* the schema text; may hold NUL bytes, see schema_len */
    size_t schema_len;
    const strand_registry_reference_t *references;
    size_t reference_count;
} strand_registry_schema_t;

/* What to register or look up. schema_type NULL means "AVRO". */
typedef struct strand_registry_schema_input {
    const char *schema_type;
    const char *schema;
    size_t schema_len;
    const strand_registry_reference_t *references;
    size_t reference_count;
} strand_registry_schema_input_t;

/* Creates a client from n property pairs keys[i] = values[i] (both copied).
 * Names are Confluent's; the `schema.registry.` prefix is optional on every
 * one but `schema.registry.url` (so `schema.registry.ssl.ca.location` and
 * `ssl.ca.location` are the same property). Names the client does not know
 * are ignored, so a serializer's whole property set can be passed on, as
 * Confluent's clients do.
 *
 *   schema.registry.url            comma-separated base URLs, tried in order
 *                                  (required); `http://user:pass@host` works
 *                                  with basic.auth.credentials.source=URL
 *   basic.auth.credentials.source  USER_INFO (default) or URL
 *   basic.auth.user.info           "user:password"
 *   bearer.auth.credentials.source STATIC_TOKEN (the only one supported)
 *   bearer.auth.token              sent as "Authorization: Bearer <token>"
 *   bearer.auth.logical.cluster, bearer.auth.identity.pool.id
 *                                  sent as target-sr-cluster / Confluent-Identity-Pool-Id
 *   ssl.ca.location, ssl.certificate.location, ssl.key.location,
 *   ssl.key.password               PEM files for TLS and mutual TLS
 *   ssl.endpoint.identification.algorithm  "https" (default) or "" (no host check)
 *   request.timeout.ms             timeout of one HTTP attempt (default 10000)
 *   connect.timeout.ms             connect timeout (default 10000)
 *   max.retries                    retries of a failed request (default 2)
 *   retries.wait.ms                first backoff, doubled per retry (default 1000)
 *   retries.max.wait.ms            backoff cap (default 20000)
 *   latest.cache.ttl.sec           latest-version expiry (default 60; -1 never; 0 off)
 *
 * A transport failure (no connection, timeout, TLS) or HTTP 408, 429, 500,
 * 502, 503 or 504 moves on to the next URL; once every URL failed, the round
 * is retried up to max.retries times after a backoff (exponential, full
 * jitter). The URL that last answered is tried first.
 * On success *out is a client the caller frees with
 * strand_registry_client_free; on failure returns a negative code with err
 * filled (err may be NULL). */
int strand_registry_client_new(const char *const *keys, const char *const *values, size_t n,
                               strand_registry_client_t **out, strand_registry_error_t *err);
/* Frees the client and its caches. Records handed out stay valid until
 * released. No call on the client may be in progress. */
void strand_registry_client_free(strand_registry_client_t *client);

/* Every lookup below returns 0 and one reference in *out, or a negative code
 * with err filled and *out NULL. */

/* GET /schemas/ids/{id}; cached forever. */
int strand_registry_get_by_id(strand_registry_client_t *client, int32_t id,
                              const strand_registry_schema_t **out, strand_registry_error_t *err);
/* GET /schemas/guids/{guid} (guid as text); cached forever. */
int strand_registry_get_by_guid(strand_registry_client_t *client, const char *guid,
                                const strand_registry_schema_t **out, strand_registry_error_t *err);
/* POST /subjects/{subject}/versions[?normalize=true]: the record holds the id
 * (and guid and version when the registry sends them) and the schema text
 * the registry returned, else the one sent. Cached forever per (subject,
 * schema, normalize); drops the subject's cached latest version. */
int strand_registry_register(strand_registry_client_t *client, const char *subject,
                             const strand_registry_schema_input_t *schema, int normalize,
                             const strand_registry_schema_t **out, strand_registry_error_t *err);
/* POST /subjects/{subject}[?normalize=true]: the version of subject holding
 * this schema (40403 / 40401 errors when there is none). Cached forever. */
int strand_registry_lookup(strand_registry_client_t *client, const char *subject,
                           const strand_registry_schema_input_t *schema, int normalize,
                           const strand_registry_schema_t **out, strand_registry_error_t *err);
/* GET /subjects/{subject}/versions/latest; cached for latest.cache.ttl.sec. */
int strand_registry_get_latest(strand_registry_client_t *client, const char *subject,
                               const strand_registry_schema_t **out, strand_registry_error_t *err);
/* GET /subjects/{subject}/versions/{version}; cached forever. */
int strand_registry_get_version(strand_registry_client_t *client, const char *subject,
                                int32_t version, const strand_registry_schema_t **out,
                                strand_registry_error_t *err);

/* Takes another reference (returns schema). */
const strand_registry_schema_t *
strand_registry_schema_retain(const strand_registry_schema_t *schema);
/* Drops one reference; the last frees the record. NULL is a no-op. */
void strand_registry_schema_release(const strand_registry_schema_t *schema);

/* Counters since the client was created (monotonic, read without a lock). */
typedef struct strand_registry_stats {
    uint64_t http_requests; /* requests sent, retries and URL failovers included */
    uint64_t cache_hits;    /* answered from a cache entry */
    uint64_t cache_misses;  /* calls that made the request themselves */
    uint64_t cache_joins;   /* calls that waited for another caller's request */
} strand_registry_stats_t;

void strand_registry_client_stats(strand_registry_client_t *client, strand_registry_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
