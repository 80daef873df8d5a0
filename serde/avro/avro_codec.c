/*
 * avro_codec.c - hands a parsed schema to avro-c. The Parsing Canonical Form
 * is exactly the part of a schema that decides the binary encoding, uses
 * full names (which avro-c splits into name and namespace) and no escapes.
 */
#include <string.h>

#include "avro/avro_codec.h"
#include "base/alloc.h"

int sd_avro_to_avro_c(const sd_avro_schema_t *schema, avro_schema_t *out, sd_err_t *err)
{
    *out = NULL;
    size_t len;
    char *pcf = sd_avro_canonical_form(schema, &len, err);
    if (!pcf)
        return SD_ERR_NOMEM;
    int rc = 0;
    if (avro_schema_from_json_length(pcf, len, out) != 0) {
        rc = sd_err_set(err, SD_AVRO_ERR_SCHEMA, "avro-c cannot represent this schema: %s",
                        avro_strerror());
        *out = NULL;
    }
    sd_free(pcf);
    return rc;
}
