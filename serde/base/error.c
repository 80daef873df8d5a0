/*
 * error.c - filling the caller-supplied error struct.
 */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

int sd_err_set(sd_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void sd_err_clear(sd_err_t *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
