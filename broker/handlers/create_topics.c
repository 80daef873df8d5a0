/*
 * create_topics.c - CreateTopics (key 19): creates topics with a partition
 * count and config overrides, on this single broker (replication factor 1).
 * Each topic succeeds or fails on its own, with a message naming the problem.
 */
#include <string.h>

#include "base/log.h"
#include "handlers.h"

static void fail(bk_request_t *req, kp_create_topics_response_creatable_topic_result_t *out,
                 int16_t code, const char *message)
{
    out->error_code = code;
    out->error_message = bk_str(bk_cstr(req, bk_str(message)));
}

/* Partition count from num_partitions or explicit assignments. */
static int32_t partition_count(bk_request_t *req,
                               const kp_create_topics_request_creatable_topic_t *t,
                               kp_create_topics_response_creatable_topic_result_t *out)
{
    if (t->assignments_count > 0) {
        if (t->num_partitions != -1 || t->replication_factor != -1) {
            fail(req, out, KERR_INVALID_REQUEST,
                 "give either num_partitions and replication_factor or assignments, not both");
            return -1;
        }
        for (int32_t i = 0; i < t->assignments_count; i++) {
            const kp_create_topics_request_creatable_replica_assignment_t *a = &t->assignments[i];
            if (a->partition_index != i || a->broker_ids_count != 1 ||
                a->broker_ids[0] != req->server->node_id) {
                fail(req, out, KERR_INVALID_REPLICA_ASSIGNMENT,
                     "each partition must be assigned to this single broker, in order");
                return -1;
            }
        }
        return t->assignments_count;
    }
    if (t->replication_factor != -1 && t->replication_factor != 1) {
        fail(req, out, KERR_INVALID_REPLICATION_FACTOR,
             "replication factor must be 1: this cluster has one broker");
        return -1;
    }
    if (t->num_partitions == -1)
        return 0; /* num.partitions */
    if (t->num_partitions < 1) {
        fail(req, out, KERR_INVALID_PARTITIONS, "number of partitions must be at least 1");
        return -1;
    }
    return t->num_partitions;
}

int bk_handle_create_topics(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_create_topics_request_t rq;
    if (kp_create_topics_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_create_topics_response_t rs;
    kp_create_topics_response_init(&rs);
    rs.topics_count = rq.topics_count < 0 ? 0 : rq.topics_count;
    rs.topics = bk_array(req, rs.topics_count, sizeof *rs.topics);
    if (!rs.topics)
        return BK_CLOSE;
    for (int32_t i = 0; i < rs.topics_count; i++) {
        kp_create_topics_request_creatable_topic_t *t = &rq.topics[i];
        kp_create_topics_response_creatable_topic_result_t *out = &rs.topics[i];
        out->name = t->name;
        out->error_code = KERR_NONE;
        out->error_message = bk_str(NULL);
        out->num_partitions = -1;
        out->replication_factor = -1;
        out->configs = NULL;
        out->configs_count = -1;
        int duplicate = 0;
        for (int32_t j = 0; j < rq.topics_count; j++)
            if (j != i && rq.topics[j].name.len == t->name.len && t->name.len >= 0 &&
                memcmp(rq.topics[j].name.ptr, t->name.ptr, (size_t)t->name.len) == 0)
                duplicate = 1;
        if (duplicate) {
            fail(req, out, KERR_INVALID_REQUEST, "topic named more than once in the request");
            continue;
        }
        int32_t partitions = partition_count(req, t, out);
        if (partitions < 0)
            continue;
        char *name = bk_cstr(req, t->name);
        sd_props_t *configs = sd_props_new();
        if (!name || !configs) {
            sd_props_free(configs);
            return BK_CLOSE;
        }
        for (int32_t c = 0; c < t->configs_count; c++) {
            kp_create_topics_request_creatable_topic_config_t *cfg = &t->configs[c];
            if (cfg->value.len < 0)
                continue; /* null: keep the default */
            char *key = bk_cstr(req, cfg->name), *value = bk_cstr(req, cfg->value);
            if (!key || !value || sd_props_set(configs, key, value)) {
                sd_props_free(configs);
                return BK_CLOSE;
            }
        }
        sd_err_t err = {0};
        bk_topic_t *topic = NULL;
        int rc = bk_topics_create(&server->topics, name, partitions, configs, rq.validate_only,
                                  &topic, &err);
        sd_props_free(configs);
        if (rc != 0) {
            fail(req, out, bk_topics_kafka_error(rc), err.msg);
            continue;
        }
        if (topic) {
            out->num_partitions = topic->partition_count;
            out->replication_factor = 1;
            memcpy(out->topic_id.b, topic->id, 16);
        }
    }
    kp_create_topics_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
