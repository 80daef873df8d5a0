/*
 * http_body.c - see http_body.h.
 */
#include "base/http_body.h"

#include <string.h>

#include "base/alloc.h"

size_t sd_http_body_collect(char *data, size_t size, size_t count, void *opaque)
{
    sd_http_body_t *body = opaque;
    size_t n = size * count;
    if (body->max && body->len + n > body->max) {
        body->too_large = true;
        return 0;
    }
    char *grown = sd_realloc(body->data, body->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + body->len, data, n);
    body->len += n;
    grown[body->len] = '\0';
    body->data = grown;
    return n;
}
