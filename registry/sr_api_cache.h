/*
 * sr_api_cache.h - answers to GET requests kept for as long as the state
 * they were made from has not changed. A GET's answer is a function of the
 * request (path, query, Accept) and the state; the state's generation
 * (sr_state_generation) changes with every record applied, so an entry is
 * only served while the generation it was made at is still current. Writes
 * are rare and reads many: this skips routing, locking the state and building
 * JSON for the repeated reads serializers make.
 */
#ifndef STRAND_SR_API_CACHE_H
#define STRAND_SR_API_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sr_api_cache sr_api_cache_t;

/* A cache of at most about max_entries answers; NULL on allocation failure. */
sr_api_cache_t *sr_api_cache_new(size_t max_entries);
void sr_api_cache_free(sr_api_cache_t *cache);

/* On a hit for `key` made at `generation`, *body gets a malloc'd copy of the
 * answer (caller frees), *len its length and *content_type the static type it
 * was sent with. Thread-safe. */
bool sr_api_cache_get(sr_api_cache_t *cache, const char *key, uint64_t generation, char **body,
                      size_t *len, const char **content_type);

/* Keeps a copy of an answer made at `generation`; content_type must be
 * static (or NULL). Best effort: nothing happens when memory is short.
 * Thread-safe. */
void sr_api_cache_put(sr_api_cache_t *cache, const char *key, uint64_t generation,
                      const char *body, size_t len, const char *content_type);

#endif
