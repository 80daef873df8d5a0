/*
 * alter_configs.c - AlterConfigs (key 33) and IncrementalAlterConfigs
 * (key 44) for topics: AlterConfigs replaces a topic's overrides with the
 * ones given; IncrementalAlterConfigs applies SET / DELETE / APPEND /
 * SUBTRACT to the current ones. Both go through bk_topics_set_configs
 * (validation, persistence, applying to the logs and the cleaner) and honour
 * validate_only. Broker configs are static here and cannot be altered.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "handlers.h"

enum { RESOURCE_TOPIC = 2, RESOURCE_BROKER = 4 };
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* Configs whose value is a comma-separated list (APPEND / SUBTRACT). */
static int is_list(const char *name) { return strcmp(name, "cleanup.policy") == 0; }

/* Checks the resource and finds its topic. Returns the topic, or NULL with
 * *code / *message set. */
static bk_topic_t *resource_topic(bk_request_t *req, int8_t type, kp_str_t name, int16_t *code,
                                  const char **message)
{
    if (type == RESOURCE_BROKER) {
        *code = KERR_INVALID_REQUEST;
        *message = "Broker configs are static: set them in the properties file.";
        return NULL;
    }
    if (type != RESOURCE_TOPIC) {
        *code = KERR_INVALID_REQUEST;
        *message = "Unsupported resource type.";
        return NULL;
    }
    bk_topic_t *topic =
        name.len > 0 ? bk_topics_find(&req->server->topics, name.ptr, (size_t)name.len) : NULL;
    if (!topic) {
        *code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        *message = "Topic does not exist.";
    }
    return topic;
}

/* Sets *code / *message from a bk_topics_set_configs failure (the message
 * copied to the arena). */
static void set_failure(bk_request_t *req, int rc, const sd_err_t *err, int16_t *code,
                        kp_str_t *message)
{
    *code = bk_topics_kafka_error(rc);
    *message = bk_str(bk_cstr(req, bk_str(err->msg)));
}

/* Copies src into dst without `skip` (NULL = copy all). */
static int copy_props(sd_props_t *dst, const sd_props_t *src, const char *skip)
{
    for (size_t i = 0; src && i < sd_props_count(src); i++) {
        const char *key = sd_props_key_at(src, i);
        if (skip && strcmp(key, skip) == 0)
            continue;
        if (sd_props_set(dst, key, sd_props_value_at(src, i)))
            return -1;
    }
    return 0;
}

/* Whether a comma-separated list holds item. */
static int list_has(const char *list, const char *item, size_t len)
{
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && memcmp(p, item, len) == 0)
            return 1;
        p += n + (comma ? 1 : 0);
    }
    return 0;
}

/* APPEND / SUBTRACT of the items of `value` to / from `current` into out. */
static void list_edit(const char *current, const char *value, int append, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    const char *sources[2] = {current, append ? value : ""};
    for (int s = 0; s < 2; s++)
        for (const char *p = sources[s]; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            int keep = len > 0 && !list_has(out, p, len) && (append || !list_has(value, p, len));
            if (keep && used + len + 2 < n) {
                if (used)
                    out[used++] = ',';
                memcpy(out + used, p, len);
                used += len;
                out[used] = '\0';
            }
            p += len + (comma ? 1 : 0);
        }
}

int bk_handle_alter_configs(bk_request_t *req)
{
    int16_t version = req->header.api_version;
    kp_alter_configs_request_t rq;
    if (kp_alter_configs_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_alter_configs_response_t rs;
    kp_alter_configs_response_init(&rs);
    rs.responses_count = rq.resources_count < 0 ? 0 : rq.resources_count;
    rs.responses = bk_array(req, rs.responses_count, sizeof *rs.responses);
    if (!rs.responses)
        return BK_CLOSE;
    for (int32_t i = 0; i < rs.responses_count; i++) {
        const kp_alter_configs_request_alter_configs_resource_t *res = &rq.resources[i];
        kp_alter_configs_response_alter_configs_resource_response_t *out = &rs.responses[i];
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        out->error_code = KERR_NONE;
        out->error_message = bk_str(NULL);
        const char *message = NULL;
        bk_topic_t *topic =
            resource_topic(req, res->resource_type, res->resource_name, &out->error_code, &message);
        if (!topic) {
            out->error_message = bk_str(message);
            continue;
        }
        sd_props_t *configs = sd_props_new();
        if (!configs)
            return BK_CLOSE;
        for (int32_t j = 0; j < res->configs_count && !out->error_code; j++) {
            const kp_alter_configs_request_alterable_config_t *c = &res->configs[j];
            char *name = bk_cstr(req, c->name);
            char *value = bk_cstr(req, c->value);
            if (!name || !value) {
                sd_props_free(configs);
                return BK_CLOSE;
            }
            if (c->value.len < 0) {
                char text[300];
                snprintf(text, sizeof text, "a null value is not valid for %s", name);
                out->error_code = KERR_INVALID_CONFIG;
                out->error_message = bk_str(bk_cstr(req, bk_str(text)));
            } else if (sd_props_set(configs, name, value)) {
                sd_props_free(configs);
                return BK_CLOSE;
            }
        }
        if (!out->error_code) {
            sd_err_t err;
            int rc =
                bk_topics_set_configs(&req->server->topics, topic, configs, rq.validate_only, &err);
            if (rc)
                set_failure(req, rc, &err, &out->error_code, &out->error_message);
        }
        sd_props_free(configs);
    }
    kp_alter_configs_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}

/* Applies the operations of one resource to a copy of the topic's
 * overrides. Returns 0, -1 on allocation failure, or 1 with *code and
 * *message set. */
static int apply_ops(bk_request_t *req, const bk_topic_t *topic,
                     const kp_incremental_alter_configs_request_alter_configs_resource_t *res,
                     sd_props_t **result, int16_t *code, kp_str_t *message)
{
    sd_props_t *props = sd_props_new();
    if (!props || copy_props(props, topic->overrides, NULL))
        goto nomem;
    for (int32_t j = 0; j < res->configs_count; j++) {
        const kp_incremental_alter_configs_request_alterable_config_t *c = &res->configs[j];
        char *name = bk_cstr(req, c->name);
        char *value = bk_cstr(req, c->value);
        if (!name || !value)
            goto nomem;
        if (!bk_topic_config_find(name)) {
            *code = KERR_INVALID_CONFIG;
            char text[300];
            snprintf(text, sizeof text, "unknown topic config '%s'", name);
            *message = bk_str(bk_cstr(req, bk_str(text)));
            goto refused;
        }
        if (c->config_operation == OP_DELETE) {
            sd_props_t *without = sd_props_new();
            if (!without || copy_props(without, props, name)) {
                sd_props_free(without);
                goto nomem;
            }
            sd_props_free(props);
            props = without;
            continue;
        }
        if (c->config_operation != OP_SET && c->config_operation != OP_APPEND &&
            c->config_operation != OP_SUBTRACT) {
            *code = KERR_INVALID_REQUEST;
            *message = bk_str("Unknown config operation.");
            goto refused;
        }
        if (c->value.len < 0) {
            char text[300];
            snprintf(text, sizeof text, "a null value is not valid for %s", name);
            *code = KERR_INVALID_CONFIG;
            *message = bk_str(bk_cstr(req, bk_str(text)));
            goto refused;
        }
        if (c->config_operation != OP_SET) {
            if (!is_list(name)) {
                char text[300];
                snprintf(text, sizeof text, "%s is not a list: APPEND and SUBTRACT do not apply",
                         name);
                *code = KERR_INVALID_CONFIG;
                *message = bk_str(bk_cstr(req, bk_str(text)));
                goto refused;
            }
            const char *current = sd_props_get(props, name);
            char buf[256], edited[256];
            if (!current)
                current =
                    bk_topic_config_value(&req->server->topics, topic, name, buf, sizeof buf, NULL);
            list_edit(current, value, c->config_operation == OP_APPEND, edited, sizeof edited);
            value = bk_cstr(req, bk_str(edited));
            if (!value)
                goto nomem;
        }
        if (sd_props_set(props, name, value))
            goto nomem;
    }
    *result = props;
    return 0;
refused:
    sd_props_free(props);
    return 1;
nomem:
    sd_props_free(props);
    return -1;
}

int bk_handle_incremental_alter_configs(bk_request_t *req)
{
    int16_t version = req->header.api_version;
    kp_incremental_alter_configs_request_t rq;
    if (kp_incremental_alter_configs_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_incremental_alter_configs_response_t rs;
    kp_incremental_alter_configs_response_init(&rs);
    rs.responses_count = rq.resources_count < 0 ? 0 : rq.resources_count;
    rs.responses = bk_array(req, rs.responses_count, sizeof *rs.responses);
    if (!rs.responses)
        return BK_CLOSE;
    for (int32_t i = 0; i < rs.responses_count; i++) {
        const kp_incremental_alter_configs_request_alter_configs_resource_t *res = &rq.resources[i];
        kp_incremental_alter_configs_response_alter_configs_resource_response_t *out =
            &rs.responses[i];
        out->resource_type = res->resource_type;
        out->resource_name = res->resource_name;
        out->error_code = KERR_NONE;
        out->error_message = bk_str(NULL);
        const char *message = NULL;
        bk_topic_t *topic =
            resource_topic(req, res->resource_type, res->resource_name, &out->error_code, &message);
        if (!topic) {
            out->error_message = bk_str(message);
            continue;
        }
        sd_props_t *configs = NULL;
        int rc = apply_ops(req, topic, res, &configs, &out->error_code, &out->error_message);
        if (rc < 0)
            return BK_CLOSE;
        if (rc > 0)
            continue;
        sd_err_t err;
        rc = bk_topics_set_configs(&req->server->topics, topic, configs, rq.validate_only, &err);
        if (rc)
            set_failure(req, rc, &err, &out->error_code, &out->error_message);
        sd_props_free(configs);
    }
    kp_incremental_alter_configs_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
