/*
 * test_avro.c - the Avro schema engine: every schema of Apache Avro's test
 * data parses; every Parsing Canonical Form and fingerprint vector of
 * schema-tests.txt (tests/data/avro/, see its README); invalid schemas
 * rejected with a message naming the path; Confluent canonical and normalized
 * texts; recursion; references; an avro-c round trip; allocation failures.
 */
#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_codec.h"
#include "avro/avro_int.h"
#include "avro/avro_model.h"
#include "base/alloc.h"
#include "strand/avro.h"
#include "unit.h"

#define DATA_DIR "tests/data/avro/"

/* A whole file; caller frees with free(). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static sd_avro_schema_t *parse_ok(const char *json)
{
    sd_avro_schema_t *s = NULL;
    sd_err_t err = {0};
    int rc = sd_avro_parse(json, strlen(json), NULL, &s, &err);
    ck_assert_msg(rc == 0, "parse failed: %s\n  schema: %s", err.msg, json);
    return s;
}

static void expect_error(const char *json, const char *message)
{
    sd_avro_schema_t *s = NULL;
    sd_err_t err = {0};
    int rc = sd_avro_parse(json, strlen(json), NULL, &s, &err);
    ck_assert_msg(rc < 0, "parsed but should not: %s", json);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, message) != NULL, "message \"%s\" lacks \"%s\"", err.msg,
                  message);
}

static void expect_text(char *(*fn)(const sd_avro_schema_t *, size_t *, sd_err_t *),
                        const char *json, const char *want)
{
    sd_avro_schema_t *s = parse_ok(json);
    size_t len;
    char *text = fn(s, &len, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, want);
    ck_assert_uint_eq(len, strlen(want));
    sd_free(text);
    sd_avro_schema_free(s);
}

/* ---- Apache Avro test data ---------------------------------------- */

START_TEST(all_test_schemas_parse)
{
    DIR *dir = opendir(DATA_DIR "schemas");
    ck_assert_ptr_nonnull(dir);
    struct dirent *e;
    int count = 0;
    while ((e = readdir(dir))) {
        if (!strstr(e->d_name, ".avsc"))
            continue;
        char path[512];
        snprintf(path, sizeof path, DATA_DIR "schemas/%s", e->d_name);
        size_t len;
        char *json = read_file(path, &len);
        sd_avro_schema_t *s = NULL;
        sd_err_t err = {0};
        ck_assert_msg(sd_avro_parse(json, len, NULL, &s, &err) == 0, "%s: %s", path, err.msg);
        char *pcf = sd_avro_canonical_form(s, NULL, NULL);
        char *canon = sd_avro_confluent_canonical(s, NULL, NULL);
        char *norm = sd_avro_normalized(s, NULL, NULL);
        ck_assert(pcf && canon && norm);
        /* Both Confluent texts describe the same schema. */
        sd_avro_schema_t *again = parse_ok(canon);
        char *pcf2 = sd_avro_canonical_form(again, NULL, NULL);
        ck_assert_str_eq(pcf, pcf2);
        sd_free(pcf2);
        sd_avro_schema_free(again);
        again = parse_ok(norm);
        pcf2 = sd_avro_canonical_form(again, NULL, NULL);
        ck_assert_str_eq(pcf, pcf2);
        sd_free(pcf2);
        sd_avro_schema_free(again);
        sd_free(pcf);
        sd_free(canon);
        sd_free(norm);
        sd_avro_schema_free(s);
        free(json);
        count++;
    }
    closedir(dir);
    ck_assert_int_ge(count, 9);
}
END_TEST

/* The named types of Avro's test protocols, each parsed on its own in
 * declaration order with the earlier ones as references (a protocol's
 * namespace becomes the namespace of a type that names none). */
START_TEST(protocol_types_parse)
{
    static const char *const files[] = {"BulkData.avpr", "mail.avpr", "namespace.avpr",
                                        "simple.avpr"};
    int types = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256];
        snprintf(path, sizeof path, DATA_DIR "protocols/%s", files[f]);
        size_t len;
        char *text = read_file(path, &len);
        json_t *protocol = json_loadb(text, len, 0, NULL);
        ck_assert_ptr_nonnull(protocol);
        const char *space = json_string_value(json_object_get(protocol, "namespace"));
        json_t *list = json_object_get(protocol, "types");
        sd_avro_named_t *set = sd_avro_named_new();
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *type = json_array_get(list, i);
            const char *name = json_string_value(json_object_get(type, "name"));
            if (space && !json_object_get(type, "namespace") && !strchr(name, '.'))
                json_object_set_new(type, "namespace", json_string(space));
            char *one = json_dumps(type, JSON_COMPACT);
            sd_avro_schema_t *s = NULL;
            sd_err_t err = {0};
            ck_assert_msg(sd_avro_parse(one, strlen(one), set, &s, &err) == 0, "%s: %s", path,
                          err.msg);
            ck_assert_int_eq(sd_avro_named_add(set, s, &err), SD_ERR_INVALID);
            sd_avro_named_t *next = sd_avro_named_new();
            ck_assert_int_eq(sd_avro_named_add(next, s, NULL), 0);
            sd_avro_named_free(set);
            set = next;
            sd_avro_schema_free(s);
            free(one);
            types++;
        }
        sd_avro_named_free(set);
        json_decref(protocol);
        free(text);
    }
    ck_assert_int_eq(types, 9);
}
END_TEST

/* schema-tests.txt: cases of "<<INPUT", "<<canonical" and optionally
 * "<<fingerprint" lines; a value is the rest of the line, or when the tag
 * stands alone, the following lines up to one reading just the tag name. */
typedef struct vector {
    char *input;
    char *canonical;
    char *fingerprint;
} vector_t;

static char *take_value(char **cursor, const char *tag, const char *rest)
{
    if (*rest == ' ')
        return strndup(rest + 1, strcspn(rest + 1, "\n"));
    /* multi-line: up to a line equal to the tag name */
    char *start = *cursor;
    char *end = start;
    size_t tl = strlen(tag);
    for (;;) {
        char *nl = strchr(end, '\n');
        ck_assert_ptr_nonnull(nl);
        if ((size_t)(nl - end) == tl && strncmp(end, tag, tl) == 0) {
            char *v = strndup(start, (size_t)(end - start));
            *cursor = nl + 1;
            return v;
        }
        end = nl + 1;
    }
}

static size_t load_vectors(vector_t *out, size_t max)
{
    size_t len;
    char *text = read_file(DATA_DIR "schema-tests.txt", &len);
    size_t n = 0;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        char *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = '\0';
        char *line = p;
        p = next;
        if (strncmp(line, "<<", 2) != 0)
            continue;
        char *tag = line + 2;
        size_t tl = strcspn(tag, " ");
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)tl, tag);
        char *value = take_value(&p, name, tag + tl);
        if (strcmp(name, "INPUT") == 0) {
            ck_assert_uint_lt(n, max);
            memset(&out[n], 0, sizeof out[n]);
            out[n++].input = value;
        } else if (strcmp(name, "canonical") == 0) {
            out[n - 1].canonical = value;
        } else if (strcmp(name, "fingerprint") == 0) {
            out[n - 1].fingerprint = value;
        } else {
            free(value);
        }
    }
    free(text);
    return n;
}

START_TEST(canonical_form_vectors)
{
    vector_t v[128];
    size_t n = load_vectors(v, 128);
    ck_assert_uint_eq(n, 34);
    size_t fingerprints = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(v[i].canonical);
        sd_avro_schema_t *s = NULL;
        sd_err_t err = {0};
        int rc = sd_avro_parse(v[i].input, strlen(v[i].input), NULL, &s, &err);
        ck_assert_msg(rc == 0, "vector %zu: %s", i, err.msg);
        char *pcf = sd_avro_canonical_form(s, NULL, NULL);
        ck_assert_msg(strcmp(pcf, v[i].canonical) == 0, "vector %zu: %s != %s", i, pcf,
                      v[i].canonical);
        uint64_t fp;
        ck_assert_int_eq(sd_avro_fingerprint(s, &fp, NULL), 0);
        if (v[i].fingerprint) {
            int64_t want = strtoll(v[i].fingerprint, NULL, 10);
            ck_assert_msg((int64_t)fp == want, "vector %zu: fingerprint %" PRId64 " != %" PRId64, i,
                          (int64_t)fp, want);
            fingerprints++;
        }
        /* The canonical form is itself a schema with the same form. */
        sd_avro_schema_t *again = parse_ok(pcf);
        char *pcf2 = sd_avro_canonical_form(again, NULL, NULL);
        ck_assert_str_eq(pcf, pcf2);
        sd_free(pcf2);
        sd_avro_schema_free(again);
        sd_free(pcf);
        sd_avro_schema_free(s);
        free(v[i].input);
        free(v[i].canonical);
        free(v[i].fingerprint);
    }
    ck_assert_uint_eq(fingerprints, 26);
}
END_TEST

START_TEST(crc64_empty) { ck_assert_uint_eq(sd_avro_crc64("", 0), 0xc15d213aa4d7a795ull); }
END_TEST

/* ---- the model ------------------------------------------------------ */

START_TEST(model_keeps_attributes)
{
    sd_avro_schema_t *s = parse_ok(
        "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.acme\",\"doc\":\"a user\","
        "\"aliases\":[\"Person\",\"old.Human\"],\"owner\":\"team-a\","
        "\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"order\":\"descending\","
        "\"aliases\":[\"uid\"],\"doc\":\"key\",\"x-pii\":false},"
        "{\"name\":\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":9,\"scale\":2},\"default\":\"\\u0000\"},"
        "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":[\"A\",\"B\"]"
        ","
        "\"default\":\"B\"}},"
        "{\"name\":\"tag\",\"type\":{\"type\":\"fixed\",\"name\":\"other.Tag\",\"size\":4}},"
        "{\"name\":\"when\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
        "{\"name\":\"odd\",\"type\":{\"type\":\"string\",\"logicalType\":\"no-such-type\"}},"
        "{\"name\":\"opt\",\"type\":[\"null\",\"Kind\"],\"default\":null}]}");
    const sd_avro_node_t *r = sd_avro_schema_root(s);
    ck_assert_int_eq(r->kind, SD_AVRO_RECORD);
    ck_assert_str_eq(r->fullname, "com.acme.User");
    ck_assert_str_eq(r->name, "User");
    ck_assert_str_eq(r->space, "com.acme");
    ck_assert_str_eq(r->doc, "a user");
    ck_assert_uint_eq(r->alias_count, 2);
    ck_assert_str_eq(r->aliases[0], "com.acme.Person");
    ck_assert_str_eq(r->aliases[1], "old.Human");
    ck_assert_str_eq(json_string_value(json_object_get(r->props, "owner")), "team-a");
    ck_assert_uint_eq(r->u.record.field_count, 7);
    const sd_avro_field_t *id = sd_avro_record_field(r, "id");
    ck_assert_int_eq(id->order, SD_AVRO_ORDER_DESCENDING);
    ck_assert_str_eq(id->aliases[0], "uid");
    ck_assert_str_eq(id->doc, "key");
    ck_assert_ptr_null(id->default_value);
    ck_assert(json_is_false(json_object_get(id->props, "x-pii")));
    const sd_avro_field_t *amount = sd_avro_record_field(r, "amount");
    ck_assert_int_eq(amount->type->logical, SD_AVRO_LOGICAL_DECIMAL);
    ck_assert_int_eq(amount->type->precision, 9);
    ck_assert_int_eq(amount->type->scale, 2);
    ck_assert_uint_eq(json_string_length(amount->default_value), 1);
    const sd_avro_node_t *kind = sd_avro_record_field(r, "kind")->type;
    ck_assert_str_eq(kind->fullname, "com.acme.Kind");
    ck_assert_str_eq(kind->u.enm.default_symbol, "B");
    ck_assert_int_eq(sd_avro_enum_symbol_index(kind, "B"), 1);
    const sd_avro_node_t *tag = sd_avro_record_field(r, "tag")->type;
    ck_assert_str_eq(tag->fullname, "other.Tag");
    ck_assert_uint_eq(tag->u.fixed.size, 4);
    ck_assert_int_eq(sd_avro_record_field(r, "when")->type->logical,
                     SD_AVRO_LOGICAL_TIMESTAMP_MILLIS);
    const sd_avro_node_t *odd = sd_avro_record_field(r, "odd")->type;
    ck_assert_int_eq(odd->logical, SD_AVRO_LOGICAL_NONE);
    ck_assert_str_eq(odd->logical_name, "no-such-type");
    const sd_avro_field_t *opt = sd_avro_record_field(r, "opt");
    ck_assert(json_is_null(opt->default_value));
    ck_assert_int_eq(opt->type->u.un.branches[1]->kind, SD_AVRO_REF);
    ck_assert_ptr_eq(sd_avro_deref(opt->type->u.un.branches[1]), kind);
    ck_assert_ptr_eq(sd_avro_schema_find(s, "other.Tag"), tag);
    ck_assert_uint_eq(sd_avro_schema_named_count(s), 3);
    ck_assert_ptr_eq(sd_avro_schema_named_at(s, 0), r);
    sd_avro_schema_free(s);
}
END_TEST

START_TEST(recursion)
{
    sd_avro_schema_t *s = parse_ok(
        "{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"t\",\"fields\":["
        "{\"name\":\"value\",\"type\":\"int\"},"
        "{\"name\":\"children\",\"type\":{\"type\":\"array\",\"items\":\"Node\"},\"default\":[]},"
        "{\"name\":\"next\",\"type\":[\"null\",\"t.Node\"],\"default\":null}]}");
    const sd_avro_node_t *r = sd_avro_schema_root(s);
    const sd_avro_node_t *items = sd_avro_record_field(r, "children")->type->u.array.items;
    ck_assert_int_eq(items->kind, SD_AVRO_REF);
    ck_assert_ptr_eq(sd_avro_deref(items), r);
    char *pcf = sd_avro_canonical_form(s, NULL, NULL);
    ck_assert_str_eq(pcf, "{\"name\":\"t.Node\",\"type\":\"record\",\"fields\":["
                          "{\"name\":\"value\",\"type\":\"int\"},"
                          "{\"name\":\"children\",\"type\":{\"type\":\"array\",\"items\":"
                          "\"t.Node\"}},{\"name\":\"next\",\"type\":[\"null\",\"t.Node\"]}]}");
    sd_free(pcf);
    char *canon = sd_avro_confluent_canonical(s, NULL, NULL);
    ck_assert_str_eq(canon,
                     "{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"t\",\"fields\":["
                     "{\"name\":\"value\",\"type\":\"int\"},"
                     "{\"name\":\"children\",\"type\":{\"type\":\"array\",\"items\":"
                     "\"Node\"},\"default\":[]},"
                     "{\"name\":\"next\",\"type\":[\"null\",\"Node\"],\"default\":null}]}");
    sd_free(canon);
    sd_avro_schema_free(s);
    /* Mutual recursion through a nested definition and a record default
     * that uses a type still being defined where the field appears. */
    s = parse_ok(
        "{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"b\",\"type\":{"
        "\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
        "\"A\"],\"default\":null},{\"name\":\"n\",\"type\":\"int\",\"default\":1}]}},"
        "{\"name\":\"b2\",\"type\":\"B\",\"default\":{\"a\":null}}]}");
    sd_avro_schema_free(s);
}
END_TEST

START_TEST(namespaces)
{
    /* Names without dots are relative to the enclosing namespace; a type in
     * the null namespace is still found from inside one, as in Java. */
    sd_avro_schema_t *s =
        parse_ok("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a\",\"fields\":["
                 "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":1}},"
                 "{\"name\":\"y\",\"type\":{\"type\":\"record\",\"name\":\"b.S\",\"fields\":["
                 "{\"name\":\"z\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"Q\"]}},"
                 "{\"name\":\"w\",\"type\":\"a.F\"}]}},"
                 "{\"name\":\"v\",\"type\":\"b.E\"},"
                 "{\"name\":\"u\",\"type\":{\"type\":\"record\",\"name\":\"G\",\"namespace\":\"\","
                 "\"fields\":[{\"name\":\"g\",\"type\":\"int\"}]}},"
                 "{\"name\":\"t\",\"type\":\"G\"}]}");
    ck_assert_ptr_nonnull(sd_avro_schema_find(s, "a.F"));
    ck_assert_ptr_nonnull(sd_avro_schema_find(s, "b.S"));
    ck_assert_ptr_nonnull(sd_avro_schema_find(s, "b.E"));
    ck_assert_ptr_nonnull(sd_avro_schema_find(s, "G"));
    char *canon = sd_avro_confluent_canonical(s, NULL, NULL);
    ck_assert_str_eq(
        canon, "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a\",\"fields\":["
               "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":1}},"
               "{\"name\":\"y\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"namespace\":\"b\","
               "\"fields\":[{\"name\":\"z\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
               "\"symbols\":[\"Q\"]}},{\"name\":\"w\",\"type\":\"a.F\"}]}},"
               "{\"name\":\"v\",\"type\":\"b.E\"},"
               "{\"name\":\"u\",\"type\":{\"type\":\"record\",\"name\":\"G\",\"namespace\":\"\","
               "\"fields\":[{\"name\":\"g\",\"type\":\"int\"}]}},"
               "{\"name\":\"t\",\"type\":\"G\"}]}");
    sd_free(canon);
    sd_avro_schema_free(s);
}
END_TEST

/* ---- invalid schemas ---------------------------------------------------- */

START_TEST(invalid_schemas)
{
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"address\","
                 "\"type\":{\"type\":\"record\",\"name\":\"Address\",\"fields\":[{\"name\":\"zip\","
                 "\"type\":\"int\",\"default\":\"x\"}]}}]}",
                 "User.address.zip: default \"x\" is not an int");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"n\","
                 "\"type\":\"int\",\"default\":2147483648}]}",
                 "User.n: default 2147483648 is not an int");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"u\","
                 "\"type\":[\"null\",\"string\"],\"default\":\"a\"}]}",
                 "User.u: default \"a\" is not null (a union default must match its first branch)");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"b\","
                 "\"type\":\"bytes\",\"default\":\"\\u20ac\"}]}",
                 "User.b: default \"\xe2\x82\xac\" is not bytes");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"f\","
                 "\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2},\"default\":\"abc\"}]}",
                 "User.f: default \"abc\" is not a fixed F (a string of 2");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"e\",\"type\":"
                 "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},\"default\":\"B\"}]}",
                 "User.e: default \"B\" is not a symbol of enum E");
    expect_error(
        "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"a\",\"type\":"
        "{\"type\":\"record\",\"name\":\"Addr\",\"fields\":[{\"name\":\"zip\",\"type\":"
        "\"int\"},{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]},"
        "\"default\":{\"zip\":1,\"tags\":[\"x\",2]}}]}",
        "User.a: default at .tags[1]: 2 is not a string");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"a\",\"type\":"
                 "{\"type\":\"record\",\"name\":\"Addr\",\"fields\":[{\"name\":\"zip\",\"type\":"
                 "\"int\"}]},\"default\":{}}]}",
                 "User.a: default has no zip");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"d\","
                 "\"type\":[\"double\",\"null\"],\"default\":\"NaN\"}]}",
                 "User.d: default \"NaN\" is not a double (a union default must match");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"d\","
                 "\"type\":\"float\",\"default\":\"1.5x\"}]}",
                 "User.d: default \"1.5x\" is not a float");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"x\",\"type\":"
                 "\"int\"},{\"name\":\"x\",\"type\":\"long\"}]}",
                 "User.x: duplicate field name \"x\"");
    expect_error("{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"9x\",\"type\":"
                 "\"int\"}]}",
                 "User.9x: invalid field name \"9x\"");
    expect_error("{\"type\":\"record\",\"name\":\"my-record\",\"fields\":[]}",
                 "my-record: invalid name \"my-record\"");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a..b\",\"fields\":[]}",
                 "invalid name \"a..b.R\"");
    expect_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"A\"]}",
                 "E: enum E: duplicate symbol \"A\"");
    expect_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"b-c\"]}",
                 "E: enum E: invalid symbol \"b-c\"");
    expect_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"],\"default\":\"Z\"}",
                 "enum E: default \"Z\" is not one of its symbols");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"u\",\"type\":"
                 "[\"int\",[\"null\",\"long\"]]}]}",
                 "R.u: a union may not immediately contain a union");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"u\",\"type\":"
                 "[\"int\",{\"type\":\"int\",\"logicalType\":\"date\"}]}]}",
                 "R.u: union has duplicate branch \"int\"");
    expect_error("[{\"type\":\"fixed\",\"name\":\"a.F\",\"size\":1},{\"type\":\"fixed\",\"name\":"
                 "\"b.F\",\"size\":1},\"a.F\"]",
                 "union has duplicate branch \"a.F\"");
    expect_error("[{\"type\":\"array\",\"items\":\"int\"},{\"type\":\"array\",\"items\":\"long\"}]",
                 "union has duplicate branch \"array\"");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                 "\"Missing\"}]}",
                 "R.x: unknown type \"Missing\"");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                 "{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":\"Nope\"}}}]}",
                 "R.x[]{}: unknown type \"Nope\"");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                 "{\"type\":\"fixed\",\"name\":\"R\",\"size\":1}}]}",
                 "R.x: type R is defined twice");
    expect_error("{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}",
                 "\"int\" is a primitive type name and cannot be redefined");
    expect_error("{\"type\":\"fixed\",\"name\":\"x.long\",\"size\":1}",
                 "\"x.long\" is a primitive type name");
    expect_error("{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":0}",
                 "schema: decimal precision 0 must be positive");
    expect_error("{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":4,\"scale\":5}",
                 "decimal scale 5 must be between 0 and the precision 4");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"d\",\"type\":"
                 "{\"type\":\"fixed\",\"name\":\"D\",\"size\":2,\"logicalType\":\"decimal\","
                 "\"precision\":5}}]}",
                 "R.d: decimal precision 5 does not fit a fixed of 2 bytes (at most 4)");
    expect_error("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "F: fixed F needs a \"size\"");
    expect_error("{\"type\":\"array\"}", "array has no \"items\"");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                 "\"int\",\"order\":\"sideways\"}]}",
                 "R.x: order \"sideways\" is not ascending, descending or ignore");
    expect_error("{\"type\":\"record\",\"name\":\"R\"}", "record R has no \"fields\" array");
    expect_error("{\"name\":\"R\"}", "object has no \"type\"");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"type\":\"int\"}]}",
                 "field 0 has no name");
    expect_error("42", "a type must be a name, an object or an array");
    expect_error("{\"type\":", "schema is not JSON");
    expect_error("\"Unknown\"", "schema: unknown type \"Unknown\"");
}
END_TEST

/* Long field, symbol and branch lists: duplicates are still found (through
 * a table rather than pairwise comparison). */
START_TEST(long_lists)
{
    enum { N = 3000 };
    char *json = malloc(N * 64 + 256);
    for (int dup = 0; dup < 2; dup++) {
        size_t n = (size_t)sprintf(json, "{\"type\":\"record\",\"name\":\"R\",\"fields\":[");
        for (int i = 0; i < N; i++)
            n += (size_t)sprintf(json + n, "%s{\"name\":\"f%d\",\"type\":\"int\"}", i ? "," : "",
                                 dup && i == N - 1 ? 7 : i);
        strcpy(json + n, "]}");
        if (dup)
            expect_error(json, "R.f7: duplicate field name \"f7\"");
        else
            sd_avro_schema_free(parse_ok(json));

        n = (size_t)sprintf(json, "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[");
        for (int i = 0; i < N; i++)
            n += (size_t)sprintf(json + n, "%s\"S%d\"", i ? "," : "", dup && i == N - 1 ? 5 : i);
        strcpy(json + n, "]}");
        if (dup)
            expect_error(json, "enum E: duplicate symbol \"S5\"");
        else
            sd_avro_schema_free(parse_ok(json));

        n = (size_t)sprintf(json, "[");
        for (int i = 0; i < N; i++) {
            if (dup && i == N - 1)
                n += (size_t)sprintf(json + n, ",\"F9\"");
            else
                n += (size_t)sprintf(json + n, "%s{\"type\":\"fixed\",\"name\":\"F%d\",\"size\":1}",
                                     i ? "," : "", i);
        }
        strcpy(json + n, "]");
        if (dup)
            expect_error(json, "union has duplicate branch \"F9\"");
        else
            sd_avro_schema_free(parse_ok(json));
    }
    free(json);
}
END_TEST

START_TEST(lenient_parse)
{
    /* What Java reads from a stored schema without validation. */
    const char *json = "{\"type\":\"record\",\"name\":\"my-rec\",\"fields\":[{\"name\":\"n\","
                       "\"type\":\"int\",\"default\":\"x\"},{\"name\":\"d\",\"type\":{\"type\":"
                       "\"bytes\",\"logicalType\":\"decimal\",\"precision\":0}}]}";
    sd_avro_schema_t *s = NULL;
    ck_assert_int_ne(sd_avro_parse(json, strlen(json), NULL, &s, NULL), 0);
    ck_assert_int_eq(sd_avro_parse_flags(json, strlen(json), NULL, SD_AVRO_PARSE_LENIENT, &s, NULL),
                     0);
    const sd_avro_node_t *d = sd_avro_record_field(sd_avro_schema_root(s), "d")->type;
    ck_assert_int_eq(d->logical, SD_AVRO_LOGICAL_NONE);
    sd_avro_schema_free(s);
}
END_TEST

START_TEST(valid_defaults)
{
    sd_avro_schema_t *s = parse_ok(
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"double\",\"default\":1},"
        "{\"name\":\"b\",\"type\":\"float\",\"default\":\"NaN\"},"
        "{\"name\":\"c\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0000\"},"
        "{\"name\":\"d\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2},"
        "\"default\":\"\\u00e9x\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"map\",\"values\":\"long\"},\"default\":{\"k\":1}},"
        "{\"name\":\"f\",\"type\":[\"string\",\"null\"],\"default\":\"s\"},"
        "{\"name\":\"g\",\"type\":\"int\",\"default\":-2147483648},"
        "{\"name\":\"h\",\"type\":\"boolean\",\"default\":false}]}");
    sd_avro_schema_free(s);
}
END_TEST

/* ---- Confluent texts -------------------------------------------------- */

START_TEST(confluent_canonical_text)
{
    expect_text(sd_avro_confluent_canonical, "  \"string\" ", "\"string\"");
    expect_text(sd_avro_confluent_canonical, "{\"type\":\"int\"}", "\"int\"");
    expect_text(sd_avro_confluent_canonical,
                "{\"type\":\"long\", \"logicalType\" : \"timestamp-millis\"}",
                "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}");
    expect_text(
        sd_avro_confluent_canonical,
        "{\"namespace\":\"n\",\"doc\":\"d\\n\",\"name\":\"R\",\"type\":\"record\","
        "\"aliases\":[\"Old\",\"x.Y\",\"Old\"],\"zz\":1,\"aa\":[1.50,2e3],"
        "\"fields\":[{\"type\":\"double\",\"name\":\"x\",\"default\":\"Infinity\","
        "\"order\":\"IGNORE\",\"aliases\":[\"b\",\"a\"],\"doc\":\"f\",\"p\":{\"q\":null}}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"doc\":\"d\\n\","
        "\"fields\":[{\"name\":\"x\",\"type\":\"double\",\"doc\":\"f\","
        "\"default\":\"Infinity\",\"order\":\"ignore\",\"aliases\":[\"b\",\"a\"],"
        "\"p\":{\"q\":null}}],\"zz\":1,\"aa\":[1.5,2000.0],\"aliases\":[\"Old\",\"x.Y\"]}");
    expect_text(sd_avro_confluent_canonical,
                "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"],\"default\":\"A\","
                "\"doc\":\"\"}",
                "{\"type\":\"enum\",\"name\":\"E\",\"doc\":\"\",\"symbols\":[\"A\",\"B\"],"
                "\"default\":\"A\"}");
    expect_text(sd_avro_confluent_canonical,
                "{\"type\":\"map\",\"values\":{\"type\":\"fixed\",\"name\":\"a.F\",\"size\":16,"
                "\"logicalType\":\"decimal\",\"precision\":10}}",
                "{\"type\":\"map\",\"values\":{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":"
                "\"a\",\"size\":16,\"logicalType\":\"decimal\",\"precision\":10}}");
}
END_TEST

START_TEST(normalized_text)
{
    /* Aliases and properties sorted, defaults converted to the field's type,
     * ascending order dropped, doc and logical types kept. */
    expect_text(sd_avro_normalized,
                "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"zz\":1,\"aa\":true,"
                "\"aliases\":[\"Z\",\"m.A\"],\"doc\":\"rec\",\"fields\":["
                "{\"name\":\"x\",\"type\":\"double\",\"default\":1,\"order\":\"ascending\","
                "\"aliases\":[\"y\",\"b\"],\"q\":2,\"p\":1},"
                "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"zeta\":0,\"logicalType\":"
                "\"timestamp-millis\"}},"
                "{\"name\":\"d\",\"type\":{\"type\":\"bytes\",\"scale\":0,\"precision\":4,"
                "\"logicalType\":\"decimal\"}},"
                "{\"name\":\"u\",\"type\":[\"float\",\"null\"],\"default\":0.1}]}",
                "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"doc\":\"rec\","
                "\"fields\":[{\"name\":\"x\",\"type\":\"double\",\"default\":1.0,"
                "\"aliases\":[\"b\",\"y\"],\"p\":1,\"q\":2},"
                "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\","
                "\"zeta\":0}},"
                "{\"name\":\"d\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
                "\"precision\":4,\"scale\":0}},"
                "{\"name\":\"u\",\"type\":[\"float\",\"null\"],\"default\":0.1}],"
                "\"aa\":true,\"zz\":1,\"aliases\":[\"m.A\",\"Z\"]}");
    /* Empty doc dropped, a null-namespace type inside a namespace kept there,
     * a float default beyond float range written as Java's Float does, a
     * decimal fixed with its aliases, a record default in its key order. */
    expect_text(
        sd_avro_normalized,
        "{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"a.b\",\"doc\":\"\",\"aliases\":["
        "\"x.Old\","
        "\"Older\"], \"fields\":[  "
        "{\"name\":\"kids\",\"type\":{\"type\":\"array\",\"items\":\"Node\","
        "\"foo\":\"bar\"},\"default\":[]},  {\"name\":\"k\",\"type\":{\"type\":\"enum\","
        "\"name\":\"K\",\"namespace\":\"\",\"symbols\":[\"A\",\"B\"],\"default\":\"B\",\"doc\":"
        "\"kd\"},"
        "\"default\":\"A\",\"order\":\"ignore\"},  {\"name\":\"m\",\"type\":{\"type\":\"fixed\","
        "\"name\":\"M\",\"size\":8,\"logicalType\":\"decimal\",\"precision\":18,\"scale\":3,"
        "\"aliases\":[\"MM\"]}},  {\"name\":\"f\",\"type\":\"float\",\"default\":1e40},"
        "  {\"name\":\"d\",\"type\":[\"null\",\"double\"],\"default\":null},  {\"name\":\"r\","
        "\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"x\",\"type\":"
        "\"bytes\","
        "\"default\":\"\\u00e9\"},{\"name\":\"y\",\"type\":\"K\"}]},\"default\":{\"y\":\"B\","
        "\"x\":\"a\"}} ]}",
        "{\"type\":\"record\",\"name\":\"Node\",\"namespace\":\"a.b\",\"fields\":[{\"name\":"
        "\"kids\","
        "\"type\":{\"type\":\"array\",\"items\":\"Node\",\"foo\":\"bar\"},\"default\":[]},"
        "{\"name\":\"k\",\"type\":{\"type\":\"enum\",\"name\":\"K\",\"namespace\":\"\",\"doc\":"
        "\"kd\","
        "\"symbols\":[\"A\",\"B\"],\"default\":\"B\"},\"default\":\"A\",\"order\":\"ignore\"},"
        "{\"name\":\"m\",\"type\":{\"type\":\"fixed\",\"name\":\"M\",\"size\":8,\"logicalType\":"
        "\"decimal\","
        "\"precision\":18,\"scale\":3,\"aliases\":[\"MM\"]}},{\"name\":\"f\",\"type\":\"float\","
        "\"default\":\"Infinity\"},{\"name\":\"d\",\"type\":[\"null\",\"double\"],\"default\":null}"
        ","
        "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"x\","
        "\"type\":\"bytes\",\"default\":\"\xc3\xa9\"},{\"name\":\"y\",\"type\":\"K\"}]},"
        "\"default\":{\"y\":\"B\","
        "\"x\":\"a\"}}],\"aliases\":[\"Older\",\"x.Old\"]}");
    /* Two spellings of one schema normalize to the same text. */
    const char *a =
        "{\"type\":\"record\",\"name\":\"a.R\",\"fields\":[{\"name\":\"e\",\"type\":"
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"],\"aliases\":[\"b\",\"a\"]}},"
        "{\"name\":\"f\",\"type\":\"a.E\"}]}";
    const char *b = "{\"fields\":[{\"type\":{\"aliases\":[\"a.a\",\"a.b\"],\"symbols\":[\"X\"],"
                    "\"type\":\"enum\",\"name\":\"E\"},\"name\":\"e\"},{\"type\":\"E\","
                    "\"name\":\"f\"}],\"namespace\":\"a\",\"name\":\"R\",\"type\":\"record\"}";
    sd_avro_schema_t *sa = parse_ok(a), *sb = parse_ok(b);
    char *na = sd_avro_normalized(sa, NULL, NULL), *nb = sd_avro_normalized(sb, NULL, NULL);
    ck_assert_str_eq(na, nb);
    char *ca = sd_avro_confluent_canonical(sa, NULL, NULL);
    char *cb = sd_avro_confluent_canonical(sb, NULL, NULL);
    ck_assert_str_ne(ca, cb);
    sd_free(na);
    sd_free(nb);
    sd_free(ca);
    sd_free(cb);
    sd_avro_schema_free(sa);
    sd_avro_schema_free(sb);
}
END_TEST

START_TEST(java_numbers)
{
    static const struct {
        double d;
        int as_float;
        const char *want;
    } cases[] = {
        {1, 0, "1.0"},
        {0.1, 0, "0.1"},
        {100, 0, "100.0"},
        {1e7, 0, "1.0E7"},
        {9999999, 0, "9999999.0"},
        {0.001, 0, "0.001"},
        {0.0001, 0, "1.0E-4"},
        {-2.5e-10, 0, "-2.5E-10"},
        {1.5e300, 0, "1.5E300"},
        {0.1, 1, "0.1"},
        {1.1, 1, "1.1"},
        {-0.0, 0, "-0.0"},
        {123456.789, 0, "123456.789"},
        {1e40, 1, "Infinity"},
        {1e-50, 1, "0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[48];
        avro__java_double(buf, sizeof buf, cases[i].d, cases[i].as_float);
        ck_assert_str_eq(buf, cases[i].want);
    }
}
END_TEST

/* ---- references ----------------------------------------------------- */

START_TEST(references)
{
    sd_avro_schema_t *addr = parse_ok("{\"type\":\"record\",\"name\":\"Address\",\"namespace\":"
                                      "\"com.acme\",\"fields\":[{\"name\":\"zip\",\"type\":"
                                      "\"string\"}]}");
    sd_avro_named_t *refs = sd_avro_named_new();
    ck_assert_int_eq(sd_avro_named_add(refs, addr, NULL), 0);
    const char *json = "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.acme\","
                       "\"fields\":[{\"name\":\"home\",\"type\":\"Address\"},"
                       "{\"name\":\"work\",\"type\":[\"null\",\"com.acme.Address\"],"
                       "\"default\":null}]}";
    sd_avro_schema_t *user = NULL;
    sd_err_t err = {0};
    ck_assert_int_ne(sd_avro_parse(json, strlen(json), NULL, &user, &err), 0);
    ck_assert_int_eq(err.code, SD_AVRO_ERR_REFERENCE);
    ck_assert_ptr_nonnull(strstr(err.msg, "com.acme.User.home: unknown type \"Address\""));
    ck_assert_int_eq(sd_avro_parse(json, strlen(json), refs, &user, &err), 0);
    /* The set and the referenced schema may go; the user schema keeps them. */
    sd_avro_named_free(refs);
    sd_avro_schema_free(addr);
    const sd_avro_node_t *home = sd_avro_record_field(sd_avro_schema_root(user), "home")->type;
    ck_assert_int_eq(home->kind, SD_AVRO_REF);
    ck_assert_str_eq(sd_avro_deref(home)->fullname, "com.acme.Address");
    ck_assert_ptr_eq(sd_avro_schema_find(user, "com.acme.Address"), sd_avro_deref(home));
    ck_assert_uint_eq(sd_avro_schema_named_count(user), 1);
    char *canon = sd_avro_confluent_canonical(user, NULL, NULL);
    ck_assert_str_eq(canon, "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.acme\","
                            "\"fields\":[{\"name\":\"home\",\"type\":\"Address\"},"
                            "{\"name\":\"work\",\"type\":[\"null\",\"Address\"],"
                            "\"default\":null}]}");
    sd_free(canon);
    char *norm = sd_avro_normalized(user, NULL, NULL);
    ck_assert_str_eq(norm, "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.acme\","
                           "\"fields\":[{\"name\":\"home\",\"type\":\"Address\"},"
                           "{\"name\":\"work\",\"type\":[\"null\",\"Address\"],"
                           "\"default\":null}]}");
    sd_free(norm);
    char *pcf = sd_avro_canonical_form(user, NULL, NULL);
    ck_assert_str_eq(pcf, "{\"name\":\"com.acme.User\",\"type\":\"record\",\"fields\":["
                          "{\"name\":\"home\",\"type\":{\"name\":\"com.acme.Address\",\"type\":"
                          "\"record\",\"fields\":[{\"name\":\"zip\",\"type\":\"string\"}]}},"
                          "{\"name\":\"work\",\"type\":[\"null\",\"com.acme.Address\"]}]}");
    sd_free(pcf);
    /* A referenced name may not be defined again. */
    refs = sd_avro_named_new();
    sd_avro_named_t *refs2 = sd_avro_named_new();
    sd_avro_schema_t *addr2 = parse_ok("{\"type\":\"fixed\",\"name\":\"com.acme.Address\","
                                       "\"size\":1}");
    ck_assert_int_eq(sd_avro_named_add(refs, user, NULL), 0);
    ck_assert_int_eq(sd_avro_named_add(refs2, addr2, NULL), 0);
    const char *again = "{\"type\":\"record\",\"name\":\"com.acme.Address\",\"fields\":[]}";
    sd_avro_schema_t *bad = NULL;
    ck_assert_int_ne(sd_avro_parse(again, strlen(again), refs, &bad, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "type com.acme.Address is defined twice"));
    ck_assert_int_ne(sd_avro_named_add(refs, addr2, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "defined by two referenced schemas"));
    sd_avro_schema_t *user2 = NULL;
    ck_assert_int_eq(sd_avro_parse("[\"null\",\"com.acme.User\"]", 24, refs, &user2, &err), 0);
    ck_assert_int_eq(sd_avro_named_add(refs, user2, &err), SD_ERR_INVALID);
    sd_avro_schema_free(user2);
    sd_avro_named_free(refs);
    sd_avro_named_free(refs2);
    sd_avro_schema_free(addr2);
    sd_avro_schema_free(user);
}
END_TEST

/* ---- avro-c -------------------------------------------------------------- */

START_TEST(avro_c_round_trip)
{
    sd_avro_schema_t *s =
        parse_ok("{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"com.acme\",\"doc\":\"x\","
                 "\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"default\":0},"
                 "{\"name\":\"name\",\"type\":\"string\"},"
                 "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"Kind\",\"symbols\":["
                 "\"A\",\"B\"]}},"
                 "{\"name\":\"next\",\"type\":[\"null\",\"User\"],\"default\":null}]}");
    avro_schema_t schema;
    sd_err_t err = {0};
    ck_assert_int_eq(sd_avro_to_avro_c(s, &schema, &err), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    ck_assert_ptr_nonnull(iface);
    avro_value_t value, field, branch, inner;
    ck_assert_int_eq(avro_generic_value_new(iface, &value), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "id", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_long(&field, 42), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "name", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_string(&field, "ada"), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "kind", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_enum(&field, 1), 0);
    ck_assert_int_eq(avro_value_get_by_name(&value, "next", &field, NULL), 0);
    ck_assert_int_eq(avro_value_set_branch(&field, 1, &branch), 0);
    ck_assert_int_eq(avro_value_get_by_name(&branch, "id", &inner, NULL), 0);
    ck_assert_int_eq(avro_value_set_long(&inner, 7), 0);
    ck_assert_int_eq(avro_value_get_by_name(&branch, "name", &inner, NULL), 0);
    ck_assert_int_eq(avro_value_set_string(&inner, "bob"), 0);
    ck_assert_int_eq(avro_value_get_by_name(&branch, "next", &inner, NULL), 0);
    ck_assert_int_eq(avro_value_set_branch(&inner, 0, &branch), 0);
    ck_assert_int_eq(avro_value_set_null(&branch), 0);

    char buf[256];
    avro_writer_t writer = avro_writer_memory(buf, sizeof buf);
    ck_assert_int_eq(avro_value_write(writer, &value), 0);
    int64_t written = avro_writer_tell(writer);
    /* id 42 zig-zag = 0x54, "ada", enum 1, branch 1, id 7, "bob", enum 0, branch 0 */
    static const unsigned char want[] = {0x54, 0x06, 'a', 'd', 'a', 0x02, 0x02,
                                         0x0e, 0x06, 'b', 'o', 'b', 0x00, 0x00};
    ck_assert_int_eq(written, (int64_t)sizeof want);
    ck_assert_int_eq(memcmp(buf, want, sizeof want), 0);

    avro_value_t copy;
    ck_assert_int_eq(avro_generic_value_new(iface, &copy), 0);
    avro_reader_t reader = avro_reader_memory(buf, written);
    ck_assert_int_eq(avro_value_read(reader, &copy), 0);
    ck_assert(avro_value_equal(&value, &copy));
    const char *str;
    size_t size;
    ck_assert_int_eq(avro_value_get_by_name(&copy, "name", &field, NULL), 0);
    ck_assert_int_eq(avro_value_get_string(&field, &str, &size), 0);
    ck_assert_str_eq(str, "ada");

    avro_reader_free(reader);
    avro_writer_free(writer);
    avro_value_decref(&copy);
    avro_value_decref(&value);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    sd_avro_schema_free(s);

    /* The empty union is valid Avro but avro-c refuses it. */
    s = parse_ok("[]");
    ck_assert_int_eq(sd_avro_to_avro_c(s, &schema, &err), SD_AVRO_ERR_SCHEMA);
    ck_assert_ptr_null(schema);
    sd_avro_schema_free(s);
}
END_TEST

/* ---- the public API ------------------------------------------------------ */

START_TEST(public_api)
{
    strand_avro_schema_t *s = NULL;
    strand_avro_error_t err;
    const char *json = "{\"type\":\"fixed\",\"name\":\"foo\",\"size\":15}";
    ck_assert_int_eq(strand_avro_schema_parse(json, strlen(json), &s, &err), 0);
    uint64_t fp;
    ck_assert_int_eq(strand_avro_schema_fingerprint(s, &fp), 0);
    ck_assert_int_eq((int64_t)fp, 1756455273707447556ll);
    char *t = strand_avro_schema_canonical_form(s, NULL);
    ck_assert_str_eq(t, "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}");
    strand_avro_free(t);
    t = strand_avro_schema_confluent_text(s, NULL);
    ck_assert_str_eq(t, "{\"type\":\"fixed\",\"name\":\"foo\",\"size\":15}");
    strand_avro_free(t);
    t = strand_avro_schema_normalized(s, NULL);
    ck_assert_str_eq(t, "{\"type\":\"fixed\",\"name\":\"foo\",\"size\":15}");
    strand_avro_free(t);
    strand_avro_schema_free(s);
    ck_assert_int_eq(strand_avro_schema_parse("[\"int\",\"int\"]", 13, &s, &err),
                     STRAND_AVRO_ERR_SCHEMA);
    ck_assert_int_eq(err.code, STRAND_AVRO_ERR_SCHEMA);
    ck_assert_ptr_nonnull(strstr(err.message, "duplicate branch"));
}
END_TEST

/* Every proper prefix of a schema is refused with a message. */
START_TEST(truncations)
{
    size_t len;
    char *json = read_file(DATA_DIR "schemas/interop.avsc", &len);
    while (len && (json[len - 1] == '\n' || json[len - 1] == ' '))
        len--;
    for (size_t n = 0; n < len; n++) {
        sd_avro_schema_t *s = NULL;
        sd_err_t err = {0};
        int rc = sd_avro_parse(json, n, NULL, &s, &err);
        ck_assert_msg(rc < 0, "prefix of %zu bytes parsed", n);
        ck_assert_ptr_null(s);
        ck_assert(err.msg[0] != '\0');
    }
    free(json);
}
END_TEST

/* ---- allocation failures --------------------------------------------------- */

START_TEST(allocation_failures)
{
    size_t len;
    char *json = read_file(DATA_DIR "schemas/interop.avsc", &len);
    sd_avro_schema_t *ref = NULL;
    ck_assert_int_eq(sd_avro_parse(json, len, NULL, &ref, NULL), 0);
    char *want_pcf = sd_avro_canonical_form(ref, NULL, NULL);
    char *want_norm = sd_avro_normalized(ref, NULL, NULL);
    int finished = 0;
    for (long n = 0; n < 100000 && !finished; n++) {
        sd_avro_schema_t *s = NULL;
        sd_err_t err = {0};
        sd_alloc_fail_after(n);
        int rc = sd_avro_parse(json, len, NULL, &s, &err);
        if (rc) {
            sd_alloc_fail_after(-1);
            ck_assert_int_eq(rc, SD_ERR_NOMEM);
            ck_assert_ptr_null(s);
            continue;
        }
        char *pcf = sd_avro_canonical_form(s, NULL, &err);
        char *canon = sd_avro_confluent_canonical(s, NULL, &err);
        char *norm = sd_avro_normalized(s, NULL, &err);
        uint64_t fp;
        int fprc = sd_avro_fingerprint(s, &fp, &err);
        sd_alloc_fail_after(-1);
        if (pcf)
            ck_assert_str_eq(pcf, want_pcf);
        if (norm)
            ck_assert_str_eq(norm, want_norm);
        finished = pcf && canon && norm && fprc == 0;
        sd_free(pcf);
        sd_free(canon);
        sd_free(norm);
        sd_avro_schema_free(s);
    }
    sd_alloc_fail_after(-1);
    ck_assert(finished);
    sd_free(want_pcf);
    sd_free(want_norm);
    sd_avro_schema_free(ref);
    free(json);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("avro");
    TCase *tc = tcase_create("schema");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, all_test_schemas_parse);
    tcase_add_test(tc, protocol_types_parse);
    tcase_add_test(tc, canonical_form_vectors);
    tcase_add_test(tc, crc64_empty);
    tcase_add_test(tc, model_keeps_attributes);
    tcase_add_test(tc, recursion);
    tcase_add_test(tc, namespaces);
    tcase_add_test(tc, invalid_schemas);
    tcase_add_test(tc, long_lists);
    tcase_add_test(tc, lenient_parse);
    tcase_add_test(tc, valid_defaults);
    tcase_add_test(tc, confluent_canonical_text);
    tcase_add_test(tc, normalized_text);
    tcase_add_test(tc, java_numbers);
    tcase_add_test(tc, references);
    tcase_add_test(tc, avro_c_round_trip);
    tcase_add_test(tc, public_api);
    tcase_add_test(tc, truncations);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(suite, tc);
    return unit_run(suite);
}
