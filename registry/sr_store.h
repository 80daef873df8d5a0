/*
 * sr_store.h - the registry's store: the `_schemas` topic (one partition,
 * cleanup.policy=compact) written by an idempotent producer and read back in
 * offset order by one reader thread, with read-your-writes, as Confluent's
 * KafkaStore does. Works against Strand's broker and any Kafka cluster.
 */
#ifndef STRAND_SR_STORE_H
#define STRAND_SR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct sr_store sr_store_t;

/* Called by the reader thread for every record, in offset order; value NULL =
 * tombstone. key is NULL for a record without a key. The buffers are borrowed
 * for the call only. Must not call sr_store_write or sr_store_close (the
 * writer would wait for the very thread it blocks). */
typedef void (*sr_store_apply_fn)(void *ctx, const void *key, size_t key_len, const void *value,
                                  size_t value_len, int64_t offset, int64_t timestamp_ms);

typedef struct sr_store_config {
    const char *bootstrap_servers;
    const char *topic;      /* "_schemas" when NULL */
    int replication_factor; /* used when creating the topic; -1 = the cluster's default;
                               above the live brokers: lowered to their number, with a
                               warning (as Confluent) */
    int init_timeout_ms;    /* topic creation/check at open; <= 0 means 60000 */
    int write_timeout_ms;   /* one write produced and applied; <= 0 means 10000 */
} sr_store_config_t;

/* One record to write. NUL-terminated texts; value NULL = tombstone. */
typedef struct sr_store_record {
    const char *key;
    const char *value;
} sr_store_record_t;

/* Same values as SR_ERR_STORE / SR_ERR_TIMEOUT in sr_registry_int.h. */
enum { SR_STORE_ERR = -60, SR_STORE_TIMEOUT = -61 };

/* Creates the topic when it is missing (1 partition, cleanup.policy=compact;
 * another process creating it at the same time is fine), or checks an
 * existing one: exactly 1 partition and cleanup.policy=compact, refusing
 * anything else as Confluent does. Then starts the reader thread from the
 * topic's beginning and the producer. Returns without waiting for the reader
 * to catch up (see sr_store_catch_up). The config's strings are copied.
 * On success *out is the store (caller frees with sr_store_close); otherwise
 * SR_STORE_ERR, SR_STORE_TIMEOUT or SD_ERR_NOMEM, with err naming the
 * bootstrap servers, the topic and what failed. */
int sr_store_open(const sr_store_config_t *config, sr_store_apply_fn apply, void *ctx,
                  sr_store_t **out, sd_err_t *err);

/* Reads the topic's end offset now and waits until the reader has applied
 * everything before it. 0, SR_STORE_TIMEOUT (not reached within timeout_ms)
 * or SR_STORE_ERR (the end offset could not be read). */
int sr_store_catch_up(sr_store_t *store, int timeout_ms, sd_err_t *err);

/* Produces the records in order and returns once every one of them was
 * acknowledged (acks=all) and the reader has applied the last, so that the
 * apply callback has seen them all before this returns. Thread-safe.
 * 0; SR_STORE_ERR when a record was refused (err holds the client's text;
 * records before it may have been written); SR_STORE_TIMEOUT when not done
 * within write_timeout_ms (the records may still land). count 0 is a no-op. */
int sr_store_write(sr_store_t *store, const sr_store_record_t *records, size_t count,
                   sd_err_t *err);

/* The offset of the next record the reader will read: everything below it has
 * been applied (or compacted away). */
int64_t sr_store_applied_offset(sr_store_t *store);

/* Stops the reader, flushes and destroys the clients. Waits are bounded, so
 * it returns promptly even when the cluster is gone; writes not acknowledged
 * by then are abandoned. No write may be running. NULL is allowed. */
void sr_store_close(sr_store_t *store);

/* Copies the Kafka cluster's id into buf (NUL-terminated, truncated to len);
 * 0, or SR_STORE_ERR when the cluster did not give one within timeout_ms. */
int sr_store_cluster_id(sr_store_t *store, char *buf, size_t len, int timeout_ms);

#endif
