/*
 * test_registry_client.c - the caching registry client against the real
 * registry (Strand's own binary started as a child on port 0): register,
 * lookup, schemas by id, GUID and version, Confluent's errors, cache hits
 * counted in HTTP requests, the latest version's TTL, single-flight under
 * eight threads, URL failover and timeouts. A small scripted HTTP server in
 * a thread checks what goes on the wire: auth headers, retries of 5xx
 * answers and connection reuse.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "strand/registry_client.h"
#include "unit.h"
#include "unit_broker.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the broker with its registry ----------------------------------------- */

static unit_broker_t shared_broker;

static void suite_setup(void)
{
    unit_broker_options_t options = {.name = "test_registry_client", .registry = true};
    unit_broker_start(&shared_broker, &options);
}

static void suite_teardown(void)
{
    unit_broker_stop(&shared_broker, false);
}

/* ---- helpers ---------------------------------------------------------------- */

/* A client on `url` with up to four more property pairs (NULL-terminated). */
static strand_registry_client_t *client_with(const char *url, ...)
{
    const char *keys[8] = {"schema.registry.url"}, *values[8] = {url};
    size_t n = 1;
    va_list ap;
    va_start(ap, url);
    const char *k;
    while (n < 8 && (k = va_arg(ap, const char *)) != NULL) {
        keys[n] = k;
        values[n] = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    strand_registry_client_t *c = NULL;
    strand_registry_error_t err = {0};
    int rc = strand_registry_client_new(keys, values, n, &c, &err);
    ck_assert_msg(rc == 0, "client: %s", err.message);
    return c;
}

static uint64_t requests(strand_registry_client_t *c)
{
    strand_registry_stats_t s;
    strand_registry_client_stats(c, &s);
    return s.http_requests;
}

static strand_registry_schema_input_t avro(const char *text)
{
    return (strand_registry_schema_input_t){.schema = text, .schema_len = strlen(text)};
}

/* Registers a record schema with one field named `field` and returns its id. */
static int32_t register_record(strand_registry_client_t *c, const char *subject, const char *name,
                               const char *field)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"type\":\"record\",\"name\":\"%s\",\"fields\":[{\"name\":\"%s\",\"type\":\"int\","
             "\"default\":0}]}",
             name, field);
    strand_registry_schema_input_t in = avro(text);
    const strand_registry_schema_t *s = NULL;
    strand_registry_error_t err = {0};
    int rc = strand_registry_register(c, subject, &in, 0, &s, &err);
    ck_assert_msg(rc == 0, "register %s: %s", subject, err.message);
    int32_t id = s->id;
    strand_registry_schema_release(s);
    return id;
}

/* ---- against the registry ---------------------------------------------------- */

START_TEST(register_then_cached_reads)
{
    strand_registry_client_t *c = client_with(shared_broker.registry_url, NULL);
    const char *text = "{\"type\":\"record\",\"name\":\"Reads\",\"fields\":[{\"name\":\"a\","
                       "\"type\":\"string\"}]}";
    strand_registry_schema_input_t in = avro(text);
    const strand_registry_schema_t *reg = NULL, *again = NULL, *byid = NULL, *byid2 = NULL;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_register(c, "reads-value", &in, 0, &reg, &err), 0);
    ck_assert_int_gt(reg->id, 0);
    ck_assert_int_eq(reg->version, 1);
    ck_assert_str_eq(reg->subject, "reads-value");
    ck_assert_str_eq(reg->schema_type, "AVRO");
    ck_assert_int_eq(strlen(reg->guid), 36);
    ck_assert_uint_eq(requests(c), 1);

    /* The same registration again is a cache hit: the same record. */
    ck_assert_int_eq(strand_registry_register(c, "reads-value", &in, 0, &again, &err), 0);
    ck_assert_ptr_eq(again, reg);
    ck_assert_uint_eq(requests(c), 1);

    /* The register's answer carried the schema: reading the id is a hit,
     * an id-only record (no subject or version). */
    ck_assert_int_eq(strand_registry_get_by_id(c, reg->id, &byid, &err), 0);
    ck_assert_uint_eq(requests(c), 1);
    ck_assert_int_eq(byid->id, reg->id);
    ck_assert_ptr_null(byid->subject);
    ck_assert_int_eq(byid->version, -1);
    ck_assert_str_eq(byid->guid, reg->guid);
    ck_assert_str_eq(byid->schema_type, "AVRO");
    ck_assert_ptr_nonnull(strstr(byid->schema, "\"Reads\""));
    ck_assert_uint_eq(byid->schema_len, strlen(byid->schema));
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(strand_registry_get_by_id(c, reg->id, &byid2, &err), 0);
        ck_assert_ptr_eq(byid2, byid);
        strand_registry_schema_release(byid2);
    }
    const strand_registry_schema_t *byguid = NULL;
    ck_assert_int_eq(strand_registry_get_by_guid(c, reg->guid, &byguid, &err), 0);
    ck_assert_ptr_eq(byguid, byid);
    strand_registry_schema_release(byguid);
    ck_assert_uint_eq(requests(c), 1);
    strand_registry_stats_t stats;
    strand_registry_client_stats(c, &stats);
    ck_assert_uint_eq(stats.cache_hits, 103);
    ck_assert_uint_eq(stats.cache_misses, 1);

    /* A fresh client asks once, then hits. */
    strand_registry_client_t *fresh = client_with(shared_broker.registry_url, NULL);
    const strand_registry_schema_t *f1 = NULL, *f2 = NULL;
    ck_assert_int_eq(strand_registry_get_by_id(fresh, reg->id, &f1, &err), 0);
    ck_assert_int_eq(strand_registry_get_by_id(fresh, reg->id, &f2, &err), 0);
    ck_assert_ptr_eq(f1, f2);
    ck_assert_str_eq(f1->schema, byid->schema);
    ck_assert_str_eq(f1->guid, reg->guid);
    ck_assert_uint_eq(requests(fresh), 1);
    strand_registry_schema_release(f1);
    strand_registry_schema_release(f2);
    strand_registry_client_free(fresh);

    /* Lookup finds the version; cached too. */
    const strand_registry_schema_t *found = NULL;
    ck_assert_int_eq(strand_registry_lookup(c, "reads-value", &in, 0, &found, &err), 0);
    ck_assert_int_eq(found->id, reg->id);
    ck_assert_int_eq(found->version, 1);
    strand_registry_schema_release(found);
    ck_assert_int_eq(strand_registry_lookup(c, "reads-value", &in, 0, &found, &err), 0);
    strand_registry_schema_release(found);
    ck_assert_uint_eq(requests(c), 2);

    /* Records outlive the client. */
    strand_registry_client_free(c);
    ck_assert_ptr_nonnull(strstr(byid->schema, "\"Reads\""));
    strand_registry_schema_release(byid);
    strand_registry_schema_release(again);
    strand_registry_schema_release(reg);
}
END_TEST

START_TEST(unknown_id_is_40403)
{
    strand_registry_client_t *c = client_with(shared_broker.registry_url, NULL);
    const strand_registry_schema_t *s = (const void *)1;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, 987654, &s, &err), STRAND_REGISTRY_ERR_HTTP);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(err.code, STRAND_REGISTRY_ERR_HTTP);
    ck_assert_int_eq(err.http_status, 404);
    ck_assert_int_eq(err.error_code, 40403);
    ck_assert_str_eq(err.message, "Schema 987654 not found");
    /* Errors are not cached: a second call asks again. */
    ck_assert_int_eq(strand_registry_get_by_id(c, 987654, &s, &err), STRAND_REGISTRY_ERR_HTTP);
    ck_assert_uint_eq(requests(c), 2);

    ck_assert_int_eq(strand_registry_get_latest(c, "no-such-subject", &s, &err),
                     STRAND_REGISTRY_ERR_HTTP);
    ck_assert_int_eq(err.error_code, 40401);
    ck_assert_int_eq(err.http_status, 404);
    ck_assert_int_eq(
        strand_registry_get_by_guid(c, "00000000-0000-0000-0000-000000000000", &s, &err),
        STRAND_REGISTRY_ERR_HTTP);
    ck_assert_int_eq(err.error_code, 40403);
    ck_assert_int_eq(strand_registry_get_by_guid(c, "not-a-guid", &s, &err),
                     STRAND_REGISTRY_ERR_ARGUMENT);
    ck_assert_int_eq(strand_registry_get_latest(c, "", &s, &err), STRAND_REGISTRY_ERR_ARGUMENT);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(guid_version_and_references)
{
    strand_registry_client_t *c = client_with(shared_broker.registry_url, NULL);
    strand_registry_error_t err = {0};
    const char *inner = "{\"type\":\"record\",\"name\":\"Inner\",\"namespace\":\"t\","
                        "\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}";
    strand_registry_schema_input_t in = avro(inner);
    const strand_registry_schema_t *a = NULL, *b = NULL, *v = NULL, *g = NULL;
    ck_assert_int_eq(strand_registry_register(c, "inner", &in, 0, &a, &err), 0);

    const char *outer = "{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":\"t\","
                        "\"fields\":[{\"name\":\"in\",\"type\":\"t.Inner\"}]}";
    strand_registry_reference_t ref = {.name = "t.Inner", .subject = "inner", .version = 1};
    strand_registry_schema_input_t out_in = avro(outer);
    out_in.references = &ref;
    out_in.reference_count = 1;
    int rc = strand_registry_register(c, "outer-value", &out_in, 0, &b, &err);
    ck_assert_msg(rc == 0, "%s", err.message);

    ck_assert_int_eq(strand_registry_get_version(c, "outer-value", 1, &v, &err), 0);
    ck_assert_int_eq(v->id, b->id);
    ck_assert_int_eq(v->version, 1);
    ck_assert_str_eq(v->subject, "outer-value");
    ck_assert_uint_eq(v->reference_count, 1);
    ck_assert_str_eq(v->references[0].name, "t.Inner");
    ck_assert_str_eq(v->references[0].subject, "inner");
    ck_assert_int_eq(v->references[0].version, 1);

    ck_assert_int_eq(strlen(a->guid), 36);
    ck_assert_int_eq(strand_registry_get_by_guid(c, a->guid, &g, &err), 0);
    ck_assert_ptr_nonnull(strstr(g->schema, "Inner"));
    ck_assert_str_eq(g->guid, a->guid);
    uint64_t before = requests(c);
    const strand_registry_schema_t *g2 = NULL;
    ck_assert_int_eq(strand_registry_get_by_guid(c, a->guid, &g2, &err), 0);
    ck_assert_ptr_eq(g2, g);
    ck_assert_uint_eq(requests(c), before);

    const strand_registry_schema_t *none = NULL;
    ck_assert_int_eq(strand_registry_get_version(c, "outer-value", 99, &none, &err),
                     STRAND_REGISTRY_ERR_HTTP);
    ck_assert_ptr_null(none);
    ck_assert_int_eq(err.error_code, 40402);

    /* A subject needing percent-encoding stays one path segment. */
    const strand_registry_schema_t *j = NULL, *l = NULL;
    strand_registry_schema_input_t odd = avro("{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}");
    rc = strand_registry_register(c, "odd/subject ?%", &odd, 1, &j, &err);
    ck_assert_msg(rc == 0, "%s", err.message);
    ck_assert_int_eq(strand_registry_get_latest(c, "odd/subject ?%", &l, &err), 0);
    ck_assert_str_eq(l->subject, "odd/subject ?%");
    ck_assert_str_eq(l->schema_type, "AVRO");
    ck_assert_int_eq(l->id, j->id);
    ck_assert_int_eq(l->version, 1);

    const strand_registry_schema_t *records[] = {a, b, g, g2, j, l};
    for (size_t i = 0; i < 6; i++)
        strand_registry_schema_release(records[i]);
    strand_registry_schema_release(v);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(latest_expires_after_ttl)
{
    strand_registry_client_t *reader =
        client_with(shared_broker.registry_url, "latest.cache.ttl.sec", "1", NULL);
    strand_registry_client_t *writer = client_with(shared_broker.registry_url, NULL);
    strand_registry_error_t err = {0};
    int32_t v1 = register_record(writer, "ttl-value", "Ttl", "a");

    const strand_registry_schema_t *s = NULL;
    ck_assert_int_eq(strand_registry_get_latest(reader, "ttl-value", &s, &err), 0);
    ck_assert_int_eq(s->id, v1);
    ck_assert_int_eq(s->version, 1);
    strand_registry_schema_release(s);
    int64_t cached_at = now_ms();

    /* A new version elsewhere: the reader keeps its cached latest... */
    int32_t v2 = register_record(writer, "ttl-value", "Ttl", "b");
    ck_assert_int_ne(v1, v2);
    ck_assert_int_eq(strand_registry_get_latest(reader, "ttl-value", &s, &err), 0);
    if (now_ms() - cached_at < 900) {
        ck_assert_int_eq(s->id, v1);
        ck_assert_uint_eq(requests(reader), 1);
    }
    strand_registry_schema_release(s);

    /* ...until the TTL runs out. */
    sleep_ms(1100);
    ck_assert_int_eq(strand_registry_get_latest(reader, "ttl-value", &s, &err), 0);
    ck_assert_int_eq(s->id, v2);
    ck_assert_int_eq(s->version, 2);
    strand_registry_schema_release(s);
    ck_assert_uint_eq(requests(reader), 2);

    /* A register through the same client drops its latest at once. */
    int32_t v3 = register_record(reader, "ttl-value", "Ttl", "c");
    ck_assert_int_eq(strand_registry_get_latest(reader, "ttl-value", &s, &err), 0);
    ck_assert_int_eq(s->id, v3);
    strand_registry_schema_release(s);
    ck_assert_uint_eq(requests(reader), 4);

    strand_registry_client_free(writer);
    strand_registry_client_free(reader);
}
END_TEST

typedef struct flight_arg {
    strand_registry_client_t *client;
    pthread_barrier_t *barrier;
    int32_t id;
    const strand_registry_schema_t *got;
    int rc;
} flight_arg_t;

static void *fetch_one(void *p)
{
    flight_arg_t *a = p;
    strand_registry_error_t err = {0};
    pthread_barrier_wait(a->barrier);
    a->rc = strand_registry_get_by_id(a->client, a->id, &a->got, &err);
    return NULL;
}

START_TEST(single_flight_under_threads)
{
    strand_registry_client_t *writer = client_with(shared_broker.registry_url, NULL);
    int32_t id = register_record(writer, "flight-value", "Flight", "a");
    strand_registry_client_free(writer);

    for (int round = 0; round < 5; round++) {
        strand_registry_client_t *c = client_with(shared_broker.registry_url, NULL);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 8);
        pthread_t threads[8];
        flight_arg_t args[8];
        for (int t = 0; t < 8; t++) {
            args[t] = (flight_arg_t){.client = c, .barrier = &barrier, .id = id};
            ck_assert_int_eq(pthread_create(&threads[t], NULL, fetch_one, &args[t]), 0);
        }
        for (int t = 0; t < 8; t++)
            pthread_join(threads[t], NULL);
        pthread_barrier_destroy(&barrier);
        for (int t = 0; t < 8; t++) {
            ck_assert_int_eq(args[t].rc, 0);
            ck_assert_ptr_eq(args[t].got, args[0].got);
            ck_assert_int_eq(args[t].got->id, id);
        }
        strand_registry_stats_t stats;
        strand_registry_client_stats(c, &stats);
        ck_assert_uint_eq(stats.http_requests, 1);
        ck_assert_uint_eq(stats.cache_misses, 1);
        ck_assert_uint_eq(stats.cache_hits + stats.cache_joins, 7);
        for (int t = 0; t < 8; t++)
            strand_registry_schema_release(args[t].got);
        strand_registry_client_free(c);
    }
}
END_TEST

/* A port nobody listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A socket that listens and never accepts: connects succeed, no answer. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

START_TEST(failover_to_second_url)
{
    strand_registry_client_t *writer = client_with(shared_broker.registry_url, NULL);
    int32_t id1 = register_record(writer, "failover-value", "Failover", "a");
    int32_t id2 = register_record(writer, "failover-value", "Failover", "b");
    strand_registry_client_free(writer);

    char urls[300];
    snprintf(urls, sizeof urls, "http://127.0.0.1:%d, %s/", closed_port(),
             shared_broker.registry_url);
    strand_registry_client_t *c = client_with(urls, "max.retries", "0", NULL);
    const strand_registry_schema_t *s = NULL;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, id1, &s, &err), 0);
    ck_assert_int_eq(s->id, id1);
    strand_registry_schema_release(s);
    ck_assert_uint_eq(requests(c), 2);
    /* The URL that answered is tried first from now on. */
    ck_assert_int_eq(strand_registry_get_by_id(c, id2, &s, &err), 0);
    strand_registry_schema_release(s);
    ck_assert_uint_eq(requests(c), 3);
    strand_registry_client_free(c);
}
END_TEST

START_TEST(timeouts_are_honoured)
{
    int port;
    int fd = silent_listener(&port);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    strand_registry_client_t *c =
        client_with(url, "request.timeout.ms", "300", "max.retries", "0", NULL);
    const strand_registry_schema_t *s = NULL;
    strand_registry_error_t err = {0};
    int64_t start = now_ms();
    ck_assert_int_eq(strand_registry_get_by_id(c, 1, &s, &err), STRAND_REGISTRY_ERR_TRANSPORT);
    int64_t took = now_ms() - start;
    ck_assert_msg(took >= 250 && took < 3000, "took %lld ms", (long long)took);
    ck_assert_int_eq(err.http_status, 0);
    ck_assert_msg(strstr(err.message, "imed out") != NULL, "%s", err.message);
    ck_assert_ptr_nonnull(strstr(err.message, url));
    strand_registry_client_free(c);

    /* Retries: three attempts with short backoffs, still bounded. */
    c = client_with(url, "request.timeout.ms", "200", "max.retries", "2", "retries.wait.ms", "10",
                    NULL);
    start = now_ms();
    ck_assert_int_eq(strand_registry_get_by_id(c, 1, &s, &err), STRAND_REGISTRY_ERR_TRANSPORT);
    took = now_ms() - start;
    ck_assert_msg(took >= 550 && took < 4000, "took %lld ms", (long long)took);
    ck_assert_uint_eq(requests(c), 3);
    strand_registry_client_free(c);
    close(fd);
}
END_TEST

/* ---- configuration ------------------------------------------------------------ */

START_TEST(configuration_errors)
{
    strand_registry_client_t *c = (void *)1;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_client_new(NULL, NULL, 0, &c, &err),
                     STRAND_REGISTRY_ERR_CONFIG);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err.message, "schema.registry.url is required");

    const char *k1[] = {"schema.registry.url", "request.timeout.ms"};
    const char *v1[] = {"http://127.0.0.1:1", "soon"};
    ck_assert_int_eq(strand_registry_client_new(k1, v1, 2, &c, &err), STRAND_REGISTRY_ERR_CONFIG);
    ck_assert_str_eq(err.message, "invalid value 'soon' for request.timeout.ms: not an integer");

    const char *k2[] = {"url", "basic.auth.credentials.source"};
    const char *v2[] = {"http://127.0.0.1:1", "SASL_INHERIT"};
    ck_assert_int_eq(strand_registry_client_new(k2, v2, 2, &c, &err), STRAND_REGISTRY_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "SASL_INHERIT"));

    const char *k3[] = {"schema.registry.url"};
    const char *v3[] = {"127.0.0.1:8081"};
    ck_assert_int_eq(strand_registry_client_new(k3, v3, 1, &c, &err), STRAND_REGISTRY_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.message, "127.0.0.1:8081"));

    const char *k4[] = {"schema.registry.url", "bearer.auth.credentials.source"};
    const char *v4[] = {"http://a", "STATIC_TOKEN"};
    ck_assert_int_eq(strand_registry_client_new(k4, v4, 2, &c, &err), STRAND_REGISTRY_ERR_CONFIG);
    ck_assert_str_eq(err.message, "bearer.auth.credentials.source=STATIC_TOKEN needs "
                                  "bearer.auth.token");

    /* Unknown names (a serializer's own) are ignored; prefixed names work. */
    const char *k5[] = {"schema.registry.url", "auto.register.schemas",
                        "schema.registry.ssl.endpoint.identification.algorithm",
                        "schema.registry.request.timeout.ms"};
    const char *v5[] = {"http://a,http://b", "false", "", "5"};
    ck_assert_int_eq(strand_registry_client_new(k5, v5, 4, &c, &err), 0);
    ck_assert_str_eq(err.message, "");
    strand_registry_client_free(c);
}
END_TEST

/* ---- a scripted HTTP server ------------------------------------------------------ */

typedef struct fake_server {
    int listen_fd;
    int port;
    pthread_t thread;
    int stop;
    int statuses[8]; /* the status of request i (the last repeats) */
    int status_count;
    int connections;
    int requests;
    int delay_ms; /* before each answer */
    char last_request[4096];
    pthread_mutex_t lock;
} fake_server_t;

/* Reads one request (headers and Content-Length body); 0 at EOF. */
static int read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strstr(buf, "Content-Length: ");
            size_t body = cl ? (size_t)atoi(cl + 16) : 0;
            if (len >= (size_t)(end + 4 - buf) + body)
                return 1;
        }
        if (len + 1 >= cap)
            return 0;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return 0;
        len += (size_t)n;
    }
}

static void *fake_main(void *p)
{
    fake_server_t *s = p;
    while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
        struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->lock);
        s->connections++;
        pthread_mutex_unlock(&s->lock);
        char req[4096];
        while (read_request(fd, req, sizeof req)) {
            pthread_mutex_lock(&s->lock);
            int i = s->requests++;
            int status = s->statuses[i < s->status_count ? i : s->status_count - 1];
            snprintf(s->last_request, sizeof s->last_request, "%s", req);
            int delay = s->delay_ms;
            pthread_mutex_unlock(&s->lock);
            sleep_ms(delay);
            const char *body = status == 200
                                   ? "{\"id\":7,\"schema\":\"\\\"string\\\"\"}"
                                   : "{\"error_code\":50001,\"message\":\"scripted failure\"}";
            char resp[512];
            int n = snprintf(resp, sizeof resp,
                             "HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n\r\n%s",
                             status, strlen(body), body);
            if (write(fd, resp, (size_t)n) != n)
                break;
        }
        close(fd);
    }
    return NULL;
}

static void fake_start(fake_server_t *s, const int *statuses, int count)
{
    memset(s, 0, sizeof *s);
    memcpy(s->statuses, statuses, (size_t)count * sizeof *statuses);
    s->status_count = count;
    pthread_mutex_init(&s->lock, NULL);
    s->listen_fd = silent_listener(&s->port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, fake_main, s), 0);
}

static void fake_stop(fake_server_t *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    pthread_mutex_destroy(&s->lock);
}

static char *fake_url(fake_server_t *s, char *buf, size_t n)
{
    snprintf(buf, n, "http://127.0.0.1:%d", s->port);
    return buf;
}

START_TEST(auth_headers_on_the_wire)
{
    fake_server_t s;
    int ok[] = {200};
    fake_start(&s, ok, 1);
    char url[64];
    strand_registry_client_t *c =
        client_with(fake_url(&s, url, sizeof url), "bearer.auth.credentials.source", "STATIC_TOKEN",
                    "bearer.auth.token", "tok123", "bearer.auth.logical.cluster", "lsrc-1", NULL);
    const strand_registry_schema_t *r = NULL;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, 7, &r, &err), 0);
    ck_assert_str_eq(r->schema, "\"string\"");
    strand_registry_schema_release(r);
    strand_registry_client_free(c);
    ck_assert_ptr_nonnull(strstr(s.last_request, "GET /schemas/ids/7 HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(s.last_request, "Authorization: Bearer tok123\r\n"));
    ck_assert_ptr_nonnull(strstr(s.last_request, "target-sr-cluster: lsrc-1\r\n"));
    ck_assert_ptr_nonnull(strstr(s.last_request, "application/vnd.schemaregistry.v1+json"));

    c = client_with(url, "schema.registry.basic.auth.user.info", "alice:secret", NULL);
    strand_registry_schema_input_t in = avro("\"string\"");
    ck_assert_int_eq(strand_registry_register(c, "a b", &in, 1, &r, &err), 0);
    ck_assert_int_eq(r->id, 7);
    ck_assert_str_eq(r->subject, "a b");
    strand_registry_schema_release(r);
    strand_registry_client_free(c);
    ck_assert_ptr_nonnull(
        strstr(s.last_request, "POST /subjects/a%20b/versions?normalize=true HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(s.last_request, "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"));
    ck_assert_ptr_nonnull(strstr(s.last_request, "\r\n\r\n{\"schema\":\"\\\"string\\\"\"}"));

    /* Another format names its type; references travel with the schema. */
    strand_registry_reference_t ref = {.name = "dep.proto", .subject = "dep", .version = 3};
    strand_registry_schema_input_t pb = {.schema_type = "PROTOBUF",
                                         .schema = "syntax = \"proto3\";",
                                         .schema_len = 18,
                                         .references = &ref,
                                         .reference_count = 1};
    c = client_with(url, NULL);
    ck_assert_int_eq(strand_registry_lookup(c, "pb", &pb, 0, &r, &err), 0);
    /* The answer had no schemaType: Confluent omits it for AVRO. */
    ck_assert_str_eq(r->schema_type, "AVRO");
    strand_registry_schema_release(r);
    strand_registry_client_free(c);
    ck_assert_ptr_nonnull(strstr(s.last_request, "POST /subjects/pb HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(
        strstr(s.last_request, "Content-Type: application/vnd.schemaregistry.v1+json"));
    ck_assert_ptr_nonnull(strstr(
        s.last_request, "{\"schema\":\"syntax = \\\"proto3\\\";\",\"schemaType\":\"PROTOBUF\","
                        "\"references\":[{\"name\":\"dep.proto\",\"subject\":\"dep\","
                        "\"version\":3}]}"));
    fake_stop(&s);
}
END_TEST

START_TEST(retries_5xx_with_backoff)
{
    fake_server_t s;
    int flaky[] = {503, 502, 200};
    fake_start(&s, flaky, 3);
    char url[64];
    strand_registry_client_t *c =
        client_with(fake_url(&s, url, sizeof url), "retries.wait.ms", "10", NULL);
    const strand_registry_schema_t *r = NULL;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, 7, &r, &err), 0);
    strand_registry_schema_release(r);
    ck_assert_uint_eq(requests(c), 3);
    strand_registry_client_free(c);
    fake_stop(&s);

    /* Out of retries: the last answer's error, Confluent's code included. */
    int failing[] = {500};
    fake_start(&s, failing, 1);
    c = client_with(fake_url(&s, url, sizeof url), "retries.wait.ms", "1", "max.retries", "1",
                    NULL);
    ck_assert_int_eq(strand_registry_get_by_id(c, 7, &r, &err), STRAND_REGISTRY_ERR_HTTP);
    ck_assert_int_eq(err.http_status, 500);
    ck_assert_int_eq(err.error_code, 50001);
    ck_assert_str_eq(err.message, "scripted failure");
    ck_assert_uint_eq(requests(c), 2);
    strand_registry_client_free(c);
    fake_stop(&s);

    /* A 4xx is final. */
    int missing[] = {404};
    fake_start(&s, missing, 1);
    c = client_with(fake_url(&s, url, sizeof url), "retries.wait.ms", "1", NULL);
    ck_assert_int_eq(strand_registry_get_by_id(c, 7, &r, &err), STRAND_REGISTRY_ERR_HTTP);
    ck_assert_uint_eq(requests(c), 1);
    strand_registry_client_free(c);
    fake_stop(&s);
}
END_TEST

START_TEST(connections_are_reused)
{
    fake_server_t s;
    int ok[] = {200};
    fake_start(&s, ok, 1);
    char url[64];
    strand_registry_client_t *c = client_with(fake_url(&s, url, sizeof url), NULL);
    strand_registry_error_t err = {0};
    for (int id = 1; id <= 20; id++) {
        const strand_registry_schema_t *r = NULL;
        ck_assert_int_eq(strand_registry_get_by_id(c, id, &r, &err), 0);
        strand_registry_schema_release(r);
    }
    strand_registry_client_free(c);
    fake_stop(&s);
    ck_assert_int_eq(s.requests, 20);
    ck_assert_int_eq(s.connections, 1);
}
END_TEST

START_TEST(credentials_in_the_url)
{
    fake_server_t s;
    int ok[] = {200};
    fake_start(&s, ok, 1);
    char url[128];
    snprintf(url, sizeof url, "http://bob:pw@127.0.0.1:%d", s.port);
    strand_registry_client_t *c = client_with(url, "basic.auth.credentials.source", "URL",
                                              "basic.auth.user.info", "x:y", NULL);
    const strand_registry_schema_t *r = NULL;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, 7, &r, &err), 0);
    strand_registry_schema_release(r);
    strand_registry_client_free(c);
    fake_stop(&s);
    ck_assert_ptr_nonnull(strstr(s.last_request, "Authorization: Basic Ym9iOnB3\r\n"));

    /* Error messages never show the password. */
    snprintf(url, sizeof url, "http://bob:pw@127.0.0.1:%d", closed_port());
    c = client_with(url, "basic.auth.credentials.source", "URL", "max.retries", "0", NULL);
    ck_assert_int_eq(strand_registry_get_by_id(c, 7, &r, &err), STRAND_REGISTRY_ERR_TRANSPORT);
    ck_assert_ptr_null(strstr(err.message, "pw"));
    ck_assert_ptr_nonnull(strstr(err.message, "GET http://127.0.0.1:"));
    strand_registry_client_free(c);
}
END_TEST

/* Every allocation the client makes fails in turn: each call reports
 * STRAND_REGISTRY_ERR_NOMEM or succeeds, and nothing leaks (ASan). */
START_TEST(allocation_failures)
{
    fake_server_t s;
    int ok[] = {200};
    fake_start(&s, ok, 1);
    char url[64];
    fake_url(&s, url, sizeof url);
    const char *keys[] = {"schema.registry.url", "bearer.auth.token"};
    const char *values[] = {url, "t"};
    int succeeded = 0;
    for (long n = 0; n < 400 && !succeeded; n++) {
        strand_registry_client_t *c = NULL;
        strand_registry_error_t err = {0};
        sd_alloc_fail_after(n);
        int rc = strand_registry_client_new(keys, values, 2, &c, &err);
        if (rc == 0) {
            const strand_registry_schema_t *r = NULL;
            strand_registry_schema_input_t in = avro("\"int\"");
            rc = strand_registry_get_by_id(c, 7, &r, &err);
            strand_registry_schema_release(r);
            if (rc == 0)
                rc = strand_registry_register(c, "s", &in, 0, &r, &err);
            strand_registry_schema_release(r);
            if (rc == 0)
                rc = strand_registry_get_by_id(c, 7, &r, &err);
            strand_registry_schema_release(r);
            succeeded = rc == 0;
            strand_registry_client_free(c);
        }
        sd_alloc_fail_after(-1);
        ck_assert_msg(rc == 0 || rc == STRAND_REGISTRY_ERR_NOMEM, "n=%ld: %d %s", n, rc,
                      err.message);
    }
    ck_assert(succeeded);
    fake_stop(&s);
}
END_TEST

typedef struct slow_arg {
    strand_registry_client_t *client;
    int32_t id;
    int rc;
    strand_registry_error_t err;
} slow_arg_t;

static void *fetch_slow(void *p)
{
    slow_arg_t *a = p;
    const strand_registry_schema_t *r = NULL;
    a->rc = strand_registry_get_by_id(a->client, a->id, &r, &a->err);
    strand_registry_schema_release(r);
    return NULL;
}

/* While one fetch waits on a slow server, hits on other keys are served at
 * once (no lock is held during I/O), and eight callers missing one failing
 * key share one request and its error. */
START_TEST(slow_fetch_blocks_nobody)
{
    fake_server_t s;
    int statuses[] = {200, 200, 404};
    fake_start(&s, statuses, 3);
    char url[64];
    strand_registry_client_t *c = client_with(fake_url(&s, url, sizeof url), NULL);
    const strand_registry_schema_t *r = NULL;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, 2, &r, &err), 0);
    strand_registry_schema_release(r);

    pthread_mutex_lock(&s.lock);
    s.delay_ms = 400;
    pthread_mutex_unlock(&s.lock);
    slow_arg_t slow = {.client = c, .id = 1};
    pthread_t slow_thread;
    ck_assert_int_eq(pthread_create(&slow_thread, NULL, fetch_slow, &slow), 0);
    sleep_ms(100);
    int64_t start = now_ms();
    ck_assert_int_eq(strand_registry_get_by_id(c, 2, &r, &err), 0);
    strand_registry_schema_release(r);
    ck_assert_int_lt(now_ms() - start, 50);
    pthread_join(slow_thread, NULL);
    ck_assert_int_eq(slow.rc, 0);

    pthread_t threads[8];
    slow_arg_t args[8];
    for (int t = 0; t < 8; t++) {
        args[t] = (slow_arg_t){.client = c, .id = 3};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, fetch_slow, &args[t]), 0);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(threads[t], NULL);
        ck_assert_int_eq(args[t].rc, STRAND_REGISTRY_ERR_HTTP);
        ck_assert_int_eq(args[t].err.http_status, 404);
        ck_assert_str_eq(args[t].err.message, "scripted failure");
    }
    ck_assert_uint_eq(requests(c), 3);
    strand_registry_client_free(c);
    fake_stop(&s);
    ck_assert_int_eq(s.requests, 3);
}
END_TEST

START_TEST(tls_files_are_used)
{
    fake_server_t s;
    int ok[] = {200};
    fake_start(&s, ok, 1);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", s.port);
    strand_registry_client_t *c = client_with(url, "schema.registry.ssl.ca.location",
                                              "/nonexistent/ca.pem", "max.retries", "0", NULL);
    const strand_registry_schema_t *r = NULL;
    strand_registry_error_t err = {0};
    ck_assert_int_eq(strand_registry_get_by_id(c, 7, &r, &err), STRAND_REGISTRY_ERR_TRANSPORT);
    ck_assert_msg(strstr(err.message, "/nonexistent/ca.pem") != NULL, "%s", err.message);
    strand_registry_client_free(c);
    fake_stop(&s);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("registry_client");
    TCase *tc = tcase_create("registry");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, register_then_cached_reads);
    tcase_add_test(tc, unknown_id_is_40403);
    tcase_add_test(tc, guid_version_and_references);
    tcase_add_test(tc, latest_expires_after_ttl);
    tcase_add_test(tc, single_flight_under_threads);
    tcase_add_test(tc, failover_to_second_url);
    suite_add_tcase(s, tc);
    TCase *local = tcase_create("local");
    tcase_set_timeout(local, 60);
    tcase_add_test(local, timeouts_are_honoured);
    tcase_add_test(local, configuration_errors);
    tcase_add_test(local, auth_headers_on_the_wire);
    tcase_add_test(local, retries_5xx_with_backoff);
    tcase_add_test(local, connections_are_reused);
    tcase_add_test(local, credentials_in_the_url);
    tcase_add_test(local, allocation_failures);
    tcase_add_test(local, slow_fetch_blocks_nobody);
    tcase_add_test(local, tls_files_are_used);
    suite_add_tcase(s, local);
    return unit_run(s);
}
