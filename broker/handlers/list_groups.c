/*
 * list_groups.c - ListGroups (key 16): every group this coordinator knows:
 * those with members or a protocol in memory, and those that only hold
 * committed offsets (shown Empty, as Kafka shows them).
 */
#include <string.h>

#include "base/log.h"
#include "group/coordinator.h"
#include "handlers.h"

typedef kp_list_groups_response_listed_group_t listed_t;

typedef struct listing {
    bk_request_t *req;
    listed_t *items;
    int32_t count, cap;
} listing_t;

static listed_t *add(listing_t *l)
{
    if (l->count == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 16;
        listed_t *grown = bk_array(l->req, cap, sizeof *grown);
        if (!grown)
            return NULL;
        if (l->count)
            memcpy(grown, l->items, (size_t)l->count * sizeof *grown);
        l->items = grown;
        l->cap = cap;
    }
    listed_t *g = &l->items[l->count++];
    kp_list_groups_response_listed_group_init(g);
    return g;
}

static int add_stored(const char *group, void *opaque)
{
    listing_t *l = opaque;
    if (bk_groups_find(l->req->server->groups, group))
        return 0;
    listed_t *g = add(l);
    if (!g)
        return -1;
    g->group_id = bk_str(bk_cstr(l->req, bk_str(group)));
    g->protocol_type = bk_str("");
    g->group_state = bk_str("Empty");
    g->group_type = bk_str("classic");
    return g->group_id.ptr ? 0 : -1;
}

int bk_handle_list_groups(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_list_groups_request_t rq;
    if (kp_list_groups_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_list_groups_response_t rs;
    kp_list_groups_response_init(&rs);
    rs.error_code = KERR_NONE;
    listing_t l = {.req = req};
    for (size_t i = 0; i < server->groups->count; i++) {
        bk_group_t *group = server->groups->items[i];
        listed_t *g = add(&l);
        if (!g)
            return BK_CLOSE;
        g->group_id = bk_str(group->id);
        g->protocol_type = bk_str(group->protocol_type ? group->protocol_type : "");
        g->group_state = bk_str(bk_group_state_name(group->state));
        g->group_type = bk_str("classic");
    }
    sd_err_t err = {0};
    if (bk_meta_list_offset_groups(server->meta, add_stored, &l, &err) != 0) {
        if (err.msg[0])
            sd_error("group", "listing groups: %s", err.msg);
        rs.error_code = BKG_COORDINATOR_NOT_AVAILABLE;
    }
    rs.groups = l.items;
    rs.groups_count = l.count;
    kp_list_groups_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
