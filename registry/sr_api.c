/*
 * sr_api.c - the entry of Confluent Schema Registry's REST API: readiness,
 * the /contexts/{ctx}/ prefix (Confluent's ContextFilter), the routing table
 * (method + path segments → handler), content types and request bodies,
 * forwarding of writes to the leader. The endpoints live in sr_api_*.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "sr_api_cache.h"
#include "sr_api_int.h"

#define MAX_SEGMENTS 8

enum {
    ROUTE_BODY = 1 << 0,    /* takes a JSON body */
    ROUTE_WRITE = 1 << 1,   /* may write: only the leader runs it */
    ROUTE_SUBJECT = 1 << 2, /* params[0] is a subject */
    ROUTE_SCOPE = 1 << 3,   /* global config/mode: under /contexts/{ctx}/ it is the context's */
};

typedef struct route {
    const char *method;
    const char *pattern; /* segments separated by '/', "*" = a parameter */
    sr_api_handler_fn handler;
    int flags;
} route_t;

/* Confluent's resources (the Resource classes of rest/resources), endpoint for
 * endpoint; /associations, /dek-registry and .../tags are not served. */
static const route_t routes[] = {
    {"GET", "", sr_api__root, 0},
    {"POST", "", sr_api__root, ROUTE_BODY},
    {"GET", "schemas", sr_api__get_schemas, 0},
    {"GET", "schemas/types", sr_api__get_schema_types, 0},
    {"GET", "schemas/ids/*", sr_api__get_schema_by_id, 0},
    {"GET", "schemas/ids/*/schema", sr_api__get_schema_text_by_id, 0},
    {"GET", "schemas/ids/*/subjects", sr_api__get_schema_subjects, 0},
    {"GET", "schemas/ids/*/versions", sr_api__get_schema_versions, 0},
    {"GET", "schemas/guids/*", sr_api__get_schema_by_guid, 0},
    {"GET", "schemas/guids/*/ids", sr_api__get_schema_ids_by_guid, 0},
    {"GET", "subjects", sr_api__list_subjects, 0},
    {"POST", "subjects/*", sr_api__lookup_schema, ROUTE_BODY | ROUTE_SUBJECT},
    {"DELETE", "subjects/*", sr_api__delete_subject, ROUTE_WRITE | ROUTE_SUBJECT},
    {"GET", "subjects/*/metadata", sr_api__get_subject_metadata, ROUTE_SUBJECT},
    {"GET", "subjects/*/versions", sr_api__list_versions, ROUTE_SUBJECT},
    /* Registration answers identical content itself, then forwards. */
    {"POST", "subjects/*/versions", sr_api__register, ROUTE_BODY | ROUTE_SUBJECT},
    {"GET", "subjects/*/versions/*", sr_api__get_version, ROUTE_SUBJECT},
    {"DELETE", "subjects/*/versions/*", sr_api__delete_version, ROUTE_WRITE | ROUTE_SUBJECT},
    {"GET", "subjects/*/versions/*/schema", sr_api__get_version_schema, ROUTE_SUBJECT},
    {"GET", "subjects/*/versions/*/referencedby", sr_api__get_referenced_by, ROUTE_SUBJECT},
    {"POST", "compatibility/subjects/*/versions", sr_api__check_compatibility,
     ROUTE_BODY | ROUTE_SUBJECT},
    {"POST", "compatibility/subjects/*/versions/*", sr_api__check_compatibility,
     ROUTE_BODY | ROUTE_SUBJECT},
    {"GET", "config", sr_api__get_config, ROUTE_SCOPE},
    {"PUT", "config", sr_api__put_config, ROUTE_BODY | ROUTE_WRITE | ROUTE_SCOPE},
    {"DELETE", "config", sr_api__delete_config, ROUTE_WRITE | ROUTE_SCOPE},
    {"GET", "config/*", sr_api__get_config, ROUTE_SUBJECT},
    {"PUT", "config/*", sr_api__put_config, ROUTE_BODY | ROUTE_WRITE | ROUTE_SUBJECT},
    {"DELETE", "config/*", sr_api__delete_config, ROUTE_WRITE | ROUTE_SUBJECT},
    {"GET", "mode", sr_api__get_mode, ROUTE_SCOPE},
    {"PUT", "mode", sr_api__put_mode, ROUTE_BODY | ROUTE_WRITE | ROUTE_SCOPE},
    {"DELETE", "mode", sr_api__delete_mode, ROUTE_WRITE | ROUTE_SCOPE},
    {"GET", "mode/*", sr_api__get_mode, ROUTE_SUBJECT},
    {"PUT", "mode/*", sr_api__put_mode, ROUTE_BODY | ROUTE_WRITE | ROUTE_SUBJECT},
    {"DELETE", "mode/*", sr_api__delete_mode, ROUTE_WRITE | ROUTE_SUBJECT},
    {"GET", "contexts", sr_api__list_contexts, 0},
    {"DELETE", "contexts/*", sr_api__delete_context, 0},
    {"GET", "v1/metadata/id", sr_api__metadata_id, 0},
    {"GET", "v1/metadata/version", sr_api__metadata_version, 0},
};

/* Request body media types Confluent consumes (client/.../rest/Versions.java);
 * octet-stream is read as JSON too. */
static const char *const body_types[] = {
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
};

/* Response media types with Confluent's server-side quality
 * (SCHEMA_REGISTRY_V1_JSON_WEIGHTED & co). */
static const struct {
    const char *type;
    double quality;
} response_types[] = {
    {"application/vnd.schemaregistry.v1+json", 1.0},
    {"application/vnd.schemaregistry+json", 0.9},
    {"application/json", 0.5},
};

/* The client's q for `type` in an Accept header: the best of the entries
 * naming it exactly or by a wildcard (any application type, any type); 0
 * if none. */
static double accept_quality(const char *accept, const char *type)
{
    double best = 0;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",;");
        const char *range = p;
        size_t range_len = len;
        while (range_len && range[range_len - 1] == ' ')
            range_len--;
        p += len;
        double q = 1.0;
        while (*p == ';') {
            p++;
            while (*p == ' ')
                p++;
            if (p[0] == 'q' && p[1] == '=')
                q = strtod(p + 2, NULL);
            p += strcspn(p, ",;");
        }
        bool match = (range_len == strlen(type) && strncasecmp(range, type, range_len) == 0) ||
                     (range_len == 3 && strncmp(range, "*/*", 3) == 0) ||
                     (range_len == 13 && strncasecmp(range, "application/*", 13) == 0);
        if (match && q > best)
            best = q;
    }
    return best;
}

/* Content negotiation as Jersey does it: the client's q first, then the
 * server's. No Accept header (or nothing acceptable) gets the v1 type. */
static const char *negotiate(const char *accept)
{
    if (!accept || !*accept)
        return NULL;
    const char *chosen = NULL;
    double best_q = 0, best_qs = 0;
    for (size_t i = 0; i < sizeof response_types / sizeof response_types[0]; i++) {
        double q = accept_quality(accept, response_types[i].type);
        if (q > best_q || (q == best_q && q > 0 && response_types[i].quality > best_qs)) {
            best_q = q;
            best_qs = response_types[i].quality;
            chosen = response_types[i].type;
        }
    }
    return chosen; /* NULL = the v1 type */
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes segment [s, s+len) in place into dst (dst may equal s). */
static size_t percent_decode(char *dst, const char *s, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 &&
            (lo = hex_value(s[i + 2])) >= 0) {
            dst[out++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[out++] = s[i];
        }
    }
    return out;
}

/* Splits the path into decoded segments, in a copy the caller frees. The raw
 * path is preferred so that a subject holding "%2F" stays one segment. */
static char *split_path(const sr_request_t *req, char **segments, size_t *count, bool *too_many)
{
    const char *src = req->path ? req->path : "/";
    size_t len = strlen(src);
    bool raw = false;
    if (req->raw_path_and_query && req->raw_path_and_query[0] == '/') {
        src = req->raw_path_and_query;
        len = strcspn(src, "?#");
        raw = true;
    }
    char *copy = sd_strndup(src, len);
    if (!copy)
        return NULL;
    *count = 0;
    *too_many = false;
    char *p = copy;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *end = strchr(p, '/');
        size_t seg_len = end ? (size_t)(end - p) : strlen(p);
        if (*count == MAX_SEGMENTS) {
            *too_many = true;
            break;
        }
        if (raw)
            seg_len = percent_decode(p, p, seg_len);
        char *next = end ? end + 1 : p + strlen(p);
        p[seg_len] = '\0';
        segments[(*count)++] = p;
        p = next;
    }
    return copy;
}

static bool pattern_matches(const char *pattern, char *const *segments, size_t count,
                            const char **params, size_t *param_count)
{
    size_t i = 0;
    *param_count = 0;
    const char *p = pattern;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (i == count)
            return false;
        if (len == 1 && p[0] == '*') {
            if (*param_count < SR_API_MAX_PARAMS)
                params[(*param_count)++] = segments[i];
        } else if (strlen(segments[i]) != len || strncmp(segments[i], p, len) != 0) {
            return false;
        }
        i++;
        p += len;
        if (*p == '/')
            p++;
    }
    return i == count;
}

static bool body_type_ok(const char *content_type)
{
    if (!content_type || !*content_type)
        return true;
    size_t len = strcspn(content_type, ";");
    while (len > 0 && isspace((unsigned char)content_type[len - 1]))
        len--;
    const char *t = content_type;
    while (len > 0 && isspace((unsigned char)*t)) {
        t++;
        len--;
    }
    for (size_t i = 0; i < sizeof body_types / sizeof body_types[0]; i++)
        if (strlen(body_types[i]) == len && strncasecmp(body_types[i], t, len) == 0)
            return true;
    return false;
}

/* ":.ctx:" for a context name as a path gives it ("ctx" or ".ctx"); "" for
 * the default context ".". */
static char *context_prefix(const char *name)
{
    if (strcmp(name, ".") == 0 || !*name)
        return sd_strdup("");
    size_t len = strlen(name);
    char *out = sd_malloc(len + 4);
    if (out)
        snprintf(out, len + 4, ":%s%s:", name[0] == '.' ? "" : ".", name);
    return out;
}

static bool parse_body(sr_api_call_t *call)
{
    const sr_request_t *req = call->req;
    if (!req->body || req->body_len == 0)
        return true;
    json_error_t jerr;
    call->body = json_loadb(req->body, req->body_len, JSON_ALLOW_NUL, &jerr);
    if (!call->body) {
        sr_api__error(call, 400, "Unexpected input at line %d, column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        return false;
    }
    if (json_is_null(call->body)) {
        json_decref(call->body);
        call->body = NULL;
    }
    return true;
}

static size_t pattern_segments(const char *pattern)
{
    size_t n = *pattern ? 1 : 0;
    for (const char *p = pattern; *p; p++)
        n += *p == '/';
    return n;
}

/* Matches the route with its subject parameter spanning several segments
 * joined by '/'. A transport that decodes "%2F" before the path is split
 * (libmicrohttpd does) leaves subjects such as "a/b.proto" in pieces; this
 * second pass puts them back together. On a match *joined is the subject
 * (caller frees). */
static bool greedy_matches(const route_t *route, char *const *segments, size_t count,
                           const char **params, size_t *param_count, char **joined)
{
    size_t want = pattern_segments(route->pattern);
    const char *star = strchr(route->pattern, '*');
    /* A literal segment after the subject anchors the match (a bare
     * "subjects/{subject}" would swallow any path under /subjects). */
    if (!(route->flags & ROUTE_SUBJECT) || count <= want || !star || !star[1])
        return false;
    size_t at = 0;
    for (const char *p = route->pattern; p < star; p++)
        at += *p == '/';
    size_t extra = count - want, len = 0;
    for (size_t i = at; i <= at + extra; i++)
        len += strlen(segments[i]) + 1;
    char *subject = sd_malloc(len);
    char *shifted[MAX_SEGMENTS];
    if (!subject)
        return false;
    subject[0] = '\0';
    for (size_t i = at; i <= at + extra; i++) {
        if (i > at)
            strcat(subject, "/");
        strcat(subject, segments[i]);
    }
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (i == at)
            shifted[n++] = subject;
        else if (i < at || i > at + extra)
            shifted[n++] = segments[i];
    }
    if (!pattern_matches(route->pattern, shifted, n, params, param_count)) {
        sd_free(subject);
        return false;
    }
    *joined = subject;
    return true;
}

static void dispatch(sr_api_call_t *call, char **segments, size_t count)
{
    const route_t *found = NULL;
    bool path_known = false;
    const char *method = call->req->method ? call->req->method : "";
    /* extra = 0: an exact match; then the subject absorbing 1, 2, ... more
     * segments, the fewest first. */
    for (size_t extra = 0; (extra == 0 || extra < count) && !path_known; extra++) {
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
            const char *params[SR_API_MAX_PARAMS];
            size_t param_count;
            char *joined = NULL;
            if (extra && pattern_segments(routes[i].pattern) + extra != count)
                continue;
            bool match =
                extra ? greedy_matches(&routes[i], segments, count, params, &param_count, &joined)
                      : pattern_matches(routes[i].pattern, segments, count, params, &param_count);
            /* A path only pieced together does not make a 405. */
            if (!match || (extra && strcmp(routes[i].method, method) != 0)) {
                sd_free(joined);
                continue;
            }
            path_known = true;
            if (strcmp(routes[i].method, method) != 0) {
                sd_free(joined);
                continue;
            }
            found = &routes[i];
            memcpy(call->params, params, sizeof params);
            call->param_count = param_count;
            call->joined = joined;
            break;
        }
    }
    if (!found) {
        if (path_known)
            sr_api__error(call, 405, "HTTP 405 Method Not Allowed");
        else
            sr_api__error(call, 404, "HTTP 404 Not Found");
        return;
    }

    if (found->flags & ROUTE_SUBJECT) {
        const char *name = call->params[0];
        size_t len = strlen(call->context) + strlen(name) + 1;
        call->subject = sd_malloc(len);
        if (!call->subject)
            return sr_api__nomem(call);
        /* An already qualified subject (":.ctx:name") keeps its own context. */
        snprintf(call->subject, len, "%s%s", name[0] == ':' ? "" : call->context, name);
    } else if ((found->flags & ROUTE_SCOPE) && call->context[0]) {
        call->subject = sd_strdup(call->context);
        if (!call->subject)
            return sr_api__nomem(call);
    }

    if ((found->flags & ROUTE_WRITE) && call->subject && !sr_api__valid_subject(call->subject)) {
        sr_api__error(call, SR_E_INVALID_SUBJECT, "The specified subject '%s' is not valid.",
                      call->subject);
        return;
    }

    if (found->flags & ROUTE_BODY) {
        if (!body_type_ok(call->req->content_type)) {
            sr_api__error(call, 415, "HTTP 415 Unsupported Media Type: %s",
                          call->req->content_type);
            return;
        }
    }

    if (found->flags & ROUTE_WRITE) {
        char url[512];
        int leader = sr_registry_leader(call->registry, url, sizeof url);
        if (leader == 0)
            return sr_api__forward(call, url);
        if (leader < 0) {
            sr_api__error(call, SR_E_UNKNOWN_LEADER, "Leader not known.");
            return;
        }
    }

    if ((found->flags & ROUTE_BODY) && !parse_body(call))
        return;
    found->handler(call);
}

void sr_api_handle(sr_registry_t *registry, const sr_request_t *req, sr_response_t *resp)
{
    sr_api_call_t call = {
        .registry = registry,
        .state = sr_registry_state(registry),
        .req = req,
        .resp = resp,
        .context = "",
    };
    char *segments[MAX_SEGMENTS];
    size_t count = 0;
    bool too_many = false;
    char *context = NULL;
    char *path = NULL;
    char *cache_key = NULL;
    uint64_t generation = 0;

    resp->status = 500;
    resp->body = NULL;
    resp->body_len = 0;
    resp->content_type = negotiate(req->accept);

    if (!sr_registry_ready(registry)) {
        /* Confluent has no such state (it serves only once its store is
         * read): 503 with Strand's 50301 tells clients to come back. */
        sr_api__error(&call, SR_E_STARTING,
                      "The schema registry is still reading its store; retry shortly");
        return;
    }

    /* A GET answered before at the current state is answered again as is. */
    sr_api_cache_t *cache = sr_registry_api_cache(registry);
    if (cache && strcmp(req->method, "GET") == 0 && req->raw_path_and_query) {
        generation = sr_state_generation(call.state);
        const char *type = resp->content_type ? resp->content_type : "";
        size_t key_len = strlen(req->raw_path_and_query) + strlen(type) + 2;
        cache_key = sd_malloc(key_len);
        if (cache_key) {
            snprintf(cache_key, key_len, "%s\n%s", req->raw_path_and_query, type);
            if (sr_api_cache_get(cache, cache_key, generation, &resp->body, &resp->body_len,
                                 &resp->content_type)) {
                resp->status = 200;
                sd_free(cache_key);
                return;
            }
        }
    }

    path = split_path(req, segments, &count, &too_many);
    if (!path) {
        sr_api__nomem(&call);
        goto done;
    }
    if (too_many) {
        sr_api__error(&call, 404, "HTTP 404 Not Found");
        goto done;
    }

    char **route_segments = segments;
    if (count >= 3 && strcmp(segments[0], "contexts") == 0) {
        context = context_prefix(segments[1]);
        if (!context) {
            sr_api__nomem(&call);
            goto done;
        }
        call.context = context;
        route_segments += 2;
        count -= 2;
    }
    dispatch(&call, route_segments, count);

done:
    if (cache_key && resp->status == 200 && resp->body)
        sr_api_cache_put(sr_registry_api_cache(registry), cache_key, generation, resp->body,
                         resp->body_len ? resp->body_len : strlen(resp->body),
                         resp->content_type);
    sd_free(cache_key);
    json_decref(call.body);
    sd_free(call.subject);
    sd_free(call.joined);
    sd_free(context);
    sd_free(path);
}
