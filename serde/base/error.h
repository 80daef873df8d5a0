/*
 * error.h - the caller-supplied error struct: a module error code plus a
 * message naming the problem. Functions return 0 or a negative code and fill
 * an sd_err_t when the caller passed one (NULL is allowed).
 */
#ifndef STRAND_BASE_ERROR_H
#define STRAND_BASE_ERROR_H

#define SD_ERR_MSG_MAX 512

typedef struct sd_err {
    int code;                 /* 0 = no error; module-specific otherwise */
    char msg[SD_ERR_MSG_MAX]; /* NUL-terminated, names the offending thing */
} sd_err_t;

/* Generic codes shared by the foundation modules. */
enum {
    SD_OK = 0,
    SD_ERR_NOMEM = -1,
    SD_ERR_TRUNCATED = -2, /* input ended before a declared length */
    SD_ERR_INVALID = -3,   /* malformed input */
    SD_ERR_IO = -4,        /* system call failed; errno text in msg */
    SD_ERR_NOT_FOUND = -5,
    SD_ERR_TOO_LARGE = -6, /* exceeds a configured limit */
};

/* Sets err->code and formats err->msg (no-op when err is NULL).
 * Returns code so callers can `return sd_err_set(err, ...)`. */
int sd_err_set(sd_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void sd_err_clear(sd_err_t *err);

#endif
