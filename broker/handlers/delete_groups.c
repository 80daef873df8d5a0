/*
 * delete_groups.c - DeleteGroups (key 42): forgets groups without members,
 * committed offsets included. A group with members answers NON_EMPTY_GROUP,
 * an unknown one GROUP_ID_NOT_FOUND.
 */
#include "base/log.h"
#include "group/coordinator.h"
#include "handlers.h"

static int any_offset(const bk_meta_offset_t *o, void *opaque)
{
    (void)o;
    ++*(int *)opaque;
    return 1;
}

static int16_t delete_one(bk_server_t *server, const char *id)
{
    if (!id[0])
        return BKG_INVALID_GROUP_ID;
    bk_group_t *g = bk_groups_find(server->groups, id);
    if (g && g->nmembers > 0)
        return BKG_NON_EMPTY_GROUP;
    int stored = 0;
    sd_err_t err = {0};
    bk_meta_load_offsets(server->meta, id, NULL, -1, any_offset, &stored, &err);
    if (!g && !stored)
        return BKG_GROUP_ID_NOT_FOUND;
    if (stored && bk_meta_delete_group_offsets(server->meta, id, &err) != 0) {
        sd_error("group", "deleting group %s: %s", id, err.msg);
        return BKG_COORDINATOR_NOT_AVAILABLE;
    }
    return (int16_t)bk_groups_delete(server->groups, id);
}

int bk_handle_delete_groups(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_delete_groups_request_t rq;
    if (kp_delete_groups_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_delete_groups_response_t rs;
    kp_delete_groups_response_init(&rs);
    rs.results_count = rq.groups_names_count > 0 ? rq.groups_names_count : 0;
    rs.results = bk_array(req, rs.results_count, sizeof *rs.results);
    if (!rs.results)
        return BK_CLOSE;
    for (int32_t i = 0; i < rs.results_count; i++) {
        char *id = bk_cstr(req, rq.groups_names[i]);
        if (!id)
            return BK_CLOSE;
        rs.results[i].group_id = rq.groups_names[i];
        rs.results[i].error_code = delete_one(server, id);
    }
    bk_coordinator_changed(server);
    kp_delete_groups_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
