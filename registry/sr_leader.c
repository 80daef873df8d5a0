/*
 * sr_leader.c - the registry's leader election over the Kafka group protocol,
 * after Confluent's SchemaRegistryCoordinator / SchemaRegistryProtocol /
 * SchemaRegistryIdentity: JoinGroup (protocol type "sr", protocol "v0",
 * identity JSON), the group's leader member computes one assignment JSON
 * naming the writer, SyncGroup hands it to every member, Heartbeat keeps the
 * session. Kafka messages are hand-written for the few versions used, all
 * non-flexible: FindCoordinator v1, JoinGroup v4, SyncGroup v1, Heartbeat v1,
 * LeaveGroup v1, request header v1.
 *
 * One thread runs the whole loop with one request in flight at a time; every
 * socket wait also watches a wake-up pipe so sr_leader_stop is prompt.
 */
#include "sr_leader.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"

#define MOD "sr_leader"

#define DEFAULT_GROUP "schema-registry"
#define PROTOCOL_TYPE "sr"
#define PROTOCOL_V0 "v0"
#define CLIENT_ID "strand-sr"
#define IDENTITY_VERSION 1
#define ASSIGNMENT_VERSION 1

/* Largest response frame accepted: a JoinGroup answer lists every member's
 * ~100-byte identity, so this is thousands of members. */
#define MAX_RESPONSE_BYTES (4 * 1024 * 1024)
/* Identity strings beyond these are not Confluent identities. */
#define MAX_HOST_BYTES 1024
#define MAX_SCHEME_BYTES 32
#define URL_MAX (MAX_HOST_BYTES + MAX_SCHEME_BYTES + 16)

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 5000
#define LEAVE_TIMEOUT_MS 1000
#define MAX_REJOINS 20
/* Kafka's client gives JoinGroup the rebalance timeout plus this. */
#define JOIN_EXTRA_MS 5000

/* Kafka error codes the loop tells apart. */
enum {
    KERR_NONE = 0,
    KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    KERR_COORDINATOR_NOT_AVAILABLE = 15,
    KERR_NOT_COORDINATOR = 16,
    KERR_ILLEGAL_GENERATION = 22,
    KERR_UNKNOWN_MEMBER_ID = 25,
    KERR_REBALANCE_IN_PROGRESS = 27,
    KERR_MEMBER_ID_REQUIRED = 79,
};

/* Versions sent, per API. */
#define V_FIND_COORDINATOR 1
#define V_JOIN_GROUP 4
#define V_HEARTBEAT 1
#define V_LEAVE_GROUP 1
#define V_SYNC_GROUP 1

/* ======================================================================== */
/* JSON: Confluent's identity and assignment                                */
/* ======================================================================== */

/* A JSON string the way Jackson writes one: '"' and '\\' escaped, control
 * characters as \b \t \n \f \r or \u00XX (upper-case hex), the rest raw. */
static void json_write_string(sd_writer_t *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    sd_write_u8(w, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\f': esc = "\\f"; break;
        case '\r': esc = "\\r"; break;
        default: break;
        }
        if (esc) {
            sd_write_bytes(w, esc, 2);
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sd_write_bytes(w, u, sizeof u);
        } else {
            sd_write_u8(w, c);
        }
    }
    sd_write_u8(w, '"');
}

static void json_raw(sd_writer_t *w, const char *s) { sd_write_bytes(w, s, strlen(s)); }

static void json_int(sd_writer_t *w, long long v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    sd_write_bytes(w, buf, (size_t)n);
}

int sr_leader_identity_encode(const sr_leader_identity_t *identity, sd_writer_t *w)
{
    /* Jackson's order for SchemaRegistryIdentity: the @JsonCreator
     * parameters (host, port, master_eligibility, scheme), then the other
     * properties (version, leader). */
    json_raw(w, "{\"host\":");
    json_write_string(w, identity->host ? identity->host : "");
    json_raw(w, ",\"port\":");
    json_int(w, identity->port);
    json_raw(w, ",\"master_eligibility\":");
    json_raw(w, identity->eligible ? "true" : "false");
    json_raw(w, ",\"scheme\":");
    json_write_string(w, identity->scheme ? identity->scheme : "http");
    json_raw(w, ",\"version\":");
    json_int(w, identity->version);
    json_raw(w, ",\"leader\":");
    json_raw(w, identity->leader ? "true" : "false");
    json_raw(w, "}");
    return w->err ? SD_ERR_NOMEM : 0;
}

void sr_leader_identity_clear(sr_leader_identity_t *identity)
{
    sd_free(identity->host);
    sd_free(identity->scheme);
    memset(identity, 0, sizeof *identity);
}

int sr_leader_identity_url(const sr_leader_identity_t *identity, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s://%s:%d", identity->scheme ? identity->scheme : "http",
                     identity->host ? identity->host : "", identity->port);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A JSON integer that fits [min, max] into *out. */
static int json_int_field(json_t *v, long long min, long long max, long long *out)
{
    if (!json_is_integer(v))
        return -1;
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return -1;
    *out = i;
    return 0;
}

/* A copy of a JSON string of at most max bytes; NULL sets *bad. */
static char *json_str_field(json_t *v, size_t max, int *bad)
{
    if (!json_is_string(v) || json_string_length(v) > max) {
        *bad = 1;
        return NULL;
    }
    char *s = sd_strndup(json_string_value(v), json_string_length(v));
    if (!s)
        *bad = 2;
    return s;
}

static int identity_from_json(json_t *obj, sr_leader_identity_t *out, sd_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->version = IDENTITY_VERSION;
    if (!json_is_object(obj))
        return sd_err_set(err, SD_ERR_INVALID, "identity: not a JSON object");
    json_t *v;
    long long n;
    int bad = 0;
    const char *field = NULL;

    v = json_object_get(obj, "host");
    out->host = json_str_field(v, MAX_HOST_BYTES, &bad);
    if (bad) {
        field = "host";
        goto fail;
    }
    v = json_object_get(obj, "port");
    if (json_int_field(v, 0, 65535, &n)) {
        field = "port";
        goto fail;
    }
    out->port = (int)n;
    /* Confluent unboxes master_eligibility, so it must be there. */
    v = json_object_get(obj, "master_eligibility");
    if (!json_is_boolean(v)) {
        field = "master_eligibility";
        goto fail;
    }
    out->eligible = json_is_true(v);
    v = json_object_get(obj, "scheme");
    if (v && !json_is_null(v))
        out->scheme = json_str_field(v, MAX_SCHEME_BYTES, &bad);
    else
        out->scheme = sd_strdup("http");
    if (bad || !out->scheme) {
        field = "scheme";
        bad = bad ? bad : 2;
        goto fail;
    }
    v = json_object_get(obj, "version");
    if (v && !json_is_null(v)) {
        if (json_int_field(v, INT_MIN, INT_MAX, &n)) {
            field = "version";
            goto fail;
        }
        out->version = (int)n;
    }
    v = json_object_get(obj, "leader");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            field = "leader";
            goto fail;
        }
        out->leader = json_is_true(v);
    }
    return 0;
fail:
    sr_leader_identity_clear(out);
    if (bad == 2)
        return sd_err_set(err, SD_ERR_NOMEM, "identity: out of memory");
    return sd_err_set(err, SD_ERR_INVALID, "identity: missing or invalid \"%s\"", field);
}

static json_t *parse_object(const uint8_t *json, size_t len, const char *what, sd_err_t *err)
{
    json_error_t jerr;
    if (!json || !len) {
        sd_err_set(err, SD_ERR_INVALID, "%s: empty", what);
        return NULL;
    }
    /* No JSON_ALLOW_NUL: a NUL inside a host name is not a host name. */
    json_t *root = json_loadb((const char *)json, len, 0, &jerr);
    if (!root) {
        sd_err_set(err, SD_ERR_INVALID, "%s: not JSON (%s at byte %d)", what, jerr.text,
                   jerr.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        sd_err_set(err, SD_ERR_INVALID, "%s: not a JSON object", what);
        return NULL;
    }
    return root;
}

int sr_leader_identity_decode(const uint8_t *json, size_t len, sr_leader_identity_t *out,
                              sd_err_t *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = parse_object(json, len, "identity", err);
    if (!root)
        return SD_ERR_INVALID;
    int rc = identity_from_json(root, out, err);
    json_decref(root);
    return rc;
}

int sr_leader_assignment_encode(const sr_leader_assignment_t *a, sd_writer_t *w)
{
    /* Jackson's order for Assignment: the creator parameters (error, master,
     * master_identity), then version; nulls left out (Include.NON_EMPTY). */
    json_raw(w, "{\"error\":");
    json_int(w, a->error);
    if (a->master && a->master[0]) {
        json_raw(w, ",\"master\":");
        json_write_string(w, a->master);
    }
    if (a->has_identity) {
        json_raw(w, ",\"master_identity\":");
        sr_leader_identity_encode(&a->master_identity, w);
    }
    json_raw(w, ",\"version\":");
    json_int(w, a->version);
    json_raw(w, "}");
    return w->err ? SD_ERR_NOMEM : 0;
}

void sr_leader_assignment_clear(sr_leader_assignment_t *a)
{
    sd_free(a->master);
    sr_leader_identity_clear(&a->master_identity);
    memset(a, 0, sizeof *a);
}

int sr_leader_assignment_decode(const uint8_t *json, size_t len, sr_leader_assignment_t *out,
                                sd_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->version = ASSIGNMENT_VERSION;
    json_t *root = parse_object(json, len, "assignment", err);
    if (!root)
        return SD_ERR_INVALID;
    int rc = SD_ERR_INVALID;
    long long n;
    int bad = 0;
    json_t *v = json_object_get(root, "error");
    /* A Java short; absent is 0 (the constructor's default). */
    if (v && !json_is_null(v)) {
        if (json_int_field(v, -32768, 32767, &n)) {
            sd_err_set(err, SD_ERR_INVALID, "assignment: invalid \"error\"");
            goto done;
        }
        out->error = (int)n;
    }
    v = json_object_get(root, "master");
    if (v && !json_is_null(v)) {
        out->master = json_str_field(v, 32767, &bad);
        if (bad) {
            rc = sd_err_set(err, bad == 2 ? SD_ERR_NOMEM : SD_ERR_INVALID,
                            "assignment: invalid \"master\"");
            goto done;
        }
    }
    v = json_object_get(root, "master_identity");
    if (v && !json_is_null(v)) {
        rc = identity_from_json(v, &out->master_identity, err);
        if (rc)
            goto done;
        out->has_identity = true;
        rc = SD_ERR_INVALID;
    }
    v = json_object_get(root, "version");
    if (v && !json_is_null(v)) {
        if (json_int_field(v, INT_MIN, INT_MAX, &n)) {
            sd_err_set(err, SD_ERR_INVALID, "assignment: invalid \"version\"");
            goto done;
        }
        out->version = (int)n;
    }
    rc = 0;
done:
    json_decref(root);
    if (rc)
        sr_leader_assignment_clear(out);
    return rc;
}

static int identity_copy(const sr_leader_identity_t *from, sr_leader_identity_t *to)
{
    *to = *from;
    to->host = sd_strdup(from->host ? from->host : "");
    to->scheme = sd_strdup(from->scheme ? from->scheme : "http");
    if (!to->host || !to->scheme) {
        sr_leader_identity_clear(to);
        return SD_ERR_NOMEM;
    }
    return 0;
}

int sr_leader_assign(const sr_leader_member_t *members, size_t count, bool sticky,
                     sr_leader_assignment_t *out, sd_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->version = ASSIGNMENT_VERSION;
    int rc = 0;
    sr_leader_identity_t *ids = NULL;
    char(*urls)[URL_MAX] = NULL;
    bool *ok = NULL;
    if (count) {
        ids = sd_calloc(count, sizeof *ids);
        urls = sd_calloc(count, sizeof *urls);
        ok = sd_calloc(count, sizeof *ok);
        if (!ids || !urls || !ok) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "assignment: out of memory");
            goto done;
        }
    }
    /* Walk the members as SchemaRegistryCoordinator.onLeaderElected does:
     * the smallest URL among the eligible (String.compareTo, which is byte
     * order for the ASCII of URLs); with sticky, an eligible member claiming
     * "leader" wins unless a second one claims it too. */
    ssize_t chosen = -1, claimed = -1;
    bool several_claims = false;
    bool duplicate = false;
    for (size_t i = 0; i < count; i++) {
        sd_err_t merr;
        int mrc =
            sr_leader_identity_decode(members[i].metadata, members[i].metadata_len, &ids[i], &merr);
        if (mrc == SD_ERR_NOMEM) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "assignment: out of memory");
            goto done;
        }
        if (mrc || sr_leader_identity_url(&ids[i], urls[i], sizeof urls[i])) {
            sd_warn(MOD, "member %s sent metadata that is not a registry identity (%s)",
                    members[i].member_id, mrc ? merr.msg : "URL too long");
            continue;
        }
        ok[i] = true;
        for (size_t j = 0; j < i && !duplicate; j++)
            if (ok[j] && strcmp(urls[i], urls[j]) == 0)
                duplicate = true;
        bool eligible = ids[i].eligible;
        if (eligible && (chosen < 0 || strcmp(urls[i], urls[chosen]) < 0))
            chosen = (ssize_t)i;
        if (sticky && eligible && ids[i].leader && !several_claims) {
            if (claimed >= 0) {
                sd_warn(MOD, "two members claim to be the writer: %s and %s", urls[claimed],
                        urls[i]);
                several_claims = true;
                claimed = -1;
            } else {
                claimed = (ssize_t)i;
            }
        }
    }
    if (duplicate) {
        sd_error(MOD, "registries in the group advertise the same URL; give each its own "
                      "routable host name");
        out->error = SR_LEADER_ASSIGNMENT_DUPLICATE_URLS;
    }
    if (sticky && claimed >= 0)
        chosen = claimed;
    if (chosen >= 0) {
        out->master = sd_strdup(members[chosen].member_id);
        if (!out->master || identity_copy(&ids[chosen], &out->master_identity)) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "assignment: out of memory");
            goto done;
        }
        out->has_identity = true;
    }
done:
    for (size_t i = 0; ids && i < count; i++)
        sr_leader_identity_clear(&ids[i]);
    sd_free(ids);
    sd_free(urls);
    sd_free(ok);
    if (rc)
        sr_leader_assignment_clear(out);
    return rc;
}

/* ======================================================================== */
/* Kafka responses                                                          */
/* ======================================================================== */

/* Well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF), as Kafka strings and JSON must be. */
static bool valid_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

/* A Kafka string (int16 length, -1 = null) copied out; NULL stays NULL only
 * where nullable. An embedded NUL is invalid (ids are used as C strings), and
 * so is malformed UTF-8 (ids go into JSON). */
static int read_string(sd_reader_t *r, bool nullable, char **out)
{
    int16_t n;
    const uint8_t *p;
    *out = NULL;
    if (sd_read_i16(r, &n))
        return -1;
    if (n < 0) {
        if (n == -1 && nullable)
            return 0;
        r->err = SD_ERR_INVALID;
        return -1;
    }
    if (sd_read_bytes(r, (size_t)n, &p))
        return -1;
    if (memchr(p, 0, (size_t)n) || !valid_utf8(p, (size_t)n)) {
        r->err = SD_ERR_INVALID;
        return -1;
    }
    *out = sd_strndup((const char *)p, (size_t)n);
    if (!*out) {
        r->err = SD_ERR_NOMEM;
        return -1;
    }
    return 0;
}

/* Kafka bytes (int32 length; -1 = null, read as empty) copied out. */
static int read_bytes(sd_reader_t *r, uint8_t **out, size_t *len)
{
    int32_t n;
    const uint8_t *p;
    *out = NULL;
    *len = 0;
    if (sd_read_i32(r, &n))
        return -1;
    if (n < 0) {
        if (n == -1)
            return 0;
        r->err = SD_ERR_INVALID;
        return -1;
    }
    if (sd_read_bytes(r, (size_t)n, &p))
        return -1;
    *out = sd_malloc(n ? (size_t)n : 1);
    if (!*out) {
        r->err = SD_ERR_NOMEM;
        return -1;
    }
    memcpy(*out, p, (size_t)n);
    *len = (size_t)n;
    return 0;
}

void sr_leader_response_clear(sr_leader_response_t *rs)
{
    sd_free(rs->host);
    sd_free(rs->protocol_name);
    sd_free(rs->leader_id);
    sd_free(rs->member_id);
    for (size_t i = 0; rs->members && i < rs->member_count; i++) {
        sd_free((char *)rs->members[i].member_id);
        sd_free((uint8_t *)rs->members[i].metadata);
    }
    sd_free(rs->members);
    sd_free(rs->assignment);
    memset(rs, 0, sizeof *rs);
}

/*
 * Response bodies (after the 4-byte correlation id of header v0):
 *
 *   FindCoordinator v1: throttle_time_ms i32, error_code i16,
 *                       error_message nullable string, node_id i32,
 *                       host string, port i32
 *   JoinGroup v4:       throttle_time_ms i32, error_code i16, generation_id i32,
 *                       protocol_name string, leader string, member_id string,
 *                       members i32 count x { member_id string, metadata bytes }
 *   SyncGroup v1:       throttle_time_ms i32, error_code i16, assignment bytes
 *   Heartbeat v1,
 *   LeaveGroup v1:      throttle_time_ms i32, error_code i16
 */
int sr_leader_response_decode(int16_t api_key, const uint8_t *body, size_t len,
                              sr_leader_response_t *out, sd_err_t *err)
{
    memset(out, 0, sizeof *out);
    sd_reader_t r;
    sd_reader_init(&r, body, len);
    int32_t throttle, node_id;
    const char *field = "error_code";
    sd_read_i32(&r, &throttle);
    sd_read_i16(&r, &out->error_code);
    switch (api_key) {
    case SR_LEADER_API_FIND_COORDINATOR: {
        char *message = NULL;
        field = "error_message";
        if (read_string(&r, true, &message) == 0) {
            sd_free(message);
            field = "node_id";
            sd_read_i32(&r, &node_id);
            field = "host";
            if (!r.err)
                read_string(&r, false, &out->host);
            field = "port";
            sd_read_i32(&r, &out->port);
        }
        break;
    }
    case SR_LEADER_API_JOIN_GROUP: {
        int32_t count;
        field = "generation_id";
        sd_read_i32(&r, &out->generation);
        /* Non-nullable before v7, but a null name is harmless here. */
        field = "protocol_name";
        if (!r.err)
            read_string(&r, true, &out->protocol_name);
        field = "leader";
        if (!r.err)
            read_string(&r, false, &out->leader_id);
        field = "member_id";
        if (!r.err)
            read_string(&r, false, &out->member_id);
        field = "members";
        if (sd_read_i32(&r, &count))
            break;
        /* Each member takes at least 6 bytes: check before allocating. */
        if (count < 0 || (size_t)count > sd_reader_left(&r) / 6) {
            r.err = SD_ERR_INVALID;
            break;
        }
        if (count) {
            out->members = sd_calloc((size_t)count, sizeof *out->members);
            if (!out->members) {
                r.err = SD_ERR_NOMEM;
                break;
            }
        }
        for (int32_t i = 0; i < count && !r.err; i++) {
            char *id = NULL;
            uint8_t *meta = NULL;
            size_t meta_len = 0;
            if (read_string(&r, false, &id))
                break;
            out->members[i].member_id = id;
            out->member_count = (size_t)i + 1;
            if (read_bytes(&r, &meta, &meta_len))
                break;
            out->members[i].metadata = meta;
            out->members[i].metadata_len = meta_len;
        }
        break;
    }
    case SR_LEADER_API_SYNC_GROUP:
        field = "assignment";
        if (!r.err)
            read_bytes(&r, &out->assignment, &out->assignment_len);
        break;
    case SR_LEADER_API_HEARTBEAT:
    case SR_LEADER_API_LEAVE_GROUP: break;
    default:
        sr_leader_response_clear(out);
        return sd_err_set(err, SD_ERR_INVALID, "response to api key %d: not read here", api_key);
    }
    if (!r.err && sd_reader_left(&r)) {
        field = "end";
        r.err = SD_ERR_INVALID;
    }
    if (r.err) {
        int code = r.err == SD_ERR_NOMEM ? SD_ERR_NOMEM : SD_ERR_INVALID;
        sr_leader_response_clear(out);
        return sd_err_set(err, code, "response to api key %d: %s at \"%s\" (byte %zu)", api_key,
                          r.err == SD_ERR_TRUNCATED ? "truncated" : "invalid", field, r.pos);
    }
    return 0;
}

/* ======================================================================== */
/* The elector                                                              */
/* ======================================================================== */

typedef struct server_addr {
    char *host;
    int port;
} server_addr_t;

struct sr_leader {
    /* Set at start, read-only after. */
    char *group_id;
    char *host;
    char *scheme;
    int port;
    bool eligible;
    bool sticky;
    int session_ms, heartbeat_ms, rebalance_ms;
    server_addr_t *servers;
    size_t nservers;
    sr_leader_change_fn on_change;
    void *ctx;
    pthread_t thread;
    bool thread_started;
    int wake[2]; /* sr_leader_stop writes a byte to wake[1] */
    atomic_bool stopping;

    /* The election thread's own. */
    bool leaving; /* waits ignore stopping while LeaveGroup is sent */
    size_t next_server;
    int fd;           /* the coordinator connection, -1 when none */
    bool in_flight;   /* a request on fd has no answer yet */
    char *coord_host; /* the coordinator found last */
    int coord_port;
    int32_t correlation;
    char *member_id; /* NULL until the coordinator assigned one */
    int32_t generation;
    bool claim;                  /* sticky: this member was named writer and says so */
    int64_t session_deadline_ms; /* the group may go on without us from here */
    bool reported_leader;
    char *reported_url;
};

/* How a step ended. */
enum {
    STEP_OK = 0,
    STEP_STOP = -1,   /* sr_leader_stop was called */
    STEP_REJOIN = -2, /* JoinGroup again at once on the same connection */
    STEP_FAILED = -3, /* back off, then start over from FindCoordinator */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stop_requested(const sr_leader_t *l)
{
    return !l->leaving && atomic_load(&l->stopping);
}

/* Tells the caller when the outcome changes. */
static void report(sr_leader_t *l, bool is_leader, const char *url)
{
    if (l->reported_leader == is_leader &&
        ((!url && !l->reported_url) ||
         (url && l->reported_url && strcmp(url, l->reported_url) == 0)))
        return;
    char *copy = NULL;
    if (url && !(copy = sd_strdup(url))) {
        /* Without memory to remember it, say "none": never a stale writer. */
        is_leader = false;
        url = NULL;
    }
    sd_free(l->reported_url);
    l->reported_url = copy;
    l->reported_leader = is_leader;
    if (url)
        sd_info(MOD, "writer is %s%s", url, is_leader ? " (this process)" : "");
    else
        sd_info(MOD, "no writer known");
    l->on_change(l->ctx, is_leader, url);
}

/* "No writer known". Also drops a sticky claim: a member that lost its
 * session or its coordinator must not come back claiming a place another
 * member may have taken meanwhile (two claims fall back to the smallest URL
 * and would move the writer once more). */
static void report_none(sr_leader_t *l)
{
    l->claim = false;
    report(l, false, NULL);
}

/* From a request sent at `sent` that the coordinator answered without
 * error, how long it surely still counts us in the group: the session
 * timeout, and no longer than the rebalance timeout, after which a
 * rebalance that began after that answer may complete without us. */
static int64_t membership_deadline(const sr_leader_t *l, int64_t sent)
{
    return sent + (l->session_ms < l->rebalance_ms ? l->session_ms : l->rebalance_ms);
}

/* Waits until fd is ready for events (or, with fd < 0, just sleeps) until
 * deadline. Returns 1 ready, 0 timed out, -1 stop requested. */
static int wait_until(sr_leader_t *l, int fd, short events, int64_t deadline)
{
    for (;;) {
        if (stop_requested(l))
            return -1;
        int64_t now = now_ms();
        /* Whatever we wait for (a sticky writer's parked JoinGroup, say),
         * stop believing we write once the group may have gone on without
         * us. */
        if (l->reported_leader && !l->leaving && now >= l->session_deadline_ms) {
            sd_warn(MOD, "no answer from the group coordinator within the session");
            report_none(l);
        }
        int64_t left = deadline - now;
        if (left <= 0)
            return 0;
        if (l->reported_leader && !l->leaving && l->session_deadline_ms - now < left)
            left = l->session_deadline_ms - now;
        struct pollfd p[2] = {{.fd = l->wake[0], .events = POLLIN}, {.fd = fd, .events = events}};
        int n = poll(p, fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR)
            return 0;
        if (n > 0 && fd >= 0 && p[1].revents)
            return 1;
        /* A wake-up byte: loop to look at stopping (during leaving, the
         * byte stays unread and poll would spin, so drain it). */
        if (n > 0 && (p[0].revents & POLLIN) && l->leaving) {
            char b[16];
            while (read(l->wake[0], b, sizeof b) > 0) {
            }
        }
    }
}

static void close_conn(sr_leader_t *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    l->in_flight = false;
}

/* Connects to host:port before deadline; returns the socket or -1. */
static int tcp_connect(sr_leader_t *l, const char *host, int port, int64_t deadline)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai) {
        sd_warn(MOD, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            int w = wait_until(l, fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t slen = sizeof soerr;
            if (w == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0 && !soerr)
                rc = 0;
            else
                errno = w == 1 ? soerr : ETIMEDOUT;
        }
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            break;
        }
        sd_debug(MOD, "cannot connect to %s:%d: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
        if (stop_requested(l))
            break;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(sr_leader_t *l, const uint8_t *buf, size_t len, int64_t deadline)
{
    while (len) {
        ssize_t n = send(l->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_until(l, l->fd, POLLOUT, deadline);
            if (w <= 0)
                return w < 0 ? STEP_STOP : STEP_FAILED;
            continue;
        }
        return STEP_FAILED;
    }
    return STEP_OK;
}

static int recv_all(sr_leader_t *l, uint8_t *buf, size_t len, int64_t deadline)
{
    while (len) {
        ssize_t n = recv(l->fd, buf, len, 0);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return STEP_FAILED; /* the coordinator closed the connection */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_until(l, l->fd, POLLIN, deadline);
            if (w <= 0)
                return w < 0 ? STEP_STOP : STEP_FAILED;
            continue;
        }
        return STEP_FAILED;
    }
    return STEP_OK;
}

static void write_string(sd_writer_t *w, const char *s)
{
    size_t n = strlen(s);
    sd_write_i16(w, (int16_t)n);
    sd_write_bytes(w, s, n);
}

static void write_bytes(sd_writer_t *w, const uint8_t *p, size_t n)
{
    sd_write_i32(w, (int32_t)n);
    sd_write_bytes(w, p, n);
}

/*
 * Sends one request on l->fd and decodes its response into *rs before
 * deadline. Any failure leaves the connection closed. Frames:
 *
 *   request:  size i32, api_key i16, api_version i16, correlation_id i32,
 *             client_id string (header v1), then the body:
 *     FindCoordinator v1: key string, key_type i8 (0 = group)
 *     JoinGroup v4:       group_id string, session_timeout_ms i32,
 *                         rebalance_timeout_ms i32, member_id string,
 *                         protocol_type string, protocols i32 count x
 *                         { name string, metadata bytes }
 *     SyncGroup v1:       group_id string, generation_id i32, member_id string,
 *                         assignments i32 count x { member_id string,
 *                         assignment bytes }
 *     Heartbeat v1:       group_id string, generation_id i32, member_id string
 *     LeaveGroup v1:      group_id string, member_id string
 *   response: size i32, correlation_id i32 (header v0), then the body
 *             (sr_leader_response_decode).
 */
static int call(sr_leader_t *l, int16_t api_key, int16_t version, const sd_writer_t *body,
                int64_t deadline, sr_leader_response_t *rs)
{
    memset(rs, 0, sizeof *rs);
    if (l->fd < 0)
        return STEP_FAILED;
    sd_writer_t w;
    sd_writer_init(&w);
    uint8_t *frame = NULL;
    int rc = STEP_FAILED;
    int32_t correlation = ++l->correlation;
    if (l->correlation == INT32_MAX)
        l->correlation = 0;
    size_t size_at = sd_writer_placeholder_i32(&w);
    sd_write_i16(&w, api_key);
    sd_write_i16(&w, version);
    sd_write_i32(&w, correlation);
    write_string(&w, CLIENT_ID);
    sd_write_bytes(&w, body->buf, body->len);
    if (w.err || body->err) {
        sd_error(MOD, "out of memory building a request");
        goto done;
    }
    sd_writer_patch_i32(&w, size_at, (int32_t)(w.len - 4));
    l->in_flight = true;
    rc = send_all(l, w.buf, w.len, deadline);
    if (rc)
        goto done;
    uint8_t size_be[4];
    rc = recv_all(l, size_be, 4, deadline);
    if (rc)
        goto done;
    uint32_t size = sd_be32(size_be);
    rc = STEP_FAILED;
    if (size < 4 || size > MAX_RESPONSE_BYTES) {
        sd_warn(MOD, "response to api key %d declares %u bytes", api_key, size);
        goto done;
    }
    frame = sd_malloc(size);
    if (!frame)
        goto done;
    rc = recv_all(l, frame, size, deadline);
    if (rc)
        goto done;
    l->in_flight = false;
    rc = STEP_FAILED;
    if ((int32_t)sd_be32(frame) != correlation) {
        sd_warn(MOD, "response to api key %d has correlation id %d, expected %d", api_key,
                (int32_t)sd_be32(frame), correlation);
        goto done;
    }
    sd_err_t err;
    if (sr_leader_response_decode(api_key, frame + 4, size - 4, rs, &err)) {
        sd_warn(MOD, "%s", err.msg);
        goto done;
    }
    rc = STEP_OK;
done:
    if (rc == STEP_FAILED && !stop_requested(l))
        sd_debug(MOD, "request %d to the coordinator failed", api_key);
    if (rc != STEP_OK)
        close_conn(l);
    sd_writer_free(&w);
    sd_free(frame);
    return rc;
}

/* Sleeps ms or until stopped. */
static int pause_ms(sr_leader_t *l, int ms)
{
    return wait_until(l, -1, 0, now_ms() + ms) < 0 ? STEP_STOP : STEP_OK;
}

/* FindCoordinator v1 through each bootstrap server in turn; on success the
 * coordinator's address is in l->coord_host/port and l->fd is connected to
 * it. */
static int find_coordinator(sr_leader_t *l)
{
    close_conn(l);
    for (size_t tries = 0; tries < l->nservers; tries++) {
        server_addr_t *s = &l->servers[l->next_server];
        l->next_server = (l->next_server + 1) % l->nservers;
        int64_t deadline = now_ms() + CONNECT_TIMEOUT_MS;
        l->fd = tcp_connect(l, s->host, s->port, deadline);
        if (stop_requested(l))
            return STEP_STOP;
        if (l->fd < 0)
            continue;
        sd_writer_t body;
        sd_writer_init(&body);
        write_string(&body, l->group_id);
        sd_write_i8(&body, 0); /* key type: group */
        sr_leader_response_t rs;
        int rc = call(l, SR_LEADER_API_FIND_COORDINATOR, V_FIND_COORDINATOR, &body,
                      now_ms() + l->session_ms, &rs);
        sd_writer_free(&body);
        close_conn(l);
        if (rc == STEP_STOP)
            return rc;
        if (rc)
            continue;
        if (rs.error_code || !rs.host || rs.port <= 0 || rs.port > 65535) {
            sd_debug(MOD, "FindCoordinator via %s:%d: error %d", s->host, s->port, rs.error_code);
            sr_leader_response_clear(&rs);
            continue;
        }
        sd_free(l->coord_host);
        l->coord_host = rs.host;
        rs.host = NULL;
        l->coord_port = rs.port;
        sr_leader_response_clear(&rs);
        l->fd = tcp_connect(l, l->coord_host, l->coord_port, now_ms() + CONNECT_TIMEOUT_MS);
        if (stop_requested(l))
            return STEP_STOP;
        if (l->fd >= 0)
            return STEP_OK;
    }
    return STEP_FAILED;
}

/* Our identity JSON, with the sticky claim when we hold the writer's place. */
static int my_metadata(sr_leader_t *l, sd_writer_t *w)
{
    sr_leader_identity_t me = {
        .version = IDENTITY_VERSION,
        .host = l->host,
        .port = l->port,
        .scheme = l->scheme,
        .eligible = l->eligible,
        .leader = l->sticky && l->claim,
    };
    return sr_leader_identity_encode(&me, w);
}

/* Takes a Kafka error code of JoinGroup/SyncGroup/Heartbeat: what to do. */
static int on_group_error(sr_leader_t *l, const char *api, int16_t code)
{
    switch (code) {
    case KERR_REBALANCE_IN_PROGRESS:
        /* Our session is alive; Confluent's onRevoked gives up the writer's
         * place for the rebalance unless the election is sticky. */
        if (!l->sticky)
            report_none(l);
        return STEP_REJOIN;
    case KERR_UNKNOWN_MEMBER_ID:
        /* The group went on without us: join as a new member. */
        sd_free(l->member_id);
        l->member_id = NULL;
        /* fall through */
    case KERR_ILLEGAL_GENERATION:
        report_none(l);
        l->generation = -1;
        return STEP_REJOIN;
    case KERR_NOT_COORDINATOR:
    case KERR_COORDINATOR_NOT_AVAILABLE:
    case KERR_COORDINATOR_LOAD_IN_PROGRESS: report_none(l); return STEP_FAILED;
    default:
        sd_warn(MOD, "%s for group %s: Kafka error %d", api, l->group_id, code);
        report_none(l);
        return STEP_FAILED;
    }
}

/* The writer's URL as the caller uses it: Confluent's "scheme://host:port",
 * except that an IPv6 literal gets its brackets so that the URL works. (The
 * election rule compares Confluent's form, without brackets.) */
static int writer_url(const sr_leader_identity_t *id, char *buf, size_t len)
{
    if (!strchr(id->host, ':') || id->host[0] == '[')
        return sr_leader_identity_url(id, buf, len);
    int n = snprintf(buf, len, "%s://[%s]:%d", id->scheme, id->host, id->port);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Applies the assignment SyncGroup handed us. */
static int apply_assignment(sr_leader_t *l, const uint8_t *data, size_t len)
{
    sr_leader_assignment_t a;
    sd_err_t err;
    int rc = sr_leader_assignment_decode(data, len, &a, &err);
    if (rc) {
        /* Confluent drops the assignment and rejoins. */
        sd_warn(MOD, "group %s: %s", l->group_id, err.msg);
        report_none(l);
        return STEP_FAILED;
    }
    bool me = a.master && l->member_id && strcmp(a.master, l->member_id) == 0;
    char url[URL_MAX];
    /* The sticky claim follows the named writer, as onJoinComplete sets it
     * (before the error is looked at). */
    if (l->sticky && a.has_identity)
        l->claim = me;
    if (a.error != SR_LEADER_ASSIGNMENT_NO_ERROR) {
        sd_error(MOD, "group %s: the election failed with error %d%s; no writer", l->group_id,
                 a.error,
                 a.error == SR_LEADER_ASSIGNMENT_DUPLICATE_URLS
                     ? " (two registries advertise the same URL)"
                     : "");
        report_none(l);
    } else if (!a.master || !a.has_identity) {
        sd_warn(MOD, "group %s: no member is eligible to write", l->group_id);
        report_none(l);
    } else if (me && !l->eligible) {
        sd_error(MOD, "group %s: named writer though not eligible; ignored", l->group_id);
        report_none(l);
    } else if (writer_url(&a.master_identity, url, sizeof url)) {
        report_none(l);
    } else {
        report(l, me, url);
    }
    sr_leader_assignment_clear(&a);
    return STEP_OK;
}

/* JoinGroup then SyncGroup; on STEP_OK the assignment has been applied. */
static int join_and_sync(sr_leader_t *l)
{
    sd_writer_t body, meta;
    sd_writer_init(&body);
    sd_writer_init(&meta);
    sr_leader_response_t rs;
    memset(&rs, 0, sizeof rs);
    uint8_t *assign_json = NULL;
    size_t assign_len = 0;
    int rc;
    int64_t sent;

    /* MEMBER_ID_REQUIRED comes at most once per join; allow a few. */
    for (int attempt = 0;; attempt++) {
        sd_writer_reset(&body);
        sd_writer_reset(&meta);
        my_metadata(l, &meta);
        write_string(&body, l->group_id);
        sd_write_i32(&body, l->session_ms);
        sd_write_i32(&body, l->rebalance_ms);
        write_string(&body, l->member_id ? l->member_id : "");
        write_string(&body, PROTOCOL_TYPE);
        sd_write_i32(&body, 1);
        write_string(&body, PROTOCOL_V0);
        write_bytes(&body, meta.buf, meta.len);
        if (meta.err) {
            rc = STEP_FAILED;
            goto done;
        }
        sent = now_ms();
        rc = call(l, SR_LEADER_API_JOIN_GROUP, V_JOIN_GROUP, &body,
                  sent + l->rebalance_ms + JOIN_EXTRA_MS, &rs);
        if (rc) {
            if (rc == STEP_FAILED)
                report_none(l);
            goto done;
        }
        if (rs.error_code == KERR_MEMBER_ID_REQUIRED && rs.member_id && rs.member_id[0] &&
            attempt < 3) {
            sd_free(l->member_id);
            l->member_id = rs.member_id;
            rs.member_id = NULL;
            sr_leader_response_clear(&rs);
            continue;
        }
        break;
    }
    if (rs.error_code) {
        rc = on_group_error(l, "JoinGroup", rs.error_code);
        goto done;
    }
    if (!rs.member_id || !rs.member_id[0] || !rs.leader_id ||
        (rs.protocol_name && strcmp(rs.protocol_name, PROTOCOL_V0) != 0)) {
        sd_warn(MOD, "JoinGroup for group %s: answer without member id or with protocol %s",
                l->group_id, rs.protocol_name ? rs.protocol_name : "(null)");
        report_none(l);
        rc = STEP_FAILED;
        goto done;
    }
    sd_free(l->member_id);
    l->member_id = rs.member_id;
    rs.member_id = NULL;
    l->generation = rs.generation;
    l->session_deadline_ms = membership_deadline(l, sent);

    sd_writer_reset(&body);
    write_string(&body, l->group_id);
    sd_write_i32(&body, l->generation);
    write_string(&body, l->member_id);
    if (strcmp(rs.leader_id, l->member_id) == 0) {
        /* We are the group's leader member: compute the one assignment. */
        sr_leader_assignment_t a;
        sd_err_t err;
        if (sr_leader_assign(rs.members, rs.member_count, l->sticky, &a, &err)) {
            sd_error(MOD, "%s", err.msg);
            report_none(l);
            rc = STEP_FAILED;
            goto done;
        }
        if (l->sticky && !(a.master && strcmp(a.master, l->member_id) == 0))
            l->claim = false;
        sd_writer_reset(&meta);
        sr_leader_assignment_encode(&a, &meta);
        sr_leader_assignment_clear(&a);
        sd_write_i32(&body, (int32_t)rs.member_count);
        for (size_t i = 0; i < rs.member_count; i++) {
            write_string(&body, rs.members[i].member_id);
            write_bytes(&body, meta.buf, meta.len);
        }
    } else {
        sd_write_i32(&body, 0);
    }
    sr_leader_response_clear(&rs);
    sent = now_ms();
    rc = call(l, SR_LEADER_API_SYNC_GROUP, V_SYNC_GROUP, &body,
              sent + l->rebalance_ms + JOIN_EXTRA_MS, &rs);
    if (rc) {
        if (rc == STEP_FAILED)
            report_none(l);
        goto done;
    }
    if (rs.error_code) {
        rc = on_group_error(l, "SyncGroup", rs.error_code);
        goto done;
    }
    l->session_deadline_ms = membership_deadline(l, sent);
    assign_json = rs.assignment;
    assign_len = rs.assignment_len;
    rs.assignment = NULL;
    rc = apply_assignment(l, assign_json, assign_len);
done:
    sr_leader_response_clear(&rs);
    sd_writer_free(&body);
    sd_writer_free(&meta);
    sd_free(assign_json);
    return rc;
}

/* Heartbeats until the group needs a rejoin or something fails. */
static int heartbeat_loop(sr_leader_t *l)
{
    int64_t next = now_ms() + l->heartbeat_ms;
    for (;;) {
        /* Between heartbeats the connection is idle: anything readable is
         * the coordinator closing it. */
        int w = wait_until(l, l->fd, POLLIN, next);
        if (w < 0)
            return STEP_STOP;
        if (w > 0) {
            sd_warn(MOD, "the group coordinator %s:%d closed the connection", l->coord_host,
                    l->coord_port);
            close_conn(l);
            report_none(l);
            return STEP_FAILED;
        }
        sd_writer_t body;
        sd_writer_init(&body);
        write_string(&body, l->group_id);
        sd_write_i32(&body, l->generation);
        write_string(&body, l->member_id);
        sr_leader_response_t rs;
        int64_t sent = now_ms();
        /* An answer later than the session deadline may come after the
         * coordinator dropped us: stop believing before that. */
        int rc = call(l, SR_LEADER_API_HEARTBEAT, V_HEARTBEAT, &body, l->session_deadline_ms, &rs);
        sd_writer_free(&body);
        if (rc) {
            if (rc == STEP_FAILED) {
                sd_warn(MOD, "heartbeat to the group coordinator %s:%d failed", l->coord_host,
                        l->coord_port);
                report_none(l);
            }
            return rc;
        }
        int16_t code = rs.error_code;
        sr_leader_response_clear(&rs);
        if (code)
            return on_group_error(l, "Heartbeat", code);
        l->session_deadline_ms = membership_deadline(l, sent);
        next = sent + l->heartbeat_ms;
    }
}

/* Best effort: tells the coordinator we go, so the others rebalance now
 * rather than a session timeout later. */
static void leave_group(sr_leader_t *l)
{
    if (!l->member_id || !l->coord_host)
        return;
    l->leaving = true;
    int64_t deadline = now_ms() + LEAVE_TIMEOUT_MS;
    /* A request still parked (JoinGroup) would hold the answer back. */
    if (l->fd < 0 || l->in_flight) {
        close_conn(l);
        l->fd = tcp_connect(l, l->coord_host, l->coord_port, deadline);
    }
    if (l->fd >= 0) {
        sd_writer_t body;
        sd_writer_init(&body);
        write_string(&body, l->group_id);
        write_string(&body, l->member_id);
        sr_leader_response_t rs;
        if (call(l, SR_LEADER_API_LEAVE_GROUP, V_LEAVE_GROUP, &body, deadline, &rs) == STEP_OK) {
            if (rs.error_code)
                sd_debug(MOD, "LeaveGroup: Kafka error %d", rs.error_code);
            sr_leader_response_clear(&rs);
        }
        sd_writer_free(&body);
    }
    close_conn(l);
}

static void *election_main(void *arg)
{
    sr_leader_t *l = arg;
    int backoff = 0;
    while (!stop_requested(l)) {
        if (backoff && pause_ms(l, backoff) == STEP_STOP)
            break;
        backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
                          : BACKOFF_MIN_MS;
        int rc = find_coordinator(l);
        if (rc == STEP_STOP)
            break;
        if (rc) {
            report_none(l);
            sd_debug(MOD, "no group coordinator reachable; retrying in %d ms", backoff);
            continue;
        }
        /* Rejoins are immediate, as in Kafka's client, but a coordinator
         * that never lets a join complete gets the backoff instead. */
        for (int rejoins = 0;; rejoins++) {
            rc = join_and_sync(l);
            if (rc == STEP_OK) {
                backoff = 0;
                rejoins = 0;
                rc = heartbeat_loop(l);
            }
            if (rc != STEP_REJOIN)
                break;
            if (rejoins >= MAX_REJOINS) {
                report_none(l);
                rc = STEP_FAILED;
                break;
            }
        }
        if (rc == STEP_STOP)
            break;
    }
    leave_group(l);
    return NULL;
}

/* ======================================================================== */
/* Start and stop                                                           */
/* ======================================================================== */

/* "host:port[,host:port]" (a "PLAINTEXT://" or similar prefix is allowed,
 * IPv6 hosts in brackets, port 9092 when left out). */
static int parse_servers(sr_leader_t *l, const char *list, sd_err_t *err)
{
    size_t cap = 1;
    for (const char *p = list; *p; p++)
        cap += *p == ',';
    l->servers = sd_calloc(cap, sizeof *l->servers);
    if (!l->servers)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        p = *end ? end + 1 : end;
        if (a == b)
            continue;
        for (const char *s = a; s + 2 < b; s++)
            if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
                a = s + 3;
                break;
            }
        const char *host = a, *host_end, *port_at = NULL;
        if (*a == '[') {
            const char *close_br = memchr(a, ']', (size_t)(b - a));
            if (!close_br)
                return sd_err_set(err, SD_ERR_INVALID, "bootstrap_servers: bad address '%.*s'",
                                  (int)(b - a), a);
            host = a + 1;
            host_end = close_br;
            if (close_br + 1 < b && close_br[1] == ':')
                port_at = close_br + 2;
        } else {
            const char *colon = NULL;
            for (const char *s = a; s < b; s++)
                if (*s == ':')
                    colon = s;
            host_end = colon ? colon : b;
            port_at = colon ? colon + 1 : NULL;
        }
        long port = 9092;
        if (port_at) {
            char *stop;
            char buf[8] = {0};
            if (b - port_at <= 0 || b - port_at >= (long)sizeof buf)
                return sd_err_set(err, SD_ERR_INVALID, "bootstrap_servers: bad port in '%.*s'",
                                  (int)(b - a), a);
            memcpy(buf, port_at, (size_t)(b - port_at));
            port = strtol(buf, &stop, 10);
            if (*stop || port <= 0 || port > 65535)
                return sd_err_set(err, SD_ERR_INVALID, "bootstrap_servers: bad port in '%.*s'",
                                  (int)(b - a), a);
        }
        if (host_end == host)
            return sd_err_set(err, SD_ERR_INVALID, "bootstrap_servers: no host in '%.*s'",
                              (int)(b - a), a);
        server_addr_t *s = &l->servers[l->nservers];
        s->host = sd_strndup(host, (size_t)(host_end - host));
        if (!s->host)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        s->port = (int)port;
        l->nservers++;
    }
    if (!l->nservers)
        return sd_err_set(err, SD_ERR_INVALID, "bootstrap_servers: empty");
    return 0;
}

static void free_leader(sr_leader_t *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nservers; i++)
        sd_free(l->servers[i].host);
    sd_free(l->servers);
    sd_free(l->group_id);
    sd_free(l->host);
    sd_free(l->scheme);
    sd_free(l->coord_host);
    sd_free(l->member_id);
    sd_free(l->reported_url);
    if (l->wake[0] >= 0)
        close(l->wake[0]);
    if (l->wake[1] >= 0)
        close(l->wake[1]);
    if (l->fd >= 0)
        close(l->fd);
    sd_free(l);
}

int sr_leader_start(const sr_leader_config_t *config, sr_leader_change_fn on_change, void *ctx,
                    sr_leader_t **out, sd_err_t *err)
{
    *out = NULL;
    if (!config || !on_change || !config->bootstrap_servers || !config->host || !config->host[0])
        return sd_err_set(err, SD_ERR_INVALID,
                          "leader election needs bootstrap_servers, host and a callback");
    if (config->port <= 0 || config->port > 65535)
        return sd_err_set(err, SD_ERR_INVALID, "leader election: port %d out of range",
                          config->port);
    if (strlen(config->host) > MAX_HOST_BYTES)
        return sd_err_set(err, SD_ERR_INVALID, "leader election: host name too long");
    const char *group = config->group_id && config->group_id[0] ? config->group_id : DEFAULT_GROUP;
    const char *scheme = config->scheme && config->scheme[0] ? config->scheme : "http";
    if (strlen(group) > 32767 || strlen(scheme) > MAX_SCHEME_BYTES)
        return sd_err_set(err, SD_ERR_INVALID, "leader election: group id or scheme too long");
    if (!valid_utf8((const uint8_t *)group, strlen(group)) ||
        !valid_utf8((const uint8_t *)config->host, strlen(config->host)) ||
        !valid_utf8((const uint8_t *)scheme, strlen(scheme)))
        return sd_err_set(err, SD_ERR_INVALID,
                          "leader election: group, host or scheme is not UTF-8");
    int rc;
    sr_leader_t *l = sd_calloc(1, sizeof *l);
    if (!l)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    l->wake[0] = l->wake[1] = -1;
    l->fd = -1;
    l->generation = -1;
    atomic_init(&l->stopping, false);
    l->group_id = sd_strdup(group);
    l->host = sd_strdup(config->host);
    l->scheme = sd_strdup(scheme);
    if (!l->group_id || !l->host || !l->scheme) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rc = parse_servers(l, config->bootstrap_servers, err);
    if (rc)
        goto fail;
    l->port = config->port;
    l->eligible = config->eligible;
    l->sticky = config->sticky;
    l->session_ms = config->session_timeout_ms > 0 ? config->session_timeout_ms : 10000;
    l->heartbeat_ms = config->heartbeat_interval_ms > 0 ? config->heartbeat_interval_ms : 3000;
    l->rebalance_ms = config->rebalance_timeout_ms > 0 ? config->rebalance_timeout_ms : 10000;
    if (l->heartbeat_ms >= l->session_ms || l->heartbeat_ms >= l->rebalance_ms) {
        rc = sd_err_set(err, SD_ERR_INVALID,
                        "leader election: heartbeat interval %d ms must be below the session "
                        "timeout %d ms and the rebalance timeout %d ms",
                        l->heartbeat_ms, l->session_ms, l->rebalance_ms);
        goto fail;
    }
    l->on_change = on_change;
    l->ctx = ctx;
    if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK)) {
        rc = sd_err_set(err, SD_ERR_IO, "leader election: pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&l->thread, NULL, election_main, l)) {
        rc = sd_err_set(err, SD_ERR_IO, "leader election: cannot start its thread");
        goto fail;
    }
    l->thread_started = true;
    *out = l;
    return 0;
fail:
    free_leader(l);
    return rc;
}

void sr_leader_stop(sr_leader_t *l)
{
    if (!l)
        return;
    if (l->thread_started) {
        atomic_store(&l->stopping, true);
        ssize_t n;
        do
            n = write(l->wake[1], "x", 1);
        while (n < 0 && errno == EINTR);
        pthread_join(l->thread, NULL);
    }
    free_leader(l);
}
