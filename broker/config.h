/*
 * config.h - the broker's properties (Kafka's names and defaults) and the
 * topic-level configs with the broker property each one defaults from.
 */
#ifndef STRAND_BROKER_CONFIG_H
#define STRAND_BROKER_CONFIG_H

#include "base/config.h"

extern const sd_cfg_def_t bk_broker_config_defs[];
extern const size_t bk_broker_config_count;

typedef struct bk_topic_config_def {
    sd_cfg_def_t def;        /* name, type, validation (default unused) */
    const char *broker_name; /* broker property giving its default */
} bk_topic_config_def_t;

extern const bk_topic_config_def_t bk_topic_config_defs[];
extern const size_t bk_topic_config_count;

const bk_topic_config_def_t *bk_topic_config_find(const char *name);

/* The broker-wide default of a topic config as text, derived from the broker
 * config (e.g. retention.ms from log.retention.ms or log.retention.hours).
 * Writes into buf (size n) and returns it. */
const char *bk_topic_config_default(const sd_config_t *broker, const bk_topic_config_def_t *def,
                                    char *buf, size_t n);

/* Validates a topic config name=value; 0 or SD_ERR_INVALID with a message
 * naming the property. */
int bk_topic_config_validate(const char *name, const char *value, sd_err_t *err);

#endif
