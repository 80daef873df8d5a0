/*
 * alloc.h - the one allocation wrapper every Strand module uses.
 *
 * Routing all allocations through sd_malloc & co. lets tests make the Nth
 * allocation fail (sd_alloc_fail_after) and check that callers report the
 * failure cleanly and leak nothing, the way SQLite and jansson test theirs.
 */
#ifndef STRAND_BASE_ALLOC_H
#define STRAND_BASE_ALLOC_H

#include <stddef.h>

void *sd_malloc(size_t size);
void *sd_calloc(size_t count, size_t size);
void *sd_realloc(void *ptr, size_t size);
void sd_free(void *ptr);
/* Copy of a NUL-terminated string; caller frees with sd_free. */
char *sd_strdup(const char *s);
/* Copy of len bytes plus a terminating NUL; caller frees with sd_free. */
char *sd_strndup(const char *s, size_t len);

/* Test hook: after `n` more successful allocations every allocation fails.
 * n < 0 switches failure injection off (the default). Not thread-safe: for
 * single-threaded unit tests only. */
void sd_alloc_fail_after(long n);

#endif
