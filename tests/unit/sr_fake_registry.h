/*
 * sr_fake_registry.h - a test double of the running registry for the REST
 * layer (the functions of sr_registry_int.h): a real sr_state to which
 * sr_registry_write applies the records straight away with increasing
 * offsets, a count of writes, a switch to make writes fail (store error or
 * timeout), to act as a follower of some URL or as a registry without a
 * leader, and to be not ready yet. Include it in exactly one file of a
 * program that does not link registry.c: it defines those symbols.
 */
#ifndef STRAND_TESTS_SR_FAKE_REGISTRY_H
#define STRAND_TESTS_SR_FAKE_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_registry_int.h"
#include "sr_state.h"

#define SR_FAKE_LOG_MAX 64

struct sr_registry {
    sr_state_t *state;
    pthread_mutex_t write_lock;
    bool ready;
    int fail_with; /* 0, SR_ERR_STORE or SR_ERR_TIMEOUT */
    int leader;    /* 1 = this process, 0 = follower of leader_url, <0 = none */
    char leader_url[256];
    int64_t offset; /* next record's offset (also its timestamp) */
    size_t writes;  /* successful sr_registry_write calls */
    size_t records; /* records applied */
    size_t max_schema_bytes;
    const char *default_compatibility;
    /* The records of the last write, copies (value NULL = tombstone). */
    char *last_keys[SR_FAKE_LOG_MAX];
    char *last_values[SR_FAKE_LOG_MAX];
    size_t last_count;
};

static inline void sr_fake_clear_log(sr_registry_t *registry)
{
    for (size_t i = 0; i < registry->last_count; i++) {
        free(registry->last_keys[i]);
        free(registry->last_values[i]);
    }
    registry->last_count = 0;
}

/* A ready leader over an empty state. */
static inline sr_registry_t *sr_fake_new(void)
{
    sr_registry_t *registry = calloc(1, sizeof *registry);
    if (!registry)
        return NULL;
    registry->state = sr_state_new();
    pthread_mutex_init(&registry->write_lock, NULL);
    registry->ready = true;
    registry->leader = 1;
    registry->offset = 1;
    registry->max_schema_bytes = 1 << 20;
    registry->default_compatibility = "BACKWARD";
    return registry;
}

static inline void sr_fake_free(sr_registry_t *registry)
{
    if (!registry)
        return;
    sr_fake_clear_log(registry);
    sr_state_free(registry->state);
    pthread_mutex_destroy(&registry->write_lock);
    free(registry);
}

sr_state_t *sr_registry_state(sr_registry_t *registry) { return registry->state; }

bool sr_registry_ready(sr_registry_t *registry) { return registry->ready; }

void sr_registry_write_lock(sr_registry_t *registry) { pthread_mutex_lock(&registry->write_lock); }

void sr_registry_write_unlock(sr_registry_t *registry)
{
    pthread_mutex_unlock(&registry->write_lock);
}

int sr_registry_write(sr_registry_t *registry, const sr_write_t *records, size_t count,
                      sd_err_t *err)
{
    if (registry->fail_with)
        return sd_err_set(err, registry->fail_with, "fake store told to fail");
    sr_fake_clear_log(registry);
    for (size_t i = 0; i < count; i++) {
        const char *value = records[i].value;
        sr_state_apply(registry->state, records[i].key, strlen(records[i].key), value,
                       value ? strlen(value) : 0, registry->offset,
                       1700000000000 + registry->offset);
        registry->offset++;
        registry->records++;
        if (registry->last_count < SR_FAKE_LOG_MAX) {
            registry->last_keys[registry->last_count] = strdup(records[i].key);
            registry->last_values[registry->last_count] = value ? strdup(value) : NULL;
            registry->last_count++;
        }
    }
    registry->writes++;
    return 0;
}

int sr_registry_leader(sr_registry_t *registry, char *url, size_t url_len)
{
    if (registry->leader < 0)
        return SR_ERR_NO_LEADER;
    if (registry->leader == 0 && url_len)
        snprintf(url, url_len, "%s", registry->leader_url);
    return registry->leader;
}

const char *sr_registry_default_compatibility(sr_registry_t *registry)
{
    return registry->default_compatibility;
}

size_t sr_registry_max_schema_bytes(sr_registry_t *registry) { return registry->max_schema_bytes; }

int sr_registry_forward_timeout_ms(sr_registry_t *registry)
{
    (void)registry;
    return 2000;
}

const char *sr_registry_kafka_cluster_id(sr_registry_t *registry)
{
    (void)registry;
    return "fake-cluster";
}

const char *sr_registry_group_id(sr_registry_t *registry)
{
    (void)registry;
    return "schema-registry";
}

struct sr_api_cache *sr_registry_api_cache(sr_registry_t *registry)
{
    (void)registry;
    return NULL;
}

#endif
