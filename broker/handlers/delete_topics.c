/*
 * delete_topics.c - DeleteTopics (key 20): removes topics and their data.
 */
#include "handlers.h"

int bk_handle_delete_topics(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_delete_topics_request_t rq;
    if (kp_delete_topics_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_delete_topics_response_t rs;
    kp_delete_topics_response_init(&rs);
    rs.responses_count = rq.topic_names_count < 0 ? 0 : rq.topic_names_count;
    rs.responses = bk_array(req, rs.responses_count, sizeof *rs.responses);
    if (!rs.responses)
        return BK_CLOSE;
    int enabled = sd_config_bool(&server->config, "delete.topic.enable");
    for (int32_t i = 0; i < rs.responses_count; i++) {
        kp_delete_topics_response_deletable_topic_result_t *out = &rs.responses[i];
        out->name = rq.topic_names[i];
        out->error_message = bk_str(NULL);
        if (!enabled) {
            out->error_code = KERR_TOPIC_DELETION_DISABLED;
            continue;
        }
        char *name = bk_cstr(req, rq.topic_names[i]);
        if (!name)
            return BK_CLOSE;
        bk_topic_t *topic = bk_topics_find(
            &server->topics, name, (size_t)(rq.topic_names[i].len > 0 ? rq.topic_names[i].len : 0));
        if (!topic) {
            out->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        bk_server_forget_topic(server, topic);
        sd_err_t err;
        out->error_code = bk_topics_kafka_error(bk_topics_delete(&server->topics, name, &err));
    }
    kp_delete_topics_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
