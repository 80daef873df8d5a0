/*
 * find_coordinator.c - FindCoordinator (key 10): on a single node this
 * broker coordinates every consumer group. Transaction coordinators are not
 * offered (COORDINATOR_NOT_AVAILABLE).
 */
#include "handlers.h"

#define KEY_TYPE_GROUP 0
#define KERR_COORDINATOR_NOT_AVAILABLE 15

int bk_handle_find_coordinator(bk_request_t *req)
{
    int16_t version = req->header.api_version;
    kp_find_coordinator_request_t rq;
    if (kp_find_coordinator_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_find_coordinator_response_t rs;
    kp_find_coordinator_response_init(&rs);
    rs.error_message = bk_str(NULL);
    if (version >= 1 && rq.key_type != KEY_TYPE_GROUP) {
        rs.error_code = KERR_COORDINATOR_NOT_AVAILABLE;
        rs.error_message = bk_str("transactions are not supported by this broker");
        rs.node_id = -1;
        rs.host = bk_str("");
        rs.port = -1;
    } else {
        const char *host;
        int port;
        bk_conn_advertised(req->conn, &host, &port);
        rs.error_code = KERR_NONE;
        rs.node_id = req->server->node_id;
        rs.host = bk_str(host);
        rs.port = port;
    }
    kp_find_coordinator_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
