/*
 * log_cleaner.h - the broker's log maintenance: retention every
 * log.retention.check.interval.ms, and compaction of compacted topics on a
 * cleaner thread (log.cleaner.enable, log.cleaner.backoff.ms). Driven from
 * the event loop's once-a-second tick; the thread only ever sees a clean job
 * (kl_cleaner.h), never a kl_log.
 */
#ifndef STRAND_BROKER_LOG_CLEANER_H
#define STRAND_BROKER_LOG_CLEANER_H

#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "topics.h"

typedef struct bk_cleaner bk_cleaner_t;

/* Starts the cleaner thread (when log.cleaner.enable). *out is freed with
 * bk_cleaner_stop. Returns 0 or SD_ERR_IO / SD_ERR_NOMEM. */
int bk_cleaner_start(const sd_config_t *config, bk_cleaner_t **out, sd_err_t *err);
/* Event-loop thread: swaps in finished cleans, applies retention when its
 * interval passed, and hands the next due log to the thread. */
void bk_cleaner_tick(bk_cleaner_t *cleaner, bk_topics_t *topics, int64_t now_ms);
/* Stops the thread (waiting for a clean in progress), drops unfinished work
 * (its cleaned files are removed; the logs are untouched) and frees. Call
 * before the topics are closed. NULL is a no-op. */
void bk_cleaner_stop(bk_cleaner_t *cleaner, bk_topics_t *topics);

#endif
