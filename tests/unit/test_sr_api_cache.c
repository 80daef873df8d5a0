/*
 * test_sr_api_cache.c - the registry's GET answer cache (registry/sr_api_cache.c):
 * hits only at the generation an answer was made at, replacement of a key,
 * a full shard starting over, and many threads putting and getting at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_api_cache.h"
#include "unit.h"

static const char *const TYPE = "application/vnd.schemaregistry.v1+json";

START_TEST(hit_only_at_its_generation)
{
    sr_api_cache_t *cache = sr_api_cache_new(64);
    ck_assert_ptr_nonnull(cache);
    char *body = NULL;
    size_t len = 0;
    const char *type = NULL;
    ck_assert(!sr_api_cache_get(cache, "/schemas/ids/1\n", 7, &body, &len, &type));
    sr_api_cache_put(cache, "/schemas/ids/1\n", 7, "{\"schema\":\"x\"}", 14, TYPE);
    ck_assert(sr_api_cache_get(cache, "/schemas/ids/1\n", 7, &body, &len, &type));
    ck_assert_uint_eq(len, 14);
    ck_assert_str_eq(body, "{\"schema\":\"x\"}");
    ck_assert_ptr_eq(type, TYPE);
    free(body);
    /* The state moved on: the answer is stale. */
    ck_assert(!sr_api_cache_get(cache, "/schemas/ids/1\n", 8, &body, &len, &type));
    /* Another key, another accept: misses. */
    ck_assert(!sr_api_cache_get(cache, "/schemas/ids/1\napplication/json", 7, &body, &len, &type));
    /* A newer answer replaces the older one. */
    sr_api_cache_put(cache, "/schemas/ids/1\n", 8, "{}", 2, NULL);
    ck_assert(sr_api_cache_get(cache, "/schemas/ids/1\n", 8, &body, &len, &type));
    ck_assert_str_eq(body, "{}");
    ck_assert_ptr_null(type);
    free(body);
    ck_assert(!sr_api_cache_get(cache, "/schemas/ids/1\n", 7, &body, &len, &type));
    sr_api_cache_free(cache);
    sr_api_cache_free(NULL);
    ck_assert(!sr_api_cache_get(NULL, "k", 1, &body, &len, &type));
}
END_TEST

START_TEST(full_shards_start_over)
{
    sr_api_cache_t *cache = sr_api_cache_new(16);
    char key[64], want[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "/subjects/s%d/versions/latest\n", i);
        snprintf(want, sizeof want, "[%d]", i);
        sr_api_cache_put(cache, key, 1, want, strlen(want), TYPE);
    }
    /* The newest entries are there; every answer found is the right one. */
    int found = 0;
    for (int i = 0; i < 5000; i++) {
        char *body = NULL;
        size_t len = 0;
        const char *type = NULL;
        snprintf(key, sizeof key, "/subjects/s%d/versions/latest\n", i);
        snprintf(want, sizeof want, "[%d]", i);
        if (sr_api_cache_get(cache, key, 1, &body, &len, &type)) {
            ck_assert_str_eq(body, want);
            free(body);
            found++;
        }
    }
    ck_assert_int_gt(found, 0);
    ck_assert_int_lt(found, 5000);
    sr_api_cache_free(cache);
}
END_TEST

static sr_api_cache_t *shared;

static void *hammer(void *arg)
{
    int id = (int)(long)arg;
    char key[64], want[64];
    for (int i = 0; i < 20000; i++) {
        int k = (i * 7 + id) % 300;
        snprintf(key, sizeof key, "/schemas/ids/%d\n", k);
        snprintf(want, sizeof want, "{\"id\":%d}", k);
        char *body = NULL;
        size_t len = 0;
        const char *type = NULL;
        if (sr_api_cache_get(shared, key, 3, &body, &len, &type)) {
            if (strcmp(body, want) != 0)
                return (void *)1;
            free(body);
        } else {
            sr_api_cache_put(shared, key, 3, want, strlen(want), TYPE);
        }
    }
    return NULL;
}

START_TEST(threads_share_it)
{
    shared = sr_api_cache_new(128);
    pthread_t threads[8];
    for (long i = 0; i < 8; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < 8; i++) {
        void *rc = NULL;
        pthread_join(threads[i], &rc);
        ck_assert_ptr_null(rc);
    }
    sr_api_cache_free(shared);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("sr_api_cache");
    TCase *tc = tcase_create("cache");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hit_only_at_its_generation);
    tcase_add_test(tc, full_shards_start_over);
    tcase_add_test(tc, threads_share_it);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(cache_suite()); }
