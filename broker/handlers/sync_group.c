/*
 * sync_group.c - SyncGroup (key 14): the leader hands in every member's
 * assignment, which makes the group Stable; followers park until it does,
 * then each member gets its own assignment. A rebalance that starts in
 * between answers REBALANCE_IN_PROGRESS, and the member rejoins.
 */
#include <string.h>

#include "group/coordinator.h"
#include "handlers.h"

typedef struct sync_state {
    char *group_id;
    char *member_id;
    int32_t generation;
    int32_t session_timeout_ms;
} sync_state_t;

static int sync_answer(bk_request_t *req, int16_t code, const uint8_t *assignment, int32_t len)
{
    kp_sync_group_response_t rs;
    kp_sync_group_response_init(&rs);
    rs.error_code = code;
    rs.protocol_type = bk_str(NULL);
    rs.protocol_name = bk_str(NULL);
    rs.assignment.ptr = assignment ? assignment : (const uint8_t *)"";
    rs.assignment.len = assignment ? len : 0;
    kp_sync_group_response_encode(req->out, req->header.api_version, &rs);
    return BK_RESPOND;
}

static int sync_run(bk_request_t *req, int timed_out)
{
    bk_server_t *server = req->server;
    sync_state_t *st = req->state;
    const uint8_t *assignment = NULL;
    int32_t len = 0;
    int rc = bk_group_sync_poll(server->groups, st->group_id, st->member_id, st->generation,
                                server->now_ms, &assignment, &len);
    if (rc == BKG_WAIT)
        return bk_request_park(
            req, server->now_ms + bk_coordinator_poll_interval(st->session_timeout_ms), sync_run);
    return sync_answer(req, (int16_t)rc, rc == BKG_OK ? assignment : NULL, len);
}

int bk_handle_sync_group(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_sync_group_request_t rq;
    if (kp_sync_group_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    sync_state_t *st = kp_arena_alloc(req->arena, sizeof *st);
    if (!st)
        return BK_CLOSE;
    req->state = st;
    st->group_id = bk_cstr(req, rq.group_id);
    st->member_id = bk_cstr(req, rq.member_id);
    st->generation = rq.generation_id;
    int32_t n = rq.assignments_count > 0 ? rq.assignments_count : 0;
    bk_group_assignment_t *assignments = bk_array(req, n, sizeof *assignments);
    if (!st->group_id || !st->member_id || !assignments)
        return BK_CLOSE;
    for (int32_t i = 0; i < n; i++) {
        assignments[i].member_id = bk_cstr(req, rq.assignments[i].member_id);
        if (!assignments[i].member_id)
            return BK_CLOSE;
        assignments[i].data = rq.assignments[i].assignment.ptr;
        assignments[i].len = rq.assignments[i].assignment.len;
    }
    int rc = bk_group_sync(server->groups, st->group_id, st->member_id, st->generation, assignments,
                           (size_t)n, server->now_ms);
    bk_coordinator_changed(server);
    if (rc != BKG_OK)
        return sync_answer(req, (int16_t)rc, NULL, 0);
    bk_group_t *g = bk_groups_find(server->groups, st->group_id);
    st->session_timeout_ms = 10000;
    for (size_t i = 0; g && i < g->nmembers; i++)
        if (strcmp(g->members[i]->id, st->member_id) == 0)
            st->session_timeout_ms = g->members[i]->session_timeout_ms;
    return sync_run(req, 0);
}
