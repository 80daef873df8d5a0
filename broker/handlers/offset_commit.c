/*
 * offset_commit.c - OffsetCommit (key 8): stores a group's committed offsets
 * (with metadata, leader epoch and commit time) in the metadata store, all
 * partitions of one request in one transaction. Members of the group's
 * current generation commit; generation -1 with no member id is a
 * standalone commit, allowed while the group has no members.
 */
#include "base/log.h"
#include "group/coordinator.h"
#include "handlers.h"

#define KERR_OFFSET_METADATA_TOO_LARGE 12

int bk_handle_offset_commit(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_offset_commit_request_t rq;
    if (kp_offset_commit_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    char *group_id = bk_cstr(req, rq.group_id);
    char *member_id = bk_cstr(req, rq.member_id);
    if (!group_id || !member_id)
        return BK_CLOSE;
    int32_t generation = version >= 1 ? rq.generation_id_or_member_epoch : -1;
    int16_t group_error = (int16_t)bk_group_validate_commit(server->groups, group_id, member_id,
                                                            generation, server->now_ms);
    bk_coordinator_changed(server);
    int64_t max_metadata = sd_config_int(&server->config, "offset.metadata.max.bytes");

    kp_offset_commit_response_t rs;
    kp_offset_commit_response_init(&rs);
    rs.topics_count = rq.topics_count > 0 ? rq.topics_count : 0;
    rs.topics = bk_array(req, rs.topics_count, sizeof *rs.topics);
    int32_t total = 0;
    for (int32_t t = 0; t < rs.topics_count; t++)
        total += rq.topics[t].partitions_count > 0 ? rq.topics[t].partitions_count : 0;
    bk_meta_offset_t *store = bk_array(req, total, sizeof *store);
    kp_offset_commit_response_offset_commit_response_partition_t **stored_at =
        bk_array(req, total, sizeof *stored_at);
    if (!rs.topics || !store || !stored_at)
        return BK_CLOSE;
    size_t nstore = 0;
    for (int32_t t = 0; t < rs.topics_count; t++) {
        kp_offset_commit_request_offset_commit_request_topic_t *tq = &rq.topics[t];
        kp_offset_commit_response_offset_commit_response_topic_t *tr = &rs.topics[t];
        tr->name = tq->name;
        tr->partitions_count = tq->partitions_count > 0 ? tq->partitions_count : 0;
        tr->partitions = bk_array(req, tr->partitions_count, sizeof *tr->partitions);
        char *topic_name = bk_cstr(req, tq->name);
        if (!tr->partitions || !topic_name)
            return BK_CLOSE;
        bk_topic_t *topic =
            tq->name.len > 0 ? bk_topics_find(&server->topics, tq->name.ptr, (size_t)tq->name.len)
                             : NULL;
        for (int32_t i = 0; i < tr->partitions_count; i++) {
            kp_offset_commit_request_offset_commit_request_partition_t *pq = &tq->partitions[i];
            kp_offset_commit_response_offset_commit_response_partition_t *pr = &tr->partitions[i];
            pr->partition_index = pq->partition_index;
            pr->error_code = group_error;
            if (group_error)
                continue;
            if (!topic || pq->partition_index < 0 ||
                pq->partition_index >= topic->partition_count) {
                pr->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (pq->committed_metadata.len > max_metadata) {
                pr->error_code = KERR_OFFSET_METADATA_TOO_LARGE;
                continue;
            }
            bk_meta_offset_t *o = &store[nstore];
            o->topic = topic_name;
            o->partition = pq->partition_index;
            o->offset = pq->committed_offset;
            o->leader_epoch = version >= 6 ? pq->committed_leader_epoch : -1;
            o->metadata =
                pq->committed_metadata.len >= 0 ? bk_cstr(req, pq->committed_metadata) : NULL;
            if (pq->committed_metadata.len >= 0 && !o->metadata)
                return BK_CLOSE;
            o->commit_timestamp_ms =
                version == 1 && pq->commit_timestamp >= 0 ? pq->commit_timestamp : server->now_ms;
            stored_at[nstore++] = pr;
        }
    }
    if (nstore > 0) {
        sd_err_t err = {0};
        if (bk_meta_commit_offsets(server->meta, group_id, store, nstore, &err) != 0) {
            sd_error("group", "storing offsets of group %s: %s", group_id, err.msg);
            for (size_t i = 0; i < nstore; i++)
                stored_at[i]->error_code = BKG_COORDINATOR_NOT_AVAILABLE;
        }
    }
    kp_offset_commit_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
