/*
 * test_sr_leader.c - the registry's leader election: Confluent's identity
 * and assignment JSON byte for byte, the election rule (smallest URL,
 * stickiness, duplicate URLs), the response decoders on truncated and
 * corrupt input, then whole elections against a real Strand broker started
 * as a child process (STRAND_BIN, else the binary of this build).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/bytes.h"
#include "base/error.h"
#include "sr_leader.h"
#include "unit.h"
#include "unit_broker.h"

/* ---- helpers ------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The JSON an encoder wrote, as a NUL-terminated string (caller frees). */
static char *take_string(sd_writer_t *w)
{
    sd_write_u8(w, 0);
    ck_assert_int_eq(w->err, 0);
    size_t len;
    return (char *)sd_writer_steal(w, &len);
}

static char *identity_json(const char *host, int port, bool eligible, bool leader)
{
    sr_leader_identity_t id = {.version = 1,
                               .host = (char *)host,
                               .port = port,
                               .scheme = "http",
                               .eligible = eligible,
                               .leader = leader};
    sd_writer_t w;
    sd_writer_init(&w);
    ck_assert_int_eq(sr_leader_identity_encode(&id, &w), 0);
    return take_string(&w);
}

/* ---- JSON formats ----------------------------------------------------------- */

START_TEST(identity_bytes_are_confluents)
{
    /* Jackson writes the @JsonCreator properties first (host, port,
     * master_eligibility, scheme), then version and leader. */
    char *json = identity_json("sr-node-1", 8081, true, false);
    ck_assert_str_eq(json, "{\"host\":\"sr-node-1\",\"port\":8081,\"master_eligibility\":true,"
                           "\"scheme\":\"http\",\"version\":1,\"leader\":false}");
    sd_free(json);
    json = identity_json("h", 1, false, true);
    ck_assert_str_eq(json, "{\"host\":\"h\",\"port\":1,\"master_eligibility\":false,"
                           "\"scheme\":\"http\",\"version\":1,\"leader\":true}");
    sd_free(json);
    /* Jackson's escapes: short forms where JSON has them, \u00XX otherwise. */
    json = identity_json("a\"b\\c\n\x01", 2, true, false);
    ck_assert_str_eq(json, "{\"host\":\"a\\\"b\\\\c\\n\\u0001\",\"port\":2,"
                           "\"master_eligibility\":true,\"scheme\":\"http\",\"version\":1,"
                           "\"leader\":false}");
    sr_leader_identity_t back;
    sd_err_t err;
    ck_assert_int_eq(sr_leader_identity_decode((const uint8_t *)json, strlen(json), &back, &err),
                     0);
    ck_assert_str_eq(back.host, "a\"b\\c\n\x01");
    sr_leader_identity_clear(&back);
    sd_free(json);
}
END_TEST

START_TEST(identity_decodes_confluent_metadata)
{
    /* As a Confluent registry without the sticky "leader" field sends it. */
    const char *older = "{\"host\":\"schemaregistry1\",\"port\":8085,\"master_eligibility\":true,"
                        "\"scheme\":\"http\",\"version\":1}";
    sr_leader_identity_t id;
    sd_err_t err;
    ck_assert_int_eq(sr_leader_identity_decode((const uint8_t *)older, strlen(older), &id, &err),
                     0);
    ck_assert_str_eq(id.host, "schemaregistry1");
    ck_assert_int_eq(id.port, 8085);
    ck_assert(id.eligible);
    ck_assert(!id.leader);
    ck_assert_int_eq(id.version, 1);
    char url[128];
    ck_assert_int_eq(sr_leader_identity_url(&id, url, sizeof url), 0);
    ck_assert_str_eq(url, "http://schemaregistry1:8085");
    ck_assert_int_eq(sr_leader_identity_url(&id, url, 10), -1);
    sr_leader_identity_clear(&id);

    /* Unknown fields are ignored; a missing scheme is http; order free. */
    const char *other = "{\"version\":1,\"extra\":[1,{}],\"master_eligibility\":false,"
                        "\"port\":1,\"host\":\"x\",\"leader\":true}";
    ck_assert_int_eq(sr_leader_identity_decode((const uint8_t *)other, strlen(other), &id, &err),
                     0);
    ck_assert_str_eq(id.scheme, "http");
    ck_assert(!id.eligible);
    ck_assert(id.leader);
    sr_leader_identity_clear(&id);

    const char *bad[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"port\":1,\"master_eligibility\":true}",
        "{\"host\":\"h\",\"master_eligibility\":true}",
        "{\"host\":\"h\",\"port\":\"1\",\"master_eligibility\":true}",
        "{\"host\":\"h\",\"port\":70000,\"master_eligibility\":true}",
        "{\"host\":\"h\",\"port\":1}",
        "{\"host\":\"h\",\"port\":1,\"master_eligibility\":1}",
        "{\"host\":\"h\",\"port\":1,\"master_eligibility\":true,\"scheme\":7}",
        "{\"host\":\"h\",\"port\":1,\"master_eligibility\":true,\"leader\":\"yes\"}",
        "{\"host\":\"h\",\"port\":1,\"master_eligibility\":true,\"version\":1.5}",
        "{\"host\":\"a\\u0000b\",\"port\":1,\"master_eligibility\":true}",
        "{\"host\":\"h\",\"port\":1,\"master_eligibility\":true} x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.code = 0;
        ck_assert_msg(sr_leader_identity_decode((const uint8_t *)bad[i], strlen(bad[i]), &id,
                                                &err) == SD_ERR_INVALID,
                      "accepted %s", bad[i]);
        ck_assert_int_eq(err.code, SD_ERR_INVALID);
        ck_assert_ptr_null(id.host);
    }
}
END_TEST

START_TEST(assignment_bytes_are_confluents)
{
    sr_leader_assignment_t a = {
        .version = 1,
        .error = 0,
        .master = "sr-1-7f3a",
        .has_identity = true,
        .master_identity = {
            .version = 1, .host = "sr-node-1", .port = 8081, .scheme = "http", .eligible = true}};
    sd_writer_t w;
    sd_writer_init(&w);
    ck_assert_int_eq(sr_leader_assignment_encode(&a, &w), 0);
    char *json = take_string(&w);
    const char *want = "{\"error\":0,\"master\":\"sr-1-7f3a\",\"master_identity\":"
                       "{\"host\":\"sr-node-1\",\"port\":8081,\"master_eligibility\":true,"
                       "\"scheme\":\"http\",\"version\":1,\"leader\":false},\"version\":1}";
    ck_assert_str_eq(json, want);

    sr_leader_assignment_t back;
    sd_err_t err;
    ck_assert_int_eq(sr_leader_assignment_decode((const uint8_t *)json, strlen(json), &back, &err),
                     0);
    ck_assert_int_eq(back.error, 0);
    ck_assert_int_eq(back.version, 1);
    ck_assert_str_eq(back.master, "sr-1-7f3a");
    ck_assert(back.has_identity);
    ck_assert_str_eq(back.master_identity.host, "sr-node-1");
    sr_leader_assignment_clear(&back);

    /* Every truncation of a valid assignment is an error, never a crash. */
    size_t len = strlen(json);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, json, cut);
        ck_assert_int_eq(sr_leader_assignment_decode(copy, cut, &back, &err), SD_ERR_INVALID);
        free(copy);
    }
    sd_free(json);

    /* No eligible member: Jackson's NON_EMPTY leaves master out. */
    sr_leader_assignment_t none = {.version = 1, .error = 0};
    sd_writer_init(&w);
    ck_assert_int_eq(sr_leader_assignment_encode(&none, &w), 0);
    json = take_string(&w);
    ck_assert_str_eq(json, "{\"error\":0,\"version\":1}");
    ck_assert_int_eq(sr_leader_assignment_decode((const uint8_t *)json, strlen(json), &back, &err),
                     0);
    ck_assert_ptr_null(back.master);
    ck_assert(!back.has_identity);
    sr_leader_assignment_clear(&back);
    sd_free(json);

    /* What a Confluent registry without "leader" writes, plus nulls. */
    const char *cp = "{\"error\":1,\"master\":\"c-1\",\"master_identity\":{\"host\":\"sr-node-2\","
                     "\"port\":8081,\"master_eligibility\":true,\"scheme\":\"https\","
                     "\"version\":1},\"version\":1}";
    ck_assert_int_eq(sr_leader_assignment_decode((const uint8_t *)cp, strlen(cp), &back, &err), 0);
    ck_assert_int_eq(back.error, SR_LEADER_ASSIGNMENT_DUPLICATE_URLS);
    ck_assert_str_eq(back.master_identity.scheme, "https");
    sr_leader_assignment_clear(&back);
    const char *nulls = "{\"error\":null,\"master\":null,\"master_identity\":null}";
    ck_assert_int_eq(
        sr_leader_assignment_decode((const uint8_t *)nulls, strlen(nulls), &back, &err), 0);
    ck_assert_ptr_null(back.master);
    sr_leader_assignment_clear(&back);
}
END_TEST

START_TEST(assignment_garbage_is_rejected)
{
    const char *bad[] = {
        "",
        " ",
        "[]",
        "\"x\"",
        "{\"error\":\"0\"}",
        "{\"error\":40000}",
        "{\"error\":0,\"master\":5}",
        "{\"error\":0,\"master\":\"a\\u0000b\"}",
        "{\"error\":0,\"master_identity\":{\"host\":\"h\"}}",
        "{\"error\":0,\"master_identity\":[]}",
        "{\"error\":0,\"version\":\"1\"}",
        "{\"error\":0}}",
        "{\"error\":0,}",
        "\xff\xfe",
    };
    sr_leader_assignment_t a;
    sd_err_t err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(sr_leader_assignment_decode((const uint8_t *)bad[i], strlen(bad[i]), &a,
                                                  &err) == SD_ERR_INVALID,
                      "accepted %s", bad[i]);
        ck_assert_ptr_null(a.master);
    }
    ck_assert_int_eq(sr_leader_assignment_decode(NULL, 0, &a, &err), SD_ERR_INVALID);
    /* Random bytes. */
    srand(7);
    for (int round = 0; round < 2000; round++) {
        uint8_t buf[64];
        size_t n = (size_t)(rand() % (int)sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t) "{}[]\":,0123 abcnulltruefalse\\u"[rand() % 31];
        if (sr_leader_assignment_decode(buf, n, &a, &err) == 0)
            sr_leader_assignment_clear(&a);
    }
}
END_TEST

/* ---- the election rule -------------------------------------------------- */

typedef struct rule_member {
    const char *id;
    char *meta;
} rule_member_t;

static void run_assign(rule_member_t *in, size_t n, bool sticky, sr_leader_assignment_t *out)
{
    sr_leader_member_t members[8];
    for (size_t i = 0; i < n; i++) {
        members[i].member_id = in[i].id;
        members[i].metadata = (const uint8_t *)in[i].meta;
        members[i].metadata_len = strlen(in[i].meta);
    }
    sd_err_t err;
    ck_assert_int_eq(sr_leader_assign(members, n, sticky, out, &err), 0);
}

START_TEST(rule_smallest_eligible_url)
{
    rule_member_t m[] = {
        {"m-1", identity_json("b-host", 8081, true, false)},
        {"m-2", identity_json("a-host", 9000, true, false)},
        {"m-3", identity_json("0-host", 1, false, false)}, /* smallest, not eligible */
        {"m-4", sd_strdup("not json")},
    };
    sr_leader_assignment_t a;
    run_assign(m, 4, false, &a);
    ck_assert_int_eq(a.error, 0);
    ck_assert_str_eq(a.master, "m-2");
    ck_assert_str_eq(a.master_identity.host, "a-host");
    sr_leader_assignment_clear(&a);
    /* Whatever the order the members come in. */
    rule_member_t r[] = {m[3], m[2], m[1], m[0]};
    run_assign(r, 4, false, &a);
    ck_assert_str_eq(a.master, "m-2");
    sr_leader_assignment_clear(&a);
    /* URLs compare as strings: "http://a-host:9000" < "http://b-host:8081",
     * and port 10 sorts before port 9 ("1" < "9"). */
    rule_member_t p[] = {{"p-9", identity_json("h", 9, true, false)},
                         {"p-10", identity_json("h", 10, true, false)}};
    run_assign(p, 2, false, &a);
    ck_assert_str_eq(a.master, "p-10");
    sr_leader_assignment_clear(&a);
    /* Nobody eligible: no master. */
    run_assign(&m[2], 2, false, &a);
    ck_assert_ptr_null(a.master);
    ck_assert(!a.has_identity);
    ck_assert_int_eq(a.error, 0);
    sr_leader_assignment_clear(&a);
    /* No members at all. */
    run_assign(m, 0, false, &a);
    ck_assert_ptr_null(a.master);
    sr_leader_assignment_clear(&a);
    for (size_t i = 0; i < 4; i++)
        sd_free(m[i].meta);
    sd_free(p[0].meta);
    sd_free(p[1].meta);
}
END_TEST

START_TEST(rule_sticky_and_duplicates)
{
    rule_member_t m[] = {
        {"m-1", identity_json("b-host", 8081, true, true)}, /* claims the place */
        {"m-2", identity_json("a-host", 8081, true, false)},
        {"m-3", identity_json("c-host", 8081, false, true)}, /* claims, not eligible */
    };
    sr_leader_assignment_t a;
    /* Sticky: the one eligible claimant keeps it. */
    run_assign(m, 3, true, &a);
    ck_assert_str_eq(a.master, "m-1");
    ck_assert(a.master_identity.leader);
    sr_leader_assignment_clear(&a);
    /* Not sticky: claims are ignored. */
    run_assign(m, 3, false, &a);
    ck_assert_str_eq(a.master, "m-2");
    sr_leader_assignment_clear(&a);
    /* Two eligible claimants: back to the smallest URL. */
    sd_free(m[1].meta);
    m[1].meta = identity_json("a-host", 8081, true, true);
    run_assign(m, 3, true, &a);
    ck_assert_str_eq(a.master, "m-2");
    sr_leader_assignment_clear(&a);
    /* Two members with one URL: DUPLICATE_URLS, master still named. */
    rule_member_t d[] = {{"d-1", identity_json("same", 8081, true, false)},
                         {"d-2", identity_json("same", 8081, false, false)}};
    run_assign(d, 2, false, &a);
    ck_assert_int_eq(a.error, SR_LEADER_ASSIGNMENT_DUPLICATE_URLS);
    ck_assert_str_eq(a.master, "d-1");
    sr_leader_assignment_clear(&a);
    for (size_t i = 0; i < 3; i++)
        sd_free(m[i].meta);
    sd_free(d[0].meta);
    sd_free(d[1].meta);
}
END_TEST

START_TEST(rule_survives_allocation_failures)
{
    rule_member_t m[] = {{"m-1", identity_json("b-host", 8081, true, false)},
                         {"m-2", identity_json("a-host", 8081, true, false)}};
    sr_leader_member_t members[2];
    for (size_t i = 0; i < 2; i++) {
        members[i].member_id = m[i].id;
        members[i].metadata = (const uint8_t *)m[i].meta;
        members[i].metadata_len = strlen(m[i].meta);
    }
    bool succeeded = false;
    for (long n = 0; n < 200 && !succeeded; n++) {
        sr_leader_assignment_t a;
        sd_err_t err;
        sd_alloc_fail_after(n);
        int rc = sr_leader_assign(members, 2, false, &a, &err);
        sd_alloc_fail_after(-1);
        if (rc == 0) {
            /* A member whose identity could not be copied for lack of
             * memory must not silently lose the election. */
            ck_assert_str_eq(a.master, "m-2");
            sr_leader_assignment_clear(&a);
            succeeded = true;
        } else {
            ck_assert_int_eq(rc, SD_ERR_NOMEM);
        }
    }
    ck_assert(succeeded);
    const char *json = m[0].meta;
    succeeded = false;
    for (long n = 0; n < 50 && !succeeded; n++) {
        sr_leader_identity_t id;
        sd_err_t err;
        sd_alloc_fail_after(n);
        int rc = sr_leader_identity_decode((const uint8_t *)json, strlen(json), &id, &err);
        sd_alloc_fail_after(-1);
        if (rc == 0) {
            sr_leader_identity_clear(&id);
            succeeded = true;
        }
    }
    ck_assert(succeeded);
    sd_free(m[0].meta);
    sd_free(m[1].meta);
}
END_TEST

/* ---- response decoders ---------------------------------------------------- */

static void put_string(sd_writer_t *w, const char *s)
{
    sd_write_i16(w, (int16_t)strlen(s));
    sd_write_bytes(w, s, strlen(s));
}

static void put_bytes(sd_writer_t *w, const char *s)
{
    sd_write_i32(w, (int32_t)strlen(s));
    sd_write_bytes(w, s, strlen(s));
}

/* A JoinGroup v4 answer for the group's leader, two members. */
static uint8_t *join_response(size_t *len)
{
    sd_writer_t w;
    sd_writer_init(&w);
    sd_write_i32(&w, 0);  /* throttle */
    sd_write_i16(&w, 0);  /* error */
    sd_write_i32(&w, 7);  /* generation */
    put_string(&w, "v0"); /* protocol */
    put_string(&w, "m-1");
    put_string(&w, "m-1");
    sd_write_i32(&w, 2);
    put_string(&w, "m-1");
    put_bytes(&w, "{\"a\":1}");
    put_string(&w, "m-2");
    put_bytes(&w, "");
    ck_assert_int_eq(w.err, 0);
    return sd_writer_steal(&w, len);
}

START_TEST(responses_decode_and_reject_bad_bytes)
{
    size_t len;
    uint8_t *buf = join_response(&len);
    sr_leader_response_t rs;
    sd_err_t err;
    ck_assert_int_eq(sr_leader_response_decode(SR_LEADER_API_JOIN_GROUP, buf, len, &rs, &err), 0);
    ck_assert_int_eq(rs.generation, 7);
    ck_assert_str_eq(rs.protocol_name, "v0");
    ck_assert_str_eq(rs.leader_id, "m-1");
    ck_assert_uint_eq(rs.member_count, 2);
    ck_assert_str_eq(rs.members[1].member_id, "m-2");
    ck_assert_uint_eq(rs.members[0].metadata_len, 7);
    ck_assert_int_eq(memcmp(rs.members[0].metadata, "{\"a\":1}", 7), 0);
    sr_leader_response_clear(&rs);
    /* Every truncation, and one byte too many. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, buf, cut);
        ck_assert_int_ne(sr_leader_response_decode(SR_LEADER_API_JOIN_GROUP, copy, cut, &rs, &err),
                         0);
        ck_assert_ptr_null(rs.members);
        free(copy);
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    ck_assert_int_eq(
        sr_leader_response_decode(SR_LEADER_API_JOIN_GROUP, longer, len + 1, &rs, &err),
        SD_ERR_INVALID);
    free(longer);
    /* A member count far beyond the bytes left is refused before any
     * allocation; so is a negative one. */
    size_t count_at = 4 + 2 + 4 + 4 + 5 + 5;
    sd_put_be32(buf + count_at, 0x7fffffff);
    ck_assert_int_eq(sr_leader_response_decode(SR_LEADER_API_JOIN_GROUP, buf, len, &rs, &err),
                     SD_ERR_INVALID);
    sd_put_be32(buf + count_at, 0xffffffff);
    ck_assert_int_eq(sr_leader_response_decode(SR_LEADER_API_JOIN_GROUP, buf, len, &rs, &err),
                     SD_ERR_INVALID);
    sd_free(buf);

    /* FindCoordinator v1, with a NUL inside the host (refused) and without. */
    sd_writer_t w;
    sd_writer_init(&w);
    sd_write_i32(&w, 0);
    sd_write_i16(&w, 0);
    sd_write_i16(&w, -1); /* error message: null */
    sd_write_i32(&w, 1);
    put_string(&w, "127.0.0.1");
    sd_write_i32(&w, 9092);
    ck_assert_int_eq(
        sr_leader_response_decode(SR_LEADER_API_FIND_COORDINATOR, w.buf, w.len, &rs, &err), 0);
    ck_assert_str_eq(rs.host, "127.0.0.1");
    ck_assert_int_eq(rs.port, 9092);
    sr_leader_response_clear(&rs);
    w.buf[4 + 2 + 2 + 4 + 2 + 3] = 0;
    ck_assert_int_eq(
        sr_leader_response_decode(SR_LEADER_API_FIND_COORDINATOR, w.buf, w.len, &rs, &err),
        SD_ERR_INVALID);
    /* Nor malformed UTF-8 (an id must go into JSON): a stray continuation
     * byte, an overlong '/', a surrogate. */
    const char *bad_utf8[] = {"\x80", "\xc0\xaf", "\xed\xa0\x80"};
    for (size_t i = 0; i < 3; i++) {
        memcpy(w.buf + 4 + 2 + 2 + 4 + 2, "127.0.0.1", 9);
        memcpy(w.buf + 4 + 2 + 2 + 4 + 2 + 2, bad_utf8[i], strlen(bad_utf8[i]));
        ck_assert_int_eq(
            sr_leader_response_decode(SR_LEADER_API_FIND_COORDINATOR, w.buf, w.len, &rs, &err),
            SD_ERR_INVALID);
    }
    memcpy(w.buf + 4 + 2 + 2 + 4 + 2, "12\xc3\xa9.0.0.1", 9);
    ck_assert_int_eq(
        sr_leader_response_decode(SR_LEADER_API_FIND_COORDINATOR, w.buf, w.len, &rs, &err), 0);
    sr_leader_response_clear(&rs);
    sd_writer_free(&w);

    /* SyncGroup v1, Heartbeat and LeaveGroup v1. */
    sd_writer_init(&w);
    sd_write_i32(&w, 0);
    sd_write_i16(&w, 27);
    put_bytes(&w, "{}");
    ck_assert_int_eq(sr_leader_response_decode(SR_LEADER_API_SYNC_GROUP, w.buf, w.len, &rs, &err),
                     0);
    ck_assert_int_eq(rs.error_code, 27);
    ck_assert_uint_eq(rs.assignment_len, 2);
    sr_leader_response_clear(&rs);
    ck_assert_int_eq(sr_leader_response_decode(SR_LEADER_API_HEARTBEAT, w.buf, 6, &rs, &err), 0);
    ck_assert_int_eq(rs.error_code, 27);
    ck_assert_int_eq(sr_leader_response_decode(SR_LEADER_API_LEAVE_GROUP, w.buf, 5, &rs, &err),
                     SD_ERR_INVALID);
    ck_assert_int_eq(sr_leader_response_decode(3, w.buf, w.len, &rs, &err), SD_ERR_INVALID);
    /* Bytes of length -2. */
    sd_put_be32(w.buf + 6, 0xfffffffe);
    ck_assert_int_eq(sr_leader_response_decode(SR_LEADER_API_SYNC_GROUP, w.buf, w.len, &rs, &err),
                     SD_ERR_INVALID);
    sd_writer_free(&w);
}
END_TEST

/* ---- against a real broker ------------------------------------------------- */

typedef unit_broker_t broker_t;

/* Starts a broker on 127.0.0.1:port (0 = any free port) whose first
 * rebalance of an empty group waits delay_ms. */
static void broker_start_with(broker_t *b, int port, int delay_ms)
{
    unit_broker_options_t options = {.name = "sr_leader",
                                     .port = port,
                                     .rebalance_delay_ms = delay_ms,
                                     .extra = {"--group.min.session.timeout.ms=1000"}};
    unit_broker_start(b, &options);
}

static void broker_start_on(broker_t *b, int port) { broker_start_with(b, port, 0); }
static void broker_start(broker_t *b) { broker_start_with(b, 0, 0); }

/* Stops the broker (SIGTERM, or SIGKILL with hard) and fails on any
 * sanitizer report in its log. */
static void broker_stop(broker_t *b, bool hard) { unit_broker_stop(b, hard); }

/* What one elector has reported, for the test to wait on. */
typedef struct watch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_leader;
    bool has_url;
    char url[256];
    bool ever_leader;
    int changes;
} watch_t;

static void watch_init(watch_t *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
}

static void watch_destroy(watch_t *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static void on_change(void *ctx, bool is_leader, const char *url)
{
    watch_t *w = ctx;
    pthread_mutex_lock(&w->mu);
    /* The contract: a leader always has a URL. */
    if (is_leader && !url)
        abort();
    w->is_leader = is_leader;
    w->has_url = url != NULL;
    snprintf(w->url, sizeof w->url, "%s", url ? url : "");
    w->ever_leader |= is_leader;
    w->changes++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits until the watch shows (is_leader, url); url NULL = no leader known.
 * Returns the milliseconds it took, or -1 on timeout. */
static int64_t watch_wait(watch_t *w, bool is_leader, const char *url, int timeout_ms)
{
    int64_t start = now_ms(), deadline = start + timeout_ms;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        bool match = w->is_leader == is_leader &&
                     (url ? w->has_url && strcmp(w->url, url) == 0 : !w->has_url);
        if (match) {
            pthread_mutex_unlock(&w->mu);
            return now_ms() - start;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            pthread_mutex_unlock(&w->mu);
            return -1;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
}

/* Short timeouts so the tests run in seconds; the broker allows sessions
 * from 1 s (--group.min.session.timeout.ms=1000). */
#define SESSION_MS 2000
#define HEARTBEAT_MS 300
#define REBALANCE_MS 3000
#define SETTLE_MS 15000 /* generous: a sanitized broker on a loaded machine */

static sr_leader_t *elector(const broker_t *b, const char *host, bool eligible, bool sticky,
                            watch_t *w)
{
    sr_leader_config_t config = {
        .bootstrap_servers = b->bootstrap,
        .group_id = "sr-test",
        .host = host,
        .port = 8081,
        .scheme = "http",
        .eligible = eligible,
        .session_timeout_ms = SESSION_MS,
        .heartbeat_interval_ms = HEARTBEAT_MS,
        .rebalance_timeout_ms = REBALANCE_MS,
        .sticky = sticky,
    };
    sr_leader_t *l = NULL;
    sd_err_t err;
    ck_assert_msg(sr_leader_start(&config, on_change, w, &l, &err) == 0, "%s", err.msg);
    return l;
}

/* Stops an elector and checks it was prompt. */
static void stop_promptly(sr_leader_t *l)
{
    int64_t start = now_ms();
    sr_leader_stop(l);
    int64_t took = now_ms() - start;
    ck_assert_msg(took < 2500, "sr_leader_stop took %lld ms", (long long)took);
}

START_TEST(ipv6_host_url_has_brackets)
{
    broker_t b;
    broker_start(&b);
    watch_t w;
    watch_init(&w);
    sr_leader_t *l = elector(&b, "fd00::7", true, false, &w);
    ck_assert_int_ge(watch_wait(&w, true, "http://[fd00::7]:8081", SETTLE_MS), 0);
    stop_promptly(l);
    watch_destroy(&w);
    broker_stop(&b, false);
}
END_TEST

START_TEST(one_member_leads_itself)
{
    broker_t b;
    broker_start(&b);
    watch_t w;
    watch_init(&w);
    int64_t start = now_ms();
    sr_leader_t *l = elector(&b, "only-host", true, false, &w);
    ck_assert_int_ge(watch_wait(&w, true, "http://only-host:8081", SETTLE_MS), 0);
    printf("one member: leader after %lld ms\n", (long long)(now_ms() - start));
    /* Still the leader a few heartbeats later, with no churn. */
    usleep(4 * HEARTBEAT_MS * 1000);
    pthread_mutex_lock(&w.mu);
    ck_assert(w.is_leader);
    ck_assert_int_eq(w.changes, 1);
    pthread_mutex_unlock(&w.mu);
    stop_promptly(l);
    watch_destroy(&w);
    broker_stop(&b, false);
}
END_TEST

START_TEST(two_members_agree_smallest_url_and_failover)
{
    broker_t b;
    broker_start(&b);
    watch_t wz, wa;
    watch_init(&wz);
    watch_init(&wa);
    /* z-host comes first and leads alone ... */
    sr_leader_t *z = elector(&b, "z-host", true, false, &wz);
    ck_assert_int_ge(watch_wait(&wz, true, "http://z-host:8081", SETTLE_MS), 0);
    /* ... until a-host, whose URL is smaller, joins: without stickiness
     * Confluent's rule moves the writer to it, and both agree. */
    sr_leader_t *a = elector(&b, "a-host", true, false, &wa);
    ck_assert_int_ge(watch_wait(&wa, true, "http://a-host:8081", SETTLE_MS), 0);
    ck_assert_int_ge(watch_wait(&wz, false, "http://a-host:8081", SETTLE_MS), 0);
    /* Stopping the writer (LeaveGroup) hands the place back. */
    int64_t start = now_ms();
    stop_promptly(a);
    int64_t took = watch_wait(&wz, true, "http://z-host:8081", SESSION_MS + REBALANCE_MS + 2000);
    ck_assert_msg(took >= 0, "no failover");
    printf("failover after LeaveGroup: %lld ms\n", (long long)(now_ms() - start));
    stop_promptly(z);
    watch_destroy(&wz);
    watch_destroy(&wa);
    broker_stop(&b, false);
}
END_TEST

START_TEST(sticky_writer_keeps_its_place)
{
    broker_t b;
    broker_start(&b);
    watch_t wz, wa;
    watch_init(&wz);
    watch_init(&wa);
    sr_leader_t *z = elector(&b, "z-host", true, true, &wz);
    ck_assert_int_ge(watch_wait(&wz, true, "http://z-host:8081", SETTLE_MS), 0);
    sr_leader_t *a = elector(&b, "a-host", true, true, &wa);
    /* a-host is told z-host writes, and z-host never gave it up. */
    ck_assert_int_ge(watch_wait(&wa, false, "http://z-host:8081", SETTLE_MS), 0);
    pthread_mutex_lock(&wz.mu);
    ck_assert(wz.is_leader);
    ck_assert_int_eq(wz.changes, 1);
    pthread_mutex_unlock(&wz.mu);
    ck_assert(!wa.ever_leader);
    stop_promptly(z);
    ck_assert_int_ge(watch_wait(&wa, true, "http://a-host:8081", SESSION_MS + REBALANCE_MS + 2000),
                     0);
    stop_promptly(a);
    watch_destroy(&wz);
    watch_destroy(&wa);
    broker_stop(&b, false);
}
END_TEST

START_TEST(ineligible_member_never_leads)
{
    broker_t b;
    broker_start(&b);
    watch_t wn, we;
    watch_init(&wn);
    watch_init(&we);
    /* Alone, a non-eligible member learns there is no writer. */
    sr_leader_t *n = elector(&b, "a-host", false, false, &wn);
    usleep(2000 * 1000);
    pthread_mutex_lock(&wn.mu);
    ck_assert(!wn.has_url);
    ck_assert_int_eq(wn.changes, 0);
    pthread_mutex_unlock(&wn.mu);
    /* An eligible member with a larger URL leads; both agree. */
    sr_leader_t *e = elector(&b, "z-host", true, false, &we);
    ck_assert_int_ge(watch_wait(&we, true, "http://z-host:8081", SETTLE_MS), 0);
    ck_assert_int_ge(watch_wait(&wn, false, "http://z-host:8081", SETTLE_MS), 0);
    /* The writer leaves: the other still may not write. */
    stop_promptly(e);
    ck_assert_int_ge(watch_wait(&wn, false, NULL, SESSION_MS + REBALANCE_MS + 2000), 0);
    ck_assert(!wn.ever_leader);
    stop_promptly(n);
    watch_destroy(&wn);
    watch_destroy(&we);
    broker_stop(&b, false);
}
END_TEST

START_TEST(killed_writer_is_replaced_after_its_session)
{
    broker_t b;
    broker_start(&b);
    /* The writer runs in a child process that is then killed: no
     * LeaveGroup, so the coordinator must notice the silence. */
    pid_t parent = getpid();
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        watch_t w;
        watch_init(&w);
        sr_leader_t *l = elector(&b, "a-host", true, false, &w);
        (void)l;
        for (;;)
            pause();
    }
    watch_t wz;
    watch_init(&wz);
    sr_leader_t *z = elector(&b, "z-host", true, false, &wz);
    ck_assert_int_ge(watch_wait(&wz, false, "http://a-host:8081", SETTLE_MS), 0);
    int64_t start = now_ms();
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    int64_t took =
        watch_wait(&wz, true, "http://z-host:8081", SESSION_MS + REBALANCE_MS + SETTLE_MS);
    ck_assert_msg(took >= 0, "no failover after the writer died");
    printf("failover after a killed writer: %lld ms (session %d ms)\n",
           (long long)(now_ms() - start), SESSION_MS);
    ck_assert_int_lt(now_ms() - start, SESSION_MS + REBALANCE_MS + 3000);
    stop_promptly(z);
    watch_destroy(&wz);
    broker_stop(&b, false);
}
END_TEST

START_TEST(broker_stop_means_no_leader_and_no_hang)
{
    broker_t b;
    broker_start(&b);
    watch_t wz, wa;
    watch_init(&wz);
    watch_init(&wa);
    sr_leader_t *z = elector(&b, "z-host", true, false, &wz);
    sr_leader_t *a = elector(&b, "a-host", true, false, &wa);
    ck_assert_int_ge(watch_wait(&wa, true, "http://a-host:8081", SETTLE_MS), 0);
    ck_assert_int_ge(watch_wait(&wz, false, "http://a-host:8081", SETTLE_MS), 0);
    int64_t start = now_ms();
    broker_stop(&b, true);
    /* The connection drops (or a heartbeat goes unanswered within the
     * session): the writer stops believing it writes. */
    ck_assert_int_ge(watch_wait(&wa, false, NULL, SESSION_MS + 1000), 0);
    ck_assert_int_ge(watch_wait(&wz, false, NULL, SESSION_MS + 1000), 0);
    printf("broker killed: no leader reported after %lld ms\n", (long long)(now_ms() - start));
    /* Reconnecting to nothing goes on with bounded backoff; stop is prompt. */
    usleep(1500 * 1000);
    stop_promptly(a);
    stop_promptly(z);
    watch_destroy(&wz);
    watch_destroy(&wa);
}
END_TEST

START_TEST(silent_coordinator_means_no_leader_within_the_session)
{
    /* A coordinator that stops answering (SIGSTOP: the connection stays
     * open) is the partition case: the writer must stop believing before
     * the group could have gone on without it, sticky or not. */
    for (int sticky = 0; sticky < 2; sticky++) {
        broker_t b;
        broker_start(&b);
        watch_t w;
        watch_init(&w);
        sr_leader_t *l = elector(&b, "a-host", true, sticky, &w);
        ck_assert_int_ge(watch_wait(&w, true, "http://a-host:8081", SETTLE_MS), 0);
        int64_t start = now_ms();
        kill(b.pid, SIGSTOP);
        ck_assert_int_ge(watch_wait(&w, false, NULL, SESSION_MS + 1000), 0);
        int64_t took = now_ms() - start;
        printf("silent coordinator%s: no leader reported after %lld ms (session %d ms)\n",
               sticky ? " (sticky)" : "", (long long)took, SESSION_MS);
        ck_assert_int_le(took, SESSION_MS + 200);
        /* Stop is prompt even with a request unanswered. */
        stop_promptly(l);
        kill(b.pid, SIGCONT);
        watch_destroy(&w);
        broker_stop(&b, false);
    }
}
END_TEST

START_TEST(election_resumes_after_broker_restart)
{
    broker_t b;
    broker_start(&b);
    const char *colon = strrchr(b.bootstrap, ':');
    int port = atoi(colon + 1);
    watch_t w;
    watch_init(&w);
    sr_leader_t *l = elector(&b, "a-host", true, false, &w);
    ck_assert_int_ge(watch_wait(&w, true, "http://a-host:8081", SETTLE_MS), 0);
    broker_stop(&b, false);
    ck_assert_int_ge(watch_wait(&w, false, NULL, SESSION_MS + 1000), 0);
    /* A new broker on the same port knows nothing of the old member id:
     * the elector joins afresh (UNKNOWN_MEMBER_ID) and leads again. */
    broker_start_on(&b, port);
    int64_t took = watch_wait(&w, true, "http://a-host:8081", SETTLE_MS);
    ck_assert_msg(took >= 0, "no leader after the broker came back");
    printf("broker restarted: leader again after %lld ms\n", (long long)took);
    stop_promptly(l);
    watch_destroy(&w);
    broker_stop(&b, false);
}
END_TEST

START_TEST(stop_is_prompt_during_a_parked_join)
{
    /* With Kafka's initial rebalance delay the first JoinGroup of an empty
     * group is parked for 3 s; stop must not wait for it, and LeaveGroup
     * then goes over a fresh connection. */
    broker_t b;
    broker_start_with(&b, 0, 3000);
    watch_t w;
    watch_init(&w);
    sr_leader_t *l = elector(&b, "a-host", true, false, &w);
    usleep(700 * 1000);
    stop_promptly(l);
    ck_assert_int_eq(w.changes, 0);
    /* The group forgot the member: a newcomer still leads after the delay. */
    watch_t w2;
    watch_init(&w2);
    l = elector(&b, "b-host", true, false, &w2);
    ck_assert_int_ge(watch_wait(&w2, true, "http://b-host:8081", SETTLE_MS), 0);
    stop_promptly(l);
    watch_destroy(&w);
    watch_destroy(&w2);
    broker_stop(&b, false);
}
END_TEST

START_TEST(stop_is_prompt_when_nobody_answers)
{
    /* A listener that accepts connections but never answers: the elector
     * sits in FindCoordinator, and stop must still be prompt. */
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(srv, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(srv, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(srv, 8), 0);
    socklen_t alen = sizeof addr;
    ck_assert_int_eq(getsockname(srv, (struct sockaddr *)&addr, &alen), 0);
    broker_t fake = {0};
    snprintf(fake.bootstrap, sizeof fake.bootstrap, " PLAINTEXT://127.0.0.1:%d ,",
             ntohs(addr.sin_port));
    watch_t w;
    watch_init(&w);
    sr_leader_t *l = elector(&fake, "a-host", true, false, &w);
    usleep(500 * 1000);
    stop_promptly(l);
    ck_assert_int_eq(w.changes, 0);
    close(srv);

    /* Nothing listening at all. */
    snprintf(fake.bootstrap, sizeof fake.bootstrap, "127.0.0.1:1,[::1]:1");
    l = elector(&fake, "a-host", true, false, &w);
    usleep(800 * 1000);
    stop_promptly(l);
    ck_assert(!w.ever_leader);
    watch_destroy(&w);
}
END_TEST

START_TEST(start_rejects_bad_configs)
{
    sr_leader_t *l = (sr_leader_t *)1;
    sd_err_t err;
    sr_leader_config_t c = {.bootstrap_servers = "127.0.0.1:9092", .host = "h", .port = 8081};
    ck_assert_int_eq(sr_leader_start(&c, NULL, NULL, &l, &err), SD_ERR_INVALID);
    ck_assert_ptr_null(l);
    const char *bad_servers[] = {"", " , ", "h:0", "h:99999", "h:x", "[::1", ":9092"};
    for (size_t i = 0; i < sizeof bad_servers / sizeof *bad_servers; i++) {
        c.bootstrap_servers = bad_servers[i];
        ck_assert_msg(sr_leader_start(&c, on_change, NULL, &l, &err) == SD_ERR_INVALID,
                      "accepted '%s'", bad_servers[i]);
    }
    c.bootstrap_servers = "127.0.0.1:9092";
    c.port = 0;
    ck_assert_int_eq(sr_leader_start(&c, on_change, NULL, &l, &err), SD_ERR_INVALID);
    c.port = 8081;
    c.session_timeout_ms = 1000;
    c.heartbeat_interval_ms = 1000;
    ck_assert_int_eq(sr_leader_start(&c, on_change, NULL, &l, &err), SD_ERR_INVALID);
    c.session_timeout_ms = 10000;
    c.rebalance_timeout_ms = 500;
    ck_assert_int_eq(sr_leader_start(&c, on_change, NULL, &l, &err), SD_ERR_INVALID);
    sr_leader_stop(NULL);
}
END_TEST

static Suite *sr_leader_suite(void)
{
    Suite *s = suite_create("sr_leader");
    TCase *tc = tcase_create("formats");
    tcase_add_test(tc, identity_bytes_are_confluents);
    tcase_add_test(tc, identity_decodes_confluent_metadata);
    tcase_add_test(tc, assignment_bytes_are_confluents);
    tcase_add_test(tc, assignment_garbage_is_rejected);
    tcase_add_test(tc, rule_smallest_eligible_url);
    tcase_add_test(tc, rule_sticky_and_duplicates);
    tcase_add_test(tc, rule_survives_allocation_failures);
    tcase_add_test(tc, responses_decode_and_reject_bad_bytes);
    tcase_add_test(tc, start_rejects_bad_configs);
    suite_add_tcase(s, tc);
    tc = tcase_create("election");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, stop_is_prompt_when_nobody_answers);
    tcase_add_test(tc, stop_is_prompt_during_a_parked_join);
    tcase_add_test(tc, one_member_leads_itself);
    tcase_add_test(tc, ipv6_host_url_has_brackets);
    tcase_add_test(tc, two_members_agree_smallest_url_and_failover);
    tcase_add_test(tc, sticky_writer_keeps_its_place);
    tcase_add_test(tc, ineligible_member_never_leads);
    tcase_add_test(tc, killed_writer_is_replaced_after_its_session);
    tcase_add_test(tc, broker_stop_means_no_leader_and_no_hang);
    tcase_add_test(tc, election_resumes_after_broker_restart);
    tcase_add_test(tc, silent_coordinator_means_no_leader_within_the_session);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(sr_leader_suite()); }
