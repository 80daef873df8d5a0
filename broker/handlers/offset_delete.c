/*
 * offset_delete.c - OffsetDelete (key 47): removes a group's committed
 * offsets for some partitions, in one transaction. While the group has
 * members, the offsets of topics they subscribe to stay
 * (GROUP_SUBSCRIBED_TO_TOPIC), as in Kafka.
 */
#include <string.h>

#include "base/log.h"
#include "group/coordinator.h"
#include "handlers.h"

#define KERR_GROUP_SUBSCRIBED_TO_TOPIC 86

static int any_offset(const bk_meta_offset_t *o, void *opaque)
{
    (void)o;
    ++*(int *)opaque;
    return 1;
}

/* Does a member's "consumer" subscription list `topic`? Layout of the
 * subscription (ConsumerProtocolSubscription, every version):
 *   int16 version | int32 topic count | (int16 length, bytes) per topic | ... */
static int subscribes(const bk_group_protocol_t *p, kp_str_t topic)
{
    if (!p)
        return 0;
    sd_reader_t r;
    sd_reader_init(&r, p->metadata, (size_t)p->metadata_len);
    int16_t version;
    int32_t count;
    if (sd_read_i16(&r, &version) || sd_read_i32(&r, &count) || count < 0)
        return 1; /* unreadable: assume it does, and keep the offsets */
    for (int32_t i = 0; i < count; i++) {
        int16_t len;
        const uint8_t *name;
        if (sd_read_i16(&r, &len) || len < 0 || sd_read_bytes(&r, (size_t)len, &name))
            return 1;
        if (len == topic.len && memcmp(name, topic.ptr, (size_t)len) == 0)
            return 1;
    }
    return 0;
}

static int group_subscribes(const bk_group_t *g, kp_str_t topic)
{
    if (!g || !g->protocol_type || strcmp(g->protocol_type, "consumer") != 0)
        return 0;
    for (size_t i = 0; i < g->nmembers; i++)
        if (subscribes(bk_group_member_protocol(g, g->members[i]), topic))
            return 1;
    return 0;
}

int bk_handle_offset_delete(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_offset_delete_request_t rq;
    if (kp_offset_delete_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    char *group_id = bk_cstr(req, rq.group_id);
    if (!group_id)
        return BK_CLOSE;
    kp_offset_delete_response_t rs;
    kp_offset_delete_response_init(&rs);
    rs.error_code = KERR_NONE;
    rs.topics_count = 0;
    bk_group_t *g = group_id[0] ? bk_groups_find(server->groups, group_id) : NULL;
    int stored = 0;
    sd_err_t err = {0};
    if (group_id[0])
        bk_meta_load_offsets(server->meta, group_id, NULL, -1, any_offset, &stored, &err);
    if (!group_id[0]) {
        rs.error_code = BKG_INVALID_GROUP_ID;
    } else if (!g && !stored) {
        rs.error_code = BKG_GROUP_ID_NOT_FOUND;
    } else {
        rs.topics_count = rq.topics_count > 0 ? rq.topics_count : 0;
        rs.topics = bk_array(req, rs.topics_count, sizeof *rs.topics);
        int32_t total = 0;
        for (int32_t t = 0; t < rs.topics_count; t++)
            total += rq.topics[t].partitions_count > 0 ? rq.topics[t].partitions_count : 0;
        bk_meta_offset_t *which = bk_array(req, total, sizeof *which);
        kp_offset_delete_response_offset_delete_response_partition_t **at =
            bk_array(req, total, sizeof *at);
        if (!rs.topics || !which || !at)
            return BK_CLOSE;
        size_t n = 0;
        for (int32_t t = 0; t < rs.topics_count; t++) {
            kp_offset_delete_request_offset_delete_request_topic_t *tq = &rq.topics[t];
            kp_offset_delete_response_offset_delete_response_topic_t *tr = &rs.topics[t];
            tr->name = tq->name;
            tr->partitions_count = tq->partitions_count > 0 ? tq->partitions_count : 0;
            tr->partitions = bk_array(req, tr->partitions_count, sizeof *tr->partitions);
            char *topic = bk_cstr(req, tq->name);
            if (!tr->partitions || !topic)
                return BK_CLOSE;
            int subscribed = group_subscribes(g, tq->name);
            for (int32_t i = 0; i < tr->partitions_count; i++) {
                tr->partitions[i].partition_index = tq->partitions[i].partition_index;
                tr->partitions[i].error_code = KERR_NONE;
                if (subscribed) {
                    tr->partitions[i].error_code = KERR_GROUP_SUBSCRIBED_TO_TOPIC;
                    continue;
                }
                which[n].topic = topic;
                which[n].partition = tq->partitions[i].partition_index;
                at[n++] = &tr->partitions[i];
            }
        }
        if (n > 0 && bk_meta_delete_offsets(server->meta, group_id, which, n, &err) != 0) {
            sd_error("group", "deleting offsets of group %s: %s", group_id, err.msg);
            rs.error_code = BKG_COORDINATOR_NOT_AVAILABLE;
        }
    }
    kp_offset_delete_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
