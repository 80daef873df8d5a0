/*
 * test_compat_text.c - the schema texts the registry stores and returns:
 * sc_schema_text's canonical and normalized forms for Avro (with and without
 * references), references resolved by sc_schema_parse, and the types that
 * have no format yet.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "compat.h"
#include "unit.h"

static const char address[] = "{\"type\": \"record\", \"name\": \"Address\", \"namespace\": "
                              "\"com.acme\", \"fields\": [{\"name\": \"zip\", \"type\": "
                              "\"string\"}]}";
static const char kind[] =
    "{\"type\":\"enum\",\"name\":\"com.acme.Kind\",\"symbols\":[\"A\",\"B\"]}";
static const char user[] =
    "{\n  \"namespace\": \"com.acme\",\n  \"type\": \"record\",\n  \"name\": \"User\",\n"
    "  \"doc\": \"a user/owner \\u00e9\",\n  \"fields\": [\n"
    "    {\"type\": \"int\", \"name\": \"id\"},\n"
    "    {\"name\": \"home\", \"type\": \"Address\"},\n"
    "    {\"name\": \"kind\", \"type\": \"com.acme.Kind\", \"default\": \"A\"}\n  ]\n}";

static char *text_of(const sc_schema_t *schema, bool normalized)
{
    char *text = NULL;
    size_t len = 0;
    sd_err_t err = {0};
    ck_assert_msg(sc_schema_text(schema, normalized, &text, &len, &err) == 0, "%s", err.msg);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(len, strlen(text));
    return text;
}

START_TEST(avro_canonical_and_normalized)
{
    const char *input = "{ \"fields\": [ {\"name\": \"b\", \"type\": \"long\"} ], \"name\": "
                        "\"R\", \"type\": \"record\" }";
    sc_schema_t *schema = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(sc_schema_parse(SC_TYPE_AVRO, input, strlen(input), NULL, 0, &schema, &err),
                     0);
    char *canonical = text_of(schema, false);
    ck_assert_str_eq(canonical, "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"b\","
                                "\"type\":\"long\"}]}");
    char *normalized = text_of(schema, true);
    ck_assert_ptr_nonnull(strstr(normalized, "\"name\":\"R\""));
    free(canonical);
    free(normalized);
    sc_schema_free(schema);

    /* A primitive schema's text is the quoted name. */
    ck_assert_int_eq(
        sc_schema_parse(SC_TYPE_AVRO, "{\"type\": \"string\"}", 18, NULL, 0, &schema, &err), 0);
    canonical = text_of(schema, false);
    ck_assert_str_eq(canonical, "\"string\"");
    free(canonical);
    sc_schema_free(schema);
}
END_TEST

START_TEST(avro_references_resolve_and_stay_named)
{
    sc_reference_t refs[] = {{"com.acme.Address", address, sizeof address - 1},
                             {"com.acme.Kind", kind, sizeof kind - 1}};
    sc_schema_t *schema = NULL;
    sd_err_t err = {0};
    ck_assert_msg(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), refs, 2, &schema, &err) == 0,
                  "%s", err.msg);
    char *canonical = text_of(schema, false);
    /* Referenced types are named, not inlined; '/' and UTF-8 kept. */
    ck_assert_msg(strstr(canonical, "\"type\":\"Address\"") ||
                      strstr(canonical, "\"type\":\"com.acme.Address\""),
                  "%s", canonical);
    ck_assert_ptr_null(strstr(canonical, "zip"));
    ck_assert_ptr_null(strstr(canonical, "symbols"));
    ck_assert_ptr_nonnull(strstr(canonical, "a user/owner \xc3\xa9"));
    ck_assert_ptr_nonnull(strstr(canonical, "\"default\":\"A\""));
    /* The canonical text parses again with the same references to itself. */
    sc_schema_t *again = NULL;
    ck_assert_int_eq(
        sc_schema_parse(SC_TYPE_AVRO, canonical, strlen(canonical), refs, 2, &again, &err), 0);
    char *twice = text_of(again, false);
    ck_assert_str_eq(twice, canonical);
    char *normalized = text_of(schema, true);
    ck_assert_ptr_nonnull(strstr(normalized, "Address"));
    ck_assert_ptr_null(strstr(normalized, "zip"));
    free(canonical);
    free(twice);
    free(normalized);
    sc_schema_free(again);
    sc_schema_free(schema);

    /* Without its references the schema does not parse. */
    ck_assert_int_lt(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), NULL, 0, &schema, &err), 0);
    ck_assert_ptr_null(schema);
    ck_assert_ptr_nonnull(strstr(err.msg, "Address"));
    /* Nor with only one of them. */
    ck_assert_int_lt(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), refs, 1, &schema, &err), 0);
}
END_TEST

START_TEST(other_types_unsupported)
{
    sc_schema_t *schema = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(
        sc_schema_parse(SC_TYPE_PROTOBUF, "syntax = \"proto3\";", 18, NULL, 0, &schema, &err),
        SC_ERR_UNSUPPORTED);
    ck_assert_int_eq(sc_schema_parse(SC_TYPE_JSON, "{}", 2, NULL, 0, &schema, &err),
                     SC_ERR_UNSUPPORTED);
    ck_assert_ptr_null(schema);
}
END_TEST

START_TEST(text_allocation_failures)
{
    sc_reference_t refs[] = {{"com.acme.Address", address, sizeof address - 1},
                             {"com.acme.Kind", kind, sizeof kind - 1}};
    sc_schema_t *schema = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), refs, 2, &schema, &err), 0);
    for (long n = 0; n < 200; n++) {
        char *text = NULL;
        sd_alloc_fail_after(n);
        int rc = sc_schema_text(schema, n % 2 == 1, &text, NULL, &err);
        sd_alloc_fail_after(-1);
        if (rc == 0)
            ck_assert_ptr_nonnull(text);
        else
            ck_assert_ptr_null(text);
        free(text);
    }
    sc_schema_free(schema);
}
END_TEST

static Suite *compat_text_suite(void)
{
    Suite *s = suite_create("compat_text");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, avro_canonical_and_normalized);
    tcase_add_test(tc, avro_references_resolve_and_stay_named);
    tcase_add_test(tc, other_types_unsupported);
    tcase_add_test(tc, text_allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(compat_text_suite()); }
