/*
 * fuzz_compat.c - libFuzzer target for the Avro compatibility checker
 * (compat.c, avro_compat.c). The input is two schema texts separated by a NUL
 * byte; when both parse, they are checked against each other at
 * FULL_TRANSITIVE. Every finding must carry a rule, a location starting with
 * '/' and a message, the verdict must agree with the findings, and a schema
 * must always be compatible with itself. Seeds: the pairs of
 * tests/data/compat/avro_cases.json.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

static void check_pair(const sc_schema_t *new_schema, const sc_schema_t *old, bool must_pass)
{
    const sc_schema_t *earlier[] = {old, old};
    sc_result_t result;
    sd_err_t err = {0};
    if (sc_check(new_schema, earlier, 2, SC_LEVEL_FULL_TRANSITIVE, &result, &err) != 0)
        abort();
    if (result.compatible != (result.findings.count == 0))
        abort();
    if (must_pass && !result.compatible)
        abort();
    for (size_t i = 0; i < result.findings.count; i++) {
        const sc_finding_t *f = &result.findings.items[i];
        if (!f->rule || f->location[0] != '/' || !f->message[0] || f->version > 1)
            abort();
    }
    sc_result_free(&result);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *sep = memchr(text, '\0', size);
    size_t first = sep ? (size_t)(sep - text) : size;
    sc_schema_t *a = NULL, *b = NULL;
    sd_err_t err = {0};

    if (sc_schema_parse(SC_TYPE_AVRO, text, first, NULL, 0, &a, &err) == 0) {
        check_pair(a, a, true);
        if (sep &&
            sc_schema_parse(SC_TYPE_AVRO, sep + 1, size - first - 1, NULL, 0, &b, &err) == 0) {
            check_pair(b, b, true);
            check_pair(a, b, false);
            check_pair(b, a, false);
        }
    } else if (!err.msg[0]) {
        abort();
    }
    sc_schema_free(b);
    sc_schema_free(a);
    return 0;
}
