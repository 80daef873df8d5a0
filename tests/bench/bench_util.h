/*
 * bench_util.h - the few helpers the benchmark programs share: fatal errors
 * prefixed with the program's name, checked integer options, a monotonic
 * clock. Header-only: each benchmark is a single-file program.
 */
#ifndef STRAND_BENCH_UTIL_H
#define STRAND_BENCH_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Set by main to the program's name, for error messages. */
static const char *bench_program = "bench";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", bench_program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline long long bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The integer value of option --name, or exit with a message. */
static inline long long parse_number(const char *name, const char *text, long long min,
                                     long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        die("--%s: expected an integer in [%lld, %lld], got '%s'", name, min, max, text);
    return v;
}

#endif
