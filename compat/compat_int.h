/*
 * compat_int.h - declarations shared inside libstrand-compat: the checker of
 * each schema format, for compat.c's table of formats.
 */
#ifndef STRAND_COMPAT_INT_H
#define STRAND_COMPAT_INT_H

#include "compat.h"

/* Avro reader/writer resolution (avro_compat.c). */
extern const sc_format_t sc__avro_format;

#endif
