/*
 * topics.c - topic registry over the metadata store and partition logs.
 */
#include "topics.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "config.h"
#include "storage/kl_batch.h"

int16_t bk_topics_kafka_error(int code)
{
    switch (code) {
    case 0: return 0;
    case BK_TOPIC_EXISTS: return 36;
    case BK_TOPIC_INVALID_NAME: return 17;
    case BK_TOPIC_INVALID_PARTITIONS: return 37;
    case BK_TOPIC_INVALID_CONFIG: return 40;
    case BK_TOPIC_UNKNOWN: return 3;
    default: return 56;
    }
}

int bk_topic_name_validate(const char *name, size_t len, sd_err_t *err)
{
    if (len == 0)
        return sd_err_set(err, BK_TOPIC_INVALID_NAME, "topic name is empty");
    if (len > 249)
        return sd_err_set(err, BK_TOPIC_INVALID_NAME,
                          "topic name is %zu characters long; at most 249 are allowed", len);
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return sd_err_set(err, BK_TOPIC_INVALID_NAME, "topic name cannot be '.' or '..'");
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return sd_err_set(err, BK_TOPIC_INVALID_NAME,
                              "topic name '%.*s' contains a character other than ASCII "
                              "letters, digits, '.', '_' and '-'",
                              (int)len, name);
    }
    return 0;
}

const char *bk_topic_config_value(const bk_topics_t *topics, const bk_topic_t *topic,
                                  const char *name, char *buf, size_t n, int *is_default)
{
    const char *override = topic && topic->overrides ? sd_props_get(topic->overrides, name) : NULL;
    if (is_default)
        *is_default = override == NULL;
    if (override) {
        snprintf(buf, n, "%s", override);
        return buf;
    }
    const bk_topic_config_def_t *def = bk_topic_config_find(name);
    if (!def) {
        snprintf(buf, n, "%s", "");
        return buf;
    }
    return bk_topic_config_default(topics->config, def, buf, n);
}

static int64_t config_long(const bk_topics_t *topics, const bk_topic_t *topic, const char *name)
{
    char buf[64];
    return strtoll(bk_topic_config_value(topics, topic, name, buf, sizeof buf, NULL), NULL, 10);
}

static void apply_configs(const bk_topics_t *topics, bk_topic_t *topic)
{
    char buf[64];
    kl_log_config_t *lc = &topic->log_config;
    kl_log_config_defaults(lc);
    lc->segment_bytes = config_long(topics, topic, "segment.bytes");
    lc->segment_ms = config_long(topics, topic, "segment.ms");
    lc->index_interval_bytes = (int32_t)config_long(topics, topic, "index.interval.bytes");
    lc->segment_index_bytes = (int32_t)config_long(topics, topic, "segment.index.bytes");
    lc->max_message_bytes = (int32_t)config_long(topics, topic, "max.message.bytes");
    lc->log_append_time = strcmp(bk_topic_config_value(topics, topic, "message.timestamp.type", buf,
                                                       sizeof buf, NULL),
                                 "LogAppendTime") == 0;
    const char *policy =
        bk_topic_config_value(topics, topic, "cleanup.policy", buf, sizeof buf, NULL);
    lc->cleanup_compact = strstr(policy, "compact") != NULL;
    lc->cleanup_delete = strstr(policy, "delete") != NULL;
    lc->retention_ms = config_long(topics, topic, "retention.ms");
    lc->retention_bytes = config_long(topics, topic, "retention.bytes");
    lc->delete_retention_ms = config_long(topics, topic, "delete.retention.ms");
    lc->min_compaction_lag_ms = config_long(topics, topic, "min.compaction.lag.ms");
    lc->max_compaction_lag_ms = config_long(topics, topic, "max.compaction.lag.ms");
    lc->min_cleanable_dirty_ratio = strtod(
        bk_topic_config_value(topics, topic, "min.cleanable.dirty.ratio", buf, sizeof buf, NULL),
        NULL);
    topic->flush_messages = config_long(topics, topic, "flush.messages");
    topic->flush_ms = config_long(topics, topic, "flush.ms");
}

static void topic_free(bk_topic_t *topic)
{
    if (!topic)
        return;
    for (int32_t p = 0; topic->partitions && p < topic->partition_count; p++) {
        if (topic->partitions[p].log)
            kl_log_close(topic->partitions[p].log);
        bk_producers_free(&topic->partitions[p].producers);
    }
    sd_free(topic->partitions);
    sd_props_free(topic->overrides);
    sd_free(topic->name);
    sd_free(topic);
}

static int partition_dir(const bk_topics_t *topics, const char *name, int32_t p, char *buf,
                         size_t n)
{
    int len = snprintf(buf, n, "%s/%s-%d", topics->dir, name, p);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* Rebuilds idempotent producers' sequence state from a stored batch, so
 * that a retry arriving after a restart is still recognised. */
static int remember_producer(const uint8_t header[61], void *opaque)
{
    kl_batch_header_t h;
    kl_batch_header_decode(header, &h);
    if (h.producer_id < 0 || h.base_sequence < 0 || h.last_offset_delta < 0)
        return 0;
    bk_producers_record(opaque, h.producer_id, h.producer_epoch, h.base_sequence,
                        bk_producer_last_seq(h.base_sequence, h.last_offset_delta), h.base_offset);
    return 0;
}

/* Builds the in-memory topic and opens its logs. */
static int topic_open(bk_topics_t *topics, const char *name, const uint8_t id[16],
                      int32_t partitions, const sd_props_t *configs, int recover, bk_topic_t **out,
                      sd_err_t *err)
{
    int rc = 0;
    bk_topic_t *topic = sd_calloc(1, sizeof *topic);
    if (!topic)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    topic->name = sd_strdup(name);
    topic->overrides = sd_props_new();
    topic->partitions = sd_calloc((size_t)partitions, sizeof *topic->partitions);
    if (!topic->name || !topic->overrides || !topic->partitions) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(topic->id, id, 16);
    topic->partition_count = partitions;
    for (size_t i = 0; configs && i < sd_props_count(configs); i++)
        if (sd_props_set(topic->overrides, sd_props_key_at(configs, i),
                         sd_props_value_at(configs, i))) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
            goto fail;
        }
    apply_configs(topics, topic);
    for (int32_t p = 0; p < partitions; p++) {
        char dir[4096];
        topic->partitions[p].topic = topic;
        topic->partitions[p].index = p;
        if (partition_dir(topics, name, p, dir, sizeof dir)) {
            rc = sd_err_set(err, BK_TOPIC_STORAGE, "data directory path too long");
            goto fail;
        }
        rc = kl_log_open(dir, &topic->log_config, recover, &topic->partitions[p].log, err);
        if (rc) {
            rc = BK_TOPIC_STORAGE;
            goto fail;
        }
        rc = kl_log_scan_active(topic->partitions[p].log, remember_producer,
                                &topic->partitions[p].producers, err);
        if (rc) {
            rc = BK_TOPIC_STORAGE;
            goto fail;
        }
    }
    *out = topic;
    return 0;
fail:
    topic_free(topic);
    return rc;
}

static int topics_add(bk_topics_t *topics, bk_topic_t *topic, sd_err_t *err)
{
    if (topics->count == topics->cap) {
        size_t cap = topics->cap ? topics->cap * 2 : 16;
        bk_topic_t **items = sd_realloc(topics->items, cap * sizeof *items);
        if (!items)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        topics->items = items;
        topics->cap = cap;
    }
    topics->items[topics->count++] = topic;
    return 0;
}

typedef struct load_ctx {
    bk_topics_t *topics;
    int recover;
    sd_err_t *err;
} load_ctx_t;

static int load_one(const bk_meta_topic_t *meta_topic, void *opaque)
{
    load_ctx_t *ctx = opaque;
    bk_topic_t *topic = NULL;
    int rc = topic_open(ctx->topics, meta_topic->name, meta_topic->id, meta_topic->partitions,
                        meta_topic->configs, ctx->recover, &topic, ctx->err);
    if (rc)
        return rc;
    rc = topics_add(ctx->topics, topic, ctx->err);
    if (rc)
        topic_free(topic);
    return rc;
}

int bk_topics_open(bk_topics_t *topics, const char *dir, bk_meta_t *meta, const sd_config_t *config,
                   int recover, sd_err_t *err)
{
    memset(topics, 0, sizeof *topics);
    topics->dir = sd_strdup(dir);
    if (!topics->dir)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    topics->meta = meta;
    topics->config = config;
    load_ctx_t ctx = {topics, recover, err};
    int rc = bk_meta_load_topics(meta, load_one, &ctx, err);
    if (rc)
        bk_topics_close(topics);
    return rc;
}

void bk_topics_close(bk_topics_t *topics)
{
    for (size_t i = 0; i < topics->count; i++)
        topic_free(topics->items[i]);
    sd_free(topics->items);
    sd_free(topics->dir);
    memset(topics, 0, sizeof *topics);
}

bk_topic_t *bk_topics_find(const bk_topics_t *topics, const char *name, size_t len)
{
    for (size_t i = 0; i < topics->count; i++) {
        bk_topic_t *t = topics->items[i];
        if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
            return t;
    }
    return NULL;
}

bk_partition_t *bk_topics_partition(const bk_topics_t *topics, const char *name, size_t len,
                                    int32_t partition)
{
    bk_topic_t *t = bk_topics_find(topics, name, len);
    if (!t || partition < 0 || partition >= t->partition_count)
        return NULL;
    return &t->partitions[partition];
}

int bk_topics_create(bk_topics_t *topics, const char *name, int32_t partitions,
                     const sd_props_t *configs, int validate_only, bk_topic_t **out, sd_err_t *err)
{
    int rc = bk_topic_name_validate(name, strlen(name), err);
    if (rc)
        return rc;
    if (bk_topics_find(topics, name, strlen(name)))
        return sd_err_set(err, BK_TOPIC_EXISTS, "Topic '%s' already exists.", name);
    if (partitions <= 0)
        partitions = (int32_t)sd_config_int(topics->config, "num.partitions");
    if (partitions > 100000)
        return sd_err_set(err, BK_TOPIC_INVALID_PARTITIONS,
                          "%d partitions requested; at most 100000 are allowed", partitions);
    for (size_t i = 0; configs && i < sd_props_count(configs); i++) {
        sd_err_t why;
        if (bk_topic_config_validate(sd_props_key_at(configs, i), sd_props_value_at(configs, i),
                                     &why))
            return sd_err_set(err, BK_TOPIC_INVALID_CONFIG, "%s", why.msg);
    }
    if (validate_only)
        return 0;
    bk_meta_topic_t meta_topic = {.name = name, .partitions = partitions, .configs = configs};
    bk_random_uuid(meta_topic.id);
    rc = bk_meta_create_topic(topics->meta, &meta_topic, err);
    if (rc)
        return BK_TOPIC_STORAGE;
    bk_topic_t *topic = NULL;
    rc = topic_open(topics, name, meta_topic.id, partitions, configs, 0, &topic, err);
    if (!rc)
        rc = topics_add(topics, topic, err);
    if (rc) {
        topic_free(topic);
        bk_meta_delete_topic(topics->meta, name, NULL);
        return BK_TOPIC_STORAGE;
    }
    sd_info("topics", "created topic %s with %d partition(s)", name, partitions);
    if (out)
        *out = topic;
    return 0;
}

int bk_topics_set_configs(bk_topics_t *topics, bk_topic_t *topic, const sd_props_t *configs,
                          int validate_only, sd_err_t *err)
{
    for (size_t i = 0; i < sd_props_count(configs); i++) {
        sd_err_t why;
        if (bk_topic_config_validate(sd_props_key_at(configs, i), sd_props_value_at(configs, i),
                                     &why))
            return sd_err_set(err, BK_TOPIC_INVALID_CONFIG, "%s", why.msg);
    }
    if (validate_only)
        return 0;
    sd_props_t *copy = sd_props_new();
    if (!copy)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sd_props_count(configs); i++)
        if (sd_props_set(copy, sd_props_key_at(configs, i), sd_props_value_at(configs, i))) {
            sd_props_free(copy);
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        }
    if (bk_meta_set_topic_configs(topics->meta, topic->name, copy, err)) {
        sd_props_free(copy);
        return BK_TOPIC_STORAGE;
    }
    sd_props_free(topic->overrides);
    topic->overrides = copy;
    apply_configs(topics, topic);
    for (int32_t p = 0; p < topic->partition_count; p++)
        kl_log_set_config(topic->partitions[p].log, &topic->log_config);
    sd_info("topics", "topic %s: %zu config override(s) set", topic->name, sd_props_count(copy));
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int bk_topics_delete(bk_topics_t *topics, const char *name, sd_err_t *err)
{
    bk_topic_t *topic = bk_topics_find(topics, name, strlen(name));
    if (!topic)
        return sd_err_set(err, BK_TOPIC_UNKNOWN, "Topic '%s' does not exist.", name);
    int rc = bk_meta_delete_topic(topics->meta, name, err);
    if (rc)
        return BK_TOPIC_STORAGE;
    int32_t partitions = topic->partition_count;
    for (size_t i = 0; i < topics->count; i++)
        if (topics->items[i] == topic) {
            topics->items[i] = topics->items[--topics->count];
            break;
        }
    topic_free(topic);
    for (int32_t p = 0; p < partitions; p++) {
        char dir[4096];
        if (partition_dir(topics, name, p, dir, sizeof dir) == 0 &&
            nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
            sd_warn("topics", "could not remove %s: %s", dir, strerror(errno));
    }
    sd_info("topics", "deleted topic %s", name);
    return 0;
}
