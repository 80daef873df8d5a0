/*
 * log.c - level filter and the default stderr sink.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile sd_log_level_t min_level = SD_LOG_INFO;
static sd_log_sink_t current_sink;
static void *current_opaque;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void sd_log_set_level(sd_log_level_t level) { min_level = level; }

void sd_log_set_sink(sd_log_sink_t sink, void *opaque)
{
    current_sink = sink;
    current_opaque = opaque;
}

int sd_log_level_parse(const char *name, sd_log_level_t *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = (sd_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void sd_log(sd_log_level_t level, const char *module, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (current_sink) {
        current_sink(level, module, message, current_opaque);
        return;
    }
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    char line[1200];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000000, level_names[level], module, message);
    if (n > (int)sizeof line - 1)
        n = (int)sizeof line - 1;
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}
