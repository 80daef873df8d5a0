/*
 * sr_api_forward.c - a write that reaches a follower goes to the leader as
 * it came (method, path and query, content type, body) over libcurl, and the
 * leader's status and body go back verbatim, as Confluent's
 * registerOrForward / forwardRequest do: 50003 when that fails.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/http_body.h"
#include "sr_api_int.h"

#define MAX_FORWARD_BYTES (64u << 20)


/* curl_easy_init would run the global init lazily, which is not
 * thread-safe everywhere; do it once. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void sr_api__forward(sr_api_call_t *call, const char *leader_url)
{
    pthread_once(&curl_once, curl_init_once);
    const sr_request_t *req = call->req;
    const char *path = req->raw_path_and_query ? req->raw_path_and_query : req->path;
    size_t url_len = strlen(leader_url) + strlen(path ? path : "/") + 1;
    char *url = malloc(url_len);
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    sd_http_body_t sink = {.max = MAX_FORWARD_BYTES};
    char header[512];

    if (!url || !curl) {
        sr_api__nomem(call);
        goto done;
    }
    snprintf(url, url_len, "%s%s", leader_url, path ? path : "/");
    snprintf(header, sizeof header, "Content-Type: %s",
             req->content_type ? req->content_type : "application/vnd.schemaregistry.v1+json");
    headers = curl_slist_append(headers, header);
    headers = curl_slist_append(headers, "Accept: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     (long)sr_registry_forward_timeout_ms(call->registry));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sd_http_body_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    if (req->body && req->body_len) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status < 100 || sink.too_large) {
        sr_api__error(call, SR_E_FORWARDING,
                      "Error while forwarding the request to the leader at %s: %s", leader_url,
                      sink.too_large ? "answer too large" : curl_easy_strerror(rc));
        goto done;
    }
    if (!sink.data && !(sink.data = calloc(1, 1))) {
        sr_api__nomem(call);
        goto done;
    }
    free(call->resp->body);
    call->resp->status = (int)status;
    call->resp->body = sink.data;
    call->resp->body_len = sink.len;
    sink.data = NULL;
done:
    free(sink.data);
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    free(url);
}
