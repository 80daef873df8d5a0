/*
 * heartbeat.c - Heartbeat (key 12): keeps a member's session alive and
 * tells it to rejoin (REBALANCE_IN_PROGRESS) while the group rebalances.
 */
#include "group/coordinator.h"
#include "handlers.h"

int bk_handle_heartbeat(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_heartbeat_request_t rq;
    if (kp_heartbeat_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    char *group_id = bk_cstr(req, rq.group_id);
    char *member_id = bk_cstr(req, rq.member_id);
    if (!group_id || !member_id)
        return BK_CLOSE;
    kp_heartbeat_response_t rs;
    kp_heartbeat_response_init(&rs);
    rs.error_code = (int16_t)bk_group_heartbeat(server->groups, group_id, member_id,
                                                rq.generation_id, server->now_ms);
    bk_coordinator_changed(server);
    kp_heartbeat_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
