/*
 * list_offsets.c - ListOffsets (key 2): the earliest (-2) or latest (-1)
 * offset of a partition, or the first offset whose batch has a timestamp at
 * or after the one asked for.
 */
#include "handlers.h"

#define LATEST_TIMESTAMP (-1)
#define EARLIEST_TIMESTAMP (-2)

int bk_handle_list_offsets(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_list_offsets_request_t rq;
    if (kp_list_offsets_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_list_offsets_response_t rs;
    kp_list_offsets_response_init(&rs);
    rs.topics_count = rq.topics_count < 0 ? 0 : rq.topics_count;
    rs.topics = bk_array(req, rs.topics_count, sizeof *rs.topics);
    if (!rs.topics)
        return BK_CLOSE;
    for (int32_t t = 0; t < rs.topics_count; t++) {
        kp_list_offsets_request_list_offsets_topic_t *lt = &rq.topics[t];
        kp_list_offsets_response_list_offsets_topic_response_t *tr = &rs.topics[t];
        tr->name = lt->name;
        int32_t n = lt->partitions_count < 0 ? 0 : lt->partitions_count;
        tr->partitions_count = n;
        tr->partitions = bk_array(req, n, sizeof *tr->partitions);
        if (!tr->partitions)
            return BK_CLOSE;
        for (int32_t i = 0; i < n; i++) {
            kp_list_offsets_request_list_offsets_partition_t *lp = &lt->partitions[i];
            kp_list_offsets_response_list_offsets_partition_response_t *pr = &tr->partitions[i];
            pr->partition_index = lp->partition_index;
            pr->timestamp = -1;
            pr->offset = -1;
            pr->leader_epoch = 0;
            bk_partition_t *partition =
                lt->name.len > 0 ? bk_topics_partition(&server->topics, lt->name.ptr,
                                                       (size_t)lt->name.len, lp->partition_index)
                                 : NULL;
            if (!partition) {
                pr->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                pr->leader_epoch = -1;
                continue;
            }
            pr->error_code = KERR_NONE;
            if (lp->timestamp == EARLIEST_TIMESTAMP) {
                pr->offset = kl_log_start_offset(partition->log);
            } else if (lp->timestamp == LATEST_TIMESTAMP) {
                pr->offset = kl_log_end_offset(partition->log);
            } else if (lp->timestamp < 0) {
                pr->error_code = KERR_INVALID_REQUEST;
            } else {
                int64_t offset = -1, found = -1;
                if (kl_log_offset_for_timestamp(partition->log, lp->timestamp, &offset, &found))
                    pr->error_code = KERR_KAFKA_STORAGE_ERROR;
                pr->offset = offset;
                pr->timestamp = found;
            }
        }
    }
    kp_list_offsets_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
