/*
 * fuzz_sr_api.c - libFuzzer target for the registry's REST layer
 * (sr_api_handle) over the fake registry of the unit tests, seeded with a
 * subject holding two versions and a referenced schema. The input's first
 * line, when it starts with a method, is "METHOD /path?query" and the rest
 * is the body; otherwise the whole input is the body of a registration.
 * Every answer must be a status in 200..599 with a body, JSON for every
 * status but 204 and the raw-schema endpoints, an error body carrying
 * error_code and message. Seeds: request bodies of test_sr_api.c.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/sr_fake_registry.h"
#include "sr_api.h"

static const char *const methods[] = {"GET ", "POST ", "PUT ", "DELETE "};

static void run(sr_registry_t *reg, const char *method, const char *target, const char *body,
                size_t body_len)
{
    static char path[1024], query[1024];
    sr_query_arg_t args[16];
    size_t arg_count = 0;
    const char *q = strchr(target, '?');
    snprintf(path, sizeof path, "%.*s", (int)(q ? (size_t)(q - target) : strlen(target)), target);
    if (q) {
        snprintf(query, sizeof query, "%s", q + 1);
        for (char *save = NULL, *pair = strtok_r(query, "&", &save); pair && arg_count < 16;
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
        .content_type = "application/json",
        .body = body,
        .body_len = body_len,
    };
    sr_response_t resp = {0};
    sr_api_handle(reg, &req, &resp);
    if (!resp.body || resp.status < 200 || resp.status > 599)
        abort();
    size_t path_len = strlen(path);
    bool raw =
        strcmp(method, "GET") == 0 && path_len >= 7 && strcmp(path + path_len - 7, "/schema") == 0;
    if (resp.status != 204 && !raw) {
        json_t *value =
            json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!value)
            abort();
        if (resp.status >= 400 && (!json_is_integer(json_object_get(value, "error_code")) ||
                                   !json_is_string(json_object_get(value, "message"))))
            abort();
        json_decref(value);
    }
    free(resp.body);
}

static void seed(sr_registry_t *reg)
{
    static const char v1[] =
        "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"User\\\","
        "\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"int\\\"}]}\"}";
    static const char addr[] =
        "{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"Address\\\",\\\"namespace\\\":"
        "\\\"com.acme\\\",\\\"fields\\\":[{\\\"name\\\":\\\"zip\\\",\\\"type\\\":\\\"string\\\"}]}"
        "\"}";
    run(reg, "POST", "/subjects/s/versions", v1, sizeof v1 - 1);
    run(reg, "POST", "/subjects/addr/versions", addr, sizeof addr - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sr_registry_t *reg = sr_fake_new();
    if (!reg)
        return 0;
    seed(reg);
    const char *text = (const char *)data;
    const char *method = NULL;
    char target[512] = "/subjects/s/versions";
    const char *body = text;
    size_t body_len = size;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        size_t n = strlen(methods[i]);
        if (size > n && memcmp(text, methods[i], n) == 0) {
            const char *nl = memchr(text, '\n', size);
            size_t line = nl ? (size_t)(nl - text) : size;
            size_t target_len = line - n;
            if (target_len >= sizeof target || memchr(text + n, '\0', target_len))
                break;
            memcpy(target, text + n, target_len);
            target[target_len] = '\0';
            static char method_name[8];
            snprintf(method_name, sizeof method_name, "%.*s", (int)(n - 1), methods[i]);
            method = method_name;
            body = nl ? nl + 1 : NULL;
            body_len = nl ? size - line - 1 : 0;
            break;
        }
    }
    run(reg, method ? method : "POST", target, body_len ? body : NULL, body_len);
    if (!method)
        run(reg, "POST", "/compatibility/subjects/s/versions?verbose=true", body_len ? body : NULL,
            body_len);
    sr_fake_free(reg);
    return 0;
}
