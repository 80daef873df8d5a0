/*
 * sr_api_cache.c - the GET answer cache of sr_api_cache.h: shards of small
 * open-addressing tables, each behind its own mutex (held for a lookup and a
 * copy, never during I/O). A full shard is emptied and starts over: entries
 * are cheap to rebuild, and a registry's hot set is small.
 */
#include "sr_api_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define SHARDS 16

typedef struct entry {
    char *key; /* NULL = free slot */
    uint64_t generation;
    char *body;
    size_t len;
    const char *content_type;
} entry_t;

typedef struct shard {
    pthread_mutex_t lock;
    entry_t *slots;
    size_t cap; /* power of two */
    size_t used;
} shard_t;

struct sr_api_cache {
    shard_t shards[SHARDS];
};

static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static void clear_shard(shard_t *shard)
{
    for (size_t i = 0; i < shard->cap; i++) {
        sd_free(shard->slots[i].key);
        sd_free(shard->slots[i].body);
    }
    memset(shard->slots, 0, shard->cap * sizeof *shard->slots);
    shard->used = 0;
}

sr_api_cache_t *sr_api_cache_new(size_t max_entries)
{
    sr_api_cache_t *cache = sd_calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    size_t cap = 16;
    while (cap * SHARDS < max_entries * 2)
        cap *= 2;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&cache->shards[i].lock, NULL);
        cache->shards[i].cap = cap;
        cache->shards[i].slots = sd_calloc(cap, sizeof(entry_t));
        if (!cache->shards[i].slots) {
            sr_api_cache_free(cache);
            return NULL;
        }
    }
    return cache;
}

void sr_api_cache_free(sr_api_cache_t *cache)
{
    if (!cache)
        return;
    for (int i = 0; i < SHARDS; i++) {
        shard_t *shard = &cache->shards[i];
        if (shard->slots) {
            clear_shard(shard);
            sd_free(shard->slots);
        }
        pthread_mutex_destroy(&shard->lock);
    }
    sd_free(cache);
}

/* The slot holding key, or the free slot where it would go. */
static entry_t *find_slot(shard_t *shard, const char *key, uint64_t hash)
{
    size_t mask = shard->cap - 1;
    for (size_t i = (size_t)(hash >> 4) & mask;; i = (i + 1) & mask) {
        entry_t *e = &shard->slots[i];
        if (!e->key || strcmp(e->key, key) == 0)
            return e;
    }
}

bool sr_api_cache_get(sr_api_cache_t *cache, const char *key, uint64_t generation, char **body,
                      size_t *len, const char **content_type)
{
    if (!cache)
        return false;
    uint64_t hash = hash_key(key);
    shard_t *shard = &cache->shards[hash % SHARDS];
    bool hit = false;
    pthread_mutex_lock(&shard->lock);
    entry_t *e = find_slot(shard, key, hash);
    if (e->key && e->generation == generation) {
        char *copy = sd_malloc(e->len + 1);
        if (copy) {
            memcpy(copy, e->body, e->len);
            copy[e->len] = '\0';
            *body = copy;
            *len = e->len;
            *content_type = e->content_type;
            hit = true;
        }
    }
    pthread_mutex_unlock(&shard->lock);
    return hit;
}

void sr_api_cache_put(sr_api_cache_t *cache, const char *key, uint64_t generation,
                      const char *body, size_t len, const char *content_type)
{
    if (!cache)
        return;
    uint64_t hash = hash_key(key);
    shard_t *shard = &cache->shards[hash % SHARDS];
    char *body_copy = sd_malloc(len + 1);
    char *key_copy = sd_strdup(key);
    if (!body_copy || !key_copy) {
        sd_free(body_copy);
        sd_free(key_copy);
        return;
    }
    memcpy(body_copy, body, len);
    body_copy[len] = '\0';
    pthread_mutex_lock(&shard->lock);
    entry_t *e = find_slot(shard, key, hash);
    if (!e->key && shard->used + 1 > shard->cap / 2) {
        clear_shard(shard);
        e = find_slot(shard, key, hash);
    }
    if (e->key) {
        sd_free(e->key);
        sd_free(e->body);
    } else {
        shard->used++;
    }
    e->key = key_copy;
    e->generation = generation;
    e->body = body_copy;
    e->len = len;
    e->content_type = content_type;
    pthread_mutex_unlock(&shard->lock);
}
