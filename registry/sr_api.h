/*
 * sr_api.h - Confluent Schema Registry's REST API, independent of the HTTP
 * server: a request (method, path, query, content type, body) in, a status
 * and a JSON body out. Routing, parameter checks, every endpoint's semantics
 * and Confluent's error bodies live behind sr_api_handle; sr_http.c only
 * moves bytes.
 */
#ifndef STRAND_SR_API_H
#define STRAND_SR_API_H

#include <stddef.h>

typedef struct sr_registry sr_registry_t;

typedef struct sr_query_arg {
    const char *key;   /* percent-decoded */
    const char *value; /* percent-decoded; NULL for "?flag" without '=' */
} sr_query_arg_t;

typedef struct sr_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE", ... */
    const char *path;   /* percent-decoded path, no query: "/subjects/s/versions" */
    const char *raw_path_and_query; /* as received (for forwarding to the leader) */
    const sr_query_arg_t *args;     /* in request order; a key may repeat */
    size_t arg_count;
    const char *content_type; /* Content-Type header or NULL */
    const char *accept;       /* Accept header or NULL */
    const char *body;         /* not NUL-terminated; NULL when empty */
    size_t body_len;
} sr_request_t;

typedef struct sr_response {
    int status;               /* HTTP status */
    char *body;               /* malloc'd JSON text (NUL-terminated), freed by the caller */
    size_t body_len;
    const char *content_type; /* static; NULL = "application/vnd.schemaregistry.v1+json" */
} sr_response_t;

/* Handles one request. Always fills resp (an error is a Confluent error
 * body {"error_code":N,"message":"..."} with its HTTP status); resp->body may
 * only be NULL when the allocation of the body itself failed (the server then
 * answers 500 with a fixed body). Thread-safe. */
void sr_api_handle(sr_registry_t *registry, const sr_request_t *req, sr_response_t *resp);

#endif
