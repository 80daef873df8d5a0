/*
 * avro_api.c - the application API of strand/avro.h over the schema model.
 */
#include <string.h>

#include "avro/avro_model.h"
#include "base/alloc.h"
#include "strand/avro.h"

int strand_avro_schema_parse(const char *json, size_t len, strand_avro_schema_t **out,
                             strand_avro_error_t *err)
{
    sd_err_t e = {0};
    int rc = sd_avro_parse(json, len, NULL, out, &e);
    if (err) {
        err->code = rc;
        memcpy(err->message, e.msg,
               sizeof err->message < sizeof e.msg ? sizeof err->message : sizeof e.msg);
        err->message[sizeof err->message - 1] = '\0';
    }
    return rc;
}

void strand_avro_schema_free(strand_avro_schema_t *schema) { sd_avro_schema_free(schema); }

char *strand_avro_schema_canonical_form(const strand_avro_schema_t *schema, size_t *len)
{
    return sd_avro_canonical_form(schema, len, NULL);
}

int strand_avro_schema_fingerprint(const strand_avro_schema_t *schema, uint64_t *fingerprint)
{
    return sd_avro_fingerprint(schema, fingerprint, NULL);
}

char *strand_avro_schema_confluent_text(const strand_avro_schema_t *schema, size_t *len)
{
    return sd_avro_confluent_canonical(schema, len, NULL);
}

char *strand_avro_schema_normalized(const strand_avro_schema_t *schema, size_t *len)
{
    return sd_avro_normalized(schema, len, NULL);
}

void strand_avro_free(void *text) { sd_free(text); }
