/*
 * sr_api_misc.c - the small endpoints of Confluent Schema Registry: the root
 * ({}), /contexts (ContextsResource: the default context "." and those named
 * by qualified subjects ":.ctx:name"), and /v1/metadata/{id,version}
 * (ServerMetadataResource).
 */
#include <stdlib.h>
#include <string.h>

#include "sr_api_int.h"

#define STRAND_REGISTRY_VERSION "0.1.0"

void sr_api__root(sr_api_call_t *call) { sr_api__reply(call, 200, json_object()); }

/* The context of a qualified subject (":.ctx:name" → ".ctx"), as a length
 * into name; 0 for the default context. */
static size_t context_of(const char *name)
{
    if (name[0] != ':' || name[1] != '.')
        return 0;
    const char *end = strchr(name + 1, ':');
    return end ? (size_t)(end - name - 1) : 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

void sr_api__list_contexts(sr_api_call_t *call)
{
    json_t *found = json_array();
    const char *prefix = sr_api__arg(call, "contextPrefix");
    long offset = sr_api__arg_long(call, "offset", 0), limit = sr_api__arg_long(call, "limit", -1);
    if (!found)
        return sr_api__nomem(call);
    json_array_append_new(found, json_string("."));
    sr_state_read_lock(call->state);
    size_t n = sr_state_subject_count(call->state);
    for (size_t i = 0; i < n; i++) {
        const sr_subject_t *subject = sr_state_subject_at(call->state, i);
        size_t len = context_of(subject->name);
        if (!len || !subject->version_count)
            continue;
        bool seen = false;
        for (size_t j = 0; j < json_array_size(found) && !seen; j++) {
            const char *c = json_string_value(json_array_get(found, j));
            seen = strlen(c) == len && strncmp(c, subject->name + 1, len) == 0;
        }
        if (!seen)
            json_array_append_new(found, json_stringn(subject->name + 1, len));
    }
    sr_state_read_unlock(call->state);

    size_t count = json_array_size(found);
    json_t **items = calloc(count ? count : 1, sizeof *items);
    json_t *out = json_array();
    if (!items || !out) {
        free(items);
        json_decref(found);
        json_decref(out);
        return sr_api__nomem(call);
    }
    for (size_t i = 0; i < count; i++)
        items[i] = json_array_get(found, i);
    qsort(items, count, sizeof *items, compare_strings);
    long index = 0;
    for (size_t i = 0; i < count; i++) {
        const char *c = json_string_value(items[i]);
        if (prefix && strncmp(c, prefix, strlen(prefix)) != 0)
            continue;
        long at = index++;
        if (at < offset || (limit >= 0 && at - offset >= limit))
            continue;
        json_array_append(out, items[i]);
    }
    free(items);
    json_decref(found);
    sr_api__reply(call, 200, out);
}

void sr_api__delete_context(sr_api_call_t *call)
{
    const char *name = call->params[0];
    bool default_context = strcmp(name, ".") == 0;
    const char *bare = name[0] == '.' ? name + 1 : name;
    bool empty = true;
    sr_state_read_lock(call->state);
    size_t n = sr_state_subject_count(call->state);
    for (size_t i = 0; i < n && empty; i++) {
        const sr_subject_t *subject = sr_state_subject_at(call->state, i);
        if (!subject->version_count)
            continue;
        size_t len = context_of(subject->name);
        if (default_context)
            empty = len != 0;
        else
            empty = !(len == strlen(bare) + 1 && strncmp(subject->name + 2, bare, len - 1) == 0);
    }
    sr_state_read_unlock(call->state);
    if (!empty)
        return sr_api__error(call, SR_E_CONTEXT_NOT_EMPTY, "Context %s is not empty", name);
    /* A context exists only through its subjects: nothing to write. */
    char *body = malloc(1);
    if (!body)
        return sr_api__nomem(call);
    body[0] = '\0';
    free(call->resp->body);
    call->resp->status = 204;
    call->resp->body = body;
    call->resp->body_len = 0;
}

void sr_api__metadata_id(sr_api_call_t *call)
{
    sr_api__reply(call, 200,
                  json_pack("{s:{s:[],s:{s:s,s:s}}}", "scope", "path", "clusters", "kafka-cluster",
                            sr_registry_kafka_cluster_id(call->registry),
                            "schema-registry-cluster", sr_registry_group_id(call->registry)));
}

void sr_api__metadata_version(sr_api_call_t *call)
{
    sr_api__reply(call, 200,
                  json_pack("{s:s,s:s}", "version", STRAND_REGISTRY_VERSION, "commitId", ""));
}
