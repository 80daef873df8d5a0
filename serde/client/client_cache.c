/*
 * client_cache.c - the registry client's caches: one chained hash map of
 * byte-string keys to refcounted schema records, with single-flight misses.
 * A miss inserts a pending entry holding a "flight"; callers that miss the
 * same key meanwhile wait on the flight's condition variable instead of
 * sending their own request. The map's lock is held only to look up and
 * update entries, never while the fetch runs.
 */
#include <string.h>

#include "base/alloc.h"
#include "client/client_int.h"

typedef struct rc_flight {
    pthread_cond_t done_cond;
    int done;
    int refs; /* the fetching caller and every waiter; under the cache lock */
    int rc;
    rc_schema_t *result; /* one reference while the flight lives */
    strand_registry_error_t err;
} rc_flight_t;

struct rc_entry {
    rc_entry_t *next;
    uint64_t hash;
    size_t key_len;
    rc_schema_t *schema; /* ready: the cache's reference; NULL while pending */
    rc_flight_t *flight; /* pending: the fetch in progress */
    int64_t expires_ms;  /* 0: never */
    uint8_t key[];
};

#define INITIAL_BUCKETS 64

static uint64_t hash_key(const void *key, size_t len)
{
    /* FNV-1a, 64-bit. */
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int rc_cache__init(rc_cache_t *cache)
{
    memset(cache, 0, sizeof *cache);
    cache->buckets = sd_calloc(INITIAL_BUCKETS, sizeof *cache->buckets);
    if (!cache->buckets)
        return -1;
    cache->bucket_count = INITIAL_BUCKETS;
    pthread_mutex_init(&cache->lock, NULL);
    return 0;
}

void rc_cache__free(rc_cache_t *cache)
{
    if (!cache->buckets)
        return;
    for (size_t b = 0; b < cache->bucket_count; b++) {
        rc_entry_t *e = cache->buckets[b];
        while (e) {
            rc_entry_t *next = e->next;
            rc_schema__release(e->schema);
            sd_free(e);
            e = next;
        }
    }
    sd_free(cache->buckets);
    pthread_mutex_destroy(&cache->lock);
    memset(cache, 0, sizeof *cache);
}

static rc_entry_t **find_slot(rc_cache_t *cache, const void *key, size_t len, uint64_t hash)
{
    rc_entry_t **slot = &cache->buckets[hash & (cache->bucket_count - 1)];
    while (*slot && !((*slot)->hash == hash && (*slot)->key_len == len &&
                      memcmp((*slot)->key, key, len) == 0))
        slot = &(*slot)->next;
    return slot;
}

/* Doubles the table when it is fuller than one entry per bucket; a failed
 * growth just leaves the chains longer. */
static void maybe_grow(rc_cache_t *cache)
{
    if (cache->count < cache->bucket_count)
        return;
    size_t n = cache->bucket_count * 2;
    rc_entry_t **buckets = sd_calloc(n, sizeof *buckets);
    if (!buckets)
        return;
    for (size_t b = 0; b < cache->bucket_count; b++) {
        rc_entry_t *e = cache->buckets[b];
        while (e) {
            rc_entry_t *next = e->next;
            e->next = buckets[e->hash & (n - 1)];
            buckets[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    sd_free(cache->buckets);
    cache->buckets = buckets;
    cache->bucket_count = n;
}

/* Drops the caller's part in a flight; the last one out frees it. Under the
 * cache lock. */
static void flight_leave(rc_flight_t *f)
{
    if (--f->refs > 0)
        return;
    rc_schema__release(f->result);
    pthread_cond_destroy(&f->done_cond);
    sd_free(f);
}

static int copy_result(rc_flight_t *f, rc_schema_t **out, strand_registry_error_t *err)
{
    if (f->rc == 0) {
        __atomic_add_fetch(&f->result->refs, 1, __ATOMIC_RELAXED);
        *out = f->result;
    } else if (err) {
        *err = f->err;
    }
    return f->rc;
}

static int nomem(strand_registry_error_t *err)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = STRAND_REGISTRY_ERR_NOMEM;
        strcpy(err->message, "out of memory");
    }
    return STRAND_REGISTRY_ERR_NOMEM;
}

int rc_cache__get(rc_cache_t *cache, const void *key, size_t key_len, int64_t ttl_ms,
                  rc_fetch_fn fetch, void *arg, rc_schema_t **out, strand_registry_error_t *err)
{
    *out = NULL;
    uint64_t hash = hash_key(key, key_len);
    pthread_mutex_lock(&cache->lock);
    rc_entry_t **slot = find_slot(cache, key, key_len, hash);
    rc_entry_t *e = *slot;
    if (e && e->schema && (e->expires_ms == 0 || rc__now_ms() < e->expires_ms)) {
        __atomic_add_fetch(&e->schema->refs, 1, __ATOMIC_RELAXED);
        *out = e->schema;
        pthread_mutex_unlock(&cache->lock);
        __atomic_add_fetch(&cache->hits, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if (e && e->flight) {
        /* Someone is fetching this key: wait for their answer. */
        rc_flight_t *f = e->flight;
        f->refs++;
        __atomic_add_fetch(&cache->joins, 1, __ATOMIC_RELAXED);
        while (!f->done)
            pthread_cond_wait(&f->done_cond, &cache->lock);
        int rc = copy_result(f, out, err);
        flight_leave(f);
        pthread_mutex_unlock(&cache->lock);
        return rc;
    }
    rc_flight_t *f = sd_calloc(1, sizeof *f);
    if (!f) {
        pthread_mutex_unlock(&cache->lock);
        return nomem(err);
    }
    if (!e) {
        e = sd_calloc(1, sizeof *e + key_len);
        if (!e) {
            pthread_mutex_unlock(&cache->lock);
            sd_free(f);
            return nomem(err);
        }
        e->hash = hash;
        e->key_len = key_len;
        memcpy(e->key, key, key_len);
        *slot = e;
        cache->count++;
        maybe_grow(cache);
    } else {
        /* Expired: the stale record goes; callers that hold it keep it. */
        rc_schema__release(e->schema);
        e->schema = NULL;
    }
    pthread_cond_init(&f->done_cond, NULL);
    f->refs = 1;
    e->flight = f;
    pthread_mutex_unlock(&cache->lock);
    __atomic_add_fetch(&cache->misses, 1, __ATOMIC_RELAXED);

    strand_registry_error_t fetch_err = {0};
    rc_schema_t *result = NULL;
    int rc = fetch(arg, &result, &fetch_err);

    pthread_mutex_lock(&cache->lock);
    /* The entry is still there: nothing removes an entry with a flight. */
    slot = find_slot(cache, key, key_len, hash);
    e = *slot;
    e->flight = NULL;
    if (rc == 0 && ttl_ms != 0) {
        __atomic_add_fetch(&result->refs, 1, __ATOMIC_RELAXED);
        e->schema = result;
        e->expires_ms = ttl_ms > 0 ? rc__now_ms() + ttl_ms : 0;
    } else {
        *slot = e->next;
        cache->count--;
        sd_free(e);
    }
    f->rc = rc;
    f->err = fetch_err;
    if (rc == 0) {
        __atomic_add_fetch(&result->refs, 1, __ATOMIC_RELAXED);
        f->result = result;
    }
    f->done = 1;
    pthread_cond_broadcast(&f->done_cond);
    flight_leave(f);
    pthread_mutex_unlock(&cache->lock);

    if (rc == 0)
        *out = result;
    else if (err)
        *err = fetch_err;
    return rc;
}

void rc_cache__drop(rc_cache_t *cache, const void *key, size_t key_len)
{
    uint64_t hash = hash_key(key, key_len);
    pthread_mutex_lock(&cache->lock);
    rc_entry_t **slot = find_slot(cache, key, key_len, hash);
    rc_entry_t *e = *slot;
    rc_schema_t *stale = NULL;
    if (e && !e->flight) {
        *slot = e->next;
        cache->count--;
        stale = e->schema;
        sd_free(e);
    }
    pthread_mutex_unlock(&cache->lock);
    rc_schema__release(stale);
}

void rc_cache__put(rc_cache_t *cache, const void *key, size_t key_len, rc_schema_t *schema)
{
    uint64_t hash = hash_key(key, key_len);
    pthread_mutex_lock(&cache->lock);
    rc_entry_t **slot = find_slot(cache, key, key_len, hash);
    if (!*slot) {
        rc_entry_t *e = sd_calloc(1, sizeof *e + key_len);
        if (e) {
            e->hash = hash;
            e->key_len = key_len;
            memcpy(e->key, key, key_len);
            __atomic_add_fetch(&schema->refs, 1, __ATOMIC_RELAXED);
            e->schema = schema;
            *slot = e;
            cache->count++;
            maybe_grow(cache);
        }
    }
    pthread_mutex_unlock(&cache->lock);
}
