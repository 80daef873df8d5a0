/*
 * leave_group.c - LeaveGroup (key 13): members leave and the rest of the
 * group rebalances. v3 carries a list of members; v0-2 one member id.
 */
#include "group/coordinator.h"
#include "handlers.h"

int bk_handle_leave_group(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_leave_group_request_t rq;
    if (kp_leave_group_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    char *group_id = bk_cstr(req, rq.group_id);
    if (!group_id)
        return BK_CLOSE;
    kp_leave_group_response_t rs;
    kp_leave_group_response_init(&rs);
    rs.error_code = KERR_NONE;
    if (version < 3) {
        char *member_id = bk_cstr(req, rq.member_id);
        if (!member_id)
            return BK_CLOSE;
        rs.error_code =
            (int16_t)bk_group_leave(server->groups, group_id, member_id, server->now_ms);
    } else if (!group_id[0]) {
        rs.error_code = BKG_INVALID_GROUP_ID;
    } else {
        rs.members_count = rq.members_count > 0 ? rq.members_count : 0;
        rs.members = bk_array(req, rs.members_count, sizeof *rs.members);
        if (!rs.members)
            return BK_CLOSE;
        for (int32_t i = 0; i < rs.members_count; i++) {
            kp_leave_group_response_member_response_t *out = &rs.members[i];
            out->member_id = rq.members[i].member_id;
            out->group_instance_id = rq.members[i].group_instance_id;
            char *member_id = bk_cstr(req, rq.members[i].member_id);
            if (!member_id)
                return BK_CLOSE;
            out->error_code =
                (int16_t)bk_group_leave(server->groups, group_id, member_id, server->now_ms);
        }
    }
    bk_coordinator_changed(server);
    kp_leave_group_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
