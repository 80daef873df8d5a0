/*
 * serde_config.c - the serializer's and deserializer's properties, with
 * Confluent's names (AbstractKafkaSchemaSerDeConfig): serde's own are
 * checked when set; all are kept for the registry client a serializer or
 * deserializer makes for itself.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "core/serde_int.h"

typedef enum prop_kind { PROP_BOOL, PROP_ID, PROP_STRATEGY } prop_kind_t;

typedef struct prop_def {
    const char *name;
    prop_kind_t kind;
    const char *default_value;
} prop_def_t;

static const prop_def_t props[] = {
    {"auto.register.schemas", PROP_BOOL, "true"},
    {"use.latest.version", PROP_BOOL, "false"},
    {"use.schema.id", PROP_ID, "-1"},
    {"id.compatibility.strict", PROP_BOOL, "true"},
    {"normalize.schemas", PROP_BOOL, "false"},
    {"latest.compatibility.strict", PROP_BOOL, "true"},
    {"key.subject.name.strategy", PROP_STRATEGY, "TopicNameStrategy"},
    {"value.subject.name.strategy", PROP_STRATEGY, "TopicNameStrategy"},
};

/* Confluent's class names carry this package; the short name is the class. */
#define STRATEGY_PACKAGE "io.confluent.kafka.serializers.subject."

static const struct {
    const char *name;
    serde_strategy_t strategy;
} strategies[] = {
    {"TopicNameStrategy", SERDE_TOPIC_NAME},
    {"RecordNameStrategy", SERDE_RECORD_NAME},
    {"TopicRecordNameStrategy", SERDE_TOPIC_RECORD_NAME},
};

static const prop_def_t *find_def(const char *name)
{
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (strcmp(props[i].name, name) == 0)
            return &props[i];
    return NULL;
}

/* Parses a value of def's kind into *out (0/1, an id, a strategy). */
static int parse_value(const prop_def_t *def, const char *value, long *out,
                       strand_serde_error_t *err)
{
    switch (def->kind) {
    case PROP_BOOL:
        if (strcasecmp(value, "true") == 0)
            *out = 1;
        else if (strcasecmp(value, "false") == 0)
            *out = 0;
        else
            return serde__error(err, STRAND_SERDE_ERR_CONFIG,
                                "%s: expected true or false, got \"%s\"", def->name, value);
        return 0;
    case PROP_ID: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < -1 || v > INT32_MAX)
            return serde__error(err, STRAND_SERDE_ERR_CONFIG,
                                "%s: expected a schema id (or -1), got \"%s\"", def->name, value);
        *out = v;
        return 0;
    }
    case PROP_STRATEGY: {
        const char *name = value;
        if (strncmp(name, STRATEGY_PACKAGE, strlen(STRATEGY_PACKAGE)) == 0)
            name += strlen(STRATEGY_PACKAGE);
        for (size_t i = 0; i < sizeof strategies / sizeof strategies[0]; i++)
            if (strcmp(strategies[i].name, name) == 0) {
                *out = strategies[i].strategy;
                return 0;
            }
        return serde__error(err, STRAND_SERDE_ERR_CONFIG,
                            "%s: unknown subject name strategy \"%s\" (expected "
                            "TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy)",
                            def->name, value);
    }
    }
    return serde__error(err, STRAND_SERDE_ERR_CONFIG, "%s: unknown property kind", def->name);
}

strand_serde_config_t *strand_serde_config_new(void)
{
    strand_serde_config_t *config = sd_calloc(1, sizeof *config);
    if (!config)
        return NULL;
    config->props = sd_props_new();
    if (!config->props) {
        sd_free(config);
        return NULL;
    }
    return config;
}

void strand_serde_config_free(strand_serde_config_t *config)
{
    if (!config)
        return;
    sd_props_free(config->props);
    sd_free(config);
}

int strand_serde_config_set(strand_serde_config_t *config, const char *name, const char *value,
                            strand_serde_error_t *err)
{
    if (!config || !name || !value)
        return serde__error(err, STRAND_SERDE_ERR_ARGUMENT,
                            "strand_serde_config_set needs a config, a name and a value");
    const prop_def_t *def = find_def(name);
    long parsed;
    if (def && parse_value(def, value, &parsed, err))
        return STRAND_SERDE_ERR_CONFIG;
    if (sd_props_set(config->props, name, value))
        return serde__error(err, STRAND_SERDE_ERR_NOMEM, "out of memory");
    serde__clear_error(err);
    return 0;
}

static long setting(const strand_serde_config_t *config, const char *name)
{
    const prop_def_t *def = find_def(name);
    const char *text = config ? sd_props_get(config->props, name) : NULL;
    long v = 0;
    /* Values were checked when set; defaults are valid. */
    if (!text || parse_value(def, text, &v, NULL))
        parse_value(def, def->default_value, &v, NULL);
    return v;
}

int serde__settings(const strand_serde_config_t *config, int is_key, serde_settings_t *out,
                    strand_serde_error_t *err)
{
    out->auto_register = (int)setting(config, "auto.register.schemas");
    out->use_latest = (int)setting(config, "use.latest.version");
    out->use_schema_id = (int32_t)setting(config, "use.schema.id");
    out->id_compat_strict = (int)setting(config, "id.compatibility.strict");
    out->normalize = (int)setting(config, "normalize.schemas");
    out->latest_compat_strict = (int)setting(config, "latest.compatibility.strict");
    out->strategy = (serde_strategy_t)setting(config, is_key ? "key.subject.name.strategy"
                                                             : "value.subject.name.strategy");
    serde__clear_error(err);
    return 0;
}
