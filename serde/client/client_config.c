/*
 * client_config.c - the registry client's properties, by Confluent's names
 * (SchemaRegistryClientConfig and the C-family clients' `schema.registry.*`
 * keys), validated through the typed table of base/config.h. Names the
 * client does not know are skipped: serializers pass their whole set.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/config.h"
#include "client/client_int.h"

static const char *const basic_sources[] = {"USER_INFO", "URL", "SASL_INHERIT", NULL};

#define UNBOUNDED 1, 0
static const sd_cfg_def_t defs[] = {
    {"schema.registry.url", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "comma-separated base URLs"},
    {"basic.auth.credentials.source", SD_CFG_CHOICE, "USER_INFO", UNBOUNDED, basic_sources,
     "where basic-auth credentials come from"},
    {"basic.auth.user.info", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "user:password"},
    {"bearer.auth.credentials.source", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "STATIC_TOKEN"},
    {"bearer.auth.token", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "static bearer token"},
    {"bearer.auth.logical.cluster", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "target-sr-cluster"},
    {"bearer.auth.identity.pool.id", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "identity pool"},
    {"ssl.ca.location", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "CA certificates (PEM)"},
    {"ssl.certificate.location", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "client certificate"},
    {"ssl.key.location", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "client key"},
    {"ssl.key.password", SD_CFG_STRING, NULL, UNBOUNDED, NULL, "client key password"},
    {"ssl.endpoint.identification.algorithm", SD_CFG_STRING, "https", UNBOUNDED, NULL,
     "https checks the host name; empty does not"},
    {"request.timeout.ms", SD_CFG_INT, "10000", 1, INT32_MAX, NULL, "whole-request timeout"},
    {"connect.timeout.ms", SD_CFG_INT, "10000", 1, INT32_MAX, NULL, "connect timeout"},
    {"max.retries", SD_CFG_INT, "2", 0, 1000, NULL, "retries of a failed request"},
    {"retries.wait.ms", SD_CFG_INT, "1000", 0, INT32_MAX, NULL, "first backoff"},
    {"retries.max.wait.ms", SD_CFG_INT, "20000", 0, INT32_MAX, NULL, "backoff cap"},
    {"latest.cache.ttl.sec", SD_CFG_LONG, "60", -1, INT32_MAX, NULL,
     "latest-version expiry; -1 never"},
};
#define NDEFS (sizeof defs / sizeof defs[0])

/* The table name a user's key stands for, or NULL when it is not ours. */
static const char *canonical_name(const char *key)
{
    static const char prefix[] = "schema.registry.";
    if (strcmp(key, "url") == 0 || strcmp(key, "schema.registry.url") == 0)
        return "schema.registry.url";
    if (strcmp(key, "cache.latest.ttl.sec") == 0) /* the Python client's spelling */
        return "latest.cache.ttl.sec";
    if (strncmp(key, prefix, sizeof prefix - 1) == 0)
        key += sizeof prefix - 1;
    const sd_cfg_def_t *def = sd_cfg_find(defs, NDEFS, key);
    return def ? def->name : NULL;
}

static int set_error(strand_registry_error_t *err, int code, const char *msg)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return code;
}

static int copy_optional(const sd_config_t *cfg, const char *name, char **out)
{
    const char *v = sd_config_str(cfg, name);
    *out = NULL;
    if (v && *v) {
        *out = sd_strdup(v);
        if (!*out)
            return -1;
    }
    return 0;
}

/* "Name: value" as one header line; NULL when out of memory. */
static char *header_line(const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = sd_malloc(len);
    if (line)
        snprintf(line, len, "%s: %s", name, value);
    return line;
}

/* Splits the comma-separated URL list, trimming blanks and trailing '/'. */
static int split_urls(rc_config_t *config, const char *list, strand_registry_error_t *err)
{
    size_t max = 1;
    for (const char *p = list; *p; p++)
        max += *p == ',';
    config->urls = sd_calloc(max, sizeof *config->urls);
    if (!config->urls)
        return set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *start = p;
        const char *end = p + len;
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '/'))
            end--;
        if (end > start) {
            if (!strstr(start, "://") || strstr(start, "://") >= end) {
                char msg[STRAND_REGISTRY_ERROR_MAX];
                snprintf(msg, sizeof msg,
                         "invalid value for schema.registry.url: '%.*s' is not an http:// or "
                         "https:// URL",
                         (int)(end - start), start);
                return set_error(err, STRAND_REGISTRY_ERR_CONFIG, msg);
            }
            config->urls[config->url_count] = sd_strndup(start, (size_t)(end - start));
            if (!config->urls[config->url_count])
                return set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
            config->url_count++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (config->url_count == 0)
        return set_error(err, STRAND_REGISTRY_ERR_CONFIG,
                         "schema.registry.url names no URL (it is required)");
    return 0;
}

int rc_config__parse(rc_config_t *config, const char *const *keys, const char *const *values,
                     size_t n, strand_registry_error_t *err)
{
    memset(config, 0, sizeof *config);
    sd_props_t *props = sd_props_new();
    sd_config_t cfg = {0};
    sd_err_t e = {0};
    int rc = 0;
    if (!props)
        return set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !values[i]) {
            rc = set_error(err, STRAND_REGISTRY_ERR_ARGUMENT, "a property key or value is NULL");
            goto fail;
        }
        const char *name = canonical_name(keys[i]);
        if (name && sd_props_set(props, name, values[i]) != 0) {
            rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    if (sd_config_init(&cfg, defs, NDEFS, props, &e) != 0) {
        rc = set_error(
            err, e.code == SD_ERR_NOMEM ? STRAND_REGISTRY_ERR_NOMEM : STRAND_REGISTRY_ERR_CONFIG,
            e.msg);
        goto fail;
    }
    const char *urls = sd_config_str(&cfg, "schema.registry.url");
    if (!urls) {
        rc = set_error(err, STRAND_REGISTRY_ERR_CONFIG, "schema.registry.url is required");
        goto fail;
    }
    if ((rc = split_urls(config, urls, err)) != 0)
        goto fail;

    const char *source = sd_config_str(&cfg, "basic.auth.credentials.source");
    if (strcmp(source, "SASL_INHERIT") == 0) {
        rc = set_error(err, STRAND_REGISTRY_ERR_CONFIG,
                       "basic.auth.credentials.source=SASL_INHERIT is not supported (use "
                       "USER_INFO or URL)");
        goto fail;
    }
    if (strcmp(source, "USER_INFO") == 0 &&
        copy_optional(&cfg, "basic.auth.user.info", &config->user_info) != 0)
        goto nomem;
    const char *bearer_source = sd_config_str(&cfg, "bearer.auth.credentials.source");
    const char *token = sd_config_str(&cfg, "bearer.auth.token");
    if (bearer_source && *bearer_source) {
        if (strcmp(bearer_source, "STATIC_TOKEN") != 0) {
            char msg[STRAND_REGISTRY_ERROR_MAX];
            snprintf(msg, sizeof msg,
                     "bearer.auth.credentials.source=%s is not supported (only STATIC_TOKEN)",
                     bearer_source);
            rc = set_error(err, STRAND_REGISTRY_ERR_CONFIG, msg);
            goto fail;
        }
        if (!token || !*token) {
            rc = set_error(err, STRAND_REGISTRY_ERR_CONFIG,
                           "bearer.auth.credentials.source=STATIC_TOKEN needs bearer.auth.token");
            goto fail;
        }
    }
    if (token && *token) {
        if (config->user_info) {
            rc = set_error(err, STRAND_REGISTRY_ERR_CONFIG,
                           "basic.auth.user.info and bearer.auth.token are exclusive");
            goto fail;
        }
        size_t len = strlen(token) + sizeof "Authorization: Bearer ";
        config->bearer_header = sd_malloc(len);
        if (!config->bearer_header)
            goto nomem;
        snprintf(config->bearer_header, len, "Authorization: Bearer %s", token);
    }
    const char *cluster = sd_config_str(&cfg, "bearer.auth.logical.cluster");
    if (cluster && *cluster &&
        !(config->cluster_header = header_line("target-sr-cluster", cluster)))
        goto nomem;
    const char *pool = sd_config_str(&cfg, "bearer.auth.identity.pool.id");
    if (pool && *pool &&
        !(config->identity_header = header_line("Confluent-Identity-Pool-Id", pool)))
        goto nomem;
    if (copy_optional(&cfg, "ssl.ca.location", &config->ca_location) ||
        copy_optional(&cfg, "ssl.certificate.location", &config->certificate_location) ||
        copy_optional(&cfg, "ssl.key.location", &config->key_location) ||
        copy_optional(&cfg, "ssl.key.password", &config->key_password))
        goto nomem;
    const char *algorithm = sd_config_str(&cfg, "ssl.endpoint.identification.algorithm");
    if (*algorithm && strcmp(algorithm, "https") != 0 && strcmp(algorithm, "HTTPS") != 0) {
        char msg[STRAND_REGISTRY_ERROR_MAX];
        snprintf(msg, sizeof msg,
                 "invalid value '%s' for ssl.endpoint.identification.algorithm: https or empty",
                 algorithm);
        rc = set_error(err, STRAND_REGISTRY_ERR_CONFIG, msg);
        goto fail;
    }
    config->verify_host = *algorithm != '\0';
    config->request_timeout_ms = (long)sd_config_int(&cfg, "request.timeout.ms");
    config->connect_timeout_ms = (long)sd_config_int(&cfg, "connect.timeout.ms");
    config->max_retries = (int)sd_config_int(&cfg, "max.retries");
    config->retries_wait_ms = (long)sd_config_int(&cfg, "retries.wait.ms");
    config->retries_max_wait_ms = (long)sd_config_int(&cfg, "retries.max.wait.ms");
    int64_t ttl = sd_config_int(&cfg, "latest.cache.ttl.sec");
    config->latest_ttl_ms = ttl < 0 ? -1 : (long)(ttl * 1000);
    sd_config_free(&cfg);
    sd_props_free(props);
    return 0;
nomem:
    rc = set_error(err, STRAND_REGISTRY_ERR_NOMEM, "out of memory");
fail:
    sd_config_free(&cfg);
    sd_props_free(props);
    return rc;
}

void rc_config__free(rc_config_t *config)
{
    for (size_t i = 0; i < config->url_count; i++)
        sd_free(config->urls[i]);
    sd_free(config->urls);
    sd_free(config->user_info);
    sd_free(config->bearer_header);
    sd_free(config->cluster_header);
    sd_free(config->identity_header);
    sd_free(config->ca_location);
    sd_free(config->certificate_location);
    sd_free(config->key_location);
    sd_free(config->key_password);
    memset(config, 0, sizeof *config);
}
