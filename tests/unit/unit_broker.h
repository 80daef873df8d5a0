/*
 * unit_broker.h - for the unit tests that need a real broker (and registry):
 * starts the project's `strand` binary as a child process in a fresh
 * directory on port 0, waits for its listening lines and stops it by pid,
 * failing the test on any sanitizer report in its log.
 *
 * The binary is $STRAND_BIN, else build/sanitize/bin/strand in a sanitized
 * build (bin/strand otherwise), whichever exists. The broker's stdout and
 * stderr go to broker.out and broker.log in its directory, which is removed
 * on a clean stop unless KEEP_TEST_DIRS is set.
 */
#ifndef STRAND_TESTS_UNIT_BROKER_H
#define STRAND_TESTS_UNIT_BROKER_H

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNIT_SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNIT_SANITIZED_BUILD 1
#endif
#endif

typedef struct unit_broker {
    pid_t pid;
    char dir[512];
    char out[600];          /* its stdout */
    char log[600];          /* its stderr */
    char bootstrap[128];    /* "127.0.0.1:PORT" */
    char registry_url[160]; /* "http://127.0.0.1:PORT", "" without the registry */
} unit_broker_t;

typedef struct unit_broker_options {
    const char *name;       /* of the temporary directory */
    int port;               /* Kafka port; 0 = any free port */
    bool registry;          /* start the in-process schema registry too */
    int rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    const char *extra[4];   /* more --name=value arguments, NULL-terminated */
} unit_broker_options_t;

static inline int64_t unit_broker__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline const char *unit_broker_binary(void)
{
    const char *env = getenv("STRAND_BIN");
    if (env && *env)
        return env;
#ifdef UNIT_SANITIZED_BUILD
    const char *candidates[] = {"build/sanitize/bin/strand", "bin/strand"};
#else
    const char *candidates[] = {"bin/strand", "build/sanitize/bin/strand"};
#endif
    for (size_t i = 0; i < 2; i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return NULL;
}

/* Copies what follows `marker` on a line of the file into out; 1 if found. */
static inline int unit_broker__find_line(const char *path, const char *marker, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, marker, strlen(marker)) == 0) {
            const char *rest = line + strlen(marker);
            snprintf(out, n, "%.*s", (int)strcspn(rest, "\r\n"), rest);
            found = 1;
        }
    }
    if (f)
        fclose(f);
    return found;
}

/* Starts the broker and waits (60 s at most) for its listening line(s). */
static inline void unit_broker_start(unit_broker_t *b, const unit_broker_options_t *opt)
{
    memset(b, 0, sizeof *b);
    const char *binary = unit_broker_binary();
    ck_assert_msg(binary != NULL, "no broker binary: build bin/strand or set STRAND_BIN");
    unit_make_temp_dir(b->dir, sizeof b->dir, opt->name ? opt->name : "unit_broker");
    snprintf(b->out, sizeof b->out, "%s/broker.out", b->dir);
    snprintf(b->log, sizeof b->log, "%s/broker.log", b->dir);
    char listeners[64], dirs[600], delay[64];
    snprintf(listeners, sizeof listeners, "--listeners=PLAINTEXT://127.0.0.1:%d", opt->port);
    snprintf(dirs, sizeof dirs, "--log.dirs=%s/data", b->dir);
    snprintf(delay, sizeof delay, "--group.initial.rebalance.delay.ms=%d", opt->rebalance_delay_ms);
    const char *argv[12] = {binary, listeners, dirs, delay,
                            opt->registry ? "--schema.registry.listeners=http://127.0.0.1:0"
                                          : "--schema.registry.listeners="};
    size_t argc = 5;
    for (size_t i = 0; i < 4 && opt->extra[i]; i++)
        argv[argc++] = opt->extra[i];
    argv[argc] = NULL;

    pid_t parent = getpid();
    b->pid = fork();
    ck_assert_int_ge(b->pid, 0);
    if (b->pid == 0) {
        /* The broker must not outlive a test process that crashed. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int out = open(b->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int log = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || log < 0)
            _exit(127);
        dup2(out, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    int64_t deadline = unit_broker__now_ms() + 60000;
    for (;;) {
        unit_broker__find_line(b->out, "strand: kafka listening on ", b->bootstrap,
                               sizeof b->bootstrap);
        if (opt->registry)
            unit_broker__find_line(b->out, "strand: schema registry listening on ",
                                   b->registry_url, sizeof b->registry_url);
        if (b->bootstrap[0] && (!opt->registry || b->registry_url[0]))
            return;
        int status;
        ck_assert_msg(waitpid(b->pid, &status, WNOHANG) == 0, "the broker exited at start; see %s",
                      b->log);
        ck_assert_msg(unit_broker__now_ms() < deadline,
                      "the broker did not print its listening line(s); see %s", b->log);
        struct timespec pause = {.tv_nsec = 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* Stops the broker by pid (SIGTERM, or SIGKILL when hard; SIGKILL after
 * 20 s anyway), fails the test on a sanitizer report in its log and removes
 * its directory. Does nothing for a broker not running. */
static inline void unit_broker_stop(unit_broker_t *b, bool hard)
{
    if (b->pid <= 0)
        return;
    kill(b->pid, hard ? SIGKILL : SIGTERM);
    int status = 0;
    int64_t deadline = unit_broker__now_ms() + 20000;
    while (waitpid(b->pid, &status, WNOHANG) == 0) {
        if (unit_broker__now_ms() > deadline) {
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
            break;
        }
        struct timespec pause = {.tv_nsec = 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
    b->pid = 0;
    FILE *f = fopen(b->log, "r");
    char line[1024];
    bool dirty = false;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "AddressSanitizer") || strstr(line, "LeakSanitizer") ||
            strstr(line, "runtime error:"))
            dirty = true;
    if (f)
        fclose(f);
    ck_assert_msg(!dirty, "sanitizer report in %s", b->log);
    unit_remove_tree(b->dir);
}

#endif
