/*
 * table.c - the API dispatch table: which Kafka APIs and versions Strand
 * serves, and the shared handler helpers. The version ranges are chosen so
 * that librdkafka, kafka-python and kafkajs all find what they need (see
 * the broker notes on each client's probing).
 */
#include <string.h>

#include "handlers.h"

/* Produce is advertised from v0 although only record batch v2 is stored:
 * librdkafka enables gzip and snappy only when the range includes v0, and
 * LZ4 only when FindCoordinator v0 is there. Requests in the old message
 * formats are refused per partition with UNSUPPORTED_FOR_MESSAGE_FORMAT. */
const bk_api_entry_t bk_api_table[] = {
    {0, 0, 8, bk_handle_produce},           {1, 4, 11, bk_handle_fetch},
    {2, 1, 5, bk_handle_list_offsets},      {3, 0, 8, bk_handle_metadata},
    {8, 2, 7, bk_handle_offset_commit},     {9, 1, 5, bk_handle_offset_fetch},
    {10, 0, 2, bk_handle_find_coordinator}, {11, 0, 5, bk_handle_join_group},
    {12, 0, 3, bk_handle_heartbeat},        {13, 0, 3, bk_handle_leave_group},
    {14, 0, 3, bk_handle_sync_group},       {15, 0, 4, bk_handle_describe_groups},
    {16, 0, 2, bk_handle_list_groups},      {18, 0, 3, bk_handle_api_versions},
    {19, 0, 4, bk_handle_create_topics},    {20, 0, 3, bk_handle_delete_topics},
    {21, 0, 1, bk_handle_delete_records},   {22, 0, 1, bk_handle_init_producer_id},
    {32, 0, 3, bk_handle_describe_configs}, {33, 0, 2, bk_handle_alter_configs},
    {42, 0, 1, bk_handle_delete_groups},    {44, 0, 1, bk_handle_incremental_alter_configs},
    {47, 0, 0, bk_handle_offset_delete},
};
const size_t bk_api_table_count = sizeof bk_api_table / sizeof bk_api_table[0];

const bk_api_entry_t *bk_api_lookup(int16_t api_key)
{
    for (size_t i = 0; i < bk_api_table_count; i++)
        if (bk_api_table[i].api_key == api_key)
            return &bk_api_table[i];
    return NULL;
}

kp_str_t bk_str(const char *s)
{
    kp_str_t out = {s, s ? (int32_t)strlen(s) : -1};
    return out;
}

char *bk_cstr(bk_request_t *req, kp_str_t s)
{
    size_t len = s.len > 0 ? (size_t)s.len : 0;
    char *copy = kp_arena_alloc(req->arena, len + 1);
    if (copy && len)
        memcpy(copy, s.ptr, len);
    return copy;
}

void *bk_array(bk_request_t *req, int32_t n, size_t elem_size)
{
    return kp_arena_alloc(req->arena, (size_t)(n > 0 ? n : 1) * elem_size);
}
