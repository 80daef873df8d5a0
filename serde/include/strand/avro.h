/*
 * strand/avro.h - Avro schemas for applications: parse and validate a schema
 * (as strictly as Confluent's registry checks a new one), and get its
 * Parsing Canonical Form, CRC-64-AVRO fingerprint, and the canonical and
 * normalized texts Confluent's registry uses.
 *
 * Every function returning char * gives a NUL-terminated string the caller
 * frees with strand_avro_free; NULL means failure (see the error struct).
 */
#ifndef STRAND_AVRO_H
#define STRAND_AVRO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sd_avro_schema strand_avro_schema_t;

#define STRAND_AVRO_ERROR_MAX 512

typedef struct strand_avro_error {
    int code;                            /* 0, or a negative code below */
    char message[STRAND_AVRO_ERROR_MAX]; /* names the offending path */
} strand_avro_error_t;

enum {
    STRAND_AVRO_ERR_NOMEM = -1,
    STRAND_AVRO_ERR_JSON = -100,      /* not JSON */
    STRAND_AVRO_ERR_SCHEMA = -101,    /* not a valid Avro schema */
    STRAND_AVRO_ERR_REFERENCE = -102, /* a type name that is not defined */
};

/* Parses len bytes of schema JSON. On success *out is a schema the caller
 * frees with strand_avro_schema_free; on failure returns a negative code and
 * fills err (which may be NULL). */
int strand_avro_schema_parse(const char *json, size_t len, strand_avro_schema_t **out,
                             strand_avro_error_t *err);
void strand_avro_schema_free(strand_avro_schema_t *schema);

/* Parsing Canonical Form (Avro specification). */
char *strand_avro_schema_canonical_form(const strand_avro_schema_t *schema, size_t *len);
/* CRC-64-AVRO fingerprint of the Parsing Canonical Form; 0 on success. */
int strand_avro_schema_fingerprint(const strand_avro_schema_t *schema, uint64_t *fingerprint);
/* Confluent's canonical text (the registry's schema identity). */
char *strand_avro_schema_confluent_text(const strand_avro_schema_t *schema, size_t *len);
/* Confluent's normalized text (what the registry keeps with normalize=true). */
char *strand_avro_schema_normalized(const strand_avro_schema_t *schema, size_t *len);

void strand_avro_free(void *text);

#ifdef __cplusplus
}
#endif

#endif
