/*
 * sr_api_subjects.c - the /subjects endpoints of Confluent Schema Registry
 * (SubjectsResource, SubjectVersionsResource): listing subjects and
 * versions, lookup of a schema under a subject, a version (whole, text,
 * referrers), the latest version matching metadata, and soft / permanent
 * deletes with Confluent's rules (KafkaSchemaRegistry.deleteSubject,
 * deleteSchemaVersion): a permanent delete needs a soft one first, a
 * referenced version cannot go, tombstones in descending version order,
 * CONFIG and MODE tombstoned once the subject is empty, and a NOOP id
 * watermark when the highest id disappears.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sr_api_int.h"
#include "sr_records.h"

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

typedef struct page {
    long offset, limit, seen;
} page_t;

static page_t page_of(const sr_api_call_t *call)
{
    page_t page = {sr_api__arg_long(call, "offset", 0), sr_api__arg_long(call, "limit", -1), 0};
    if (page.offset < 0)
        page.offset = 0;
    return page;
}

static bool page_take(page_t *page)
{
    long index = page->seen++;
    return index >= page->offset && (page->limit < 0 || index - page->offset < page->limit);
}

static void subject_not_found(sr_api_call_t *call)
{
    sr_api__error(call, SR_E_SUBJECT_NOT_FOUND, "Subject '%s' not found.", call->subject);
}

static void read_only(sr_api_call_t *call)
{
    sr_api__error(call, SR_E_NOT_PERMITTED, "Subject %s is in read-only mode", call->subject);
}

static bool is_read_only(sr_api_call_t *call)
{
    const char *mode = sr_api__mode(call, call->subject);
    return strcmp(mode, "READONLY") == 0 || strcmp(mode, "READONLY_OVERRIDE") == 0;
}

void sr_api__list_subjects(sr_api_call_t *call)
{
    const char *prefix = sr_api__arg(call, "subjectPrefix");
    if (!prefix || strcmp(prefix, ":*:") == 0)
        prefix = call->context;
    bool deleted = sr_api__arg_bool(call, "deleted");
    bool deleted_only = sr_api__arg_bool(call, "deletedOnly");
    page_t page = page_of(call);
    json_t *out = json_array();

    sr_state_read_lock(call->state);
    size_t count = sr_state_subject_count(call->state);
    for (size_t i = 0; out && i < count; i++) {
        const sr_subject_t *subject = sr_state_subject_at(call->state, i);
        if (!starts_with(subject->name, prefix))
            continue;
        bool any_live = false, any_deleted = false;
        for (size_t j = 0; j < subject->version_count; j++) {
            if (subject->versions[j].deleted)
                any_deleted = true;
            else
                any_live = true;
        }
        bool take = deleted_only ? any_deleted : (any_live || (deleted && any_deleted));
        if (take && page_take(&page) &&
            json_array_append_new(out, json_string(subject->name)) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    sr_state_read_unlock(call->state);
    sr_api__reply(call, 200, out);
}

static bool same_refs(const sr_schema_t *s, const sr_api_schema_input_t *in)
{
    if (s->reference_count != in->ref_count)
        return false;
    for (size_t i = 0; i < in->ref_count; i++)
        if (strcmp(s->references[i].name, in->refs[i].name) ||
            strcmp(s->references[i].subject, in->refs[i].subject) ||
            s->references[i].version != in->refs[i].version)
            return false;
    return true;
}

static bool json_same(const json_t *a, const json_t *b)
{
    return (!a && !b) || (a && b && json_equal((json_t *)a, (json_t *)b));
}

void sr_api__lookup_schema(sr_api_call_t *call)
{
    bool deleted = sr_api__arg_bool(call, "deleted");
    bool normalize = sr_api__arg_bool(call, "normalize");
    sr_api_schema_input_t in = {0};
    json_t *out = NULL;

    sr_state_read_lock(call->state);
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    const json_t *config = sr_api__config_in_scope(call, subject);
    if (config && json_is_true(json_object_get(config, "normalize")))
        normalize = true;
    if (sr_api__schema_input(call, normalize, &in) != 0)
        goto done;
    if (!sr_api__subject_visible(subject, deleted)) {
        subject_not_found(call);
        goto done;
    }
    for (size_t i = subject->version_count; i-- > 0;) {
        const sr_version_t *v = &subject->versions[i];
        const sr_schema_t *s = sr_state_schema(call->state, v->id);
        if ((v->deleted && !deleted) || !s || strcmp(s->schema_type, in.type_name) != 0 ||
            strcmp(s->schema, in.stored) != 0 || !same_refs(s, &in))
            continue;
        /* metadata and ruleSet only count when the request gives them. */
        if ((in.metadata && !json_same(in.metadata, s->metadata)) ||
            (in.rule_set && !json_same(in.rule_set, s->rule_set)))
            continue;
        out = sr_api__schema_json(subject->name, v, s);
        if (!out)
            sr_api__nomem(call);
        goto done;
    }
    sr_api__error(call, SR_E_SCHEMA_NOT_FOUND, "Schema not found");
done:
    sr_state_read_unlock(call->state);
    if (out)
        sr_api__reply(call, 200, out);
    sr_api__schema_input_free(&in);
}

void sr_api__get_subject_metadata(sr_api_call_t *call)
{
    bool deleted = sr_api__arg_bool(call, "deleted");
    json_t *out = NULL;
    sr_state_read_lock(call->state);
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    if (!sr_api__subject_visible(subject, deleted)) {
        sr_state_read_unlock(call->state);
        return subject_not_found(call);
    }
    for (size_t i = subject->version_count; i-- > 0 && !out;) {
        const sr_version_t *v = &subject->versions[i];
        const sr_schema_t *s = sr_state_schema(call->state, v->id);
        if ((v->deleted && !deleted) || !s)
            continue;
        const json_t *props = s->metadata ? json_object_get(s->metadata, "properties") : NULL;
        /* The n-th key pairs with the n-th value, as Confluent reads them. */
        bool match = true;
        size_t value_index = 0;
        for (size_t a = 0; match && a < call->req->arg_count; a++) {
            if (strcmp(call->req->args[a].key, "key") != 0)
                continue;
            const char *key = call->req->args[a].value ? call->req->args[a].value : "";
            const char *want = NULL;
            for (size_t b = 0, seen = 0; b < call->req->arg_count; b++) {
                if (strcmp(call->req->args[b].key, "value") != 0)
                    continue;
                if (seen++ == value_index) {
                    want = call->req->args[b].value ? call->req->args[b].value : "";
                    break;
                }
            }
            value_index++;
            const json_t *have = props ? json_object_get(props, key) : NULL;
            match = json_is_string(have) && (!want || strcmp(json_string_value(have), want) == 0);
        }
        if (match && !(out = sr_api__schema_json(subject->name, v, s))) {
            sr_state_read_unlock(call->state);
            return sr_api__nomem(call);
        }
    }
    sr_state_read_unlock(call->state);
    if (!out)
        return sr_api__error(call, SR_E_SCHEMA_NOT_FOUND, "Schema not found");
    sr_api__reply(call, 200, out);
}

void sr_api__list_versions(sr_api_call_t *call)
{
    bool deleted = sr_api__arg_bool(call, "deleted");
    bool deleted_only = sr_api__arg_bool(call, "deletedOnly");
    bool negative = sr_api__arg_bool(call, "deletedAsNegative");
    page_t page = page_of(call);
    json_t *out = json_array();

    sr_state_read_lock(call->state);
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    bool found = sr_api__subject_visible(subject, deleted || deleted_only);
    for (size_t i = 0; found && out && i < subject->version_count; i++) {
        const sr_version_t *v = &subject->versions[i];
        bool take = deleted_only ? v->deleted : (!v->deleted || deleted);
        if (!take || !page_take(&page))
            continue;
        int32_t n = v->deleted && negative ? -v->version : v->version;
        if (json_array_append_new(out, json_integer(n)) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    sr_state_read_unlock(call->state);
    if (!found) {
        json_decref(out);
        return subject_not_found(call);
    }
    sr_api__reply(call, 200, out);
}

/* Finds {version} of the path (read lock held); answers 42202 / 40401 /
 * 40402 and returns NULL when it cannot. */
static const sr_version_t *path_version(sr_api_call_t *call, bool deleted,
                                        const sr_subject_t **subject_out)
{
    const char *text = call->params[1];
    int32_t number;
    if (!sr_api__parse_version(text, &number)) {
        sr_api__invalid_version(call, text);
        return NULL;
    }
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    *subject_out = subject;
    const sr_version_t *v = sr_api__find_version(subject, number, deleted);
    if (v)
        return v;
    if (!sr_api__subject_visible(subject, deleted))
        subject_not_found(call);
    else if (number == 0)
        sr_api__error(call, SR_E_VERSION_NOT_FOUND, "Version %s not found.", text);
    else
        sr_api__error(call, SR_E_VERSION_NOT_FOUND, "Version %d not found.", number);
    return NULL;
}

void sr_api__get_version(sr_api_call_t *call)
{
    const sr_subject_t *subject = NULL;
    json_t *out = NULL;
    sr_state_read_lock(call->state);
    const sr_version_t *v = path_version(call, sr_api__arg_bool(call, "deleted"), &subject);
    const sr_schema_t *s = v ? sr_state_schema(call->state, v->id) : NULL;
    if (s && (!(out = sr_api__schema_json(subject->name, v, s)) ||
              !sr_api__format_member(call, out, s))) {
        json_decref(out);
        out = NULL;
        sr_api__nomem(call);
    }
    sr_state_read_unlock(call->state);
    if (out)
        sr_api__reply(call, 200, out);
}

void sr_api__get_version_schema(sr_api_call_t *call)
{
    const sr_subject_t *subject = NULL;
    sr_state_read_lock(call->state);
    const sr_version_t *v = path_version(call, sr_api__arg_bool(call, "deleted"), &subject);
    const sr_schema_t *s = v ? sr_state_schema(call->state, v->id) : NULL;
    char *text = s ? sr_api__formatted(call, s, sr_api__arg(call, "format")) : NULL;
    sr_state_read_unlock(call->state);
    if (s && !text)
        return sr_api__nomem(call);
    if (text)
        sr_api__reply_text(call, text, strlen(text));
    sd_free(text);
}

typedef struct referrers {
    json_t *ids;
    size_t count;
    bool failed;
} referrers_t;

static void collect_referrer(void *ctx, const sr_subject_t *subject, const sr_version_t *version)
{
    (void)subject;
    referrers_t *r = ctx;
    r->count++;
    if (r->ids && json_array_append_new(r->ids, json_integer(version->id)) != 0)
        r->failed = true;
}

void sr_api__get_referenced_by(sr_api_call_t *call)
{
    const sr_subject_t *subject = NULL;
    page_t page = page_of(call);
    referrers_t r = {.ids = json_array()};
    sr_state_read_lock(call->state);
    const sr_version_t *v = path_version(call, true, &subject);
    if (v)
        sr_state_referrers(call->state, subject->name, v->version,
                           sr_api__arg_bool(call, "deleted"), collect_referrer, &r);
    sr_state_read_unlock(call->state);
    if (!v) {
        json_decref(r.ids);
        return;
    }
    if (!r.ids || r.failed) {
        json_decref(r.ids);
        return sr_api__nomem(call);
    }
    json_t *out = json_array();
    for (size_t i = 0; out && i < json_array_size(r.ids); i++)
        if (page_take(&page))
            json_array_append(out, json_array_get(r.ids, i));
    json_decref(r.ids);
    sr_api__reply(call, 200, out);
}

/* --- deletes --- */

static bool has_referrers(sr_api_call_t *call, const sr_subject_t *subject, int32_t version,
                          bool include_deleted)
{
    referrers_t r = {0};
    sr_state_referrers(call->state, subject->name, version, include_deleted, collect_referrer, &r);
    if (r.count)
        sr_api__error(call, SR_E_REFERENCE_EXISTS,
                      "One or more references exist to the schema "
                      "{magic=1,keytype=SCHEMA,subject=%s,version=%d}.",
                      subject->name, version);
    return r.count > 0;
}

typedef struct id_use {
    const char *subject;
    const int32_t *removed; /* versions of `subject` going away */
    size_t removed_count;
    bool used;
} id_use_t;

static void note_use(void *ctx, const sr_subject_t *subject, const sr_version_t *version)
{
    id_use_t *use = ctx;
    if (strcmp(subject->name, use->subject) == 0)
        for (size_t i = 0; i < use->removed_count; i++)
            if (use->removed[i] == version->version)
                return;
    use->used = true;
}

/* When removing these versions of the subject takes the highest id out of
 * the state, the NOOP watermark that keeps it from being issued again. */
static void add_watermark(sr_api_call_t *call, const sr_subject_t *subject, const int32_t *removed,
                          size_t removed_count, sr_api_records_t *records)
{
    size_t n = sr_state_schema_count(call->state);
    if (n == 0)
        return;
    int32_t top = sr_state_schema_at(call->state, n - 1)->id;
    bool removing_top = false;
    for (size_t i = 0; i < removed_count; i++) {
        const sr_version_t *v = sr_subject_version(subject, removed[i]);
        if (v && v->id == top)
            removing_top = true;
    }
    if (!removing_top)
        return;
    id_use_t use = {subject->name, removed, removed_count, false};
    sr_state_versions_of(call->state, top, true, note_use, &use);
    if (!use.used)
        sr_api__records_add(records, sr_key_noop(),
                            sr_value_noop_watermark(sr_state_next_id(call->state) - 1));
}

/* CONFIG and MODE tombstones for a subject left without versions. */
static void add_settings_tombstones(const sr_subject_t *subject, sr_api_records_t *records)
{
    if (subject->config)
        sr_api__records_add(records, sr_key_config(subject->name), NULL);
    if (subject->mode)
        sr_api__records_add(records, sr_key_mode(subject->name), NULL);
}

static int delete_subject_decide(sr_api_call_t *call, bool permanent, sr_api_records_t *records,
                                 json_t **response)
{
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    if (!sr_api__subject_visible(subject, true)) {
        subject_not_found(call);
        return -1;
    }
    if (is_read_only(call)) {
        read_only(call);
        return -1;
    }
    bool any_live = sr_api__subject_visible(subject, false);
    if (!permanent && !any_live) {
        sr_api__error(call, SR_E_SUBJECT_SOFT_DELETED,
                      "Subject '%s' was soft deleted.Set permanent=true to delete permanently",
                      call->subject);
        return -1;
    }
    if (permanent && any_live) {
        sr_api__error(call, SR_E_SUBJECT_NOT_SOFT_DELETED,
                      "Subject '%s' was not deleted first before being permanently deleted",
                      call->subject);
        return -1;
    }
    json_t *out = json_array();
    int32_t *removed = sd_calloc(subject->version_count, sizeof *removed);
    size_t removed_count = 0;
    if (!out || !removed) {
        json_decref(out);
        sd_free(removed);
        sr_api__nomem(call);
        return -1;
    }
    for (size_t i = 0; i < subject->version_count; i++) {
        const sr_version_t *v = &subject->versions[i];
        if (!permanent && v->deleted)
            continue;
        if (has_referrers(call, subject, v->version, permanent)) {
            json_decref(out);
            sd_free(removed);
            return -1;
        }
        json_array_append_new(out, json_integer(v->version));
        removed[removed_count++] = v->version;
    }
    if (!permanent) {
        sr_api__records_add(
            records, sr_key_delete_subject(subject->name),
            sr_value_delete_subject(subject->name, sr_subject_max_version(subject)));
    } else {
        for (size_t i = subject->version_count; i-- > 0;)
            sr_api__records_add(records, sr_key_schema(subject->name, subject->versions[i].version),
                                NULL);
        add_settings_tombstones(subject, records);
        add_watermark(call, subject, removed, removed_count, records);
    }
    sd_free(removed);
    *response = out;
    if (records->failed) {
        sr_api__nomem(call);
        return -1;
    }
    return 0;
}

void sr_api__delete_subject(sr_api_call_t *call)
{
    bool permanent = sr_api__arg_bool(call, "permanent");
    sr_api_records_t records = {0};
    json_t *response = NULL;
    sr_registry_write_lock(call->registry);
    sr_state_read_lock(call->state);
    int rc = delete_subject_decide(call, permanent, &records, &response);
    sr_state_read_unlock(call->state);
    if (rc == 0)
        rc = sr_api__write(call, records.items, records.count, "Delete subject");
    sr_registry_write_unlock(call->registry);
    if (rc == 0) {
        sr_api__reply(call, 200, response);
        response = NULL;
    }
    json_decref(response);
    sr_api__records_free(&records);
}

static int delete_version_decide(sr_api_call_t *call, bool permanent, sr_api_records_t *records,
                                 int32_t *deleted_version)
{
    const char *text = call->params[1];
    int32_t number;
    if (!sr_api__parse_version(text, &number)) {
        sr_api__invalid_version(call, text);
        return -1;
    }
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    if (!sr_api__subject_visible(subject, true)) {
        subject_not_found(call);
        return -1;
    }
    if (is_read_only(call)) {
        read_only(call);
        return -1;
    }
    /* A numbered version is found deleted or not (40406 / 40407 say which);
     * "latest" is the highest stored for a permanent delete, the highest
     * undeleted otherwise. */
    const sr_version_t *v = sr_api__find_version(subject, number, number != 0 || permanent);
    if (!v) {
        if (number == 0)
            sr_api__error(call, SR_E_VERSION_NOT_FOUND, "Version %s not found.", text);
        else
            sr_api__error(call, SR_E_VERSION_NOT_FOUND, "Version %d not found.", number);
        return -1;
    }
    if (!permanent && v->deleted) {
        sr_api__error(call, SR_E_VERSION_SOFT_DELETED,
                      "Subject '%s' Version %d was soft deleted.Set permanent=true to delete "
                      "permanently",
                      call->subject, v->version);
        return -1;
    }
    if (permanent && !v->deleted) {
        sr_api__error(call, SR_E_VERSION_NOT_SOFT_DELETED,
                      "Subject '%s' Version %d was not deleted first before being permanently "
                      "deleted",
                      call->subject, v->version);
        return -1;
    }
    if (has_referrers(call, subject, v->version, permanent))
        return -1;
    *deleted_version = v->version;
    if (!permanent) {
        const sr_schema_t *s = sr_state_schema(call->state, v->id);
        if (!s) {
            sr_api__error(call, SR_E_SCHEMA_NOT_FOUND, "Schema %d not found", v->id);
            return -1;
        }
        sr_schema_record_t record = {
            .subject = subject->name,
            .version = v->version,
            .id = v->id,
            .schema_type = s->schema_type,
            .schema = s->schema,
            .references = s->references,
            .reference_count = s->reference_count,
            .metadata = s->metadata,
            .rule_set = s->rule_set,
            .guid = s->guid[0] ? s->guid : NULL,
            .deleted = true,
        };
        sr_api__records_add(records, sr_key_schema(subject->name, v->version),
                            sr_value_schema(&record));
    } else {
        sr_api__records_add(records, sr_key_schema(subject->name, v->version), NULL);
        if (subject->version_count == 1)
            add_settings_tombstones(subject, records);
        add_watermark(call, subject, &v->version, 1, records);
    }
    if (records->failed) {
        sr_api__nomem(call);
        return -1;
    }
    return 0;
}

void sr_api__delete_version(sr_api_call_t *call)
{
    bool permanent = sr_api__arg_bool(call, "permanent");
    sr_api_records_t records = {0};
    int32_t version = 0;
    sr_registry_write_lock(call->registry);
    sr_state_read_lock(call->state);
    int rc = delete_version_decide(call, permanent, &records, &version);
    sr_state_read_unlock(call->state);
    if (rc == 0)
        rc = sr_api__write(call, records.items, records.count, "Delete Schema Version");
    sr_registry_write_unlock(call->registry);
    if (rc == 0)
        sr_api__reply(call, 200, json_integer(version));
    sr_api__records_free(&records);
}
