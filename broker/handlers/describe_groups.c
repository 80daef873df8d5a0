/*
 * describe_groups.c - DescribeGroups (key 15): state, protocol and members
 * of each group. Member metadata and assignments are shown once the group
 * is Stable, as in Kafka; a group known only by its committed offsets is
 * Empty, an unknown group Dead.
 */
#include "group/coordinator.h"
#include "handlers.h"

static int count_one(const bk_meta_offset_t *o, void *opaque)
{
    (void)o;
    ++*(int *)opaque;
    return 1; /* one is enough */
}

int bk_handle_describe_groups(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_describe_groups_request_t rq;
    if (kp_describe_groups_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_describe_groups_response_t rs;
    kp_describe_groups_response_init(&rs);
    rs.groups_count = rq.groups_count > 0 ? rq.groups_count : 0;
    rs.groups = bk_array(req, rs.groups_count, sizeof *rs.groups);
    if (!rs.groups)
        return BK_CLOSE;
    for (int32_t i = 0; i < rs.groups_count; i++) {
        kp_describe_groups_response_described_group_t *out = &rs.groups[i];
        kp_describe_groups_response_described_group_init(out);
        out->error_code = KERR_NONE;
        out->group_id = rq.groups[i];
        out->protocol_type = bk_str("");
        out->protocol_data = bk_str("");
        out->members_count = 0;
        char *id = bk_cstr(req, rq.groups[i]);
        if (!id)
            return BK_CLOSE;
        bk_group_t *g = bk_groups_find(server->groups, id);
        if (!g) {
            int stored = 0;
            sd_err_t err = {0};
            bk_meta_load_offsets(server->meta, id, NULL, -1, count_one, &stored, &err);
            out->group_state = bk_str(stored ? "Empty" : "Dead");
            continue;
        }
        int stable = g->state == BKG_STABLE;
        out->group_state = bk_str(bk_group_state_name(g->state));
        out->protocol_type = bk_str(g->protocol_type ? g->protocol_type : "");
        out->protocol_data = bk_str(stable && g->protocol_name ? g->protocol_name : "");
        out->members_count = (int32_t)g->nmembers;
        out->members = bk_array(req, out->members_count, sizeof *out->members);
        if (!out->members)
            return BK_CLOSE;
        for (size_t k = 0; k < g->nmembers; k++) {
            const bk_group_member_t *m = g->members[k];
            kp_describe_groups_response_described_group_member_t *dm = &out->members[k];
            kp_describe_groups_response_described_group_member_init(dm);
            dm->member_id = bk_str(m->id);
            dm->group_instance_id = bk_str(NULL);
            dm->client_id = bk_str(m->client_id);
            dm->client_host = bk_str(m->client_host);
            const bk_group_protocol_t *p = stable ? bk_group_member_protocol(g, m) : NULL;
            dm->member_metadata.ptr = p ? p->metadata : (const uint8_t *)"";
            dm->member_metadata.len = p ? p->metadata_len : 0;
            dm->member_assignment.ptr =
                stable && m->assignment ? m->assignment : (const uint8_t *)"";
            dm->member_assignment.len = stable && m->assignment ? m->assignment_len : 0;
        }
    }
    kp_describe_groups_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
