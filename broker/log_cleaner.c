/*
 * log_cleaner.c - retention and the cleaner thread (see log_cleaner.h).
 *
 * One clean job is out at a time. The event loop prepares it (a snapshot of
 * the log's sealed segments), the thread runs it (reads them, writes the
 * cleaned copies), and the event loop commits it at its next tick (a few
 * renames and index rebuilds). A finished job names its log by topic id and
 * partition, so a log deleted (or deleted and re-created) meanwhile is never
 * confused with the one the job came from; such a job is dropped. Logs are
 * visited round-robin, one prepare per log.cleaner.backoff.ms.
 */
#include "log_cleaner.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "storage/kl_cleaner.h"

#define MOD "cleaner"

typedef struct pending {
    kl_clean_job_t *job;
    uint8_t topic_id[16];
    int32_t partition;
    int rc; /* of the run */
    sd_err_t err;
} pending_t;

struct bk_cleaner {
    int enabled;
    int64_t retention_interval_ms;
    int64_t backoff_ms;
    int64_t map_bytes; /* log.cleaner.dedupe.buffer.size */
    int64_t last_retention_ms, last_clean_ms;
    size_t next_topic; /* round robin */
    int32_t next_partition;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pending_t *queued; /* handed to the thread */
    pending_t *done; /* run, waiting for the event loop */
    int busy;        /* a job is out (queued, running or done) */
    int stop;
};

static void *cleaner_main(void *arg)
{
    bk_cleaner_t *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->queued && !c->stop)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->stop)
            break;
        pending_t *p = c->queued;
        c->queued = NULL;
        pthread_mutex_unlock(&c->lock);
        p->rc = kl_clean_job_run(p->job, &p->err);
        pthread_mutex_lock(&c->lock);
        c->done = p;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int bk_cleaner_start(const sd_config_t *config, bk_cleaner_t **out, sd_err_t *err)
{
    *out = NULL;
    bk_cleaner_t *c = sd_calloc(1, sizeof *c);
    if (!c)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory starting the log cleaner");
    c->enabled = sd_config_bool(config, "log.cleaner.enable");
    c->retention_interval_ms = sd_config_int(config, "log.retention.check.interval.ms");
    c->backoff_ms = sd_config_int(config, "log.cleaner.backoff.ms");
    c->map_bytes = sd_config_int(config, "log.cleaner.dedupe.buffer.size");
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    if (c->enabled) {
        if (pthread_create(&c->thread, NULL, cleaner_main, c) != 0) {
            pthread_mutex_destroy(&c->lock);
            pthread_cond_destroy(&c->cond);
            sd_free(c);
            return sd_err_set(err, SD_ERR_IO, "cannot start the log cleaner thread");
        }
        c->started = 1;
    }
    *out = c;
    return 0;
}

static bk_partition_t *find_partition(bk_topics_t *topics, const uint8_t id[16], int32_t p)
{
    for (size_t i = 0; i < topics->count; i++) {
        bk_topic_t *t = topics->items[i];
        if (memcmp(t->id, id, 16) == 0 && p < t->partition_count)
            return &t->partitions[p];
    }
    return NULL;
}

/* Commits (or drops) a job the thread finished. */
static void finish(bk_cleaner_t *c, bk_topics_t *topics, pending_t *p)
{
    bk_partition_t *part = find_partition(topics, p->topic_id, p->partition);
    if (!part) {
        kl_clean_job_free(p->job); /* its log is gone */
    } else {
        if (p->rc)
            sd_error(MOD, "cleaning %s-%d failed: %s", part->topic->name, part->index, p->err.msg);
        sd_err_t err;
        if (kl_log_clean_commit(part->log, p->job, KL_CLEAN_ALL_STEPS, NULL, &err))
            sd_error(MOD, "swapping in cleaned segments of %s-%d: %s", part->topic->name,
                     part->index, err.msg);
    }
    sd_free(p);
    c->busy = 0;
}

static void collect(bk_cleaner_t *c, bk_topics_t *topics)
{
    pthread_mutex_lock(&c->lock);
    pending_t *p = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->lock);
    if (p)
        finish(c, topics, p);
}

/* Prepares a job for the next due log after the round-robin position. */
static void start_next(bk_cleaner_t *c, bk_topics_t *topics, int64_t now_ms)
{
    size_t total = 0;
    for (size_t i = 0; i < topics->count; i++)
        total += (size_t)topics->items[i]->partition_count;
    for (size_t visited = 0; visited < total; visited++) {
        if (c->next_topic >= topics->count) {
            c->next_topic = 0;
            c->next_partition = 0;
        }
        bk_topic_t *t = topics->items[c->next_topic];
        if (c->next_partition >= t->partition_count) {
            c->next_topic++;
            c->next_partition = 0;
            visited--; /* not a partition */
            continue;
        }
        bk_partition_t *part = &t->partitions[c->next_partition++];
        kl_clean_job_t *job = NULL;
        sd_err_t err;
        if (kl_log_clean_prepare(part->log, now_ms, 0, &job, &err)) {
            sd_error(MOD, "preparing to clean %s-%d: %s", t->name, part->index, err.msg);
            continue;
        }
        if (!job)
            continue;
        kl_clean_job_set_map_limit(job, (size_t)c->map_bytes);
        pending_t *p = sd_calloc(1, sizeof *p);
        if (!p) {
            kl_log_clean_commit(part->log, job, 0, NULL, &err); /* hands the job back */
            return;
        }
        p->job = job;
        memcpy(p->topic_id, t->id, 16);
        p->partition = part->index;
        sd_debug(MOD, "cleaning %s-%d", t->name, part->index);
        pthread_mutex_lock(&c->lock);
        c->queued = p;
        c->busy = 1;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
}

void bk_cleaner_tick(bk_cleaner_t *c, bk_topics_t *topics, int64_t now_ms)
{
    if (!c)
        return;
    collect(c, topics);
    if (now_ms - c->last_retention_ms >= c->retention_interval_ms) {
        c->last_retention_ms = now_ms;
        for (size_t i = 0; i < topics->count; i++) {
            bk_topic_t *t = topics->items[i];
            for (int32_t p = 0; p < t->partition_count; p++)
                kl_log_apply_retention(t->partitions[p].log, now_ms);
        }
    }
    if (c->started && !c->busy && now_ms - c->last_clean_ms >= c->backoff_ms) {
        c->last_clean_ms = now_ms;
        start_next(c, topics, now_ms);
    }
}

void bk_cleaner_stop(bk_cleaner_t *c, bk_topics_t *topics)
{
    if (!c)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->lock);
        c->stop = 1;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    /* A job the thread never took is given back unrun; a finished one is
     * committed, its log being still open. */
    if (c->queued) {
        c->done = c->queued;
        c->done->rc = -1;
        c->queued = NULL;
        bk_partition_t *part = find_partition(topics, c->done->topic_id, c->done->partition);
        if (part) {
            sd_err_t err;
            kl_log_clean_commit(part->log, c->done->job, 0, NULL, &err);
        } else {
            kl_clean_job_free(c->done->job);
        }
        sd_free(c->done);
        c->done = NULL;
    }
    if (c->done)
        finish(c, topics, c->done);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    sd_free(c);
}
