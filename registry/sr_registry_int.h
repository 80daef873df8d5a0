/*
 * sr_registry_int.h - what the REST layer (sr_api*.c) needs from the running
 * registry: its state, its store and its place in the leader election.
 * Implemented in registry.c.
 */
#ifndef STRAND_SR_REGISTRY_INT_H
#define STRAND_SR_REGISTRY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "sr_state.h"

/* Codes of sr_registry_write / sr_registry_leader failures. */
enum {
    SR_ERR_STORE = -60,      /* the write failed (Confluent 50001) */
    SR_ERR_TIMEOUT = -61,    /* not applied in time (50002) */
    SR_ERR_NO_LEADER = -62,  /* no leader known (50004) */
    SR_ERR_NOT_READY = -63,  /* start-up has not read `_schemas` to its end yet */
};

typedef struct sr_registry sr_registry_t;

/* The state; see sr_state.h for locking. Borrowed for the registry's life. */
sr_state_t *sr_registry_state(sr_registry_t *registry);

/* True once start-up has read `_schemas` to its end. */
bool sr_registry_ready(sr_registry_t *registry);

/* Serialises write decisions: hold it from reading the state for a decision
 * through sr_registry_write returning, so two writers never decide on the
 * same state. */
void sr_registry_write_lock(sr_registry_t *registry);
void sr_registry_write_unlock(sr_registry_t *registry);

/* One record to write; value NULL = tombstone. NUL-terminated JSON texts. */
typedef struct sr_write {
    const char *key;
    const char *value;
} sr_write_t;

/* Produces the records in order (idempotent producer, acks=all) and returns
 * once the local reader has applied the last of them, so a read that follows
 * sees the write. Only the leader may call it. Returns 0, SR_ERR_STORE or
 * SR_ERR_TIMEOUT (err says what happened; a timed-out write may still land). */
int sr_registry_write(sr_registry_t *registry, const sr_write_t *records, size_t count,
                      sd_err_t *err);

/* Who takes writes: 1 = this process (the caller may write); 0 = another
 * process, whose base URL ("http://host:port") is copied into url;
 * SR_ERR_NO_LEADER when none is known yet. */
int sr_registry_leader(sr_registry_t *registry, char *url, size_t url_len);

/* Settings the REST layer uses. */
const char *sr_registry_default_compatibility(sr_registry_t *registry); /* "BACKWARD" */
size_t sr_registry_max_schema_bytes(sr_registry_t *registry);
int sr_registry_forward_timeout_ms(sr_registry_t *registry);
/* The Kafka cluster's id ("" when it did not say) and the election group
 * (Confluent's "schema-registry-cluster"), for /v1/metadata/id. */
const char *sr_registry_kafka_cluster_id(sr_registry_t *registry);
/* The cache of GET answers (sr_api_cache.h), or NULL for none. */
struct sr_api_cache *sr_registry_api_cache(sr_registry_t *registry);
const char *sr_registry_group_id(sr_registry_t *registry);

#endif
