/*
 * api_versions.c - ApiVersions (key 18): the APIs and version ranges this
 * broker serves, from the dispatch table. An unknown ApiVersions version is
 * answered by the server itself (error 35 in the v0 layout).
 */
#include "handlers.h"

int bk_handle_api_versions(bk_request_t *req)
{
    int16_t version = req->header.api_version;
    kp_api_versions_request_t rq;
    if (kp_api_versions_request_decode(&req->body, version, req->arena, &rq))
        return BK_CLOSE;
    kp_api_versions_response_t rs;
    kp_api_versions_response_init(&rs);
    rs.error_code = KERR_NONE;
    rs.api_keys_count = (int32_t)bk_api_table_count;
    rs.api_keys = bk_array(req, rs.api_keys_count, sizeof *rs.api_keys);
    if (!rs.api_keys)
        return BK_CLOSE;
    for (size_t i = 0; i < bk_api_table_count; i++) {
        rs.api_keys[i].api_key = bk_api_table[i].api_key;
        rs.api_keys[i].min_version = bk_api_table[i].min_version;
        rs.api_keys[i].max_version = bk_api_table[i].max_version;
    }
    kp_api_versions_response_encode(req->out, version, &rs);
    return BK_RESPOND;
}
