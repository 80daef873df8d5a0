/*
 * serde_common.c - what the serializer and deserializer share: the error
 * struct and the mapping of the registry client's errors into it, refcounted
 * cache entries, and the single-flight maps the caches are built on (a read
 * lock for hits; no lock while a value is made).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "core/serde_int.h"

/* ---- errors ------------------------------------------------------------------ */

/* Appends to the message at *pos (truncating at the end of the buffer). */
static void append(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
    if (*pos + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        *pos = *pos + (size_t)n < cap ? *pos + (size_t)n : cap - 1;
}

static void verror(strand_serde_error_t *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    err->registry_code = 0;
    err->http_status = 0;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

int serde__error(strand_serde_error_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        verror(err, code, fmt, ap);
        va_end(ap);
    }
    return code;
}

void serde__clear_error(strand_serde_error_t *err)
{
    if (err) {
        err->code = err->registry_code = err->http_status = 0;
        err->message[0] = '\0';
    }
}

int serde__error_prefix(strand_serde_error_t *err, int rc, const char *fmt, ...)
{
    if (err) {
        char context[256], old[sizeof err->message];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(context, sizeof context, fmt, ap);
        va_end(ap);
        memcpy(old, err->message, sizeof old);
        size_t pos = 0;
        append(err->message, sizeof err->message, &pos, "%s: ", context);
        append(err->message, sizeof err->message, &pos, "%s", old);
    }
    return rc;
}

/* Registry answers that mean "no such thing" or "refused as incompatible". */
static int registry_code(const strand_registry_error_t *from)
{
    switch (from->code) {
    case STRAND_REGISTRY_ERR_NOMEM: return STRAND_SERDE_ERR_NOMEM;
    case STRAND_REGISTRY_ERR_CONFIG: return STRAND_SERDE_ERR_CONFIG;
    case STRAND_REGISTRY_ERR_ARGUMENT: return STRAND_SERDE_ERR_ARGUMENT;
    case STRAND_REGISTRY_ERR_HTTP:
        if (from->http_status == 404)
            return STRAND_SERDE_ERR_UNKNOWN_SCHEMA;
        if (from->http_status == 409)
            return STRAND_SERDE_ERR_INCOMPATIBLE;
        if (from->error_code == 42201)
            return STRAND_SERDE_ERR_SCHEMA;
        return STRAND_SERDE_ERR_REGISTRY;
    default: return STRAND_SERDE_ERR_REGISTRY;
    }
}

int serde__registry_error(strand_serde_error_t *err, const strand_registry_error_t *from,
                          const char *fmt, ...)
{
    int code = registry_code(from);
    if (!err)
        return code;
    char context[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    err->code = code;
    err->registry_code = from->error_code;
    err->http_status = from->http_status;
    size_t pos = 0;
    append(err->message, sizeof err->message, &pos, "%s: ", context);
    append(err->message, sizeof err->message, &pos, "%s", from->message);
    if (from->error_code)
        append(err->message, sizeof err->message, &pos, " (%d)", from->error_code);
    return code;
}

void strand_serde_free(void *p) { sd_free(p); }

/* ---- refcounted entries ---------------------------------------------------------- */

serde_ref_t *serde__retain(serde_ref_t *ref)
{
    if (ref)
        __atomic_add_fetch(&ref->refs, 1, __ATOMIC_RELAXED);
    return ref;
}

void serde__release(serde_ref_t *ref)
{
    if (ref && __atomic_sub_fetch(&ref->refs, 1, __ATOMIC_ACQ_REL) == 0)
        ref->destroy(ref);
}

/* ---- formats ------------------------------------------------------------------- */

const serde_format_t *serde__format(strand_serde_format_t format, strand_serde_error_t *err)
{
    switch (format) {
    case STRAND_SERDE_AVRO: return &serde__avro_format;
    case STRAND_SERDE_PROTOBUF:
        serde__error(err, STRAND_SERDE_ERR_UNSUPPORTED, "the PROTOBUF format is not supported yet");
        return NULL;
    case STRAND_SERDE_JSON:
        serde__error(err, STRAND_SERDE_ERR_UNSUPPORTED,
                     "the JSON (JSON Schema) format is not supported yet");
        return NULL;
    }
    serde__error(err, STRAND_SERDE_ERR_ARGUMENT, "unknown format %d", (int)format);
    return NULL;
}

/* ---- single-flight maps ------------------------------------------------------------ */

enum { ENTRY_PENDING = 0, ENTRY_READY, ENTRY_FAILED };

struct serde_map_entry {
    serde_map_entry_t *next;
    uint64_t hash;
    int state;                   /* ENTRY_*; changed under both locks */
    serde_ref_t *value;          /* ENTRY_READY: the map's reference */
    strand_serde_error_t *error; /* ENTRY_FAILED: the remembered failure */
    size_t key_len;
    unsigned char key[];
};

/* FNV-1a, 64-bit: keys are short (ids, pointers, a subject, a schema text). */
static uint64_t hash_key(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int serde__map_init(serde_map_t *map, size_t cap)
{
    memset(map, 0, sizeof *map);
    map->bucket_count = 64;
    map->cap = cap;
    map->buckets = sd_calloc(map->bucket_count, sizeof *map->buckets);
    if (!map->buckets)
        return STRAND_SERDE_ERR_NOMEM;
    pthread_rwlock_init(&map->lock, NULL);
    pthread_mutex_init(&map->wait_lock, NULL);
    pthread_cond_init(&map->done, NULL);
    return 0;
}

static void entry_free(serde_map_entry_t *e)
{
    serde__release(e->value);
    sd_free(e->error);
    sd_free(e);
}

void serde__map_free(serde_map_t *map)
{
    if (!map->buckets)
        return;
    for (size_t i = 0; i < map->bucket_count; i++) {
        serde_map_entry_t *e = map->buckets[i];
        while (e) {
            serde_map_entry_t *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    sd_free(map->buckets);
    map->buckets = NULL;
    pthread_rwlock_destroy(&map->lock);
    pthread_mutex_destroy(&map->wait_lock);
    pthread_cond_destroy(&map->done);
}

static serde_map_entry_t *find(const serde_map_t *map, uint64_t hash, const void *key,
                               size_t key_len)
{
    for (serde_map_entry_t *e = map->buckets[hash & (map->bucket_count - 1)]; e; e = e->next)
        if (e->hash == hash && e->key_len == key_len && memcmp(e->key, key, key_len) == 0)
            return e;
    return NULL;
}

/* Doubles the table when it is 3/4 full; a failed growth leaves it as is
 * (longer chains, still correct). Called with the write lock held. */
static void maybe_grow(serde_map_t *map)
{
    if (map->count * 4 < map->bucket_count * 3)
        return;
    size_t n = map->bucket_count * 2;
    serde_map_entry_t **b = sd_calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < map->bucket_count; i++) {
        serde_map_entry_t *e = map->buckets[i];
        while (e) {
            serde_map_entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    sd_free(map->buckets);
    map->buckets = b;
    map->bucket_count = n;
}

static void unlink_entry(serde_map_t *map, serde_map_entry_t *entry)
{
    serde_map_entry_t **p = &map->buckets[entry->hash & (map->bucket_count - 1)];
    while (*p != entry)
        p = &(*p)->next;
    *p = entry->next;
    map->count--;
}

/* A READY entry's value or a FAILED entry's error, for the caller. */
static int answer(const serde_map_entry_t *e, serde_ref_t **out, strand_serde_error_t *err)
{
    if (e->state == ENTRY_READY) {
        *out = serde__retain(e->value);
        return 0;
    }
    if (err)
        *err = *e->error;
    return e->error->code;
}

serde_ref_t *serde__map_find(serde_map_t *map, const void *key, size_t key_len)
{
    uint64_t h = hash_key(key, key_len);
    serde_ref_t *value = NULL;
    pthread_rwlock_rdlock(&map->lock);
    serde_map_entry_t *e = find(map, h, key, key_len);
    if (e && e->state == ENTRY_READY)
        value = serde__retain(e->value);
    pthread_rwlock_unlock(&map->lock);
    return value;
}

int serde__map_get(serde_map_t *map, const void *key, size_t key_len, serde_make_fn make, void *arg,
                   serde_ref_t **out, strand_serde_error_t *err)
{
    uint64_t h = hash_key(key, key_len);
    *out = NULL;

    /* The hot path: a hit under the read lock. */
    pthread_rwlock_rdlock(&map->lock);
    serde_map_entry_t *e = find(map, h, key, key_len);
    if (e && e->state != ENTRY_PENDING) {
        int rc = answer(e, out, err);
        pthread_rwlock_unlock(&map->lock);
        return rc;
    }
    pthread_rwlock_unlock(&map->lock);

    /* A miss: wait for a pending maker, or become the maker. State changes
     * happen under wait_lock, so a waiter cannot miss the broadcast. */
    pthread_mutex_lock(&map->wait_lock);
    for (;;) {
        pthread_rwlock_rdlock(&map->lock);
        e = find(map, h, key, key_len);
        int state = e ? e->state : -1;
        if (e && state != ENTRY_PENDING) {
            int rc = answer(e, out, err);
            pthread_rwlock_unlock(&map->lock);
            pthread_mutex_unlock(&map->wait_lock);
            return rc;
        }
        pthread_rwlock_unlock(&map->lock);
        if (!e)
            break;
        pthread_cond_wait(&map->done, &map->wait_lock);
    }
    e = NULL;
    if (map->count < map->cap) {
        e = sd_calloc(1, sizeof *e + key_len);
        if (e) {
            e->hash = h;
            e->key_len = key_len;
            memcpy(e->key, key, key_len);
            pthread_rwlock_wrlock(&map->lock);
            maybe_grow(map);
            e->next = map->buckets[h & (map->bucket_count - 1)];
            map->buckets[h & (map->bucket_count - 1)] = e;
            map->count++;
            pthread_rwlock_unlock(&map->lock);
        }
    }
    pthread_mutex_unlock(&map->wait_lock);

    /* Made without any lock held (this may be an HTTP request). */
    serde_ref_t *value = NULL;
    int permanent = 0;
    strand_serde_error_t local;
    strand_serde_error_t *e_err = err ? err : &local;
    int rc = make(arg, &value, &permanent, e_err);
    if (!e) {
        /* Not kept: the map is full or out of memory. */
        *out = value;
        return rc;
    }

    strand_serde_error_t *kept = NULL;
    if (rc && permanent) {
        kept = sd_malloc(sizeof *kept);
        if (kept)
            *kept = *e_err;
    }
    pthread_mutex_lock(&map->wait_lock);
    pthread_rwlock_wrlock(&map->lock);
    if (!rc) {
        e->value = value;
        e->state = ENTRY_READY;
        *out = serde__retain(value);
        e = NULL;
    } else if (kept) {
        e->error = kept;
        e->state = ENTRY_FAILED;
        e = NULL;
    } else {
        unlink_entry(map, e); /* the next caller tries again */
    }
    pthread_rwlock_unlock(&map->lock);
    pthread_cond_broadcast(&map->done);
    pthread_mutex_unlock(&map->wait_lock);
    if (e)
        entry_free(e);
    return rc;
}
