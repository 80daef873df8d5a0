/*
 * client_int.h - the registry client's parts: its configuration
 * (client_config.c), the HTTP layer over pooled curl handles with retries
 * and URL failover (client_http.c), the single-flight caches
 * (client_cache.c) and the schema records (client.c).
 */
#ifndef STRAND_CLIENT_INT_H
#define STRAND_CLIENT_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "strand/registry_client.h"

/* ---- configuration (client_config.c) ------------------------------------ */

typedef struct rc_config {
    char **urls; /* owned; base URLs without a trailing slash */
    size_t url_count;
    char *user_info;       /* "user:password" for basic auth, or NULL */
    char *bearer_header;   /* "Authorization: Bearer ...", or NULL */
    char *cluster_header;  /* "target-sr-cluster: ...", or NULL */
    char *identity_header; /* "Confluent-Identity-Pool-Id: ...", or NULL */
    char *ca_location;     /* PEM files, or NULL */
    char *certificate_location;
    char *key_location;
    char *key_password;
    int verify_host; /* ssl.endpoint.identification.algorithm=https */
    long request_timeout_ms;
    long connect_timeout_ms;
    int max_retries;
    long retries_wait_ms;
    long retries_max_wait_ms;
    long latest_ttl_ms; /* -1: never expires */
} rc_config_t;

/* Fills config from property pairs (see registry_client.h for the names).
 * Release with rc_config__free, also after a failure. */
int rc_config__parse(rc_config_t *config, const char *const *keys, const char *const *values,
                     size_t n, strand_registry_error_t *err);
void rc_config__free(rc_config_t *config);

/* ---- HTTP (client_http.c) ------------------------------------------------ */

typedef struct rc_http {
    const rc_config_t *config; /* borrowed from the client */
    struct curl_slist *get_headers;
    struct curl_slist *post_headers;
    pthread_mutex_t pool_lock; /* held only to take or return an idle handle */
    CURL **idle;
    size_t idle_count;
    size_t preferred_url; /* the URL that last answered (read/written atomically) */
    uint64_t requests;    /* atomically incremented per transfer attempt */
} rc_http_t;

int rc_http__init(rc_http_t *http, const rc_config_t *config, strand_registry_error_t *err);
void rc_http__free(rc_http_t *http);

/* Sends `method path` (path already percent-encoded, starting with '/') with
 * an optional JSON body to the configured URLs, with failover and retries.
 * On a 2xx answer returns 0 with *body (NUL-terminated; caller frees with
 * sd_free) and *len. Otherwise returns STRAND_REGISTRY_ERR_TRANSPORT or
 * STRAND_REGISTRY_ERR_HTTP (with Confluent's error_code and message when the
 * body has them) and fills err. No lock is held while the request runs. */
int rc_http__request(rc_http_t *http, const char *method, const char *path, const char *body,
                     size_t body_len, char **response, size_t *response_len,
                     strand_registry_error_t *err);

/* ---- records ------------------------------------------------------------- */

/* The refcounted record behind a strand_registry_schema_t (its first member,
 * so a public pointer converts back). */
typedef struct rc_schema {
    strand_registry_schema_t pub;
    int refs; /* atomic */
} rc_schema_t;

void rc_schema__release(rc_schema_t *schema);

/* ---- single-flight cache (client_cache.c) -------------------------------- */

typedef struct rc_entry rc_entry_t;

typedef struct rc_cache {
    pthread_mutex_t lock; /* never held during I/O */
    rc_entry_t **buckets;
    size_t bucket_count;
    size_t count;
    uint64_t hits, misses, joins; /* atomically incremented */
} rc_cache_t;

int rc_cache__init(rc_cache_t *cache);
void rc_cache__free(rc_cache_t *cache);

/* Fetches what a key maps to; called without any lock. Returns 0 with a new
 * record (one reference, handed to the cache) or a negative code. */
typedef int (*rc_fetch_fn)(void *arg, rc_schema_t **out, strand_registry_error_t *err);

/* The record for key: from the cache when present (and younger than its
 * expiry), else from fetch, which runs once however many callers miss the
 * same key at the same time (the others wait for its result). ttl_ms < 0
 * keeps the answer forever, 0 shares it only with the callers already
 * waiting, > 0 keeps it that long. Returns 0 and one reference in *out, or the
 * fetch's error (errors are not cached). */
int rc_cache__get(rc_cache_t *cache, const void *key, size_t key_len, int64_t ttl_ms,
                  rc_fetch_fn fetch, void *arg, rc_schema_t **out, strand_registry_error_t *err);
/* Caches schema (taking a reference) under key unless the key is already
 * cached or being fetched. Never expires. */
void rc_cache__put(rc_cache_t *cache, const void *key, size_t key_len, rc_schema_t *schema);
/* Forgets a key unless a fetch for it is in flight. */
void rc_cache__drop(rc_cache_t *cache, const void *key, size_t key_len);

int64_t rc__now_ms(void);

#endif
