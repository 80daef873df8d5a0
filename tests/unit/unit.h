/*
 * unit.h - shared by the Check unit tests: runs a suite and turns its result
 * into the process exit status.
 */
#ifndef STRAND_TESTS_UNIT_H
#define STRAND_TESTS_UNIT_H

#include <check.h>
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

#endif
