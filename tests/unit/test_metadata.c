/*
 * test_metadata.c - the SQLite metadata store: topics with configs survive a
 * reopen, deletes remove configs too, producer ids are never reused, the
 * cluster id is stable, committed offsets survive a reopen.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "metadata.h"
#include "unit.h"

static char dir[512];

static void setup(void) { unit_make_temp_dir(dir, sizeof dir, "test_metadata"); }

static void teardown(void) { unit_remove_tree(dir); }

typedef struct seen {
    int count;
    char names[8][64];
    int32_t partitions[8];
    char retention[8][32];
} seen_t;

static int collect(const bk_meta_topic_t *t, void *opaque)
{
    seen_t *s = opaque;
    snprintf(s->names[s->count], 64, "%s", t->name);
    s->partitions[s->count] = t->partitions;
    const char *r = sd_props_get(t->configs, "retention.ms");
    snprintf(s->retention[s->count], 32, "%s", r ? r : "-");
    s->count++;
    return 0;
}

START_TEST(topics_survive_reopen)
{
    sd_err_t err = {0};
    bk_meta_t *meta;
    ck_assert_int_eq(bk_meta_open(dir, &meta, &err), 0);
    char cluster[64];
    snprintf(cluster, sizeof cluster, "%s", bk_meta_cluster_id(meta));
    ck_assert_uint_eq(strlen(cluster), 22);
    sd_props_t *configs = sd_props_new();
    sd_props_set(configs, "retention.ms", "1000");
    bk_meta_topic_t a = {.name = "alpha", .partitions = 4, .configs = configs};
    bk_meta_topic_t b = {.name = "beta", .partitions = 1, .configs = NULL};
    ck_assert_int_eq(bk_meta_create_topic(meta, &a, &err), 0);
    ck_assert_int_eq(bk_meta_create_topic(meta, &b, &err), 0);
    ck_assert_int_ne(bk_meta_create_topic(meta, &b, &err), 0); /* duplicate name */
    sd_props_free(configs);
    bk_meta_close(meta);

    ck_assert_int_eq(bk_meta_open(dir, &meta, &err), 0);
    ck_assert_str_eq(bk_meta_cluster_id(meta), cluster);
    seen_t seen = {0};
    ck_assert_int_eq(bk_meta_load_topics(meta, collect, &seen, &err), 0);
    ck_assert_int_eq(seen.count, 2);
    ck_assert_str_eq(seen.names[0], "alpha");
    ck_assert_int_eq(seen.partitions[0], 4);
    ck_assert_str_eq(seen.retention[0], "1000");
    ck_assert_str_eq(seen.retention[1], "-");

    ck_assert_int_eq(bk_meta_delete_topic(meta, "alpha", &err), 0);
    bk_meta_topic_t again = {.name = "alpha", .partitions = 2, .configs = NULL};
    ck_assert_int_eq(bk_meta_create_topic(meta, &again, &err), 0);
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(bk_meta_load_topics(meta, collect, &seen, &err), 0);
    ck_assert_int_eq(seen.partitions[0], 2);
    ck_assert_str_eq(seen.retention[0], "-"); /* the old topic's configs went with it */
    bk_meta_close(meta);
}
END_TEST

START_TEST(topic_configs_replaced)
{
    sd_err_t err = {0};
    bk_meta_t *meta;
    ck_assert_int_eq(bk_meta_open(dir, &meta, &err), 0);
    bk_meta_topic_t t = {.name = "t", .partitions = 1};
    ck_assert_int_eq(bk_meta_create_topic(meta, &t, &err), 0);
    sd_props_t *configs = sd_props_new();
    sd_props_set(configs, "retention.ms", "5");
    ck_assert_int_eq(bk_meta_set_topic_configs(meta, "t", configs, &err), 0);
    seen_t seen = {0};
    ck_assert_int_eq(bk_meta_load_topics(meta, collect, &seen, &err), 0);
    ck_assert_str_eq(seen.retention[0], "5");
    sd_props_free(configs);
    bk_meta_close(meta);
}
END_TEST

START_TEST(producer_ids_never_reused)
{
    sd_err_t err = {0};
    bk_meta_t *meta;
    int64_t first, second, third;
    ck_assert_int_eq(bk_meta_open(dir, &meta, &err), 0);
    ck_assert_int_eq(bk_meta_next_producer_id(meta, &first, &err), 0);
    ck_assert_int_eq(bk_meta_next_producer_id(meta, &second, &err), 0);
    ck_assert(second == first + 1);
    bk_meta_close(meta);
    ck_assert_int_eq(bk_meta_open(dir, &meta, &err), 0);
    ck_assert_int_eq(bk_meta_next_producer_id(meta, &third, &err), 0);
    ck_assert(third == second + 1);
    bk_meta_close(meta);
}
END_TEST

typedef struct offsets_seen {
    int count;
    char text[8][96];
} offsets_seen_t;

static int collect_offset(const bk_meta_offset_t *o, void *opaque)
{
    offsets_seen_t *s = opaque;
    if (s->count < 8)
        snprintf(s->text[s->count], 96, "%s/%d=%lld,%d,%s,%lld", o->topic, o->partition,
                 (long long)o->offset, o->leader_epoch, o->metadata ? o->metadata : "(null)",
                 (long long)o->commit_timestamp_ms);
    s->count++;
    return 0;
}

static int collect_group(const char *group, void *opaque)
{
    offsets_seen_t *s = opaque;
    if (s->count < 8)
        snprintf(s->text[s->count], 96, "%s", group);
    s->count++;
    return 0;
}

START_TEST(committed_offsets_survive_reopen)
{
    bk_meta_t *meta = NULL;
    sd_err_t err = {0};
    ck_assert_int_eq(bk_meta_open(dir, &meta, &err), 0);
    bk_meta_offset_t first[] = {
        {"t", 0, 10, 3, "m0", 1000}, {"t", 1, 20, -1, NULL, 1001}, {"u", 0, 5, -1, "", 1002}};
    ck_assert_int_eq(bk_meta_commit_offsets(meta, "g", first, 3, &err), 0);
    bk_meta_offset_t again[] = {{"t", 0, 11, 4, "m1", 2000}};
    ck_assert_int_eq(bk_meta_commit_offsets(meta, "g", again, 1, &err), 0);
    ck_assert_int_eq(bk_meta_commit_offsets(meta, "other", again, 1, &err), 0);
    bk_meta_close(meta);

    ck_assert_int_eq(bk_meta_open(dir, &meta, &err), 0);
    offsets_seen_t seen = {0};
    ck_assert_int_eq(bk_meta_load_offsets(meta, "g", NULL, -1, collect_offset, &seen, &err), 0);
    ck_assert_int_eq(seen.count, 3);
    ck_assert_str_eq(seen.text[0], "t/0=11,4,m1,2000");
    ck_assert_str_eq(seen.text[1], "t/1=20,-1,(null),1001");
    ck_assert_str_eq(seen.text[2], "u/0=5,-1,,1002");
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(bk_meta_load_offsets(meta, "g", "t", 1, collect_offset, &seen, &err), 0);
    ck_assert_int_eq(seen.count, 1);
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(bk_meta_list_offset_groups(meta, collect_group, &seen, &err), 0);
    ck_assert_int_eq(seen.count, 2);
    ck_assert_str_eq(seen.text[0], "g");

    /* OffsetDelete, a deleted topic, DeleteGroups. */
    bk_meta_offset_t which[] = {{"t", 1, 0, 0, NULL, 0}};
    ck_assert_int_eq(bk_meta_delete_offsets(meta, "g", which, 1, &err), 0);
    bk_meta_topic_t topic = {.name = "u", .partitions = 1};
    ck_assert_int_eq(bk_meta_create_topic(meta, &topic, &err), 0);
    ck_assert_int_eq(bk_meta_delete_topic(meta, "u", &err), 0);
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(bk_meta_load_offsets(meta, "g", NULL, -1, collect_offset, &seen, &err), 0);
    ck_assert_int_eq(seen.count, 1);
    ck_assert_str_eq(seen.text[0], "t/0=11,4,m1,2000");
    ck_assert_int_eq(bk_meta_delete_group_offsets(meta, "g", &err), 0);
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(bk_meta_list_offset_groups(meta, collect_group, &seen, &err), 0);
    ck_assert_int_eq(seen.count, 1);
    ck_assert_str_eq(seen.text[0], "other");
    bk_meta_close(meta);
}
END_TEST

START_TEST(unopenable_directory_names_it)
{
    sd_err_t err = {0};
    bk_meta_t *meta = NULL;
    ck_assert_int_ne(bk_meta_open("/nonexistent/strand", &meta, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/strand"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metadata");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, topics_survive_reopen);
    tcase_add_test(tc, topic_configs_replaced);
    tcase_add_test(tc, producer_ids_never_reused);
    tcase_add_test(tc, unopenable_directory_names_it);
    tcase_add_test(tc, committed_offsets_survive_reopen);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
