/*
 * test_protocol.c - the Kafka protocol codecs: primitive types and headers
 * (kp_types.c) and the generated message codecs (kp_messages.c). Round trips
 * over every version, a librdkafka-style ApiVersions v3 request, every
 * truncation of valid requests, corrupted lengths, unknown tagged fields,
 * splices, and allocation failures.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/error.h"
#include "protocol/kp_messages.h"
#include "protocol/kp_types.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------ */

enum { REQUEST = 1, RESPONSE = 0 };

static kp_arena_t *arena;

static void setup(void)
{
    arena = kp_arena_new();
    ck_assert_ptr_nonnull(arena);
}

static void teardown(void) { kp_arena_free(arena); }

static int decode_any(int is_request, int16_t key, int16_t version, sd_reader_t *r, void **out)
{
    return is_request ? kp_request_decode_any(key, version, r, arena, out)
                      : kp_response_decode_any(key, version, r, arena, out);
}

static void encode_any(int is_request, int16_t key, int16_t version, kp_out_t *o, const void *m)
{
    if (is_request)
        kp_request_encode_any(key, version, o, m);
    else
        kp_response_encode_any(key, version, o, m);
}

/*
 * Encodes m, decodes the bytes, encodes the decoded copy and checks the two
 * encodings are byte-for-byte equal and that decoding consumed everything.
 * `first` keeps the first encoding, which the returned copy borrows from.
 */
static void *roundtrip(int is_request, int16_t key, int16_t version, const void *m, kp_out_t *first)
{
    kp_out_t second;
    void *copy = NULL;
    sd_reader_t r;

    encode_any(is_request, key, version, first, m);
    ck_assert_msg(kp_out_error(first) == 0, "encode key %d v%d: err %d", key, version,
                  kp_out_error(first));
    ck_assert_uint_eq(first->nsplices, 0);
    sd_reader_init(&r, first->w.buf, first->w.len);
    ck_assert_msg(decode_any(is_request, key, version, &r, &copy) == 0,
                  "decode key %d v%d: err %d at %zu", key, version, r.err, r.pos);
    ck_assert_uint_eq(sd_reader_left(&r), 0);

    kp_out_init(&second);
    encode_any(is_request, key, version, &second, copy);
    ck_assert_int_eq(kp_out_error(&second), 0);
    ck_assert_uint_eq(second.w.len, first->w.len);
    if (first->w.len)
        ck_assert_mem_eq(second.w.buf, first->w.buf, first->w.len);
    kp_out_free(&second);
    return copy;
}

static void ck_str(kp_str_t s, const char *want)
{
    if (!want) {
        ck_assert_int_eq(s.len, -1);
        return;
    }
    ck_assert_msg(kp_str_eq(s, want), "got \"%.*s\" (len %d), want \"%s\"", s.len < 0 ? 0 : s.len,
                  s.ptr ? s.ptr : "", s.len, want);
}

/* Request frame body without the size prefix: header then message. */
static void encode_request_frame(kp_out_t *o, int16_t key, int16_t version, int32_t correlation_id,
                                 const char *client_id, const void *m)
{
    sd_write_i16(&o->w, key);
    sd_write_i16(&o->w, version);
    sd_write_i32(&o->w, correlation_id);
    kp__write_string(o, 0, 1, kp_str_from(client_id));
    if (kp_is_flexible(key, version))
        sd_write_uvarint(&o->w, 0);
    kp_request_encode_any(key, version, o, m);
    ck_assert_int_eq(kp_out_error(o), 0);
}

/* Decodes a request frame (header, then body); 0 or -1 with r->err set. */
static int decode_request_frame(sd_reader_t *r, kp_request_header_t *h, void **msg)
{
    if (kp_request_header_decode(r, h))
        return -1;
    return kp_request_decode_any(h->api_key, h->api_version, r, arena, msg);
}

static const uint8_t batch[] = "\0\0\0\0\0\0\0\0 a pretend record batch";

/* ---- ApiVersions -------------------------------------------------------- */

START_TEST(test_api_versions_roundtrip)
{
    int16_t v = (int16_t)_i;
    kp_api_versions_request_t req;
    kp_api_versions_response_t resp;
    kp_api_versions_response_api_version_t keys[3];
    kp_api_versions_response_supported_feature_key_t features[1];
    kp_out_t o;

    kp_api_versions_request_init(&req);
    req.client_software_name = KP_STR("librdkafka");
    req.client_software_version = KP_STR("2.0.2");
    kp_out_init(&o);
    kp_api_versions_request_t *req2 = roundtrip(REQUEST, 18, v, &req, &o);
    ck_str(req2->client_software_name, v >= 3 ? "librdkafka" : "");
    ck_str(req2->client_software_version, v >= 3 ? "2.0.2" : "");
    kp_out_free(&o);

    kp_api_versions_response_init(&resp);
    ck_assert_int_eq(resp.finalized_features_epoch, -1);
    for (int i = 0; i < 3; i++) {
        kp_api_versions_response_api_version_init(&keys[i]);
        keys[i].api_key = (int16_t)(i * 3);
        keys[i].min_version = (int16_t)i;
        keys[i].max_version = (int16_t)(i + 7);
    }
    resp.api_keys = keys;
    resp.api_keys_count = 3;
    resp.throttle_time_ms = 250;
    kp_api_versions_response_supported_feature_key_init(&features[0]);
    features[0].name = KP_STR("metadata.version");
    features[0].min_version = 1;
    features[0].max_version = 20;
    resp.supported_features = features;
    resp.supported_features_count = 1;
    resp.finalized_features_epoch = 7;
    resp.zk_migration_ready = true;

    kp_out_init(&o);
    kp_api_versions_response_t *copy = roundtrip(RESPONSE, 18, v, &resp, &o);
    ck_assert_int_eq(copy->api_keys_count, 3);
    ck_assert_int_eq(copy->api_keys[2].api_key, 6);
    ck_assert_int_eq(copy->api_keys[2].max_version, 9);
    ck_assert_int_eq(copy->throttle_time_ms, v >= 1 ? 250 : 0);
    if (v >= 3) {
        ck_assert_int_eq(copy->supported_features_count, 1);
        ck_str(copy->supported_features[0].name, "metadata.version");
        ck_assert_int_eq(copy->supported_features[0].max_version, 20);
        ck_assert_int_eq(copy->finalized_features_epoch, 7);
        ck_assert(copy->zk_migration_ready);
    } else {
        ck_assert_int_eq(copy->supported_features_count, 0);
        ck_assert_int_eq(copy->finalized_features_epoch, -1);
        ck_assert(!copy->zk_migration_ready);
    }
    kp_out_free(&o);
}
END_TEST

/* The ApiVersions v3 request librdkafka opens every connection with. */
static const uint8_t rdkafka_api_versions_v3[] = {
    0x00, 0x12,                                                /* api_key 18 */
    0x00, 0x03,                                                /* api_version 3 */
    0x00, 0x00, 0x00, 0x01,                                    /* correlation_id */
    0x00, 0x07, 'r',  'd',  'k', 'a', 'f', 'k', 'a',           /* client_id, int16 length */
    0x00,                                                      /* header tagged fields */
    0x0b, 'l',  'i',  'b',  'r', 'd', 'k', 'a', 'f', 'k', 'a', /* compact string */
    0x06, '2',  '.',  '0',  '.', '2',                          /* compact string */
    0x00,                                                      /* body tagged fields */
};

START_TEST(test_librdkafka_api_versions_v3)
{
    sd_reader_t r;
    kp_request_header_t h;
    kp_api_versions_request_t *req = NULL;

    sd_reader_init(&r, rdkafka_api_versions_v3, sizeof rdkafka_api_versions_v3);
    ck_assert_int_eq(decode_request_frame(&r, &h, (void **)&req), 0);
    ck_assert_int_eq(h.api_key, 18);
    ck_assert_int_eq(h.api_version, 3);
    ck_assert_int_eq(h.correlation_id, 1);
    ck_str(h.client_id, "rdkafka");
    ck_str(req->client_software_name, "librdkafka");
    ck_str(req->client_software_version, "2.0.2");
    ck_assert_uint_eq(sd_reader_left(&r), 0);
}
END_TEST

/* ---- headers ------------------------------------------------------------ */

START_TEST(test_request_header_versions)
{
    sd_reader_t r;
    kp_request_header_t h;
    /* Unknown api key 999: decoded as header v1, trailing bytes left alone. */
    static const uint8_t unknown[] = {0x03, 0xe7, 0x00, 0x01, 0x00, 0x00,
                                      0x00, 0x09, 0xff, 0xff, 0x42};
    sd_reader_init(&r, unknown, sizeof unknown);
    ck_assert_int_eq(kp_request_header_decode(&r, &h), 0);
    ck_assert_int_eq(h.api_key, 999);
    ck_assert_int_eq(h.correlation_id, 9);
    ck_assert_int_eq(h.client_id.len, -1);
    ck_assert_uint_eq(sd_reader_left(&r), 1);

    /* Metadata v9 is flexible: header v2 with unknown header tags skipped. */
    static const uint8_t md9[] = {0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, 0x02, 0x00,
                                  0x01, 'c',  0x02, 0x05, 0x01, 0xaa, 0x06, 0x00, 0x77};
    sd_reader_init(&r, md9, sizeof md9);
    ck_assert_int_eq(kp_request_header_decode(&r, &h), 0);
    ck_str(h.client_id, "c");
    ck_assert_uint_eq(sd_reader_left(&r), 1);

    /* Metadata v8 is not: the same bytes leave the tag section unread. */
    static const uint8_t md8[] = {0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x02};
    sd_reader_init(&r, md8, sizeof md8);
    ck_assert_int_eq(kp_request_header_decode(&r, &h), 0);
    ck_str(h.client_id, "");
    ck_assert_uint_eq(sd_reader_left(&r), 1);

    /* Negative client_id length other than -1. */
    static const uint8_t bad[] = {0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0xff, 0xfe};
    sd_reader_init(&r, bad, sizeof bad);
    ck_assert_int_eq(kp_request_header_decode(&r, &h), -1);
    ck_assert_int_eq(r.err, SD_ERR_INVALID);

    /* Every truncation of a header fails. */
    for (size_t n = 0; n < sizeof md9 - 1; n++) {
        sd_reader_init(&r, md9, n);
        ck_assert_int_eq(kp_request_header_decode(&r, &h), -1);
        ck_assert_int_ne(r.err, 0);
    }
}
END_TEST

START_TEST(test_response_header)
{
    kp_out_t o;
    kp_out_init(&o);
    kp_response_header_encode(&o, 18, 3, 7); /* ApiVersions: always v0 */
    ck_assert_uint_eq(o.w.len, 4);
    ck_assert_mem_eq(o.w.buf, "\0\0\0\7", 4);
    kp_out_reset(&o);
    kp_response_header_encode(&o, 3, 9, 7); /* Metadata v9: flexible */
    ck_assert_uint_eq(o.w.len, 5);
    ck_assert_mem_eq(o.w.buf, "\0\0\0\7\0", 5);
    kp_out_reset(&o);
    kp_response_header_encode(&o, 3, 8, 7);
    ck_assert_uint_eq(o.w.len, 4);
    kp_out_reset(&o);
    kp_response_header_encode(&o, 999, 8, 7);
    ck_assert_uint_eq(o.w.len, 4);
    kp_out_free(&o);

    ck_assert_int_eq(kp_is_flexible(18, 3), 1);
    ck_assert_int_eq(kp_is_flexible(18, 2), 0);
    ck_assert_int_eq(kp_is_flexible(1, 12), 1);
    ck_assert_int_eq(kp_is_flexible(1, 11), 0);
    ck_assert_int_eq(kp_is_flexible(17, 1), 0); /* SaslHandshake: never */
    ck_assert_int_eq(kp_is_flexible(999, 1), 0);
    const kp_api_t *api = kp_api_find(0);
    ck_assert_ptr_nonnull(api);
    ck_assert_str_eq(api->name, "Produce");
    ck_assert_int_eq(api->flexible_from, 9);
    ck_assert_ptr_null(kp_api_find(7));
    ck_assert_uint_eq(kp_apis_count, 25);
    for (size_t i = 1; i < kp_apis_count; i++)
        ck_assert_int_lt(kp_apis[i - 1].api_key, kp_apis[i].api_key);
}
END_TEST

/* ---- Metadata ----------------------------------------------------------- */

START_TEST(test_metadata_roundtrip)
{
    int16_t v = (int16_t)_i;
    kp_out_t o;
    kp_metadata_request_t req;
    kp_metadata_request_metadata_request_topic_t topics[2];

    kp_metadata_request_init(&req);
    ck_assert(req.allow_auto_topic_creation); /* default true */
    for (int i = 0; i < 2; i++) {
        kp_metadata_request_metadata_request_topic_init(&topics[i]);
        topics[i].topic_id.b[15] = (uint8_t)(i + 1);
    }
    topics[0].name = KP_STR("orders");
    topics[1].name = KP_STR("payments");
    req.topics = topics;
    req.topics_count = 2;
    req.include_topic_authorized_operations = true;
    kp_out_init(&o);
    kp_metadata_request_t *rc = roundtrip(REQUEST, 3, v, &req, &o);
    ck_assert_int_eq(rc->topics_count, 2);
    ck_str(rc->topics[1].name, "payments");
    ck_assert_int_eq(rc->topics[1].topic_id.b[15], v >= 10 ? 2 : 0);
    ck_assert(rc->include_topic_authorized_operations == (v >= 8));
    kp_out_free(&o);

    /* A null topic array (all topics) from v1; v0 uses an empty one. */
    if (v >= 1) {
        req.topics = NULL;
        req.topics_count = -1;
        kp_out_init(&o);
        rc = roundtrip(REQUEST, 3, v, &req, &o);
        ck_assert_int_eq(rc->topics_count, -1);
        kp_out_free(&o);
    }

    kp_metadata_response_t resp;
    kp_metadata_response_metadata_response_broker_t broker;
    kp_metadata_response_metadata_response_topic_t topic;
    kp_metadata_response_metadata_response_partition_t parts[2];
    int32_t replicas[3] = {1, 2, 3};

    kp_metadata_response_init(&resp);
    ck_assert_int_eq(resp.cluster_id.len, -1);
    kp_metadata_response_metadata_response_broker_init(&broker);
    ck_assert_int_eq(broker.rack.len, -1);
    broker.node_id = 1;
    broker.host = KP_STR("localhost");
    broker.port = 9092;
    resp.brokers = &broker;
    resp.brokers_count = 1;
    resp.cluster_id = KP_STR("strand-cluster");
    resp.controller_id = 1;
    kp_metadata_response_metadata_response_topic_init(&topic);
    topic.name = KP_STR("orders");
    topic.topic_id.b[0] = 0xab;
    for (int i = 0; i < 2; i++) {
        kp_metadata_response_metadata_response_partition_init(&parts[i]);
        parts[i].partition_index = i;
        parts[i].leader_id = 1;
        parts[i].leader_epoch = 4;
        parts[i].replica_nodes = replicas;
        parts[i].replica_nodes_count = 3;
        parts[i].isr_nodes = replicas;
        parts[i].isr_nodes_count = 1;
    }
    topic.partitions = parts;
    topic.partitions_count = 2;
    resp.topics = &topic;
    resp.topics_count = 1;
    kp_out_init(&o);
    kp_metadata_response_t *mc = roundtrip(RESPONSE, 3, v, &resp, &o);
    ck_assert_int_eq(mc->brokers_count, 1);
    ck_str(mc->brokers[0].host, "localhost");
    ck_assert_int_eq(mc->brokers[0].port, 9092);
    ck_str(mc->brokers[0].rack, NULL);
    ck_str(mc->cluster_id, v >= 2 ? "strand-cluster" : NULL);
    ck_assert_int_eq(mc->controller_id, v >= 1 ? 1 : -1);
    ck_assert_int_eq(mc->topics_count, 1);
    ck_str(mc->topics[0].name, "orders");
    ck_assert_int_eq(mc->topics[0].partitions_count, 2);
    ck_assert_int_eq(mc->topics[0].partitions[1].partition_index, 1);
    ck_assert_int_eq(mc->topics[0].partitions[1].replica_nodes_count, 3);
    ck_assert_int_eq(mc->topics[0].partitions[1].replica_nodes[2], 3);
    ck_assert_int_eq(mc->topics[0].partitions[1].isr_nodes_count, 1);
    ck_assert_int_eq(mc->topics[0].partitions[1].leader_epoch, v >= 7 ? 4 : -1);
    kp_out_free(&o);
}
END_TEST

/* ---- Produce ------------------------------------------------------------ */

START_TEST(test_produce_roundtrip)
{
    int16_t v = (int16_t)_i;
    kp_out_t o;
    kp_produce_request_t req;
    kp_produce_request_topic_produce_data_t topic;
    kp_produce_request_partition_produce_data_t parts[2];

    kp_produce_request_init(&req);
    ck_assert_int_eq(req.transactional_id.len, -1);
    req.acks = -1;
    req.timeout_ms = 30000;
    kp_produce_request_topic_produce_data_init(&topic);
    topic.name = KP_STR("orders");
    for (int i = 0; i < 2; i++) {
        kp_produce_request_partition_produce_data_init(&parts[i]);
        parts[i].index = i;
    }
    parts[0].records = (kp_records_t){batch, (int32_t)sizeof batch, -1, 0};
    parts[1].records = (kp_records_t){NULL, -1, -1, 0};
    topic.partition_data = parts;
    topic.partition_data_count = 2;
    req.topic_data = &topic;
    req.topic_data_count = 1;
    for (int txn = 0; txn < 2; txn++) {
        req.transactional_id = txn ? KP_STR("txn-1") : KP_STR_NULL;
        kp_out_init(&o);
        kp_produce_request_t *rc = roundtrip(REQUEST, 0, v, &req, &o);
        ck_str(rc->transactional_id, txn && v >= 3 ? "txn-1" : NULL);
        ck_assert_int_eq(rc->acks, -1);
        ck_assert_int_eq(rc->timeout_ms, 30000);
        ck_assert_int_eq(rc->topic_data_count, 1);
        ck_str(rc->topic_data[0].name, "orders");
        const kp_records_t *rec = &rc->topic_data[0].partition_data[0].records;
        ck_assert_int_eq(rec->len, (int32_t)sizeof batch);
        ck_assert_int_eq(rec->fd, -1);
        ck_assert_mem_eq(rec->ptr, batch, sizeof batch);
        ck_assert_int_eq(rc->topic_data[0].partition_data[1].records.len, -1);
        kp_out_free(&o);
    }

    kp_produce_response_t resp;
    kp_produce_response_topic_produce_response_t tr;
    kp_produce_response_partition_produce_response_t pr;
    kp_produce_response_batch_index_and_error_message_t rec_err;
    kp_produce_response_node_endpoint_t endpoint;

    kp_produce_response_init(&resp);
    kp_produce_response_topic_produce_response_init(&tr);
    kp_produce_response_partition_produce_response_init(&pr);
    ck_assert_int_eq(pr.log_append_time_ms, -1);
    ck_assert_int_eq(pr.current_leader.leader_id, -1);
    tr.name = KP_STR("orders");
    pr.index = 3;
    pr.error_code = 87;
    pr.base_offset = 1000;
    pr.log_start_offset = 10;
    kp_produce_response_batch_index_and_error_message_init(&rec_err);
    rec_err.batch_index = 2;
    rec_err.batch_index_error_message = KP_STR("bad schema id");
    pr.record_errors = &rec_err;
    pr.record_errors_count = 1;
    pr.error_message = KP_STR("record 2 failed validation");
    pr.current_leader.leader_id = 1;
    pr.current_leader.leader_epoch = 5;
    tr.partition_responses = &pr;
    tr.partition_responses_count = 1;
    resp.responses = &tr;
    resp.responses_count = 1;
    resp.throttle_time_ms = 3;
    kp_produce_response_node_endpoint_init(&endpoint);
    endpoint.node_id = 1;
    endpoint.host = KP_STR("h");
    endpoint.port = 1;
    resp.node_endpoints = &endpoint;
    resp.node_endpoints_count = 1;
    kp_out_init(&o);
    kp_produce_response_t *pc = roundtrip(RESPONSE, 0, v, &resp, &o);
    const kp_produce_response_partition_produce_response_t *p =
        &pc->responses[0].partition_responses[0];
    ck_assert_int_eq(p->index, 3);
    ck_assert_int_eq(p->error_code, 87);
    ck_assert_int_eq(p->base_offset, 1000);
    ck_assert_int_eq(p->log_start_offset, v >= 5 ? 10 : -1);
    ck_assert_int_eq(p->record_errors_count, v >= 8 ? 1 : 0);
    ck_str(p->error_message, v >= 8 ? "record 2 failed validation" : NULL);
    ck_assert_int_eq(p->current_leader.leader_epoch, v >= 10 ? 5 : -1);
    ck_assert_int_eq(pc->node_endpoints_count, v >= 10 ? 1 : 0);
    ck_assert_int_eq(pc->throttle_time_ms, v >= 1 ? 3 : 0);
    kp_out_free(&o);
}
END_TEST

/* ---- Fetch response with a splice --------------------------------------- */

/* The frame as it goes on the wire: buffer ranges and file ranges. */
static uint8_t *materialize(const kp_out_t *o, size_t *len)
{
    size_t total = kp_out_total(o), at = 0, pos = 0;
    uint8_t *frame = malloc(total ? total : 1);
    ck_assert_ptr_nonnull(frame);
    for (size_t i = 0; i < o->nsplices; i++) {
        const kp_splice_t *s = &o->splices[i];
        memcpy(frame + pos, o->w.buf + at, s->at - at);
        pos += s->at - at;
        at = s->at;
        ck_assert_int_eq(pread(s->fd, frame + pos, s->len, s->file_pos), (ssize_t)s->len);
        pos += s->len;
    }
    memcpy(frame + pos, o->w.buf + at, o->w.len - at);
    pos += o->w.len - at;
    ck_assert_uint_eq(pos, total);
    *len = total;
    return frame;
}

START_TEST(test_fetch_response_splice)
{
    int16_t v = (int16_t)_i;
    FILE *file = tmpfile();
    ck_assert_ptr_nonnull(file);
    int fd = fileno(file);
    static const char segment[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    ck_assert_int_eq(write(fd, segment, sizeof segment - 1), (ssize_t)(sizeof segment - 1));

    kp_fetch_response_t resp;
    kp_fetch_response_fetchable_topic_response_t topic;
    kp_fetch_response_partition_data_t parts[3];
    kp_fetch_response_aborted_transaction_t aborted = {.producer_id = 77, .first_offset = 5};

    kp_fetch_response_init(&resp);
    kp_fetch_response_fetchable_topic_response_init(&topic);
    topic.topic = KP_STR("orders");
    topic.topic_id.b[3] = 9;
    for (int i = 0; i < 3; i++) {
        kp_fetch_response_partition_data_init(&parts[i]);
        parts[i].partition_index = i;
        parts[i].high_watermark = 100 + i;
        parts[i].last_stable_offset = 100 + i;
        parts[i].log_start_offset = 0;
    }
    parts[0].records = (kp_records_t){NULL, 10, fd, 4}; /* "456789abcd" */
    parts[1].records = (kp_records_t){NULL, -1, -1, 0}; /* null */
    parts[2].records = (kp_records_t){NULL, 3, fd, 33}; /* "xyz" */
    parts[2].aborted_transactions = &aborted;
    parts[2].aborted_transactions_count = 1;
    parts[2].current_leader.leader_id = 1;
    parts[2].current_leader.leader_epoch = 2;
    topic.partitions = parts;
    topic.partitions_count = 3;
    resp.responses = &topic;
    resp.responses_count = 1;
    resp.session_id = 0;

    kp_out_t o;
    kp_out_init(&o);
    size_t frame_at = kp_out_frame_begin(&o);
    kp_response_header_encode(&o, 1, v, 42);
    kp_fetch_response_encode(&o, v, &resp);
    kp_out_frame_end(&o, frame_at);
    ck_assert_int_eq(kp_out_error(&o), 0);
    ck_assert_uint_eq(o.nsplices, 2);
    ck_assert_uint_eq(o.splices[0].len, 10);
    ck_assert_uint_eq(o.splices[1].len, 3);
    ck_assert_uint_eq(kp_out_total(&o), o.w.len + 13);

    size_t len;
    uint8_t *frame = materialize(&o, &len);
    sd_reader_t r;
    int32_t size, correlation_id;
    sd_reader_init(&r, frame, len);
    sd_read_i32(&r, &size);
    ck_assert_int_eq(size, (int32_t)(len - 4));
    sd_read_i32(&r, &correlation_id);
    ck_assert_int_eq(correlation_id, 42);
    if (v >= 12)
        ck_assert_int_eq(kp__skip_tagged_fields(&r), 0);
    kp_fetch_response_t out;
    ck_assert_int_eq(kp_fetch_response_decode(&r, v, arena, &out), 0);
    ck_assert_uint_eq(sd_reader_left(&r), 0);
    ck_assert_int_eq(out.responses_count, 1);
    ck_str(out.responses[0].topic, v <= 12 ? "orders" : "");
    ck_assert_int_eq(out.responses[0].topic_id.b[3], v >= 13 ? 9 : 0);
    const kp_fetch_response_partition_data_t *p = out.responses[0].partitions;
    ck_assert_int_eq(out.responses[0].partitions_count, 3);
    ck_assert_int_eq(p[0].records.len, 10);
    ck_assert_int_eq(p[0].records.fd, -1);
    ck_assert_mem_eq(p[0].records.ptr, "456789abcd", 10);
    ck_assert_int_eq(p[1].records.len, -1);
    ck_assert_int_eq(p[2].records.len, 3);
    ck_assert_mem_eq(p[2].records.ptr, "xyz", 3);
    ck_assert_int_eq(p[2].high_watermark, 102);
    ck_assert_int_eq(p[2].aborted_transactions_count, 1);
    ck_assert_int_eq(p[2].aborted_transactions[0].producer_id, 77);
    ck_assert_int_eq(p[0].aborted_transactions_count, 0);
    ck_assert_int_eq(p[2].current_leader.leader_epoch, v >= 12 ? 2 : -1);
    ck_assert_int_eq(p[0].current_leader.leader_epoch, -1);
    free(frame);

    /* A splice may not sit inside a tagged field (its size would be wrong). */
    kp_out_reset(&o);
    size_t at = kp__tag_begin(&o, 0);
    kp_out_splice(&o, fd, 0, 4);
    kp__tag_end(&o, at);
    ck_assert_int_eq(o.err, SD_ERR_INVALID);
    kp_out_free(&o);
    fclose(file);
}
END_TEST

/* ---- CreateTopics ------------------------------------------------------- */

START_TEST(test_create_topics_roundtrip)
{
    int16_t v = (int16_t)_i;
    kp_out_t o;
    kp_create_topics_request_t req;
    kp_create_topics_request_creatable_topic_t topic;
    kp_create_topics_request_creatable_replica_assignment_t assignment;
    kp_create_topics_request_creatable_topic_config_t configs[2];
    int32_t brokers[1] = {1};

    kp_create_topics_request_init(&req);
    ck_assert_int_eq(req.timeout_ms, 60000);
    kp_create_topics_request_creatable_topic_init(&topic);
    topic.name = KP_STR("orders");
    topic.num_partitions = -1;
    topic.replication_factor = -1;
    kp_create_topics_request_creatable_replica_assignment_init(&assignment);
    assignment.partition_index = 0;
    assignment.broker_ids = brokers;
    assignment.broker_ids_count = 1;
    topic.assignments = &assignment;
    topic.assignments_count = 1;
    kp_create_topics_request_creatable_topic_config_init(&configs[0]);
    kp_create_topics_request_creatable_topic_config_init(&configs[1]);
    configs[0].name = KP_STR("cleanup.policy");
    configs[0].value = KP_STR("compact");
    configs[1].name = KP_STR("retention.ms");
    configs[1].value = KP_STR_NULL;
    topic.configs = configs;
    topic.configs_count = 2;
    req.topics = &topic;
    req.topics_count = 1;
    req.timeout_ms = 5000;
    req.validate_only = true;
    kp_out_init(&o);
    kp_create_topics_request_t *rc = roundtrip(REQUEST, 19, v, &req, &o);
    ck_assert_int_eq(rc->topics_count, 1);
    ck_str(rc->topics[0].name, "orders");
    ck_assert_int_eq(rc->topics[0].assignments[0].broker_ids[0], 1);
    ck_str(rc->topics[0].configs[0].value, "compact");
    ck_str(rc->topics[0].configs[1].value, NULL);
    ck_assert_int_eq(rc->timeout_ms, 5000);
    ck_assert(rc->validate_only == (v >= 1));
    kp_out_free(&o);

    kp_create_topics_response_t resp;
    kp_create_topics_response_creatable_topic_result_t results[2];
    kp_create_topics_response_creatable_topic_configs_t rconf;

    kp_create_topics_response_init(&resp);
    for (int i = 0; i < 2; i++)
        kp_create_topics_response_creatable_topic_result_init(&results[i]);
    ck_assert_int_eq(results[0].num_partitions, -1);
    results[0].name = KP_STR("orders");
    results[0].num_partitions = 3;
    results[0].replication_factor = 1;
    results[0].topic_config_error_code = 29; /* tagged: written only when set */
    kp_create_topics_response_creatable_topic_configs_init(&rconf);
    ck_assert_int_eq(rconf.config_source, -1);
    rconf.name = KP_STR("cleanup.policy");
    rconf.value = KP_STR("compact");
    rconf.config_source = 1;
    results[0].configs = &rconf;
    results[0].configs_count = 1;
    results[1].name = KP_STR("dup");
    results[1].error_code = 36;
    results[1].error_message = KP_STR("Topic 'dup' already exists.");
    results[1].configs_count = -1;
    resp.topics = results;
    resp.topics_count = 2;
    resp.throttle_time_ms = 1;
    kp_out_init(&o);
    if (v < 5) {
        /* Configs is nullable only from v5, where it exists; skipped before. */
        results[1].configs_count = 0;
    }
    kp_create_topics_response_t *cc = roundtrip(RESPONSE, 19, v, &resp, &o);
    ck_assert_int_eq(cc->topics_count, 2);
    ck_assert_int_eq(cc->topics[1].error_code, 36);
    ck_str(cc->topics[1].error_message, v >= 1 ? "Topic 'dup' already exists." : "");
    ck_assert_int_eq(cc->topics[0].topic_config_error_code, v >= 5 ? 29 : 0);
    ck_assert_int_eq(cc->topics[0].num_partitions, v >= 5 ? 3 : -1);
    ck_assert_int_eq(cc->topics[0].configs_count, v >= 5 ? 1 : 0);
    ck_assert_int_eq(cc->topics[1].configs_count, v >= 5 ? -1 : 0);
    if (v >= 5)
        ck_assert_int_eq(cc->topics[0].configs[0].config_source, 1);
    kp_out_free(&o);
}
END_TEST

/* ---- every message, every version, default values ----------------------- */

START_TEST(test_all_messages_default_roundtrip)
{
    for (size_t i = 0; i < kp_apis_count; i++) {
        const kp_api_t *api = &kp_apis[i];
        for (int16_t v = api->min_version; v <= api->max_version; v++) {
            for (int kind = 0; kind < 2; kind++) {
                kp_out_t o;
                kp_arena_reset(arena);
                void *m = kind ? kp_request_alloc_any(api->api_key, arena)
                               : kp_response_alloc_any(api->api_key, arena);
                ck_assert_ptr_nonnull(m);
                kp_out_init(&o);
                roundtrip(kind, api->api_key, v, m, &o);
                kp_out_free(&o);
            }
        }
    }
    /* Out-of-range versions are refused both ways. */
    sd_reader_t r;
    void *m = NULL;
    static const uint8_t zeros[16];
    sd_reader_init(&r, zeros, sizeof zeros);
    ck_assert_int_eq(kp_request_decode_any(0, 12, &r, arena, &m), -1);
    ck_assert_int_eq(r.err, SD_ERR_INVALID);
    sd_reader_init(&r, zeros, sizeof zeros);
    ck_assert_int_eq(kp_request_decode_any(7, 0, &r, arena, &m), -1);
    kp_out_t o;
    kp_out_init(&o);
    kp_metadata_request_t md;
    kp_metadata_request_init(&md);
    kp_metadata_request_encode(&o, 13, &md);
    ck_assert_int_eq(o.err, SD_ERR_INVALID);
    kp_out_free(&o);
}
END_TEST

/* ---- hostile input ------------------------------------------------------ */

static void check_all_truncations(const uint8_t *frame, size_t len)
{
    for (size_t n = 0; n < len; n++) {
        sd_reader_t r;
        kp_request_header_t h;
        void *m = NULL;
        kp_arena_reset(arena);
        sd_reader_init(&r, frame, n);
        ck_assert_msg(decode_request_frame(&r, &h, &m) == -1, "prefix %zu of %zu decoded", n, len);
        ck_assert_int_ne(r.err, 0);
    }
    sd_reader_t r;
    kp_request_header_t h;
    void *m = NULL;
    sd_reader_init(&r, frame, len);
    ck_assert_int_eq(decode_request_frame(&r, &h, &m), 0);
    ck_assert_uint_eq(sd_reader_left(&r), 0);
}

START_TEST(test_truncations)
{
    check_all_truncations(rdkafka_api_versions_v3, sizeof rdkafka_api_versions_v3);

    int16_t versions[] = {0, 3, 7, 9, 11};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        kp_produce_request_t req;
        kp_produce_request_topic_produce_data_t topic;
        kp_produce_request_partition_produce_data_t part;
        kp_produce_request_init(&req);
        kp_produce_request_topic_produce_data_init(&topic);
        kp_produce_request_partition_produce_data_init(&part);
        part.records = (kp_records_t){batch, (int32_t)sizeof batch, -1, 0};
        topic.name = KP_STR("t");
        topic.partition_data = &part;
        topic.partition_data_count = 1;
        req.transactional_id = KP_STR("x");
        req.topic_data = &topic;
        req.topic_data_count = 1;
        kp_out_t o;
        kp_out_init(&o);
        encode_request_frame(&o, 0, versions[i], 5, "producer", &req);
        check_all_truncations(o.w.buf, o.w.len);
        kp_out_free(&o);
    }

    for (int16_t v = 4; v <= 17; v += 13 - 4) { /* 4 and 13 */
        kp_fetch_request_t req;
        kp_fetch_request_fetch_topic_t topic;
        kp_fetch_request_fetch_partition_t part;
        kp_fetch_request_init(&req);
        kp_fetch_request_fetch_topic_init(&topic);
        kp_fetch_request_fetch_partition_init(&part);
        part.fetch_offset = 12;
        part.partition_max_bytes = 1 << 20;
        topic.topic = KP_STR("orders");
        topic.partitions = &part;
        topic.partitions_count = 1;
        req.topics = &topic;
        req.topics_count = 1;
        req.cluster_id = KP_STR("c"); /* tagged in v12+ */
        req.replica_state.replica_id = 3;
        kp_out_t o;
        kp_out_init(&o);
        encode_request_frame(&o, 1, v, 6, "consumer", &req);
        check_all_truncations(o.w.buf, o.w.len);
        kp_out_free(&o);
    }

    for (int16_t v = 0; v <= 12; v += 4) {
        kp_metadata_request_t req;
        kp_metadata_request_metadata_request_topic_t topic;
        kp_metadata_request_init(&req);
        kp_metadata_request_metadata_request_topic_init(&topic);
        topic.name = KP_STR("orders");
        req.topics = &topic;
        req.topics_count = 1;
        kp_out_t o;
        kp_out_init(&o);
        encode_request_frame(&o, 3, v, 7, NULL, &req);
        check_all_truncations(o.w.buf, o.w.len);
        kp_out_free(&o);
    }
}
END_TEST

static int decode_body(int16_t key, int16_t version, const uint8_t *body, size_t len, int *err,
                       void **m)
{
    sd_reader_t r;
    sd_reader_init(&r, body, len);
    int rc = kp_request_decode_any(key, version, &r, arena, m);
    *err = r.err;
    return rc;
}

START_TEST(test_corrupt_lengths)
{
    int err;
    void *m;

    /* Metadata v0: topics int32 count, then int16-length names. */
    static const uint8_t neg_count[] = {0xff, 0xff, 0xff, 0xfe};
    ck_assert_int_eq(decode_body(3, 0, neg_count, sizeof neg_count, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID);
    static const uint8_t null_v0[] = {0xff, 0xff, 0xff, 0xff};
    ck_assert_int_eq(decode_body(3, 0, null_v0, sizeof null_v0, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID); /* not nullable in v0 */
    ck_assert_int_eq(decode_body(3, 1, null_v0, sizeof null_v0, &err, &m), 0);
    ck_assert_int_eq(((kp_metadata_request_t *)m)->topics_count, -1);
    ck_assert_int_eq(decode_body(3, 4, null_v0, sizeof null_v0, &err, &m), -1); /* bool missing */
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);
    static const uint8_t null_v4[] = {0xff, 0xff, 0xff, 0xff, 0x01};
    ck_assert_int_eq(decode_body(3, 4, null_v4, sizeof null_v4, &err, &m), 0);
    ck_assert_int_eq(((kp_metadata_request_t *)m)->topics_count, -1);
    static const uint8_t huge_count[] = {0x7f, 0xff, 0xff, 0xff, 0x00, 0x01, 'a'};
    ck_assert_int_eq(decode_body(3, 0, huge_count, sizeof huge_count, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);
    static const uint8_t neg_string[] = {0x00, 0x00, 0x00, 0x01, 0xff, 0xfe, 'a'};
    ck_assert_int_eq(decode_body(3, 0, neg_string, sizeof neg_string, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID);
    static const uint8_t null_name_v0[] = {0x00, 0x00, 0x00, 0x01, 0xff, 0xff};
    ck_assert_int_eq(decode_body(3, 0, null_name_v0, sizeof null_name_v0, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID);
    static const uint8_t long_string[] = {0x00, 0x00, 0x00, 0x01, 0x7f, 0xff, 'a'};
    ck_assert_int_eq(decode_body(3, 0, long_string, sizeof long_string, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);

    /* Metadata v9 (flexible): compact array count and compact strings. */
    static const uint8_t compact_huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    ck_assert_int_eq(decode_body(3, 9, compact_huge, sizeof compact_huge, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID); /* count 2^32-2 does not fit */
    static const uint8_t compact_big[] = {0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x00};
    ck_assert_int_eq(decode_body(3, 9, compact_big, sizeof compact_big, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);
    static const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    ck_assert_int_eq(decode_body(3, 9, overlong, sizeof overlong, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID);
    static const uint8_t compact_name[] = {0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'};
    ck_assert_int_eq(decode_body(3, 9, compact_name, sizeof compact_name, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID);
    static const uint8_t compact_long[] = {0x02, 0x7f, 'a', 'b'};
    ck_assert_int_eq(decode_body(3, 9, compact_long, sizeof compact_long, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);

    /* Produce v3: records with a bad length. */
    uint8_t produce[] = {0xff, 0xff,             /* transactional_id null */
                         0xff, 0xff,             /* acks */
                         0x00, 0x00, 0x00, 0x10, /* timeout */
                         0x00, 0x00, 0x00, 0x01, /* one topic */
                         0x00, 0x01, 't',        /* name */
                         0x00, 0x00, 0x00, 0x01, /* one partition */
                         0x00, 0x00, 0x00, 0x00, /* index */
                         0xff, 0xff, 0xff, 0xfe, /* records length -2 */
                         'x'};
    ck_assert_int_eq(decode_body(0, 3, produce, sizeof produce, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_INVALID);
    produce[23] = 0x7f;
    ck_assert_int_eq(decode_body(0, 3, produce, sizeof produce, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);
    produce[23] = 0x00, produce[24] = 0x00, produce[25] = 0x00, produce[26] = 0x01;
    ck_assert_int_eq(decode_body(0, 3, produce, sizeof produce, &err, &m), 0);
    ck_assert_mem_eq(((kp_produce_request_t *)m)->topic_data[0].partition_data[0].records.ptr, "x",
                     1);
    produce[26] = 0xff, produce[25] = 0xff, produce[24] = 0xff, produce[23] = 0xff;
    ck_assert_int_eq(decode_body(0, 3, produce, sizeof produce - 1, &err, &m), 0);
    ck_assert_int_eq(((kp_produce_request_t *)m)->topic_data[0].partition_data[0].records.len, -1);

    /* A tagged field whose size runs past the end. */
    static const uint8_t tag_past_end[] = {0x01, 0x01, 0x01, 0x00, 0x01, 0x05, 0x7f, 0xaa};
    ck_assert_int_eq(decode_body(3, 9, tag_past_end, sizeof tag_past_end, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);

    /* A hostile tag count ends at the end of the input. */
    static const uint8_t tag_count[] = {0x01, 0x01, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f};
    ck_assert_int_eq(decode_body(3, 9, tag_count, sizeof tag_count, &err, &m), -1);
    ck_assert_int_eq(err, SD_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_unknown_tags)
{
    /* ApiVersions response v3: error, one api key, throttle, then tags: a
     * known one (1, FinalizedFeaturesEpoch), two unknown ones, the known
     * tag 3 (ZkMigrationReady) with an unread trailing byte. */
    static const uint8_t body[] = {
        0x00, 0x00,                                           /* error_code */
        0x02,                                                 /* compact array: 1 */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00,             /* key 18, 0-3, tags */
        0x00, 0x00, 0x00, 0x00,                               /* throttle_time_ms */
        0x04,                                                 /* 4 tagged fields */
        0x01, 0x08, 0,    0,    0,    0,    0,    0, 0, 0x05, /* tag 1: epoch 5 */
        0x07, 0x03, 'a',  'b',  'c',                          /* tag 7: unknown */
        0xc8, 0x01, 0x00,                                     /* tag 200, empty */
        0x03, 0x02, 0x01, 0x99,                               /* tag 3: true + junk */
    };
    sd_reader_t r;
    kp_api_versions_response_t resp;
    sd_reader_init(&r, body, sizeof body);
    ck_assert_int_eq(kp_api_versions_response_decode(&r, 3, arena, &resp), 0);
    ck_assert_uint_eq(sd_reader_left(&r), 0);
    ck_assert_int_eq(resp.api_keys_count, 1);
    ck_assert_int_eq(resp.api_keys[0].api_key, 18);
    ck_assert_int_eq(resp.api_keys[0].max_version, 3);
    ck_assert_int_eq(resp.finalized_features_epoch, 5);
    ck_assert(resp.zk_migration_ready);
    ck_assert_int_eq(resp.supported_features_count, 0);

    /* A known tag whose body is too short for its value. */
    static const uint8_t short_tag[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                        0x00, 0x01, 0x01, 0x02, 0x00, 0x05};
    sd_reader_init(&r, short_tag, sizeof short_tag);
    ck_assert_int_eq(kp_api_versions_response_decode(&r, 3, arena, &resp), -1);
    ck_assert_int_eq(r.err, SD_ERR_TRUNCATED);

    /* Re-encoding drops unknown tags and writes known ones in tag order. */
    sd_reader_init(&r, body, sizeof body);
    ck_assert_int_eq(kp_api_versions_response_decode(&r, 3, arena, &resp), 0);
    kp_out_t o;
    kp_out_init(&o);
    kp_api_versions_response_encode(&o, 3, &resp);
    static const uint8_t want_tags[] = {0x02, 0x01, 0x08, 0,    0,    0,    0,
                                        0,    0,    0,    0x05, 0x03, 0x01, 0x01};
    ck_assert_uint_eq(o.w.len, 14 + sizeof want_tags);
    ck_assert_mem_eq(o.w.buf + 14, want_tags, sizeof want_tags);
    kp_out_free(&o);

    /* All-default tagged fields: an empty tag section. */
    kp_api_versions_response_init(&resp);
    kp_out_init(&o);
    kp_api_versions_response_encode(&o, 3, &resp);
    static const uint8_t empty[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
    ck_assert_uint_eq(o.w.len, sizeof empty);
    ck_assert_mem_eq(o.w.buf, empty, sizeof empty);
    kp_out_free(&o);
}
END_TEST

/* A value the version cannot carry is an encode error, not garbage. */
START_TEST(test_encode_invalid)
{
    kp_out_t o;
    kp_metadata_request_t md;
    kp_metadata_request_init(&md);
    md.topics_count = -1;
    kp_out_init(&o);
    kp_metadata_request_encode(&o, 0, &md); /* null topics before v1 */
    ck_assert_int_eq(kp_out_error(&o), SD_ERR_INVALID);
    kp_out_reset(&o);
    ck_assert_int_eq(kp_out_error(&o), 0);
    kp_metadata_request_encode(&o, 1, &md);
    ck_assert_int_eq(kp_out_error(&o), 0);
    kp_out_reset(&o);
    md.topics_count = 3; /* count without elements */
    kp_metadata_request_encode(&o, 1, &md);
    ck_assert_int_eq(kp_out_error(&o), SD_ERR_INVALID);
    kp_out_reset(&o);
    kp__write_string(&o, 0, 0, (kp_str_t){"x", 40000}); /* too long for int16 */
    ck_assert_int_eq(kp_out_error(&o), SD_ERR_INVALID);
    kp_out_free(&o);
}
END_TEST

/* ---- arena and allocation failures -------------------------------------- */

START_TEST(test_arena)
{
    uint8_t *prev = NULL;
    for (size_t size = 0; size < 3000; size += 7) {
        uint8_t *p = kp_arena_alloc(arena, size);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_ne(p, prev);
        ck_assert_uint_eq((uintptr_t)p % 8, 0);
        for (size_t i = 0; i < size; i++)
            ck_assert_uint_eq(p[i], 0);
        memset(p, 0xee, size);
        prev = p;
    }
    uint8_t *big = kp_arena_alloc(arena, 5 << 20);
    ck_assert_ptr_nonnull(big);
    big[(5 << 20) - 1] = 1;
    kp_arena_reset(arena);
    uint8_t *p = kp_arena_alloc(arena, 64);
    for (size_t i = 0; i < 64; i++)
        ck_assert_uint_eq(p[i], 0);

    kp_arena_t *limited = kp_arena_new();
    kp_arena_set_limit(limited, 100000);
    size_t got = 0;
    while (kp_arena_alloc(limited, 1000))
        got += 1000;
    kp_arena_free(limited);
    ck_assert_uint_lt(got, 100000);
    ck_assert_uint_gt(got, 50000);
    ck_assert_ptr_null(kp_arena_alloc(arena, SIZE_MAX));

    /* The limit turns a hostile array count into a clean error. */
    limited = kp_arena_new();
    kp_arena_set_limit(limited, 4096);
    static uint8_t body[20000] = {0x00, 0x00, 0x13, 0x80}; /* Metadata v0: 4992 topics */
    sd_reader_t r;
    void *m;
    sd_reader_init(&r, body, sizeof body);
    ck_assert_int_eq(kp_request_decode_any(3, 0, &r, limited, &m), -1);
    ck_assert_int_eq(r.err, SD_ERR_NOMEM);
    kp_arena_set_limit(limited, 0);
    sd_reader_init(&r, body, sizeof body);
    ck_assert_int_eq(kp_request_decode_any(3, 0, &r, limited, &m), 0);
    ck_assert_int_eq(((kp_metadata_request_t *)m)->topics_count, 4992);
    kp_arena_free(limited);
}
END_TEST

START_TEST(test_alloc_failures)
{
    /* A Metadata response with nested arrays, decoded and re-encoded with
     * the Nth allocation failing, for every N until one run succeeds. */
    kp_metadata_response_t resp;
    kp_metadata_response_metadata_response_topic_t topic;
    kp_metadata_response_metadata_response_partition_t part;
    int32_t nodes[2] = {1, 2};
    kp_metadata_response_init(&resp);
    kp_metadata_response_metadata_response_topic_init(&topic);
    kp_metadata_response_metadata_response_partition_init(&part);
    part.replica_nodes = nodes;
    part.replica_nodes_count = 2;
    topic.name = KP_STR("t");
    topic.partitions = &part;
    topic.partitions_count = 1;
    resp.topics = &topic;
    resp.topics_count = 1;
    kp_out_t src;
    kp_out_init(&src);
    kp_metadata_response_encode(&src, 12, &resp);
    ck_assert_int_eq(kp_out_error(&src), 0);

    int succeeded = 0;
    for (long n = 0; n < 50 && !succeeded; n++) {
        sd_alloc_fail_after(n);
        kp_arena_t *a = kp_arena_new();
        kp_out_t o;
        kp_out_init(&o);
        if (a) {
            sd_reader_t r;
            kp_metadata_response_t out;
            sd_reader_init(&r, src.w.buf, src.w.len);
            if (kp_metadata_response_decode(&r, 12, a, &out) == 0) {
                kp_metadata_response_encode(&o, 12, &out);
                if (kp_out_error(&o) == 0) {
                    ck_assert_uint_eq(o.w.len, src.w.len);
                    succeeded = 1;
                } else {
                    ck_assert_int_eq(kp_out_error(&o), SD_ERR_NOMEM);
                }
            } else {
                ck_assert_int_eq(r.err, SD_ERR_NOMEM);
            }
        }
        sd_alloc_fail_after(-1);
        kp_out_free(&o);
        kp_arena_free(a);
    }
    ck_assert(succeeded);
    kp_out_free(&src);
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

static Suite *protocol_suite(void)
{
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("codecs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_api_versions_roundtrip, 0, 5);
    tcase_add_test(tc, test_librdkafka_api_versions_v3);
    tcase_add_test(tc, test_request_header_versions);
    tcase_add_test(tc, test_response_header);
    tcase_add_loop_test(tc, test_metadata_roundtrip, 0, 13);
    tcase_add_loop_test(tc, test_produce_roundtrip, 0, 12);
    tcase_add_loop_test(tc, test_fetch_response_splice, 4, 18);
    tcase_add_loop_test(tc, test_create_topics_roundtrip, 0, 8);
    tcase_add_test(tc, test_all_messages_default_roundtrip);
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_corrupt_lengths);
    tcase_add_test(tc, test_unknown_tags);
    tcase_add_test(tc, test_encode_invalid);
    tcase_add_test(tc, test_arena);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(protocol_suite()); }
