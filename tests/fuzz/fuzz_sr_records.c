/*
 * fuzz_sr_records.c - libFuzzer target for what the registry reads from the
 * `_schemas` topic, which any client of the Kafka cluster can write: the key
 * decoder (sr_records.c) and the state's application of records
 * (sr_state.c). The input is a sequence of records, each
 * "key \x00 value \x01" (a value of "-" is a tombstone), applied in order to
 * one state; then every query runs over what was built.
 *
 * Beyond "no crash, no over-read, no leak": a decoded key re-encoded by the
 * encoder of its type decodes to the same key.
 * Seeds: tests/fuzz/corpus/fuzz_sr_records/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "sr_records.h"
#include "sr_state.h"

static void drop_log(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)level;
    (void)module;
    (void)line;
    (void)opaque;
}

static void check_key_round_trip(const char *key, size_t len)
{
    sr_key_t k = {0};
    if (sr_key_decode(key, len, &k, NULL) != 0)
        return;
    char *again = NULL;
    switch (k.type) {
    case SR_KEY_SCHEMA:
        again = k.subject ? sr_key_schema(k.subject, k.version) : NULL;
        break;
    case SR_KEY_CONFIG:
        again = sr_key_config(k.subject);
        break;
    case SR_KEY_MODE:
        again = sr_key_mode(k.subject);
        break;
    case SR_KEY_NOOP:
        again = sr_key_noop();
        break;
    default:
        break;
    }
    if (again) {
        sr_key_t k2 = {0};
        if (sr_key_decode(again, strlen(again), &k2, NULL) != 0 || k2.type != k.type ||
            (k.subject == NULL) != (k2.subject == NULL) ||
            (k.subject && strcmp(k.subject, k2.subject) != 0) ||
            (k.type == SR_KEY_SCHEMA && k.version != k2.version))
            abort();
        sr_key_clear(&k2);
        free(again);
    }
    sr_key_clear(&k);
}

static void count_version(void *ctx, const sr_subject_t *subject, const sr_version_t *version)
{
    (void)subject;
    (void)version;
    (*(size_t *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_log_set_sink(drop_log, NULL);
    sr_state_t *state = sr_state_new();
    if (!state)
        return 0;
    size_t pos = 0;
    int64_t offset = 0;
    while (pos < size) {
        const uint8_t *key = data + pos;
        const uint8_t *sep = memchr(key, 0, size - pos);
        size_t key_len = sep ? (size_t)(sep - key) : size - pos;
        pos += key_len + (sep ? 1 : 0);
        const uint8_t *value = data + pos;
        const uint8_t *end = memchr(value, 1, size - pos);
        size_t value_len = end ? (size_t)(end - value) : size - pos;
        pos += value_len + (end ? 1 : 0);
        check_key_round_trip((const char *)key, key_len);
        int tombstone = value_len == 1 && value[0] == '-';
        sr_state_apply(state, key, key_len, tombstone ? NULL : value, tombstone ? 0 : value_len,
                       offset++, 1000);
    }
    sr_state_read_lock(state);
    size_t seen = 0;
    for (size_t i = 0; i < sr_state_subject_count(state); i++) {
        const sr_subject_t *subject = sr_state_subject_at(state, i);
        if (sr_state_subject(state, subject->name) != subject)
            abort();
        for (size_t v = 0; v < subject->version_count; v++) {
            const sr_version_t *version = &subject->versions[v];
            if (!sr_state_schema(state, version->id))
                abort(); /* a version's content must stay readable by id */
            sr_state_referrers(state, subject->name, version->version, true, count_version, &seen);
        }
        sr_subject_latest(subject);
        sr_subject_max_version(subject);
    }
    for (size_t i = 0; i < sr_state_schema_count(state); i++) {
        const sr_schema_t *schema = sr_state_schema_at(state, i);
        if (sr_state_schema_by_guid(state, schema->guid) == NULL)
            abort();
        if (schema->id >= sr_state_next_id(state))
            abort(); /* ids handed out later must not collide */
        sr_state_versions_of(state, schema->id, true, count_version, &seen);
    }
    sr_state_read_unlock(state);
    sr_state_free(state);
    return 0;
}
