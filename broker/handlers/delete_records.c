/*
 * delete_records.c - DeleteRecords (key 21): moves each partition's log
 * start offset up to the requested offset (-1 = the high watermark) and
 * answers with the new low watermark. The start offset is persisted before
 * the answer (a small fsync'ed file) and whole segments below it are
 * deleted; reads below it get OFFSET_OUT_OF_RANGE.
 */
#include "handlers.h"

int bk_handle_delete_records(bk_request_t *req)
{
    int16_t version = req->header.api_version;
    kp_delete_records_request_t rq;
    if (kp_delete_records_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_delete_records_response_t rs;
    kp_delete_records_response_init(&rs);
    rs.topics_count = rq.topics_count < 0 ? 0 : rq.topics_count;
    rs.topics = bk_array(req, rs.topics_count, sizeof *rs.topics);
    if (!rs.topics)
        return BK_CLOSE;
    for (int32_t t = 0; t < rs.topics_count; t++) {
        const kp_delete_records_request_delete_records_topic_t *in = &rq.topics[t];
        kp_delete_records_response_delete_records_topic_result_t *out = &rs.topics[t];
        out->name = in->name;
        out->partitions_count = in->partitions_count < 0 ? 0 : in->partitions_count;
        out->partitions = bk_array(req, out->partitions_count, sizeof *out->partitions);
        if (!out->partitions)
            return BK_CLOSE;
        for (int32_t p = 0; p < out->partitions_count; p++) {
            const kp_delete_records_request_delete_records_partition_t *pin = &in->partitions[p];
            kp_delete_records_response_delete_records_partition_result_t *pout =
                &out->partitions[p];
            pout->partition_index = pin->partition_index;
            pout->low_watermark = -1;
            pout->error_code = KERR_NONE;
            bk_partition_t *part =
                in->name.len > 0 ? bk_topics_partition(&req->server->topics, in->name.ptr,
                                                       (size_t)in->name.len, pin->partition_index)
                                 : NULL;
            if (!part) {
                pout->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            sd_err_t err;
            int rc = kl_log_delete_records(part->log, pin->offset, &err);
            if (rc) {
                pout->error_code = kl_log_kafka_error(rc);
                continue;
            }
            pout->low_watermark = kl_log_start_offset(part->log);
        }
    }
    kp_delete_records_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
