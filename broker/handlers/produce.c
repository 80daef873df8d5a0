/*
 * produce.c - Produce (key 0): validates and appends each partition's record
 * batches. acks=0 gets no response (an error closes the connection, as in
 * Kafka); acks=1 is answered after the write; acks=-1 (all) after the data
 * is fdatasync'ed, through the server's group commit.
 */
#include "base/log.h"
#include "handlers.h"
#include "storage/kl_batch.h"

/* The idempotence fields of a request holding exactly one batch from an
 * idempotent producer; 0 when there are none to check. */
static int idempotent_batch(const kp_records_t *records, kl_batch_header_t *h, int32_t *last_seq)
{
    if (records->len < KL_BATCH_HEADER_SIZE)
        return 0;
    kl_batch_header_decode(records->ptr, h);
    if (kl_batch_total_size(h) != records->len || h->magic != KL_BATCH_MAGIC_V2 ||
        h->producer_id < 0 || h->base_sequence < 0 || h->last_offset_delta < 0)
        return 0;
    *last_seq = bk_producer_last_seq(h->base_sequence, h->last_offset_delta);
    return 1;
}

static void fail_partition(bk_request_t *req, kp_produce_response_partition_produce_response_t *out,
                           int16_t code, const char *message)
{
    out->error_code = code;
    if (message && req->header.api_version >= 8) {
        out->error_message = bk_str(bk_cstr(req, bk_str(message)));
    }
}

int bk_handle_produce(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_produce_request_t rq;
    if (kp_produce_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    int acks_valid = rq.acks == 0 || rq.acks == 1 || rq.acks == -1;
    int any_error = 0, appended = 0;

    kp_produce_response_t rs;
    kp_produce_response_init(&rs);
    rs.responses_count = rq.topic_data_count < 0 ? 0 : rq.topic_data_count;
    rs.responses = bk_array(req, rs.responses_count, sizeof *rs.responses);
    if (!rs.responses)
        return BK_CLOSE;
    for (int32_t t = 0; t < rs.responses_count; t++) {
        kp_produce_request_topic_produce_data_t *td = &rq.topic_data[t];
        kp_produce_response_topic_produce_response_t *tr = &rs.responses[t];
        tr->name = td->name;
        int32_t n = td->partition_data_count < 0 ? 0 : td->partition_data_count;
        tr->partition_responses_count = n;
        tr->partition_responses = bk_array(req, n, sizeof *tr->partition_responses);
        if (!tr->partition_responses)
            return BK_CLOSE;
        bk_topic_t *topic =
            td->name.len > 0 ? bk_topics_find(&server->topics, td->name.ptr, (size_t)td->name.len)
                             : NULL;
        for (int32_t i = 0; i < n; i++) {
            kp_produce_request_partition_produce_data_t *pd = &td->partition_data[i];
            kp_produce_response_partition_produce_response_t *pr = &tr->partition_responses[i];
            pr->index = pd->index;
            pr->base_offset = -1;
            pr->log_append_time_ms = -1;
            pr->log_start_offset = -1;
            pr->error_message = bk_str(NULL);
            pr->record_errors_count = 0;
            if (!acks_valid) {
                fail_partition(req, pr, KERR_INVALID_REQUIRED_ACKS, "acks must be -1, 0 or 1");
                any_error = 1;
                continue;
            }
            if (!topic || pd->index < 0 || pd->index >= topic->partition_count) {
                fail_partition(req, pr, KERR_UNKNOWN_TOPIC_OR_PARTITION, NULL);
                any_error = 1;
                continue;
            }
            bk_partition_t *partition = &topic->partitions[pd->index];
            if (pd->records.len <= 0) {
                fail_partition(req, pr, KERR_INVALID_RECORD,
                               "the produce request holds no record batch");
                any_error = 1;
                continue;
            }
            int64_t before = kl_log_end_offset(partition->log);
            int64_t base = -1;
            sd_err_t err = {0};
            kl_batch_header_t h;
            int32_t last_seq = 0;
            int idempotent = idempotent_batch(&pd->records, &h, &last_seq);
            if (idempotent) {
                int seq = bk_producers_check(&partition->producers, h.producer_id, h.producer_epoch,
                                             h.base_sequence, last_seq, &base);
                if (seq == BK_SEQ_DUPLICATE &&
                    kl_batch_validate(pd->records.ptr, (size_t)pd->records.len,
                                      KL_BATCH_FROM_CLIENT, 0, &h, NULL) == 0) {
                    /* A retry of a batch already in the log: its offset again. */
                    pr->error_code = KERR_NONE;
                    pr->base_offset = base;
                    pr->log_start_offset = kl_log_start_offset(partition->log);
                    continue;
                }
                if (seq < 0) {
                    fail_partition(req, pr, (int16_t)-seq,
                                   seq == -45 ? "batch sequence does not follow the last one"
                                              : "producer epoch is older than the current one");
                    any_error = 1;
                    continue;
                }
            }
            /* The records are a view into this connection's own receive
             * buffer, which the log may patch in place (base offset). */
            int rc = kl_log_append(partition->log, (uint8_t *)pd->records.ptr,
                                   (size_t)pd->records.len, server->now_ms, &base, &err);
            if (rc != 0) {
                sd_warn("produce", "rejected a batch for %s-%d: %s", topic->name, pd->index,
                        err.msg);
                fail_partition(req, pr, kl_log_kafka_error(rc), err.msg);
                any_error = 1;
                continue;
            }
            if (idempotent)
                bk_producers_record(&partition->producers, h.producer_id, h.producer_epoch,
                                    h.base_sequence, last_seq, base);
            pr->error_code = KERR_NONE;
            pr->base_offset = base;
            if (topic->log_config.log_append_time)
                pr->log_append_time_ms = server->now_ms;
            pr->log_start_offset = kl_log_start_offset(partition->log);
            bk_server_note_append(server, partition, kl_log_end_offset(partition->log) - before);
            appended = 1;
        }
    }
    if (rq.acks == 0)
        return any_error ? BK_CLOSE : BK_NO_RESPONSE;
    kp_produce_response_encode(req->out, version, &rs);
    if (rq.acks == -1 && appended && server->acks_all_fsync)
        return bk_request_wait_flush(req);
    return BK_RESPOND;
}
