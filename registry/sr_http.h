/*
 * sr_http.h - the registry's HTTP server: libmicrohttpd with a small pool of
 * epoll threads (no thread per connection) that collects each request's
 * path, query, headers and body and hands them to sr_api_handle.
 */
#ifndef STRAND_SR_HTTP_H
#define STRAND_SR_HTTP_H

#include <stddef.h>

#include "base/error.h"

typedef struct sr_http sr_http_t;
typedef struct sr_registry sr_registry_t;

typedef struct sr_http_config {
    const char *host;         /* address to bind: "0.0.0.0", "127.0.0.1", "::", a name */
    int port;                 /* 0 picks a free port */
    int threads;              /* size of the thread pool */
    size_t max_request_bytes; /* a larger body is answered 413 without being kept */
} sr_http_config_t;

/* Binds and starts serving requests of `registry`. On success *out is owned
 * by the caller (sr_http_stop) and *bound_port is the port bound. Returns 0 or
 * SD_ERR_IO / SD_ERR_NOMEM with err naming the address. */
int sr_http_start(const sr_http_config_t *config, sr_registry_t *registry, sr_http_t **out,
                  int *bound_port, sd_err_t *err);

/* Stops accepting, finishes the requests in progress and frees the server. */
void sr_http_stop(sr_http_t *http);

#endif
