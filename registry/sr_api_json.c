/*
 * sr_api_json.c - what every endpoint of the REST layer uses: Confluent's
 * error bodies and the table from its error codes to HTTP statuses, query
 * parameters as Jersey reads them, version ids (rest/VersionId.java), the
 * Schema entity's JSON (client/.../rest/entities/Schema.java: field order,
 * fields omitted when empty), the settings in scope, and writes.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "sr_api_int.h"

/* Confluent error code → HTTP status (the RestException subclasses). */
static const struct {
    int first, last, status;
} status_table[] = {
    {400, 599, 0},       /* HTTP-level codes are their own status */
    {40400, 40499, 404}, /* not found */
    {40900, 40999, 409}, /* incompatible schema */
    {42200, 42299, 422}, /* unprocessable */
    {50000, 50099, 500}, /* store, timeout, forwarding, leader */
    {50300, 50399, 503}, /* starting */
};

int sr_api__http_status(int code)
{
    for (size_t i = 0; i < sizeof status_table / sizeof status_table[0]; i++)
        if (code >= status_table[i].first && code <= status_table[i].last)
            return status_table[i].status ? status_table[i].status : code;
    return 500;
}

static void set_body(sr_api_call_t *call, int status, char *text, size_t len)
{
    call->resp->status = status;
    call->resp->body = text;
    call->resp->body_len = len;
}

void sr_api__nomem(sr_api_call_t *call)
{
    static const char fixed[] = "{\"error_code\":50001,\"message\":\"Out of memory\"}";
    free(call->resp->body);
    char *text = malloc(sizeof fixed);
    if (text)
        memcpy(text, fixed, sizeof fixed);
    set_body(call, 500, text, text ? sizeof fixed - 1 : 0);
}

void sr_api__reply(sr_api_call_t *call, int status, json_t *value)
{
    if (!value)
        return sr_api__nomem(call);
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(value);
    if (!text)
        return sr_api__nomem(call);
    free(call->resp->body);
    set_body(call, status, text, strlen(text));
}

void sr_api__reply_text(sr_api_call_t *call, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return sr_api__nomem(call);
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(call->resp->body);
    set_body(call, 200, copy, len);
}

void sr_api__error(sr_api_call_t *call, int code, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *text = json_string(message);
    if (!text) {
        /* A path with bytes that are not UTF-8 ends up in the message. */
        for (char *p = message; *p; p++)
            if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
                *p = '?';
        text = json_string(message);
    }
    json_t *body = json_object();
    if (body) {
        json_object_set_new(body, "error_code", json_integer(code));
        json_object_set_new(body, "message", text);
    } else {
        json_decref(text);
    }
    sr_api__reply(call, sr_api__http_status(code), body);
}

void sr_api__write_error(sr_api_call_t *call, int rc, const sd_err_t *err, const char *what)
{
    const char *detail = err && err->msg[0] ? err->msg : "unknown error";
    if (rc == SR_ERR_TIMEOUT)
        sr_api__error(call, SR_E_TIMEOUT,
                      "%s operation timed out; the write may still be applied later: %s", what,
                      detail);
    else
        sr_api__error(call, SR_E_STORE, "%s operation failed while writing to the Kafka store: %s",
                      what, detail);
}

int sr_api__write(sr_api_call_t *call, const sr_write_t *records, size_t count, const char *what)
{
    sd_err_t err = {0};
    int rc = sr_registry_write(call->registry, records, count, &err);
    if (rc != 0)
        sr_api__write_error(call, rc, &err, what);
    return rc;
}

void sr_api__records_add(sr_api_records_t *records, char *key, char *value)
{
    if (!key || records->failed) {
        records->failed = true;
        free(key);
        free(value);
        return;
    }
    if (records->count == records->cap) {
        size_t cap = records->cap ? records->cap * 2 : 8;
        sr_write_t *items = sd_realloc(records->items, cap * sizeof *items);
        if (!items) {
            records->failed = true;
            free(key);
            free(value);
            return;
        }
        records->items = items;
        records->cap = cap;
    }
    records->items[records->count].key = key;
    records->items[records->count].value = value;
    records->count++;
}

void sr_api__records_free(sr_api_records_t *records)
{
    for (size_t i = 0; i < records->count; i++) {
        free((char *)records->items[i].key);
        free((char *)records->items[i].value);
    }
    sd_free(records->items);
    memset(records, 0, sizeof *records);
}

const char *sr_api__arg(const sr_api_call_t *call, const char *key)
{
    const char *value = NULL;
    for (size_t i = 0; i < call->req->arg_count; i++)
        if (call->req->args[i].key && strcmp(call->req->args[i].key, key) == 0)
            value = call->req->args[i].value ? call->req->args[i].value : "";
    return value;
}

bool sr_api__arg_bool(const sr_api_call_t *call, const char *key)
{
    const char *value = sr_api__arg(call, key);
    return value && strcasecmp(value, "true") == 0;
}

long sr_api__arg_long(const sr_api_call_t *call, const char *key, long fallback)
{
    const char *value = sr_api__arg(call, key);
    if (!value || !*value)
        return fallback;
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (*end || errno)
        return fallback;
    return n;
}

bool sr_api__parse_int32(const char *text, int32_t *out)
{
    if (!text || !*text)
        return false;
    int64_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (*p - '0');
        if (n > INT32_MAX)
            return false;
    }
    *out = (int32_t)n;
    return true;
}

bool sr_api__parse_version(const char *text, int32_t *version)
{
    if (strcasecmp(text, "latest") == 0 || strcmp(text, "-1") == 0) {
        *version = 0;
        return true;
    }
    int32_t n;
    if (!sr_api__parse_int32(text, &n) || n < 1)
        return false;
    *version = n;
    return true;
}

void sr_api__invalid_version(sr_api_call_t *call, const char *text)
{
    sr_api__error(call, SR_E_INVALID_VERSION,
                  "The specified version '%s' is not a valid version id. Allowed values are "
                  "between [1, 2^31-1] and the string \"latest\"",
                  text);
}

json_t *sr_api__references_json(const sr_schema_t *schema)
{
    json_t *refs = json_array();
    for (size_t i = 0; refs && i < schema->reference_count; i++) {
        const sr_reference_t *r = &schema->references[i];
        json_t *ref = json_object();
        if (!ref || json_array_append_new(refs, ref) != 0) {
            json_decref(refs);
            return NULL;
        }
        json_object_set_new(ref, "name", json_string(r->name));
        json_object_set_new(ref, "subject", json_string(r->subject));
        json_object_set_new(ref, "version", json_integer(r->version));
    }
    return refs;
}

json_t *sr_api__schema_json(const char *subject, const sr_version_t *version,
                            const sr_schema_t *schema)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    int rc = 0;
    if (subject)
        rc |= json_object_set_new(out, "subject", json_string(subject));
    if (version)
        rc |= json_object_set_new(out, "version", json_integer(version->version));
    rc |= json_object_set_new(out, "id", json_integer(schema->id));
    if (schema->guid[0])
        rc |= json_object_set_new(out, "guid", json_string(schema->guid));
    if (schema->schema_type && strcmp(schema->schema_type, "AVRO") != 0)
        rc |= json_object_set_new(out, "schemaType", json_string(schema->schema_type));
    if (schema->reference_count)
        rc |= json_object_set_new(out, "references", sr_api__references_json(schema));
    if (schema->metadata)
        rc |= json_object_set(out, "metadata", schema->metadata);
    if (schema->rule_set)
        rc |= json_object_set(out, "ruleSet", schema->rule_set);
    rc |= json_object_set_new(out, "schema", json_stringn(schema->schema, strlen(schema->schema)));
    if (version && version->ts > 0)
        rc |= json_object_set_new(out, "ts", json_integer(version->ts));
    if (version && version->deleted)
        rc |= json_object_set_new(out, "deleted", json_true());
    if (rc) {
        json_decref(out);
        return NULL;
    }
    return out;
}

const json_t *sr_api__config_in_scope(sr_api_call_t *call, const sr_subject_t *subject)
{
    if (subject && subject->config)
        return subject->config;
    return sr_state_global_config(call->state);
}

const char *sr_api__compatibility(sr_api_call_t *call, const sr_subject_t *subject)
{
    const json_t *level;
    if (subject && subject->config &&
        json_is_string(level = json_object_get(subject->config, "compatibilityLevel")))
        return json_string_value(level);
    const json_t *global = sr_state_global_config(call->state);
    if (global && json_is_string(level = json_object_get(global, "compatibilityLevel")))
        return json_string_value(level);
    return sr_registry_default_compatibility(call->registry);
}

const char *sr_api__mode(sr_api_call_t *call, const char *subject_name)
{
    const char *global = sr_state_global_mode(call->state);
    if (global && strcmp(global, "READONLY_OVERRIDE") == 0)
        return "READONLY";
    const sr_subject_t *subject = subject_name ? sr_state_subject(call->state, subject_name) : NULL;
    if (subject && subject->mode)
        return subject->mode;
    /* A context's mode (subject ":.ctx:") applies to the subjects in it. */
    if (subject_name && subject_name[0] == ':') {
        const char *end = strchr(subject_name + 1, ':');
        if (end && end[1]) {
            char context[256];
            size_t len = (size_t)(end - subject_name) + 1;
            if (len < sizeof context) {
                memcpy(context, subject_name, len);
                context[len] = '\0';
                const sr_subject_t *scope = sr_state_subject(call->state, context);
                if (scope && scope->mode)
                    return scope->mode;
            }
        }
    }
    return global ? global : "READWRITE";
}

const sr_version_t *sr_api__find_version(const sr_subject_t *subject, int32_t version,
                                         bool include_deleted)
{
    if (!subject)
        return NULL;
    if (version == 0) {
        if (!include_deleted)
            return sr_subject_latest(subject);
        return subject->version_count ? &subject->versions[subject->version_count - 1] : NULL;
    }
    const sr_version_t *v = sr_subject_version(subject, version);
    if (v && v->deleted && !include_deleted)
        return NULL;
    return v;
}

bool sr_api__valid_subject(const char *name)
{
    if (!*name)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    json_t *probe = json_string(name); /* NULL unless well-formed UTF-8 */
    json_decref(probe);
    return probe != NULL;
}

bool sr_api__subject_visible(const sr_subject_t *subject, bool include_deleted)
{
    if (!subject)
        return false;
    for (size_t i = 0; i < subject->version_count; i++)
        if (include_deleted || !subject->versions[i].deleted)
            return true;
    return false;
}
