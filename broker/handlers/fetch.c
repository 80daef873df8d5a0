/*
 * fetch.c - Fetch (key 1): whole record batches from each requested
 * partition, sent with sendfile straight from the segment files. A fetch
 * that finds fewer than min_bytes waits (parked) until enough arrive or
 * max_wait_ms passes. Fetch sessions are not kept: every response is a full
 * response with session id 0, which clients accept (they send id 0 too).
 */
#include <unistd.h>

#include "handlers.h"

typedef struct fetch_state {
    kp_fetch_request_t rq;
    int64_t deadline_ms;
} fetch_state_t;

static void close_records(kp_fetch_response_t *rs)
{
    for (int32_t t = 0; t < rs->responses_count; t++)
        for (int32_t p = 0; p < rs->responses[t].partitions_count; p++) {
            kp_records_t *r = &rs->responses[t].partitions[p].records;
            if (r->fd >= 0)
                close(r->fd);
            r->fd = -1;
        }
}

static int fetch_run(bk_request_t *req, int timed_out)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    fetch_state_t *st = req->state;
    kp_fetch_request_t *rq = &st->rq;
    int64_t response_max = version >= 3 ? rq->max_bytes : INT32_MAX;
    int64_t total = 0;
    int any_error = 0;

    kp_fetch_response_t rs;
    kp_fetch_response_init(&rs);
    rs.error_code = KERR_NONE;
    rs.session_id = 0;
    rs.responses_count = rq->topics_count < 0 ? 0 : rq->topics_count;
    rs.responses = bk_array(req, rs.responses_count, sizeof *rs.responses);
    if (!rs.responses)
        return BK_CLOSE;
    for (int32_t t = 0; t < rs.responses_count; t++) {
        kp_fetch_request_fetch_topic_t *ft = &rq->topics[t];
        kp_fetch_response_fetchable_topic_response_t *tr = &rs.responses[t];
        tr->topic = ft->topic;
        int32_t n = ft->partitions_count < 0 ? 0 : ft->partitions_count;
        tr->partitions_count = n;
        tr->partitions = bk_array(req, n, sizeof *tr->partitions);
        if (!tr->partitions) {
            close_records(&rs);
            return BK_CLOSE;
        }
        for (int32_t i = 0; i < n; i++) {
            kp_fetch_request_fetch_partition_t *fp = &ft->partitions[i];
            kp_fetch_response_partition_data_t *pd = &tr->partitions[i];
            pd->partition_index = fp->partition;
            pd->high_watermark = -1;
            pd->last_stable_offset = -1;
            pd->log_start_offset = -1;
            pd->aborted_transactions = NULL;
            pd->aborted_transactions_count = -1;
            pd->preferred_read_replica = -1;
            pd->records.ptr = NULL;
            pd->records.len = 0;
            pd->records.fd = -1;
            bk_partition_t *partition =
                ft->topic.len > 0 ? bk_topics_partition(&server->topics, ft->topic.ptr,
                                                        (size_t)ft->topic.len, fp->partition)
                                  : NULL;
            if (!partition) {
                pd->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                any_error = 1;
                continue;
            }
            kl_log_t *log = partition->log;
            int64_t start = kl_log_start_offset(log), end = kl_log_end_offset(log);
            pd->high_watermark = end;
            pd->last_stable_offset = end;
            pd->log_start_offset = start;
            if (fp->fetch_offset < start || fp->fetch_offset > end) {
                pd->error_code = KERR_OFFSET_OUT_OF_RANGE;
                any_error = 1;
                continue;
            }
            pd->error_code = KERR_NONE;
            if (fp->fetch_offset == end || (total > 0 && total >= response_max))
                continue;
            int64_t limit = fp->partition_max_bytes;
            if (total > 0 && response_max - total < limit)
                limit = response_max - total;
            if (limit <= 0)
                continue;
            kl_read_t rd;
            sd_err_t err;
            int rc = kl_log_read(log, fp->fetch_offset, (int32_t)limit, &rd, &err);
            if (rc != 0) {
                pd->error_code = kl_log_kafka_error(rc);
                any_error = 1;
                continue;
            }
            if (rd.len <= 0)
                continue;
            /* Only the response's first batch may exceed the limits. */
            if (total > 0 && rd.len > limit) {
                close(rd.fd);
                continue;
            }
            pd->records.fd = rd.fd;
            pd->records.file_pos = rd.pos;
            pd->records.len = rd.len;
            total += rd.len;
        }
    }
    if (!timed_out && !any_error && total < rq->min_bytes && server->now_ms < st->deadline_ms) {
        close_records(&rs);
        return bk_request_park(req, st->deadline_ms, fetch_run);
    }
    kp_fetch_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}

int bk_handle_fetch(bk_request_t *req)
{
    fetch_state_t *st = kp_arena_alloc(req->arena, sizeof *st);
    if (!st)
        return BK_CLOSE;
    if (kp_fetch_request_decode(&req->body, req->header.api_version, req->arena, &st->rq))
        return BK_CLOSE;
    st->deadline_ms = req->server->now_ms + (st->rq.max_wait_ms > 0 ? st->rq.max_wait_ms : 0);
    req->state = st;
    return fetch_run(req, 0);
}
