/*
 * fuzz_avro_schema.c - libFuzzer target for the Avro schema parser
 * (avro_schema.c) and its text forms (avro_text.c). The input is parsed as a
 * new schema and as a stored one. A parsed schema must give its Parsing
 * Canonical Form, fingerprint, Confluent canonical and normalized texts; the
 * canonical and normalized texts must parse again, strictly, to the same
 * Parsing Canonical Form. A failure must come with a message. Seeds: the
 * schemas and canonical-form vector inputs of tests/data/avro/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avro/avro_model.h"
#include "base/alloc.h"

static void same_form(const char *text, size_t len, const char *pcf)
{
    sd_avro_schema_t *again = NULL;
    sd_err_t err = {0};
    if (sd_avro_parse(text, len, NULL, &again, &err) != 0)
        abort();
    char *pcf2 = sd_avro_canonical_form(again, NULL, &err);
    if (!pcf2 || strcmp(pcf, pcf2) != 0)
        abort();
    sd_free(pcf2);
    sd_avro_schema_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    sd_avro_schema_t *s = NULL;
    sd_err_t err = {0};
    sd_avro_schema_t *lenient = NULL;
    if (sd_avro_parse_flags(json, size, NULL, SD_AVRO_PARSE_LENIENT, &lenient, &err) == 0) {
        char *text = sd_avro_confluent_canonical(lenient, NULL, &err);
        char *norm = sd_avro_normalized(lenient, NULL, &err);
        if (!text)
            abort();
        sd_free(text);
        sd_free(norm);
        sd_avro_schema_free(lenient);
    } else if (!err.msg[0]) {
        abort();
    }
    memset(&err, 0, sizeof err);
    if (sd_avro_parse(json, size, NULL, &s, &err) != 0) {
        if (!err.msg[0] || err.code >= 0)
            abort();
        return 0;
    }
    size_t pcf_len, canon_len, norm_len;
    char *pcf = sd_avro_canonical_form(s, &pcf_len, &err);
    uint64_t fp;
    if (!pcf || sd_avro_fingerprint(s, &fp, &err) != 0 || fp != sd_avro_crc64(pcf, pcf_len))
        abort();
    char *canon = sd_avro_confluent_canonical(s, &canon_len, &err);
    char *norm = sd_avro_normalized(s, &norm_len, &err);
    if (!canon || !norm)
        abort();
    same_form(canon, canon_len, pcf);
    same_form(norm, norm_len, pcf);
    sd_free(pcf);
    sd_free(canon);
    sd_free(norm);
    sd_avro_schema_free(s);
    return 0;
}
