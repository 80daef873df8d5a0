/*
 * sr_records.c - encodes and decodes the keys and values of `_schemas` as
 * Confluent Schema Registry's Jackson classes do (storage/SchemaKey,
 * ConfigKey, ModeKey, DeleteSubjectKey, ClearSubjectKey, NoopKey and their
 * *Value counterparts), so compaction, which works on key bytes, treats our
 * records and Confluent's as the same.
 *
 * Jackson's rules that shape the bytes:
 *  - keys carry @JsonPropertyOrder {keytype, subject, [version,] magic};
 *  - values have none, so the properties of their @JsonCreator constructor
 *    come first, in parameter order: SchemaValue is subject, version, id,
 *    [md5], schemaType, references, metadata, ruleSet, schema, deleted;
 *  - @JsonInclude(NON_EMPTY) drops nulls and empty lists (a global key has
 *    no "subject", a schema without references no "references");
 *  - schemaType goes through SchemaTypeConverter, which turns "AVRO" into
 *    null, so AVRO schemas carry no schemaType at all;
 *  - compact output, UTF-8 written raw, '/' not escaped.
 */
#include "sr_records.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* Steals `value`; false when it is NULL or the set fails. */
static bool put(json_t *object, const char *name, json_t *value)
{
    return value && json_object_set_new(object, name, value) == 0;
}

/* Adds "subject" unless subject is NULL (NON_EMPTY drops the null). */
static bool put_subject(json_t *object, const char *subject)
{
    return !subject || put(object, "subject", json_string(subject));
}

/* Dumps and releases `object`; NULL when object is NULL or on failure. */
static char *dump(json_t *object)
{
    if (!object)
        return NULL;
    char *text = json_dumps(object, DUMP_FLAGS);
    json_decref(object);
    return text;
}

/* {"keytype":T,"subject":S,"magic":0}, the shape of every subject key but
 * SCHEMA. */
static char *subject_key(const char *keytype, const char *subject)
{
    json_t *key = json_object();
    if (!key || !put(key, "keytype", json_string(keytype)) || !put_subject(key, subject) ||
        !put(key, "magic", json_integer(0))) {
        json_decref(key);
        return NULL;
    }
    return dump(key);
}

char *sr_key_schema(const char *subject, int32_t version)
{
    json_t *key = json_object();
    if (!key || !put(key, "keytype", json_string("SCHEMA")) || !put_subject(key, subject) ||
        !put(key, "version", json_integer(version)) || !put(key, "magic", json_integer(1))) {
        json_decref(key);
        return NULL;
    }
    return dump(key);
}

char *sr_key_config(const char *subject) { return subject_key("CONFIG", subject); }
char *sr_key_mode(const char *subject) { return subject_key("MODE", subject); }
char *sr_key_delete_subject(const char *subject) { return subject_key("DELETE_SUBJECT", subject); }
char *sr_key_clear_subject(const char *subject) { return subject_key("CLEAR_SUBJECT", subject); }
char *sr_key_noop(void) { return subject_key("NOOP", NULL); }

static const struct {
    const char *name;
    sr_keytype_t type;
} keytypes[] = {
    {"SCHEMA", SR_KEY_SCHEMA},
    {"CONFIG", SR_KEY_CONFIG},
    {"MODE", SR_KEY_MODE},
    {"DELETE_SUBJECT", SR_KEY_DELETE_SUBJECT},
    {"CLEAR_SUBJECT", SR_KEY_CLEAR_SUBJECT},
    {"NOOP", SR_KEY_NOOP},
};

/* A string without embedded NUL, as a C string; NULL otherwise. */
static const char *plain_string(const json_t *value)
{
    if (!json_is_string(value))
        return NULL;
    const char *s = json_string_value(value);
    return strlen(s) == json_string_length(value) ? s : NULL;
}

static json_t *parse_object(const void *bytes, size_t len, const char *what, sd_err_t *err)
{
    if (!bytes || len == 0) {
        sd_err_set(err, SD_ERR_INVALID, "%s is empty", what);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(bytes, len, 0, &jerr);
    if (!root) {
        sd_err_set(err, SD_ERR_INVALID, "%s is not JSON: %s", what, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        sd_err_set(err, SD_ERR_INVALID, "%s is not a JSON object", what);
        return NULL;
    }
    return root;
}

/* An optional int32 member: absent/null leaves *out alone and returns 0. */
static int get_int32(const json_t *object, const char *name, int32_t *out, bool *present,
                     const char *what, sd_err_t *err)
{
    json_t *v = json_object_get(object, name);
    if (present)
        *present = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
        json_integer_value(v) > INT32_MAX)
        return sd_err_set(err, SD_ERR_INVALID, "%s: \"%s\" is not a 32-bit integer", what, name);
    *out = (int32_t)json_integer_value(v);
    if (present)
        *present = true;
    return 0;
}

/* An optional string member: absent/null gives NULL. */
static int get_string(const json_t *object, const char *name, const char **out, const char *what,
                      sd_err_t *err)
{
    json_t *v = json_object_get(object, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!(*out = plain_string(v)))
        return sd_err_set(err, SD_ERR_INVALID, "%s: \"%s\" is not a string", what, name);
    return 0;
}

int sr_key_decode(const void *bytes, size_t len, sr_key_t *key, sd_err_t *err)
{
    memset(key, 0, sizeof *key);
    json_t *root = parse_object(bytes, len, "key", err);
    if (!root)
        return SD_ERR_INVALID;
    int rc = SD_ERR_INVALID;
    const char *keytype = NULL, *subject = NULL;
    bool has_version = false;
    if (get_string(root, "keytype", &keytype, "key", err) < 0)
        goto fail;
    if (!keytype) {
        sd_err_set(err, SD_ERR_INVALID, "key has no \"keytype\"");
        goto fail;
    }
    key->type = SR_KEY_OTHER;
    for (size_t i = 0; i < sizeof keytypes / sizeof keytypes[0]; i++)
        if (strcmp(keytype, keytypes[i].name) == 0)
            key->type = keytypes[i].type;
    int32_t magic = 0;
    if (get_int32(root, "magic", &magic, NULL, "key", err) < 0)
        goto fail;
    key->magic = magic;
    if (key->type == SR_KEY_OTHER) {
        rc = 0; /* CONTEXT, ASSOC, ...: nothing more to read */
        goto fail;
    }
    if (get_string(root, "subject", &subject, "key", err) < 0)
        goto fail;
    if (key->type == SR_KEY_SCHEMA) {
        if (magic != 0 && magic != 1) {
            sd_err_set(err, SD_ERR_INVALID, "SCHEMA key has magic %d", (int)magic);
            goto fail;
        }
        if (get_int32(root, "version", &key->version, &has_version, "SCHEMA key", err) < 0)
            goto fail;
        if (!has_version || key->version < 1) {
            sd_err_set(err, SD_ERR_INVALID, "SCHEMA key has no version >= 1");
            goto fail;
        }
    }
    if (!subject && (key->type == SR_KEY_SCHEMA || key->type == SR_KEY_DELETE_SUBJECT)) {
        sd_err_set(err, SD_ERR_INVALID, "%s key has no subject", keytype);
        goto fail;
    }
    if (key->type == SR_KEY_NOOP)
        subject = NULL;
    if (subject && !(key->subject = sd_strdup(subject))) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    rc = 0;
fail:
    json_decref(root);
    return rc;
}

void sr_key_clear(sr_key_t *key)
{
    if (!key)
        return;
    sd_free(key->subject);
    key->subject = NULL;
}

static json_t *references_json(const sr_reference_t *refs, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < count; i++) {
        json_t *ref = json_object();
        if (!ref || !put(ref, "name", json_string(refs[i].name ? refs[i].name : "")) ||
            !put(ref, "subject", json_string(refs[i].subject ? refs[i].subject : "")) ||
            !put(ref, "version", json_integer(refs[i].version)) ||
            json_array_append_new(array, ref) != 0) {
            json_decref(ref);
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

/* Metadata and RuleSet objects are written as given; NON_EMPTY drops null. */
static bool put_optional_object(json_t *object, const char *name, const json_t *value)
{
    if (!value || json_is_null(value))
        return true;
    return put(object, name, json_deep_copy(value));
}

char *sr_value_schema(const sr_schema_record_t *r)
{
    json_t *v = json_object();
    if (!v || !put_subject(v, r->subject) || !put(v, "version", json_integer(r->version)) ||
        !put(v, "id", json_integer(r->id)))
        goto fail;
    if (r->guid && !put(v, "guid", json_string(r->guid)))
        goto fail;
    if (r->schema_type && strcmp(r->schema_type, "AVRO") != 0 &&
        !put(v, "schemaType", json_string(r->schema_type)))
        goto fail;
    if (r->reference_count &&
        !put(v, "references", references_json(r->references, r->reference_count)))
        goto fail;
    if (!put_optional_object(v, "metadata", r->metadata) ||
        !put_optional_object(v, "ruleSet", r->rule_set) ||
        !put(v, "schema", json_string(r->schema ? r->schema : "")) ||
        !put(v, "deleted", json_boolean(r->deleted)))
        goto fail;
    return dump(v);
fail:
    json_decref(v);
    return NULL;
}

/* ConfigValue's creator order after "subject"; fields not listed here (newer
 * ones) follow in the order the caller gave them. */
static const char *const config_fields[] = {
    "alias",
    "normalize",
    "validateFields",
    "validateRules",
    "compatibilityLevel",
    "compatibilityGroup",
    "compatibilityPolicy",
    "defaultMetadata",
    "overrideMetadata",
    "defaultRuleSet",
    "overrideRuleSet",
};

static bool is_config_field(const char *name)
{
    for (size_t i = 0; i < sizeof config_fields / sizeof config_fields[0]; i++)
        if (strcmp(name, config_fields[i]) == 0)
            return true;
    return false;
}

char *sr_value_config(const char *subject, const json_t *config)
{
    json_t *v = json_object();
    if (!v || !put_subject(v, subject))
        goto fail;
    for (size_t i = 0; config && i < sizeof config_fields / sizeof config_fields[0]; i++) {
        json_t *field = json_object_get(config, config_fields[i]);
        if (field && !json_is_null(field) && !put(v, config_fields[i], json_deep_copy(field)))
            goto fail;
    }
    const char *name;
    json_t *field;
    if (json_is_object(config)) {
        json_object_foreach((json_t *)config, name, field)
        {
            if (strcmp(name, "subject") == 0 || is_config_field(name) || json_is_null(field))
                continue;
            if (!put(v, name, json_deep_copy(field)))
                goto fail;
        }
    }
    return dump(v);
fail:
    json_decref(v);
    return NULL;
}

char *sr_value_mode(const char *subject, const char *mode)
{
    json_t *v = json_object();
    if (!v || !put_subject(v, subject) || !put(v, "mode", json_string(mode ? mode : ""))) {
        json_decref(v);
        return NULL;
    }
    return dump(v);
}

char *sr_value_delete_subject(const char *subject, int32_t version)
{
    json_t *v = json_object();
    if (!v || !put_subject(v, subject) || !put(v, "version", json_integer(version))) {
        json_decref(v);
        return NULL;
    }
    return dump(v);
}

char *sr_value_clear_subject(const char *subject)
{
    json_t *v = json_object();
    if (!v || !put_subject(v, subject)) {
        json_decref(v);
        return NULL;
    }
    return dump(v);
}

char *sr_value_noop_watermark(int32_t max_id)
{
    json_t *v = json_object();
    if (!v || !put(v, "maxId", json_integer(max_id))) {
        json_decref(v);
        return NULL;
    }
    return dump(v);
}

json_t *sr_value_object(const void *bytes, size_t len, sd_err_t *err)
{
    return parse_object(bytes, len, "value", err);
}

void sr_schema_value_clear(sr_schema_value_t *value)
{
    if (!value)
        return;
    sd_free(value->subject);
    sd_free(value->schema_type);
    sd_free(value->schema);
    sd_free(value->guid);
    for (size_t i = 0; i < value->reference_count; i++) {
        sd_free(value->references[i].name);
        sd_free(value->references[i].subject);
    }
    sd_free(value->references);
    json_decref(value->metadata);
    json_decref(value->rule_set);
    memset(value, 0, sizeof *value);
}

static int decode_references(const json_t *array, sr_schema_value_t *out, sd_err_t *err)
{
    if (!array || json_is_null(array))
        return 0;
    if (!json_is_array(array))
        return sd_err_set(err, SD_ERR_INVALID, "SCHEMA value: \"references\" is not an array");
    size_t n = json_array_size(array);
    if (n == 0)
        return 0;
    if (!(out->references = sd_calloc(n, sizeof *out->references)))
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *ref = json_array_get(array, i);
        const char *name, *subject;
        int32_t version = 0;
        bool has_version;
        if (!json_is_object(ref))
            return sd_err_set(err, SD_ERR_INVALID, "SCHEMA value: reference %zu is not an object",
                              i);
        if (get_string(ref, "name", &name, "reference", err) < 0 ||
            get_string(ref, "subject", &subject, "reference", err) < 0 ||
            get_int32(ref, "version", &version, &has_version, "reference", err) < 0)
            return SD_ERR_INVALID;
        if (!name || !subject || !has_version)
            return sd_err_set(err, SD_ERR_INVALID,
                              "SCHEMA value: reference %zu lacks name, subject or version", i);
        out->references[i].version = version;
        out->reference_count = i + 1;
        if (!(out->references[i].name = sd_strdup(name)) ||
            !(out->references[i].subject = sd_strdup(subject)))
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int sr_schema_value_decode(const void *bytes, size_t len, sr_schema_value_t *out, sd_err_t *err)
{
    memset(out, 0, sizeof *out);
    json_t *root = parse_object(bytes, len, "SCHEMA value", err);
    if (!root)
        return SD_ERR_INVALID;
    int rc = SD_ERR_INVALID;
    const char *subject, *schema_type, *schema, *guid;
    bool has_id, has_version;
    if (get_string(root, "subject", &subject, "SCHEMA value", err) < 0 ||
        get_string(root, "schemaType", &schema_type, "SCHEMA value", err) < 0 ||
        get_string(root, "schema", &schema, "SCHEMA value", err) < 0 ||
        get_string(root, "guid", &guid, "SCHEMA value", err) < 0 ||
        get_int32(root, "version", &out->version, &has_version, "SCHEMA value", err) < 0 ||
        get_int32(root, "id", &out->id, &has_id, "SCHEMA value", err) < 0)
        goto fail;
    if (!has_id || out->id < 0) {
        sd_err_set(err, SD_ERR_INVALID, "SCHEMA value has no id >= 0");
        goto fail;
    }
    if (!schema) {
        sd_err_set(err, SD_ERR_INVALID, "SCHEMA value has no schema");
        goto fail;
    }
    json_t *deleted = json_object_get(root, "deleted");
    if (deleted && !json_is_null(deleted) && !json_is_boolean(deleted)) {
        sd_err_set(err, SD_ERR_INVALID, "SCHEMA value: \"deleted\" is not a boolean");
        goto fail;
    }
    out->deleted = json_is_true(deleted);
    if (decode_references(json_object_get(root, "references"), out, err) < 0)
        goto fail;
    json_t *metadata = json_object_get(root, "metadata");
    json_t *rule_set = json_object_get(root, "ruleSet");
    if ((metadata && !json_is_null(metadata) && !json_is_object(metadata)) ||
        (rule_set && !json_is_null(rule_set) && !json_is_object(rule_set))) {
        sd_err_set(err, SD_ERR_INVALID, "SCHEMA value: metadata or ruleSet is not an object");
        goto fail;
    }
    if (json_is_object(metadata))
        out->metadata = json_incref(metadata);
    if (json_is_object(rule_set))
        out->rule_set = json_incref(rule_set);
    /* No schemaType (or an empty one) means AVRO, as SchemaValue's setter. */
    if (!schema_type || !*schema_type)
        schema_type = "AVRO";
    if ((subject && !(out->subject = sd_strdup(subject))) ||
        !(out->schema_type = sd_strdup(schema_type)) || !(out->schema = sd_strdup(schema)) ||
        (guid && !(out->guid = sd_strdup(guid)))) {
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (!has_version)
        out->version = 0;
    json_decref(root);
    return 0;
fail:
    if (rc == SD_ERR_INVALID && err && err->code == SD_ERR_NOMEM)
        rc = SD_ERR_NOMEM;
    json_decref(root);
    sr_schema_value_clear(out);
    return rc;
}
