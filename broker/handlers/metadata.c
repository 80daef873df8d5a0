/*
 * metadata.c - Metadata (key 3): this single broker, the cluster id, and the
 * requested topics (all of them for a null list, or an empty list in v0),
 * creating unknown ones when auto.create.topics.enable and the request allow.
 */
#include <string.h>

#include "base/log.h"
#include "handlers.h"

static int describe_topic(bk_request_t *req, bk_topic_t *topic,
                          kp_metadata_response_metadata_response_topic_t *out)
{
    int32_t node = req->server->node_id;
    out->error_code = KERR_NONE;
    out->name = bk_str(topic->name);
    memcpy(out->topic_id.b, topic->id, 16);
    out->is_internal = false;
    out->topic_authorized_operations = INT32_MIN;
    out->partitions_count = topic->partition_count;
    out->partitions = bk_array(req, topic->partition_count, sizeof *out->partitions);
    if (!out->partitions)
        return -1;
    for (int32_t p = 0; p < topic->partition_count; p++) {
        kp_metadata_response_metadata_response_partition_t *mp = &out->partitions[p];
        int32_t *nodes = bk_array(req, 1, sizeof *nodes);
        if (!nodes)
            return -1;
        nodes[0] = node;
        mp->error_code = KERR_NONE;
        mp->partition_index = p;
        mp->leader_id = node;
        mp->leader_epoch = 0;
        mp->replica_nodes = nodes;
        mp->replica_nodes_count = 1;
        mp->isr_nodes = nodes;
        mp->isr_nodes_count = 1;
        mp->offline_replicas = NULL;
        mp->offline_replicas_count = 0;
    }
    return 0;
}

int bk_handle_metadata(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_metadata_request_t rq;
    if (kp_metadata_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    int all = rq.topics_count < 0 || (version == 0 && rq.topics_count == 0);
    int allow_create = sd_config_bool(&server->config, "auto.create.topics.enable") &&
                       (version < 4 || rq.allow_auto_topic_creation);

    kp_metadata_response_t rs;
    kp_metadata_response_init(&rs);
    const char *host;
    int port;
    bk_conn_advertised(req->conn, &host, &port);
    rs.brokers_count = 1;
    rs.brokers = bk_array(req, 1, sizeof *rs.brokers);
    if (!rs.brokers)
        return BK_CLOSE;
    rs.brokers[0].node_id = server->node_id;
    rs.brokers[0].host = bk_str(host);
    rs.brokers[0].port = port;
    rs.brokers[0].rack = bk_str(NULL);
    rs.cluster_id = bk_str(bk_meta_cluster_id(server->meta));
    rs.controller_id = server->node_id;
    rs.cluster_authorized_operations = INT32_MIN;

    int32_t count = all ? (int32_t)server->topics.count : rq.topics_count;
    rs.topics_count = count;
    rs.topics = bk_array(req, count, sizeof *rs.topics);
    if (!rs.topics)
        return BK_CLOSE;
    for (int32_t i = 0; i < count; i++) {
        kp_metadata_response_metadata_response_topic_t *out = &rs.topics[i];
        out->topic_authorized_operations = INT32_MIN;
        out->partitions_count = 0;
        if (all) {
            if (describe_topic(req, server->topics.items[i], out))
                return BK_CLOSE;
            continue;
        }
        kp_str_t name = rq.topics[i].name;
        out->name = name;
        if (name.len < 0) {
            out->error_code = KERR_INVALID_REQUEST;
            continue;
        }
        bk_topic_t *topic = bk_topics_find(&server->topics, name.ptr, (size_t)name.len);
        if (!topic) {
            sd_err_t err;
            if (bk_topic_name_validate(name.ptr, (size_t)name.len, &err) != 0) {
                out->error_code = KERR_INVALID_TOPIC_EXCEPTION;
                continue;
            }
            if (!allow_create) {
                out->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            char *cname = bk_cstr(req, name);
            if (!cname)
                return BK_CLOSE;
            int rc = bk_topics_create(&server->topics, cname, 0, NULL, 0, &topic, &err);
            if (rc != 0) {
                sd_warn("metadata", "auto-creating topic %s failed: %s", cname, err.msg);
                out->error_code = bk_topics_kafka_error(rc);
                continue;
            }
        }
        if (describe_topic(req, topic, out))
            return BK_CLOSE;
    }
    kp_metadata_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
