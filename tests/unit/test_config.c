/*
 * test_config.c - properties parsing (Java properties syntax), command-line
 * options, typed validation with messages naming the property, and the
 * broker's own property tables.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/config.h"
#include "config.h"
#include "unit.h"

static sd_props_t *parse(const char *text)
{
    sd_props_t *p = sd_props_new();
    sd_err_t err = {0};
    ck_assert_int_eq(sd_props_parse(p, text, strlen(text), "test", &err), 0);
    return p;
}

START_TEST(properties_syntax)
{
    sd_props_t *p = parse("# comment\n"
                          "! another comment\n"
                          "a=1\n"
                          "  b : two words  \n"
                          "c   3\n"
                          "d=line \\\n"
                          "    continued\n"
                          "e=tab\\there\\u0041\n"
                          "f=\n"
                          "key\\=with\\:seps=v\r\n"
                          "a=override\n"
                          "\n"
                          "g=ends with backslash\\\\\n"
                          "last=no newline");
    ck_assert_str_eq(sd_props_get(p, "a"), "override");
    ck_assert_str_eq(sd_props_get(p, "b"), "two words  ");
    ck_assert_str_eq(sd_props_get(p, "c"), "3");
    ck_assert_str_eq(sd_props_get(p, "d"), "line continued");
    ck_assert_str_eq(sd_props_get(p, "e"), "tab\thereA");
    ck_assert_str_eq(sd_props_get(p, "f"), "");
    ck_assert_str_eq(sd_props_get(p, "key=with:seps"), "v");
    ck_assert_str_eq(sd_props_get(p, "g"), "ends with backslash\\");
    ck_assert_str_eq(sd_props_get(p, "last"), "no newline");
    ck_assert_ptr_null(sd_props_get(p, "# comment"));
    ck_assert_uint_eq(sd_props_count(p), 9);
    sd_props_free(p);
}
END_TEST

START_TEST(command_line_overrides_file)
{
    char path[] = "/tmp/strand-config-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "num.partitions=3\nlog.dirs=/from/file\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char config_arg[64];
    snprintf(config_arg, sizeof config_arg, "--config=%s", path);
    /* The override comes first on the command line and still wins. */
    char *argv[] = {"--num.partitions=5", config_arg, "--x.y=a=b"};
    sd_props_t *p = sd_props_new();
    sd_err_t err = {0};
    ck_assert_int_eq(sd_props_parse_args(p, 3, argv, &err), 0);
    ck_assert_str_eq(sd_props_get(p, "num.partitions"), "5");
    ck_assert_str_eq(sd_props_get(p, "log.dirs"), "/from/file");
    ck_assert_str_eq(sd_props_get(p, "x.y"), "a=b");
    sd_props_free(p);
    unlink(path);
}
END_TEST

START_TEST(command_line_errors)
{
    sd_err_t err = {0};
    sd_props_t *p = sd_props_new();
    char *stray[] = {"positional"};
    ck_assert_int_ne(sd_props_parse_args(p, 1, stray, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "positional"));
    char *missing[] = {"--config"};
    ck_assert_int_ne(sd_props_parse_args(p, 1, missing, &err), 0);
    char *nofile[] = {"--config", "/nonexistent/strand.properties"};
    ck_assert_int_ne(sd_props_parse_args(p, 2, nofile, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/strand.properties"));
    sd_props_free(p);
}
END_TEST

static const char *const colours[] = {"red", "green", NULL};
static const sd_cfg_def_t defs[] = {
    {"port", SD_CFG_INT, "9092", 0, 65535, NULL, ""},
    {"big", SD_CFG_LONG, "9223372036854775807", 1, 0, NULL, ""},
    {"flag", SD_CFG_BOOL, "false", 1, 0, NULL, ""},
    {"ratio", SD_CFG_DOUBLE, "0.5", 1, 0, NULL, ""},
    {"colour", SD_CFG_CHOICE, "red", 1, 0, colours, ""},
    {"name", SD_CFG_STRING, NULL, 1, 0, NULL, ""},
};

static int build(const char *text, sd_config_t *config, sd_err_t *err)
{
    sd_props_t *p = parse(text);
    int rc = sd_config_init(config, defs, sizeof defs / sizeof defs[0], p, err);
    sd_props_free(p);
    return rc;
}

START_TEST(typed_defaults_and_overrides)
{
    sd_config_t c;
    sd_err_t err = {0};
    ck_assert_int_eq(build("flag=true\ncolour=green\nname=x\n", &c, &err), 0);
    ck_assert_int_eq(sd_config_int(&c, "port"), 9092);
    ck_assert(sd_config_int(&c, "big") == INT64_MAX);
    ck_assert_int_eq(sd_config_bool(&c, "flag"), 1);
    ck_assert(sd_config_double(&c, "ratio") == 0.5);
    ck_assert_int_eq(sd_config_int(&c, "colour"), 1);
    ck_assert_str_eq(sd_config_str(&c, "colour"), "green");
    ck_assert_str_eq(sd_config_str(&c, "name"), "x");
    sd_config_free(&c);
    ck_assert_int_eq(build("", &c, &err), 0);
    ck_assert_ptr_null(sd_config_str(&c, "name"));
    sd_config_free(&c);
}
END_TEST

START_TEST(typed_errors_name_the_property)
{
    struct {
        const char *text, *needle;
    } cases[] = {
        {"prot=1\n", "unknown property 'prot'"},
        {"port=abc\n", "port"},
        {"port=70000\n", "between 0 and 65535"},
        {"port=12x\n", "not an integer"},
        {"big=99999999999999999999\n", "big"},
        {"flag=yes\n", "expected true or false"},
        {"ratio=half\n", "ratio"},
        {"colour=blue\n", "colour"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sd_config_t c;
        sd_err_t err = {0};
        ck_assert_int_ne(build(cases[i].text, &c, &err), 0);
        ck_assert_msg(strstr(err.msg, cases[i].needle), "'%s' gave '%s'", cases[i].text, err.msg);
    }
}
END_TEST

START_TEST(allocation_failures_do_not_leak)
{
    /* Fail each allocation in turn; every outcome must be clean. */
    for (long n = 0; n < 40; n++) {
        sd_props_t *p = sd_props_new();
        if (!p)
            continue;
        sd_err_t err = {0};
        sd_alloc_fail_after(n);
        int rc = sd_props_parse(p, "a=1\nb=2\nc=3\n", 12, "t", &err);
        sd_config_t c;
        int rc2 = rc ? rc : sd_config_init(&c, defs, 1, NULL, &err);
        sd_alloc_fail_after(-1);
        if (rc == 0 && rc2 == 0)
            sd_config_free(&c);
        sd_props_free(p);
    }
}
END_TEST

START_TEST(broker_tables_are_consistent)
{
    /* Every broker default parses, and the broker config builds with none set. */
    sd_config_t c;
    sd_err_t err = {0};
    ck_assert_int_eq(sd_config_init(&c, bk_broker_config_defs, bk_broker_config_count, NULL, &err),
                     0);
    ck_assert_str_eq(sd_config_str(&c, "listeners"), "PLAINTEXT://0.0.0.0:9092");
    ck_assert_str_eq(sd_config_str(&c, "log.dirs"), "./data");
    ck_assert_int_eq(sd_config_int(&c, "num.partitions"), 1);
    ck_assert_int_eq(sd_config_bool(&c, "auto.create.topics.enable"), 1);
    ck_assert_int_eq(sd_config_int(&c, "log.segment.bytes"), 1073741824);
    /* Each topic config maps to a broker property and its default validates. */
    for (size_t i = 0; i < bk_topic_config_count; i++) {
        const bk_topic_config_def_t *def = &bk_topic_config_defs[i];
        ck_assert_ptr_nonnull(
            sd_cfg_find(bk_broker_config_defs, bk_broker_config_count, def->broker_name));
        char buf[64];
        const char *value = bk_topic_config_default(&c, def, buf, sizeof buf);
        ck_assert_msg(bk_topic_config_validate(def->def.name, value, &err) == 0, "%s: %s",
                      def->def.name, err.msg);
    }
    char buf[64];
    ck_assert_str_eq(
        bk_topic_config_default(&c, bk_topic_config_find("retention.ms"), buf, sizeof buf),
        "604800000");
    sd_config_free(&c);
}
END_TEST

START_TEST(topic_config_validation)
{
    sd_err_t err = {0};
    ck_assert_int_eq(bk_topic_config_validate("cleanup.policy", "compact", &err), 0);
    ck_assert_int_eq(bk_topic_config_validate("segment.bytes", "1048576", &err), 0);
    ck_assert_int_ne(bk_topic_config_validate("segment.bytes", "10", &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "segment.bytes"));
    ck_assert_int_ne(bk_topic_config_validate("cleanup.policy", "shred", &err), 0);
    ck_assert_int_ne(bk_topic_config_validate("no.such.config", "1", &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "no.such.config"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, properties_syntax);
    tcase_add_test(tc, command_line_overrides_file);
    tcase_add_test(tc, command_line_errors);
    tcase_add_test(tc, typed_defaults_and_overrides);
    tcase_add_test(tc, typed_errors_name_the_property);
    tcase_add_test(tc, allocation_failures_do_not_leak);
    tcase_add_test(tc, broker_tables_are_consistent);
    tcase_add_test(tc, topic_config_validation);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
