/*
 * sr_api_schemas.c - the /schemas endpoints of Confluent Schema Registry
 * (rest/resources/SchemasResource.java): every schema version, a schema by
 * id or GUID (whole, text only, its subjects and versions) and the schema
 * types served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sr_api_int.h"

/* offset/limit as Confluent reads them: limit < 0 means all. */
typedef struct page {
    long offset;
    long limit;
    long seen;
} page_t;

static page_t page_of(const sr_api_call_t *call)
{
    page_t page = {
        .offset = sr_api__arg_long(call, "offset", 0),
        .limit = sr_api__arg_long(call, "limit", -1),
    };
    if (page.offset < 0)
        page.offset = 0;
    return page;
}

/* True when the next item belongs to the page. */
static bool page_take(page_t *page)
{
    long index = page->seen++;
    if (index < page->offset)
        return false;
    return page->limit < 0 || index - page->offset < page->limit;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void sr_api__get_schemas(sr_api_call_t *call)
{
    const char *prefix = sr_api__arg(call, "subjectPrefix");
    if (!prefix)
        prefix = call->context;
    bool deleted = sr_api__arg_bool(call, "deleted");
    bool latest_only = sr_api__arg_bool(call, "latestOnly");
    page_t page = page_of(call);
    json_t *out = json_array();

    sr_state_read_lock(call->state);
    size_t count = sr_state_subject_count(call->state);
    for (size_t i = 0; out && i < count; i++) {
        const sr_subject_t *subject = sr_state_subject_at(call->state, i);
        if (!starts_with(subject->name, prefix))
            continue;
        const sr_version_t *latest = sr_api__find_version(subject, 0, deleted);
        for (size_t j = 0; j < subject->version_count; j++) {
            const sr_version_t *v = &subject->versions[j];
            if ((v->deleted && !deleted) || (latest_only && v != latest))
                continue;
            const sr_schema_t *schema = sr_state_schema(call->state, v->id);
            if (!schema || !page_take(&page))
                continue;
            if (json_array_append_new(out, sr_api__schema_json(subject->name, v, schema)) != 0) {
                json_decref(out);
                out = NULL;
                break;
            }
        }
    }
    sr_state_read_unlock(call->state);
    sr_api__reply(call, 200, out);
}

static bool parse_id(sr_api_call_t *call, int32_t *id)
{
    /* Any Java int converts; a negative one is simply not found. */
    const char *text = call->params[0];
    bool negative = text[0] == '-';
    if (sr_api__parse_int32(text + negative, id)) {
        if (negative)
            *id = -*id;
        return true;
    }
    /* Jersey cannot convert the path parameter to an Integer: a plain 404. */
    sr_api__error(call, 404, "HTTP 404 Not Found");
    return false;
}

/* Confluent's SchemaString: schemaType, schema, references, metadata,
 * ruleSet, maxId, guid. */
static json_t *schema_string_json(const sr_schema_t *schema, int32_t max_id)
{
    json_t *out = json_object();
    if (!out)
        return NULL;
    int rc = 0;
    if (strcmp(schema->schema_type, "AVRO") != 0)
        rc |= json_object_set_new(out, "schemaType", json_string(schema->schema_type));
    rc |= json_object_set_new(out, "schema", json_string(schema->schema));
    if (schema->reference_count)
        rc |= json_object_set_new(out, "references", sr_api__references_json(schema));
    if (schema->metadata)
        rc |= json_object_set(out, "metadata", schema->metadata);
    if (schema->rule_set)
        rc |= json_object_set(out, "ruleSet", schema->rule_set);
    if (max_id > 0)
        rc |= json_object_set_new(out, "maxId", json_integer(max_id));
    if (schema->guid[0])
        rc |= json_object_set_new(out, "guid", json_string(schema->guid));
    if (rc) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static void schema_not_found(sr_api_call_t *call, int32_t id)
{
    sr_api__error(call, SR_E_SCHEMA_NOT_FOUND, "Schema %d not found", id);
}

void sr_api__get_schema_by_id(sr_api_call_t *call)
{
    int32_t id;
    if (!parse_id(call, &id))
        return;
    sr_state_read_lock(call->state);
    const sr_schema_t *schema = sr_state_schema(call->state, id);
    if (!schema) {
        sr_state_read_unlock(call->state);
        return schema_not_found(call, id);
    }
    int32_t max_id = 0;
    if (sr_api__arg_bool(call, "fetchMaxId"))
        max_id = sr_state_next_id(call->state) - 1;
    json_t *out = schema_string_json(schema, max_id);
    if (out && !sr_api__format_member(call, out, schema)) {
        json_decref(out);
        out = NULL;
    }
    sr_state_read_unlock(call->state);
    sr_api__reply(call, 200, out);
}

void sr_api__get_schema_text_by_id(sr_api_call_t *call)
{
    int32_t id;
    if (!parse_id(call, &id))
        return;
    sr_state_read_lock(call->state);
    const sr_schema_t *schema = sr_state_schema(call->state, id);
    char *text = schema ? sr_api__formatted(call, schema, sr_api__arg(call, "format")) : NULL;
    sr_state_read_unlock(call->state);
    if (schema && !text)
        return sr_api__nomem(call);
    if (text)
        sr_api__reply_text(call, text, strlen(text));
    sd_free(text);
    if (!schema)
        schema_not_found(call, id);
}

typedef struct collect {
    json_t *out;
    page_t page;
    bool subjects_only;
    const char *last_subject;
    bool failed;
} collect_t;

static void collect_version(void *ctx, const sr_subject_t *subject, const sr_version_t *version)
{
    collect_t *c = ctx;
    if (c->failed)
        return;
    if (c->subjects_only) {
        if (c->last_subject && strcmp(c->last_subject, subject->name) == 0)
            return;
        c->last_subject = subject->name;
        if (page_take(&c->page) && json_array_append_new(c->out, json_string(subject->name)))
            c->failed = true;
        return;
    }
    if (!page_take(&c->page))
        return;
    json_t *item = json_object();
    if (!item || json_array_append_new(c->out, item) != 0) {
        c->failed = true;
        return;
    }
    json_object_set_new(item, "subject", json_string(subject->name));
    json_object_set_new(item, "version", json_integer(version->version));
}

static void schema_usage(sr_api_call_t *call, bool subjects_only)
{
    int32_t id;
    if (!parse_id(call, &id))
        return;
    collect_t c = {.out = json_array(), .page = page_of(call), .subjects_only = subjects_only};
    if (!c.out)
        return sr_api__nomem(call);
    sr_state_read_lock(call->state);
    const sr_schema_t *schema = sr_state_schema(call->state, id);
    if (schema)
        sr_state_versions_of(call->state, id, sr_api__arg_bool(call, "deleted"), collect_version,
                             &c);
    sr_state_read_unlock(call->state);
    if (!schema) {
        json_decref(c.out);
        return schema_not_found(call, id);
    }
    if (c.failed) {
        json_decref(c.out);
        return sr_api__nomem(call);
    }
    sr_api__reply(call, 200, c.out);
}

void sr_api__get_schema_subjects(sr_api_call_t *call) { schema_usage(call, true); }

void sr_api__get_schema_versions(sr_api_call_t *call) { schema_usage(call, false); }

void sr_api__get_schema_by_guid(sr_api_call_t *call)
{
    const char *guid = call->params[0];
    sr_state_read_lock(call->state);
    const sr_schema_t *schema = sr_state_schema_by_guid(call->state, guid);
    json_t *out = schema ? schema_string_json(schema, 0) : NULL;
    if (out && !sr_api__format_member(call, out, schema)) {
        json_decref(out);
        out = NULL;
    }
    sr_state_read_unlock(call->state);
    if (!schema)
        return sr_api__error(call, SR_E_SCHEMA_NOT_FOUND, "Schema %s not found", guid);
    sr_api__reply(call, 200, out);
}

void sr_api__get_schema_ids_by_guid(sr_api_call_t *call)
{
    const char *guid = call->params[0];
    sr_state_read_lock(call->state);
    const sr_schema_t *schema = sr_state_schema_by_guid(call->state, guid);
    int32_t id = schema ? schema->id : 0;
    sr_state_read_unlock(call->state);
    if (!schema)
        return sr_api__error(call, SR_E_SCHEMA_NOT_FOUND, "Schema %s not found", guid);
    /* Confluent's ContextId list: one id space here, the default context. */
    json_t *out = json_pack("[{s:s,s:i}]", "context", ".", "id", (int)id);
    sr_api__reply(call, 200, out);
}

void sr_api__get_schema_types(sr_api_call_t *call)
{
    sr_api__reply(call, 200, json_pack("[s,s,s]", "JSON", "PROTOBUF", "AVRO"));
}
