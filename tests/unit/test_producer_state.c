/*
 * test_producer_state.c - idempotent producer sequence checks: in-order
 * batches append, retries of any of the last five batches are duplicates
 * with their original offset, gaps and stale epochs are refused.
 */
#include <check.h>
#include <stdlib.h>

#include "producer_state.h"
#include "unit.h"

START_TEST(in_order_and_duplicates)
{
    bk_producers_t ps = {0};
    int64_t offset = -1;
    ck_assert_int_eq(bk_producers_check(&ps, 7, 0, 0, 9, &offset), BK_SEQ_APPEND);
    ck_assert_int_eq(bk_producers_record(&ps, 7, 0, 0, 9, 100), 0);
    ck_assert_int_eq(bk_producers_check(&ps, 7, 0, 10, 19, &offset), BK_SEQ_APPEND);
    ck_assert_int_eq(bk_producers_record(&ps, 7, 0, 10, 19, 110), 0);
    ck_assert_int_eq(bk_producers_check(&ps, 7, 0, 0, 9, &offset), BK_SEQ_DUPLICATE);
    ck_assert_int_eq(offset, 100);
    ck_assert_int_eq(bk_producers_check(&ps, 7, 0, 10, 19, &offset), BK_SEQ_DUPLICATE);
    ck_assert_int_eq(offset, 110);
    /* A gap, a stale epoch, a new epoch that does not start at 0. */
    ck_assert_int_eq(bk_producers_check(&ps, 7, 0, 25, 30, &offset), -45);
    ck_assert_int_eq(bk_producers_check(&ps, 7, 1, 5, 6, &offset), -45);
    ck_assert_int_eq(bk_producers_check(&ps, 7, 1, 0, 6, &offset), BK_SEQ_APPEND);
    ck_assert_int_eq(bk_producers_record(&ps, 7, 1, 0, 6, 120), 0);
    ck_assert_int_eq(bk_producers_check(&ps, 7, 0, 20, 21, &offset), -47);
    /* Another producer is independent. */
    ck_assert_int_eq(bk_producers_check(&ps, 8, 0, 42, 43, &offset), BK_SEQ_APPEND);
    bk_producers_free(&ps);
}
END_TEST

START_TEST(only_recent_batches_are_remembered)
{
    bk_producers_t ps = {0};
    int64_t offset;
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(bk_producers_record(&ps, 1, 0, i * 10, i * 10 + 9, i * 10), 0);
    ck_assert_int_eq(bk_producers_check(&ps, 1, 0, 70, 79, &offset), BK_SEQ_DUPLICATE);
    ck_assert_int_eq(bk_producers_check(&ps, 1, 0, 30, 39, &offset), BK_SEQ_DUPLICATE);
    /* The sixth-newest is forgotten: it is neither a duplicate nor next. */
    ck_assert_int_eq(bk_producers_check(&ps, 1, 0, 20, 29, &offset), -45);
    ck_assert_int_eq(bk_producers_check(&ps, 1, 0, 80, 80, &offset), BK_SEQ_APPEND);
    bk_producers_free(&ps);
}
END_TEST

START_TEST(sequence_wraps)
{
    bk_producers_t ps = {0};
    int64_t offset;
    ck_assert_int_eq(bk_producers_record(&ps, 1, 0, INT32_MAX - 1, INT32_MAX, 5), 0);
    ck_assert_int_eq(bk_producers_check(&ps, 1, 0, 0, 3, &offset), BK_SEQ_APPEND);
    bk_producers_free(&ps);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("producer_state");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, in_order_and_duplicates);
    tcase_add_test(tc, only_recent_batches_are_remembered);
    tcase_add_test(tc, sequence_wraps);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
