/*
 * config.h - Java-properties style configuration, the format Kafka and
 * Confluent use (`name=value`, `name: value`, `#`/`!` comments, `\`
 * continuations and escapes), and typed validation against a table of known
 * properties with defaults and ranges.
 *
 * sd_props_t is the raw ordered string map; sd_config_t is the validated,
 * typed view a program reads its settings from. An unknown name or a bad
 * value is an error whose message names the property.
 */
#ifndef STRAND_BASE_CONFIG_H
#define STRAND_BASE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct sd_props sd_props_t;

/* Returns NULL when out of memory. */
sd_props_t *sd_props_new(void);
void sd_props_free(sd_props_t *props);
/* Copies both strings; a later set of the same key replaces the value. */
int sd_props_set(sd_props_t *props, const char *key, const char *value);
/* Borrowed until the key is set again or the map is freed; NULL if absent. */
const char *sd_props_get(const sd_props_t *props, const char *key);
size_t sd_props_count(const sd_props_t *props);
const char *sd_props_key_at(const sd_props_t *props, size_t i);
const char *sd_props_value_at(const sd_props_t *props, size_t i);

/* Parses properties text into props. `source` names it in errors. */
int sd_props_parse(sd_props_t *props, const char *text, size_t len, const char *source,
                   sd_err_t *err);
int sd_props_load_file(sd_props_t *props, const char *path, sd_err_t *err);
/* Command line: `--config FILE` / `--config=FILE` loads a file (first, so
 * that `--name=value` options override it whatever their order), and every
 * `--name=value` sets one property. Anything else is an error. */
int sd_props_parse_args(sd_props_t *props, int argc, char **argv, sd_err_t *err);

typedef enum sd_cfg_type {
    SD_CFG_STRING,
    SD_CFG_INT,  /* int32 range */
    SD_CFG_LONG, /* int64 range */
    SD_CFG_BOOL, /* true / false */
    SD_CFG_DOUBLE,
    SD_CFG_CHOICE, /* one of `choices` (case-sensitive, as Kafka) */
} sd_cfg_type_t;

typedef struct sd_cfg_def {
    const char *name;
    sd_cfg_type_t type;
    const char *default_value;  /* parsed like a user value; NULL = no default */
    int64_t min, max;           /* for INT/LONG; min > max means unbounded */
    const char *const *choices; /* NULL-terminated, for CHOICE */
    const char *doc;
} sd_cfg_def_t;

typedef struct sd_cfg_value {
    const char *text; /* owned copy; NULL only for STRING without default */
    int64_t i;        /* INT, LONG, BOOL (0/1) */
    double d;         /* DOUBLE */
} sd_cfg_value_t;

typedef struct sd_config {
    const sd_cfg_def_t *defs; /* borrowed, static table */
    size_t ndefs;
    sd_cfg_value_t *values; /* one per def */
} sd_config_t;

/* Validates one textual value against its definition. */
int sd_cfg_parse_value(const sd_cfg_def_t *def, const char *text, sd_cfg_value_t *out,
                       sd_err_t *err);
const sd_cfg_def_t *sd_cfg_find(const sd_cfg_def_t *defs, size_t ndefs, const char *name);

/* Builds the typed view: defaults, overridden by props. Unknown names and
 * invalid values fail with a message naming the property. Release with
 * sd_config_free. */
int sd_config_init(sd_config_t *config, const sd_cfg_def_t *defs, size_t ndefs,
                   const sd_props_t *props, sd_err_t *err);
void sd_config_free(sd_config_t *config);
/* Typed getters; an unknown name is a programmer error (assert). */
int64_t sd_config_int(const sd_config_t *config, const char *name);
int sd_config_bool(const sd_config_t *config, const char *name);
double sd_config_double(const sd_config_t *config, const char *name);
const char *sd_config_str(const sd_config_t *config, const char *name);

#endif
