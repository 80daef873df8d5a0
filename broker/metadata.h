/*
 * metadata.h - the broker's metadata store: an SQLite database in the data
 * directory holding the cluster id, topics with their partition counts and
 * config overrides, and the producer-id counter. Each change is one
 * transaction, so a crash leaves either the old or the new state.
 */
#ifndef STRAND_BROKER_METADATA_H
#define STRAND_BROKER_METADATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"

typedef struct bk_meta bk_meta_t;

/* Opens or creates <dir>/strand-meta.db. Caller closes with bk_meta_close. */
int bk_meta_open(const char *dir, bk_meta_t **out, sd_err_t *err);
void bk_meta_close(bk_meta_t *meta);

/* The cluster id, created on first open (22 characters, base64url of 16
 * random bytes, like Kafka's). Borrowed until close. */
const char *bk_meta_cluster_id(const bk_meta_t *meta);

typedef struct bk_meta_topic {
    const char *name; /* borrowed for the callback's duration */
    uint8_t id[16];
    int32_t partitions;
    const sd_props_t *configs; /* overrides only */
} bk_meta_topic_t;

typedef int (*bk_meta_topic_cb)(const bk_meta_topic_t *topic, void *opaque);

/* Calls cb for every topic; a non-zero return from cb stops and is returned. */
int bk_meta_load_topics(bk_meta_t *meta, bk_meta_topic_cb cb, void *opaque, sd_err_t *err);
int bk_meta_create_topic(bk_meta_t *meta, const bk_meta_topic_t *topic, sd_err_t *err);
/* Deletes a topic with its configs and every group's committed offsets for it. */
int bk_meta_delete_topic(bk_meta_t *meta, const char *name, sd_err_t *err);
/* Replaces a topic's config overrides with `configs`. */
int bk_meta_set_topic_configs(bk_meta_t *meta, const char *name, const sd_props_t *configs,
                              sd_err_t *err);
/* Allocates the next producer id (durably). */
int bk_meta_next_producer_id(bk_meta_t *meta, int64_t *id, sd_err_t *err);

/* A consumer group's committed offset for one partition. */
typedef struct bk_meta_offset {
    const char *topic; /* borrowed (for a callback: for its duration) */
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1 when unknown */
    const char *metadata; /* NULL when the client sent null */
    int64_t commit_timestamp_ms;
} bk_meta_offset_t;

typedef int (*bk_meta_offset_cb)(const bk_meta_offset_t *offset, void *opaque);
typedef int (*bk_meta_group_cb)(const char *group, void *opaque);

/* Stores n committed offsets of `group` in one transaction (all or none). */
int bk_meta_commit_offsets(bk_meta_t *meta, const char *group, const bk_meta_offset_t *offsets,
                           size_t n, sd_err_t *err);
/* Calls cb for each committed offset of `group`, only those of `topic`
 * unless it is NULL, and of `partition` unless it is negative. A non-zero
 * return from cb stops and is returned. */
int bk_meta_load_offsets(bk_meta_t *meta, const char *group, const char *topic, int32_t partition,
                         bk_meta_offset_cb cb, void *opaque, sd_err_t *err);
/* Deletes the offsets of the n (topic, partition) pairs in one transaction. */
int bk_meta_delete_offsets(bk_meta_t *meta, const char *group, const bk_meta_offset_t *which,
                           size_t n, sd_err_t *err);
int bk_meta_delete_group_offsets(bk_meta_t *meta, const char *group, sd_err_t *err);
/* Calls cb for every group holding committed offsets. */
int bk_meta_list_offset_groups(bk_meta_t *meta, bk_meta_group_cb cb, void *opaque, sd_err_t *err);

/* 16 random bytes (a topic id or a cluster id source). */
void bk_random_uuid(uint8_t out[16]);

#endif
