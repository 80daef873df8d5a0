/*
 * http_body.h - collects an HTTP answer's body up to a limit, as libcurl's
 * CURLOPT_WRITEFUNCTION (no libcurl types needed here): the registry's
 * forwarding to its leader and strand-compat's registry reads use it.
 */
#ifndef STRAND_BASE_HTTP_BODY_H
#define STRAND_BASE_HTTP_BODY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sd_http_body {
    char *data;     /* owned (free with sd_free), NUL-terminated; NULL until a byte came */
    size_t len;
    size_t max;     /* bytes accepted at most; 0 = no limit */
    bool too_large; /* set when the answer passed max (the transfer is then stopped) */
} sd_http_body_t;

/* Appends `size * count` bytes to the sd_http_body_t at opaque. Returns the
 * bytes taken: fewer (0) stops the transfer when the body would pass its
 * limit or memory is short. */
size_t sd_http_body_collect(char *data, size_t size, size_t count, void *opaque);

#endif
