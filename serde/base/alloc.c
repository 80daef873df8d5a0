/*
 * alloc.c - allocation wrapper with fault injection for tests.
 */
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;

static int should_fail(void)
{
    if (fail_countdown < 0)
        return 0;
    if (fail_countdown == 0)
        return 1;
    fail_countdown--;
    return 0;
}

void sd_alloc_fail_after(long n) { fail_countdown = n; }

void *sd_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    return malloc(size ? size : 1);
}

void *sd_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *sd_realloc(void *ptr, size_t size)
{
    if (should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

void sd_free(void *ptr) { free(ptr); }

char *sd_strndup(const char *s, size_t len)
{
    char *copy = sd_malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *sd_strdup(const char *s) { return sd_strndup(s, strlen(s)); }
