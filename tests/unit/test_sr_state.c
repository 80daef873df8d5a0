/*
 * test_sr_state.c - applying `_schemas` records to the registry state:
 * registration, content shared between subjects, soft deletes by flag and
 * by DELETE_SUBJECT, hard-delete tombstones (ids still counted), config and
 * mode set/unset, CLEAR_SUBJECT, id clashes, the NOOP id watermark,
 * referrers, versions of an id, lookup by content and GUID, unreadable
 * records, and 10,000 schemas applied in one go.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "sr_records.h"
#include "sr_state.h"
#include "unit.h"

static sr_state_t *state;
static int64_t offset;
static int warnings;

static void count_warnings(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)module;
    (void)line;
    (void)opaque;
    if (level >= SD_LOG_WARN)
        warnings++;
}

static void setup(void)
{
    state = sr_state_new();
    ck_assert_ptr_nonnull(state);
    offset = 0;
    warnings = 0;
    sd_log_set_sink(count_warnings, NULL);
}

static void teardown(void)
{
    sr_state_free(state);
    sd_log_set_sink(NULL, NULL);
}

/* Applies (key, value) and frees both; value NULL = tombstone. */
static void apply(char *key, char *value)
{
    ck_assert_ptr_nonnull(key);
    sr_state_apply(state, key, strlen(key), value, value ? strlen(value) : 0, offset,
                   1000 + offset);
    offset++;
    free(key);
    free(value);
}

static void apply_raw(const char *key, const char *value)
{
    sr_state_apply(state, key, key ? strlen(key) : 0, value, value ? strlen(value) : 0, offset,
                   1000 + offset);
    offset++;
}

static void put_schema_full(const char *subject, int32_t version, int32_t id, const char *type,
                            const char *schema, const sr_reference_t *refs, size_t ref_count,
                            bool deleted)
{
    sr_schema_record_t r = {.subject = subject,
                            .version = version,
                            .id = id,
                            .schema_type = type,
                            .schema = schema,
                            .references = refs,
                            .reference_count = ref_count,
                            .deleted = deleted};
    apply(sr_key_schema(subject, version), sr_value_schema(&r));
}

static void put_schema(const char *subject, int32_t version, int32_t id, const char *schema,
                       bool deleted)
{
    put_schema_full(subject, version, id, "AVRO", schema, NULL, 0, deleted);
}

START_TEST(register_and_query)
{
    ck_assert_int_eq(sr_state_next_id(state), 1);
    put_schema("orders-value", 1, 1, "\"string\"", false);
    put_schema("orders-value", 2, 2, "\"int\"", false);

    sr_state_read_lock(state);
    const sr_subject_t *s = sr_state_subject(state, "orders-value");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->version_count, 2);
    ck_assert_int_eq(sr_subject_latest(s)->version, 2);
    ck_assert_int_eq(sr_subject_max_version(s), 2);
    ck_assert_int_eq(sr_subject_version(s, 1)->id, 1);
    ck_assert_int_eq(sr_subject_version(s, 1)->ts, 1000);
    ck_assert_ptr_null(sr_subject_version(s, 3));
    const sr_schema_t *schema = sr_state_schema(state, 2);
    ck_assert_str_eq(schema->schema, "\"int\"");
    ck_assert_str_eq(schema->schema_type, "AVRO");
    ck_assert_uint_eq(strlen(schema->guid), 36);
    ck_assert_int_eq(schema->guid[14], '3'); /* version 3 UUID */
    ck_assert_ptr_eq(sr_state_schema_by_guid(state, schema->guid), schema);
    ck_assert_ptr_eq(sr_state_schema_by_content(state, "AVRO", "\"int\"", NULL, 0, NULL, NULL),
                     schema);
    ck_assert_ptr_eq(sr_state_schema_by_content(state, NULL, "\"int\"", NULL, 0, NULL, NULL),
                     schema);
    ck_assert_ptr_null(sr_state_schema_by_content(state, "JSON", "\"int\"", NULL, 0, NULL, NULL));
    ck_assert_int_eq(sr_state_next_id(state), 3);
    ck_assert_uint_eq(sr_state_schema_count(state), 2);
    ck_assert_int_eq(sr_state_schema_at(state, 0)->id, 1);
    ck_assert_ptr_null(sr_state_subject(state, "nope"));
    sr_state_read_unlock(state);

    /* The GUID is derived from the content, the same in every process. */
    char *identity = sr_schema_identity("AVRO", "\"int\"", NULL, 0, NULL, NULL);
    char guid[37];
    sr_schema_guid_for(identity, guid);
    free(identity);
    ck_assert_str_eq(guid, schema->guid);
    ck_assert_int_eq(warnings, 0);
}
END_TEST

START_TEST(same_content_two_subjects_shares_id)
{
    put_schema("a", 1, 5, "\"string\"", false);
    put_schema("b", 1, 5, "\"string\"", false);
    ck_assert_uint_eq(sr_state_schema_count(state), 1);
    ck_assert_uint_eq(sr_state_subject_count(state), 2);
    ck_assert_str_eq(sr_state_subject_at(state, 0)->name, "a");
    ck_assert_str_eq(sr_state_subject_at(state, 1)->name, "b");
    /* Removing one user keeps the schema. */
    apply(sr_key_schema("a", 1), NULL);
    ck_assert_ptr_nonnull(sr_state_schema(state, 5));
    ck_assert_ptr_null(sr_state_subject(state, "a"));
    apply(sr_key_schema("b", 1), NULL);
    ck_assert_ptr_null(sr_state_schema(state, 5));
    ck_assert_uint_eq(sr_state_schema_count(state), 0);
    ck_assert_int_eq(sr_state_next_id(state), 6);
}
END_TEST

START_TEST(soft_delete_flag_and_delete_subject)
{
    put_schema("s", 1, 1, "\"string\"", false);
    put_schema("s", 2, 2, "\"int\"", false);
    put_schema("s", 3, 3, "\"long\"", false);
    /* Soft delete of one version: the record is rewritten with deleted. */
    put_schema("s", 3, 3, "\"long\"", true);
    const sr_subject_t *s = sr_state_subject(state, "s");
    ck_assert(sr_subject_version(s, 3)->deleted);
    ck_assert_int_eq(sr_subject_latest(s)->version, 2);
    ck_assert_int_eq(sr_subject_max_version(s), 3);
    ck_assert_ptr_nonnull(sr_state_schema(state, 3)); /* still readable by id */

    /* DELETE_SUBJECT {version 2} marks versions <= 2. */
    apply(sr_key_delete_subject("s"), sr_value_delete_subject("s", 2));
    s = sr_state_subject(state, "s");
    ck_assert(sr_subject_version(s, 1)->deleted);
    ck_assert(sr_subject_version(s, 2)->deleted);
    ck_assert_ptr_null(sr_subject_latest(s));
    ck_assert_ptr_nonnull(sr_state_subject(state, "s"));
    ck_assert_uint_eq(sr_state_schema_count(state), 3);
    /* Its tombstone is ignored, as Confluent does. */
    apply(sr_key_delete_subject("s"), NULL);
    ck_assert_uint_eq(sr_state_subject(state, "s")->version_count, 3);
}
END_TEST

START_TEST(hard_delete_keeps_id_counted)
{
    put_schema("s", 1, 1, "\"string\"", false);
    put_schema("s", 2, 7, "\"int\"", false);
    put_schema("s", 2, 7, "\"int\"", true);
    apply(sr_key_schema("s", 2), NULL);
    ck_assert_ptr_null(sr_state_schema(state, 7));
    ck_assert_ptr_null(sr_subject_version(sr_state_subject(state, "s"), 2));
    ck_assert_int_eq(sr_subject_max_version(sr_state_subject(state, "s")), 1);
    ck_assert_int_eq(sr_state_next_id(state), 8);
    /* Tombstones of unknown keys change nothing. */
    apply(sr_key_schema("s", 9), NULL);
    apply(sr_key_schema("zzz", 1), NULL);
    ck_assert_uint_eq(sr_state_subject_count(state), 1);
    /* The freed id may come back with other content (an import). */
    put_schema("t", 1, 7, "\"bytes\"", false);
    ck_assert_str_eq(sr_state_schema(state, 7)->schema, "\"bytes\"");
    ck_assert_int_eq(warnings, 0);
}
END_TEST

START_TEST(replace_version_with_other_id)
{
    put_schema("s", 1, 1, "\"string\"", false);
    put_schema("s", 1, 2, "\"int\"", false); /* an import overwriting version 1 */
    ck_assert_ptr_null(sr_state_schema(state, 1));
    ck_assert_int_eq(sr_subject_version(sr_state_subject(state, "s"), 1)->id, 2);
    ck_assert_int_eq(sr_state_next_id(state), 3);
}
END_TEST

START_TEST(config_and_mode_set_unset)
{
    json_t *config = json_pack("{ss}", "compatibilityLevel", "FULL");
    apply(sr_key_config(NULL), sr_value_config(NULL, config));
    apply(sr_key_config("s"), sr_value_config("s", config));
    json_decref(config);
    ck_assert_str_eq(
        json_string_value(json_object_get(sr_state_global_config(state), "compatibilityLevel")),
        "FULL");
    const sr_subject_t *s = sr_state_subject(state, "s");
    ck_assert_ptr_nonnull(s); /* a subject with only a config is listed */
    ck_assert_uint_eq(s->version_count, 0);
    ck_assert_str_eq(json_string_value(json_object_get(s->config, "compatibilityLevel")), "FULL");
    ck_assert_ptr_null(json_object_get(s->config, "subject"));

    apply(sr_key_mode(NULL), sr_value_mode(NULL, "READONLY"));
    apply(sr_key_mode("s"), sr_value_mode("s", "IMPORT"));
    ck_assert_str_eq(sr_state_global_mode(state), "READONLY");
    ck_assert_str_eq(sr_state_subject(state, "s")->mode, "IMPORT");

    /* Karapace's global key form, and a legacy value without subject. */
    apply_raw("{\"keytype\":\"CONFIG\",\"subject\":null,\"magic\":0}",
              "{\"compatibilityLevel\":\"NONE\"}");
    ck_assert_str_eq(
        json_string_value(json_object_get(sr_state_global_config(state), "compatibilityLevel")),
        "NONE");

    apply(sr_key_config("s"), NULL);
    s = sr_state_subject(state, "s");
    ck_assert_ptr_null(s->config);
    apply(sr_key_mode("s"), NULL);
    ck_assert_ptr_null(sr_state_subject(state, "s")); /* nothing left of it */
    apply(sr_key_config(NULL), NULL);
    apply(sr_key_mode(NULL), NULL);
    ck_assert_ptr_null(sr_state_global_config(state));
    ck_assert_ptr_null(sr_state_global_mode(state));
    apply(sr_key_config("never"), NULL);
    ck_assert_ptr_null(sr_state_subject(state, "never"));
    ck_assert_int_eq(warnings, 0);
}
END_TEST

START_TEST(clear_subject_drops_soft_deleted)
{
    put_schema("s", 1, 1, "\"string\"", false);
    put_schema("s", 2, 2, "\"int\"", false);
    put_schema("t", 1, 3, "\"long\"", true);
    put_schema("u", 1, 1, "\"string\"", true);
    apply(sr_key_delete_subject("s"), sr_value_delete_subject("s", 1));
    apply(sr_key_clear_subject("s"), sr_value_clear_subject("s"));
    const sr_subject_t *s = sr_state_subject(state, "s");
    ck_assert_uint_eq(s->version_count, 1);
    ck_assert_int_eq(s->versions[0].version, 2);
    ck_assert_ptr_nonnull(sr_state_schema(state, 1)); /* "u" still uses it */
    ck_assert_ptr_nonnull(sr_state_subject(state, "t"));
    /* Every subject. */
    apply_raw("{\"keytype\":\"CLEAR_SUBJECT\",\"magic\":0}", "{}");
    ck_assert_ptr_null(sr_state_subject(state, "t"));
    ck_assert_ptr_null(sr_state_subject(state, "u"));
    ck_assert_ptr_null(sr_state_schema(state, 1));
    ck_assert_ptr_null(sr_state_schema(state, 3));
    ck_assert_ptr_nonnull(sr_state_schema(state, 2));
    ck_assert_int_eq(sr_state_next_id(state), 4);
}
END_TEST

START_TEST(id_clash_is_skipped)
{
    put_schema("s", 1, 1, "\"string\"", false);
    put_schema("t", 1, 1, "\"int\"", false);
    ck_assert_int_eq(warnings, 1);
    ck_assert_ptr_null(sr_state_subject(state, "t"));
    ck_assert_str_eq(sr_state_schema(state, 1)->schema, "\"string\"");
    /* Same text, other type: other content too. */
    put_schema_full("t", 1, 1, "JSON", "\"string\"", NULL, 0, false);
    ck_assert_int_eq(warnings, 2);
    ck_assert_ptr_null(sr_state_subject(state, "t"));
}
END_TEST

START_TEST(noop_watermark)
{
    apply(sr_key_noop(), NULL);
    ck_assert_int_eq(sr_state_next_id(state), 1);
    apply(sr_key_noop(), sr_value_noop_watermark(41));
    ck_assert_int_eq(sr_state_next_id(state), 42);
    apply(sr_key_noop(), sr_value_noop_watermark(3)); /* never lowers it */
    ck_assert_int_eq(sr_state_next_id(state), 42);
    put_schema("s", 1, 50, "\"string\"", false);
    ck_assert_int_eq(sr_state_next_id(state), 51);
    ck_assert_int_eq(warnings, 0);
    apply_raw("{\"keytype\":\"NOOP\",\"magic\":0}", "{\"other\":1}");
    ck_assert_int_eq(warnings, 1);
    ck_assert_int_eq(sr_state_next_id(state), 51);
}
END_TEST

typedef struct seen {
    char text[512];
} seen_t;

static void collect(void *ctx, const sr_subject_t *subject, const sr_version_t *version)
{
    seen_t *seen = ctx;
    size_t n = strlen(seen->text);
    snprintf(seen->text + n, sizeof seen->text - n, "%s/%d%s ", subject->name,
             (int)version->version, version->deleted ? "d" : "");
}

START_TEST(referrers_and_versions_of)
{
    put_schema("base", 1, 1, "{\"type\":\"fixed\",\"name\":\"B\",\"size\":2}", false);
    sr_reference_t ref = {"B", "base", 1};
    put_schema_full("user", 1, 2, "AVRO", "\"B\"", &ref, 1, false);
    put_schema_full("acct", 1, 3, "AVRO", "[\"null\",\"B\"]", &ref, 1, false);
    put_schema_full("acct", 2, 3, "AVRO", "[\"null\",\"B\"]", &ref, 1, true);
    put_schema("other", 1, 2, "\"B\"", false); /* same text, no references */

    seen_t seen = {""};
    sr_state_referrers(state, "base", 1, false, collect, &seen);
    ck_assert_str_eq(seen.text, "acct/1 user/1 ");
    seen.text[0] = '\0';
    sr_state_referrers(state, "base", 1, true, collect, &seen);
    ck_assert_str_eq(seen.text, "acct/1 acct/2d user/1 ");
    seen.text[0] = '\0';
    sr_state_referrers(state, "base", 2, true, collect, &seen);
    ck_assert_str_eq(seen.text, "");

    /* "other" has different content (no references): id 2 clashed. */
    ck_assert_int_eq(warnings, 1);
    put_schema("other", 1, 4, "\"B\"", false);
    seen.text[0] = '\0';
    sr_state_versions_of(state, 3, false, collect, &seen);
    ck_assert_str_eq(seen.text, "acct/1 ");
    seen.text[0] = '\0';
    sr_state_versions_of(state, 3, true, collect, &seen);
    ck_assert_str_eq(seen.text, "acct/1 acct/2d ");
    seen.text[0] = '\0';
    sr_state_versions_of(state, 99, true, collect, &seen);
    ck_assert_str_eq(seen.text, "");

    const sr_schema_t *with_ref =
        sr_state_schema_by_content(state, "AVRO", "\"B\"", &ref, 1, NULL, NULL);
    ck_assert_ptr_nonnull(with_ref);
    ck_assert_int_eq(with_ref->id, 2);
    ck_assert_str_eq(with_ref->references[0].subject, "base");
    ck_assert_int_eq(sr_state_schema_by_content(state, "AVRO", "\"B\"", NULL, 0, NULL, NULL)->id,
                     4);
}
END_TEST

START_TEST(metadata_and_guid_from_value)
{
    json_t *metadata = json_pack("{s{ss}}", "properties", "owner", "x");
    sr_schema_record_t r = {.subject = "s",
                            .version = 1,
                            .id = 1,
                            .schema = "\"string\"",
                            .metadata = metadata,
                            .guid = "AAAAAAAA-BBBB-3CCC-8DDD-EEEEEEEEEEEE"};
    apply(sr_key_schema("s", 1), sr_value_schema(&r));
    const sr_schema_t *schema = sr_state_schema(state, 1);
    ck_assert_str_eq(schema->guid, "aaaaaaaa-bbbb-3ccc-8ddd-eeeeeeeeeeee");
    ck_assert_ptr_eq(sr_state_schema_by_guid(state, "AAAAAAAA-BBBB-3CCC-8DDD-EEEEEEEEEEEE"),
                     schema);
    ck_assert_ptr_nonnull(schema->metadata);
    /* Metadata is part of the identity, whatever its key order. */
    json_t *same = json_pack("{s{ss}}", "properties", "owner", "x");
    ck_assert_ptr_eq(sr_state_schema_by_content(state, "AVRO", "\"string\"", NULL, 0, same, NULL),
                     schema);
    ck_assert_ptr_null(
        sr_state_schema_by_content(state, "AVRO", "\"string\"", NULL, 0, NULL, NULL));
    json_decref(same);
    /* Same text without metadata is another schema with another id. */
    put_schema("s", 2, 2, "\"string\"", false);
    ck_assert_uint_eq(sr_state_schema_count(state), 2);
    ck_assert_str_ne(sr_state_schema(state, 2)->guid, schema->guid);
    json_decref(metadata);
    ck_assert_ptr_null(sr_state_schema_by_guid(state, "not-a-guid"));
}
END_TEST

START_TEST(same_content_under_two_ids)
{
    /* Imports can give equal content two ids; lookups stay consistent when
     * either goes away. */
    put_schema("a", 1, 10, "\"string\"", false);
    put_schema("b", 1, 11, "\"string\"", false);
    ck_assert_uint_eq(sr_state_schema_count(state), 2);
    const sr_schema_t *found =
        sr_state_schema_by_content(state, "AVRO", "\"string\"", NULL, 0, NULL, NULL);
    ck_assert_int_eq(found->id, 10);
    char guid[37];
    strcpy(guid, found->guid);
    apply(sr_key_schema("a", 1), NULL);
    found = sr_state_schema_by_content(state, "AVRO", "\"string\"", NULL, 0, NULL, NULL);
    ck_assert_ptr_nonnull(found);
    ck_assert_int_eq(found->id, 11);
    ck_assert_ptr_eq(sr_state_schema_by_guid(state, guid), found);
    apply(sr_key_schema("b", 1), NULL);
    ck_assert_ptr_null(
        sr_state_schema_by_content(state, "AVRO", "\"string\"", NULL, 0, NULL, NULL));
    ck_assert_ptr_null(sr_state_schema_by_guid(state, guid));
}
END_TEST

START_TEST(unreadable_records_are_skipped)
{
    put_schema("s", 1, 1, "\"string\"", false);
    apply_raw("not json", "{}");
    apply_raw(NULL, NULL);
    apply_raw("{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":2,\"magic\":1}", "garbage");
    apply_raw("{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":2,\"magic\":1}", "[]");
    apply_raw("{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":2,\"magic\":1}",
              "{\"subject\":\"s\",\"version\":2}");
    apply_raw("{\"keytype\":\"CONFIG\",\"magic\":0}", "{");
    apply_raw("{\"keytype\":\"MODE\",\"magic\":0}", "{\"mode\":3}");
    apply_raw("{\"keytype\":\"DELETE_SUBJECT\",\"subject\":\"s\",\"magic\":0}", "{}");
    apply_raw("{\"keytype\":\"CLEAR_SUBJECT\",\"subject\":\"s\",\"magic\":0}", "x");
    ck_assert_int_eq(warnings, 9);
    /* Unknown key types are read and ignored without a warning. */
    apply_raw("{\"keytype\":\"CONTEXT\",\"tenant\":\"default\",\"context\":\".x\",\"magic\":0}",
              "{}");
    ck_assert_int_eq(warnings, 9);
    const sr_subject_t *s = sr_state_subject(state, "s");
    ck_assert_uint_eq(s->version_count, 1);
    ck_assert(!s->versions[0].deleted);
    ck_assert_ptr_null(sr_state_global_config(state));
    ck_assert_ptr_null(sr_state_global_mode(state));
}
END_TEST

START_TEST(ten_thousand_schemas)
{
    char subject[32], schema[96];
    clock_t start = clock();
    for (int i = 1; i <= 10000; i++) {
        /* Subjects arrive out of name order; every tenth shares content. */
        snprintf(subject, sizeof subject, "subject-%05d", (i * 7919) % 10007);
        int content = i % 10 == 0 ? i - 1 : i;
        snprintf(schema, sizeof schema, "{\"type\":\"record\",\"name\":\"R%d\",\"fields\":[]}",
                 content);
        put_schema(subject, 1, content, schema, false);
    }
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    fprintf(stderr, "10000 schemas applied in %.3f s\n", seconds);
    ck_assert_uint_eq(sr_state_subject_count(state), 10000);
    ck_assert_uint_eq(sr_state_schema_count(state), 9000);
    ck_assert_int_eq(sr_state_next_id(state), 10000);
    for (size_t i = 1; i < sr_state_subject_count(state); i++)
        ck_assert(strcmp(sr_state_subject_at(state, i - 1)->name,
                         sr_state_subject_at(state, i)->name) < 0);
    for (size_t i = 1; i < sr_state_schema_count(state); i++)
        ck_assert_int_lt(sr_state_schema_at(state, i - 1)->id, sr_state_schema_at(state, i)->id);
    ck_assert_str_eq(sr_state_schema(state, 9999)->schema,
                     "{\"type\":\"record\",\"name\":\"R9999\",\"fields\":[]}");
    /* Hard-delete everything: the maps empty out, the ids stay counted. */
    for (size_t i = sr_state_subject_count(state); i-- > 0;) {
        const sr_subject_t *s = sr_state_subject_at(state, i);
        apply(sr_key_schema(s->name, 1), NULL);
    }
    ck_assert_uint_eq(sr_state_subject_count(state), 0);
    ck_assert_uint_eq(sr_state_schema_count(state), 0);
    ck_assert_int_eq(sr_state_next_id(state), 10000);
    ck_assert_int_eq(warnings, 0);
}
END_TEST

START_TEST(allocation_failures)
{
    /* Every allocation of a sequence fails in turn: the state stays usable
     * and frees cleanly (the sanitizer build checks for leaks). */
    sr_reference_t ref = {"B", "base", 1};
    json_t *config = json_pack("{ss}", "compatibilityLevel", "FULL");
    for (long n = 0; n < 80; n++) {
        sr_state_free(state);
        state = sr_state_new();
        ck_assert_ptr_nonnull(state);
        /* Encode first: only the applying may fail. */
        char *keys[6], *values[6];
        sr_schema_record_t base = {.subject = "base", .version = 1, .id = 1, .schema = "\"int\""};
        sr_schema_record_t user = {.subject = "user",
                                   .version = 1,
                                   .id = 2,
                                   .schema = "\"B\"",
                                   .references = &ref,
                                   .reference_count = 1};
        keys[0] = sr_key_schema("base", 1), values[0] = sr_value_schema(&base);
        keys[1] = sr_key_schema("user", 1), values[1] = sr_value_schema(&user);
        keys[2] = sr_key_config("user"), values[2] = sr_value_config("user", config);
        keys[3] = sr_key_mode("user"), values[3] = sr_value_mode("user", "READONLY");
        keys[4] = sr_key_schema("other", 1), values[4] = sr_value_schema(&base);
        keys[5] = sr_key_schema("base", 1), values[5] = NULL;
        sd_alloc_fail_after(n);
        for (int i = 0; i < 6; i++)
            sr_state_apply(state, keys[i], strlen(keys[i]), values[i],
                           values[i] ? strlen(values[i]) : 0, i, i);
        sd_alloc_fail_after(-1);
        for (int i = 0; i < 6; i++) {
            free(keys[i]);
            free(values[i]);
        }
        /* Whatever made it in is consistent. */
        for (size_t i = 0; i < sr_state_subject_count(state); i++) {
            const sr_subject_t *s = sr_state_subject_at(state, i);
            for (size_t v = 0; v < s->version_count; v++)
                ck_assert_ptr_nonnull(sr_state_schema(state, s->versions[v].id));
        }
    }
    json_decref(config);
}
END_TEST

static Suite *state_suite(void)
{
    Suite *s = suite_create("sr_state");
    TCase *tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, register_and_query);
    tcase_add_test(tc, same_content_two_subjects_shares_id);
    tcase_add_test(tc, soft_delete_flag_and_delete_subject);
    tcase_add_test(tc, hard_delete_keeps_id_counted);
    tcase_add_test(tc, replace_version_with_other_id);
    tcase_add_test(tc, config_and_mode_set_unset);
    tcase_add_test(tc, clear_subject_drops_soft_deleted);
    tcase_add_test(tc, id_clash_is_skipped);
    tcase_add_test(tc, noop_watermark);
    tcase_add_test(tc, referrers_and_versions_of);
    tcase_add_test(tc, metadata_and_guid_from_value);
    tcase_add_test(tc, same_content_under_two_ids);
    tcase_add_test(tc, unreadable_records_are_skipped);
    tcase_add_test(tc, ten_thousand_schemas);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(state_suite()); }
