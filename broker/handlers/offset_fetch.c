/*
 * offset_fetch.c - OffsetFetch (key 9): a group's committed offsets from
 * the metadata store, for the partitions asked or (v2+, null topics) for
 * every partition the group committed. A partition with no committed offset
 * answers -1 with empty metadata, as Kafka does.
 */
#include <string.h>

#include "base/log.h"
#include "group/coordinator.h"
#include "handlers.h"

typedef kp_offset_fetch_response_offset_fetch_response_partition_t partition_out_t;
typedef kp_offset_fetch_response_offset_fetch_response_topic_t topic_out_t;

/* Every committed offset of the group, as arena-held response entries. */
typedef struct collect {
    bk_request_t *req;
    topic_out_t *topics;
    int32_t count, cap;
    int failed;
} collect_t;

static void fill(bk_request_t *req, partition_out_t *p, const bk_meta_offset_t *o)
{
    p->committed_offset = o->offset;
    p->committed_leader_epoch = o->leader_epoch;
    p->metadata = bk_str(o->metadata ? bk_cstr(req, bk_str(o->metadata)) : "");
    if (!p->metadata.ptr)
        p->metadata = bk_str("");
}

static int collect_one(const bk_meta_offset_t *o, void *opaque)
{
    collect_t *c = opaque;
    topic_out_t *t = c->count ? &c->topics[c->count - 1] : NULL;
    if (!t || t->name.len != (int32_t)strlen(o->topic) ||
        memcmp(t->name.ptr, o->topic, (size_t)t->name.len) != 0) {
        if (c->count == c->cap) {
            int32_t cap = c->cap ? c->cap * 2 : 8;
            topic_out_t *grown = bk_array(c->req, cap, sizeof *grown);
            if (!grown)
                return c->failed = 1;
            if (c->count)
                memcpy(grown, c->topics, (size_t)c->count * sizeof *grown);
            c->topics = grown;
            c->cap = cap;
        }
        t = &c->topics[c->count++];
        kp_offset_fetch_response_offset_fetch_response_topic_init(t);
        t->name = bk_str(bk_cstr(c->req, bk_str(o->topic)));
        t->partitions = NULL;
        t->partitions_count = 0;
        if (!t->name.ptr)
            return c->failed = 1;
    }
    /* Partitions arrive sorted per topic; grow the topic's array by one. */
    partition_out_t *grown = bk_array(c->req, t->partitions_count + 1, sizeof *grown);
    if (!grown)
        return c->failed = 1;
    if (t->partitions_count)
        memcpy(grown, t->partitions, (size_t)t->partitions_count * sizeof *grown);
    t->partitions = grown;
    partition_out_t *p = &t->partitions[t->partitions_count++];
    kp_offset_fetch_response_offset_fetch_response_partition_init(p);
    p->partition_index = o->partition;
    p->error_code = KERR_NONE;
    fill(c->req, p, o);
    return 0;
}

/* The one committed offset of a (group, topic, partition). */
typedef struct found {
    bk_request_t *req;
    partition_out_t *partition;
} found_t;

static int found_one(const bk_meta_offset_t *o, void *opaque)
{
    found_t *f = opaque;
    fill(f->req, f->partition, o);
    return 0;
}

int bk_handle_offset_fetch(bk_request_t *req)
{
    bk_server_t *server = req->server;
    int16_t version = req->header.api_version;
    kp_offset_fetch_request_t rq;
    if (kp_offset_fetch_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    char *group_id = bk_cstr(req, rq.group_id);
    if (!group_id)
        return BK_CLOSE;
    kp_offset_fetch_response_t rs;
    kp_offset_fetch_response_init(&rs);
    rs.error_code = KERR_NONE;
    rs.topics_count = 0;
    sd_err_t err = {0};
    int rc = 0;
    if (!group_id[0]) {
        rs.error_code = BKG_INVALID_GROUP_ID;
    } else if (rq.topics_count < 0) {
        collect_t c = {.req = req};
        rc = bk_meta_load_offsets(server->meta, group_id, NULL, -1, collect_one, &c, &err);
        if (c.failed)
            return BK_CLOSE;
        rs.topics = c.topics;
        rs.topics_count = c.count;
    } else {
        rs.topics_count = rq.topics_count;
        rs.topics = bk_array(req, rs.topics_count, sizeof *rs.topics);
        if (!rs.topics)
            return BK_CLOSE;
        for (int32_t t = 0; t < rs.topics_count && !rc; t++) {
            kp_offset_fetch_request_offset_fetch_request_topic_t *tq = &rq.topics[t];
            topic_out_t *tr = &rs.topics[t];
            kp_offset_fetch_response_offset_fetch_response_topic_init(tr);
            tr->name = tq->name;
            tr->partitions_count =
                tq->partition_indexes_count > 0 ? tq->partition_indexes_count : 0;
            tr->partitions = bk_array(req, tr->partitions_count, sizeof *tr->partitions);
            char *topic = bk_cstr(req, tq->name);
            if (!tr->partitions || !topic)
                return BK_CLOSE;
            for (int32_t i = 0; i < tr->partitions_count && !rc; i++) {
                partition_out_t *p = &tr->partitions[i];
                kp_offset_fetch_response_offset_fetch_response_partition_init(p);
                p->partition_index = tq->partition_indexes[i];
                p->committed_offset = -1;
                p->committed_leader_epoch = -1;
                p->metadata = bk_str("");
                p->error_code = KERR_NONE;
                found_t one = {.req = req, .partition = p};
                rc = bk_meta_load_offsets(server->meta, group_id, topic, p->partition_index,
                                          found_one, &one, &err);
            }
        }
    }
    if (rc) {
        sd_error("group", "reading offsets of group %s: %s", group_id, err.msg);
        rs.error_code = BKG_COORDINATOR_NOT_AVAILABLE;
        rs.topics_count = 0;
    }
    kp_offset_fetch_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
