/*
 * handlers.h - one handler per Kafka API (one file each, named after the
 * API), the Kafka error codes they answer with, and small helpers shared by
 * them. The dispatch table is in table.c.
 */
#ifndef STRAND_BROKER_HANDLERS_H
#define STRAND_BROKER_HANDLERS_H

#include "protocol/kp_messages.h"
#include "server.h"

/* Kafka error codes (the protocol guide's table), those Strand answers. */
enum {
    KERR_NONE = 0,
    KERR_OFFSET_OUT_OF_RANGE = 1,
    KERR_CORRUPT_MESSAGE = 2,
    KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KERR_MESSAGE_TOO_LARGE = 10,
    KERR_INVALID_TOPIC_EXCEPTION = 17,
    KERR_INVALID_REQUIRED_ACKS = 21,
    KERR_UNSUPPORTED_VERSION = 35,
    KERR_TOPIC_ALREADY_EXISTS = 36,
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_REPLICATION_FACTOR = 38,
    KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    KERR_INVALID_CONFIG = 40,
    KERR_INVALID_REQUEST = 42,
    KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    KERR_KAFKA_STORAGE_ERROR = 56,
    KERR_TOPIC_DELETION_DISABLED = 73,
    KERR_INVALID_RECORD = 87,
};

int bk_handle_api_versions(bk_request_t *req);
int bk_handle_metadata(bk_request_t *req);
int bk_handle_produce(bk_request_t *req);
int bk_handle_fetch(bk_request_t *req);
int bk_handle_list_offsets(bk_request_t *req);
int bk_handle_create_topics(bk_request_t *req);
int bk_handle_delete_topics(bk_request_t *req);
int bk_handle_describe_configs(bk_request_t *req);
int bk_handle_alter_configs(bk_request_t *req);
int bk_handle_incremental_alter_configs(bk_request_t *req);
int bk_handle_delete_records(bk_request_t *req);
int bk_handle_init_producer_id(bk_request_t *req);
int bk_handle_find_coordinator(bk_request_t *req);
int bk_handle_join_group(bk_request_t *req);
int bk_handle_sync_group(bk_request_t *req);
int bk_handle_heartbeat(bk_request_t *req);
int bk_handle_leave_group(bk_request_t *req);
int bk_handle_offset_commit(bk_request_t *req);
int bk_handle_offset_fetch(bk_request_t *req);
int bk_handle_list_groups(bk_request_t *req);
int bk_handle_describe_groups(bk_request_t *req);
int bk_handle_delete_groups(bk_request_t *req);
int bk_handle_offset_delete(bk_request_t *req);

/* A borrowed protocol string view of a C string (NULL gives a null string). */
kp_str_t bk_str(const char *s);
/* NUL-terminated copy of a protocol string in the request's arena (NULL on
 * allocation failure; a null string gives ""). */
char *bk_cstr(bk_request_t *req, kp_str_t s);
/* An arena array of n zeroed elements; NULL on failure. n may be 0. */
void *bk_array(bk_request_t *req, int32_t n, size_t elem_size);

#endif
