/*
 * client.c - the registry client's public API (strand/registry_client.h):
 * Confluent's REST calls for schemas by id and GUID, register, lookup and
 * subject versions, their JSON bodies, the immutable schema records built
 * from the answers, and the cache keys each call is remembered under.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "client/client_int.h"
#include "strand/registry_client.h"
#include "strand/wire.h"

struct strand_registry_client {
    rc_config_t config;
    rc_http_t http;
    rc_cache_t cache;
};

static int set_error(strand_registry_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_error(strand_registry_error_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        memset(err, 0, sizeof *err);
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Cheap on purpose: it runs on every cache hit. */
static void clear_error(strand_registry_error_t *err)
{
    if (err) {
        err->code = err->http_status = err->error_code = 0;
        err->message[0] = '\0';
    }
}

/* ---- records --------------------------------------------------------------- */

static void record_free(rc_schema_t *s)
{
    strand_registry_schema_t *p = &s->pub;
    sd_free((char *)p->subject);
    sd_free((char *)p->schema_type);
    sd_free((char *)p->schema);
    for (size_t i = 0; i < p->reference_count; i++) {
        sd_free((char *)p->references[i].name);
        sd_free((char *)p->references[i].subject);
    }
    sd_free((void *)p->references);
    sd_free(s);
}

void rc_schema__release(rc_schema_t *schema)
{
    if (schema && __atomic_sub_fetch(&schema->refs, 1, __ATOMIC_ACQ_REL) == 0)
        record_free(schema);
}

const strand_registry_schema_t *
strand_registry_schema_retain(const strand_registry_schema_t *schema)
{
    if (schema)
        __atomic_add_fetch(&((rc_schema_t *)schema)->refs, 1, __ATOMIC_RELAXED);
    return schema;
}

void strand_registry_schema_release(const strand_registry_schema_t *schema)
{
    rc_schema__release((rc_schema_t *)schema);
}

/* What a request already knows about its answer: the answer's own fields
 * win, these fill the gaps (GET /schemas/ids/{id} does not repeat the id;
 * a register answer may carry only the id). */
typedef struct known_fields {
    int32_t id;
    const char *subject;
    int32_t version;
    const strand_registry_schema_input_t *input;
} known_fields_t;

static int copy_references(strand_registry_schema_t *p, const strand_registry_reference_t *refs,
                           size_t count)
{
    if (count == 0)
        return 0;
    strand_registry_reference_t *copy = sd_calloc(count, sizeof *copy);
    if (!copy)
        return -1;
    p->references = copy;
    for (size_t i = 0; i < count; i++) {
        copy[i].name = sd_strdup(refs[i].name);
        copy[i].subject = sd_strdup(refs[i].subject);
        copy[i].version = refs[i].version;
        p->reference_count = i + 1;
        if (!copy[i].name || !copy[i].subject)
            return -1;
    }
    return 0;
}

static int json_references(strand_registry_schema_t *p, const json_t *refs, const char *what,
                           strand_registry_error_t *err)
{
    if (!json_is_array(refs))
        return set_error(err, STRAND_REGISTRY_ERR_RESPONSE,
                         "the answer to %s has references that are not an array", what);
    size_t count = json_array_size(refs);
    if (count == 0)
        return 0;
    strand_registry_reference_t *copy = sd_calloc(count, sizeof *copy);
    if (!copy)
        return set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
    p->references = copy;
    for (size_t i = 0; i < count; i++) {
        const json_t *r = json_array_get(refs, i);
        const json_t *name = json_object_get(r, "name");
        const json_t *subject = json_object_get(r, "subject");
        const json_t *version = json_object_get(r, "version");
        if (!json_is_string(name) || !json_is_string(subject) || !json_is_integer(version))
            return set_error(err, STRAND_REGISTRY_ERR_RESPONSE,
                             "the answer to %s has a reference %zu without name, subject and "
                             "version",
                             what, i);
        copy[i].name = sd_strdup(json_string_value(name));
        copy[i].subject = sd_strdup(json_string_value(subject));
        copy[i].version = (int32_t)json_integer_value(version);
        p->reference_count = i + 1;
        if (!copy[i].name || !copy[i].subject)
            return set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int int32_field(const json_t *root, const char *name, int32_t fallback, int32_t *out)
{
    const json_t *v = json_object_get(root, name);
    *out = fallback;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
        json_integer_value(v) > INT32_MAX)
        return -1;
    *out = (int32_t)json_integer_value(v);
    return 0;
}

/* Builds a record (one reference) from a 2xx answer's JSON body. */
static int record_from_json(const char *body, size_t len, const char *what,
                            const known_fields_t *known, rc_schema_t **out, int *from_answer,
                            strand_registry_error_t *err)
{
    *from_answer = 0;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    rc_schema_t *s = NULL;
    int rc = 0;
    if (!json_is_object(root)) {
        rc = set_error(err, STRAND_REGISTRY_ERR_RESPONSE,
                       "the answer to %s is not a JSON object%s%s", what, root ? "" : ": ",
                       root ? "" : jerr.text);
        goto fail;
    }
    s = sd_calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->refs = 1;
    strand_registry_schema_t *p = &s->pub;
    if (int32_field(root, "id", known->id, &p->id) != 0 ||
        int32_field(root, "version", known->version, &p->version) != 0) {
        rc = set_error(err, STRAND_REGISTRY_ERR_RESPONSE,
                       "the answer to %s has an id or version that is not a 32-bit integer", what);
        goto fail;
    }
    const json_t *guid = json_object_get(root, "guid");
    if (json_is_string(guid) && json_string_length(guid) < sizeof p->guid)
        memcpy(p->guid, json_string_value(guid), json_string_length(guid) + 1);
    const json_t *subject = json_object_get(root, "subject");
    const char *subject_text =
        json_is_string(subject) ? json_string_value(subject) : known->subject;
    if (subject_text && !(p->subject = sd_strdup(subject_text)))
        goto nomem;

    const json_t *schema = json_object_get(root, "schema");
    const json_t *type = json_object_get(root, "schemaType");
    const strand_registry_schema_input_t *in = known->input;
    const char *type_text = json_is_string(type) ? json_string_value(type)
                            : in && in->schema_type && !json_is_string(schema) ? in->schema_type
                                                                               : "AVRO";
    if (!(p->schema_type = sd_strdup(type_text)))
        goto nomem;
    if (json_is_string(schema)) {
        *from_answer = 1;
        p->schema_len = json_string_length(schema);
        p->schema = sd_strndup(json_string_value(schema), p->schema_len);
        if (!p->schema)
            goto nomem;
        const json_t *refs = json_object_get(root, "references");
        if (refs && (rc = json_references(p, refs, what, err)) != 0)
            goto fail;
    } else if (in) {
        p->schema_len = in->schema_len;
        p->schema = sd_strndup(in->schema, in->schema_len);
        if (!p->schema || copy_references(p, in->references, in->reference_count) != 0)
            goto nomem;
    } else {
        rc = set_error(err, STRAND_REGISTRY_ERR_RESPONSE, "the answer to %s has no schema", what);
        goto fail;
    }
    json_decref(root);
    *out = s;
    return 0;
nomem:
    rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
fail:
    if (s)
        record_free(s);
    json_decref(root);
    return rc;
}

/* ---- one request ---------------------------------------------------------- */

typedef enum path_kind { PATH_ID, PATH_GUID, PATH_SUBJECT } path_kind_t;

/* One call's request, built into a path and body only on a cache miss so
 * that a hit neither formats nor allocates. */
typedef struct request {
    strand_registry_client_t *client;
    const char *method;
    path_kind_t path_kind;
    const char *guid;     /* PATH_GUID: canonical text */
    const char *suffix;   /* PATH_SUBJECT: after /subjects/{subject} */
    known_fields_t known; /* known.id for PATH_ID, known.subject for PATH_SUBJECT */
    int drops_latest;     /* a register: the subject's cached latest goes */
} request_t;

/* The key of a subject-scoped entry: op, an int32 (a version) when
 * with_int, then the subject. In buf when it fits, else in *heap (freed by
 * the caller with sd_free). NULL when out of memory. */
static const uint8_t *subject_key(uint8_t *buf, size_t cap, char op, int with_int, int32_t value,
                                  const char *subject, size_t *len, uint8_t **heap)
{
    size_t subject_len = strlen(subject);
    size_t n = 1 + (with_int ? 4 : 0) + subject_len;
    uint8_t *p = buf;
    *heap = NULL;
    if (n > cap) {
        p = *heap = sd_malloc(n);
        if (!p)
            return NULL;
    }
    p[0] = (uint8_t)op;
    if (with_int)
        sd_put_be32(p + 1, (uint32_t)value);
    memcpy(p + 1 + (with_int ? 4 : 0), subject, subject_len);
    *len = n;
    return p;
}

static void drop_latest(strand_registry_client_t *client, const char *subject)
{
    uint8_t buf[256], *heap;
    size_t len;
    const uint8_t *key = subject_key(buf, sizeof buf, 'l', 0, 0, subject, &len, &heap);
    if (key)
        rc_cache__drop(&client->cache, key, len);
    sd_free(heap);
}

/* A subject-scoped answer that carries the registry's schema text also
 * answers GET /schemas/ids/{id} and /schemas/guids/{guid}, as Confluent's
 * client remembers a registered id: keep an id-only copy under those keys
 * (unless they are already cached), so that a process that registers and
 * then reads its own records asks once. */
static void remember_by_id(strand_registry_client_t *client, const rc_schema_t *from)
{
    const strand_registry_schema_t *p = &from->pub;
    if (p->id <= 0)
        return;
    rc_schema_t *copy = sd_calloc(1, sizeof *copy);
    if (!copy)
        return;
    copy->refs = 1;
    copy->pub.id = p->id;
    copy->pub.version = -1;
    memcpy(copy->pub.guid, p->guid, sizeof p->guid);
    copy->pub.schema_len = p->schema_len;
    copy->pub.schema_type = sd_strdup(p->schema_type);
    copy->pub.schema = sd_strndup(p->schema, p->schema_len);
    if (!copy->pub.schema_type || !copy->pub.schema ||
        copy_references(&copy->pub, p->references, p->reference_count) != 0) {
        record_free(copy);
        return;
    }
    uint8_t key[17] = {'i'};
    sd_put_be32(key + 1, (uint32_t)p->id);
    rc_cache__put(&client->cache, key, 5, copy);
    key[0] = 'g';
    strand_wire_error_t werr;
    if (p->guid[0] && strand_wire_guid_parse(p->guid, strlen(p->guid), key + 1, &werr) == 0)
        rc_cache__put(&client->cache, key, 17, copy);
    rc_schema__release(copy);
}

/* Appends s percent-encoded (everything but RFC 3986 unreserved bytes), so
 * that a subject with '/', '?', '%' or spaces stays one path segment. */
static void write_escaped(sd_writer_t *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            sd_write_u8(w, *p);
        } else {
            uint8_t esc[3] = {'%', (uint8_t)hex[*p >> 4], (uint8_t)hex[*p & 15]};
            sd_write_bytes(w, esc, 3);
        }
    }
}

/* The request's path as an owned string; NULL when out of memory. */
static char *request_path(const request_t *req)
{
    char fixed[80];
    if (req->path_kind == PATH_ID) {
        snprintf(fixed, sizeof fixed, "/schemas/ids/%d", (int)req->known.id);
        return sd_strdup(fixed);
    }
    if (req->path_kind == PATH_GUID) {
        snprintf(fixed, sizeof fixed, "/schemas/guids/%s", req->guid);
        return sd_strdup(fixed);
    }
    sd_writer_t w;
    sd_writer_init(&w);
    sd_write_bytes(&w, "/subjects/", 10);
    write_escaped(&w, req->known.subject);
    sd_write_bytes(&w, req->suffix, strlen(req->suffix) + 1);
    if (w.err) {
        sd_writer_free(&w);
        return NULL;
    }
    size_t len;
    return (char *)sd_writer_steal(&w, &len);
}

static int schema_body(const strand_registry_schema_input_t *in, char **body, size_t *len,
                       strand_registry_error_t *err);

/* The cache's fetch: one HTTP exchange and the record built from it. */
static int run_request(void *arg, rc_schema_t **out, strand_registry_error_t *err)
{
    request_t *req = arg;
    char *path = request_path(req), *body = NULL, *response = NULL;
    size_t body_len = 0, len = 0;
    int rc = 0;
    if (!path) {
        rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (req->known.input && (rc = schema_body(req->known.input, &body, &body_len, err)) != 0)
        goto done;
    rc = rc_http__request(&req->client->http, req->method, path, body, body_len, &response, &len,
                          err);
    if (rc == 0) {
        char what[300];
        snprintf(what, sizeof what, "%s %.250s", req->method, path);
        int from_answer = 0;
        rc = record_from_json(response, len, what, &req->known, out, &from_answer, err);
        /* A new version may now be the latest. */
        if (rc == 0 && req->drops_latest)
            drop_latest(req->client, req->known.subject);
        if (rc == 0 && from_answer && req->path_kind == PATH_SUBJECT)
            remember_by_id(req->client, *out);
    }
done:
    sd_free(response);
    sd_free(body);
    sd_free(path);
    return rc;
}

/* Looks key up in the cache, running req on a miss. key NULL means that
 * building it ran out of memory. */
static int cached_request(strand_registry_client_t *client, const void *key, size_t key_len,
                          int64_t ttl_ms, request_t *req, const strand_registry_schema_t **out,
                          strand_registry_error_t *err)
{
    rc_schema_t *result = NULL;
    int rc;
    if (!key)
        rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
    else
        rc = rc_cache__get(&client->cache, key, key_len, ttl_ms, run_request, req, &result, err);
    *out = rc == 0 ? &result->pub : NULL;
    if (rc == 0)
        clear_error(err);
    return rc;
}

static int check_subject(const char *subject, const strand_registry_schema_t **out,
                         strand_registry_error_t *err)
{
    *out = NULL;
    if (!subject || !*subject)
        return set_error(err, STRAND_REGISTRY_ERR_ARGUMENT, "the subject is NULL or empty");
    return 0;
}

/* ---- the API --------------------------------------------------------------- */

int strand_registry_client_new(const char *const *keys, const char *const *values, size_t n,
                               strand_registry_client_t **out, strand_registry_error_t *err)
{
    *out = NULL;
    clear_error(err);
    strand_registry_client_t *c = sd_calloc(1, sizeof *c);
    if (!c)
        return set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
    int rc = rc_config__parse(&c->config, keys, values, n, err);
    if (rc != 0) {
        rc_config__free(&c->config);
        sd_free(c);
        return rc;
    }
    rc = rc_http__init(&c->http, &c->config, err);
    if (rc != 0) {
        rc_config__free(&c->config);
        sd_free(c);
        return rc;
    }
    if (rc_cache__init(&c->cache) != 0) {
        rc_http__free(&c->http);
        rc_config__free(&c->config);
        sd_free(c);
        return set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

void strand_registry_client_free(strand_registry_client_t *client)
{
    if (!client)
        return;
    rc_cache__free(&client->cache);
    rc_http__free(&client->http);
    rc_config__free(&client->config);
    sd_free(client);
}

int strand_registry_get_by_id(strand_registry_client_t *client, int32_t id,
                              const strand_registry_schema_t **out, strand_registry_error_t *err)
{
    request_t req = {.client = client, .method = "GET", .path_kind = PATH_ID};
    req.known = (known_fields_t){.id = id, .version = -1};
    uint8_t key[5] = {'i'};
    sd_put_be32(key + 1, (uint32_t)id);
    return cached_request(client, key, sizeof key, -1, &req, out, err);
}

int strand_registry_get_by_guid(strand_registry_client_t *client, const char *guid,
                                const strand_registry_schema_t **out, strand_registry_error_t *err)
{
    *out = NULL;
    uint8_t key[17] = {'g'};
    strand_wire_error_t werr;
    if (!guid || strand_wire_guid_parse(guid, strlen(guid), key + 1, &werr) != 0)
        return set_error(err, STRAND_REGISTRY_ERR_ARGUMENT, "invalid GUID: %s",
                         guid ? werr.message : "NULL");
    char text[STRAND_WIRE_GUID_TEXT_SIZE];
    strand_wire_guid_format(key + 1, text);
    request_t req = {.client = client, .method = "GET", .path_kind = PATH_GUID, .guid = text};
    req.known = (known_fields_t){.id = -1, .version = -1};
    return cached_request(client, key, sizeof key, -1, &req, out, err);
}

int strand_registry_get_latest(strand_registry_client_t *client, const char *subject,
                               const strand_registry_schema_t **out, strand_registry_error_t *err)
{
    int rc = check_subject(subject, out, err);
    if (rc != 0)
        return rc;
    request_t req = {
        .client = client, .method = "GET", .path_kind = PATH_SUBJECT, .suffix = "/versions/latest"};
    req.known = (known_fields_t){.id = -1, .subject = subject, .version = -1};
    uint8_t buf[256], *heap;
    size_t len = 0;
    const uint8_t *key = subject_key(buf, sizeof buf, 'l', 0, 0, subject, &len, &heap);
    rc = cached_request(client, key, len, client->config.latest_ttl_ms, &req, out, err);
    sd_free(heap);
    return rc;
}

int strand_registry_get_version(strand_registry_client_t *client, const char *subject,
                                int32_t version, const strand_registry_schema_t **out,
                                strand_registry_error_t *err)
{
    int rc = check_subject(subject, out, err);
    if (rc != 0)
        return rc;
    char suffix[32];
    snprintf(suffix, sizeof suffix, "/versions/%d", (int)version);
    request_t req = {
        .client = client, .method = "GET", .path_kind = PATH_SUBJECT, .suffix = suffix};
    req.known = (known_fields_t){.id = -1, .subject = subject, .version = version};
    uint8_t buf[256], *heap;
    size_t len = 0;
    const uint8_t *key = subject_key(buf, sizeof buf, 'v', 1, version, subject, &len, &heap);
    rc = cached_request(client, key, len, -1, &req, out, err);
    sd_free(heap);
    return rc;
}

/* The JSON body of register and lookup: schema, schemaType unless AVRO,
 * references when there are any. */
static int schema_body(const strand_registry_schema_input_t *in, char **body, size_t *len,
                       strand_registry_error_t *err)
{
    json_t *root = json_object();
    json_t *text = json_stringn(in->schema, in->schema_len);
    json_t *refs = NULL;
    int rc = 0;
    if (!root)
        goto nomem;
    if (!text) {
        rc = set_error(err, STRAND_REGISTRY_ERR_ARGUMENT, "the schema text is not valid UTF-8");
        goto done;
    }
    if (json_object_set_new(root, "schema", text) != 0) {
        text = NULL;
        goto nomem;
    }
    text = NULL;
    if (in->schema_type && strcmp(in->schema_type, "AVRO") != 0 &&
        json_object_set_new(root, "schemaType", json_string(in->schema_type)) != 0)
        goto nomem;
    if (in->reference_count > 0) {
        refs = json_array();
        if (!refs)
            goto nomem;
        for (size_t i = 0; i < in->reference_count; i++) {
            const strand_registry_reference_t *r = &in->references[i];
            json_t *item = json_pack("{s:s, s:s, s:i}", "name", r->name, "subject", r->subject,
                                     "version", (int)r->version);
            if (!item || json_array_append_new(refs, item) != 0)
                goto nomem;
        }
        if (json_object_set_new(root, "references", refs) != 0) {
            refs = NULL;
            goto nomem;
        }
        refs = NULL;
    }
    *body = json_dumps(root, JSON_COMPACT);
    if (!*body)
        goto nomem;
    /* json_dumps allocates with malloc; the request frees with sd_free. */
    *len = strlen(*body);
    char *copy = sd_strndup(*body, *len);
    free(*body);
    *body = copy;
    if (!copy)
        goto nomem;
    goto done;
nomem:
    rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
done:
    json_decref(text);
    json_decref(refs);
    json_decref(root);
    return rc;
}

static int check_input(const strand_registry_schema_input_t *in, strand_registry_error_t *err)
{
    if (!in || !in->schema)
        return set_error(err, STRAND_REGISTRY_ERR_ARGUMENT, "the schema is NULL");
    if (in->reference_count > 0 && !in->references)
        return set_error(err, STRAND_REGISTRY_ERR_ARGUMENT, "the references are NULL");
    for (size_t i = 0; i < in->reference_count; i++)
        if (!in->references[i].name || !in->references[i].subject)
            return set_error(err, STRAND_REGISTRY_ERR_ARGUMENT,
                             "reference %zu has no name or no subject", i);
    return 0;
}

/* The key of a register ('r') or lookup ('k'): everything the registry
 * answers on, with lengths so that no two inputs share a key. */
static void schema_key(sd_writer_t *key, char op, const char *subject, int normalize,
                       const strand_registry_schema_input_t *in)
{
    const char *type = in->schema_type ? in->schema_type : "AVRO";
    sd_write_u8(key, (uint8_t)op);
    sd_write_u8(key, normalize ? 1 : 0);
    sd_write_u32(key, (uint32_t)strlen(subject));
    sd_write_bytes(key, subject, strlen(subject));
    sd_write_u32(key, (uint32_t)strlen(type));
    sd_write_bytes(key, type, strlen(type));
    sd_write_u32(key, (uint32_t)in->schema_len);
    sd_write_bytes(key, in->schema, in->schema_len);
    for (size_t i = 0; i < in->reference_count; i++) {
        const strand_registry_reference_t *r = &in->references[i];
        sd_write_u32(key, (uint32_t)strlen(r->name));
        sd_write_bytes(key, r->name, strlen(r->name));
        sd_write_u32(key, (uint32_t)strlen(r->subject));
        sd_write_bytes(key, r->subject, strlen(r->subject));
        sd_write_i32(key, r->version);
    }
}

static int schema_call(strand_registry_client_t *client, char op, const char *subject,
                       const strand_registry_schema_input_t *in, int normalize,
                       const strand_registry_schema_t **out, strand_registry_error_t *err)
{
    int rc = check_subject(subject, out, err);
    if (rc == 0)
        rc = check_input(in, err);
    if (rc != 0)
        return rc;
    const char *suffix = op == 'r' ? (normalize ? "/versions?normalize=true" : "/versions")
                                   : (normalize ? "?normalize=true" : "");
    request_t req = {
        .client = client, .method = "POST", .path_kind = PATH_SUBJECT, .suffix = suffix};
    req.known = (known_fields_t){.id = -1, .subject = subject, .version = -1, .input = in};
    req.drops_latest = op == 'r';
    sd_writer_t key;
    sd_writer_init(&key);
    schema_key(&key, op, subject, normalize, in);
    rc = cached_request(client, key.err ? NULL : key.buf, key.len, -1, &req, out, err);
    sd_writer_free(&key);
    return rc;
}

int strand_registry_register(strand_registry_client_t *client, const char *subject,
                             const strand_registry_schema_input_t *schema, int normalize,
                             const strand_registry_schema_t **out, strand_registry_error_t *err)
{
    return schema_call(client, 'r', subject, schema, normalize, out, err);
}

int strand_registry_lookup(strand_registry_client_t *client, const char *subject,
                           const strand_registry_schema_input_t *schema, int normalize,
                           const strand_registry_schema_t **out, strand_registry_error_t *err)
{
    return schema_call(client, 'k', subject, schema, normalize, out, err);
}

void strand_registry_client_stats(strand_registry_client_t *client, strand_registry_stats_t *out)
{
    out->http_requests = __atomic_load_n(&client->http.requests, __ATOMIC_RELAXED);
    out->cache_hits = __atomic_load_n(&client->cache.hits, __ATOMIC_RELAXED);
    out->cache_misses = __atomic_load_n(&client->cache.misses, __ATOMIC_RELAXED);
    out->cache_joins = __atomic_load_n(&client->cache.joins, __ATOMIC_RELAXED);
}
