/*
 * unit.h - shared by the Check unit tests: runs a suite and turns its result
 * into the process exit status.
 */
#ifndef STRAND_TESTS_UNIT_H
#define STRAND_TESTS_UNIT_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs every test of `suite` (freed here); EXIT_SUCCESS when all passed. */
static inline int unit_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int unit_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Creates a fresh directory "<$TMPDIR or /tmp>/<name>.XXXXXX" into buf; the
 * test fails when it cannot. */
static inline void unit_make_temp_dir(char *buf, size_t n, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, n, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* rm -rf path, unless KEEP_TEST_DIRS is set (to look at what a test left). */
static inline void unit_remove_tree(const char *path)
{
    if (!getenv("KEEP_TEST_DIRS"))
        nftw(path, unit_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
