/*
 * test_compat.c - schema compatibility: level and type names, the Avro rules
 * driven by the case table tests/data/compat/avro_cases.json (verdict, rule of
 * every finding, locations and field paths), which versions and directions
 * each level compares, parse errors, and allocation failures.
 */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "compat.h"
#include "unit.h"

#define CASES_PATH "tests/data/compat/avro_cases.json"

static json_t *cases; /* the table's "cases" array, loaded once in main */

static sc_schema_t *parse_json(json_t *schema)
{
    char *text = json_dumps(schema, JSON_ENCODE_ANY | JSON_COMPACT);
    ck_assert_ptr_nonnull(text);
    sc_schema_t *out = NULL;
    sd_err_t err = {0};
    int rc = sc_schema_parse(SC_TYPE_AVRO, text, strlen(text), NULL, 0, &out, &err);
    ck_assert_msg(rc == 0, "cannot parse %s: %s", text, err.msg);
    free(text);
    return out;
}

static sc_schema_t *parse_text(const char *text)
{
    sc_schema_t *out = NULL;
    sd_err_t err = {0};
    ck_assert_msg(sc_schema_parse(SC_TYPE_AVRO, text, strlen(text), NULL, 0, &out, &err) == 0,
                  "cannot parse %s: %s", text, err.msg);
    return out;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Checks that the sorted values of one finding member equal the case's list. */
static void expect_list(const char *name, const char *what, json_t *expected, const char **actual,
                        size_t count)
{
    qsort(actual, count, sizeof *actual, compare_strings);
    char got[2048] = "", want[2048] = "";
    for (size_t i = 0; i < count; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? ", " : "", actual[i]);
    for (size_t i = 0; i < json_array_size(expected); i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? ", " : "",
                 json_string_value(json_array_get(expected, i)));
    ck_assert_msg(strcmp(got, want) == 0, "case '%s': %s [%s], expected [%s]", name, what, got,
                  want);
}

START_TEST(avro_case)
{
    json_t *c = json_array_get(cases, (size_t)_i);
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *level_name = json_string_value(json_object_get(c, "level"));
    json_t *old = json_object_get(c, "old");
    sc_level_t level;
    sd_err_t err = {0};

    ck_assert_msg(sc_level_parse(level_name, &level, &err) == 0, "case '%s': %s", name, err.msg);
    sc_schema_t *new_schema = parse_json(json_object_get(c, "new"));
    size_t n = json_array_size(old);
    const sc_schema_t **earlier = calloc(n + 1, sizeof *earlier);
    for (size_t i = 0; i < n; i++)
        earlier[i] = parse_json(json_array_get(old, i));

    sc_result_t result;
    ck_assert_msg(sc_check(new_schema, earlier, n, level, &result, &err) == 0, "case '%s': %s",
                  name, err.msg);
    ck_assert_msg(result.compatible == json_is_true(json_object_get(c, "compatible")),
                  "case '%s': compatible is %d", name, result.compatible);
    ck_assert_msg(result.compatible == (result.findings.count == 0), "case '%s'", name);

    const char **values = calloc(result.findings.count + 1, sizeof *values);
    for (size_t i = 0; i < result.findings.count; i++)
        values[i] = result.findings.items[i].rule;
    expect_list(name, "rules", json_object_get(c, "rules"), values, result.findings.count);
    if (json_object_get(c, "locations")) {
        for (size_t i = 0; i < result.findings.count; i++)
            values[i] = result.findings.items[i].location;
        expect_list(name, "locations", json_object_get(c, "locations"), values,
                    result.findings.count);
    }
    if (json_object_get(c, "paths")) {
        for (size_t i = 0; i < result.findings.count; i++)
            values[i] = result.findings.items[i].path;
        expect_list(name, "paths", json_object_get(c, "paths"), values, result.findings.count);
    }
    for (size_t i = 0; i < result.findings.count; i++) {
        ck_assert(result.findings.items[i].version < n);
        ck_assert(result.findings.items[i].message[0] != '\0');
    }

    free(values);
    sc_result_free(&result);
    for (size_t i = 0; i < n; i++)
        sc_schema_free((sc_schema_t *)earlier[i]);
    free(earlier);
    sc_schema_free(new_schema);
}
END_TEST

/* The table covers every rule and every level. */
START_TEST(case_table_coverage)
{
    static const char *const rules[] = {
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "TYPE_MISMATCH",
        "MISSING_UNION_BRANCH",
        "MISSING_ENUM_SYMBOLS",
        "NAME_MISMATCH",
        "FIXED_SIZE_MISMATCH",
    };
    static const char *const levels[] = {
        "NONE", "BACKWARD",        "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
        "FULL", "FULL_TRANSITIVE",
    };
    ck_assert_uint_ge(json_array_size(cases), 60);
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        bool seen = false;
        for (size_t i = 0; i < json_array_size(cases) && !seen; i++) {
            json_t *list = json_object_get(json_array_get(cases, i), "rules");
            for (size_t k = 0; k < json_array_size(list); k++)
                seen = seen || strcmp(json_string_value(json_array_get(list, k)), rules[r]) == 0;
        }
        ck_assert_msg(seen, "no case expects %s", rules[r]);
    }
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        size_t multi = 0;
        for (size_t i = 0; i < json_array_size(cases); i++) {
            json_t *c = json_array_get(cases, i);
            if (strcmp(json_string_value(json_object_get(c, "level")), levels[l]) == 0 &&
                json_array_size(json_object_get(c, "old")) > 1)
                multi++;
        }
        ck_assert_msg(multi > 0, "no case with several versions at %s", levels[l]);
    }
}
END_TEST

START_TEST(level_names)
{
    static const struct {
        const char *text;
        sc_level_t level;
        bool backward, forward, transitive;
    } table[] = {
        {"NONE", SC_LEVEL_NONE, false, false, false},
        {"backward", SC_LEVEL_BACKWARD, true, false, false},
        {"Backward_Transitive", SC_LEVEL_BACKWARD_TRANSITIVE, true, false, true},
        {"FORWARD", SC_LEVEL_FORWARD, false, true, false},
        {"forward_transitive", SC_LEVEL_FORWARD_TRANSITIVE, false, true, true},
        {"FULL", SC_LEVEL_FULL, true, true, false},
        {"full_transitive", SC_LEVEL_FULL_TRANSITIVE, true, true, true},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        sc_level_t level;
        ck_assert_int_eq(sc_level_parse(table[i].text, &level, NULL), 0);
        ck_assert_int_eq(level, table[i].level);
        ck_assert(strcasecmp(sc_level_name(level), table[i].text) == 0);
        ck_assert_int_eq(sc_level_backward(level), table[i].backward);
        ck_assert_int_eq(sc_level_forward(level), table[i].forward);
        ck_assert_int_eq(sc_level_transitive(level), table[i].transitive);
    }
    sc_level_t level;
    sd_err_t err = {0};
    ck_assert_int_eq(sc_level_parse("SIDEWAYS", &level, &err), SD_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(err.msg, "SIDEWAYS"));
    ck_assert_int_eq(sc_level_parse("", &level, NULL), SD_ERR_INVALID);
    ck_assert_int_eq(sc_level_parse("FULL_", &level, NULL), SD_ERR_INVALID);
}
END_TEST

START_TEST(schema_types)
{
    sc_schema_type_t type;
    ck_assert_int_eq(sc_schema_type_parse("AVRO", &type, NULL), 0);
    ck_assert_int_eq(type, SC_TYPE_AVRO);
    ck_assert_int_eq(sc_schema_type_parse("protobuf", &type, NULL), 0);
    ck_assert_int_eq(type, SC_TYPE_PROTOBUF);
    ck_assert_int_eq(sc_schema_type_parse("Json", &type, NULL), 0);
    ck_assert_int_eq(type, SC_TYPE_JSON);
    ck_assert_int_eq(sc_schema_type_parse("xml", &type, NULL), SD_ERR_INVALID);
    ck_assert_str_eq(sc_schema_type_name(SC_TYPE_PROTOBUF), "PROTOBUF");
    ck_assert_ptr_nonnull(sc_format_for(SC_TYPE_AVRO));

    /* Formats without a checker yet say so. */
    sc_schema_t *s = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(
        sc_schema_parse(SC_TYPE_PROTOBUF, "syntax = \"proto3\";", 18, NULL, 0, &s, &err),
        SC_ERR_UNSUPPORTED);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(err.msg, "PROTOBUF schemas are not supported yet");
    ck_assert_int_eq(sc_schema_parse(SC_TYPE_JSON, "{}", 2, NULL, 0, &s, &err), SC_ERR_UNSUPPORTED);
    ck_assert_str_eq(err.msg, "JSON schemas are not supported yet");
}
END_TEST

START_TEST(invalid_schema)
{
    static const char *const bad[] = {
        "{\"type\": \"record\", \"name\": \"R\", \"fields\": [{\"name\": \"a\"}]}",
        "{\"type\": \"recrod\", \"name\": \"R\", \"fields\": []}",
        "{\"type\": ",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sc_schema_t *s = NULL;
        sd_err_t err = {0};
        ck_assert_int_lt(sc_schema_parse(SC_TYPE_AVRO, bad[i], strlen(bad[i]), NULL, 0, &s, &err),
                         0);
        ck_assert_ptr_null(s);
        ck_assert_msg(err.msg[0] != '\0', "no message for %s", bad[i]);
    }
}
END_TEST

/* Which versions and directions each level compares, and what each finding
 * says about them. */
START_TEST(comparisons_by_level)
{
    sc_schema_t *v1 =
        parse_text("{\"type\":\"record\",\"name\":\"U\",\"fields\":"
                   "[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"p\",\"type\":\"int\"}]}");
    sc_schema_t *v2 = parse_text("{\"type\":\"record\",\"name\":\"U\",\"fields\":"
                                 "[{\"name\":\"a\",\"type\":\"int\"}]}");
    sc_schema_t *v3 =
        parse_text("{\"type\":\"record\",\"name\":\"U\",\"fields\":"
                   "[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"}]}");
    const sc_schema_t *earlier[] = {v1, v2};
    sc_result_t r;

    /* FULL: the latest only, backward then forward. */
    ck_assert_int_eq(sc_check(v3, earlier, 2, SC_LEVEL_FULL, &r, NULL), 0);
    ck_assert_uint_eq(r.comparison_count, 2);
    ck_assert_uint_eq(r.comparisons[0].version, 1);
    ck_assert_int_eq(r.comparisons[0].direction, SC_DIRECTION_BACKWARD);
    ck_assert(!r.comparisons[0].compatible);
    ck_assert_int_eq(r.comparisons[1].direction, SC_DIRECTION_FORWARD);
    ck_assert(r.comparisons[1].compatible);
    ck_assert_uint_eq(r.findings.count, 1);
    ck_assert_str_eq(r.findings.items[0].path, "U.b");
    ck_assert_uint_eq(r.findings.items[0].version, 1);
    ck_assert_int_eq(r.findings.items[0].direction, SC_DIRECTION_BACKWARD);
    sc_result_free(&r);

    /* FULL_TRANSITIVE: latest first; v1 fails forward too (p has no default). */
    ck_assert_int_eq(sc_check(v3, earlier, 2, SC_LEVEL_FULL_TRANSITIVE, &r, NULL), 0);
    ck_assert_uint_eq(r.comparison_count, 4);
    ck_assert_uint_eq(r.comparisons[0].version, 1);
    ck_assert_uint_eq(r.comparisons[2].version, 0);
    ck_assert_uint_eq(r.findings.count, 3);
    const sc_comparison_t *c = &r.comparisons[3];
    ck_assert_int_eq(c->direction, SC_DIRECTION_FORWARD);
    ck_assert_uint_eq(c->finding_count, 1);
    ck_assert_str_eq(r.findings.items[c->first_finding].path, "U.p");
    ck_assert_uint_eq(r.findings.items[c->first_finding].version, 0);
    ck_assert_int_eq(r.findings.items[c->first_finding].direction, SC_DIRECTION_FORWARD);
    sc_result_free(&r);

    /* FORWARD_TRANSITIVE: forward only, against both. */
    ck_assert_int_eq(sc_check(v3, earlier, 2, SC_LEVEL_FORWARD_TRANSITIVE, &r, NULL), 0);
    ck_assert_uint_eq(r.comparison_count, 2);
    ck_assert(r.comparisons[0].compatible);
    ck_assert(!r.comparisons[1].compatible);
    ck_assert_str_eq(r.findings.items[0].rule, "READER_FIELD_MISSING_DEFAULT_VALUE");
    sc_result_free(&r);

    /* NONE and an empty list compare nothing. */
    ck_assert_int_eq(sc_check(v3, earlier, 2, SC_LEVEL_NONE, &r, NULL), 0);
    ck_assert(r.compatible);
    ck_assert_uint_eq(r.comparison_count, 0);
    sc_result_free(&r);
    ck_assert_int_eq(sc_check(v3, earlier, 0, SC_LEVEL_FULL_TRANSITIVE, &r, NULL), 0);
    ck_assert(r.compatible);
    sc_result_free(&r);

    sc_schema_free(v1);
    sc_schema_free(v2);
    sc_schema_free(v3);
}
END_TEST

/* Deep recursion through several named types terminates and a wide record
 * against many versions gives one finding per version. */
START_TEST(recursion_and_width)
{
    sc_schema_t *a = parse_text("{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                                "{\"name\":\"left\",\"type\":[\"null\",\"Node\"]},"
                                "{\"name\":\"right\",\"type\":[\"null\",\"Node\"]},"
                                "{\"name\":\"meta\",\"type\":{\"type\":\"map\",\"values\":{"
                                "\"type\":\"record\",\"name\":\"Meta\","
                                "\"fields\":[{\"name\":\"owner\",\"type\":[\"null\",\"Node\"]},{"
                                "\"name\":\"n\",\"type\":\"int\"}]}}}]}");
    sc_schema_t *b = parse_text("{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                                "{\"name\":\"left\",\"type\":[\"null\",\"Node\"]},"
                                "{\"name\":\"right\",\"type\":[\"null\",\"Node\"]},"
                                "{\"name\":\"meta\",\"type\":{\"type\":\"map\",\"values\":{"
                                "\"type\":\"record\",\"name\":\"Meta\","
                                "\"fields\":[{\"name\":\"owner\",\"type\":[\"null\",\"Node\"]},{"
                                "\"name\":\"n\",\"type\":\"long\"}]}}}]}");
    const sc_schema_t *earlier[] = {a, a, a, a};
    sc_result_t r;
    ck_assert_int_eq(sc_check(b, earlier, 4, SC_LEVEL_FULL_TRANSITIVE, &r, NULL), 0);
    ck_assert(!r.compatible);
    /* Forward: int cannot read long, once per version. */
    ck_assert_uint_eq(r.findings.count, 4);
    for (size_t i = 0; i < r.findings.count; i++) {
        ck_assert_str_eq(r.findings.items[i].rule, "TYPE_MISMATCH");
        ck_assert_str_eq(r.findings.items[i].location, "/fields/2/type/values/fields/1/type");
        ck_assert_str_eq(r.findings.items[i].path, "Node.meta{}.n");
        ck_assert_int_eq(r.findings.items[i].direction, SC_DIRECTION_FORWARD);
    }
    sc_result_free(&r);
    sc_schema_free(a);
    sc_schema_free(b);
}
END_TEST

/* Schemas that use types defined in referenced schemas (Confluent's schema
 * references), a reference using an earlier one, and errors naming the
 * reference. */
START_TEST(references)
{
    static const char address_v1[] =
        "{\"type\":\"record\",\"name\":\"Address\",\"namespace\":"
        "\"com.acme\",\"fields\":[{\"name\":\"zip\",\"type\":\"int\"}]}";
    static const char address_v2[] =
        "{\"type\":\"record\",\"name\":\"Address\",\"namespace\":"
        "\"com.acme\",\"fields\":[{\"name\":\"zip\",\"type\":\"string\"}]}";
    static const char place[] =
        "{\"type\":\"record\",\"name\":\"Place\",\"namespace\":\"com.acme\","
        "\"fields\":[{\"name\":\"address\",\"type\":\"Address\"}]}";
    static const char user[] = "{\"type\":\"record\",\"name\":\"User\",\"fields\":"
                               "[{\"name\":\"home\",\"type\":\"com.acme.Place\"}]}";
    sc_reference_t old_refs[] = {
        {"com.acme.Address", address_v1, sizeof address_v1 - 1},
        {"com.acme.Place", place, sizeof place - 1},
    };
    sc_reference_t new_refs[] = {
        {"com.acme.Address", address_v2, sizeof address_v2 - 1},
        {"com.acme.Place", place, sizeof place - 1},
    };
    sc_schema_t *old = NULL, *new_schema = NULL, *s = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), old_refs, 2, &old, &err), 0);
    ck_assert_int_eq(
        sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), new_refs, 2, &new_schema, &err), 0);

    const sc_schema_t *earlier[] = {old};
    sc_result_t r;
    ck_assert_int_eq(sc_check(new_schema, earlier, 1, SC_LEVEL_BACKWARD, &r, NULL), 0);
    ck_assert(!r.compatible);
    ck_assert_uint_eq(r.findings.count, 1);
    ck_assert_str_eq(r.findings.items[0].rule, "TYPE_MISMATCH");
    ck_assert_str_eq(r.findings.items[0].location, "/fields/0/type/fields/0/type/fields/0/type");
    ck_assert_str_eq(r.findings.items[0].path, "User.home.address.zip");
    sc_result_free(&r);

    /* Without its references the schema does not parse; a bad reference is
     * named. */
    ck_assert_int_lt(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), NULL, 0, &s, &err), 0);
    ck_assert_ptr_null(s);
    sc_reference_t bad[] = {{"com.acme.Address", "{\"type\":", 8}};
    ck_assert_int_lt(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), bad, 1, &s, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "reference com.acme.Address"));
    /* Out of order: Place needs Address before it. */
    sc_reference_t reversed[] = {old_refs[1], old_refs[0]};
    ck_assert_int_lt(sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), reversed, 2, &s, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "com.acme.Place"));

    /* Parsing with references under allocation failures leaks nothing. */
    bool parsed = false;
    for (long n = 0; n < 10000 && !parsed; n++) {
        sd_alloc_fail_after(n);
        int rc = sc_schema_parse(SC_TYPE_AVRO, user, strlen(user), old_refs, 2, &s, &err);
        sd_alloc_fail_after(-1);
        parsed = rc == 0;
        if (!parsed)
            ck_assert_ptr_null(s);
    }
    ck_assert(parsed);
    sc_schema_free(s);

    sc_schema_free(old);
    sc_schema_free(new_schema);
}
END_TEST

/* Every allocation of a check may fail: the result is an error, nothing
 * leaks (the sanitizer build checks) and the next attempt succeeds. */
START_TEST(allocation_failures)
{
    sc_schema_t *old = parse_text(
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\",\"Z\"]"
        "}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"string\",\"int\"]}]}");
    sc_schema_t *new_schema = parse_text(
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"string\"]},{\"name\":\"b\",\"type\":\"int\"}]}");
    const sc_schema_t *earlier[] = {old, old};
    bool succeeded = false;
    for (long n = 0; n < 10000 && !succeeded; n++) {
        sc_result_t r;
        sd_err_t err = {0};
        sd_alloc_fail_after(n);
        int rc = sc_check(new_schema, earlier, 2, SC_LEVEL_FULL_TRANSITIVE, &r, &err);
        sd_alloc_fail_after(-1);
        if (rc == 0) {
            succeeded = true;
            ck_assert(!r.compatible);
            ck_assert_uint_eq(r.findings.count, 10); /* 4 backward, 1 forward, twice */
        } else {
            ck_assert_int_eq(rc, SD_ERR_NOMEM);
            ck_assert(err.msg[0] != '\0');
        }
        sc_result_free(&r);
    }
    ck_assert(succeeded);
    sc_schema_free(new_schema);
    sc_schema_free(old);
}
END_TEST

static Suite *compat_suite(void)
{
    Suite *s = suite_create("compat");
    TCase *tc = tcase_create("avro cases");
    tcase_add_loop_test(tc, avro_case, 0, (int)json_array_size(cases));
    tcase_add_test(tc, case_table_coverage);
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_add_test(tc, level_names);
    tcase_add_test(tc, schema_types);
    tcase_add_test(tc, invalid_schema);
    tcase_add_test(tc, comparisons_by_level);
    tcase_add_test(tc, recursion_and_width);
    tcase_add_test(tc, references);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    json_error_t error;
    json_t *table = json_load_file(CASES_PATH, 0, &error);
    if (!table) {
        fprintf(stderr, "test_compat: %s: line %d: %s\n", CASES_PATH, error.line, error.text);
        return EXIT_FAILURE;
    }
    cases = json_object_get(table, "cases");
    int rc = unit_run(compat_suite());
    json_decref(table);
    return rc;
}
