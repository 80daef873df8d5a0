/*
 * test_sr_records.c - the `_schemas` codec: every key and value encoder
 * against the exact bytes Confluent Schema Registry's Jackson classes write
 * (storage/SchemaKey, ConfigKey, ..., SchemaValue, ConfigValue, ...), keys
 * as Confluent and Karapace write them, and garbage, truncated and
 * non-object inputs.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sr_records.h"
#include "unit.h"

static void expect_text(char *got, const char *want)
{
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(key_encoders_exact_bytes)
{
    expect_text(sr_key_schema("orders-value", 3),
                "{\"keytype\":\"SCHEMA\",\"subject\":\"orders-value\",\"version\":3,\"magic\":1}");
    expect_text(sr_key_config("orders-value"),
                "{\"keytype\":\"CONFIG\",\"subject\":\"orders-value\",\"magic\":0}");
    expect_text(sr_key_config(NULL), "{\"keytype\":\"CONFIG\",\"magic\":0}");
    expect_text(sr_key_mode("s"), "{\"keytype\":\"MODE\",\"subject\":\"s\",\"magic\":0}");
    expect_text(sr_key_mode(NULL), "{\"keytype\":\"MODE\",\"magic\":0}");
    expect_text(sr_key_delete_subject("s"),
                "{\"keytype\":\"DELETE_SUBJECT\",\"subject\":\"s\",\"magic\":0}");
    expect_text(sr_key_clear_subject("s"),
                "{\"keytype\":\"CLEAR_SUBJECT\",\"subject\":\"s\",\"magic\":0}");
    expect_text(sr_key_noop(), "{\"keytype\":\"NOOP\",\"magic\":0}");
    /* Jackson leaves '/' and UTF-8 alone and escapes control characters
     * with upper-case hex. */
    expect_text(sr_key_schema("a/b-\xc3\xa9\x01", 1),
                "{\"keytype\":\"SCHEMA\",\"subject\":\"a/b-\xc3\xa9\\u0001\",\"version\":1,"
                "\"magic\":1}");
    expect_text(sr_key_schema(":.ctx:s", 2147483647),
                "{\"keytype\":\"SCHEMA\",\"subject\":\":.ctx:s\",\"version\":2147483647,"
                "\"magic\":1}");
}
END_TEST

START_TEST(schema_value_avro_as_confluent)
{
    /* Confluent drops schemaType for AVRO (SchemaTypeConverter) and empty
     * references (NON_EMPTY). */
    sr_schema_record_t r = {.subject = "Kafka-key",
                            .version = 1,
                            .id = 1,
                            .schema_type = "AVRO",
                            .schema = "\"string\""};
    expect_text(sr_value_schema(&r), "{\"subject\":\"Kafka-key\",\"version\":1,\"id\":1,"
                                     "\"schema\":\"\\\"string\\\"\",\"deleted\":false}");
    r.schema_type = NULL;
    r.deleted = true;
    expect_text(sr_value_schema(&r), "{\"subject\":\"Kafka-key\",\"version\":1,\"id\":1,"
                                     "\"schema\":\"\\\"string\\\"\",\"deleted\":true}");
}
END_TEST

START_TEST(schema_value_all_fields)
{
    sr_reference_t refs[2] = {{"other.proto", "other", 2}, {"com/x/y.proto", "y", 1}};
    json_t *metadata = json_pack("{s{ss}}", "properties", "owner", "team/a");
    json_t *rule_set = json_pack("{s[{ssss}]}", "domainRules", "name", "r1", "kind", "CONDITION");
    sr_schema_record_t r = {.subject = "s",
                            .version = 7,
                            .id = 42,
                            .schema_type = "PROTOBUF",
                            .schema = "syntax = \"proto3\";\nmessage M { string s = 1; }\n",
                            .references = refs,
                            .reference_count = 2,
                            .metadata = metadata,
                            .rule_set = rule_set,
                            .guid = "0b0e5a1c-2d3f-3a4b-8c5d-6e7f8a9b0c1d",
                            .deleted = false};
    expect_text(sr_value_schema(&r),
                "{\"subject\":\"s\",\"version\":7,\"id\":42,"
                "\"guid\":\"0b0e5a1c-2d3f-3a4b-8c5d-6e7f8a9b0c1d\",\"schemaType\":\"PROTOBUF\","
                "\"references\":[{\"name\":\"other.proto\",\"subject\":\"other\",\"version\":2},"
                "{\"name\":\"com/x/y.proto\",\"subject\":\"y\",\"version\":1}],"
                "\"metadata\":{\"properties\":{\"owner\":\"team/a\"}},"
                "\"ruleSet\":{\"domainRules\":[{\"name\":\"r1\",\"kind\":\"CONDITION\"}]},"
                "\"schema\":\"syntax = \\\"proto3\\\";\\nmessage M { string s = 1; }\\n\","
                "\"deleted\":false}");
    json_decref(metadata);
    json_decref(rule_set);
}
END_TEST

START_TEST(other_value_encoders)
{
    json_t *config = json_pack("{ss}", "compatibilityLevel", "FULL");
    expect_text(sr_value_config("s", config),
                "{\"subject\":\"s\",\"compatibilityLevel\":\"FULL\"}");
    expect_text(sr_value_config(NULL, config), "{\"compatibilityLevel\":\"FULL\"}");
    json_decref(config);
    /* ConfigValue's creator order, whatever order the caller used; unknown
     * fields last, nulls dropped. */
    config = json_pack("{sssbsssnsbss}", "compatibilityLevel", "BACKWARD", "normalize", 1, "alias",
                       "x", "compatibilityGroup", "validateFields", 0, "future", "f");
    expect_text(sr_value_config("s", config),
                "{\"subject\":\"s\",\"alias\":\"x\",\"normalize\":true,\"validateFields\":false,"
                "\"compatibilityLevel\":\"BACKWARD\",\"future\":\"f\"}");
    json_decref(config);
    expect_text(sr_value_mode("s", "IMPORT"), "{\"subject\":\"s\",\"mode\":\"IMPORT\"}");
    expect_text(sr_value_mode(NULL, "READWRITE"), "{\"mode\":\"READWRITE\"}");
    expect_text(sr_value_delete_subject("s", 4), "{\"subject\":\"s\",\"version\":4}");
    expect_text(sr_value_clear_subject("s"), "{\"subject\":\"s\"}");
    expect_text(sr_value_noop_watermark(42), "{\"maxId\":42}");
}
END_TEST

static void decode_ok(const char *text, sr_keytype_t type, const char *subject, int32_t version,
                      int magic)
{
    sr_key_t key;
    sd_err_t err = {0};
    ck_assert_msg(sr_key_decode(text, strlen(text), &key, &err) == 0, "%s: %s", text, err.msg);
    ck_assert_int_eq(key.type, type);
    if (subject)
        ck_assert_str_eq(key.subject, subject);
    else
        ck_assert_ptr_null(key.subject);
    if (type == SR_KEY_SCHEMA)
        ck_assert_int_eq(key.version, version);
    ck_assert_int_eq(key.magic, magic);
    sr_key_clear(&key);
}

static void decode_fails(const void *bytes, size_t len)
{
    sr_key_t key;
    sd_err_t err = {0};
    ck_assert_int_eq(sr_key_decode(bytes, len, &key, &err), SD_ERR_INVALID);
    ck_assert_int_eq(err.code, SD_ERR_INVALID);
    ck_assert(err.msg[0] != '\0');
    ck_assert_ptr_null(key.subject);
}

START_TEST(key_decode_confluent_and_karapace)
{
    decode_ok("{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":2,\"magic\":1}", SR_KEY_SCHEMA,
              "s", 2, 1);
    /* Old registries wrote magic 0 on SCHEMA keys; any order; unknown fields. */
    decode_ok("{\"magic\":0,\"version\":5,\"subject\":\"s\",\"keytype\":\"SCHEMA\",\"x\":[1]}",
              SR_KEY_SCHEMA, "s", 5, 0);
    decode_ok("{\"keytype\":\"CONFIG\",\"magic\":0}", SR_KEY_CONFIG, NULL, 0, 0);
    decode_ok("{\"keytype\":\"CONFIG\",\"subject\":null,\"magic\":0}", SR_KEY_CONFIG, NULL, 0, 0);
    decode_ok("{\"subject\":null,\"magic\":0,\"keytype\":\"MODE\"}", SR_KEY_MODE, NULL, 0, 0);
    decode_ok("{\"keytype\":\"MODE\",\"subject\":\"s\",\"magic\":0}", SR_KEY_MODE, "s", 0, 0);
    decode_ok("{\"keytype\":\"DELETE_SUBJECT\",\"subject\":\"s\",\"magic\":0}",
              SR_KEY_DELETE_SUBJECT, "s", 0, 0);
    decode_ok("{\"keytype\":\"CLEAR_SUBJECT\",\"subject\":\"s\",\"magic\":0}", SR_KEY_CLEAR_SUBJECT,
              "s", 0, 0);
    decode_ok("{\"keytype\":\"NOOP\",\"magic\":0}", SR_KEY_NOOP, NULL, 0, 0);
    decode_ok("{\"keytype\":\"CONTEXT\",\"tenant\":\"t\",\"context\":\".c\",\"magic\":0}",
              SR_KEY_OTHER, NULL, 0, 0);
    decode_ok("{\"keytype\":\"SCHEMA\",\"subject\":\"\xc3\xa9/x\",\"version\":1}", SR_KEY_SCHEMA,
              "\xc3\xa9/x", 1, 0);
    /* What the encoders write decodes back. */
    char *text = sr_key_schema("round", 9);
    decode_ok(text, SR_KEY_SCHEMA, "round", 9, 1);
    free(text);
}
END_TEST

START_TEST(key_decode_rejects_garbage)
{
    const char *bad[] = {
        "",
        "{",
        "garbage",
        "[]",
        "null",
        "42",
        "\"SCHEMA\"",
        "{}",
        "{\"keytype\":5,\"magic\":0}",
        "{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"magic\":1}",
        "{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":0,\"magic\":1}",
        "{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":\"1\",\"magic\":1}",
        "{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":4294967297,\"magic\":1}",
        "{\"keytype\":\"SCHEMA\",\"version\":1,\"magic\":1}",
        "{\"keytype\":\"SCHEMA\",\"subject\":7,\"version\":1,\"magic\":1}",
        "{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":1,\"magic\":2}",
        "{\"keytype\":\"SCHEMA\",\"subject\":\"a\\u0000b\",\"version\":1,\"magic\":1}",
        "{\"keytype\":\"DELETE_SUBJECT\",\"magic\":0}",
        "{\"keytype\":\"CONFIG\",\"magic\":\"x\"}",
        "{\"keytype\":\"CONFIG\",\"magic\":0} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        decode_fails(bad[i], strlen(bad[i]));
    decode_fails(NULL, 0);
    /* Every truncation of a valid key. */
    const char *good = "{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":2,\"magic\":1}";
    for (size_t len = 0; len < strlen(good); len++)
        decode_fails(good, len);
}
END_TEST

START_TEST(schema_value_decode)
{
    const char *text =
        "{\"subject\":\"s\",\"version\":7,\"id\":42,\"md5\":\"AAAA\",\"schemaType\":\"PROTOBUF\","
        "\"references\":[{\"name\":\"o.proto\",\"subject\":\"o\",\"version\":2}],"
        "\"metadata\":{\"properties\":{\"a\":\"b\"}},\"ruleSet\":{\"domainRules\":[]},"
        "\"schema\":\"syntax = \\\"proto3\\\";\",\"deleted\":true,"
        "\"guid\":\"0B0E5A1C-2D3F-3A4B-8C5D-6E7F8A9B0C1D\",\"ts\":1700000000000,\"new\":{}}";
    sr_schema_value_t v;
    sd_err_t err = {0};
    ck_assert_msg(sr_schema_value_decode(text, strlen(text), &v, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(v.subject, "s");
    ck_assert_int_eq(v.version, 7);
    ck_assert_int_eq(v.id, 42);
    ck_assert_str_eq(v.schema_type, "PROTOBUF");
    ck_assert_str_eq(v.schema, "syntax = \"proto3\";");
    ck_assert_uint_eq(v.reference_count, 1);
    ck_assert_str_eq(v.references[0].name, "o.proto");
    ck_assert_str_eq(v.references[0].subject, "o");
    ck_assert_int_eq(v.references[0].version, 2);
    ck_assert_ptr_nonnull(v.metadata);
    ck_assert_ptr_nonnull(v.rule_set);
    ck_assert_str_eq(v.guid, "0B0E5A1C-2D3F-3A4B-8C5D-6E7F8A9B0C1D");
    ck_assert(v.deleted);
    sr_schema_value_clear(&v);

    /* Old values: no schemaType means AVRO, no deleted means false. */
    text = "{\"schema\":\"\\\"int\\\"\",\"id\":3,\"version\":1,\"subject\":\"k\"}";
    ck_assert_int_eq(sr_schema_value_decode(text, strlen(text), &v, &err), 0);
    ck_assert_str_eq(v.schema_type, "AVRO");
    ck_assert(!v.deleted);
    ck_assert_uint_eq(v.reference_count, 0);
    ck_assert_ptr_null(v.metadata);
    ck_assert_ptr_null(v.guid);
    sr_schema_value_clear(&v);

    /* Round trip through the encoder. */
    sr_reference_t ref = {"n", "sub", 4};
    sr_schema_record_t r = {.subject = "x",
                            .version = 2,
                            .id = 9,
                            .schema_type = "JSON",
                            .schema = "{}",
                            .references = &ref,
                            .reference_count = 1};
    char *encoded = sr_value_schema(&r);
    ck_assert_int_eq(sr_schema_value_decode(encoded, strlen(encoded), &v, &err), 0);
    ck_assert_str_eq(v.schema_type, "JSON");
    ck_assert_str_eq(v.references[0].subject, "sub");
    ck_assert_int_eq(v.id, 9);
    sr_schema_value_clear(&v);

    const char *bad[] = {
        "",
        "[1]",
        "null",
        "{\"subject\":\"s\",\"version\":1,\"schema\":\"x\"}",
        "{\"subject\":\"s\",\"version\":1,\"id\":-1,\"schema\":\"x\"}",
        "{\"subject\":\"s\",\"version\":1,\"id\":1}",
        "{\"subject\":\"s\",\"version\":1,\"id\":1,\"schema\":5}",
        "{\"subject\":\"s\",\"version\":1,\"id\":1,\"schema\":\"x\",\"deleted\":\"yes\"}",
        "{\"subject\":\"s\",\"version\":1,\"id\":1,\"schema\":\"x\",\"references\":{}}",
        "{\"subject\":\"s\",\"version\":1,\"id\":1,\"schema\":\"x\",\"references\":[{\"name\":"
        "\"n\"}]}",
        "{\"subject\":\"s\",\"version\":1,\"id\":1,\"schema\":\"x\",\"references\":[3]}",
        "{\"subject\":\"s\",\"version\":1,\"id\":1,\"schema\":\"x\",\"metadata\":[]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(sr_schema_value_decode(bad[i], strlen(bad[i]), &v, &err) == SD_ERR_INVALID,
                      "%s", bad[i]);
        ck_assert_ptr_null(v.schema);
        ck_assert_ptr_null(v.references);
    }
    for (size_t len = 0; len < strlen(encoded); len++)
        ck_assert_int_eq(sr_schema_value_decode(encoded, len, &v, &err), SD_ERR_INVALID);
    free(encoded);
}
END_TEST

START_TEST(value_object)
{
    sd_err_t err = {0};
    json_t *o = sr_value_object("{\"maxId\":3}", 11, &err);
    ck_assert_ptr_nonnull(o);
    json_decref(o);
    ck_assert_ptr_null(sr_value_object("[]", 2, &err));
    ck_assert_ptr_null(sr_value_object("{", 1, &err));
    ck_assert_ptr_null(sr_value_object(NULL, 0, &err));
}
END_TEST

START_TEST(decode_allocation_failures)
{
    const char *key = "{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":2,\"magic\":1}";
    const char *value = "{\"subject\":\"s\",\"version\":7,\"id\":42,\"schemaType\":\"PROTOBUF\","
                        "\"references\":[{\"name\":\"a\",\"subject\":\"b\",\"version\":2},"
                        "{\"name\":\"c\",\"subject\":\"d\",\"version\":1}],"
                        "\"schema\":\"x\",\"guid\":\"g\"}";
    for (long n = 0; n < 20; n++) {
        sr_key_t k;
        sr_schema_value_t v;
        sd_alloc_fail_after(n);
        int rk = sr_key_decode(key, strlen(key), &k, NULL);
        int rv = sr_schema_value_decode(value, strlen(value), &v, NULL);
        sd_alloc_fail_after(-1);
        ck_assert(rk == 0 || rk == SD_ERR_NOMEM);
        ck_assert(rv == 0 || rv == SD_ERR_NOMEM || rv == SD_ERR_INVALID);
        if (rk == 0)
            sr_key_clear(&k);
        if (rv == 0)
            sr_schema_value_clear(&v);
    }
}
END_TEST

static Suite *records_suite(void)
{
    Suite *s = suite_create("sr_records");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, key_encoders_exact_bytes);
    tcase_add_test(tc, schema_value_avro_as_confluent);
    tcase_add_test(tc, schema_value_all_fields);
    tcase_add_test(tc, other_value_encoders);
    tcase_add_test(tc, key_decode_confluent_and_karapace);
    tcase_add_test(tc, key_decode_rejects_garbage);
    tcase_add_test(tc, schema_value_decode);
    tcase_add_test(tc, value_object);
    tcase_add_test(tc, decode_allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(records_suite()); }
