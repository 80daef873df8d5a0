/*
 * sr_store.c - the registry's store on the `_schemas` topic through
 * librdkafka, after Confluent's KafkaStore (reference/registry.md section 4):
 * the topic is created or checked (1 partition, cleanup.policy=compact), one
 * reader thread applies every record in offset order, and a write produces
 * (idempotent, acks=all) then waits until that reader has applied it.
 */
#include "sr_store.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"

#define MOD "registry store"
#define DEFAULT_TOPIC "_schemas"
#define DEFAULT_INIT_TIMEOUT_MS 60000
#define DEFAULT_WRITE_TIMEOUT_MS 10000
/* The reader assigns its partition itself: the group id only satisfies
 * librdkafka's assign() (which looks up the group's coordinator), nothing is
 * joined or committed, so any number of registries can share it. */
#define READER_GROUP_ID "strand-registry-store"
/* Upper bound on a poll; close wakes the threads at once with a yield, this
 * only bounds the wait should a wake-up be missed. */
#define POLL_MS 500
/* Close waits at most this long for the last delivery reports. */
#define CLOSE_FLUSH_MS 2000
/* Pause between metadata checks while a topic just created becomes visible
 * (start-up only). */
#define METADATA_RETRY_MS 100
/* librdkafka's syslog levels: LOG_WARNING and worse are passed on. */
#define RDKAFKA_LOG_WARNING 4

/* One sr_store_write call. Its records' delivery reports are counted here.
 * Shared by the writer and the reports still to come (refs), because a writer
 * that timed out returns while reports may still arrive: whoever drops the
 * last reference frees it. Linked into store->batches, under store->lock, so
 * that close frees what librdkafka never reported. */
typedef struct write_batch {
    struct write_batch *prev, *next;
    int refs;
    size_t pending;      /* reports still to come */
    int64_t last_offset; /* highest offset acknowledged; -1 when none */
    int failure;         /* 0, SR_STORE_ERR or SR_STORE_TIMEOUT from a report */
    char error[256];     /* the first failed report's text */
} write_batch_t;

struct sr_store {
    char *bootstrap_servers;
    char *topic;
    int write_timeout_ms;
    sr_store_apply_fn apply;
    void *ctx;

    rd_kafka_t *producer;
    rd_kafka_topic_t *producer_topic;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *consumer_queue;

    pthread_mutex_t lock;
    pthread_cond_t changed; /* applied moved or a delivery report arrived */
    int64_t applied;        /* next offset the reader will read */
    write_batch_t *batches;
    atomic_bool stopping;

    pthread_t reader;
    pthread_t poller;
    bool sync_ready;
    bool reader_started;
    bool poller_started;
};

/* ---- time ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Waits on store->changed (lock held) until the monotonic deadline; returns
 * false once it has passed. */
static bool wait_until(sr_store_t *store, int64_t deadline)
{
    if (now_ms() >= deadline)
        return false;
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    pthread_cond_timedwait(&store->changed, &store->lock, &ts);
    return true;
}

/* ---- librdkafka callbacks ---- */

static void log_cb(const rd_kafka_t *rk, int level, const char *facility, const char *text)
{
    (void)rk;
    if (level <= RDKAFKA_LOG_WARNING)
        sd_warn(MOD, "%s: %s", facility, text);
}

/* librdkafka logs the same transient errors it reports here (connection
 * refused, brokers down); only a fatal one, after which the producer refuses
 * every write, is news. */
static void error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    (void)opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL)
        sd_warn(MOD, "%s: fatal error: %s", rd_kafka_name(rk),
                reason && *reason ? reason : rd_kafka_err2str((rd_kafka_resp_err_t)code));
}

/* Drops one reference to batch; lock held. */
static void batch_release(sr_store_t *store, write_batch_t *batch)
{
    if (--batch->refs > 0)
        return;
    if (batch->prev)
        batch->prev->next = batch->next;
    else
        store->batches = batch->next;
    if (batch->next)
        batch->next->prev = batch->prev;
    sd_free(batch);
}

/* Delivery report of one record, on the poller thread (or close's flush). */
static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *message, void *opaque)
{
    (void)rk;
    sr_store_t *store = opaque;
    write_batch_t *batch = message->_private;
    pthread_mutex_lock(&store->lock);
    if (message->err) {
        if (!batch->failure) {
            batch->failure =
                message->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ? SR_STORE_TIMEOUT : SR_STORE_ERR;
            snprintf(batch->error, sizeof batch->error, "%s", rd_kafka_err2str(message->err));
        }
    } else if (message->offset > batch->last_offset) {
        batch->last_offset = message->offset;
    }
    batch->pending--;
    batch_release(store, batch);
    pthread_cond_broadcast(&store->changed);
    pthread_mutex_unlock(&store->lock);
}

/* ---- threads ---- */

static void advance(sr_store_t *store, int64_t next)
{
    pthread_mutex_lock(&store->lock);
    if (next > store->applied) {
        store->applied = next;
        pthread_cond_broadcast(&store->changed);
    }
    pthread_mutex_unlock(&store->lock);
}

/* The reader: applies every record in offset order. A partition-EOF event
 * carries the end offset, which moves the position over the gaps compaction
 * leaves at the end of the log. */
static void *reader_main(void *arg)
{
    sr_store_t *store = arg;
    rd_kafka_resp_err_t last_logged = RD_KAFKA_RESP_ERR_NO_ERROR;
    while (!atomic_load(&store->stopping)) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(store->consumer, POLL_MS);
        if (!message)
            continue;
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            advance(store, message->offset);
        } else if (message->err) {
            /* Fetch errors repeat while the cause lasts; say each once. */
            if (message->err != last_logged)
                sd_warn(MOD, "reading '%s': %s", store->topic, rd_kafka_message_errstr(message));
            last_logged = message->err;
        } else {
            last_logged = RD_KAFKA_RESP_ERR_NO_ERROR;
            int64_t timestamp = rd_kafka_message_timestamp(message, NULL);
            store->apply(store->ctx, message->key, message->key_len, message->payload, message->len,
                         message->offset, timestamp);
            advance(store, message->offset + 1);
        }
        rd_kafka_message_destroy(message);
    }
    return NULL;
}

/* Serves the producer's delivery reports as soon as they arrive. */
static void *poller_main(void *arg)
{
    sr_store_t *store = arg;
    while (!atomic_load(&store->stopping))
        rd_kafka_poll(store->producer, POLL_MS);
    return NULL;
}

/* ---- clients ---- */

typedef struct conf_entry {
    const char *name;
    const char *value;
} conf_entry_t;

/* Sets the entries on conf; on failure err names the property. */
static int conf_apply(sr_store_t *store, rd_kafka_conf_t *conf, const conf_entry_t *entries,
                      size_t count, sd_err_t *err)
{
    char errstr[256];
    for (size_t i = 0; i < count; i++) {
        if (rd_kafka_conf_set(conf, entries[i].name, entries[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
            return sd_err_set(err, SR_STORE_ERR,
                              "registry store on %s: client property %s=%s refused: %s",
                              store->bootstrap_servers, entries[i].name, entries[i].value, errstr);
    }
    return 0;
}

/* Properties both clients share; caller owns the result (rd_kafka_new steals
 * it on success, else rd_kafka_conf_destroy). */
static rd_kafka_conf_t *conf_new(sr_store_t *store, sd_err_t *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const conf_entry_t common[] = {
        {"bootstrap.servers", store->bootstrap_servers},
        {"client.id", "strand-registry"},
        /* Writes are single small records: Nagle would hold them back. */
        {"socket.nagle.disable", "true"},
        /* An idle connection closed by the broker is normal, not news. */
        {"log.connection.close", "false"},
        /* Only an explicit CreateTopics makes the store's topic. */
        {"allow.auto.create.topics", "false"},
        {"log_level", "4"},
    };
    if (conf_apply(store, conf, common, sizeof common / sizeof common[0], err)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, store);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    return conf;
}

static int producer_new(sr_store_t *store, sd_err_t *err)
{
    rd_kafka_conf_t *conf = conf_new(store, err);
    if (!conf)
        return err ? err->code : SR_STORE_ERR;
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", store->write_timeout_ms);
    const conf_entry_t entries[] = {
        /* Idempotence keeps the records' order and writes each once across
         * retries; acks=all as Confluent's KafkaStore. */
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "0"},
        {"compression.type", "none"},
        /* A record the writer gave up on should not land much later. */
        {"message.timeout.ms", timeout},
    };
    if (conf_apply(store, conf, entries, sizeof entries / sizeof entries[0], err)) {
        rd_kafka_conf_destroy(conf);
        return err ? err->code : SR_STORE_ERR;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    char errstr[512];
    store->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!store->producer) {
        rd_kafka_conf_destroy(conf);
        return sd_err_set(err, SR_STORE_ERR, "registry store on %s: cannot create the producer: %s",
                          store->bootstrap_servers, errstr);
    }
    store->producer_topic = rd_kafka_topic_new(store->producer, store->topic, NULL);
    if (!store->producer_topic)
        return sd_err_set(err, SR_STORE_ERR, "registry store on %s: topic '%s': %s",
                          store->bootstrap_servers, store->topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    return 0;
}

static int consumer_new(sr_store_t *store, int64_t deadline, sd_err_t *err)
{
    rd_kafka_conf_t *conf = conf_new(store, err);
    if (!conf)
        return err ? err->code : SR_STORE_ERR;
    const conf_entry_t entries[] = {
        {"group.id", READER_GROUP_ID},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        /* The end of the partition tells the position past compaction's gaps. */
        {"enable.partition.eof", "true"},
        /* The broker answers a waiting fetch as soon as a record is produced;
         * the short wait and backoff only bound the delay elsewhere. */
        {"fetch.wait.max.ms", "100"},
        {"fetch.error.backoff.ms", "50"},
        {"fetch.min.bytes", "1"},
    };
    if (conf_apply(store, conf, entries, sizeof entries / sizeof entries[0], err)) {
        rd_kafka_conf_destroy(conf);
        return err ? err->code : SR_STORE_ERR;
    }
    char errstr[512];
    store->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!store->consumer) {
        rd_kafka_conf_destroy(conf);
        return sd_err_set(err, SR_STORE_ERR, "registry store on %s: cannot create the reader: %s",
                          store->bootstrap_servers, errstr);
    }
    rd_kafka_poll_set_consumer(store->consumer);
    store->consumer_queue = rd_kafka_queue_get_consumer(store->consumer);

    /* Learn the partition's leader before assigning: a partition assigned
     * with no leader known waits for librdkafka's 500 ms offset-query timer,
     * which would delay the start-up read and the first writes. */
    rd_kafka_topic_t *topic = rd_kafka_topic_new(store->consumer, store->topic, NULL);
    const rd_kafka_metadata_t *metadata = NULL;
    if (topic &&
        rd_kafka_metadata(store->consumer, 0, topic, &metadata, remaining_ms(deadline)) == 0)
        rd_kafka_metadata_destroy(metadata);

    rd_kafka_topic_partition_list_t *partitions = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(partitions, store->topic, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t rc = rd_kafka_assign(store->consumer, partitions);
    rd_kafka_topic_partition_list_destroy(partitions);
    if (topic)
        rd_kafka_topic_destroy(topic);
    if (rc)
        return sd_err_set(err, SR_STORE_ERR,
                          "registry store on %s: cannot assign '%s' partition 0: %s",
                          store->bootstrap_servers, store->topic, rd_kafka_err2str(rc));
    return 0;
}

/* ---- the topic ---- */

/* Waits for one admin result of the given type on queue; NULL on timeout.
 * Caller frees with rd_kafka_event_destroy. */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *queue, rd_kafka_event_type_t type,
                                      int64_t deadline)
{
    for (;;) {
        /* The request itself times out at the deadline; allow its answer a
         * moment to arrive. */
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, remaining_ms(deadline) + 1000);
        if (!event)
            return NULL;
        if (rd_kafka_event_type(event) == type)
            return event;
        rd_kafka_event_destroy(event);
    }
}

static rd_kafka_AdminOptions_t *admin_options(sr_store_t *store, rd_kafka_admin_op_t op,
                                              int64_t deadline)
{
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(store->producer, op);
    char errstr[256];
    int timeout = remaining_ms(deadline);
    if (timeout < 1)
        timeout = 1;
    rd_kafka_AdminOptions_set_request_timeout(options, timeout, errstr, sizeof errstr);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS)
        rd_kafka_AdminOptions_set_operation_timeout(options, timeout, errstr, sizeof errstr);
    return options;
}

/* CreateTopics for the store's topic: 1 partition, compacted. Already
 * existing (another process won the race) is success. */
static int topic_create(sr_store_t *store, int replication_factor, rd_kafka_queue_t *queue,
                        int64_t deadline, sd_err_t *err)
{
    char errstr[256];
    rd_kafka_NewTopic_t *topic =
        rd_kafka_NewTopic_new(store->topic, 1, replication_factor, errstr, sizeof errstr);
    if (!topic)
        return sd_err_set(err, SR_STORE_ERR, "registry store on %s: cannot create topic '%s': %s",
                          store->bootstrap_servers, store->topic, errstr);
    rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_t *options =
        admin_options(store, RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline);
    rd_kafka_CreateTopics(store->producer, &topic, 1, options, queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(topic);

    int rc = 0;
    rd_kafka_event_t *event = admin_result(queue, RD_KAFKA_EVENT_CREATETOPICS_RESULT, deadline);
    if (!event)
        return sd_err_set(err, SR_STORE_TIMEOUT,
                          "registry store on %s: creating topic '%s' timed out",
                          store->bootstrap_servers, store->topic);
    rd_kafka_resp_err_t code = rd_kafka_event_error(event);
    const char *text = rd_kafka_event_error_string(event);
    if (!code) {
        size_t count = 0;
        const rd_kafka_topic_result_t **results =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
        if (count >= 1) {
            code = rd_kafka_topic_result_error(results[0]);
            text = rd_kafka_topic_result_error_string(results[0]);
        }
    }
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
        sd_info(MOD, "created topic '%s' (1 partition, cleanup.policy=compact) on %s", store->topic,
                store->bootstrap_servers);
    else if (code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        rc = sd_err_set(err, code == RD_KAFKA_RESP_ERR__TIMED_OUT ? SR_STORE_TIMEOUT : SR_STORE_ERR,
                        "registry store on %s: cannot create topic '%s': %s",
                        store->bootstrap_servers, store->topic,
                        text && *text ? text : rd_kafka_err2str(code));
    rd_kafka_event_destroy(event);
    return rc;
}

/* Confluent refuses a schema topic whose cleanup policy is not exactly
 * "compact": with "delete" in it, retention would drop schemas. */
static int topic_check_policy(sr_store_t *store, rd_kafka_queue_t *queue, int64_t deadline,
                              sd_err_t *err)
{
    rd_kafka_ConfigResource_t *resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, store->topic);
    rd_kafka_AdminOptions_t *options =
        admin_options(store, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, deadline);
    rd_kafka_DescribeConfigs(store->producer, &resource, 1, options, queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_ConfigResource_destroy(resource);

    rd_kafka_event_t *event = admin_result(queue, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, deadline);
    if (!event)
        return sd_err_set(err, SR_STORE_TIMEOUT,
                          "registry store on %s: describing topic '%s' timed out",
                          store->bootstrap_servers, store->topic);
    int rc = 0;
    rd_kafka_resp_err_t code = rd_kafka_event_error(event);
    const char *text = rd_kafka_event_error_string(event);
    const char *policy = NULL;
    if (!code) {
        size_t count = 0;
        const rd_kafka_ConfigResource_t **resources = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(event), &count);
        if (count < 1) {
            code = RD_KAFKA_RESP_ERR__BAD_MSG;
            text = "no result for the topic";
        } else if ((code = rd_kafka_ConfigResource_error(resources[0]))) {
            text = rd_kafka_ConfigResource_error_string(resources[0]);
        } else {
            size_t entries_count = 0;
            const rd_kafka_ConfigEntry_t **entries =
                rd_kafka_ConfigResource_configs(resources[0], &entries_count);
            for (size_t i = 0; i < entries_count; i++)
                if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy") == 0)
                    policy = rd_kafka_ConfigEntry_value(entries[i]);
        }
    }
    if (code)
        rc = sd_err_set(err, code == RD_KAFKA_RESP_ERR__TIMED_OUT ? SR_STORE_TIMEOUT : SR_STORE_ERR,
                        "registry store on %s: cannot describe topic '%s': %s",
                        store->bootstrap_servers, store->topic,
                        text && *text ? text : rd_kafka_err2str(code));
    else if (!policy || strcmp(policy, "compact") != 0)
        rc = sd_err_set(err, SR_STORE_ERR,
                        "registry store on %s: the retention policy of the schema topic '%s' is "
                        "incorrect: expected cleanup.policy to be 'compact' but it is '%s' "
                        "(the topic must be compacted, or Kafka deletes schemas after the "
                        "retention time)",
                        store->bootstrap_servers, store->topic, policy ? policy : "(none)");
    rd_kafka_event_destroy(event);
    return rc;
}

/* Makes sure the topic exists with exactly one partition (creating it when
 * missing), then that it is compacted. */
static int topic_ensure(sr_store_t *store, int replication_factor, int64_t deadline, sd_err_t *err)
{
    rd_kafka_queue_t *queue = rd_kafka_queue_new(store->producer);
    bool created = false;
    int rc = 0;
    for (;;) {
        const rd_kafka_metadata_t *metadata = NULL;
        rd_kafka_resp_err_t code = rd_kafka_metadata(store->producer, 0, store->producer_topic,
                                                     &metadata, remaining_ms(deadline));
        if (code) {
            rc = sd_err_set(err,
                            code == RD_KAFKA_RESP_ERR__TIMED_OUT ? SR_STORE_TIMEOUT : SR_STORE_ERR,
                            "registry store on %s: cannot read the metadata of topic '%s': %s",
                            store->bootstrap_servers, store->topic, rd_kafka_err2str(code));
            break;
        }
        const rd_kafka_metadata_topic_t *topic =
            metadata->topic_cnt == 1 ? &metadata->topics[0] : NULL;
        code = topic ? topic->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        int partitions = topic ? topic->partition_cnt : 0;
        int replicas = partitions > 0 ? topic->partitions[0].replica_cnt : 0;
        int brokers = metadata->broker_cnt;
        rd_kafka_metadata_destroy(metadata);

        if (!code && partitions > 0) {
            if (partitions != 1) {
                rc = sd_err_set(err, SR_STORE_ERR,
                                "registry store on %s: the schema topic '%s' should have only 1 "
                                "partition but has %d",
                                store->bootstrap_servers, store->topic, partitions);
                break;
            }
            if (!created && replication_factor > 0 && replicas < replication_factor)
                sd_warn(MOD,
                        "topic '%s' has %d replicas, fewer than the %d asked for: schemas are "
                        "less durable",
                        store->topic, replicas, replication_factor);
            rc = topic_check_policy(store, queue, deadline, err);
            break;
        }
        if (code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && !created) {
            /* As Confluent: a replication factor above the live brokers is
             * lowered to their number, with a warning, so a one-broker
             * cluster takes the default of 3. */
            int factor = replication_factor;
            if (factor > 0 && brokers > 0 && factor > brokers) {
                sd_warn(MOD,
                        "creating topic '%s' with replication factor %d: only %d live "
                        "broker%s, fewer than the %d asked for",
                        store->topic, brokers, brokers, brokers == 1 ? "" : "s", factor);
                factor = brokers;
            }
            rc = topic_create(store, factor, queue, deadline, err);
            if (rc)
                break;
            created = true;
            continue;
        }
        /* Just created, or a leader is being elected: look again shortly. */
        if (code != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
            code != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE && code != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rc = sd_err_set(err, SR_STORE_ERR, "registry store on %s: topic '%s': %s",
                            store->bootstrap_servers, store->topic, rd_kafka_err2str(code));
            break;
        }
        if (remaining_ms(deadline) < METADATA_RETRY_MS) {
            rc = sd_err_set(err, SR_STORE_TIMEOUT,
                            "registry store on %s: topic '%s' not available in time: %s",
                            store->bootstrap_servers, store->topic, rd_kafka_err2str(code));
            break;
        }
        struct timespec pause = {.tv_sec = 0, .tv_nsec = METADATA_RETRY_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    rd_kafka_queue_destroy(queue);
    return rc;
}

/* ---- API ---- */

/* The topic's end offset now (what a read-committed reader can reach): a
 * ListOffsets for "latest" through offsets_for_times, whose wait is bounded
 * by timeout_ms; this librdkafka's query_watermark_offsets can wait far
 * longer than its timeout when the partition's leader is unreachable. */
static rd_kafka_resp_err_t end_offset(sr_store_t *store, int timeout_ms, int64_t *end)
{
    rd_kafka_topic_partition_list_t *partitions = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(partitions, store->topic, 0)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_resp_err_t code =
        rd_kafka_offsets_for_times(store->consumer, partitions, timeout_ms > 0 ? timeout_ms : 1);
    if (!code)
        code = partitions->elems[0].err;
    if (!code && partitions->elems[0].offset < 0)
        code = RD_KAFKA_RESP_ERR__BAD_MSG;
    if (!code)
        *end = partitions->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(partitions);
    return code;
}

int sr_store_open(const sr_store_config_t *config, sr_store_apply_fn apply, void *ctx,
                  sr_store_t **out, sd_err_t *err)
{
    *out = NULL;
    if (!config || !config->bootstrap_servers || !*config->bootstrap_servers || !apply)
        return sd_err_set(err, SR_STORE_ERR, "registry store: no bootstrap servers given");
    int init_timeout_ms =
        config->init_timeout_ms > 0 ? config->init_timeout_ms : DEFAULT_INIT_TIMEOUT_MS;
    int64_t deadline = now_ms() + init_timeout_ms;
    int rc = 0;

    sr_store_t *store = sd_calloc(1, sizeof *store);
    if (!store)
        return sd_err_set(err, SD_ERR_NOMEM, "registry store: out of memory");
    store->bootstrap_servers = sd_strdup(config->bootstrap_servers);
    store->topic = sd_strdup(config->topic && *config->topic ? config->topic : DEFAULT_TOPIC);
    store->write_timeout_ms =
        config->write_timeout_ms > 0 ? config->write_timeout_ms : DEFAULT_WRITE_TIMEOUT_MS;
    store->apply = apply;
    store->ctx = ctx;
    atomic_init(&store->stopping, false);
    if (!store->bootstrap_servers || !store->topic) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "registry store: out of memory");
        goto fail;
    }

    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->changed, &attr);
    pthread_condattr_destroy(&attr);
    store->sync_ready = true;

    if ((rc = producer_new(store, err)))
        goto fail;
    if ((rc = topic_ensure(store, config->replication_factor, deadline, err)))
        goto fail;
    if ((rc = consumer_new(store, deadline, err)))
        goto fail;
    if (pthread_create(&store->poller, NULL, poller_main, store) != 0) {
        rc = sd_err_set(err, SR_STORE_ERR, "registry store: cannot start the producer's thread");
        goto fail;
    }
    store->poller_started = true;
    if (pthread_create(&store->reader, NULL, reader_main, store) != 0) {
        rc = sd_err_set(err, SR_STORE_ERR, "registry store: cannot start the reader thread");
        goto fail;
    }
    store->reader_started = true;
    *out = store;
    return 0;

fail:
    sr_store_close(store);
    return rc;
}

int sr_store_catch_up(sr_store_t *store, int timeout_ms, sd_err_t *err)
{
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int64_t high = 0;
    rd_kafka_resp_err_t code = end_offset(store, remaining_ms(deadline), &high);
    if (code)
        return sd_err_set(err,
                          code == RD_KAFKA_RESP_ERR__TIMED_OUT ? SR_STORE_TIMEOUT : SR_STORE_ERR,
                          "registry store on %s: cannot read the end offset of '%s': %s",
                          store->bootstrap_servers, store->topic, rd_kafka_err2str(code));
    pthread_mutex_lock(&store->lock);
    while (store->applied < high && wait_until(store, deadline))
        ;
    int64_t applied = store->applied;
    pthread_mutex_unlock(&store->lock);
    if (applied < high)
        return sd_err_set(err, SR_STORE_TIMEOUT,
                          "registry store on %s: reading '%s' to its end (offset %lld) took over "
                          "%d ms; at offset %lld",
                          store->bootstrap_servers, store->topic, (long long)high, timeout_ms,
                          (long long)applied);
    return 0;
}

int sr_store_write(sr_store_t *store, const sr_store_record_t *records, size_t count, sd_err_t *err)
{
    if (count == 0)
        return 0;
    int64_t deadline = now_ms() + store->write_timeout_ms;
    write_batch_t *batch = sd_calloc(1, sizeof *batch);
    if (!batch)
        return sd_err_set(err, SD_ERR_NOMEM, "registry store: out of memory");
    batch->refs = 1;
    batch->last_offset = -1;
    pthread_mutex_lock(&store->lock);
    batch->next = store->batches;
    if (batch->next)
        batch->next->prev = batch;
    store->batches = batch;
    pthread_mutex_unlock(&store->lock);

    int rc = 0;
    /* Every record to partition 0, one after the other: the idempotent
     * producer keeps that order on the log, retries included. */
    for (size_t i = 0; i < count && !rc; i++) {
        pthread_mutex_lock(&store->lock);
        batch->refs++;
        batch->pending++;
        pthread_mutex_unlock(&store->lock);
        const char *key = records[i].key;
        const char *value = records[i].value;
        rd_kafka_resp_err_t code =
            rd_kafka_producev(store->producer, RD_KAFKA_V_RKT(store->producer_topic),
                              RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY((void *)key, key ? strlen(key) : 0),
                              RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
                              RD_KAFKA_V_OPAQUE(batch), RD_KAFKA_V_END);
        if (code) {
            pthread_mutex_lock(&store->lock);
            batch->refs--;
            batch->pending--;
            pthread_mutex_unlock(&store->lock);
            rc = sd_err_set(err, SR_STORE_ERR, "registry store on %s: cannot write to '%s': %s",
                            store->bootstrap_servers, store->topic, rd_kafka_err2str(code));
        }
    }

    pthread_mutex_lock(&store->lock);
    while (batch->pending > 0 && wait_until(store, deadline))
        ;
    if (!rc && batch->failure)
        rc = sd_err_set(err, batch->failure, "registry store on %s: writing to '%s' failed: %s",
                        store->bootstrap_servers, store->topic, batch->error);
    else if (!rc && batch->pending > 0)
        rc = sd_err_set(err, SR_STORE_TIMEOUT,
                        "registry store on %s: writing to '%s' was not acknowledged within %d ms",
                        store->bootstrap_servers, store->topic, store->write_timeout_ms);
    int64_t last_offset = batch->last_offset;
    batch_release(store, batch);
    pthread_mutex_unlock(&store->lock);
    if (rc)
        return rc;

    /* A broker that does not report offsets leaves us the end offset to wait
     * for, which is past our records too. */
    if (last_offset < 0) {
        int64_t high = 0;
        rd_kafka_resp_err_t code = end_offset(store, remaining_ms(deadline), &high);
        if (code)
            return sd_err_set(err, SR_STORE_ERR,
                              "registry store on %s: cannot read the end offset of '%s': %s",
                              store->bootstrap_servers, store->topic, rd_kafka_err2str(code));
        last_offset = high - 1;
    }

    /* Read-your-writes: the apply callback has seen our last record. */
    pthread_mutex_lock(&store->lock);
    while (store->applied <= last_offset && wait_until(store, deadline))
        ;
    int64_t applied = store->applied;
    pthread_mutex_unlock(&store->lock);
    if (applied <= last_offset)
        return sd_err_set(err, SR_STORE_TIMEOUT,
                          "registry store on %s: the write at offset %lld of '%s' was not read "
                          "back within %d ms",
                          store->bootstrap_servers, (long long)last_offset, store->topic,
                          store->write_timeout_ms);
    return 0;
}

int64_t sr_store_applied_offset(sr_store_t *store)
{
    pthread_mutex_lock(&store->lock);
    int64_t applied = store->applied;
    pthread_mutex_unlock(&store->lock);
    return applied;
}

void sr_store_close(sr_store_t *store)
{
    if (!store)
        return;
    atomic_store(&store->stopping, true);
    if (store->reader_started) {
        rd_kafka_queue_yield(store->consumer_queue);
        pthread_join(store->reader, NULL);
    }
    if (store->consumer_queue)
        rd_kafka_queue_destroy(store->consumer_queue);
    /* Nothing to commit and no group joined: skip consumer_close, which could
     * wait on an unreachable coordinator. */
    if (store->consumer)
        rd_kafka_destroy_flags(store->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);

    if (store->poller_started) {
        /* rd_kafka_yield only works from within a callback; a queue yield
         * wakes rd_kafka_poll from another thread. */
        rd_kafka_queue_t *main_queue = rd_kafka_queue_get_main(store->producer);
        rd_kafka_queue_yield(main_queue);
        rd_kafka_queue_destroy(main_queue);
        pthread_join(store->poller, NULL);
    }
    if (store->producer) {
        /* Writes that timed out may still have records in flight: give them a
         * bounded moment, then drop them; the purge reports free their batches. */
        rd_kafka_flush(store->producer, CLOSE_FLUSH_MS);
        rd_kafka_purge(store->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(store->producer, 0);
        if (store->producer_topic)
            rd_kafka_topic_destroy(store->producer_topic);
        rd_kafka_destroy(store->producer);
    }
    /* Batches whose reports never came. */
    while (store->batches) {
        write_batch_t *next = store->batches->next;
        sd_free(store->batches);
        store->batches = next;
    }
    if (store->sync_ready) {
        pthread_cond_destroy(&store->changed);
        pthread_mutex_destroy(&store->lock);
    }
    sd_free(store->bootstrap_servers);
    sd_free(store->topic);
    sd_free(store);
}

int sr_store_cluster_id(sr_store_t *store, char *buf, size_t len, int timeout_ms)
{
    if (len)
        buf[0] = '\0';
    char *id = rd_kafka_clusterid(store->producer, timeout_ms);
    if (!id)
        return SR_STORE_ERR;
    snprintf(buf, len, "%s", id);
    rd_kafka_mem_free(store->producer, id);
    return 0;
}
