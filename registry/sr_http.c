/*
 * sr_http.c - the registry's HTTP transport on libmicrohttpd: a pool of
 * epoll threads, each request's body collected up to a limit, then one call
 * to sr_api_handle and its answer sent back. Everything Confluent-specific
 * (routes, content types, error bodies) is in sr_api*.c.
 */
#include "sr_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "sr_api.h"

#define ARGS_MAX 64

struct sr_http {
    struct MHD_Daemon *daemon;
    sr_registry_t *registry;
    size_t max_request_bytes;
    int listen_fd;
};

/* One request in progress: its body so far. */
typedef struct http_request {
    char *raw_uri; /* path and query exactly as received (not percent-decoded) */
    int started;   /* the access handler has seen the request */
    char *body;
    size_t len;
    size_t cap;
    int too_large; /* the body passed max_request_bytes; the rest is dropped */
    size_t declared;
} http_request_t;

typedef struct args_collect {
    sr_query_arg_t items[ARGS_MAX];
    size_t count;
    int overflow;
} args_collect_t;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    args_collect_t *args = cls;
    if (args->count == ARGS_MAX) {
        args->overflow = 1;
        return MHD_NO;
    }
    args->items[args->count].key = key;
    args->items[args->count].value = value;
    args->count++;
    return MHD_YES;
}

/* Appends `text` percent-encoded (RFC 3986 unreserved characters and, when
 * keep_slash, '/' stay as they are). Returns 0 or -1 when out of room. */
static int append_encoded(char *out, size_t cap, size_t *pos, const char *text, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
                    *p == '~' || (keep_slash && *p == '/');
        size_t need = plain ? 1 : 3;
        if (*pos + need >= cap)
            return -1;
        if (plain) {
            out[(*pos)++] = (char)*p;
        } else {
            out[(*pos)++] = '%';
            out[(*pos)++] = hex[*p >> 4];
            out[(*pos)++] = hex[*p & 15];
        }
    }
    out[*pos] = '\0';
    return 0;
}

/* The path and query re-encoded, for forwarding the request to the leader.
 * Caller frees; NULL on allocation failure. */
static char *path_and_query(const char *path, const args_collect_t *args)
{
    size_t cap = strlen(path) * 3 + 2;
    for (size_t i = 0; i < args->count; i++)
        cap += strlen(args->items[i].key) * 3 +
               (args->items[i].value ? strlen(args->items[i].value) * 3 : 0) + 2;
    char *out = sd_malloc(cap);
    if (!out)
        return NULL;
    size_t pos = 0;
    out[0] = '\0';
    append_encoded(out, cap, &pos, path, 1);
    for (size_t i = 0; i < args->count; i++) {
        out[pos++] = i == 0 ? '?' : '&';
        append_encoded(out, cap, &pos, args->items[i].key, 0);
        if (args->items[i].value) {
            out[pos++] = '=';
            append_encoded(out, cap, &pos, args->items[i].value, 0);
        }
    }
    out[pos] = '\0';
    return out;
}

static enum MHD_Result send_response(struct MHD_Connection *connection, int status, char *body,
                                     size_t len, const char *content_type)
{
    static const char oom[] = "{\"error_code\":50001,\"message\":\"Out of memory\"}";
    struct MHD_Response *response;
    if (body) {
        response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!response)
            free(body);
    } else {
        status = 500;
        content_type = NULL;
        response = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
                                                   MHD_RESPMEM_PERSISTENT);
    }
    if (!response)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            content_type ? content_type : "application/vnd.schemaregistry.v1+json");
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)status, response);
    MHD_destroy_response(response);
    return rc;
}

static char *format_body(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *format_body(size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *out = sd_malloc((size_t)n + 1);
    if (!out)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len = (size_t)n;
    return out;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    sr_http_t *http = cls;
    http_request_t *req = *con_cls;
    if (!req)
        return MHD_NO; /* on_uri could not allocate it */
    if (!req->started) {
        req->started = 1;
        const char *length =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length) {
            unsigned long long declared = strtoull(length, NULL, 10);
            if (declared > http->max_request_bytes) {
                req->too_large = 1;
                req->declared = (size_t)declared;
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large)
            return MHD_YES;
        if (req->len + n > http->max_request_bytes) {
            req->too_large = 1;
            req->declared = req->len + n;
            free(req->body);
            req->body = NULL;
            req->len = req->cap = 0;
            return MHD_YES;
        }
        if (req->len + n + 1 > req->cap) {
            size_t cap = req->cap ? req->cap : 4096;
            while (cap < req->len + n + 1)
                cap *= 2;
            char *grown = realloc(req->body, cap);
            if (!grown)
                return MHD_NO;
            req->body = grown;
            req->cap = cap;
        }
        memcpy(req->body + req->len, upload_data, n);
        req->len += n;
        req->body[req->len] = '\0';
        return MHD_YES;
    }

    if (req->too_large) {
        size_t len = 0;
        char *body = format_body(&len,
                                 "{\"error_code\":413,\"message\":\"Request body of %zu bytes is "
                                 "larger than the limit of %zu bytes\"}",
                                 req->declared, http->max_request_bytes);
        return send_response(connection, 413, body, len, NULL);
    }

    args_collect_t args = {.count = 0};
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
    if (args.overflow) {
        size_t len = 0;
        char *body = format_body(&len,
                                 "{\"error_code\":400,\"message\":\"Too many query parameters "
                                 "(the limit is %d)\"}",
                                 ARGS_MAX);
        return send_response(connection, 400, body, len, NULL);
    }
    /* The raw URI keeps "%2F" inside a subject name one path segment; the
     * re-encoded form is the fallback should it be missing. */
    char *raw = req->raw_uri ? sd_strdup(req->raw_uri) : path_and_query(url, &args);
    if (!raw)
        return send_response(connection, 500, NULL, 0, NULL);
    sr_request_t request = {
        .method = method,
        .path = url,
        .raw_path_and_query = raw,
        .args = args.items,
        .arg_count = args.count,
        .content_type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE),
        .accept = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
        .body = req->len ? req->body : NULL,
        .body_len = req->len,
    };
    sr_response_t response = {0};
    sr_api_handle(http->registry, &request, &response);
    free(raw);
    size_t len = response.body ? (response.body_len ? response.body_len : strlen(response.body)) : 0;
    return send_response(connection, response.status, response.body, len, response.content_type);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    http_request_t *req = *con_cls;
    if (req) {
        free(req->raw_uri);
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* Called first for each request with its URI as received: the request's
 * state starts here, so the raw URI is kept. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    http_request_t *req = sd_malloc(sizeof *req);
    if (!req)
        return NULL;
    memset(req, 0, sizeof *req);
    req->raw_uri = sd_strdup(uri ? uri : "/");
    return req;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    sd_warn("registry http", "%s", line);
}

/* A listening socket on host:port; returns the fd or -1 with err set. */
static int bind_listener(const char *host, int port, int *bound_port, sd_err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    int gai = getaddrinfo(host && *host ? host : NULL, port_text, &hints, &res);
    if (gai != 0) {
        sd_err_set(err, SD_ERR_IO, "schema registry listener %s:%d: %s", host, port,
                   gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        sd_err_set(err, SD_ERR_IO, "cannot listen on %s:%d for the schema registry: %s", host,
                   port, strerror(saved));
        return -1;
    }
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0) {
        if (addr.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
        else
            *bound_port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
    }
    return fd;
}

int sr_http_start(const sr_http_config_t *config, sr_registry_t *registry, sr_http_t **out,
                  int *bound_port, sd_err_t *err)
{
    *out = NULL;
    sr_http_t *http = sd_malloc(sizeof *http);
    if (!http)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory starting the schema registry");
    memset(http, 0, sizeof *http);
    http->registry = registry;
    http->max_request_bytes = config->max_request_bytes;
    http->listen_fd = bind_listener(config->host, config->port, bound_port, err);
    if (http->listen_fd < 0) {
        free(http);
        return err ? err->code : SD_ERR_IO;
    }
    unsigned threads = config->threads > 0 ? (unsigned)config->threads : 4;
    http->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, http,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, http, MHD_OPTION_LISTEN_SOCKET, http->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_URI_LOG_CALLBACK, on_uri, http,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, http,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!http->daemon) {
        close(http->listen_fd);
        free(http);
        return sd_err_set(err, SD_ERR_IO, "cannot start the schema registry's HTTP server on %s:%d",
                          config->host, config->port);
    }
    *out = http;
    return 0;
}

void sr_http_stop(sr_http_t *http)
{
    if (!http)
        return;
    MHD_stop_daemon(http->daemon); /* closes the listening socket it was given */
    free(http);
}
