/*
 * test_sr_store.c - the registry's store against a real broker: Strand's own
 * binary started as a child on port 0. Topic creation and the checks of an
 * existing topic, records applied in order before a write returns,
 * tombstones, replay on reopen, concurrent writers, and a prompt close, also
 * once the broker is gone.
 */
#include <check.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "sr_store.h"
#include "unit.h"
#include "unit_broker.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the broker ----------------------------------------------------------- */

static const unit_broker_options_t broker_options = {.name = "test_sr_store"};

/* One broker for the whole suite, started before the tests fork. */
static unit_broker_t shared_broker;

static void suite_setup(void) { unit_broker_start(&shared_broker, &broker_options); }

static void suite_teardown(void)
{
    unit_broker_stop(&shared_broker, false);
}

/* ---- log lines ------------------------------------------------------------ */

/* Warnings the store logged during the test (each test runs in its own
 * process, so the count starts at 0). A clean run logs none; the tests that
 * take the broker away expect some and keep them off the output.
 * TEST_SHOW_LOG=1 prints every line the store logs. */
static int warnings;

static void count_warnings(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)module;
    (void)opaque;
    if (getenv("TEST_SHOW_LOG"))
        fprintf(stderr, "log: %s\n", line);
    if (level >= SD_LOG_WARN)
        __atomic_add_fetch(&warnings, 1, __ATOMIC_RELAXED);
}

static void test_setup(void)
{
    warnings = 0;
    sd_log_set_sink(count_warnings, NULL);
}

static void test_teardown(void) { sd_log_set_sink(NULL, NULL); }

static void assert_no_warnings(void)
{
    ck_assert_int_eq(__atomic_load_n(&warnings, __ATOMIC_RELAXED), 0);
}

/* ---- what the store applied ----------------------------------------------- */

typedef struct applied_record {
    char *key;
    char *value; /* NULL for a tombstone */
    int64_t offset;
    int64_t timestamp_ms;
} applied_record_t;

typedef struct collector {
    pthread_mutex_t lock;
    applied_record_t *records;
    size_t count, capacity;
} collector_t;

static void collector_init(collector_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
}

static void collector_free(collector_t *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->records[i].key);
        free(c->records[i].value);
    }
    free(c->records);
    pthread_mutex_destroy(&c->lock);
}

static size_t collector_count(collector_t *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void collect(void *ctx, const void *key, size_t key_len, const void *value, size_t value_len,
                    int64_t offset, int64_t timestamp_ms)
{
    collector_t *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (c->count == c->capacity) {
        c->capacity = c->capacity ? 2 * c->capacity : 64;
        c->records = realloc(c->records, c->capacity * sizeof *c->records);
    }
    applied_record_t *r = &c->records[c->count++];
    r->key = key ? strndup(key, key_len) : NULL;
    r->value = value ? strndup(value, value_len) : NULL;
    r->offset = offset;
    r->timestamp_ms = timestamp_ms;
    pthread_mutex_unlock(&c->lock);
}

/* Index of the record with this key, or -1. */
static long collector_find(collector_t *c, const char *key)
{
    long found = -1;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count; i++)
        if (c->records[i].key && strcmp(c->records[i].key, key) == 0)
            found = (long)i;
    pthread_mutex_unlock(&c->lock);
    return found;
}

static sr_store_t *open_store(const char *bootstrap, const char *topic, collector_t *c,
                              int write_timeout_ms)
{
    sr_store_config_t config = {
        .bootstrap_servers = bootstrap,
        .topic = topic,
        .replication_factor = -1,
        .init_timeout_ms = 20000,
        .write_timeout_ms = write_timeout_ms,
    };
    sr_store_t *store = NULL;
    sd_err_t err = {0};
    int rc = sr_store_open(&config, collect, c, &store, &err);
    ck_assert_msg(rc == 0, "open %s: %d %s", topic, rc, err.msg);
    ck_assert_ptr_nonnull(store);
    return store;
}

static void write_one(sr_store_t *store, const char *key, const char *value)
{
    sr_store_record_t record = {key, value};
    sd_err_t err = {0};
    int rc = sr_store_write(store, &record, 1, &err);
    ck_assert_msg(rc == 0, "write %s: %d %s", key, rc, err.msg);
}

/* ---- an admin client, to look at and prepare topics ------------------------ */

static rd_kafka_t *admin_new(const char *bootstrap)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    ck_assert_msg(rk != NULL, "%s", errstr);
    return rk;
}

static void admin_create(const char *bootstrap, const char *name, int partitions,
                         const char *policy)
{
    rd_kafka_t *rk = admin_new(bootstrap);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    char errstr[256];
    rd_kafka_NewTopic_t *topic = rd_kafka_NewTopic_new(name, partitions, -1, errstr, sizeof errstr);
    ck_assert_ptr_nonnull(topic);
    rd_kafka_NewTopic_set_config(topic, "cleanup.policy", policy);
    rd_kafka_CreateTopics(rk, &topic, 1, NULL, queue);
    rd_kafka_NewTopic_destroy(topic);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 20000);
    ck_assert_ptr_nonnull(event);
    size_t count = 0;
    const rd_kafka_topic_result_t **results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    ck_assert_uint_eq(count, 1);
    ck_assert_msg(rd_kafka_topic_result_error(results[0]) == 0, "create %s: %s", name,
                  rd_kafka_topic_result_error_string(results[0]));
    rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
}

/* The topic's partition count and cleanup.policy as the broker reports them. */
static void admin_describe(const char *bootstrap, const char *name, int *partitions, char *policy,
                           size_t policy_len)
{
    rd_kafka_t *rk = admin_new(bootstrap);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    const rd_kafka_metadata_t *metadata = NULL;
    ck_assert_int_eq(rd_kafka_metadata(rk, 0, rkt, &metadata, 10000), 0);
    ck_assert_int_eq(metadata->topic_cnt, 1);
    ck_assert_int_eq(metadata->topics[0].err, 0);
    *partitions = metadata->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(rkt);

    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_ConfigResource_t *resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_DescribeConfigs(rk, &resource, 1, NULL, queue);
    rd_kafka_ConfigResource_destroy(resource);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 20000);
    ck_assert_ptr_nonnull(event);
    ck_assert_int_eq(rd_kafka_event_error(event), 0);
    size_t count = 0, entries_count = 0;
    const rd_kafka_ConfigResource_t **resources = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(event), &count);
    ck_assert_uint_eq(count, 1);
    const rd_kafka_ConfigEntry_t **entries =
        rd_kafka_ConfigResource_configs(resources[0], &entries_count);
    snprintf(policy, policy_len, "(missing)");
    for (size_t i = 0; i < entries_count; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy") == 0)
            snprintf(policy, policy_len, "%s", rd_kafka_ConfigEntry_value(entries[i]));
    rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
}

/* Every librdkafka handle of the test is gone, so nothing is left to leak. */
static void all_clients_destroyed(void) { ck_assert_int_eq(rd_kafka_wait_destroyed(5000), 0); }

/* ---- tests ------------------------------------------------------------------ */

START_TEST(topic_created_compacted)
{
    collector_t c;
    collector_init(&c);
    sr_store_t *store = open_store(shared_broker.bootstrap, "store_created", &c, 10000);
    int partitions = 0;
    char policy[64];
    admin_describe(shared_broker.bootstrap, "store_created", &partitions, policy, sizeof policy);
    ck_assert_int_eq(partitions, 1);
    ck_assert_str_eq(policy, "compact");
    /* An empty topic: caught up at once, at offset 0. */
    sd_err_t err = {0};
    ck_assert_int_eq(sr_store_catch_up(store, 10000, &err), 0);
    ck_assert_int_eq(sr_store_applied_offset(store), 0);
    sr_store_close(store);

    /* Opening again finds the topic and accepts it. */
    store = open_store(shared_broker.bootstrap, "store_created", &c, 10000);
    sr_store_close(store);
    ck_assert_uint_eq(collector_count(&c), 0);
    collector_free(&c);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

START_TEST(writes_applied_in_order)
{
    collector_t c;
    collector_init(&c);
    sr_store_t *store = open_store(shared_broker.bootstrap, "store_order", &c, 10000);
    sd_err_t err = {0};
    ck_assert_int_eq(sr_store_catch_up(store, 10000, &err), 0);

    char key[64], value[64];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "{\"keytype\":\"SCHEMA\",\"n\":%d}", i);
        snprintf(value, sizeof value, "{\"v\":%d}", i);
        write_one(store, key, value);
        /* Read-your-writes: the callback has already seen it. */
        long at = collector_find(&c, key);
        ck_assert_msg(at == i, "record %d applied at %ld after the write returned", i, at);
        ck_assert_int_eq(sr_store_applied_offset(store), c.records[at].offset + 1);
    }
    /* Several records in one write land in order, one after the other. */
    sr_store_record_t batch[] = {{"batch-a", "1"}, {"batch-b", "2"}, {"batch-c", "3"}};
    ck_assert_int_eq(sr_store_write(store, batch, 3, &err), 0);
    ck_assert_int_eq(sr_store_write(store, batch, 0, &err), 0);
    ck_assert_uint_eq(collector_count(&c), 23);
    ck_assert_str_eq(c.records[20].key, "batch-a");
    ck_assert_str_eq(c.records[21].key, "batch-b");
    ck_assert_str_eq(c.records[22].key, "batch-c");
    ck_assert_str_eq(c.records[22].value, "3");
    for (size_t i = 1; i < c.count; i++)
        ck_assert_int_gt(c.records[i].offset, c.records[i - 1].offset);
    ck_assert_int_eq(c.records[0].offset, 0);
    ck_assert_int_eq(c.records[22].offset, 22);
    ck_assert_int_gt(c.records[22].timestamp_ms, 0);
    sr_store_close(store);
    collector_free(&c);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

START_TEST(tombstones_apply_as_null)
{
    collector_t c;
    collector_init(&c);
    sr_store_t *store = open_store(shared_broker.bootstrap, "store_tombstone", &c, 10000);
    write_one(store, "k", "{\"live\":true}");
    write_one(store, "k", NULL);
    write_one(store, "empty", "");
    ck_assert_uint_eq(collector_count(&c), 3);
    ck_assert_str_eq(c.records[0].value, "{\"live\":true}");
    ck_assert_str_eq(c.records[1].key, "k");
    ck_assert_ptr_null(c.records[1].value);
    /* An empty value is not a tombstone. */
    ck_assert_ptr_nonnull(c.records[2].value);
    ck_assert_str_eq(c.records[2].value, "");
    sr_store_close(store);
    collector_free(&c);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

START_TEST(reopen_replays_everything)
{
    collector_t first, second;
    collector_init(&first);
    collector_init(&second);
    sr_store_t *store = open_store(shared_broker.bootstrap, "store_replay", &first, 10000);
    char key[32];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        write_one(store, key, i % 3 == 2 ? NULL : key);
    }
    sr_store_close(store);

    store = open_store(shared_broker.bootstrap, "store_replay", &second, 10000);
    sd_err_t err = {0};
    ck_assert_int_eq(sr_store_catch_up(store, 10000, &err), 0);
    ck_assert_int_eq(sr_store_applied_offset(store), 10);
    ck_assert_uint_eq(collector_count(&second), 10);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_str_eq(second.records[i].key, first.records[i].key);
        ck_assert_int_eq(second.records[i].offset, first.records[i].offset);
        if (first.records[i].value)
            ck_assert_str_eq(second.records[i].value, first.records[i].value);
        else
            ck_assert_ptr_null(second.records[i].value);
    }
    /* Writing after a replay continues the log. */
    write_one(store, "after", "x");
    ck_assert_int_eq(second.records[10].offset, 10);
    sr_store_close(store);
    collector_free(&first);
    collector_free(&second);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

/* Deletes the records before `before` (the log start moves there). */
static void admin_delete_records(const char *bootstrap, const char *name, int64_t before)
{
    rd_kafka_t *rk = admin_new(bootstrap);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, name, 0)->offset = before;
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(offsets);
    rd_kafka_topic_partition_list_destroy(offsets);
    rd_kafka_DeleteRecords(rk, &del, 1, NULL, queue);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 20000);
    ck_assert_ptr_nonnull(event);
    ck_assert_msg(rd_kafka_event_error(event) == 0, "%s", rd_kafka_event_error_string(event));
    const rd_kafka_topic_partition_list_t *result =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event));
    ck_assert_int_eq(result->cnt, 1);
    ck_assert_msg(result->elems[0].err == 0, "%s", rd_kafka_err2str(result->elems[0].err));
    rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(rk);
}

START_TEST(replay_from_moved_log_start)
{
    /* The first records are gone, as compaction or retention may leave a log:
     * the reader starts where the log starts and still reaches the end. */
    collector_t first, second;
    collector_init(&first);
    collector_init(&second);
    sr_store_t *store = open_store(shared_broker.bootstrap, "store_log_start", &first, 10000);
    char key[32];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        write_one(store, key, key);
    }
    sr_store_close(store);
    admin_delete_records(shared_broker.bootstrap, "store_log_start", 5);

    store = open_store(shared_broker.bootstrap, "store_log_start", &second, 10000);
    sd_err_t err = {0};
    ck_assert_int_eq(sr_store_catch_up(store, 10000, &err), 0);
    ck_assert_int_eq(sr_store_applied_offset(store), 8);
    ck_assert_uint_eq(collector_count(&second), 3);
    ck_assert_int_eq(second.records[0].offset, 5);
    ck_assert_str_eq(second.records[0].key, "key-5");
    ck_assert_str_eq(second.records[2].key, "key-7");
    sr_store_close(store);
    collector_free(&first);
    collector_free(&second);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

START_TEST(refuses_two_partitions)
{
    admin_create(shared_broker.bootstrap, "store_two_partitions", 2, "compact");
    collector_t c;
    collector_init(&c);
    sr_store_config_t config = {.bootstrap_servers = shared_broker.bootstrap,
                                .topic = "store_two_partitions",
                                .replication_factor = -1,
                                .init_timeout_ms = 20000,
                                .write_timeout_ms = 10000};
    sr_store_t *store = (sr_store_t *)&c; /* any non-NULL: a failed open clears it */
    sd_err_t err = {0};
    ck_assert_int_eq(sr_store_open(&config, collect, &c, &store, &err), SR_STORE_ERR);
    ck_assert_ptr_null(store);
    ck_assert_int_eq(err.code, SR_STORE_ERR);
    ck_assert_msg(strstr(err.msg, "'store_two_partitions'") && strstr(err.msg, "has 2"), "%s",
                  err.msg);
    ck_assert_msg(strstr(err.msg, shared_broker.bootstrap), "%s", err.msg);
    collector_free(&c);
    all_clients_destroyed();
}
END_TEST

START_TEST(refuses_delete_policy)
{
    admin_create(shared_broker.bootstrap, "store_delete_policy", 1, "delete");
    collector_t c;
    collector_init(&c);
    sr_store_config_t config = {.bootstrap_servers = shared_broker.bootstrap,
                                .topic = "store_delete_policy",
                                .replication_factor = -1};
    sr_store_t *store = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(sr_store_open(&config, collect, &c, &store, &err), SR_STORE_ERR);
    ck_assert_ptr_null(store);
    ck_assert_msg(strstr(err.msg, "'store_delete_policy'") &&
                      strstr(err.msg, "cleanup.policy to be 'compact' but it is 'delete'"),
                  "%s", err.msg);
    collector_free(&c);
    all_clients_destroyed();
}
END_TEST

START_TEST(default_topic_name)
{
    collector_t c;
    collector_init(&c);
    sr_store_t *store = open_store(shared_broker.bootstrap, NULL, &c, 10000);
    write_one(store, "k", "v");
    int partitions = 0;
    char policy[64];
    admin_describe(shared_broker.bootstrap, "_schemas", &partitions, policy, sizeof policy);
    ck_assert_int_eq(partitions, 1);
    ck_assert_str_eq(policy, "compact");
    sr_store_close(store);
    collector_free(&c);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

START_TEST(replication_factor_capped)
{
    /* Confluent's default of 3 on a one-broker cluster: created with 1, and
     * a warning says so. */
    collector_t c;
    collector_init(&c);
    sr_store_config_t config = {.bootstrap_servers = shared_broker.bootstrap,
                                .topic = "store_factor",
                                .replication_factor = 3};
    sr_store_t *store = NULL;
    sd_err_t err = {0};
    ck_assert_msg(sr_store_open(&config, collect, &c, &store, &err) == 0, "%s", err.msg);
    write_one(store, "k", "v");
    sr_store_close(store);
    ck_assert_int_eq(__atomic_load_n(&warnings, __ATOMIC_RELAXED), 1);
    collector_free(&c);
    all_clients_destroyed();
}
END_TEST

START_TEST(open_fails_without_broker)
{
    /* A port nobody listens on: the open gives up at its timeout and says where. */
    collector_t c;
    collector_init(&c);
    sr_store_config_t config = {.bootstrap_servers = "127.0.0.1:1",
                                .topic = "nowhere",
                                .replication_factor = -1,
                                .init_timeout_ms = 1500};
    sr_store_t *store = NULL;
    sd_err_t err = {0};
    int64_t start = now_ms();
    int rc = sr_store_open(&config, collect, &c, &store, &err);
    int64_t took = now_ms() - start;
    ck_assert_msg(rc == SR_STORE_TIMEOUT || rc == SR_STORE_ERR, "rc %d", rc);
    ck_assert_ptr_null(store);
    ck_assert_msg(strstr(err.msg, "127.0.0.1:1") && strstr(err.msg, "'nowhere'"), "%s", err.msg);
    ck_assert_msg(took < 5000, "open took %lld ms", (long long)took);
    collector_free(&c);
    all_clients_destroyed();
}
END_TEST

typedef struct writer_arg {
    sr_store_t *store;
    int thread;
    int count;
    int failures;
} writer_arg_t;

static void *writer_main(void *p)
{
    writer_arg_t *arg = p;
    char key[64];
    for (int i = 0; i < arg->count; i++) {
        snprintf(key, sizeof key, "thread-%d-%03d", arg->thread, i);
        sr_store_record_t record = {key, key};
        sd_err_t err = {0};
        if (sr_store_write(arg->store, &record, 1, &err) != 0)
            arg->failures++;
    }
    return NULL;
}

START_TEST(concurrent_writers)
{
    enum { THREADS = 4, EACH = 50 };
    collector_t c;
    collector_init(&c);
    sr_store_t *store = open_store(shared_broker.bootstrap, "store_concurrent", &c, 10000);
    pthread_t threads[THREADS];
    writer_arg_t args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (writer_arg_t){.store = store, .thread = t, .count = EACH};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, writer_main, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(args[t].failures, 0);
    }
    ck_assert_uint_eq(collector_count(&c), THREADS * EACH);
    /* Offsets increase, and each thread's records are in its own order. */
    int next[THREADS] = {0};
    for (size_t i = 0; i < c.count; i++) {
        if (i > 0)
            ck_assert_int_gt(c.records[i].offset, c.records[i - 1].offset);
        int t = -1, n = -1;
        ck_assert_int_eq(sscanf(c.records[i].key, "thread-%d-%d", &t, &n), 2);
        ck_assert_int_eq(n, next[t]);
        next[t]++;
    }
    ck_assert_int_eq(sr_store_applied_offset(store), THREADS * EACH);
    sr_store_close(store);
    collector_free(&c);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

START_TEST(close_is_prompt)
{
    collector_t c;
    collector_init(&c);
    sr_store_t *store = open_store(shared_broker.bootstrap, "store_close", &c, 10000);
    write_one(store, "k", "v");
    int64_t start = now_ms();
    sr_store_close(store);
    int64_t took = now_ms() - start;
    ck_assert_msg(took < 250, "close took %lld ms", (long long)took);
    collector_free(&c);
    assert_no_warnings();
    all_clients_destroyed();
}
END_TEST

START_TEST(broker_gone)
{
    /* A broker of this test's own, to stop under the store. */
    unit_broker_t own;
    unit_broker_start(&own, &broker_options);
    collector_t c;
    collector_init(&c);
    sr_store_t *store = open_store(own.bootstrap, "store_gone", &c, 1500);
    write_one(store, "before", "v");
    unit_broker_stop(&own, false);

    /* A write with nobody to take it times out within write_timeout_ms. */
    sr_store_record_t record = {"after", "v"};
    sd_err_t err = {0};
    int64_t start = now_ms();
    int rc = sr_store_write(store, &record, 1, &err);
    int64_t took = now_ms() - start;
    ck_assert_msg(rc == SR_STORE_TIMEOUT, "rc %d: %s", rc, err.msg);
    ck_assert_msg(took < 4000, "write took %lld ms", (long long)took);
    err = (sd_err_t){0};
    ck_assert_int_eq(sr_store_catch_up(store, 500, &err), SR_STORE_TIMEOUT);

    start = now_ms();
    sr_store_close(store);
    took = now_ms() - start;
    ck_assert_msg(took < 4000, "close took %lld ms", (long long)took);
    ck_assert_uint_eq(collector_count(&c), 1);
    collector_free(&c);
    unit_remove_tree(own.dir);
    all_clients_destroyed();
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("sr_store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, test_setup, test_teardown);
    tcase_add_test(tc, topic_created_compacted);
    tcase_add_test(tc, writes_applied_in_order);
    tcase_add_test(tc, tombstones_apply_as_null);
    tcase_add_test(tc, reopen_replays_everything);
    tcase_add_test(tc, replay_from_moved_log_start);
    tcase_add_test(tc, refuses_two_partitions);
    tcase_add_test(tc, refuses_delete_policy);
    tcase_add_test(tc, default_topic_name);
    tcase_add_test(tc, replication_factor_capped);
    tcase_add_test(tc, open_fails_without_broker);
    tcase_add_test(tc, concurrent_writers);
    tcase_add_test(tc, close_is_prompt);
    tcase_add_test(tc, broker_gone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(store_suite()); }
