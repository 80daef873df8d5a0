/*
 * log.h - logging with levels and a replaceable sink.
 *
 * Lines go to stderr as "2026-01-02T03:04:05.678Z LEVEL module: message"
 * unless an application installs its own sink (a library must not own the
 * process's stderr). Thread-safe: each line is written with one call.
 */
#ifndef STRAND_BASE_LOG_H
#define STRAND_BASE_LOG_H

typedef enum sd_log_level {
    SD_LOG_DEBUG = 0,
    SD_LOG_INFO = 1,
    SD_LOG_WARN = 2,
    SD_LOG_ERROR = 3,
} sd_log_level_t;

typedef void (*sd_log_sink_t)(sd_log_level_t level, const char *module, const char *line,
                              void *opaque);

void sd_log_set_level(sd_log_level_t level);
/* NULL restores the default stderr sink. */
void sd_log_set_sink(sd_log_sink_t sink, void *opaque);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int sd_log_level_parse(const char *name, sd_log_level_t *level);

void sd_log(sd_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sd_debug(module, ...) sd_log(SD_LOG_DEBUG, module, __VA_ARGS__)
#define sd_info(module, ...) sd_log(SD_LOG_INFO, module, __VA_ARGS__)
#define sd_warn(module, ...) sd_log(SD_LOG_WARN, module, __VA_ARGS__)
#define sd_error(module, ...) sd_log(SD_LOG_ERROR, module, __VA_ARGS__)

#endif
