/*
 * registry.c - the running schema registry: ties the state (sr_state), the
 * `_schemas` store (sr_store), the leader election (sr_leader) and the HTTP
 * server (sr_http + sr_api) together, and gives the REST layer what
 * sr_registry_int.h promises. Confluent's property names for the standalone
 * process are tabled here.
 */
#include "registry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "sr_api_cache.h"
#include "sr_http.h"
#include "sr_leader.h"
#include "sr_registry_int.h"
#include "sr_state.h"
#include "sr_store.h"

#define UNBOUNDED 1, 0

static const char *const compatibility_levels[] = {
    "none",    "backward", "backward_transitive", "forward", "forward_transitive",
    "full",    "full_transitive", "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD",
    "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

const sd_cfg_def_t sr_registry_config_defs[] = {
    {"listeners", SD_CFG_STRING, "http://0.0.0.0:8081", UNBOUNDED, NULL,
     "Where the REST API serves, http://HOST:PORT; port 0 picks a free port."},
    {"kafkastore.bootstrap.servers", SD_CFG_STRING, NULL, UNBOUNDED, NULL,
     "Kafka cluster holding the schemas topic, host:port[,host:port] (also --bootstrap-servers)."},
    {"kafkastore.topic", SD_CFG_STRING, "_schemas", UNBOUNDED, NULL,
     "The compacted one-partition topic holding the registry's state."},
    {"kafkastore.topic.replication.factor", SD_CFG_INT, "-1", -1, 32767, NULL,
     "Replication factor of the topic when it is created here; -1 = the cluster's default."},
    {"kafkastore.init.timeout.ms", SD_CFG_INT, "60000", 1, 2147483647, NULL,
     "How long start-up may take to create the topic and read it to its end."},
    {"kafkastore.timeout.ms", SD_CFG_INT, "10000", 1, 2147483647, NULL,
     "How long a write may take to be stored and applied."},
    {"schema.registry.group.id", SD_CFG_STRING, "schema-registry", UNBOUNDED, NULL,
     "Group in which the registries sharing the topic elect their writer."},
    {"leader.eligibility", SD_CFG_BOOL, "true", UNBOUNDED, NULL,
     "Whether this registry may be elected to write."},
    {"host.name", SD_CFG_STRING, "", UNBOUNDED, NULL,
     "Host the other registries forward writes to; empty = the listener's host, or the "
     "machine's name when it listens on every address."},
    {"schema.compatibility.level", SD_CFG_CHOICE, "backward", UNBOUNDED, compatibility_levels,
     "Compatibility level of subjects without their own and no global config."},
    {"strand.http.threads", SD_CFG_INT, "8", 1, 1024, NULL, "Threads serving HTTP requests."},
    {"strand.request.max.bytes", SD_CFG_LONG, "16777216", 1024, INT64_MAX, NULL,
     "Largest request body; a larger one is answered 413."},
    {"strand.schema.max.bytes", SD_CFG_LONG, "4194304", 16, INT64_MAX, NULL,
     "Largest schema text; a larger one is answered 42209."},
    {"strand.log.level", SD_CFG_CHOICE, "info", UNBOUNDED, log_levels, "Log level."},
};
const size_t sr_registry_config_count = sizeof sr_registry_config_defs / sizeof *sr_registry_config_defs;

enum { LEADER_UNKNOWN = -1, LEADER_OTHER = 0, LEADER_SELF = 1 };

struct sr_registry {
    char *bootstrap_servers;
    char *topic;
    char *group_id;
    char *default_compatibility;
    int replication_factor;
    int init_timeout_ms;
    int write_timeout_ms;
    size_t max_schema_bytes;
    bool leader_eligibility;

    char url[300];            /* as bound, printed */
    char cluster_id[128];     /* the Kafka cluster's, "" when unknown */
    char advertised_host[256]; /* given to the other registries */
    int port;

    sr_state_t *state;
    sr_store_t *store;
    sr_leader_t *leader;
    sr_http_t *http;
    sr_api_cache_t *api_cache;
    atomic_bool ready;

    pthread_mutex_t write_mutex;

    pthread_mutex_t leader_mutex;
    pthread_cond_t leader_changed;
    int leader_state;
    char leader_url[300];
    unsigned long leader_epoch; /* bumped each time this process becomes the writer */
    unsigned long synced_epoch; /* the epoch whose catch-up is done */
};

void sr_registry_config_defaults(sr_registry_config_t *config)
{
    memset(config, 0, sizeof *config);
    config->listeners = "http://0.0.0.0:8081";
    config->topic = "_schemas";
    config->replication_factor = -1;
    config->group_id = "schema-registry";
    config->leader_eligibility = true;
    config->default_compatibility = "BACKWARD";
    config->init_timeout_ms = 60000;
    config->write_timeout_ms = 10000;
    config->threads = 8;
    config->max_request_bytes = 16u << 20;
    config->max_schema_bytes = 4u << 20;
}

void sr_registry_config_read(const sd_config_t *props, sr_registry_config_t *config)
{
    sr_registry_config_defaults(config);
    config->listeners = sd_config_str(props, "listeners");
    config->bootstrap_servers = sd_config_str(props, "kafkastore.bootstrap.servers");
    config->topic = sd_config_str(props, "kafkastore.topic");
    config->replication_factor = (int)sd_config_int(props, "kafkastore.topic.replication.factor");
    config->init_timeout_ms = (int)sd_config_int(props, "kafkastore.init.timeout.ms");
    config->write_timeout_ms = (int)sd_config_int(props, "kafkastore.timeout.ms");
    config->group_id = sd_config_str(props, "schema.registry.group.id");
    config->leader_eligibility = sd_config_bool(props, "leader.eligibility");
    config->host_name = sd_config_str(props, "host.name");
    config->default_compatibility = sd_config_str(props, "schema.compatibility.level");
    config->threads = (int)sd_config_int(props, "strand.http.threads");
    config->max_request_bytes = (size_t)sd_config_int(props, "strand.request.max.bytes");
    config->max_schema_bytes = (size_t)sd_config_int(props, "strand.schema.max.bytes");
}

/* Splits "http://HOST:PORT" (HOST may be "[v6]"); 0 or SD_ERR_INVALID. */
static int parse_listener(const char *text, char *host, size_t host_len, int *port, sd_err_t *err)
{
    const char *p = text;
    if (strncmp(p, "http://", 7) != 0)
        return sd_err_set(err, SD_ERR_INVALID,
                          "registry listener '%s' must look like http://HOST:PORT (only http is "
                          "served)",
                          text);
    p += 7;
    const char *host_end;
    const char *colon;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end || host_end[1] != ':')
            return sd_err_set(err, SD_ERR_INVALID, "registry listener '%s' has a bad IPv6 host",
                              text);
        p++;
        colon = host_end + 1;
    } else {
        colon = strrchr(p, ':');
        host_end = colon;
    }
    if (!colon || (size_t)(host_end - p) >= host_len)
        return sd_err_set(err, SD_ERR_INVALID, "registry listener '%s' has no port", text);
    memcpy(host, p, (size_t)(host_end - p));
    host[host_end - p] = '\0';
    char *end = NULL;
    long value = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || (*end != '\0' && *end != '/' && *end != ',') || value < 0 ||
        value > 65535)
        return sd_err_set(err, SD_ERR_INVALID, "registry listener '%s' has a bad port", text);
    *port = (int)value;
    return 0;
}

static char *dup_or_null(const char *text)
{
    return text ? sd_strdup(text) : NULL;
}

static void on_record(void *ctx, const void *key, size_t key_len, const void *value,
                      size_t value_len, int64_t offset, int64_t timestamp_ms)
{
    sr_registry_t *registry = ctx;
    sr_state_apply(registry->state, key, key_len, value, value_len, offset, timestamp_ms);
}

static void on_leader_change(void *ctx, bool is_leader, const char *leader_url)
{
    sr_registry_t *registry = ctx;
    pthread_mutex_lock(&registry->leader_mutex);
    int previous = registry->leader_state;
    if (is_leader) {
        if (previous != LEADER_SELF)
            registry->leader_epoch++;
        registry->leader_state = LEADER_SELF;
    } else {
        registry->leader_state = leader_url ? LEADER_OTHER : LEADER_UNKNOWN;
    }
    snprintf(registry->leader_url, sizeof registry->leader_url, "%s",
             leader_url ? leader_url : "");
    pthread_cond_broadcast(&registry->leader_changed);
    pthread_mutex_unlock(&registry->leader_mutex);
    if (is_leader && previous != LEADER_SELF)
        sd_info("registry", "this registry is now the writer (%s)", registry->url);
    else if (!is_leader && leader_url && previous != LEADER_OTHER)
        sd_info("registry", "writes are forwarded to %s", leader_url);
    else if (!is_leader && !leader_url && previous != LEADER_UNKNOWN)
        sd_warn("registry", "no writer is known; writes are refused until one is elected");
}

static void monotonic_deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int sr_registry_start(const sr_registry_config_t *config, sr_registry_t **out, sd_err_t *err)
{
    *out = NULL;
    if (!config->bootstrap_servers || !*config->bootstrap_servers)
        return sd_err_set(err, SD_ERR_INVALID,
                          "the registry needs the Kafka cluster's address "
                          "(kafkastore.bootstrap.servers / --bootstrap-servers)");
    char host[256];
    int port = 0;
    int rc = parse_listener(config->listeners, host, sizeof host, &port, err);
    if (rc != 0)
        return rc;

    sr_registry_t *registry = sd_malloc(sizeof *registry);
    if (!registry)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory starting the registry");
    memset(registry, 0, sizeof *registry);
    pthread_mutex_init(&registry->write_mutex, NULL);
    pthread_mutex_init(&registry->leader_mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&registry->leader_changed, &attr);
    pthread_condattr_destroy(&attr);
    registry->leader_state = LEADER_UNKNOWN;
    registry->bootstrap_servers = dup_or_null(config->bootstrap_servers);
    registry->topic = dup_or_null(config->topic ? config->topic : "_schemas");
    registry->group_id = dup_or_null(config->group_id ? config->group_id : "schema-registry");
    registry->default_compatibility = dup_or_null(
        config->default_compatibility ? config->default_compatibility : "BACKWARD");
    if (!registry->bootstrap_servers || !registry->topic || !registry->group_id ||
        !registry->default_compatibility) {
        sr_registry_stop(registry);
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory starting the registry");
    }
    for (char *c = registry->default_compatibility; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    registry->replication_factor = config->replication_factor;
    registry->init_timeout_ms = config->init_timeout_ms > 0 ? config->init_timeout_ms : 60000;
    registry->write_timeout_ms = config->write_timeout_ms > 0 ? config->write_timeout_ms : 10000;
    registry->max_schema_bytes = config->max_schema_bytes ? config->max_schema_bytes : 4u << 20;
    registry->leader_eligibility = config->leader_eligibility;

    registry->state = sr_state_new();
    registry->api_cache = sr_api_cache_new(4096);
    if (!registry->state || !registry->api_cache) {
        sr_registry_stop(registry);
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory starting the registry");
    }

    sr_store_config_t store_config = {
        .bootstrap_servers = registry->bootstrap_servers,
        .topic = registry->topic,
        .replication_factor = registry->replication_factor,
        .init_timeout_ms = registry->init_timeout_ms,
        .write_timeout_ms = registry->write_timeout_ms,
    };
    rc = sr_store_open(&store_config, on_record, registry, &registry->store, err);
    if (rc != 0) {
        sr_registry_stop(registry);
        return rc;
    }

    sr_http_config_t http_config = {
        .host = host,
        .port = port,
        .threads = config->threads,
        .max_request_bytes = config->max_request_bytes ? config->max_request_bytes : 16u << 20,
    };
    rc = sr_http_start(&http_config, registry, &registry->http, &registry->port, err);
    if (rc != 0) {
        sr_registry_stop(registry);
        return rc;
    }
    int v6 = strchr(host, ':') != NULL;
    snprintf(registry->url, sizeof registry->url, "http://%s%s%s:%d", v6 ? "[" : "", host,
             v6 ? "]" : "", registry->port);

    rc = sr_store_catch_up(registry->store, registry->init_timeout_ms, err);
    if (rc != 0) {
        sr_registry_stop(registry);
        return rc;
    }
    if (sr_store_cluster_id(registry->store, registry->cluster_id, sizeof registry->cluster_id,
                            registry->init_timeout_ms) != 0)
        sd_warn("registry", "the Kafka cluster gave no cluster id");
    atomic_store(&registry->ready, true);

    if (config->host_name && *config->host_name) {
        snprintf(registry->advertised_host, sizeof registry->advertised_host, "%s",
                 config->host_name);
    } else if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0') {
        if (gethostname(registry->advertised_host, sizeof registry->advertised_host) != 0)
            snprintf(registry->advertised_host, sizeof registry->advertised_host, "localhost");
        registry->advertised_host[sizeof registry->advertised_host - 1] = '\0';
    } else {
        snprintf(registry->advertised_host, sizeof registry->advertised_host, "%s", host);
    }
    sr_leader_config_t leader_config = {
        .bootstrap_servers = registry->bootstrap_servers,
        .group_id = registry->group_id,
        .host = registry->advertised_host,
        .port = registry->port,
        .scheme = "http",
        .eligible = registry->leader_eligibility,
        .session_timeout_ms = 10000,
        .heartbeat_interval_ms = 3000,
        .rebalance_timeout_ms = 10000,
    };
    rc = sr_leader_start(&leader_config, on_leader_change, registry, &registry->leader, err);
    if (rc != 0) {
        sr_registry_stop(registry);
        return rc;
    }
    /* Serve writes from the first line printed: wait for the first election. */
    struct timespec deadline;
    monotonic_deadline(&deadline, registry->init_timeout_ms);
    pthread_mutex_lock(&registry->leader_mutex);
    while (registry->leader_state == LEADER_UNKNOWN &&
           pthread_cond_timedwait(&registry->leader_changed, &registry->leader_mutex, &deadline) == 0)
        ;
    int known = registry->leader_state != LEADER_UNKNOWN;
    pthread_mutex_unlock(&registry->leader_mutex);
    if (!known)
        sd_warn("registry", "no writer elected within %d ms; writes are refused until one is",
                registry->init_timeout_ms);
    *out = registry;
    return 0;
}

const char *sr_registry_url(const sr_registry_t *registry)
{
    return registry->url;
}

void sr_registry_stop(sr_registry_t *registry)
{
    if (!registry)
        return;
    if (registry->leader)
        sr_leader_stop(registry->leader);
    if (registry->http)
        sr_http_stop(registry->http);
    if (registry->store)
        sr_store_close(registry->store);
    if (registry->state)
        sr_state_free(registry->state);
    sr_api_cache_free(registry->api_cache);
    pthread_cond_destroy(&registry->leader_changed);
    pthread_mutex_destroy(&registry->leader_mutex);
    pthread_mutex_destroy(&registry->write_mutex);
    free(registry->bootstrap_servers);
    free(registry->topic);
    free(registry->group_id);
    free(registry->default_compatibility);
    free(registry);
}

/* ---- what the REST layer uses (sr_registry_int.h) ---------------------- */

sr_state_t *sr_registry_state(sr_registry_t *registry)
{
    return registry->state;
}

bool sr_registry_ready(sr_registry_t *registry)
{
    return atomic_load(&registry->ready);
}

void sr_registry_write_lock(sr_registry_t *registry)
{
    pthread_mutex_lock(&registry->write_mutex);
    /* A process that has just become the writer first reads everything the
     * previous writer wrote, so its decisions (next id, next version) see it. */
    pthread_mutex_lock(&registry->leader_mutex);
    unsigned long epoch = registry->leader_epoch;
    int self = registry->leader_state == LEADER_SELF;
    pthread_mutex_unlock(&registry->leader_mutex);
    if (self && epoch != registry->synced_epoch) {
        sd_err_t err = {0};
        if (sr_store_catch_up(registry->store, registry->write_timeout_ms, &err) == 0)
            registry->synced_epoch = epoch;
        else
            sd_warn("registry", "catching up before writing: %s", err.msg);
    }
}

void sr_registry_write_unlock(sr_registry_t *registry)
{
    pthread_mutex_unlock(&registry->write_mutex);
}

int sr_registry_write(sr_registry_t *registry, const sr_write_t *records, size_t count,
                      sd_err_t *err)
{
    sr_store_record_t stack[8] = {{0}};
    sr_store_record_t *list = stack;
    if (count > sizeof stack / sizeof *stack) {
        list = sd_malloc(count * sizeof *list);
        if (!list)
            return sd_err_set(err, SR_ERR_STORE, "out of memory writing %zu records", count);
    }
    for (size_t i = 0; i < count; i++) {
        list[i].key = records[i].key;
        list[i].value = records[i].value;
    }
    int rc = sr_store_write(registry->store, list, count, err);
    if (list != stack)
        free(list);
    if (rc == SR_STORE_TIMEOUT)
        return SR_ERR_TIMEOUT;
    return rc == 0 ? 0 : SR_ERR_STORE;
}

int sr_registry_leader(sr_registry_t *registry, char *url, size_t url_len)
{
    pthread_mutex_lock(&registry->leader_mutex);
    int state = registry->leader_state;
    if (state == LEADER_OTHER && url && url_len)
        snprintf(url, url_len, "%s", registry->leader_url);
    pthread_mutex_unlock(&registry->leader_mutex);
    if (state == LEADER_SELF)
        return 1;
    if (state == LEADER_OTHER)
        return 0;
    return SR_ERR_NO_LEADER;
}

const char *sr_registry_default_compatibility(sr_registry_t *registry)
{
    return registry->default_compatibility;
}

size_t sr_registry_max_schema_bytes(sr_registry_t *registry)
{
    return registry->max_schema_bytes;
}

const char *sr_registry_kafka_cluster_id(sr_registry_t *registry)
{
    return registry->cluster_id;
}

struct sr_api_cache *sr_registry_api_cache(sr_registry_t *registry)
{
    return registry->api_cache;
}

const char *sr_registry_group_id(sr_registry_t *registry)
{
    return registry->group_id;
}

int sr_registry_forward_timeout_ms(sr_registry_t *registry)
{
    return registry->write_timeout_ms + 5000;
}
