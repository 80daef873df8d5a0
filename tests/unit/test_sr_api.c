/*
 * test_sr_api.c - Confluent Schema Registry's REST API as sr_api_handle
 * answers it, over a fake registry (sr_fake_registry.h) whose writes go
 * straight into a real state: routing (404/405), content types and bodies,
 * every endpoint's shape (AVRO without schemaType, references omitted when
 * empty), registration (identical content, ids shared across subjects,
 * references, normalize, metadata and ruleSet), soft and permanent deletes
 * with their error codes, the id watermark, config, mode (READONLY, IMPORT
 * with explicit ids), compatibility with verbose messages, contexts,
 * followers, store failures, and that nothing is written when a request
 * fails.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "sr_api.h"
#include "sr_fake_registry.h"
#include "unit.h"

static sr_registry_t *reg;
static sr_response_t resp;
static json_t *json;              /* the last response body parsed, NULL if not JSON */
static const char *accept_header; /* the Accept header of the next requests */

#define V1 "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"
#define V2                                                                                         \
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"        \
    "{\"name\":\"b\",\"type\":\"string\",\"default\":\"x\"}]}"
#define BAD                                                                                        \
    "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},"        \
    "{\"name\":\"c\",\"type\":\"long\"}]}"
#define ADDRESS                                                                                    \
    "{\"type\":\"record\",\"name\":\"Address\",\"namespace\":\"com.acme\",\"fields\":[{\"name\":"  \
    "\"zip\",\"type\":\"string\"}]}"
#define PERSON                                                                                     \
    "{\"type\":\"record\",\"name\":\"Person\",\"namespace\":\"com.acme\",\"fields\":[{\"name\":"   \
    "\"home\",\"type\":\"com.acme.Address\"}]}"

static void setup(void)
{
    reg = sr_fake_new();
    ck_assert_ptr_nonnull(reg);
    memset(&resp, 0, sizeof resp);
    json = NULL;
    accept_header = NULL;
}

static void teardown(void)
{
    free(resp.body);
    json_decref(json);
    sr_fake_free(reg);
}

/* Sends one request; target is "path?query" (already percent-encoded as a
 * client would send it). Returns the HTTP status. */
static int send_ct(const char *method, const char *target, const char *content_type,
                   const char *body)
{
    static char storage[4096];
    sr_query_arg_t args[32];
    size_t arg_count = 0;
    char path[1024];
    const char *q = strchr(target, '?');
    size_t path_len = q ? (size_t)(q - target) : strlen(target);
    ck_assert_uint_lt(path_len, sizeof path);
    memcpy(path, target, path_len);
    path[path_len] = '\0';
    if (q) {
        snprintf(storage, sizeof storage, "%s", q + 1);
        for (char *save = NULL, *pair = strtok_r(storage, "&", &save); pair && arg_count < 32;
             pair = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(pair, '=');
            if (eq)
                *eq = '\0';
            args[arg_count].key = pair;
            args[arg_count].value = eq ? eq + 1 : NULL;
            arg_count++;
        }
    }
    sr_request_t req = {
        .method = method,
        .path = path,
        .raw_path_and_query = target,
        .args = args,
        .arg_count = arg_count,
        .content_type = content_type,
        .accept = accept_header,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };
    free(resp.body);
    json_decref(json);
    memset(&resp, 0, sizeof resp);
    sr_api_handle(reg, &req, &resp);
    ck_assert_ptr_nonnull(resp.body);
    ck_assert_uint_eq(resp.body_len, strlen(resp.body));
    json = json_loads(resp.body, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return resp.status;
}

static int send_req(const char *method, const char *target, const char *body)
{
    return send_ct(method, target, "application/vnd.schemaregistry.v1+json", body);
}

/* {"schema": schema} plus extra members given as JSON text ("" for none). */
static char *schema_body(const char *schema, const char *extra)
{
    json_t *b = json_pack("{s:s}", "schema", schema);
    if (extra && *extra) {
        json_t *more = json_loads(extra, 0, NULL);
        ck_assert_ptr_nonnull(more);
        json_object_update(b, more);
        json_decref(more);
    }
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return text;
}

static int post_schema(const char *target, const char *schema, const char *extra)
{
    char *body = schema_body(schema, extra);
    int status = send_req("POST", target, body);
    free(body);
    return status;
}

/* Registers and returns the id, failing the test on anything but 200. */
static int register_ok(const char *subject, const char *schema, const char *extra)
{
    char target[512];
    snprintf(target, sizeof target, "/subjects/%s/versions", subject);
    int status = post_schema(target, schema, extra);
    ck_assert_msg(status == 200, "register %s: %d %s", subject, status, resp.body);
    return (int)json_integer_value(json_object_get(json, "id"));
}

static void expect_error(int status, int code)
{
    ck_assert_msg(resp.status == status, "status %d, wanted %d: %s", resp.status, status,
                  resp.body);
    ck_assert_msg(json_integer_value(json_object_get(json, "error_code")) == code,
                  "wanted error_code %d: %s", code, resp.body);
    ck_assert_msg(json_is_string(json_object_get(json, "message")), "no message: %s", resp.body);
}

static void expect_body(int status, const char *body)
{
    ck_assert_msg(resp.status == status, "status %d, wanted %d: %s", resp.status, status,
                  resp.body);
    ck_assert_str_eq(resp.body, body);
}

static const char *message(void) { return json_string_value(json_object_get(json, "message")); }

START_TEST(root_routing_and_readiness)
{
    send_req("GET", "/", NULL);
    expect_body(200, "{}");
    send_req("POST", "/", "{}");
    expect_body(200, "{}");
    send_req("GET", "/nothing/here", NULL);
    expect_body(404, "{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}");
    send_req("PATCH", "/subjects", NULL);
    expect_body(405, "{\"error_code\":405,\"message\":\"HTTP 405 Method Not Allowed\"}");
    send_req("GET", "/schemas/ids/abc", NULL);
    expect_error(404, 404);
    send_req("GET", "/a/b/c/d/e/f/g/h/i/j", NULL);
    expect_error(404, 404);
    send_req("GET", "/schemas/types", NULL);
    expect_body(200, "[\"JSON\",\"PROTOBUF\",\"AVRO\"]");
    send_req("GET", "/v1/metadata/version", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_ptr_nonnull(json_object_get(json, "version"));
    send_req("GET", "/v1/metadata/id", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(json, "scope"), "clusters"));

    /* Content negotiation: the client's preference, then Confluent's order. */
    ck_assert_ptr_null(resp.content_type);
    accept_header = "application/json";
    send_req("GET", "/subjects", NULL);
    ck_assert_str_eq(resp.content_type, "application/json");
    accept_header = "application/json; q=0.5, application/vnd.schemaregistry+json";
    send_req("GET", "/subjects", NULL);
    ck_assert_str_eq(resp.content_type, "application/vnd.schemaregistry+json");
    accept_header = "*/*";
    send_req("GET", "/nothing", NULL);
    ck_assert_str_eq(resp.content_type, "application/vnd.schemaregistry.v1+json");
    accept_header = "text/html";
    send_req("GET", "/subjects", NULL);
    ck_assert_ptr_null(resp.content_type);
    accept_header = NULL;

    reg->ready = false;
    send_req("GET", "/", NULL);
    expect_error(503, 50301);
    send_req("GET", "/subjects", NULL);
    expect_error(503, 50301);
}
END_TEST

START_TEST(content_types_and_bodies)
{
    char *body = schema_body(V1, "");
    send_ct("POST", "/subjects/s/versions", "text/plain", body);
    expect_error(415, 415);
    ck_assert_ptr_nonnull(strstr(message(), "text/plain"));
    send_ct("POST", "/subjects/s/versions", "application/json; charset=utf-8", body);
    ck_assert_int_eq(resp.status, 200);
    send_ct("POST", "/subjects/s2/versions", "application/octet-stream", body);
    ck_assert_int_eq(resp.status, 200);
    send_ct("POST", "/subjects/s3/versions", NULL, body);
    ck_assert_int_eq(resp.status, 200);
    send_ct("POST", "/subjects/s4/versions", "application/vnd.schemaregistry+json", body);
    ck_assert_int_eq(resp.status, 200);
    free(body);
    size_t writes = reg->writes;

    send_req("POST", "/subjects/s/versions", "{\"schema\": ");
    expect_error(400, 400);
    ck_assert_ptr_nonnull(strstr(message(), "line 1"));
    send_req("POST", "/subjects/s/versions", "[1,2]");
    expect_error(400, 400);
    send_req("POST", "/subjects/s/versions", NULL);
    expect_error(422, 422);
    send_req("POST", "/subjects/s/versions", "{\"schema\":\"\"}");
    expect_error(422, 42201);
    send_req("POST", "/subjects/s/versions", "{\"schema\":5}");
    expect_error(400, 400);
    post_schema("/subjects/s/versions", "{\"type\":\"record\"", "");
    expect_error(422, 42201);
    post_schema("/subjects/s/versions", V1, "{\"schemaType\":\"XML\"}");
    expect_error(422, 42201);
    ck_assert_str_eq(message(), "Invalid schema type XML");
    post_schema("/subjects/s/versions", "syntax = \"proto3\";", "{\"schemaType\":\"PROTOBUF\"}");
    expect_error(422, 42201);
    ck_assert_ptr_nonnull(strstr(message(), "PROTOBUF is not supported yet"));
    post_schema("/subjects/s/versions", "{}", "{\"schemaType\":\"JSON\"}");
    expect_error(422, 42201);
    reg->max_schema_bytes = 10;
    post_schema("/subjects/s/versions", V1, "");
    expect_error(422, 42209);
    ck_assert_uint_eq(reg->writes, writes);
}
END_TEST

START_TEST(register_and_read_shapes)
{
    ck_assert_int_eq(register_ok("s", V1, ""), 1);
    ck_assert_uint_eq(reg->writes, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 1);
    ck_assert_ptr_null(json_object_get(json, "schemaType"));
    ck_assert_ptr_null(json_object_get(json, "references"));
    const char *guid = json_string_value(json_object_get(json, "guid"));
    ck_assert_ptr_nonnull(guid);
    ck_assert_uint_eq(strlen(guid), 36);
    char guid_copy[37];
    snprintf(guid_copy, sizeof guid_copy, "%s", guid);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "{\"id\":1,\"version\":1,\"guid\":\"%s\",\"schema\":\"{\\\"type\\\":\\\"record\\\","
             "\\\"name\\\":\\\"User\\\",\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":"
             "\\\"int\\\"}]}\"}",
             guid_copy);
    ck_assert_str_eq(resp.body, expected);

    /* Identical content in the same subject: same id and version, no write. */
    ck_assert_int_eq(register_ok("s", V1, ""), 1);
    ck_assert_uint_eq(reg->writes, 1);
    /* The same content elsewhere reuses the id. */
    ck_assert_int_eq(register_ok("t", V1, ""), 1);
    ck_assert_uint_eq(reg->writes, 2);
    ck_assert_int_eq(register_ok("s", V2, ""), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 2);

    send_req("GET", "/subjects/s/versions/1", NULL);
    snprintf(expected, sizeof expected,
             "{\"subject\":\"s\",\"version\":1,\"id\":1,\"guid\":\"%s\",\"schema\":\"{\\\"type\\\":"
             "\\\"record\\\",\\\"name\\\":\\\"User\\\",\\\"fields\\\":[{\\\"name\\\":\\\"a\\\","
             "\\\"type\\\":\\\"int\\\"}]}\",\"ts\":1700000000001}",
             guid_copy);
    expect_body(200, expected);
    send_req("GET", "/subjects/s/versions/latest", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 2);
    send_req("GET", "/subjects/s/versions/-1", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 2);
    send_req("GET", "/subjects/s/versions/0", NULL);
    expect_error(422, 42202);
    send_req("GET", "/subjects/s/versions/abc", NULL);
    expect_error(422, 42202);
    send_req("GET", "/subjects/s/versions/2147483648", NULL);
    expect_error(422, 42202);
    send_req("GET", "/subjects/s/versions/3", NULL);
    expect_error(404, 40402);
    ck_assert_str_eq(message(), "Version 3 not found.");
    send_req("GET", "/subjects/nope/versions/1", NULL);
    expect_error(404, 40401);
    ck_assert_str_eq(message(), "Subject 'nope' not found.");
    send_req("GET", "/subjects/s/versions/1/schema", NULL);
    expect_body(200, V1);

    send_req("GET", "/schemas/ids/1", NULL);
    snprintf(expected, sizeof expected,
             "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"User\\\",\\\"fields\\\":"
             "[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"int\\\"}]}\",\"guid\":\"%s\"}",
             guid_copy);
    expect_body(200, expected);
    send_req("GET", "/schemas/ids/1?fetchMaxId=true", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "maxId")), 2);
    send_req("GET", "/schemas/ids/-1", NULL);
    expect_error(404, 40403);
    send_req("GET", "/schemas/ids/99", NULL);
    expect_error(404, 40403);
    ck_assert_str_eq(message(), "Schema 99 not found");
    send_req("GET", "/schemas/ids/1/schema", NULL);
    expect_body(200, V1);
    send_req("GET", "/schemas/ids/1/subjects", NULL);
    expect_body(200, "[\"s\",\"t\"]");
    send_req("GET", "/schemas/ids/1/versions", NULL);
    expect_body(200, "[{\"subject\":\"s\",\"version\":1},{\"subject\":\"t\",\"version\":1}]");
    send_req("GET", "/schemas/ids/1/versions?offset=1&limit=1", NULL);
    expect_body(200, "[{\"subject\":\"t\",\"version\":1}]");
    char target[128];
    snprintf(target, sizeof target, "/schemas/guids/%s", guid_copy);
    send_req("GET", target, NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(json, "schema")), V1);
    snprintf(target, sizeof target, "/schemas/guids/%s/ids", guid_copy);
    send_req("GET", target, NULL);
    expect_body(200, "[{\"context\":\".\",\"id\":1}]");
    send_req("GET", "/schemas/guids/00000000-0000-0000-0000-000000000000", NULL);
    expect_error(404, 40403);

    send_req("GET", "/subjects", NULL);
    expect_body(200, "[\"s\",\"t\"]");
    send_req("GET", "/subjects?subjectPrefix=t", NULL);
    expect_body(200, "[\"t\"]");
    send_req("GET", "/subjects/s/versions", NULL);
    expect_body(200, "[1,2]");
    send_req("GET", "/schemas", NULL);
    ck_assert_uint_eq(json_array_size(json), 3);
    send_req("GET", "/schemas?latestOnly=true", NULL);
    ck_assert_uint_eq(json_array_size(json), 2);
    send_req("GET", "/schemas?subjectPrefix=s&limit=1", NULL);
    ck_assert_uint_eq(json_array_size(json), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json, 0), "subject")), "s");

    /* Lookup. */
    post_schema("/subjects/s", V1, "");
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json, "subject")), "s");
    post_schema("/subjects/s", BAD, "");
    expect_error(404, 40403);
    post_schema("/subjects/nope", V1, "");
    expect_error(404, 40401);

    /* Subjects that are not valid names are refused on writes. */
    size_t writes = reg->writes;
    post_schema("/subjects/bad%01name/versions", V1, "");
    expect_error(422, 42208);
    post_schema("/subjects/bad%FFname/versions", V1, "");
    expect_error(422, 42208);
    send_req("PUT", "/config/bad%FF", "{\"compatibility\":\"NONE\"}");
    expect_error(422, 42208);
    send_req("GET", "/subjects/bad%FF/versions", NULL);
    expect_error(404, 40401);
    ck_assert_uint_eq(reg->writes, writes);

    /* A transport that decoded %2F before splitting: the subject's pieces are
     * put back together. */
    register_ok("x/y.proto", V1, "");
    send_req("GET", "/subjects/x/y.proto/versions/1", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json, "subject")), "x/y.proto");
    send_req("GET", "/subjects/x/y.proto/versions", NULL);
    expect_body(200, "[1]");
    send_req("GET", "/subjects/s/versions/1/nope", NULL);
    expect_error(404, 404);

    /* A subject name with a '/' arrives percent-encoded. */
    register_ok("a%2Fb", V1, "");
    send_req("GET", "/subjects?subjectPrefix=a", NULL);
    expect_body(200, "[\"a/b\"]");
}
END_TEST

START_TEST(incompatible_and_explicit_version)
{
    register_ok("s", V1, "");
    size_t writes = reg->writes;
    post_schema("/subjects/s/versions", BAD, "");
    expect_error(409, 40901);
    ck_assert_ptr_nonnull(strstr(message(), "incompatible with an earlier schema"));
    ck_assert_ptr_nonnull(strstr(message(), "oldSchemaVersion: 1"));
    ck_assert_uint_eq(reg->writes, writes);
    /* force=true skips the check. */
    post_schema("/subjects/s/versions?force=true", BAD, "");
    ck_assert_int_eq(resp.status, 200);
    /* id 0 and version 0 mean none (clients that always send the fields). */
    post_schema("/subjects/s/versions", V1, "{\"id\":0,\"version\":0}");
    ck_assert_int_eq(resp.status, 200);
    post_schema("/subjects/s/versions", V1, "{\"id\":2147483648}");
    expect_error(422, 42201);
    /* Outside IMPORT an explicit version must be the next one. */
    post_schema("/subjects/s/versions", V2, "{\"version\":7}");
    expect_error(422, 42201);
    post_schema("/subjects/s/versions?force=true", V2, "{\"version\":3}");
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 3);
}
END_TEST

START_TEST(soft_and_permanent_deletes)
{
    register_ok("s", V1, "");
    register_ok("s", V2, "");
    register_ok("t", V1, "");
    size_t writes = reg->writes;

    send_req("DELETE", "/subjects/s/versions/2?permanent=true", NULL);
    expect_error(404, 40407);
    send_req("DELETE", "/subjects/s/versions/9", NULL);
    expect_error(404, 40402);
    send_req("DELETE", "/subjects/nope/versions/1", NULL);
    expect_error(404, 40401);
    send_req("DELETE", "/subjects/s/versions/x", NULL);
    expect_error(422, 42202);
    ck_assert_uint_eq(reg->writes, writes);

    send_req("DELETE", "/subjects/s/versions/1", NULL);
    expect_body(200, "1");
    send_req("GET", "/subjects/s/versions/1", NULL);
    expect_error(404, 40402);
    send_req("GET", "/subjects/s/versions/1?deleted=true", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert(json_is_true(json_object_get(json, "deleted")));
    send_req("GET", "/subjects/s/versions", NULL);
    expect_body(200, "[2]");
    send_req("GET", "/subjects/s/versions?deleted=true", NULL);
    expect_body(200, "[1,2]");
    send_req("GET", "/subjects/s/versions?deleted=true&deletedAsNegative=true", NULL);
    expect_body(200, "[-1,2]");
    send_req("GET", "/subjects/s/versions?deletedOnly=true", NULL);
    expect_body(200, "[1]");
    send_req("DELETE", "/subjects/s/versions/1", NULL);
    expect_error(404, 40406);
    /* Still readable by id. */
    send_req("GET", "/schemas/ids/1", NULL);
    ck_assert_int_eq(resp.status, 200);

    send_req("DELETE", "/subjects/s/versions/1?permanent=true", NULL);
    expect_body(200, "1");
    ck_assert_uint_eq(reg->last_count, 1);
    ck_assert_ptr_null(reg->last_values[0]);
    send_req("GET", "/subjects/s/versions?deleted=true", NULL);
    expect_body(200, "[2]");

    /* Whole subjects. */
    send_req("DELETE", "/subjects/t?permanent=true", NULL);
    expect_error(404, 40405);
    send_req("DELETE", "/subjects/t", NULL);
    expect_body(200, "[1]");
    send_req("DELETE", "/subjects/t", NULL);
    expect_error(404, 40404);
    send_req("GET", "/subjects", NULL);
    expect_body(200, "[\"s\"]");
    send_req("GET", "/subjects?deleted=true", NULL);
    expect_body(200, "[\"s\",\"t\"]");
    send_req("GET", "/subjects?deletedOnly=true", NULL);
    expect_body(200, "[\"t\"]");
    send_req("GET", "/subjects/t/versions", NULL);
    expect_error(404, 40401);
    send_req("DELETE", "/subjects/t?permanent=true", NULL);
    expect_body(200, "[1]");
    send_req("GET", "/subjects?deleted=true", NULL);
    expect_body(200, "[\"s\"]");
    send_req("DELETE", "/subjects/nope", NULL);
    expect_error(404, 40401);
}
END_TEST

START_TEST(watermark_and_settings_tombstones)
{
    register_ok("s", V1, "");
    ck_assert_int_eq(register_ok("w", V2, ""), 2);
    send_req("PUT", "/config/w", "{\"compatibility\":\"NONE\"}");
    ck_assert_int_eq(resp.status, 200);
    send_req("PUT", "/mode/w", "{\"mode\":\"READWRITE\"}");
    ck_assert_int_eq(resp.status, 200);
    send_req("DELETE", "/subjects/w", NULL);
    expect_body(200, "[1]");
    send_req("DELETE", "/subjects/w?permanent=true", NULL);
    expect_body(200, "[1]");
    /* SCHEMA tombstone, CONFIG and MODE tombstones, NOOP watermark. */
    ck_assert_uint_eq(reg->last_count, 4);
    ck_assert_ptr_nonnull(strstr(reg->last_keys[0], "\"SCHEMA\""));
    ck_assert_ptr_nonnull(strstr(reg->last_keys[1], "\"CONFIG\""));
    ck_assert_ptr_null(reg->last_values[1]);
    ck_assert_ptr_nonnull(strstr(reg->last_keys[2], "\"MODE\""));
    ck_assert_ptr_nonnull(strstr(reg->last_keys[3], "\"NOOP\""));
    ck_assert_str_eq(reg->last_values[3], "{\"maxId\":2}");
    send_req("GET", "/config/w", NULL);
    expect_error(404, 40408);
    /* Id 2 is never issued again. */
    ck_assert_int_eq(register_ok("x", BAD, ""), 3);
}
END_TEST

START_TEST(permanent_version_delete_descending_and_reregister)
{
    register_ok("s", V1, "");
    register_ok("s", V2, "");
    send_req("DELETE", "/subjects/s", NULL);
    expect_body(200, "[1,2]");
    send_req("DELETE", "/subjects/s?permanent=true", NULL);
    expect_body(200, "[1,2]");
    ck_assert_ptr_nonnull(strstr(reg->last_keys[0], "\"version\":2"));
    ck_assert_ptr_nonnull(strstr(reg->last_keys[1], "\"version\":1"));

    /* Re-registering soft-deleted content reuses its id, tombstones the old key. */
    ck_assert_int_eq(register_ok("r", V1, ""), 3); /* ids 1 and 2 are gone for good */
    send_req("DELETE", "/subjects/r/versions/1", NULL);
    ck_assert_int_eq(register_ok("r", V1, ""), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 2);
    ck_assert_uint_eq(reg->last_count, 2);
    ck_assert_ptr_null(reg->last_values[1]);
    send_req("GET", "/subjects/r/versions?deleted=true", NULL);
    expect_body(200, "[2]");
}
END_TEST

START_TEST(references_and_referencedby)
{
    int address = register_ok("addr", ADDRESS, "");
    const char *refs = "{\"references\":[{\"name\":\"com.acme.Address\",\"subject\":\"addr\","
                       "\"version\":1}]}";
    int person = register_ok("person", PERSON, refs);
    ck_assert_int_ne(person, address);
    ck_assert_ptr_nonnull(json_object_get(json, "references"));
    send_req("GET", "/subjects/person/versions/1", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(json, "references"), 0), "subject")),
                     "addr");
    send_req("GET", "/subjects/addr/versions/1/referencedby", NULL);
    char expected[128];
    snprintf(expected, sizeof expected, "[%d]", person);
    expect_body(200, expected);

    /* format=resolved writes the referenced type out where it is first used. */
    snprintf(expected, sizeof expected, "/schemas/ids/%d?format=resolved", person);
    send_req("GET", expected, NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json, "schema")), "zip"));
    send_req("GET", "/subjects/person/versions/1/schema?format=resolved", NULL);
    ck_assert_ptr_nonnull(strstr(resp.body, "\"home\",\"type\":{\"type\":\"record\""));
    send_req("GET", "/subjects/person/versions/1/schema", NULL);
    ck_assert_ptr_null(strstr(resp.body, "zip"));

    size_t writes = reg->writes;
    send_req("DELETE", "/subjects/addr/versions/1", NULL);
    expect_error(422, 42206);
    send_req("DELETE", "/subjects/addr", NULL);
    expect_error(422, 42206);
    ck_assert_uint_eq(reg->writes, writes);

    post_schema("/subjects/p2/versions", PERSON,
                "{\"references\":[{\"name\":\"com.acme.Address\",\"subject\":\"gone\","
                "\"version\":1}]}");
    expect_error(422, 42201);
    ck_assert_ptr_nonnull(strstr(message(), "gone"));
    post_schema("/subjects/p2/versions", PERSON, "");
    expect_error(422, 42201);
    /* version -1 is the latest, stored as its number. */
    register_ok("p3", PERSON,
                "{\"references\":[{\"name\":\"com.acme.Address\",\"subject\":\"addr\","
                "\"version\":-1}]}");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(json, "references"), 0), "version")),
                     1);
    ck_assert_uint_eq(reg->writes, writes + 1);

    /* A referrer soft-deleted still blocks the permanent delete. */
    send_req("DELETE", "/subjects/person/versions/1", NULL);
    send_req("DELETE", "/subjects/p3/versions/1", NULL);
    send_req("DELETE", "/subjects/addr/versions/1", NULL);
    ck_assert_int_eq(resp.status, 200);
    send_req("DELETE", "/subjects/addr/versions/1?permanent=true", NULL);
    expect_error(422, 42206);
}
END_TEST

START_TEST(normalize_metadata_rule_set)
{
    const char *spaced = "{ \"fields\": [ {\"type\": \"int\", \"name\": \"a\"} ], \"name\": "
                         "\"User\", \"type\": \"record\" }";
    register_ok("n", spaced, "");
    send_req("GET", "/subjects/n/versions/1/schema", NULL);
    expect_body(200, V1);
    post_schema("/subjects/n?normalize=true", spaced, "");
    ck_assert_int_eq(resp.status, 200);
    post_schema("/subjects/n2/versions?normalize=true", spaced, "");
    ck_assert_int_eq(resp.status, 200);
    send_req("PUT", "/config/n3", "{\"compatibility\":\"BACKWARD\",\"normalize\":true}");
    expect_body(200, "{\"compatibility\":\"BACKWARD\",\"normalize\":true}");
    register_ok("n3", spaced, "");

    const char *extra = "{\"metadata\":{\"properties\":{\"owner\":\"ann\",\"team\":\"x\"}},"
                        "\"ruleSet\":{\"domainRules\":[{\"name\":\"r\",\"kind\":\"CONDITION\","
                        "\"type\":\"CEL\",\"mode\":\"WRITE\",\"expr\":\"true\"}]}}";
    int id = register_ok("m", V1, extra);
    ck_assert_int_ne(id, 1); /* metadata makes it other content */
    ck_assert_ptr_nonnull(json_object_get(json, "metadata"));
    send_req("GET", "/subjects/m/versions/1", NULL);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json, "metadata"), "properties"), "owner")),
        "ann");
    ck_assert_ptr_nonnull(json_object_get(json, "ruleSet"));
    send_req("GET", "/subjects/m/metadata?key=owner&value=ann", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 1);
    send_req("GET", "/subjects/m/metadata?key=owner&value=bob", NULL);
    expect_error(404, 40403);
    send_req("GET", "/subjects/m/metadata?key=owner&value=ann&key=team&value=x", NULL);
    ck_assert_int_eq(resp.status, 200);
    send_req("GET", "/subjects/zz/metadata?key=owner", NULL);
    expect_error(404, 40401);
    /* A later version without metadata carries the latest's forward. */
    register_ok("m", V2, "");
    ck_assert_ptr_nonnull(json_object_get(json, "metadata"));
}
END_TEST

START_TEST(config_endpoints)
{
    send_req("GET", "/config", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"BACKWARD\"}");
    send_req("PUT", "/config", "{\"compatibility\":\"full\"}");
    expect_body(200, "{\"compatibility\":\"FULL\"}");
    send_req("GET", "/config", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"FULL\"}");
    size_t writes = reg->writes;
    send_req("PUT", "/config", "{\"compatibility\":\"SIDEWAYS\"}");
    expect_error(422, 42203);
    send_req("PUT", "/config", "{\"normalize\":\"yes\"}");
    expect_error(400, 400);
    ck_assert_uint_eq(reg->writes, writes);

    register_ok("s", V1, "");
    send_req("GET", "/config/s", NULL);
    expect_error(404, 40408);
    ck_assert_str_eq(message(), "Subject 's' does not have subject-level compatibility configured");
    send_req("GET", "/config/s?defaultToGlobal=true", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"FULL\"}");
    post_schema("/subjects/s/versions", BAD, "");
    expect_error(409, 40901);
    send_req("PUT", "/config/s", "{\"compatibility\":\"NONE\"}");
    expect_body(200, "{\"compatibility\":\"NONE\"}");
    send_req("GET", "/config/s", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"NONE\"}");
    register_ok("s", BAD, "");
    /* PUT merges with what is set. */
    send_req("PUT", "/config/s", "{\"compatibilityGroup\":\"app\"}");
    send_req("GET", "/config/s", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"NONE\",\"compatibilityGroup\":\"app\"}");
    send_req("DELETE", "/config/s", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"NONE\",\"compatibilityGroup\":\"app\"}");
    send_req("DELETE", "/config/s", NULL);
    expect_error(404, 40408);
    send_req("DELETE", "/config/nope", NULL);
    expect_error(404, 40401);
    send_req("DELETE", "/config", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"FULL\"}");
    send_req("GET", "/config", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"BACKWARD\"}");
}
END_TEST

START_TEST(mode_endpoints)
{
    send_req("GET", "/mode", NULL);
    expect_body(200, "{\"mode\":\"READWRITE\"}");
    register_ok("s", V1, "");
    send_req("PUT", "/mode", "{\"mode\":\"READONLY\"}");
    expect_body(200, "{\"mode\":\"READONLY\"}");
    size_t writes = reg->writes;
    post_schema("/subjects/s/versions", V2, "");
    expect_error(422, 42205);
    send_req("DELETE", "/subjects/s/versions/1", NULL);
    expect_error(422, 42205);
    send_req("DELETE", "/subjects/s", NULL);
    expect_error(422, 42205);
    /* Identical content is answered before the mode is looked at. */
    ck_assert_int_eq(register_ok("s", V1, ""), 1);
    send_req("PUT", "/mode", "{\"mode\":\"SIDEWAYS\"}");
    expect_error(422, 42204);
    send_req("PUT", "/mode/s", "{\"mode\":\"FORWARD\"}");
    expect_error(422, 42204);
    send_req("PUT", "/mode", "{\"mode\":\"IMPORT\"}");
    expect_error(422, 42205);
    ck_assert_uint_eq(reg->writes, writes);

    send_req("PUT", "/mode?force=true", "{\"mode\":\"IMPORT\"}");
    expect_body(200, "{\"mode\":\"IMPORT\"}");
    post_schema("/subjects/s/versions", V2, "");
    expect_error(422, 42205);
    post_schema("/subjects/i/versions", V2, "{\"id\":100,\"version\":5}");
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "id")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 5);
    /* Id 100 holds other content: 42207; this content has id 100: 42207. */
    post_schema("/subjects/i/versions", BAD, "{\"id\":100}");
    expect_error(422, 42207);
    post_schema("/subjects/j/versions", V2, "{\"id\":101}");
    expect_error(422, 42207);
    /* No check in IMPORT mode. */
    post_schema("/subjects/i/versions", BAD, "{\"id\":7}");
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json, "version")), 6);

    send_req("GET", "/mode/s", NULL);
    expect_error(404, 40409);
    send_req("GET", "/mode/s?defaultToGlobal=true", NULL);
    expect_body(200, "{\"mode\":\"IMPORT\"}");
    send_req("PUT", "/mode/s", "{\"mode\":\"readwrite\"}");
    expect_body(200, "{\"mode\":\"READWRITE\"}");
    post_schema("/subjects/s/versions", V2, "{\"id\":300}");
    expect_error(422, 42205);
    register_ok("s", V2, "");
    send_req("DELETE", "/mode/s", NULL);
    expect_body(200, "{\"mode\":\"READWRITE\"}");
    send_req("DELETE", "/mode/s", NULL);
    expect_error(404, 40409);
    send_req("DELETE", "/mode", NULL);
    expect_body(200, "{\"mode\":\"IMPORT\"}");
    send_req("GET", "/mode", NULL);
    expect_body(200, "{\"mode\":\"READWRITE\"}");
    /* A new id stays above the imported ones. */
    ck_assert_int_eq(register_ok("k", "\"string\"", ""), 101);
}
END_TEST

START_TEST(compatibility_endpoint)
{
    char *v2 = schema_body(V2, ""), *bad = schema_body(BAD, "");
    send_req("POST", "/compatibility/subjects/none/versions", bad);
    expect_body(200, "{\"is_compatible\":true}");
    send_req("POST", "/compatibility/subjects/none/versions/latest", bad);
    expect_error(404, 40401);
    register_ok("s", V1, "");
    send_req("POST", "/compatibility/subjects/s/versions/latest", v2);
    expect_body(200, "{\"is_compatible\":true}");
    send_req("POST", "/compatibility/subjects/s/versions", bad);
    expect_body(200, "{\"is_compatible\":false}");
    send_req("POST", "/compatibility/subjects/s/versions/1?verbose=true", bad);
    ck_assert_int_eq(resp.status, 200);
    ck_assert(json_is_false(json_object_get(json, "is_compatible")));
    json_t *messages = json_object_get(json, "messages");
    ck_assert_uint_ge(json_array_size(messages), 2);
    const char *first = json_string_value(json_array_get(messages, 0));
    ck_assert_msg(strstr(first, "errorType:'") && strstr(first, "oldSchemaVersion: 1") &&
                      strstr(first, "location:'/"),
                  "%s", first);
    send_req("POST", "/compatibility/subjects/s/versions/1?verbose=true", v2);
    expect_body(200, "{\"is_compatible\":true,\"messages\":[]}");
    send_req("POST", "/compatibility/subjects/s/versions/9", v2);
    expect_error(404, 40402);
    send_req("POST", "/compatibility/subjects/s/versions/nine", v2);
    expect_error(422, 42202);
    send_req("PUT", "/config/s", "{\"compatibility\":\"NONE\"}");
    send_req("POST", "/compatibility/subjects/s/versions", bad);
    expect_body(200, "{\"is_compatible\":true}");
    ck_assert_uint_eq(reg->writes, 2);
    free(v2);
    free(bad);
}
END_TEST

START_TEST(contexts)
{
    post_schema("/contexts/.ctx/subjects/a/versions", V1, "");
    ck_assert_int_eq(resp.status, 200);
    send_req("GET", "/subjects/:.ctx:a/versions/1", NULL);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(json, "subject")), ":.ctx:a");
    send_req("GET", "/contexts/ctx/subjects/a/versions", NULL);
    expect_body(200, "[1]");
    send_req("GET", "/contexts/.ctx/subjects", NULL);
    expect_body(200, "[\":.ctx:a\"]");
    register_ok("plain", V1, "");
    send_req("GET", "/contexts", NULL);
    expect_body(200, "[\".\",\".ctx\"]");
    send_req("DELETE", "/contexts/.ctx", NULL);
    expect_error(422, 42211);
    send_req("DELETE", "/contexts/.other", NULL);
    ck_assert_int_eq(resp.status, 204);
    send_req("PUT", "/contexts/.ctx/config", "{\"compatibility\":\"NONE\"}");
    ck_assert_int_eq(resp.status, 200);
    send_req("GET", "/config/:.ctx:", NULL);
    expect_body(200, "{\"compatibilityLevel\":\"NONE\"}");
}
END_TEST

/* A one-request HTTP server standing in for the leader. */
typedef struct fake_leader {
    int fd;
    int port;
    char request[4096]; /* what it received */
    pthread_t thread;
} fake_leader_t;

static void *leader_serve(void *arg)
{
    fake_leader_t *leader = arg;
    int conn = accept(leader->fd, NULL, NULL);
    if (conn < 0)
        return NULL;
    size_t got = 0;
    while (got < sizeof leader->request - 1) {
        ssize_t n = read(conn, leader->request + got, sizeof leader->request - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        leader->request[got] = '\0';
        const char *end = strstr(leader->request, "\r\n\r\n");
        const char *length = strstr(leader->request, "Content-Length: ");
        if (end &&
            (!length || got >= (size_t)(end + 4 - leader->request) + (size_t)atoi(length + 16)))
            break;
    }
    static const char json_body[] = "{\"error_code\":40901,\"message\":\"from leader\"}";
    char answer[256];
    int len = snprintf(answer, sizeof answer,
                       "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       sizeof json_body - 1, json_body);
    ck_assert_int_eq(write(conn, answer, (size_t)len), len);
    close(conn);
    return NULL;
}

static void leader_start(fake_leader_t *leader)
{
    memset(leader, 0, sizeof *leader);
    leader->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(leader->fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    ck_assert_int_eq(bind(leader->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(leader->fd, 1), 0);
    ck_assert_int_eq(getsockname(leader->fd, (struct sockaddr *)&addr, &len), 0);
    leader->port = ntohs(addr.sin_port);
    ck_assert_int_eq(pthread_create(&leader->thread, NULL, leader_serve, leader), 0);
}

START_TEST(follower_forwards_verbatim)
{
    register_ok("s", V1, "");
    size_t writes = reg->writes;
    fake_leader_t leader;
    leader_start(&leader);
    reg->leader = 0;
    snprintf(reg->leader_url, sizeof reg->leader_url, "http://127.0.0.1:%d", leader.port);
    char *body = schema_body(V2, "");
    send_ct("POST", "/subjects/s/versions?normalize=true", "application/json", body);
    pthread_join(leader.thread, NULL);
    close(leader.fd);
    /* The leader's status and body, unchanged; nothing written here. */
    expect_body(409, "{\"error_code\":40901,\"message\":\"from leader\"}");
    ck_assert_uint_eq(reg->writes, writes);
    static const char line[] = "POST /subjects/s/versions?normalize=true HTTP/1.1\r\n";
    ck_assert_msg(strncmp(leader.request, line, sizeof line - 1) == 0, "%s", leader.request);
    ck_assert_ptr_nonnull(strstr(leader.request, "Content-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(leader.request, body));
    free(body);
}
END_TEST

START_TEST(followers_and_store_failures)
{
    register_ok("s", V1, "");
    size_t writes = reg->writes;
    reg->leader = -1;
    post_schema("/subjects/s/versions", V2, "");
    expect_error(500, 50004);
    send_req("GET", "/subjects/s/versions", NULL);
    expect_body(200, "[1]");
    reg->leader = 0;
    snprintf(reg->leader_url, sizeof reg->leader_url, "http://127.0.0.1:1");
    post_schema("/subjects/s/versions", V2, "");
    expect_error(500, 50003);
    /* What the subject already holds is answered without the leader. */
    ck_assert_int_eq(register_ok("s", V1, ""), 1);
    send_req("DELETE", "/subjects/s", NULL);
    expect_error(500, 50003);
    reg->leader = 1;

    reg->fail_with = SR_ERR_STORE;
    post_schema("/subjects/s/versions", V2, "");
    expect_error(500, 50001);
    reg->fail_with = SR_ERR_TIMEOUT;
    send_req("DELETE", "/subjects/s/versions/1", NULL);
    expect_error(500, 50002);
    ck_assert_ptr_nonnull(strstr(message(), "may still"));
    send_req("PUT", "/config", "{\"compatibility\":\"NONE\"}");
    expect_error(500, 50002);
    ck_assert_uint_eq(reg->writes, writes);
    reg->fail_with = 0;
    send_req("GET", "/subjects/s/versions", NULL);
    expect_body(200, "[1]");
}
END_TEST

/* Every allocation of a request failing in turn: an answer every time (the
 * request's own or a 500), nothing leaked (the sanitizer build checks). */
static void quiet(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)level;
    (void)module;
    (void)line;
    (void)opaque;
}

START_TEST(allocation_failures)
{
    /* The state logs the records it could not apply for want of memory. */
    sd_log_set_sink(quiet, NULL);
    register_ok("addr", ADDRESS, "");
    register_ok("s", V1, "");
    const char *refs = "{\"references\":[{\"name\":\"com.acme.Address\",\"subject\":\"addr\","
                       "\"version\":1}]}";
    for (long n = 0; n < 400; n++) {
        char subject[64];
        snprintf(subject, sizeof subject, "/subjects/p%ld/versions", n);
        char *body = schema_body(PERSON, refs);
        sd_alloc_fail_after(n);
        send_req("POST", subject, body);
        send_req("POST", "/compatibility/subjects/s/versions?verbose=true", body);
        send_req("GET", "/subjects/addr/versions/1/referencedby", NULL);
        send_req("GET", "/schemas/ids/2?format=resolved", NULL);
        send_req("DELETE", "/subjects/s/versions/1", NULL);
        sd_alloc_fail_after(-1);
        free(body);
        ck_assert_int_ge(resp.status, 200);
    }
    sd_log_set_sink(NULL, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sr_api");
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, root_routing_and_readiness);
    tcase_add_test(tc, content_types_and_bodies);
    tcase_add_test(tc, register_and_read_shapes);
    tcase_add_test(tc, incompatible_and_explicit_version);
    tcase_add_test(tc, soft_and_permanent_deletes);
    tcase_add_test(tc, watermark_and_settings_tombstones);
    tcase_add_test(tc, permanent_version_delete_descending_and_reregister);
    tcase_add_test(tc, references_and_referencedby);
    tcase_add_test(tc, normalize_metadata_rule_set);
    tcase_add_test(tc, config_endpoints);
    tcase_add_test(tc, mode_endpoints);
    tcase_add_test(tc, compatibility_endpoint);
    tcase_add_test(tc, contexts);
    tcase_add_test(tc, followers_and_store_failures);
    tcase_add_test(tc, follower_forwards_verbatim);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
