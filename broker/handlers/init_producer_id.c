/*
 * init_producer_id.c - InitProducerId (key 22): hands idempotent producers a
 * durable, never reused producer id (epoch 0). Transactions are not offered.
 */
#include "base/log.h"
#include "handlers.h"

int bk_handle_init_producer_id(bk_request_t *req)
{
    int16_t version = req->header.api_version;
    kp_init_producer_id_request_t rq;
    if (kp_init_producer_id_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_init_producer_id_response_t rs;
    kp_init_producer_id_response_init(&rs);
    rs.producer_id = -1;
    rs.producer_epoch = -1;
    if (rq.transactional_id.len >= 0) {
        sd_warn("produce",
                "InitProducerId for transactional id '%.*s' refused: "
                "transactions are not supported",
                (int)rq.transactional_id.len, rq.transactional_id.ptr);
        rs.error_code = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else {
        sd_err_t err;
        int64_t id;
        if (bk_meta_next_producer_id(req->server->meta, &id, &err) != 0) {
            sd_error("produce", "%s", err.msg);
            rs.error_code = KERR_KAFKA_STORAGE_ERROR;
        } else {
            rs.producer_id = id;
            rs.producer_epoch = 0;
        }
    }
    kp_init_producer_id_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
