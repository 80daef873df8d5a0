/*
 * describe_configs.c - DescribeConfigs (key 32): a topic's effective configs
 * (override, broker-level or default, with their source) and this broker's
 * own properties.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "handlers.h"

enum { RESOURCE_TOPIC = 2, RESOURCE_BROKER = 4 };
/* ConfigSource values of the DescribeConfigs response. */
enum { SOURCE_DYNAMIC_TOPIC = 1, SOURCE_STATIC_BROKER = 4, SOURCE_DEFAULT = 5 };

/* DescribeConfigs ConfigType for our property types. */
static int8_t config_type(sd_cfg_type_t type)
{
    switch (type) {
    case SD_CFG_BOOL: return 1;
    case SD_CFG_INT: return 3;
    case SD_CFG_LONG: return 5;
    case SD_CFG_DOUBLE: return 6;
    default: return 2;
    }
}

static int wanted(const kp_describe_configs_request_describe_configs_resource_t *res,
                  const char *name)
{
    if (res->configuration_keys_count < 0)
        return 1;
    for (int32_t i = 0; i < res->configuration_keys_count; i++) {
        kp_str_t k = res->configuration_keys[i];
        if (k.len >= 0 && (size_t)k.len == strlen(name) && memcmp(k.ptr, name, (size_t)k.len) == 0)
            return 1;
    }
    return 0;
}

static void fill_entry(kp_describe_configs_response_describe_configs_resource_result_t *e,
                       const char *name, const char *value, int8_t source, int read_only,
                       sd_cfg_type_t type)
{
    e->name = bk_str(name);
    e->value = bk_str(value);
    e->read_only = read_only;
    e->is_default = source == SOURCE_DEFAULT;
    e->config_source = source;
    e->is_sensitive = false;
    e->synonyms = NULL;
    e->synonyms_count = 0;
    e->config_type = config_type(type);
    e->documentation = bk_str(NULL);
}

static int describe_topic(bk_request_t *req,
                          const kp_describe_configs_request_describe_configs_resource_t *res,
                          kp_describe_configs_response_describe_configs_result_t *out)
{
    bk_server_t *server = req->server;
    bk_topic_t *topic = res->resource_name.len > 0
                            ? bk_topics_find(&server->topics, res->resource_name.ptr,
                                             (size_t)res->resource_name.len)
                            : NULL;
    if (!topic) {
        out->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        out->error_message = bk_str("Topic does not exist.");
        return 0;
    }
    out->configs = bk_array(req, (int32_t)bk_topic_config_count, sizeof *out->configs);
    if (!out->configs)
        return -1;
    int32_t n = 0;
    for (size_t i = 0; i < bk_topic_config_count; i++) {
        const bk_topic_config_def_t *def = &bk_topic_config_defs[i];
        if (!wanted(res, def->def.name))
            continue;
        char buf[256];
        int is_default;
        const char *value = bk_topic_config_value(&server->topics, topic, def->def.name, buf,
                                                  sizeof buf, &is_default);
        int8_t source = SOURCE_DYNAMIC_TOPIC;
        if (is_default) {
            const sd_cfg_def_t *bdef =
                sd_cfg_find(bk_broker_config_defs, bk_broker_config_count, def->broker_name);
            const char *set = sd_config_str(&server->config, def->broker_name);
            source = bdef && set && (!bdef->default_value || strcmp(set, bdef->default_value))
                         ? SOURCE_STATIC_BROKER
                         : SOURCE_DEFAULT;
        }
        char *copy = bk_cstr(req, bk_str(value));
        if (!copy)
            return -1;
        fill_entry(&out->configs[n++], def->def.name, copy, source, 0, def->def.type);
    }
    out->configs_count = n;
    return 0;
}

static int describe_broker(bk_request_t *req,
                           const kp_describe_configs_request_describe_configs_resource_t *res,
                           kp_describe_configs_response_describe_configs_result_t *out)
{
    bk_server_t *server = req->server;
    char *name = bk_cstr(req, res->resource_name);
    if (!name)
        return -1;
    if (*name && (strtol(name, NULL, 10) != server->node_id)) {
        out->error_code = KERR_INVALID_REQUEST;
        out->error_message = bk_str("No such broker in this cluster.");
        return 0;
    }
    out->configs = bk_array(req, (int32_t)bk_broker_config_count, sizeof *out->configs);
    if (!out->configs)
        return -1;
    int32_t n = 0;
    for (size_t i = 0; i < bk_broker_config_count; i++) {
        const sd_cfg_def_t *def = &bk_broker_config_defs[i];
        if (!wanted(res, def->name))
            continue;
        const char *value = sd_config_str(&server->config, def->name);
        int8_t source = value && (!def->default_value || strcmp(value, def->default_value))
                            ? SOURCE_STATIC_BROKER
                            : SOURCE_DEFAULT;
        fill_entry(&out->configs[n++], def->name, value, source, 1, def->type);
    }
    out->configs_count = n;
    return 0;
}

int bk_handle_describe_configs(bk_request_t *req)
{
    int16_t version = req->header.api_version;
    kp_describe_configs_request_t rq;
    if (kp_describe_configs_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_describe_configs_response_t rs;
    kp_describe_configs_response_init(&rs);
    rs.results_count = rq.resources_count < 0 ? 0 : rq.resources_count;
    rs.results = bk_array(req, rs.results_count, sizeof *rs.results);
    if (!rs.results)
        return BK_CLOSE;
    for (int32_t i = 0; i < rs.results_count; i++) {
        const kp_describe_configs_request_describe_configs_resource_t *res = &rq.resources[i];
        kp_describe_configs_response_describe_configs_result_t *out = &rs.results[i];
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        out->error_code = KERR_NONE;
        out->error_message = bk_str(NULL);
        out->configs = NULL;
        out->configs_count = 0;
        int rc;
        if (res->resource_type == RESOURCE_TOPIC) {
            rc = describe_topic(req, res, out);
        } else if (res->resource_type == RESOURCE_BROKER) {
            rc = describe_broker(req, res, out);
        } else {
            out->error_code = KERR_INVALID_REQUEST;
            out->error_message = bk_str("Unsupported resource type.");
            rc = 0;
        }
        if (rc)
            return BK_CLOSE;
    }
    kp_describe_configs_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
