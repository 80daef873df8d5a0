/*
 * sr_state.c - the registry's in-memory state, rebuilt from `_schemas` by
 * applying its records in offset order the way Confluent Schema Registry's
 * KafkaStoreMessageHandler and lookup cache do (see sr_state.h for the API
 * and sr_records.c for the record formats).
 *
 * Layout: subjects in a name-sorted array of pointers (binary search; the
 * array only moves pointers); schemas in an id-sorted array of pointers plus
 * two hash maps, identity text -> schema and GUID -> schema. Each schema
 * counts the versions (of any subject, deleted or not) that use it and goes
 * away when the count drops to zero; the highest id ever seen is remembered
 * apart so that ids are never handed out twice.
 */
#include "sr_state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/md5.h"
#include "sr_records.h"

#define LOG "registry"

/* A schema with what only the state needs; `pub` first so that a pointer to
 * the entry is a pointer to its sr_schema_t. */
typedef struct schema_entry {
    sr_schema_t pub;
    char *identity;
    size_t users;         /* versions using this id */
    bool shared_identity; /* another entry had the same identity (or GUID) */
} schema_entry_t;

/* Open addressing, linear probing, backward-shift deletion; keys are
 * borrowed from the entries. */
typedef struct str_map {
    const char **keys;
    schema_entry_t **values;
    size_t cap; /* power of two or 0 */
    size_t count;
} str_map_t;

struct sr_state {
    pthread_rwlock_t lock;
    sr_subject_t **subjects;
    size_t subject_count, subject_cap;
    schema_entry_t **schemas;
    size_t schema_count, schema_cap;
    str_map_t by_identity;
    str_map_t by_guid;
    json_t *global_config;
    char *global_mode;
    int32_t max_id;
    atomic_ullong generation; /* records applied so far */
};

/* ---- string map ---- */

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static schema_entry_t *map_get(const str_map_t *map, const char *key)
{
    if (!map->cap)
        return NULL;
    for (size_t i = hash_string(key) & (map->cap - 1);; i = (i + 1) & (map->cap - 1)) {
        if (!map->keys[i])
            return NULL;
        if (strcmp(map->keys[i], key) == 0)
            return map->values[i];
    }
}

static int map_grow(str_map_t *map)
{
    size_t cap = map->cap ? map->cap * 2 : 64;
    const char **keys = sd_calloc(cap, sizeof *keys);
    schema_entry_t **values = sd_calloc(cap, sizeof *values);
    if (!keys || !values) {
        sd_free(keys);
        sd_free(values);
        return -1;
    }
    for (size_t i = 0; i < map->cap; i++) {
        if (!map->keys[i])
            continue;
        size_t j = hash_string(map->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = map->keys[i];
        values[j] = map->values[i];
    }
    sd_free(map->keys);
    sd_free(map->values);
    map->keys = keys;
    map->values = values;
    map->cap = cap;
    return 0;
}

/* Sets key -> value (replacing). -1 on allocation failure. */
static int map_put(str_map_t *map, const char *key, schema_entry_t *value)
{
    if ((map->count + 1) * 4 > map->cap * 3 && map_grow(map) < 0)
        return -1;
    size_t i = hash_string(key) & (map->cap - 1);
    while (map->keys[i] && strcmp(map->keys[i], key) != 0)
        i = (i + 1) & (map->cap - 1);
    if (!map->keys[i])
        map->count++;
    map->keys[i] = key;
    map->values[i] = value;
    return 0;
}

static void map_remove(str_map_t *map, const char *key)
{
    if (!map->cap)
        return;
    size_t mask = map->cap - 1, i = hash_string(key) & mask;
    while (map->keys[i] && strcmp(map->keys[i], key) != 0)
        i = (i + 1) & mask;
    if (!map->keys[i])
        return;
    map->keys[i] = NULL;
    map->count--;
    /* Shift back the entries of the probe run that follows. */
    for (size_t j = (i + 1) & mask; map->keys[j]; j = (j + 1) & mask) {
        size_t home = hash_string(map->keys[j]) & mask;
        /* Move j to i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        map->keys[i] = map->keys[j];
        map->values[i] = map->values[j];
        map->keys[j] = NULL;
        i = j;
    }
}

static void map_free(str_map_t *map)
{
    sd_free(map->keys);
    sd_free(map->values);
    memset(map, 0, sizeof *map);
}

/* ---- identity and GUID ---- */

static json_t *references_identity(const sr_reference_t *refs, size_t count)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < count; i++) {
        json_t *ref = json_pack("[ssi]", refs[i].name ? refs[i].name : "",
                                refs[i].subject ? refs[i].subject : "", (int)refs[i].version);
        if (!ref || json_array_append_new(array, ref) != 0) {
            json_decref(ref);
            json_decref(array);
            return NULL;
        }
    }
    return array;
}

char *sr_schema_identity(const char *schema_type, const char *schema, const sr_reference_t *refs,
                         size_t ref_count, const json_t *metadata, const json_t *rule_set)
{
    json_t *refs_json = references_identity(refs, ref_count);
    if (!refs_json)
        return NULL;
    json_t *meta = metadata ? json_deep_copy(metadata) : json_null();
    json_t *rules = rule_set ? json_deep_copy(rule_set) : json_null();
    json_t *all = json_pack("[ssooo]", schema_type && *schema_type ? schema_type : "AVRO",
                            schema ? schema : "", refs_json, meta, rules);
    if (!all)
        return NULL; /* json_pack's "o" steals even on failure */
    char *text = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all);
    if (!text)
        return NULL;
    /* Hand out memory from our allocator, as the header promises free(). */
    return text;
}

void sr_schema_guid_for(const char *identity, char out[37])
{
    uint8_t d[SD_MD5_DIGEST_LEN];
    sd_md5(identity, strlen(identity), d);
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x30); /* version 3: name-based, MD5 */
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0],
             d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13],
             d[14], d[15]);
}

/* A GUID from a record, lower-cased into out; false if it is not UUID text. */
static bool normalize_guid(const char *guid, char out[37])
{
    if (!guid || strlen(guid) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = guid[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (c >= 'A' && c <= 'F') {
            c = (char)(c - 'A' + 'a');
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
        out[i] = c;
    }
    out[36] = '\0';
    return true;
}

/* ---- schemas ---- */

static size_t schema_index(const sr_state_t *state, int32_t id, bool *found)
{
    size_t lo = 0, hi = state->schema_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (state->schemas[mid]->pub.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < state->schema_count && state->schemas[lo]->pub.id == id;
    return lo;
}

static schema_entry_t *schema_get(const sr_state_t *state, int32_t id)
{
    bool found;
    size_t i = schema_index(state, id, &found);
    return found ? state->schemas[i] : NULL;
}

static void schema_entry_free(schema_entry_t *e)
{
    if (!e)
        return;
    sd_free(e->pub.schema_type);
    sd_free(e->pub.schema);
    for (size_t i = 0; i < e->pub.reference_count; i++) {
        sd_free(e->pub.references[i].name);
        sd_free(e->pub.references[i].subject);
    }
    sd_free(e->pub.references);
    json_decref(e->pub.metadata);
    json_decref(e->pub.rule_set);
    free(e->identity);
    sd_free(e);
}

/* Re-points a map key at another entry with the same key, if any, after
 * `gone` left it. Only runs for entries that ever shared their key. */
static void repoint(sr_state_t *state, str_map_t *map, const char *key, schema_entry_t *gone,
                    bool by_guid)
{
    if (map_get(map, key) != gone)
        return;
    map_remove(map, key);
    for (size_t i = 0; i < state->schema_count; i++) {
        schema_entry_t *e = state->schemas[i];
        if (e == gone)
            continue;
        const char *k = by_guid ? e->pub.guid : e->identity;
        if (strcmp(k, key) == 0) {
            (void)map_put(map, k, e); /* the slot was just freed: cannot fail */
            return;
        }
    }
}

static void schema_drop(sr_state_t *state, schema_entry_t *e)
{
    bool found;
    size_t i = schema_index(state, e->pub.id, &found);
    if (found && state->schemas[i] == e) {
        memmove(&state->schemas[i], &state->schemas[i + 1],
                (state->schema_count - i - 1) * sizeof *state->schemas);
        state->schema_count--;
    }
    if (e->shared_identity) {
        repoint(state, &state->by_identity, e->identity, e, false);
        repoint(state, &state->by_guid, e->pub.guid, e, true);
    } else {
        if (map_get(&state->by_identity, e->identity) == e)
            map_remove(&state->by_identity, e->identity);
        if (map_get(&state->by_guid, e->pub.guid) == e)
            map_remove(&state->by_guid, e->pub.guid);
    }
    schema_entry_free(e);
}

static void schema_release(sr_state_t *state, int32_t id)
{
    schema_entry_t *e = schema_get(state, id);
    if (e && --e->users == 0)
        schema_drop(state, e);
}

/* Builds an entry from a decoded value, stealing its parts. */
static schema_entry_t *schema_entry_from(sr_schema_value_t *v, char *identity)
{
    schema_entry_t *e = sd_calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->pub.id = v->id;
    e->pub.schema_type = v->schema_type;
    e->pub.schema = v->schema;
    e->pub.references = v->references;
    e->pub.reference_count = v->reference_count;
    e->pub.metadata = v->metadata;
    e->pub.rule_set = v->rule_set;
    v->schema_type = v->schema = NULL;
    v->references = NULL;
    v->reference_count = 0;
    v->metadata = v->rule_set = NULL;
    if (!normalize_guid(v->guid, e->pub.guid))
        sr_schema_guid_for(identity, e->pub.guid);
    e->identity = identity;
    return e;
}

/* Inserts a new entry into the array and both maps; -1 on failure (the
 * entry is then not in any structure). */
static int schema_insert(sr_state_t *state, schema_entry_t *e)
{
    bool found;
    size_t at = schema_index(state, e->pub.id, &found);
    if (state->schema_count == state->schema_cap) {
        size_t cap = state->schema_cap ? state->schema_cap * 2 : 64;
        schema_entry_t **grown = sd_realloc(state->schemas, cap * sizeof *grown);
        if (!grown)
            return -1;
        state->schemas = grown;
        state->schema_cap = cap;
    }
    schema_entry_t *same_identity = map_get(&state->by_identity, e->identity);
    schema_entry_t *same_guid = map_get(&state->by_guid, e->pub.guid);
    if ((!same_identity && map_put(&state->by_identity, e->identity, e) < 0) ||
        (!same_guid && map_put(&state->by_guid, e->pub.guid, e) < 0)) {
        if (map_get(&state->by_identity, e->identity) == e)
            map_remove(&state->by_identity, e->identity);
        return -1;
    }
    if (same_identity || same_guid) {
        e->shared_identity = true;
        if (same_identity)
            same_identity->shared_identity = true;
        if (same_guid)
            same_guid->shared_identity = true;
    }
    memmove(&state->schemas[at + 1], &state->schemas[at],
            (state->schema_count - at) * sizeof *state->schemas);
    state->schemas[at] = e;
    state->schema_count++;
    return 0;
}

/* ---- subjects ---- */

static size_t subject_index(const sr_state_t *state, const char *name, bool *found)
{
    size_t lo = 0, hi = state->subject_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(state->subjects[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < state->subject_count && strcmp(state->subjects[lo]->name, name) == 0;
    return lo;
}

static sr_subject_t *subject_find(const sr_state_t *state, const char *name)
{
    bool found;
    size_t i = subject_index(state, name, &found);
    return found ? state->subjects[i] : NULL;
}

static sr_subject_t *subject_get_or_add(sr_state_t *state, const char *name)
{
    bool found;
    size_t at = subject_index(state, name, &found);
    if (found)
        return state->subjects[at];
    if (state->subject_count == state->subject_cap) {
        size_t cap = state->subject_cap ? state->subject_cap * 2 : 64;
        sr_subject_t **grown = sd_realloc(state->subjects, cap * sizeof *grown);
        if (!grown)
            return NULL;
        state->subjects = grown;
        state->subject_cap = cap;
    }
    sr_subject_t *s = sd_calloc(1, sizeof *s);
    if (!s || !(s->name = sd_strdup(name))) {
        sd_free(s);
        return NULL;
    }
    memmove(&state->subjects[at + 1], &state->subjects[at],
            (state->subject_count - at) * sizeof *state->subjects);
    state->subjects[at] = s;
    state->subject_count++;
    return s;
}

static void subject_free(sr_subject_t *s)
{
    sd_free(s->name);
    sd_free(s->versions);
    json_decref(s->config);
    sd_free(s->mode);
    sd_free(s);
}

/* Drops a subject nothing refers to any more: no versions, config or mode
 * (what a Confluent registry no longer lists either). */
static void subject_drop_if_empty(sr_state_t *state, sr_subject_t *s)
{
    if (s->version_count || s->config || s->mode)
        return;
    bool found;
    size_t i = subject_index(state, s->name, &found);
    if (!found)
        return;
    memmove(&state->subjects[i], &state->subjects[i + 1],
            (state->subject_count - i - 1) * sizeof *state->subjects);
    state->subject_count--;
    subject_free(s);
}

static size_t version_index(const sr_subject_t *s, int32_t version, bool *found)
{
    size_t lo = 0, hi = s->version_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->versions[mid].version < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->version_count && s->versions[lo].version == version;
    return lo;
}

static void version_remove_at(sr_state_t *state, sr_subject_t *s, size_t i)
{
    int32_t id = s->versions[i].id;
    memmove(&s->versions[i], &s->versions[i + 1], (s->version_count - i - 1) * sizeof *s->versions);
    s->version_count--;
    schema_release(state, id);
}

/* ---- applying records ---- */

static void apply_schema(sr_state_t *state, const sr_key_t *key, const void *value, size_t len,
                         int64_t offset, int64_t timestamp_ms)
{
    sr_schema_value_t v;
    sd_err_t err = {0};
    char *identity = NULL;
    if (sr_schema_value_decode(value, len, &v, &err) < 0) {
        sd_warn(LOG, "_schemas offset %lld: skipping SCHEMA record of subject '%s' version %d: %s",
                (long long)offset, key->subject, (int)key->version, err.msg);
        return;
    }
    if ((v.subject && strcmp(v.subject, key->subject) != 0) ||
        (v.version && v.version != key->version))
        sd_warn(LOG,
                "_schemas offset %lld: SCHEMA value names '%s' version %d under key '%s' version "
                "%d; the key wins",
                (long long)offset, v.subject ? v.subject : "", (int)v.version, key->subject,
                (int)key->version);
    if (v.id > state->max_id)
        state->max_id = v.id; /* Confluent counts every id it reads */
    identity = sr_schema_identity(v.schema_type, v.schema, v.references, v.reference_count,
                                  v.metadata, v.rule_set);
    if (!identity)
        goto nomem;
    schema_entry_t *entry = schema_get(state, v.id);
    if (entry && strcmp(entry->identity, identity) != 0) {
        sd_warn(LOG,
                "_schemas offset %lld: skipping SCHEMA record of subject '%s' version %d: id %d "
                "is already used by a different schema",
                (long long)offset, key->subject, (int)key->version, (int)v.id);
        goto done;
    }
    sr_subject_t *s = subject_get_or_add(state, key->subject);
    if (!s)
        goto nomem;
    bool found;
    size_t at = version_index(s, key->version, &found);
    if (!found) {
        sr_version_t *grown = sd_realloc(s->versions, (s->version_count + 1) * sizeof *grown);
        if (!grown)
            goto nomem_subject;
        s->versions = grown;
    }
    if (!entry) {
        entry = schema_entry_from(&v, identity);
        if (!entry)
            goto nomem_subject;
        identity = NULL; /* owned by the entry */
        if (schema_insert(state, entry) < 0) {
            schema_entry_free(entry);
            goto nomem_subject;
        }
    }
    entry->users++;
    if (found) {
        int32_t old_id = s->versions[at].id;
        s->versions[at].id = v.id;
        s->versions[at].deleted = v.deleted;
        s->versions[at].ts = timestamp_ms;
        schema_release(state, old_id);
    } else {
        memmove(&s->versions[at + 1], &s->versions[at],
                (s->version_count - at) * sizeof *s->versions);
        s->versions[at] = (sr_version_t){
            .version = key->version, .id = v.id, .deleted = v.deleted, .ts = timestamp_ms};
        s->version_count++;
    }
    goto done;
nomem_subject:
    subject_drop_if_empty(state, s);
nomem:
    sd_error(LOG, "_schemas offset %lld: out of memory applying SCHEMA record", (long long)offset);
done:
    free(identity);
    sr_schema_value_clear(&v);
}

static void apply_schema_tombstone(sr_state_t *state, const sr_key_t *key)
{
    sr_subject_t *s = subject_find(state, key->subject);
    if (!s)
        return;
    bool found;
    size_t at = version_index(s, key->version, &found);
    if (!found)
        return;
    version_remove_at(state, s, at);
    subject_drop_if_empty(state, s);
}

static void apply_config(sr_state_t *state, const sr_key_t *key, const void *value, size_t len,
                         int64_t offset)
{
    json_t *config = NULL;
    if (value) {
        sd_err_t err = {0};
        if (!(config = sr_value_object(value, len, &err))) {
            sd_warn(LOG, "_schemas offset %lld: skipping CONFIG record: %s", (long long)offset,
                    err.msg);
            return;
        }
        json_object_del(config, "subject"); /* the key says whose it is */
    }
    if (!key->subject) {
        json_decref(state->global_config);
        state->global_config = config;
        return;
    }
    sr_subject_t *s =
        config ? subject_get_or_add(state, key->subject) : subject_find(state, key->subject);
    if (!s) {
        if (config)
            sd_error(LOG, "_schemas offset %lld: out of memory applying CONFIG record",
                     (long long)offset);
        json_decref(config);
        return;
    }
    json_decref(s->config);
    s->config = config;
    subject_drop_if_empty(state, s);
}

static void apply_mode(sr_state_t *state, const sr_key_t *key, const void *value, size_t len,
                       int64_t offset)
{
    char *mode = NULL;
    if (value) {
        sd_err_t err = {0};
        json_t *object = sr_value_object(value, len, &err);
        const char *text = NULL;
        if (object && json_is_string(json_object_get(object, "mode")))
            text = json_string_value(json_object_get(object, "mode"));
        if (!text) {
            sd_warn(LOG, "_schemas offset %lld: skipping MODE record: %s", (long long)offset,
                    object ? "no \"mode\" string" : err.msg);
            json_decref(object);
            return;
        }
        mode = sd_strdup(text);
        json_decref(object);
        if (!mode) {
            sd_error(LOG, "_schemas offset %lld: out of memory applying MODE record",
                     (long long)offset);
            return;
        }
    }
    if (!key->subject) {
        sd_free(state->global_mode);
        state->global_mode = mode;
        return;
    }
    sr_subject_t *s =
        mode ? subject_get_or_add(state, key->subject) : subject_find(state, key->subject);
    if (!s) {
        if (mode)
            sd_error(LOG, "_schemas offset %lld: out of memory applying MODE record",
                     (long long)offset);
        sd_free(mode);
        return;
    }
    sd_free(s->mode);
    s->mode = mode;
    subject_drop_if_empty(state, s);
}

static void apply_delete_subject(sr_state_t *state, const sr_key_t *key, const void *value,
                                 size_t len, int64_t offset)
{
    if (!value)
        return; /* Confluent ignores these tombstones */
    sd_err_t err = {0};
    json_t *object = sr_value_object(value, len, &err);
    json_t *version = object ? json_object_get(object, "version") : NULL;
    json_t *subject = object ? json_object_get(object, "subject") : NULL;
    if (!json_is_integer(version)) {
        sd_warn(LOG, "_schemas offset %lld: skipping DELETE_SUBJECT record: %s", (long long)offset,
                object ? "no integer \"version\"" : err.msg);
        json_decref(object);
        return;
    }
    /* Confluent takes the subject from the value. */
    const char *name = json_is_string(subject) ? json_string_value(subject) : key->subject;
    sr_subject_t *s = name ? subject_find(state, name) : NULL;
    json_int_t upto = json_integer_value(version);
    for (size_t i = 0; s && i < s->version_count && s->versions[i].version <= upto; i++)
        s->versions[i].deleted = true;
    json_decref(object);
}

/* Does CLEAR_SUBJECT's subject select `name`? None (or "") selects every
 * subject, a context prefix ":.ctx:" the subjects of that context. */
static bool clear_matches(const char *pattern, const char *name)
{
    if (!pattern || !*pattern)
        return true;
    size_t n = strlen(pattern);
    if (n > 2 && pattern[0] == ':' && pattern[1] == '.' && pattern[n - 1] == ':')
        return strncmp(name, pattern, n) == 0;
    return strcmp(name, pattern) == 0;
}

/* Confluent's lookup cache drops the soft-deleted versions of the matching
 * subjects (written when the registry switches to IMPORT mode); live
 * versions stay. */
static void apply_clear_subject(sr_state_t *state, const sr_key_t *key, const void *value,
                                size_t len, int64_t offset)
{
    if (!value)
        return;
    sd_err_t err = {0};
    json_t *object = sr_value_object(value, len, &err);
    if (!object) {
        sd_warn(LOG, "_schemas offset %lld: skipping CLEAR_SUBJECT record: %s", (long long)offset,
                err.msg);
        return;
    }
    json_t *subject = json_object_get(object, "subject");
    const char *pattern = json_is_string(subject) ? json_string_value(subject) : key->subject;
    for (size_t i = state->subject_count; i-- > 0;) {
        sr_subject_t *s = state->subjects[i];
        if (!clear_matches(pattern, s->name))
            continue;
        for (size_t v = s->version_count; v-- > 0;)
            if (s->versions[v].deleted)
                version_remove_at(state, s, v);
        subject_drop_if_empty(state, s);
    }
    json_decref(object);
}

static void apply_noop(sr_state_t *state, const void *value, size_t len, int64_t offset)
{
    if (!value)
        return;
    json_t *object = sr_value_object(value, len, NULL);
    json_t *max_id = object ? json_object_get(object, "maxId") : NULL;
    if (json_is_integer(max_id) && json_integer_value(max_id) >= 0 &&
        json_integer_value(max_id) <= INT32_MAX) {
        if (json_integer_value(max_id) > state->max_id)
            state->max_id = (int32_t)json_integer_value(max_id);
    } else {
        sd_warn(LOG, "_schemas offset %lld: NOOP record with a value that is not {\"maxId\":N}",
                (long long)offset);
    }
    json_decref(object);
}

void sr_state_apply(sr_state_t *state, const void *key, size_t key_len, const void *value,
                    size_t value_len, int64_t offset, int64_t timestamp_ms)
{
    sr_key_t k;
    sd_err_t err = {0};
    if (sr_key_decode(key, key_len, &k, &err) < 0) {
        sd_warn(LOG, "_schemas offset %lld: skipping record with unreadable key: %s",
                (long long)offset, err.msg);
        return;
    }
    pthread_rwlock_wrlock(&state->lock);
    switch (k.type) {
    case SR_KEY_SCHEMA:
        if (value)
            apply_schema(state, &k, value, value_len, offset, timestamp_ms);
        else
            apply_schema_tombstone(state, &k);
        break;
    case SR_KEY_CONFIG: apply_config(state, &k, value, value_len, offset); break;
    case SR_KEY_MODE: apply_mode(state, &k, value, value_len, offset); break;
    case SR_KEY_DELETE_SUBJECT: apply_delete_subject(state, &k, value, value_len, offset); break;
    case SR_KEY_CLEAR_SUBJECT: apply_clear_subject(state, &k, value, value_len, offset); break;
    case SR_KEY_NOOP: apply_noop(state, value, value_len, offset); break;
    case SR_KEY_OTHER:
        sd_debug(LOG, "_schemas offset %lld: ignoring record of an unsupported key type",
                 (long long)offset);
        break;
    }
    atomic_fetch_add(&state->generation, 1);
    pthread_rwlock_unlock(&state->lock);
    sr_key_clear(&k);
}

/* ---- life cycle and queries ---- */

sr_state_t *sr_state_new(void)
{
    sr_state_t *state = sd_calloc(1, sizeof *state);
    if (!state)
        return NULL;
    if (pthread_rwlock_init(&state->lock, NULL) != 0) {
        sd_free(state);
        return NULL;
    }
    return state;
}

void sr_state_free(sr_state_t *state)
{
    if (!state)
        return;
    for (size_t i = 0; i < state->subject_count; i++)
        subject_free(state->subjects[i]);
    for (size_t i = 0; i < state->schema_count; i++)
        schema_entry_free(state->schemas[i]);
    sd_free(state->subjects);
    sd_free(state->schemas);
    map_free(&state->by_identity);
    map_free(&state->by_guid);
    json_decref(state->global_config);
    sd_free(state->global_mode);
    pthread_rwlock_destroy(&state->lock);
    sd_free(state);
}

void sr_state_read_lock(sr_state_t *state) { pthread_rwlock_rdlock(&state->lock); }
void sr_state_read_unlock(sr_state_t *state) { pthread_rwlock_unlock(&state->lock); }

const sr_subject_t *sr_state_subject(const sr_state_t *state, const char *name)
{
    return name ? subject_find(state, name) : NULL;
}

size_t sr_state_subject_count(const sr_state_t *state) { return state->subject_count; }

const sr_subject_t *sr_state_subject_at(const sr_state_t *state, size_t index)
{
    return index < state->subject_count ? state->subjects[index] : NULL;
}

const sr_version_t *sr_subject_version(const sr_subject_t *subject, int32_t version)
{
    if (!subject)
        return NULL;
    bool found;
    size_t i = version_index(subject, version, &found);
    return found ? &subject->versions[i] : NULL;
}

const sr_version_t *sr_subject_latest(const sr_subject_t *subject)
{
    for (size_t i = subject ? subject->version_count : 0; i-- > 0;)
        if (!subject->versions[i].deleted)
            return &subject->versions[i];
    return NULL;
}

int32_t sr_subject_max_version(const sr_subject_t *subject)
{
    return subject && subject->version_count ? subject->versions[subject->version_count - 1].version
                                             : 0;
}

const sr_schema_t *sr_state_schema(const sr_state_t *state, int32_t id)
{
    schema_entry_t *e = schema_get(state, id);
    return e ? &e->pub : NULL;
}

const sr_schema_t *sr_state_schema_by_guid(const sr_state_t *state, const char *guid)
{
    char normalized[37];
    if (!normalize_guid(guid, normalized))
        return NULL;
    schema_entry_t *e = map_get(&state->by_guid, normalized);
    return e ? &e->pub : NULL;
}

size_t sr_state_schema_count(const sr_state_t *state) { return state->schema_count; }

const sr_schema_t *sr_state_schema_at(const sr_state_t *state, size_t index)
{
    return index < state->schema_count ? &state->schemas[index]->pub : NULL;
}

const sr_schema_t *sr_state_schema_by_content(const sr_state_t *state, const char *schema_type,
                                              const char *schema, const sr_reference_t *refs,
                                              size_t ref_count, const json_t *metadata,
                                              const json_t *rule_set)
{
    char *identity = sr_schema_identity(schema_type, schema, refs, ref_count, metadata, rule_set);
    if (!identity)
        return NULL;
    schema_entry_t *e = map_get(&state->by_identity, identity);
    free(identity);
    return e ? &e->pub : NULL;
}

int32_t sr_state_next_id(const sr_state_t *state)
{
    return state->max_id < 1 ? 1 : (state->max_id == INT32_MAX ? INT32_MAX : state->max_id + 1);
}

const json_t *sr_state_global_config(const sr_state_t *state) { return state->global_config; }
const char *sr_state_global_mode(const sr_state_t *state) { return state->global_mode; }

void sr_state_referrers(const sr_state_t *state, const char *subject, int32_t version,
                        bool include_deleted, sr_referrer_fn fn, void *ctx)
{
    for (size_t i = 0; i < state->subject_count; i++) {
        const sr_subject_t *s = state->subjects[i];
        for (size_t v = 0; v < s->version_count; v++) {
            const sr_version_t *ver = &s->versions[v];
            if (ver->deleted && !include_deleted)
                continue;
            const schema_entry_t *e = schema_get(state, ver->id);
            for (size_t r = 0; e && r < e->pub.reference_count; r++) {
                const sr_reference_t *ref = &e->pub.references[r];
                if (ref->version == version && ref->subject && strcmp(ref->subject, subject) == 0) {
                    fn(ctx, s, ver);
                    break;
                }
            }
        }
    }
}

void sr_state_versions_of(const sr_state_t *state, int32_t id, bool include_deleted,
                          sr_referrer_fn fn, void *ctx)
{
    const schema_entry_t *e = schema_get(state, id);
    size_t left = e ? e->users : 0;
    for (size_t i = 0; left && i < state->subject_count; i++) {
        const sr_subject_t *s = state->subjects[i];
        for (size_t v = 0; v < s->version_count; v++) {
            if (s->versions[v].id != id)
                continue;
            left--;
            if (!s->versions[v].deleted || include_deleted)
                fn(ctx, s, &s->versions[v]);
        }
    }
}

uint64_t sr_state_generation(const sr_state_t *state)
{
    return atomic_load(&((sr_state_t *)state)->generation);
}
