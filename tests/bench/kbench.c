/*
 * kbench.c - librdkafka load generator that `make bench` points at the broker.
 *
 * produce: N producer instances, one thread each, send COUNT records of SIZE
 * bytes to one partition and time every record from produce() to its delivery
 * report (the ack latency kafka-producer-perf-test reports). consume: one
 * consumer reads COUNT records of one partition from its beginning, with no
 * consumer group. rebalance: times a consumer group's first member from
 * subscribe() to its first record, then a second member from subscribe()
 * until both consume their new share of the partitions.
 * Every mode prints one JSON line on stdout for tests/bench/run_bench.py.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "bench_util.h"

#include "base/alloc.h"

#define MIB (1024.0 * 1024.0)
#define MAX_EXTRA_PROPS 32
/* Record values are slices of this pool at varying offsets, so that batches
 * are not runs of one identical record (which would flatter compression). */
#define PAYLOAD_POOL_BYTES 65536
/* Delivery reports are served every this many produce() calls; the
 * latency it adds is the time to produce that many records (microseconds). */
#define POLL_EVERY 16

typedef struct options {
    const char *mode;
    const char *brokers;
    const char *topic;
    int partition;
    long long count;
    int size;
    const char *acks;
    int linger_ms;
    const char *compression;
    int producers;
    double rate; /* records/s over all producers; 0 = as fast as possible */
    int batch_records;
    long long queue_records;
    int timeout_s;
    int partitions;                     /* rebalance: partitions of the topic it creates */
    const char *extra[MAX_EXTRA_PROPS]; /* "key=value" librdkafka properties */
    int extra_count;
} options_t;

/* One producer instance. Its fields are written by its own thread and by the
 * delivery-report and statistics callbacks, which librdkafka runs inside that
 * thread's rd_kafka_poll()/rd_kafka_flush(), so no locking is needed. */
typedef struct producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int index;
    long long records; /* timed records this instance sends */
    double rate;       /* this instance's share of options.rate */
    uint32_t *latency_us;
    long long delivered;
    long long failed;
    rd_kafka_resp_err_t first_error;
    int warming; /* the untimed warm-up record is in flight */
    int warm_delivered;
    long long end_us;
    /* last statistics sample: requests, request bytes and records sent */
    long long stat_requests;
    long long stat_request_bytes;
    long long stat_records;
    pthread_t thread;
} producer_t;

static options_t opt;
static char *payload_pool;
static uint64_t epoch_ns;
static long long deadline_us;
static pthread_barrier_t start_barrier;

/* Microseconds since the program started; fits a pointer-sized opaque even
 * on 32-bit hosts for over an hour. */
static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return (long long)((ns - epoch_ns) / 1000u);
}

static void init_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    epoch_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *payload_for(long long record)
{
    return payload_pool + (size_t)((unsigned long long)record * 4099u % PAYLOAD_POOL_BYTES);
}

static void fill_payload_pool(void)
{
    /* Lower-case text with spaces: compressible about as well as typical
     * JSON-ish record values, unlike random bytes or a repeated constant. */
    size_t bytes = PAYLOAD_POOL_BYTES + (size_t)opt.size;
    payload_pool = sd_malloc(bytes);
    if (!payload_pool)
        die("out of memory for a %zu-byte payload pool", bytes);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < bytes; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned v = x % 32u;
        payload_pool[i] = v < 26 ? (char)('a' + v) : ' ';
    }
}

static void set_prop(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("property %s=%s: %s", key, value, err);
}

static void set_extra_props(rd_kafka_conf_t *conf)
{
    for (int i = 0; i < opt.extra_count; i++) {
        char key[256];
        const char *eq = strchr(opt.extra[i], '=');
        size_t key_len = eq ? (size_t)(eq - opt.extra[i]) : 0;
        if (!eq || key_len == 0 || key_len >= sizeof key)
            die("-X expects key=value, got '%s'", opt.extra[i]);
        memcpy(key, opt.extra[i], key_len);
        key[key_len] = '\0';
        set_prop(conf, key, eq + 1);
    }
}

static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    fprintf(stderr, "kbench: %.3f ms: librdkafka %s %s: %s\n", (double)now_us() / 1000.0,
            rd_kafka_name(rk), facility, buf);
}

/* ---- produce ---------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    producer_t *p = opaque;
    if (msg->err) {
        if (!p->first_error)
            p->first_error = msg->err;
        p->failed++;
        return;
    }
    if (p->warming) {
        p->warm_delivered = 1;
        return;
    }
    long long sent_us = (long long)(uintptr_t)msg->_private;
    long long latency = now_us() - sent_us;
    if (p->delivered < p->records)
        p->latency_us[p->delivered] = latency < 0 ? 0 : (uint32_t)latency;
    p->delivered++;
}

/* Picks the value of a top-level numeric field out of librdkafka's
 * statistics JSON. Top-level totals are emitted before the per-broker
 * objects, so the first match is the one wanted. */
static long long stats_field(const char *json, const char *name)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":", name);
    const char *at = strstr(json, needle);
    return at ? strtoll(at + strlen(needle), NULL, 10) : 0;
}

static int on_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    producer_t *p = opaque;
    p->stat_requests = stats_field(json, "tx");
    p->stat_request_bytes = stats_field(json, "tx_bytes");
    p->stat_records = stats_field(json, "txmsgs");
    return 0; /* librdkafka frees json */
}

static void producer_create(producer_t *p)
{
    char err[512], value[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_prop(conf, "bootstrap.servers", opt.brokers);
    snprintf(value, sizeof value, "kbench-producer-%d", p->index);
    set_prop(conf, "client.id", value);
    set_prop(conf, "acks", opt.acks);
    snprintf(value, sizeof value, "%d", opt.linger_ms);
    set_prop(conf, "linger.ms", value);
    snprintf(value, sizeof value, "%d", opt.batch_records);
    set_prop(conf, "batch.num.messages", value);
    snprintf(value, sizeof value, "%lld", opt.queue_records);
    set_prop(conf, "queue.buffering.max.messages", value);
    set_prop(conf, "compression.type", opt.compression);
    /* The Java client sets TCP_NODELAY too; without it small requests of a
     * throttled run wait for Nagle and the ack latency measures that. */
    set_prop(conf, "socket.nagle.disable", "true");
    set_prop(conf, "statistics.interval.ms", "100");
    set_extra_props(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, p);

    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p->rk)
        die("producer %d: %s", p->index, err);
    p->rkt = rd_kafka_topic_new(p->rk, opt.topic, NULL);
    if (!p->rkt)
        die("producer %d: topic %s: %s", p->index, opt.topic,
            rd_kafka_err2str(rd_kafka_last_error()));
}

/* Sends one untimed record and waits for its ack, so the timed run starts
 * with the connection up, the metadata known and the topic created. */
static void producer_warm_up(producer_t *p)
{
    p->warming = 1;
    if (rd_kafka_produce(p->rkt, opt.partition, RD_KAFKA_MSG_F_COPY, (void *)payload_for(0),
                         (size_t)opt.size, NULL, 0, NULL) == -1)
        die("producer %d: warm-up produce: %s", p->index, rd_kafka_err2str(rd_kafka_last_error()));
    rd_kafka_flush(p->rk, 30000);
    if (!p->warm_delivered)
        die("producer %d: warm-up record not acknowledged within 30 s: %s", p->index,
            p->first_error ? rd_kafka_err2str(p->first_error) : "no delivery report");
    p->warming = 0;
    p->failed = 0;
    p->first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Holds the producer to its share of --rate: when ahead of schedule by a
 * millisecond or more it serves delivery reports until the schedule catches
 * up, so records leave in bursts of at most about a millisecond. */
static void pace(producer_t *p, long long record, long long start_us)
{
    long long due = start_us + (long long)((double)record * 1e6 / p->rate);
    long long ahead;
    while ((ahead = due - now_us()) >= 1000)
        rd_kafka_poll(p->rk, (int)(ahead / 1000));
}

static void *producer_run(void *arg)
{
    producer_t *p = arg;
    pthread_barrier_wait(&start_barrier);
    long long start = now_us();
    for (long long i = 0; i < p->records; i++) {
        if (p->rate > 0)
            pace(p, i, start);
        const char *value = payload_for(i * opt.producers + p->index);
        for (;;) {
            void *sent = (void *)(uintptr_t)now_us();
            if (rd_kafka_produce(p->rkt, opt.partition, 0, (void *)value, (size_t)opt.size, NULL, 0,
                                 sent) == 0)
                break;
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                if (!p->first_error)
                    p->first_error = err;
                p->failed += p->records - i;
                goto flush;
            }
            rd_kafka_poll(p->rk, 1);
            if (now_us() > deadline_us) {
                p->first_error = RD_KAFKA_RESP_ERR__TIMED_OUT;
                p->failed += p->records - i;
                goto flush;
            }
        }
        if (i % POLL_EVERY == 0)
            rd_kafka_poll(p->rk, 0);
    }
flush:;
    long long left_ms = (deadline_us - now_us()) / 1000;
    if (rd_kafka_flush(p->rk, left_ms > 0 ? (int)left_ms : 0) != RD_KAFKA_RESP_ERR_NO_ERROR &&
        !p->first_error)
        p->first_error = RD_KAFKA_RESP_ERR__TIMED_OUT;
    p->end_us = now_us();
    return NULL;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in milliseconds. */
static double percentile_ms(const uint32_t *sorted, long long n, double pct)
{
    if (n == 0)
        return 0;
    long long rank = (long long)(pct / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1] / 1000.0;
}

static int run_produce(void)
{
    int status = 1;
    producer_t *producers = sd_calloc((size_t)opt.producers, sizeof *producers);
    uint32_t *all = NULL;
    if (!producers)
        die("out of memory");

    for (int i = 0; i < opt.producers; i++) {
        producer_t *p = &producers[i];
        p->index = i;
        p->records = opt.count / opt.producers + (i < opt.count % opt.producers ? 1 : 0);
        p->rate = opt.rate / opt.producers;
        p->latency_us = sd_malloc((size_t)(p->records ? p->records : 1) * sizeof(uint32_t));
        if (!p->latency_us)
            die("out of memory for %lld latencies", p->records);
        producer_create(p);
    }
    /* One at a time, so concurrent first requests do not race to create
     * the topic. */
    for (int i = 0; i < opt.producers; i++)
        producer_warm_up(&producers[i]);

    deadline_us = now_us() + (long long)opt.timeout_s * 1000000;
    if (pthread_barrier_init(&start_barrier, NULL, (unsigned)opt.producers + 1) != 0)
        die("pthread_barrier_init failed");
    for (int i = 0; i < opt.producers; i++)
        if (pthread_create(&producers[i].thread, NULL, producer_run, &producers[i]) != 0)
            die("pthread_create failed");
    pthread_barrier_wait(&start_barrier);
    long long start = now_us();

    long long end = start, delivered = 0, failed = 0;
    long long requests = 0, request_bytes = 0, sent_records = 0;
    rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < opt.producers; i++) {
        producer_t *p = &producers[i];
        pthread_join(p->thread, NULL);
        if (p->end_us > end)
            end = p->end_us;
        delivered += p->delivered;
        failed += p->records - p->delivered;
        requests += p->stat_requests;
        request_bytes += p->stat_request_bytes;
        sent_records += p->stat_records;
        if (!first_error)
            first_error = p->first_error;
    }
    pthread_barrier_destroy(&start_barrier);

    all = sd_malloc((size_t)(delivered ? delivered : 1) * sizeof(uint32_t));
    if (!all)
        die("out of memory");
    long long n = 0;
    for (int i = 0; i < opt.producers; i++) {
        producer_t *p = &producers[i];
        long long kept = p->delivered < p->records ? p->delivered : p->records;
        memcpy(all + n, p->latency_us, (size_t)kept * sizeof(uint32_t));
        n += kept;
    }
    qsort(all, (size_t)n, sizeof *all, compare_u32);
    double sum = 0;
    for (long long i = 0; i < n; i++)
        sum += all[i];

    double seconds = (double)(end - start) / 1e6;
    if (seconds <= 0)
        seconds = 1e-6;
    printf("{\"mode\":\"produce\",\"topic\":\"%s\",\"producers\":%d,\"acks\":\"%s\","
           "\"compression\":\"%s\",\"linger_ms\":%d,\"rate\":%.0f,\"records\":%lld,"
           "\"record_bytes\":%d,\"delivered\":%lld,\"failed\":%lld,\"seconds\":%.4f,"
           "\"records_per_s\":%.0f,\"mb_per_s\":%.2f,\"ack_avg_ms\":%.3f,"
           "\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ack_p999_ms\":%.3f,\"ack_max_ms\":%.3f,"
           "\"requests\":%lld,\"request_bytes\":%lld,\"records_sent\":%lld}\n",
           opt.topic, opt.producers, opt.acks, opt.compression, opt.linger_ms, opt.rate, opt.count,
           opt.size, delivered, failed, seconds, (double)delivered / seconds,
           (double)delivered * opt.size / MIB / seconds, n ? sum / (double)n / 1000.0 : 0.0,
           percentile_ms(all, n, 50), percentile_ms(all, n, 99), percentile_ms(all, n, 99.9),
           n ? all[n - 1] / 1000.0 : 0.0, requests, request_bytes, sent_records);
    fflush(stdout);
    if (failed)
        fprintf(stderr, "kbench: %lld of %lld records not delivered: %s\n", failed, opt.count,
                rd_kafka_err2str(first_error));
    else
        status = 0;

    for (int i = 0; i < opt.producers; i++) {
        rd_kafka_topic_destroy(producers[i].rkt);
        rd_kafka_destroy(producers[i].rk);
        sd_free(producers[i].latency_us);
    }
    sd_free(all);
    sd_free(producers);
    return status;
}

/* ---- consume ---------------------------------------------------------- */

/* Reads with the partition-level consumer API (consume_start/consume_batch):
 * like assign() it names the partition and offset itself, and unlike
 * librdkafka's assign(), which this version refuses without a group.id, it
 * involves no group coordinator at all. It shares the fetcher and fetch
 * queue of the high-level consumer, so the throughput is the same. */
#define CONSUME_BATCH 1024

static int run_consume(void)
{
    char err[512];
    int status = 1;
    rd_kafka_message_t **batch = sd_malloc(CONSUME_BATCH * sizeof *batch);
    if (!batch)
        die("out of memory");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_prop(conf, "bootstrap.servers", opt.brokers);
    set_prop(conf, "client.id", "kbench-consumer");
    set_prop(conf, "enable.partition.eof", "false");
    set_prop(conf, "socket.nagle.disable", "true");
    set_extra_props(conf);
    rd_kafka_conf_set_log_cb(conf, on_log);

    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("consumer: %s", err);
    rd_kafka_topic_conf_t *topic_conf = rd_kafka_topic_conf_new();
    if (rd_kafka_topic_conf_set(topic_conf, "auto.commit.enable", "false", err, sizeof err) !=
        RD_KAFKA_CONF_OK)
        die("consumer: auto.commit.enable: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, opt.topic, topic_conf);
    if (!rkt)
        die("consumer: topic %s: %s", opt.topic, rd_kafka_err2str(rd_kafka_last_error()));

    /* Connect and learn the partition's leader before the clock starts. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (merr)
        die("consumer: metadata for %s: %s", opt.topic, rd_kafka_err2str(merr));
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= opt.partition)
        die("consumer: topic %s partition %d not found: %s", opt.topic, opt.partition,
            md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no topic in metadata");
    rd_kafka_metadata_destroy(md);

    deadline_us = now_us() + (long long)opt.timeout_s * 1000000;
    long long start = now_us(), first = -1;
    if (rd_kafka_consume_start(rkt, opt.partition, RD_KAFKA_OFFSET_BEGINNING) == -1)
        die("consumer: consume_start: %s", rd_kafka_err2str(rd_kafka_last_error()));

    long long records = 0, bytes = 0, errors = 0;
    rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
    while (records < opt.count && now_us() < deadline_us) {
        ssize_t got = rd_kafka_consume_batch(rkt, opt.partition, 100, batch, CONSUME_BATCH);
        if (got < 0)
            die("consumer: consume_batch: %s", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *msg = batch[i];
            if (msg->err) {
                if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    if (!errors++)
                        first_error = msg->err;
                    fprintf(stderr, "kbench: consumer: %s\n", rd_kafka_message_errstr(msg));
                }
            } else if (records < opt.count) {
                if (first < 0)
                    first = now_us();
                records++;
                bytes += (long long)msg->len;
            }
            rd_kafka_message_destroy(msg);
        }
    }
    long long end = now_us();

    double seconds = (double)(end - start) / 1e6;
    if (seconds <= 0)
        seconds = 1e-6;
    printf("{\"mode\":\"consume\",\"topic\":\"%s\",\"records\":%lld,\"bytes\":%lld,"
           "\"errors\":%lld,\"seconds\":%.4f,\"records_per_s\":%.0f,\"mb_per_s\":%.2f,"
           "\"first_record_ms\":%.3f}\n",
           opt.topic, records, bytes, errors, seconds, (double)records / seconds,
           (double)bytes / MIB / seconds, first < 0 ? -1.0 : (double)(first - start) / 1000.0);
    fflush(stdout);
    if (records < opt.count)
        fprintf(stderr, "kbench: consumed %lld of %lld records in %d s%s%s\n", records, opt.count,
                opt.timeout_s, errors ? "; first error: " : "",
                errors ? rd_kafka_err2str(first_error) : "");
    else
        status = 0;

    rd_kafka_consume_stop(rkt, opt.partition);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    sd_free(batch);
    return status;
}

/* ---- rebalance -------------------------------------------------------- */

/* One group member. Written by the rebalance callback, which librdkafka
 * runs inside this thread's rd_kafka_consumer_poll(). */
typedef struct member {
    rd_kafka_t *rk;
    const char *name;
    int assigned;       /* partitions currently assigned */
    int assignments;    /* assignments received so far */
    long long records;  /* records since the last assignment */
    long long first_us; /* first record after the last assignment, or -1 */
} member_t;

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    member_t *m = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, partitions);
        m->assigned = partitions->cnt;
        m->assignments++;
        m->records = 0;
        m->first_us = -1;
    } else {
        rd_kafka_assign(rk, NULL);
        m->assigned = 0;
    }
}

static void member_create(member_t *m, const char *name, const char *group)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_prop(conf, "bootstrap.servers", opt.brokers);
    set_prop(conf, "client.id", name);
    set_prop(conf, "group.id", group);
    set_prop(conf, "auto.offset.reset", "earliest");
    /* Nothing is committed, so after a rebalance each member reads its new
     * partitions from the start: records are there at once. */
    set_prop(conf, "enable.auto.commit", "false");
    set_prop(conf, "session.timeout.ms", "6000");
    /* A member learns of a rebalance from its next heartbeat: the interval
     * bounds the figure from below, so keep it short. */
    set_prop(conf, "heartbeat.interval.ms", "100");
    set_prop(conf, "fetch.wait.max.ms", "100");
    set_prop(conf, "socket.nagle.disable", "true");
    set_extra_props(conf);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, m);
    m->name = name;
    m->first_us = -1;
    m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!m->rk)
        die("%s: %s", name, err);
    rd_kafka_poll_set_consumer(m->rk);
}

static void member_subscribe(member_t *m)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, opt.topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(m->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err)
        die("%s: subscribe: %s", m->name, rd_kafka_err2str(err));
}

static void member_poll(member_t *m)
{
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, 0);
    if (!msg)
        return;
    if (!msg->err) {
        if (m->first_us < 0)
            m->first_us = now_us();
        m->records++;
    } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        fprintf(stderr, "kbench: %s: %s\n", m->name, rd_kafka_message_errstr(msg));
    }
    rd_kafka_message_destroy(msg);
}

/* Creates the topic with opt.partitions partitions and fills each with
 * records, so members have something to read the moment they are assigned. */
static void rebalance_prepare(void)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_prop(conf, "bootstrap.servers", opt.brokers);
    set_prop(conf, "client.id", "kbench-rebalance-setup");
    set_prop(conf, "linger.ms", "5");
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        die("setup producer: %s", err);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(opt.topic, opt.partitions, 1, err, sizeof err);
    if (!nt)
        die("new topic: %s", err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (!ev)
        die("create topic %s: no answer within 30 s", opt.topic);
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **results =
        res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
    if (rd_kafka_event_error(ev) || (n == 1 && rd_kafka_topic_result_error(results[0])))
        die("create topic %s: %s", opt.topic,
            rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
                                     : rd_kafka_topic_result_error_string(results[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, opt.topic, NULL);
    if (!rkt)
        die("topic %s: %s", opt.topic, rd_kafka_err2str(rd_kafka_last_error()));
    for (long long i = 0; i < opt.count; i++) {
        while (rd_kafka_produce(rkt, (int32_t)(i % opt.partitions), RD_KAFKA_MSG_F_COPY,
                                (void *)payload_for(i), (size_t)opt.size, NULL, 0, NULL) == -1) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("setup produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_poll(rk, 10);
        }
    }
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("setup produce: records not acknowledged within 30 s");
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

static int run_rebalance(void)
{
    char group[300];
    snprintf(group, sizeof group, "%s-group", opt.topic);
    rebalance_prepare();
    member_t a = {0}, b = {0};
    member_create(&a, "kbench-member-a", group);
    member_create(&b, "kbench-member-b", group);
    deadline_us = now_us() + (long long)opt.timeout_s * 1000000;

    /* Baseline: one member alone, subscribe() to its first record (find
     * the coordinator, join, sync, fetch offsets, fetch). */
    long long start = now_us();
    member_subscribe(&a);
    while (a.first_us < 0 && now_us() < deadline_us) {
        member_poll(&a);
        sleep_us(500);
    }
    if (a.first_us < 0)
        die("the first member read nothing within %d s", opt.timeout_s);
    double first_join_ms = (double)(a.first_us - start) / 1000.0;

    /* The second member: from its subscribe() until both members consume
     * after the rebalance (a revoked, rejoined and reassigned, b assigned). */
    int a_before = a.assignments;
    start = now_us();
    member_subscribe(&b);
    long long both_us = -1, b_assigned_us = -1;
    while (now_us() < deadline_us) {
        member_poll(&a);
        member_poll(&b);
        if (b_assigned_us < 0 && b.assignments > 0)
            b_assigned_us = now_us();
        if (a.assignments > a_before && a.first_us >= 0 && b.assignments > 0 && b.first_us >= 0) {
            both_us = a.first_us > b.first_us ? a.first_us : b.first_us;
            break;
        }
        sleep_us(500);
    }
    int status = both_us < 0;
    printf("{\"mode\":\"rebalance\",\"topic\":\"%s\",\"partitions\":%d,\"first_join_ms\":%.3f,"
           "\"rebalance_ms\":%.3f,\"second_assigned_ms\":%.3f,\"a_partitions\":%d,"
           "\"b_partitions\":%d}\n",
           opt.topic, opt.partitions, first_join_ms,
           both_us < 0 ? -1.0 : (double)(both_us - start) / 1000.0,
           b_assigned_us < 0 ? -1.0 : (double)(b_assigned_us - start) / 1000.0, a.assigned,
           b.assigned);
    fflush(stdout);
    if (status)
        fprintf(stderr,
                "kbench: the members did not both consume within %d s (a: %d partitions,"
                " b: %d)\n",
                opt.timeout_s, a.assigned, b.assigned);
    rd_kafka_consumer_close(b.rk);
    rd_kafka_destroy(b.rk);
    rd_kafka_consumer_close(a.rk);
    rd_kafka_destroy(a.rk);
    return status;
}

/* ---- options ---------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: kbench --mode produce|consume|rebalance --brokers HOST:PORT --topic NAME "
                 "[options]\n"
                 "  --count N          records to produce or consume (default 1000000)\n"
                 "  --size BYTES       record value size (default 100)\n"
                 "  --partition P      partition to use (default 0)\n"
                 "  --acks 0|1|all     producer acks (default 1)\n"
                 "  --linger-ms MS     producer linger.ms (default 5)\n"
                 "  --compression C    none|gzip|snappy|lz4|zstd (default none)\n"
                 "  --producers N      producer instances, one thread each (default 1)\n"
                 "  --rate R           total records/s cap, 0 = unthrottled (default 0)\n"
                 "  --batch-records N  producer batch.num.messages (default 10000)\n"
                 "  --queue-records N  producer queue.buffering.max.messages (default 100000)\n"
                 "  --timeout S        give up after S seconds (default 120)\n"
                 "  --partitions N     rebalance: partitions of the topic it creates (default 4)\n"
                 "  -X key=value       any other librdkafka property (repeatable)\n"
                 "Prints one JSON line with records/s, MB/s (MiB of record values) and, for\n"
                 "produce, ack latency percentiles in milliseconds.\n");
}

static void parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"partition", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 's'},
        {"acks", required_argument, NULL, 'a'},
        {"linger-ms", required_argument, NULL, 'l'},
        {"compression", required_argument, NULL, 'z'},
        {"producers", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"batch-records", required_argument, NULL, 'B'},
        {"queue-records", required_argument, NULL, 'Q'},
        {"timeout", required_argument, NULL, 'T'},
        {"partitions", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opt = (options_t){
        .mode = NULL,
        .brokers = NULL,
        .topic = NULL,
        .count = 1000000,
        .size = 100,
        .acks = "1",
        .linger_ms = 5,
        .compression = "none",
        .producers = 1,
        .batch_records = 10000,
        .queue_records = 100000,
        .timeout_s = 120,
        .partitions = 4,
    };
    int c;
    while ((c = getopt_long(argc, argv, "X:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': opt.mode = optarg; break;
        case 'b': opt.brokers = optarg; break;
        case 't': opt.topic = optarg; break;
        case 'p': opt.partition = (int)parse_number("partition", optarg, 0, 1 << 20); break;
        case 'c': opt.count = parse_number("count", optarg, 1, 1LL << 40); break;
        case 's': opt.size = (int)parse_number("size", optarg, 0, 1 << 24); break;
        case 'a': opt.acks = optarg; break;
        case 'l': opt.linger_ms = (int)parse_number("linger-ms", optarg, 0, 900000); break;
        case 'z': opt.compression = optarg; break;
        case 'n': opt.producers = (int)parse_number("producers", optarg, 1, 256); break;
        case 'r': opt.rate = (double)parse_number("rate", optarg, 0, 1LL << 40); break;
        case 'B': opt.batch_records = (int)parse_number("batch-records", optarg, 1, 1000000); break;
        case 'Q': opt.queue_records = parse_number("queue-records", optarg, 1, 10000000); break;
        case 'T': opt.timeout_s = (int)parse_number("timeout", optarg, 1, 86400); break;
        case 'P': opt.partitions = (int)parse_number("partitions", optarg, 2, 10000); break;
        case 'X':
            if (opt.extra_count == MAX_EXTRA_PROPS)
                die("at most %d -X properties", MAX_EXTRA_PROPS);
            opt.extra[opt.extra_count++] = optarg;
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind != argc || !opt.mode || !opt.brokers || !opt.topic) {
        usage(stderr);
        exit(2);
    }
    if (strcmp(opt.mode, "produce") != 0 && strcmp(opt.mode, "consume") != 0 &&
        strcmp(opt.mode, "rebalance") != 0)
        die("--mode must be produce, consume or rebalance, not '%s'", opt.mode);
}

int main(int argc, char **argv)
{
    bench_program = "kbench";
    parse_options(argc, argv);
    init_clock();
    if (strcmp(opt.mode, "produce") == 0) {
        fill_payload_pool();
        int status = run_produce();
        sd_free(payload_pool);
        return status;
    }
    if (strcmp(opt.mode, "rebalance") == 0) {
        fill_payload_pool();
        int status = run_rebalance();
        sd_free(payload_pool);
        return status;
    }
    return run_consume();
}
