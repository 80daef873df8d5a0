/*
 * sr_api_register.c - POST /subjects/{subject}/versions, Confluent Schema
 * Registry's registration (SubjectVersionsResource.register and
 * KafkaSchemaRegistry.register): the request schema parsed with its
 * references resolved, stored in its canonical (or normalized) text, mode
 * gating, identical content answered without a write, ids reused across
 * subjects, the compatibility check at the level in scope, then the SCHEMA
 * record written. Also the schema parsing and checking the lookup and
 * compatibility endpoints share.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sr_api_int.h"
#include "sr_records.h"

#define MAX_REFERENCE_DEPTH 32

/* Schemas a parse depends on, dependencies first, each name once. */
typedef struct deps {
    sc_reference_t *items;
    size_t count;
    size_t cap;
} deps_t;

static int deps_add(deps_t *deps, const char *name, const char *text)
{
    for (size_t i = 0; i < deps->count; i++)
        if (strcmp(deps->items[i].name, name) == 0)
            return 0;
    if (deps->count == deps->cap) {
        size_t cap = deps->cap ? deps->cap * 2 : 4;
        sc_reference_t *items = sd_realloc(deps->items, cap * sizeof *items);
        if (!items)
            return SD_ERR_NOMEM;
        deps->items = items;
        deps->cap = cap;
    }
    deps->items[deps->count++] = (sc_reference_t){.name = name, .text = text, .len = strlen(text)};
    return 0;
}

/* Adds what `refs` need, then refs themselves (read lock held). */
static int resolve(sr_api_call_t *call, const sr_reference_t *refs, size_t count, deps_t *deps,
                   int depth, sd_err_t *err)
{
    if (depth > MAX_REFERENCE_DEPTH)
        return sd_err_set(err, SD_ERR_INVALID, "references nest deeper than %d levels",
                          MAX_REFERENCE_DEPTH);
    for (size_t i = 0; i < count; i++) {
        const sr_reference_t *ref = &refs[i];
        const sr_subject_t *subject = sr_state_subject(call->state, ref->subject);
        const sr_version_t *version =
            sr_api__find_version(subject, ref->version < 0 ? 0 : ref->version, true);
        const sr_schema_t *schema = version ? sr_state_schema(call->state, version->id) : NULL;
        if (!schema)
            return sd_err_set(err, SD_ERR_NOT_FOUND,
                              "Invalid schema reference '%s': subject '%s' version %d not found",
                              ref->name, ref->subject, ref->version);
        int rc = resolve(call, schema->references, schema->reference_count, deps, depth + 1, err);
        if (rc == 0 && (rc = deps_add(deps, ref->name, schema->schema)) != 0)
            sd_err_set(err, rc, "out of memory");
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_with_refs(sr_api_call_t *call, sc_schema_type_t type, const char *text, size_t len,
                           const sr_reference_t *refs, size_t ref_count, sc_schema_t **out,
                           sd_err_t *err)
{
    deps_t deps = {0};
    int rc = resolve(call, refs, ref_count, &deps, 0, err);
    if (rc == 0)
        rc = sc_schema_parse(type, text, len, deps.items, deps.count, out, err);
    sd_free(deps.items);
    return rc;
}

int sr_api__parse_stored(sr_api_call_t *call, const sr_schema_t *schema, sc_schema_t **out,
                         sd_err_t *err)
{
    sc_schema_type_t type;
    int rc = sc_schema_type_parse(schema->schema_type, &type, err);
    if (rc)
        return rc;
    return parse_with_refs(call, type, schema->schema, strlen(schema->schema), schema->references,
                           schema->reference_count, out, err);
}

void sr_api__schema_input_free(sr_api_schema_input_t *in)
{
    sd_free(in->refs);
    sc_schema_free(in->parsed);
    sd_free(in->stored);
    memset(in, 0, sizeof *in);
}

/* Reads "references": [{name, subject, version}], resolving version -1 to
 * the subject's latest as Confluent stores it. */
static int read_references(sr_api_call_t *call, const json_t *array, sr_api_schema_input_t *in)
{
    if (!array || json_is_null(array))
        return 0;
    if (!json_is_array(array)) {
        sr_api__error(call, SR_E_INVALID_SCHEMA, "Invalid schema: references must be an array");
        return -1;
    }
    size_t count = json_array_size(array);
    if (count == 0)
        return 0;
    in->refs = sd_calloc(count, sizeof *in->refs);
    if (!in->refs) {
        sr_api__nomem(call);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *ref = json_array_get(array, i);
        const json_t *name = json_object_get(ref, "name");
        const json_t *subject = json_object_get(ref, "subject");
        const json_t *version = json_object_get(ref, "version");
        if (!json_is_string(name) || !json_is_string(subject) ||
            (version && !json_is_integer(version))) {
            sr_api__error(call, SR_E_INVALID_SCHEMA,
                          "Invalid schema: reference %zu needs a name, a subject and a version", i);
            return -1;
        }
        int64_t v = version ? json_integer_value(version) : -1;
        if (v == -1) {
            const sr_version_t *latest = sr_subject_latest(
                sr_state_subject(call->state, json_string_value(subject)) ?: &(sr_subject_t){0});
            v = latest ? latest->version : -1;
        }
        if (v < -1 || v > INT32_MAX || v == 0) {
            sr_api__error(call, SR_E_INVALID_SCHEMA,
                          "Invalid schema: reference '%s' has an invalid version",
                          json_string_value(name));
            return -1;
        }
        in->refs[i] = (sr_reference_t){.name = (char *)json_string_value(name),
                                       .subject = (char *)json_string_value(subject),
                                       .version = (int32_t)v};
        in->ref_count++;
    }
    return 0;
}

int sr_api__schema_input(sr_api_call_t *call, bool normalize, sr_api_schema_input_t *in)
{
    memset(in, 0, sizeof *in);
    const json_t *body = call->body;
    if (!body) {
        sr_api__error(call, 422, "Request body is missing");
        return -1;
    }
    if (!json_is_object(body)) {
        sr_api__error(call, 400, "The request body must be a JSON object");
        return -1;
    }
    const json_t *schema = json_object_get(body, "schema");
    const json_t *type = json_object_get(body, "schemaType");
    if (schema && !json_is_null(schema) && !json_is_string(schema)) {
        sr_api__error(call, 400, "Field 'schema' must be a string");
        return -1;
    }
    if (!json_is_string(schema) || json_string_length(schema) == 0) {
        sr_api__error(call, SR_E_INVALID_SCHEMA, "Empty schema");
        return -1;
    }
    in->text = json_string_value(schema);
    in->len = json_string_length(schema);
    if (in->len > sr_registry_max_schema_bytes(call->registry)) {
        sr_api__error(call, SR_E_SCHEMA_TOO_LARGE,
                      "Register operation failed because schema is too large");
        return -1;
    }
    in->type = SC_TYPE_AVRO;
    if (type && !json_is_null(type)) {
        sd_err_t err = {0};
        if (!json_is_string(type) ||
            sc_schema_type_parse(json_string_value(type), &in->type, &err) != 0) {
            sr_api__error(call, SR_E_INVALID_SCHEMA, "Invalid schema type %s",
                          json_is_string(type) ? json_string_value(type) : "(not a string)");
            return -1;
        }
    }
    in->type_name = sc_schema_type_name(in->type);

    const json_t *metadata = json_object_get(body, "metadata");
    const json_t *rule_set = json_object_get(body, "ruleSet");
    if ((metadata && !json_is_null(metadata) && !json_is_object(metadata)) ||
        (rule_set && !json_is_null(rule_set) && !json_is_object(rule_set))) {
        sr_api__error(call, 400, "Fields 'metadata' and 'ruleSet' must be objects");
        return -1;
    }
    in->metadata = json_is_object(metadata) ? metadata : NULL;
    in->rule_set = json_is_object(rule_set) ? rule_set : NULL;
    char why[256];
    if (sr_api__check_rule_set(in->rule_set, why, sizeof why) != 0) {
        sr_api__error(call, SR_E_INVALID_RULESET, "Invalid rule set: %s", why);
        return -1;
    }

    if (read_references(call, json_object_get(body, "references"), in) != 0)
        return -1;

    sd_err_t err = {0};
    int rc = parse_with_refs(call, in->type, in->text, in->len, in->refs, in->ref_count,
                             &in->parsed, &err);
    if (rc == SC_ERR_UNSUPPORTED) {
        sr_api__error(call, SR_E_INVALID_SCHEMA, "Schema type %s is not supported yet",
                      in->type_name);
        return -1;
    }
    if (rc == SD_ERR_NOMEM) {
        sr_api__nomem(call);
        return -1;
    }
    if (rc) {
        sr_api__error(call, SR_E_INVALID_SCHEMA, "Invalid schema: %s", err.msg);
        return -1;
    }
    size_t len = 0;
    rc = sc_schema_text(in->parsed, normalize, &in->stored, &len, &err);
    if (rc) {
        if (rc == SD_ERR_NOMEM)
            sr_api__nomem(call);
        else
            sr_api__error(call, SR_E_INVALID_SCHEMA, "Invalid schema: %s", err.msg);
        return -1;
    }
    return 0;
}

/* Appends `text` to a growing message buffer (best effort). */
static void appendf(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *grown = sd_realloc(*buf, *len + (size_t)n + 1);
    if (!grown)
        return;
    va_start(ap, fmt);
    vsnprintf(grown + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *buf = grown;
    *len += (size_t)n;
}

static json_t *message_of(const sc_finding_t *f, int32_t version)
{
    char *text = NULL;
    size_t len = 0;
    appendf(&text, &len,
            "{errorType:'%s', description:'%s', location:'%s', path:'%s', oldSchemaVersion: %d, "
            "direction:'%s'}",
            f->rule, f->message, f->location, f->path, version, sc_direction_name(f->direction));
    json_t *out = text ? json_string(text) : NULL;
    sd_free(text);
    return out;
}

int sr_api__check(sr_api_call_t *call, const sr_api_schema_input_t *in, const sr_subject_t *subject,
                  const sr_version_t *const *versions, size_t count, sc_level_t level,
                  bool *compatible, json_t **messages)
{
    (void)subject;
    sc_schema_t **earlier = count ? sd_calloc(count, sizeof *earlier) : NULL;
    sc_result_t result = {0};
    bool have_result = false;
    int ret = -1;
    if (count && !earlier) {
        sr_api__nomem(call);
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        sd_err_t err = {0};
        const sr_schema_t *schema = sr_state_schema(call->state, versions[i]->id);
        int rc = schema ? sr_api__parse_stored(call, schema, &earlier[i], &err) : SD_ERR_NOT_FOUND;
        if (rc == SD_ERR_NOMEM) {
            sr_api__nomem(call);
            goto done;
        }
        if (rc) {
            sr_api__error(call, SR_E_INVALID_SCHEMA,
                          "Version %d of the subject cannot be checked against: %s",
                          versions[i]->version, schema ? err.msg : "schema missing");
            goto done;
        }
    }
    sd_err_t err = {0};
    if (sc_check(in->parsed, (const sc_schema_t *const *)earlier, count, level, &result, &err) !=
        0) {
        sc_result_free(&result);
        sr_api__nomem(call);
        goto done;
    }
    have_result = true;
    *compatible = result.compatible;
    if (messages) {
        *messages = json_array();
        for (size_t i = 0; *messages && i < result.findings.count; i++) {
            const sc_finding_t *f = &result.findings.items[i];
            int32_t v = f->version < count ? versions[f->version]->version : 0;
            if (json_array_append_new(*messages, message_of(f, v)) != 0) {
                json_decref(*messages);
                *messages = NULL;
            }
        }
        if (*messages && !result.compatible) {
            char buf[128];
            snprintf(buf, sizeof buf, "{compatibility: '%s'}", sc_level_name(level));
            json_array_append_new(*messages, json_string(buf));
        }
        if (!*messages) {
            sr_api__nomem(call);
            goto done;
        }
    }
    ret = 0;
done:
    if (have_result)
        sc_result_free(&result);
    for (size_t i = 0; earlier && i < count; i++)
        sc_schema_free(earlier[i]);
    sd_free(earlier);
    return ret;
}

/* --- registration --- */

static bool same_text(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    return json_equal((json_t *)a, (json_t *)b);
}

static bool same_content(const sr_schema_t *schema, const sr_api_schema_input_t *in,
                         const json_t *metadata, const json_t *rule_set)
{
    if (strcmp(schema->schema_type, in->type_name) != 0 ||
        strcmp(schema->schema, in->stored) != 0 || schema->reference_count != in->ref_count)
        return false;
    for (size_t i = 0; i < in->ref_count; i++) {
        const sr_reference_t *a = &schema->references[i], *b = &in->refs[i];
        if (strcmp(a->name, b->name) || strcmp(a->subject, b->subject) || a->version != b->version)
            return false;
    }
    return same_text(schema->metadata, metadata) && same_text(schema->rule_set, rule_set);
}

static const json_t *config_field(const json_t *config, const char *name)
{
    const json_t *value = config ? json_object_get(config, name) : NULL;
    return json_is_null(value) ? NULL : value;
}

/* metadata.properties[key] of a schema's metadata, or NULL. */
static const char *property(const json_t *metadata, const char *key)
{
    const json_t *props = metadata ? json_object_get(metadata, "properties") : NULL;
    const json_t *value = props ? json_object_get(props, key) : NULL;
    return json_is_string(value) ? json_string_value(value) : NULL;
}

/* The versions a new schema is checked against: the undeleted ones, in the
 * new schema's compatibility group when the config names one. */
static size_t check_targets(sr_api_call_t *call, const sr_subject_t *subject, const json_t *config,
                            const json_t *metadata, const sr_version_t **out)
{
    size_t count = 0;
    const json_t *group = config_field(config, "compatibilityGroup");
    const char *mine = json_is_string(group) ? property(metadata, json_string_value(group)) : NULL;
    for (size_t i = 0; subject && i < subject->version_count; i++) {
        const sr_version_t *v = &subject->versions[i];
        if (v->deleted)
            continue;
        if (json_is_string(group)) {
            const sr_schema_t *s = sr_state_schema(call->state, v->id);
            const char *theirs = s ? property(s->metadata, json_string_value(group)) : NULL;
            if ((mine == NULL) != (theirs == NULL) || (mine && strcmp(mine, theirs) != 0))
                continue;
        }
        out[count++] = v;
    }
    return count;
}

static char *join_messages(const json_t *messages)
{
    char *text = NULL;
    size_t len = 0;
    appendf(&text, &len, "%s", "");
    for (size_t i = 0; i < json_array_size(messages); i++)
        appendf(&text, &len, "%s%s", i ? ", " : "", json_string_value(json_array_get(messages, i)));
    return text;
}

static json_t *register_response(int32_t id, int32_t version, const char *guid,
                                 const sr_api_schema_input_t *in, const json_t *metadata,
                                 const json_t *rule_set)
{
    sr_schema_t view = {
        .id = id,
        .schema_type = (char *)in->type_name,
        .schema = in->stored,
        .references = in->refs,
        .reference_count = in->ref_count,
        .metadata = (json_t *)metadata,
        .rule_set = (json_t *)rule_set,
    };
    snprintf(view.guid, sizeof view.guid, "%s", guid);
    /* RegisterSchemaResponse: id, version, then the Schema entity's fields. */
    json_t *schema = sr_api__schema_json(NULL, NULL, &view);
    json_t *out = json_object();
    if (!schema || !out || json_object_set_new(out, "id", json_integer(id)) ||
        json_object_set_new(out, "version", json_integer(version))) {
        json_decref(schema);
        json_decref(out);
        return NULL;
    }
    const char *key;
    json_t *value;
    json_object_foreach(schema, key, value)
    {
        if (strcmp(key, "id") != 0 && json_object_set(out, key, value) != 0) {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    json_decref(schema);
    return out;
}

/* The decision, taken under the write lock with the state read-locked. On
 * success (0) *response is set and records holds what to write (maybe
 * nothing); 1 = this process is a follower and leader_url names the leader. */
static int decide(sr_api_call_t *call, sr_api_schema_input_t *in, bool *normalize_out,
                  sr_api_records_t *records, json_t **response, char *leader_url,
                  size_t leader_url_len)
{
    const json_t *body = call->body;
    const sr_subject_t *subject = sr_state_subject(call->state, call->subject);
    const json_t *config = sr_api__config_in_scope(call, subject);
    const char *mode = sr_api__mode(call, call->subject);
    bool import = strcmp(mode, "IMPORT") == 0;

    const json_t *id_json = json_is_object(body) ? json_object_get(body, "id") : NULL;
    const json_t *version_json = json_is_object(body) ? json_object_get(body, "version") : NULL;
    if ((id_json && !json_is_null(id_json) && !json_is_integer(id_json)) ||
        (version_json && !json_is_null(version_json) && !json_is_integer(version_json))) {
        sr_api__error(call, 400, "Fields 'id' and 'version' must be integers");
        return -1;
    }
    int64_t want_id = json_is_integer(id_json) ? json_integer_value(id_json) : -1;
    int64_t want_version = json_is_integer(version_json) ? json_integer_value(version_json) : 0;
    /* Clients that always send the fields send 0 (or -1) for "none". */
    if (want_id <= 0)
        want_id = -1;
    if (want_version < 0)
        want_version = 0;
    if (want_id > INT32_MAX) {
        sr_api__error(call, SR_E_INVALID_SCHEMA, "Invalid schema id %lld", (long long)want_id);
        return -1;
    }
    if (want_version > INT32_MAX) {
        sr_api__error(call, SR_E_INVALID_VERSION,
                      "The specified version '%lld' is not a valid version id. Allowed values "
                      "are between [1, 2^31-1] and the string \"latest\"",
                      (long long)want_version);
        return -1;
    }

    bool normalize = *normalize_out;
    if (!normalize && json_is_true(config_field(config, "normalize")))
        normalize = true;
    *normalize_out = normalize;
    if (sr_api__schema_input(call, normalize, in) != 0)
        return -1;

    /* metadata and ruleSet: the request's, else the latest version's (as
     * Confluent carries them forward), else the config's defaults; the
     * config's overrides win over all. */
    const sr_version_t *latest = sr_subject_latest(subject ?: &(sr_subject_t){0});
    const sr_schema_t *latest_schema = latest ? sr_state_schema(call->state, latest->id) : NULL;
    const json_t *metadata = in->metadata, *rule_set = in->rule_set;
    if (!metadata)
        metadata = latest_schema && latest_schema->metadata
                       ? latest_schema->metadata
                       : config_field(config, "defaultMetadata");
    if (!rule_set)
        rule_set = latest_schema && latest_schema->rule_set
                       ? latest_schema->rule_set
                       : config_field(config, "defaultRuleSet");
    if (config_field(config, "overrideMetadata"))
        metadata = config_field(config, "overrideMetadata");
    if (config_field(config, "overrideRuleSet"))
        rule_set = config_field(config, "overrideRuleSet");

    /* Identical content already in the subject: its id and version, no check,
     * no write. */
    for (size_t i = subject ? subject->version_count : 0; i-- > 0;) {
        const sr_version_t *v = &subject->versions[i];
        const sr_schema_t *s = sr_state_schema(call->state, v->id);
        if (v->deleted || !s || !same_content(s, in, metadata, rule_set))
            continue;
        if (want_id > 0 && want_id != s->id) {
            sr_api__error(call, SR_E_ID_DOES_NOT_MATCH,
                          "Schema already registered with id %d instead of input id %lld", s->id,
                          (long long)want_id);
            return -1;
        }
        *response = register_response(s->id, v->version, s->guid, in, s->metadata, s->rule_set);
        return *response ? 0 : (sr_api__nomem(call), -1);
    }

    /* Mode gating (AbstractSchemaRegistry.checkRegisterMode), after the
     * identical-content answer as in Confluent's registerOrForward, so that a
     * read-only registry still answers clients re-registering what it has. */
    if (strcmp(mode, "READONLY") == 0 || strcmp(mode, "READONLY_OVERRIDE") == 0) {
        sr_api__error(call, SR_E_NOT_PERMITTED, "Subject %s is in read-only mode", call->subject);
        return -1;
    }
    if (want_id > 0 && !import && strcmp(mode, "FORWARD") != 0) {
        sr_api__error(call, SR_E_NOT_PERMITTED, "Subject %s is not in import mode", call->subject);
        return -1;
    }
    if (want_id < 0 && import) {
        sr_api__error(call, SR_E_NOT_PERMITTED,
                      "Subject %s is not in read-write mode (IMPORT needs a schema id)",
                      call->subject);
        return -1;
    }

    /* Only the leader writes; a follower hands the request over. */
    int leader = sr_registry_leader(call->registry, leader_url, leader_url_len);
    if (leader < 0) {
        sr_api__error(call, SR_E_UNKNOWN_LEADER, "Leader not known.");
        return -1;
    }
    if (leader == 0)
        return 1;

    const sr_schema_t *known = sr_state_schema_by_content(
        call->state, in->type_name, in->stored, in->refs, in->ref_count, metadata, rule_set);
    int32_t id;
    if (want_id > 0) {
        const sr_schema_t *holder = sr_state_schema(call->state, (int32_t)want_id);
        if (known && known->id != want_id) {
            sr_api__error(call, SR_E_ID_DOES_NOT_MATCH,
                          "Schema already registered with id %d instead of input id %lld",
                          known->id, (long long)want_id);
            return -1;
        }
        if (holder && holder != known) {
            sr_api__error(call, SR_E_ID_DOES_NOT_MATCH,
                          "Overwrite new schema with id %lld is not permitted.",
                          (long long)want_id);
            return -1;
        }
        id = (int32_t)want_id;
    } else {
        id = known ? known->id : sr_state_next_id(call->state);
    }

    int32_t max_version = subject ? sr_subject_max_version(subject) : 0;
    int32_t version = max_version + 1;
    if (want_version > 0) {
        if (import) {
            const sr_version_t *taken =
                sr_subject_version(subject ?: &(sr_subject_t){0}, (int32_t)want_version);
            if (taken && taken->id != id) {
                sr_api__error(call, SR_E_NOT_PERMITTED,
                              "Overwrite new schema version %lld is not permitted.",
                              (long long)want_version);
                return -1;
            }
            version = (int32_t)want_version;
        } else if (want_version != version) {
            sr_api__error(call, SR_E_INVALID_SCHEMA,
                          "Version is not one more than previous version");
            return -1;
        }
    }

    /* Compatibility, unless IMPORT/FORWARD mode or ?force=true. */
    if (!import && strcmp(mode, "FORWARD") != 0 && !sr_api__arg_bool(call, "force")) {
        sc_level_t level;
        sd_err_t err = {0};
        if (sc_level_parse(sr_api__compatibility(call, subject), &level, &err) != 0)
            level = SC_LEVEL_BACKWARD;
        size_t n = subject ? subject->version_count : 0;
        const sr_version_t **targets = n ? sd_calloc(n, sizeof *targets) : NULL;
        if (n && !targets) {
            sr_api__nomem(call);
            return -1;
        }
        size_t count = check_targets(call, subject, config, metadata, targets);
        bool compatible = true;
        json_t *messages = NULL;
        int rc = sr_api__check(call, in, subject, targets, count, level, &compatible, &messages);
        sd_free(targets);
        if (rc != 0)
            return -1;
        if (!compatible) {
            char *details = join_messages(messages);
            sr_api__error(call, SR_E_INCOMPATIBLE,
                          "Schema being registered is incompatible with an earlier schema for "
                          "subject \"%s\", details: [%s]",
                          call->subject, details ? details : "");
            sd_free(details);
            json_decref(messages);
            return -1;
        }
        json_decref(messages);
    }

    char guid[37];
    if (known) {
        snprintf(guid, sizeof guid, "%s", known->guid);
    } else {
        char *identity = sr_schema_identity(in->type_name, in->stored, in->refs, in->ref_count,
                                            metadata, rule_set);
        if (!identity) {
            sr_api__nomem(call);
            return -1;
        }
        sr_schema_guid_for(identity, guid);
        free(identity);
    }

    sr_schema_record_t record = {
        .subject = call->subject,
        .version = version,
        .id = id,
        .schema_type = in->type_name,
        .schema = in->stored,
        .references = in->refs,
        .reference_count = in->ref_count,
        .metadata = metadata,
        .rule_set = rule_set,
        .guid = guid,
    };
    sr_api__records_add(records, sr_key_schema(call->subject, version), sr_value_schema(&record));
    /* Re-registering soft-deleted content: Confluent tombstones the old key. */
    for (size_t i = 0; subject && i < subject->version_count; i++) {
        const sr_version_t *v = &subject->versions[i];
        if (v->deleted && v->id == id && v->version < version)
            sr_api__records_add(records, sr_key_schema(call->subject, v->version), NULL);
    }
    *response = register_response(id, version, guid, in, metadata, rule_set);
    if (records->failed || !*response) {
        sr_api__nomem(call);
        return -1;
    }
    return 0;
}

void sr_api__register(sr_api_call_t *call)
{
    sr_api_schema_input_t in = {0};
    sr_api_records_t records = {0};
    json_t *response = NULL;
    bool normalize = sr_api__arg_bool(call, "normalize");
    char leader_url[512] = "";

    if (!sr_api__valid_subject(call->subject))
        return sr_api__error(call, SR_E_INVALID_SUBJECT, "The specified subject '%s' is not valid.",
                             call->subject);
    sr_registry_write_lock(call->registry);
    sr_state_read_lock(call->state);
    int rc = decide(call, &in, &normalize, &records, &response, leader_url, sizeof leader_url);
    sr_state_read_unlock(call->state);
    if (rc == 0 && records.count)
        rc = sr_api__write(call, records.items, records.count, "Register");
    sr_registry_write_unlock(call->registry);

    if (rc == 1)
        sr_api__forward(call, leader_url);
    else if (rc == 0) {
        sr_api__reply(call, 200, response);
        response = NULL;
    }
    json_decref(response);
    sr_api__records_free(&records);
    sr_api__schema_input_free(&in);
}
