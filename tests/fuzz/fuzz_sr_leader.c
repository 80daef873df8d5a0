/*
 * fuzz_sr_leader.c - libFuzzer target for the leader election's decoders
 * (sr_leader.c): the Kafka responses it reads, Confluent's identity and
 * assignment JSON, and the election rule over the members of a JoinGroup
 * answer. The first byte picks the target, the rest is its input:
 *
 *   0-4  response body of FindCoordinator, JoinGroup, Heartbeat, LeaveGroup,
 *        SyncGroup (api keys 10-14)
 *   5    assignment JSON          6  identity JSON
 *   7    a JoinGroup body whose members go through sr_leader_assign
 *
 * Beyond "no crash, no over-read, no leak": JSON that decodes re-encodes to
 * bytes that decode and encode to the same bytes, and the elected member is
 * always one of the members, eligible, with the smallest URL or a claim.
 * Seeds: tests/fuzz/corpus/fuzz_sr_leader/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "sr_leader.h"

static int quiet;

static void drop_log(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)level;
    (void)module;
    (void)line;
    (void)opaque;
}

/* Encodes, decodes and encodes again: the two encodings must match. */
static void check_assignment(const sr_leader_assignment_t *a)
{
    sd_writer_t first, second;
    sd_writer_init(&first);
    sd_writer_init(&second);
    if (sr_leader_assignment_encode(a, &first))
        abort();
    sr_leader_assignment_t again;
    sd_err_t err;
    if (sr_leader_assignment_decode(first.buf, first.len, &again, &err))
        abort();
    if (sr_leader_assignment_encode(&again, &second))
        abort();
    if (first.len != second.len || memcmp(first.buf, second.buf, first.len))
        abort();
    sr_leader_assignment_clear(&again);
    sd_writer_free(&first);
    sd_writer_free(&second);
}

static void check_identity(const sr_leader_identity_t *id)
{
    sd_writer_t first, second;
    sd_writer_init(&first);
    sd_writer_init(&second);
    if (sr_leader_identity_encode(id, &first))
        abort();
    sr_leader_identity_t again;
    sd_err_t err;
    if (sr_leader_identity_decode(first.buf, first.len, &again, &err))
        abort();
    if (sr_leader_identity_encode(&again, &second))
        abort();
    if (first.len != second.len || memcmp(first.buf, second.buf, first.len))
        abort();
    sr_leader_identity_clear(&again);
    sd_writer_free(&first);
    sd_writer_free(&second);
}

static void check_election(const sr_leader_response_t *rs, bool sticky)
{
    sr_leader_assignment_t a;
    sd_err_t err;
    if (sr_leader_assign(rs->members, rs->member_count, sticky, &a, &err))
        abort();
    if (a.master) {
        size_t chosen = rs->member_count;
        for (size_t i = 0; i < rs->member_count; i++)
            if (strcmp(rs->members[i].member_id, a.master) == 0)
                chosen = i;
        if (chosen == rs->member_count || !a.has_identity || !a.master_identity.eligible)
            abort();
        /* Without a claim, nobody eligible has a smaller URL. */
        char best[2048], url[2048];
        if (sr_leader_identity_url(&a.master_identity, best, sizeof best))
            abort();
        for (size_t i = 0; !(sticky && a.master_identity.leader) && i < rs->member_count; i++) {
            sr_leader_identity_t id;
            if (sr_leader_identity_decode(rs->members[i].metadata, rs->members[i].metadata_len, &id,
                                          &err))
                continue;
            if (id.eligible && sr_leader_identity_url(&id, url, sizeof url) == 0 &&
                strcmp(url, best) < 0)
                abort();
            sr_leader_identity_clear(&id);
        }
    } else if (a.has_identity) {
        abort();
    }
    check_assignment(&a);
    sr_leader_assignment_clear(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!quiet) {
        sd_log_set_sink(drop_log, NULL);
        quiet = 1;
    }
    if (size < 1)
        return 0;
    uint8_t target = data[0] % 8;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    sd_err_t err;
    if (target < 5) {
        sr_leader_response_t rs;
        if (sr_leader_response_decode((int16_t)(SR_LEADER_API_FIND_COORDINATOR + target), in, len,
                                      &rs, &err) == 0)
            sr_leader_response_clear(&rs);
    } else if (target == 5) {
        sr_leader_assignment_t a;
        if (sr_leader_assignment_decode(in, len, &a, &err) == 0) {
            check_assignment(&a);
            sr_leader_assignment_clear(&a);
        }
    } else if (target == 6) {
        sr_leader_identity_t id;
        if (sr_leader_identity_decode(in, len, &id, &err) == 0) {
            check_identity(&id);
            sr_leader_identity_clear(&id);
        }
    } else {
        sr_leader_response_t rs;
        if (sr_leader_response_decode(SR_LEADER_API_JOIN_GROUP, in, len, &rs, &err) == 0) {
            check_election(&rs, false);
            check_election(&rs, true);
            sr_leader_response_clear(&rs);
        }
    }
    return 0;
}
