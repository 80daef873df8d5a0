/*
 * config.c - properties parsing and typed validation (see config.h).
 */
#include "base/config.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bytes.h"

struct sd_props {
    char **keys;
    char **values;
    size_t count, cap;
};

sd_props_t *sd_props_new(void) { return sd_calloc(1, sizeof(sd_props_t)); }

void sd_props_free(sd_props_t *props)
{
    if (!props)
        return;
    for (size_t i = 0; i < props->count; i++) {
        sd_free(props->keys[i]);
        sd_free(props->values[i]);
    }
    sd_free(props->keys);
    sd_free(props->values);
    sd_free(props);
}

static ssize_t find_key(const sd_props_t *props, const char *key)
{
    for (size_t i = 0; i < props->count; i++)
        if (strcmp(props->keys[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

int sd_props_set(sd_props_t *props, const char *key, const char *value)
{
    char *value_copy = sd_strdup(value);
    if (!value_copy)
        return SD_ERR_NOMEM;
    ssize_t at = find_key(props, key);
    if (at >= 0) {
        sd_free(props->values[at]);
        props->values[at] = value_copy;
        return 0;
    }
    if (props->count == props->cap) {
        size_t cap = props->cap ? props->cap * 2 : 16;
        char **keys = sd_realloc(props->keys, cap * sizeof *keys);
        if (!keys)
            goto fail;
        props->keys = keys;
        char **values = sd_realloc(props->values, cap * sizeof *values);
        if (!values)
            goto fail;
        props->values = values;
        props->cap = cap;
    }
    char *key_copy = sd_strdup(key);
    if (!key_copy)
        goto fail;
    props->keys[props->count] = key_copy;
    props->values[props->count] = value_copy;
    props->count++;
    return 0;
fail:
    sd_free(value_copy);
    return SD_ERR_NOMEM;
}

const char *sd_props_get(const sd_props_t *props, const char *key)
{
    ssize_t at = find_key(props, key);
    return at >= 0 ? props->values[at] : NULL;
}

size_t sd_props_count(const sd_props_t *props) { return props->count; }
const char *sd_props_key_at(const sd_props_t *props, size_t i) { return props->keys[i]; }
const char *sd_props_value_at(const sd_props_t *props, size_t i) { return props->values[i]; }

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

/* Appends one logical-line character, decoding escapes; returns bytes used. */
static size_t unescape(const char *p, const char *end, sd_writer_t *out)
{
    if (*p != '\\' || p + 1 >= end) {
        sd_write_u8(out, (uint8_t)*p);
        return 1;
    }
    char c = p[1];
    switch (c) {
    case 't': sd_write_u8(out, '\t'); return 2;
    case 'n': sd_write_u8(out, '\n'); return 2;
    case 'r': sd_write_u8(out, '\r'); return 2;
    case 'f': sd_write_u8(out, '\f'); return 2;
    case 'u':
        if (end - p >= 6) {
            char hex[5] = {p[2], p[3], p[4], p[5], 0};
            char *stop;
            unsigned long cp = strtoul(hex, &stop, 16);
            if (*stop == '\0') {
                /* UTF-8 encode the BMP code point. */
                if (cp < 0x80) {
                    sd_write_u8(out, (uint8_t)cp);
                } else if (cp < 0x800) {
                    sd_write_u8(out, (uint8_t)(0xc0 | (cp >> 6)));
                    sd_write_u8(out, (uint8_t)(0x80 | (cp & 0x3f)));
                } else {
                    sd_write_u8(out, (uint8_t)(0xe0 | (cp >> 12)));
                    sd_write_u8(out, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
                    sd_write_u8(out, (uint8_t)(0x80 | (cp & 0x3f)));
                }
                return 6;
            }
        }
        sd_write_u8(out, 'u');
        return 2;
    default: sd_write_u8(out, (uint8_t)c); return 2;
    }
}

int sd_props_parse(sd_props_t *props, const char *text, size_t len, const char *source,
                   sd_err_t *err)
{
    const char *p = text, *end = text + len;
    int line_no = 0, rc = 0;
    sd_writer_t logical, key, value;
    sd_writer_init(&logical);
    sd_writer_init(&key);
    sd_writer_init(&value);
    while (p < end) {
        /* Join physical lines ending in an odd number of backslashes. */
        sd_writer_reset(&logical);
        int first = 1;
        for (;;) {
            line_no++;
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            const char *line_end = eol ? eol : end;
            const char *s = p;
            if (!first)
                while (s < line_end && is_blank(*s))
                    s++;
            const char *e = line_end;
            if (e > s && e[-1] == '\r')
                e--;
            size_t slashes = 0;
            while (e - (ptrdiff_t)slashes > s && e[-1 - (ptrdiff_t)slashes] == '\\')
                slashes++;
            int continues = (slashes & 1) && !(first && (s < e && (*s == '#' || *s == '!')));
            sd_write_bytes(&logical, s, (size_t)(e - s - (continues ? 1 : 0)));
            p = eol ? eol + 1 : end;
            first = 0;
            if (!continues || p >= end)
                break;
        }
        if (logical.err) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory reading %s", source);
            goto done;
        }
        const char *s = (const char *)logical.buf, *e = s + logical.len;
        while (s < e && is_blank(*s))
            s++;
        if (s == e || *s == '#' || *s == '!')
            continue;
        sd_writer_reset(&key);
        sd_writer_reset(&value);
        while (s < e && !is_blank(*s) && *s != '=' && *s != ':')
            s += unescape(s, e, &key);
        while (s < e && is_blank(*s))
            s++;
        if (s < e && (*s == '=' || *s == ':')) {
            s++;
            while (s < e && is_blank(*s))
                s++;
        }
        while (s < e)
            s += unescape(s, e, &value);
        sd_write_u8(&key, 0);
        sd_write_u8(&value, 0);
        if (key.err || value.err ||
            sd_props_set(props, (const char *)key.buf, (const char *)value.buf)) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory reading %s line %d", source, line_no);
            goto done;
        }
    }
done:
    sd_writer_free(&logical);
    sd_writer_free(&key);
    sd_writer_free(&value);
    return rc;
}

int sd_props_load_file(sd_props_t *props, const char *path, sd_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sd_err_set(err, SD_ERR_IO, "cannot open config file %s: %s", path, strerror(errno));
    sd_writer_t text;
    sd_writer_init(&text);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sd_write_bytes(&text, chunk, n);
    int read_failed = ferror(f);
    fclose(f);
    int rc;
    if (read_failed)
        rc = sd_err_set(err, SD_ERR_IO, "cannot read config file %s", path);
    else if (text.err)
        rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory reading %s", path);
    else
        rc = sd_props_parse(props, (const char *)text.buf, text.len, path, err);
    sd_writer_free(&text);
    return rc;
}

int sd_props_parse_args(sd_props_t *props, int argc, char **argv, sd_err_t *err)
{
    /* Config files first, so command-line properties override them. */
    for (int i = 0; i < argc; i++) {
        const char *file = NULL;
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return sd_err_set(err, SD_ERR_INVALID, "--config needs a file name");
            file = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            file = argv[i] + 9;
        }
        if (file) {
            int rc = sd_props_load_file(props, file, err);
            if (rc)
                return rc;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--config=", 9) == 0)
            continue;
        const char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) != 0 || !eq || eq == arg + 2)
            return sd_err_set(err, SD_ERR_INVALID,
                              "unexpected argument '%s' (expected --name=value or --config FILE)",
                              arg);
        char *name = sd_strndup(arg + 2, (size_t)(eq - arg - 2));
        if (!name)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
        int rc = sd_props_set(props, name, eq + 1);
        sd_free(name);
        if (rc)
            return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    }
    return 0;
}

const sd_cfg_def_t *sd_cfg_find(const sd_cfg_def_t *defs, size_t ndefs, const char *name)
{
    for (size_t i = 0; i < ndefs; i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

static int parse_integer(const sd_cfg_def_t *def, const char *text, int64_t lo, int64_t hi,
                         int64_t *out, sd_err_t *err)
{
    errno = 0;
    char *stop;
    long long v = strtoll(text, &stop, 10);
    if (errno || stop == text || *stop != '\0')
        return sd_err_set(err, SD_ERR_INVALID, "invalid value '%s' for %s: not an integer", text,
                          def->name);
    if (v < lo || v > hi)
        return sd_err_set(err, SD_ERR_INVALID, "invalid value '%s' for %s: out of range", text,
                          def->name);
    if (def->min <= def->max && (v < def->min || v > def->max))
        return sd_err_set(err, SD_ERR_INVALID,
                          "invalid value '%s' for %s: must be between %lld and %lld", text,
                          def->name, (long long)def->min, (long long)def->max);
    *out = v;
    return 0;
}

int sd_cfg_parse_value(const sd_cfg_def_t *def, const char *text, sd_cfg_value_t *out,
                       sd_err_t *err)
{
    int rc = 0;
    out->i = 0;
    out->d = 0;
    switch (def->type) {
    case SD_CFG_STRING: break;
    case SD_CFG_INT: rc = parse_integer(def, text, INT32_MIN, INT32_MAX, &out->i, err); break;
    case SD_CFG_LONG: rc = parse_integer(def, text, INT64_MIN, INT64_MAX, &out->i, err); break;
    case SD_CFG_BOOL:
        if (strcmp(text, "true") == 0)
            out->i = 1;
        else if (strcmp(text, "false") == 0)
            out->i = 0;
        else
            rc = sd_err_set(err, SD_ERR_INVALID,
                            "invalid value '%s' for %s: expected true or false", text, def->name);
        break;
    case SD_CFG_DOUBLE: {
        errno = 0;
        char *stop;
        out->d = strtod(text, &stop);
        if (errno || stop == text || *stop != '\0' || !isfinite(out->d))
            rc = sd_err_set(err, SD_ERR_INVALID, "invalid value '%s' for %s: not a number", text,
                            def->name);
        break;
    }
    case SD_CFG_CHOICE: {
        rc = SD_ERR_INVALID;
        for (size_t i = 0; def->choices && def->choices[i]; i++)
            if (strcmp(def->choices[i], text) == 0) {
                out->i = (int64_t)i;
                rc = 0;
            }
        if (rc)
            sd_err_set(err, rc, "invalid value '%s' for %s: not one of the allowed values", text,
                       def->name);
        break;
    }
    }
    out->text = NULL;
    return rc;
}

void sd_config_free(sd_config_t *config)
{
    if (config->values)
        for (size_t i = 0; i < config->ndefs; i++)
            sd_free((char *)config->values[i].text);
    sd_free(config->values);
    config->values = NULL;
}

int sd_config_init(sd_config_t *config, const sd_cfg_def_t *defs, size_t ndefs,
                   const sd_props_t *props, sd_err_t *err)
{
    config->defs = defs;
    config->ndefs = ndefs;
    config->values = sd_calloc(ndefs, sizeof *config->values);
    if (!config->values)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; props && i < sd_props_count(props); i++) {
        const char *name = sd_props_key_at(props, i);
        if (!sd_cfg_find(defs, ndefs, name)) {
            rc = sd_err_set(err, SD_ERR_INVALID, "unknown property '%s'", name);
            goto fail;
        }
    }
    for (size_t i = 0; i < ndefs; i++) {
        const char *text = props ? sd_props_get(props, defs[i].name) : NULL;
        if (!text)
            text = defs[i].default_value;
        if (!text)
            continue;
        rc = sd_cfg_parse_value(&defs[i], text, &config->values[i], err);
        if (rc)
            goto fail;
        config->values[i].text = sd_strdup(text);
        if (!config->values[i].text) {
            rc = sd_err_set(err, SD_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    return 0;
fail:
    sd_config_free(config);
    return rc;
}

static const sd_cfg_value_t *lookup(const sd_config_t *config, const char *name)
{
    const sd_cfg_def_t *def = sd_cfg_find(config->defs, config->ndefs, name);
    assert(def && "unknown configuration property");
    return &config->values[def - config->defs];
}

int64_t sd_config_int(const sd_config_t *config, const char *name)
{
    return lookup(config, name)->i;
}

int sd_config_bool(const sd_config_t *config, const char *name)
{
    return lookup(config, name)->i != 0;
}

double sd_config_double(const sd_config_t *config, const char *name)
{
    return lookup(config, name)->d;
}

const char *sd_config_str(const sd_config_t *config, const char *name)
{
    return lookup(config, name)->text;
}
