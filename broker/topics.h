/*
 * topics.h - the broker's topics: each topic's partitions with their open
 * logs and effective configs, kept in step with the metadata store. Used only
 * from the event-loop thread.
 */
#ifndef STRAND_BROKER_TOPICS_H
#define STRAND_BROKER_TOPICS_H

#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "metadata.h"
#include "producer_state.h"
#include "storage/kl_log.h"

typedef struct bk_topic bk_topic_t;

typedef struct bk_partition {
    bk_topic_t *topic;
    int32_t index;
    kl_log_t *log;
    int64_t unflushed_messages; /* since the last flush, for flush.messages */
    int64_t first_unflushed_ms; /* time of the oldest unflushed append, 0 = none */
    int dirty;                  /* listed in the server's to-flush list */
    bk_producers_t producers;   /* idempotent producers' sequence state */
} bk_partition_t;

struct bk_topic {
    char *name;
    uint8_t id[16];
    int32_t partition_count;
    bk_partition_t *partitions;
    sd_props_t *overrides; /* topic-level config overrides */
    kl_log_config_t log_config;
    int64_t flush_messages; /* effective flush.messages */
    int64_t flush_ms;       /* effective flush.ms */
};

typedef struct bk_topics {
    bk_topic_t **items;
    size_t count, cap;
    char *dir;                 /* data directory, owned */
    bk_meta_t *meta;           /* borrowed */
    const sd_config_t *config; /* broker config, borrowed */
} bk_topics_t;

/* Loads every topic in the metadata store and opens its partition logs;
 * `recover` after an unclean shutdown (see kl_log_open). */
int bk_topics_open(bk_topics_t *topics, const char *dir, bk_meta_t *meta, const sd_config_t *config,
                   int recover, sd_err_t *err);
/* Closes every log (writing recovery checkpoints). */
void bk_topics_close(bk_topics_t *topics);

bk_topic_t *bk_topics_find(const bk_topics_t *topics, const char *name, size_t len);
bk_partition_t *bk_topics_partition(const bk_topics_t *topics, const char *name, size_t len,
                                    int32_t partition);

/* Kafka's topic name rule: 1-249 chars of [a-zA-Z0-9._-], not "." or "..".
 * Returns 0 when legal, else fills err. */
int bk_topic_name_validate(const char *name, size_t len, sd_err_t *err);

/* Error codes for bk_topics_create / delete (negative), mapped to Kafka's. */
enum {
    BK_TOPIC_EXISTS = -200,             /* TOPIC_ALREADY_EXISTS (36) */
    BK_TOPIC_INVALID_NAME = -201,       /* INVALID_TOPIC_EXCEPTION (17) */
    BK_TOPIC_INVALID_PARTITIONS = -202, /* INVALID_PARTITIONS (37) */
    BK_TOPIC_INVALID_CONFIG = -203,     /* INVALID_CONFIG (40) */
    BK_TOPIC_UNKNOWN = -204,            /* UNKNOWN_TOPIC_OR_PARTITION (3) */
    BK_TOPIC_STORAGE = -205,            /* KAFKA_STORAGE_ERROR (56) */
};
int16_t bk_topics_kafka_error(int code);

/* Creates a topic (metadata, then partition directories). partitions <= 0
 * means num.partitions. `configs` (may be NULL) are validated overrides.
 * validate_only checks everything and creates nothing. */
int bk_topics_create(bk_topics_t *topics, const char *name, int32_t partitions,
                     const sd_props_t *configs, int validate_only, bk_topic_t **out, sd_err_t *err);
/* Removes a topic from the metadata store and its data from disk. The
 * topic's logs are closed; pointers to it become invalid. */
int bk_topics_delete(bk_topics_t *topics, const char *name, sd_err_t *err);

/* Replaces every config override of a topic with `configs` (AlterConfigs,
 * and IncrementalAlterConfigs once its operations are applied): each name
 * and value is validated first (BK_TOPIC_INVALID_CONFIG with a message
 * naming the property), then the overrides are persisted, and the effective
 * configs reach the open logs and the cleaner. validate_only checks and
 * changes nothing. configs is borrowed (copied). */
int bk_topics_set_configs(bk_topics_t *topics, bk_topic_t *topic, const sd_props_t *configs,
                          int validate_only, sd_err_t *err);

/* Effective value of a topic config (override or broker default) as text
 * in buf; *is_default = 1 when no override exists. */
const char *bk_topic_config_value(const bk_topics_t *topics, const bk_topic_t *topic,
                                  const char *name, char *buf, size_t n, int *is_default);

#endif
