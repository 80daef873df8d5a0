/*
 * join_group.c - JoinGroup (key 11): a member (re)joins a consumer group.
 * The request parks until the group's rebalance completes (every known
 * member rejoined, or the rebalance timeout passed); the leader's answer
 * lists every member with its metadata for the selected protocol. While
 * parked, the request polls the group now and then, which keeps its member
 * alive; a closed connection stops the polling and the member expires.
 * From v4 a new member is first answered MEMBER_ID_REQUIRED with its id, as
 * Kafka does, and joins again with it.
 */
#include <string.h>

#include "group/coordinator.h"
#include "handlers.h"

typedef struct join_state {
    char *group_id;
    char *member_id; /* the request's, then the one the group assigned */
    int32_t wait_generation;
    int32_t session_timeout_ms;
} join_state_t;

static int join_answer(bk_request_t *req, join_state_t *st, int16_t code,
                       const bk_group_join_result_t *result)
{
    kp_join_group_response_t rs;
    kp_join_group_response_init(&rs);
    rs.error_code = code;
    rs.generation_id = -1;
    rs.protocol_type = bk_str(NULL);
    rs.protocol_name = bk_str("");
    rs.leader = bk_str("");
    rs.member_id = bk_str(st->member_id);
    rs.members_count = 0;
    if (result) {
        rs.generation_id = result->generation;
        rs.protocol_name = bk_str(result->protocol_name);
        rs.leader = bk_str(result->leader_id);
        rs.member_id = bk_str(result->member_id);
        rs.members_count = (int32_t)result->nmembers;
        rs.members = bk_array(req, rs.members_count, sizeof *rs.members);
        if (!rs.members)
            return BK_CLOSE;
        for (size_t i = 0; i < result->nmembers; i++) {
            kp_join_group_response_join_group_response_member_t *m = &rs.members[i];
            kp_join_group_response_join_group_response_member_init(m);
            m->member_id = bk_str(result->members[i].member_id);
            m->group_instance_id = bk_str(NULL);
            m->metadata.ptr = result->members[i].metadata;
            m->metadata.len = result->members[i].metadata_len;
        }
    }
    kp_join_group_response_encode(req->out, req->header.api_version, &rs);
    return BK_RESPOND;
}

static int join_run(bk_request_t *req, int timed_out)
{
    bk_server_t *server = req->server;
    join_state_t *st = req->state;
    bk_group_join_result_t result;
    int rc = bk_group_join_poll(server->groups, st->group_id, st->member_id, st->wait_generation,
                                server->now_ms, &result);
    if (rc == BKG_WAIT)
        return bk_request_park(
            req, server->now_ms + bk_coordinator_poll_interval(st->session_timeout_ms), join_run);
    return join_answer(req, st, (int16_t)rc, rc == BKG_OK ? &result : NULL);
}

int bk_handle_join_group(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_join_group_request_t rq;
    if (kp_join_group_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    join_state_t *st = kp_arena_alloc(req->arena, sizeof *st);
    if (!st)
        return BK_CLOSE;
    req->state = st;
    st->group_id = bk_cstr(req, rq.group_id);
    st->member_id = bk_cstr(req, rq.member_id);
    st->session_timeout_ms = rq.session_timeout_ms;
    int32_t n = rq.protocols_count > 0 ? rq.protocols_count : 0;
    bk_group_protocol_t *protocols = bk_array(req, n, sizeof *protocols);
    const char *client_id = bk_cstr(req, req->header.client_id);
    const char *peer = bk_conn_peer(req->conn);
    char *client_host = kp_arena_alloc(req->arena, strlen(peer) + 2);
    if (!st->group_id || !st->member_id || !protocols || !client_id || !client_host)
        return BK_CLOSE;
    /* Kafka shows the address without the port, after a slash. */
    client_host[0] = '/';
    strcpy(client_host + 1, peer);
    char *colon = strrchr(client_host, ':');
    if (colon)
        *colon = '\0';
    for (int32_t i = 0; i < n; i++) {
        protocols[i].name = bk_cstr(req, rq.protocols[i].name);
        if (!protocols[i].name)
            return BK_CLOSE;
        protocols[i].metadata = (uint8_t *)rq.protocols[i].metadata.ptr;
        protocols[i].metadata_len =
            rq.protocols[i].metadata.len > 0 ? rq.protocols[i].metadata.len : 0;
    }
    char *protocol_type = bk_cstr(req, rq.protocol_type);
    if (!protocol_type)
        return BK_CLOSE;
    bk_group_join_args_t args = {
        .member_id = st->member_id,
        .client_id = client_id,
        .client_host = client_host,
        .session_timeout_ms = rq.session_timeout_ms,
        .rebalance_timeout_ms = version >= 1 && rq.rebalance_timeout_ms > 0
                                    ? rq.rebalance_timeout_ms
                                    : rq.session_timeout_ms,
        .protocol_type = protocol_type,
        .protocols = protocols,
        .nprotocols = (size_t)n,
        .require_known_member_id = version >= 4,
    };
    const char *assigned = NULL;
    int rc = bk_group_join(server->groups, st->group_id, &args, server->now_ms, &assigned,
                           &st->wait_generation);
    bk_coordinator_changed(server);
    if (rc == BKG_MEMBER_ID_REQUIRED) {
        /* The client joins again at once with this id. */
        st->member_id = bk_cstr(req, bk_str(assigned));
        if (!st->member_id)
            return BK_CLOSE;
    }
    if (rc != BKG_OK)
        return join_answer(req, st, (int16_t)rc, NULL);
    st->member_id = bk_cstr(req, bk_str(assigned));
    if (!st->member_id)
        return BK_CLOSE;
    return join_run(req, 0);
}
