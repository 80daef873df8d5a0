/*
 * client_http.c - the registry client's HTTP layer on libcurl: pooled easy
 * handles (each keeps its connections alive between requests), timeouts,
 * failover across the configured URLs, retries with exponential backoff and
 * full jitter, and Confluent's error body ({"error_code", "message"}).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "client/client_int.h"

/* Answers larger than this are refused rather than buffered. */
#define RESPONSE_MAX ((size_t)64 << 20)
/* Idle handles kept for reuse; more are cleaned up when returned. */
#define IDLE_MAX 32

static const char accept_header[] = "Accept: application/vnd.schemaregistry.v1+json, "
                                    "application/vnd.schemaregistry+json, application/json";
static const char content_type_header[] = "Content-Type: application/vnd.schemaregistry.v1+json";

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int set_error(strand_registry_error_t *err, int code, int status, int error_code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int set_error(strand_registry_error_t *err, int code, int status, int error_code,
                     const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->http_status = status;
        err->error_code = error_code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

static struct curl_slist *build_headers(const rc_config_t *config, int post)
{
    struct curl_slist *list = NULL, *next;
    const char *lines[] = {accept_header, post ? content_type_header : NULL, config->bearer_header,
                           config->cluster_header, config->identity_header};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i])
            continue;
        next = curl_slist_append(list, lines[i]);
        if (!next) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = next;
    }
    return list;
}

int rc_http__init(rc_http_t *http, const rc_config_t *config, strand_registry_error_t *err)
{
    memset(http, 0, sizeof *http);
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return set_error(err, STRAND_REGISTRY_ERR_TRANSPORT, 0, 0, "curl_global_init failed: %s",
                         curl_easy_strerror(global_rc));
    http->config = config;
    http->get_headers = build_headers(config, 0);
    http->post_headers = build_headers(config, 1);
    http->idle = sd_calloc(IDLE_MAX, sizeof *http->idle);
    if (!http->get_headers || !http->post_headers || !http->idle) {
        rc_http__free(http);
        return set_error(err, STRAND_REGISTRY_ERR_NOMEM, 0, 0, "out of memory");
    }
    pthread_mutex_init(&http->pool_lock, NULL);
    return 0;
}

void rc_http__free(rc_http_t *http)
{
    if (http->idle) {
        for (size_t i = 0; i < http->idle_count; i++)
            curl_easy_cleanup(http->idle[i]);
        pthread_mutex_destroy(&http->pool_lock);
    }
    sd_free(http->idle);
    curl_slist_free_all(http->get_headers);
    curl_slist_free_all(http->post_headers);
    memset(http, 0, sizeof *http);
}

static CURL *take_handle(rc_http_t *http)
{
    CURL *curl = NULL;
    pthread_mutex_lock(&http->pool_lock);
    if (http->idle_count > 0)
        curl = http->idle[--http->idle_count];
    pthread_mutex_unlock(&http->pool_lock);
    return curl ? curl : curl_easy_init();
}

/* Back to the pool; curl_easy_reset drops the options but keeps the handle's
 * live connections and DNS cache, which is the point of pooling. */
static void return_handle(rc_http_t *http, CURL *curl)
{
    curl_easy_reset(curl);
    pthread_mutex_lock(&http->pool_lock);
    if (http->idle_count < IDLE_MAX) {
        http->idle[http->idle_count++] = curl;
        curl = NULL;
    }
    pthread_mutex_unlock(&http->pool_lock);
    if (curl)
        curl_easy_cleanup(curl);
}

typedef struct body_sink {
    sd_writer_t w;
    int too_large;
} body_sink_t;

static size_t collect(char *data, size_t size, size_t count, void *opaque)
{
    body_sink_t *sink = opaque;
    size_t n = size * count;
    if (sink->w.len + n > RESPONSE_MAX) {
        sink->too_large = 1;
        return 0;
    }
    sd_write_bytes(&sink->w, data, n);
    return sink->w.err ? 0 : n;
}

/* One transfer to one URL. Returns the CURLcode; *status is the HTTP status
 * when an answer arrived. */
static CURLcode perform(rc_http_t *http, CURL *curl, const char *url, const char *method,
                        const char *body, size_t body_len, body_sink_t *sink, long *status,
                        char *curl_error)
{
    const rc_config_t *c = http->config;
    curl_error[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->request_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "strand-serde");
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (c->user_info) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, c->user_info);
    }
    if (c->ca_location)
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_location);
    if (c->certificate_location)
        curl_easy_setopt(curl, CURLOPT_SSLCERT, c->certificate_location);
    if (c->key_location)
        curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key_location);
    if (c->key_password)
        curl_easy_setopt(curl, CURLOPT_KEYPASSWD, c->key_password);
    if (!c->verify_host)
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, http->post_headers);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, http->get_headers);
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    __atomic_add_fetch(&http->requests, 1, __ATOMIC_RELAXED);
    CURLcode rc = curl_easy_perform(curl);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

/* Confluent's clients retry these statuses (and transport failures). */
static int retriable_status(long status)
{
    static const long statuses[] = {408, 429, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (status == statuses[i])
            return 1;
    return 0;
}

/* Fills err from an error answer: Confluent's body when it has one. */
static int http_error(strand_registry_error_t *err, long status, const char *method,
                      const char *url, const uint8_t *body, size_t len)
{
    json_error_t jerr;
    json_t *root = len ? json_loadb((const char *)body, len, 0, &jerr) : NULL;
    json_t *code = json_object_get(root, "error_code");
    json_t *message = json_object_get(root, "message");
    int rc;
    if (json_is_integer(code) && json_is_string(message))
        rc = set_error(err, STRAND_REGISTRY_ERR_HTTP, (int)status, (int)json_integer_value(code),
                       "%s", json_string_value(message));
    else if (json_is_integer(code))
        rc = set_error(err, STRAND_REGISTRY_ERR_HTTP, (int)status, (int)json_integer_value(code),
                       "HTTP %ld from %s %s (error code %lld)", status, method, url,
                       (long long)json_integer_value(code));
    else
        rc = set_error(err, STRAND_REGISTRY_ERR_HTTP, (int)status, 0, "HTTP %ld from %s %s%s%.*s",
                       status, method, url, len ? ": " : "", (int)(len > 200 ? 200 : len),
                       (const char *)body);
    json_decref(root);
    return rc;
}

/* The URL for messages: without any "user:password@" it carries. */
static void shown_url(const char *url, char *out, size_t n)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        snprintf(out, n, "%.*s%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, n, "%s", url);
}

/* Sleeps a random time up to min(retries.max.wait.ms, retries.wait.ms *
 * 2^attempt) (full jitter, as Confluent's clients back off). */
static void backoff(const rc_config_t *c, int attempt, unsigned *seed)
{
    long long wait = c->retries_wait_ms;
    for (int i = 0; i < attempt && wait < c->retries_max_wait_ms; i++)
        wait *= 2;
    if (wait > c->retries_max_wait_ms)
        wait = c->retries_max_wait_ms;
    if (wait <= 0)
        return;
    long long ms = (long long)(rand_r(seed) % (wait + 1));
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int rc_http__request(rc_http_t *http, const char *method, const char *path, const char *body,
                     size_t body_len, char **response, size_t *response_len,
                     strand_registry_error_t *err)
{
    const rc_config_t *c = http->config;
    *response = NULL;
    *response_len = 0;
    CURL *curl = take_handle(http);
    if (!curl)
        return set_error(err, STRAND_REGISTRY_ERR_NOMEM, 0, 0, "curl_easy_init failed");
    body_sink_t sink;
    sd_writer_init(&sink.w);
    char *url = NULL;
    size_t url_cap = 0;
    unsigned seed = (unsigned)rc__now_ms() ^ (unsigned)(uintptr_t)&seed;
    char curl_error[CURL_ERROR_SIZE];
    int rc = STRAND_REGISTRY_ERR_TRANSPORT;

    for (int attempt = 0; attempt <= c->max_retries; attempt++) {
        if (attempt > 0)
            backoff(c, attempt - 1, &seed);
        size_t first = __atomic_load_n(&http->preferred_url, __ATOMIC_RELAXED) % c->url_count;
        int retry = 0;
        for (size_t k = 0; k < c->url_count; k++) {
            size_t u = (first + k) % c->url_count;
            size_t need = strlen(c->urls[u]) + strlen(path) + 1;
            if (need > url_cap) {
                char *bigger = sd_realloc(url, need);
                if (!bigger) {
                    rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, 0, 0, "out of memory");
                    goto done;
                }
                url = bigger;
                url_cap = need;
            }
            snprintf(url, url_cap, "%s%s", c->urls[u], path);
            char shown[512];
            shown_url(url, shown, sizeof shown);
            sd_writer_reset(&sink.w);
            sink.too_large = 0;
            long status = 0;
            CURLcode cc =
                perform(http, curl, url, method, body, body_len, &sink, &status, curl_error);
            if (sink.w.err) {
                rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, 0, 0, "out of memory reading %s",
                               shown);
                goto done;
            }
            if (sink.too_large) {
                rc =
                    set_error(err, STRAND_REGISTRY_ERR_RESPONSE, (int)status, 0,
                              "the answer to %s %s exceeds %zu bytes", method, shown, RESPONSE_MAX);
                goto done;
            }
            if (cc != CURLE_OK) {
                /* No answer from this URL: try the next, then retry them all. */
                rc = set_error(err, STRAND_REGISTRY_ERR_TRANSPORT, 0, 0, "%s %s: %s", method, shown,
                               curl_error[0] ? curl_error : curl_easy_strerror(cc));
                retry = 1;
                continue;
            }
            __atomic_store_n(&http->preferred_url, u, __ATOMIC_RELAXED);
            if (status >= 200 && status < 300) {
                sd_write_u8(&sink.w, 0); /* NUL-terminate for the JSON reader */
                if (sink.w.err) {
                    rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, 0, 0, "out of memory");
                    goto done;
                }
                size_t len;
                *response = (char *)sd_writer_steal(&sink.w, &len);
                *response_len = len - 1;
                rc = 0;
                goto done;
            }
            rc = http_error(err, status, method, shown, sink.w.buf, sink.w.len);
            retry = retriable_status(status);
            if (!retry)
                goto done;
        }
        if (!retry)
            break;
    }
done:
    sd_writer_free(&sink.w);
    sd_free(url);
    return_handle(http, curl);
    return rc;
}

int64_t rc__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
