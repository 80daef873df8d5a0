/*
 * test_group.c - the consumer-group state machine over a fake clock: joins
 * and rejoins, the leader's sync, heartbeats, leaves, session expiry, a
 * rebalance timeout dropping a silent member, stale generations, unknown
 * members, protocol selection and INCONSISTENT_GROUP_PROTOCOL, the initial
 * rebalance delay, deletion, MEMBER_ID_REQUIRED for a first join.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "group/group.h"
#include "unit.h"

#define SESSION 10000
#define REBALANCE 30000

static bk_groups_t groups;
static int require_known; /* JoinGroup v4+ behaviour */

static void setup_delay(int64_t delay)
{
    bk_group_config_t cfg = {.initial_rebalance_delay_ms = delay,
                             .min_session_timeout_ms = 6000,
                             .max_session_timeout_ms = 1800000};
    bk_groups_init(&groups, &cfg, "test");
}

static void setup(void)
{
    require_known = 0;
    setup_delay(0);
}
static void teardown(void) { bk_groups_free(&groups); }

/* A member's request: its id (NULL/"" for new) and protocol names, each
 * with metadata equal to its name plus `meta`. */
typedef struct client {
    char id[128];
    int32_t wait;
    int32_t generation;
} client_t;

static int join_with(client_t *c, const char *group, const char *const *names, const char *meta,
                     int32_t session, int64_t now)
{
    bk_group_protocol_t protocols[4];
    char metadata[4][32];
    size_t n = 0;
    for (; names[n]; n++) {
        snprintf(metadata[n], sizeof metadata[n], "%s%s", names[n], meta);
        protocols[n].name = (char *)names[n];
        protocols[n].metadata = (uint8_t *)metadata[n];
        protocols[n].metadata_len = (int32_t)strlen(metadata[n]);
    }
    bk_group_join_args_t args = {.member_id = c->id,
                                 .client_id = "client",
                                 .client_host = "/127.0.0.1",
                                 .session_timeout_ms = session,
                                 .rebalance_timeout_ms = REBALANCE,
                                 .protocol_type = "consumer",
                                 .protocols = protocols,
                                 .nprotocols = n,
                                 .require_known_member_id = require_known};
    const char *id = NULL;
    int rc = bk_group_join(&groups, group, &args, now, &id, &c->wait);
    if (rc == 0 || rc == BKG_MEMBER_ID_REQUIRED)
        snprintf(c->id, sizeof c->id, "%s", id);
    return rc;
}

static const char *const RANGE[] = {"range", NULL};

static int join(client_t *c, int64_t now) { return join_with(c, "g", RANGE, "", SESSION, now); }

/* Polls a join; on success records the generation. */
static int poll_join(client_t *c, int64_t now, bk_group_join_result_t *out)
{
    bk_group_join_result_t local;
    if (!out)
        out = &local;
    int rc = bk_group_join_poll(&groups, "g", c->id, c->wait, now, out);
    if (rc == 0)
        c->generation = out->generation;
    return rc;
}

static int sync_leader(client_t *leader, client_t **all, size_t n, int64_t now)
{
    bk_group_assignment_t a[8];
    for (size_t i = 0; i < n; i++) {
        a[i].member_id = all[i]->id;
        a[i].data = (const uint8_t *)all[i]->id;
        a[i].len = (int32_t)strlen(all[i]->id);
    }
    return bk_group_sync(&groups, "g", leader->id, leader->generation, a, n, now);
}

static int poll_sync(client_t *c, int64_t now, const char **assignment)
{
    const uint8_t *data = NULL;
    int32_t len = 0;
    int rc = bk_group_sync_poll(&groups, "g", c->id, c->generation, now, &data, &len);
    if (rc == 0 && assignment) {
        static char copy[128];
        snprintf(copy, sizeof copy, "%.*s", (int)len, (const char *)data);
        *assignment = copy;
    }
    return rc;
}

static bk_group_state_t state(void) { return bk_groups_find(&groups, "g")->state; }

/* Two members through a complete first rebalance, a as leader. */
static void two_stable(client_t *a, client_t *b, int64_t now)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    ck_assert_int_eq(join(a, now), 0);
    ck_assert_int_eq(poll_join(a, now, NULL), 0); /* alone: completes at once */
    ck_assert_int_eq(join(b, now), 0);            /* a new member: rebalance */
    ck_assert_int_eq(state(), BKG_PREPARING_REBALANCE);
    ck_assert_int_eq(poll_join(b, now, NULL), BKG_WAIT);
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", a->id, a->generation, now),
                     BKG_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(join(a, now), 0);
    ck_assert_int_eq(state(), BKG_COMPLETING_REBALANCE);
    ck_assert_int_eq(poll_join(a, now, NULL), 0);
    ck_assert_int_eq(poll_join(b, now, NULL), 0);
    client_t *all[] = {a, b};
    ck_assert_int_eq(poll_sync(b, now, NULL), BKG_WAIT);
    ck_assert_int_eq(sync_leader(a, all, 2, now), 0);
    ck_assert_int_eq(state(), BKG_STABLE);
}

START_TEST(first_join_leader_and_sync)
{
    client_t a = {0}, b = {0};
    ck_assert_int_eq(join(&a, 0), 0);
    ck_assert_ptr_nonnull(strstr(a.id, "client-test-"));
    bk_group_join_result_t r;
    ck_assert_int_eq(poll_join(&a, 0, &r), 0);
    ck_assert_int_eq(r.generation, 1);
    ck_assert_str_eq(r.protocol_name, "range");
    ck_assert_str_eq(r.leader_id, a.id);
    ck_assert_uint_eq(r.nmembers, 1);
    ck_assert_int_eq(r.members[0].metadata_len, 5);
    ck_assert_int_eq(state(), BKG_COMPLETING_REBALANCE);
    /* Heartbeats are fine while the leader works out the assignment. */
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", a.id, 1, 10), 0);
    /* A commit waits for the assignment. */
    ck_assert_int_eq(bk_group_validate_commit(&groups, "g", a.id, 1, 10),
                     BKG_REBALANCE_IN_PROGRESS);

    client_t *all[] = {&a};
    ck_assert_int_eq(sync_leader(&a, all, 1, 10), 0);
    const char *assignment = NULL;
    ck_assert_int_eq(poll_sync(&a, 10, &assignment), 0);
    ck_assert_str_eq(assignment, a.id);
    ck_assert_int_eq(state(), BKG_STABLE);
    ck_assert_int_eq(bk_group_validate_commit(&groups, "g", a.id, 1, 10), 0);

    /* The second member: a rebalance; the leader rejoins after its
     * heartbeat says so; followers get no member list, everyone its own
     * assignment. */
    ck_assert_int_eq(join(&b, 20), 0);
    ck_assert_int_eq(poll_join(&b, 20, NULL), BKG_WAIT);
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", a.id, 1, 20), BKG_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(join(&a, 30), 0);
    ck_assert_int_eq(poll_join(&a, 30, &r), 0);
    ck_assert_uint_eq(r.nmembers, 2);
    bk_group_join_result_t rb;
    ck_assert_int_eq(poll_join(&b, 30, &rb), 0);
    ck_assert_uint_eq(rb.nmembers, 0);
    ck_assert_str_eq(rb.leader_id, a.id);
    ck_assert_int_eq(a.generation, 2);
    ck_assert_int_eq(b.generation, 2);
    ck_assert_int_eq(poll_sync(&b, 30, NULL), BKG_WAIT);
    client_t *both[] = {&a, &b};
    ck_assert_int_eq(sync_leader(&a, both, 2, 40), 0);
    ck_assert_int_eq(poll_sync(&b, 40, &assignment), 0);
    ck_assert_str_eq(assignment, b.id);
    ck_assert_int_eq(poll_sync(&a, 40, &assignment), 0);
    ck_assert_str_eq(assignment, a.id);
}
END_TEST

START_TEST(rejoin_unchanged_follower_keeps_generation)
{
    client_t a, b;
    two_stable(&a, &b, 0);
    int32_t gen = b.generation;
    /* A follower rejoining with the same metadata gets the same answer. */
    ck_assert_int_eq(join(&b, 100), 0);
    ck_assert_int_eq(state(), BKG_STABLE);
    ck_assert_int_eq(poll_join(&b, 100, NULL), 0);
    ck_assert_int_eq(b.generation, gen);
    /* New metadata, or the leader rejoining, starts a rebalance. */
    ck_assert_int_eq(join_with(&b, "g", RANGE, "-v2", SESSION, 200), 0);
    ck_assert_int_eq(state(), BKG_PREPARING_REBALANCE);
    ck_assert_int_eq(poll_join(&b, 200, NULL), BKG_WAIT);
    ck_assert_int_eq(join(&a, 300), 0);
    ck_assert_int_eq(poll_join(&b, 300, NULL), 0);
    ck_assert_int_eq(b.generation, gen + 1);
}
END_TEST

START_TEST(leave_rebalances_and_last_leave_empties)
{
    client_t a, b;
    two_stable(&a, &b, 0);
    int32_t gen = a.generation;
    ck_assert_int_eq(bk_group_leave(&groups, "g", b.id, 10), 0);
    ck_assert_int_eq(state(), BKG_PREPARING_REBALANCE);
    ck_assert_int_eq(bk_group_leave(&groups, "g", b.id, 10), BKG_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", a.id, gen, 10), BKG_REBALANCE_IN_PROGRESS);
    ck_assert_int_eq(join(&a, 20), 0);
    ck_assert_int_eq(poll_join(&a, 20, NULL), 0);
    ck_assert_int_eq(a.generation, gen + 1);
    ck_assert_int_eq(bk_group_leave(&groups, "g", a.id, 30), 0);
    ck_assert_int_eq(state(), BKG_EMPTY);
    ck_assert_int_eq(bk_groups_find(&groups, "g")->generation, gen + 2);
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", a.id, gen + 1, 40), BKG_UNKNOWN_MEMBER_ID);
}
END_TEST

START_TEST(session_expiry_removes_member)
{
    client_t a, b;
    two_stable(&a, &b, 0);
    /* a heartbeats, b goes silent. */
    for (int64_t t = 3000; t < SESSION; t += 3000)
        ck_assert_int_eq(bk_group_heartbeat(&groups, "g", a.id, a.generation, t), 0);
    ck_assert_int_eq(bk_groups_tick(&groups, SESSION - 1), 0);
    ck_assert_int_eq(state(), BKG_STABLE);
    ck_assert_int_ne(bk_groups_tick(&groups, SESSION), 0);
    ck_assert_int_eq(state(), BKG_PREPARING_REBALANCE);
    ck_assert_uint_eq(bk_groups_find(&groups, "g")->nmembers, 1);
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", b.id, b.generation, SESSION),
                     BKG_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(join(&a, SESSION + 10), 0);
    ck_assert_int_eq(poll_join(&a, SESSION + 10, NULL), 0);
    ck_assert_int_eq(state(), BKG_COMPLETING_REBALANCE);
}
END_TEST

START_TEST(parked_join_keeps_member_alive_and_dead_one_expires)
{
    client_t a, b, c = {0};
    two_stable(&a, &b, 0);
    /* c joins; a rejoins; both wait, their requests polling. b keeps
     * heartbeating for a while without rejoining, then goes silent, like a
     * client whose connection died. */
    ck_assert_int_eq(join(&c, 1000), 0);
    ck_assert_int_eq(join(&a, 1000), 0);
    int64_t t = 2000;
    for (; t <= 15000; t += 1000) {
        ck_assert_int_eq(poll_join(&a, t, NULL), BKG_WAIT);
        ck_assert_int_eq(poll_join(&c, t, NULL), BKG_WAIT);
        if (t % 2000 == 0)
            ck_assert_int_eq(bk_group_heartbeat(&groups, "g", b.id, b.generation, t),
                             BKG_REBALANCE_IN_PROGRESS);
        ck_assert_int_eq(bk_groups_tick(&groups, t), 0);
    }
    /* a and c joined more than a session ago but stay: their polls count. */
    for (; t < 14000 + SESSION; t += 1000) {
        ck_assert_int_eq(poll_join(&a, t, NULL), BKG_WAIT);
        ck_assert_int_eq(poll_join(&c, t, NULL), BKG_WAIT);
        bk_groups_tick(&groups, t);
    }
    /* b's session ran out: the rebalance completes with a and c. */
    ck_assert_int_ne(bk_groups_tick(&groups, 14000 + SESSION), 0);
    ck_assert_int_eq(poll_join(&a, t, NULL), 0);
    ck_assert_int_eq(poll_join(&c, t, NULL), 0);
    ck_assert_int_eq(poll_join(&b, t, NULL), BKG_UNKNOWN_MEMBER_ID);
    ck_assert_uint_eq(bk_groups_find(&groups, "g")->nmembers, 2);
    /* Neither a nor c syncs or heartbeats (their connections closed while
     * the answers were on the way): one session later they are gone too. */
    bk_groups_tick(&groups, t + SESSION);
    ck_assert_int_eq(state(), BKG_EMPTY);
}
END_TEST

START_TEST(rebalance_timeout_drops_silent_member)
{
    client_t a, b;
    two_stable(&a, &b, 0);
    client_t c = {0};
    ck_assert_int_eq(join(&c, 100), 0);
    /* a rejoins; b keeps heartbeating but never rejoins. */
    ck_assert_int_eq(join(&a, 100), 0);
    int64_t t = 100;
    for (; t < 100 + REBALANCE; t += 2000) {
        ck_assert_int_eq(bk_group_heartbeat(&groups, "g", b.id, b.generation, t),
                         BKG_REBALANCE_IN_PROGRESS);
        ck_assert_int_eq(poll_join(&a, t, NULL), BKG_WAIT);
        ck_assert_int_eq(poll_join(&c, t, NULL), BKG_WAIT);
        bk_groups_tick(&groups, t);
    }
    bk_groups_tick(&groups, 100 + REBALANCE);
    ck_assert_int_eq(state(), BKG_COMPLETING_REBALANCE);
    bk_group_join_result_t r;
    ck_assert_int_eq(poll_join(&a, t, &r), 0);
    ck_assert_uint_eq(r.nmembers, 2); /* a is still the leader */
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", b.id, b.generation, t),
                     BKG_UNKNOWN_MEMBER_ID);
}
END_TEST

START_TEST(stale_generation_and_unknown_member)
{
    client_t a, b;
    two_stable(&a, &b, 0);
    int32_t gen = a.generation;
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", a.id, gen - 1, 10), BKG_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_group_validate_commit(&groups, "g", a.id, gen - 1, 10),
                     BKG_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_group_sync(&groups, "g", a.id, gen - 1, NULL, 0, 10),
                     BKG_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_group_heartbeat(&groups, "g", "nobody", gen, 10), BKG_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(bk_group_validate_commit(&groups, "g", "nobody", gen, 10),
                     BKG_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(bk_group_heartbeat(&groups, "other", a.id, gen, 10), BKG_UNKNOWN_MEMBER_ID);
    client_t ghost = {0};
    strcpy(ghost.id, "ghost");
    ck_assert_int_eq(join(&ghost, 10), BKG_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(join_with(&ghost, "new-group", RANGE, "", SESSION, 10), BKG_UNKNOWN_MEMBER_ID);
    /* Standalone commits only while the group has no members. */
    ck_assert_int_eq(bk_group_validate_commit(&groups, "g", "", -1, 10), BKG_UNKNOWN_MEMBER_ID);
    ck_assert_int_eq(bk_group_validate_commit(&groups, "solo", "", -1, 10), 0);
    ck_assert_int_eq(bk_group_validate_commit(&groups, "solo", "m", 3, 10), BKG_ILLEGAL_GENERATION);
    ck_assert_int_eq(bk_group_validate_commit(&groups, "", "", -1, 10), BKG_INVALID_GROUP_ID);
    /* A sync during a rebalance. */
    client_t c = {0};
    ck_assert_int_eq(join(&c, 20), 0);
    ck_assert_int_eq(bk_group_sync(&groups, "g", b.id, gen, NULL, 0, 20),
                     BKG_REBALANCE_IN_PROGRESS);
}
END_TEST

START_TEST(follower_waiting_for_sync_sees_rebalance)
{
    client_t a = {0}, b = {0}, c = {0};
    ck_assert_int_eq(join(&a, 0), 0);
    ck_assert_int_eq(poll_join(&a, 0, NULL), 0);
    ck_assert_int_eq(join(&b, 0), 0);
    ck_assert_int_eq(join(&a, 0), 0);
    ck_assert_int_eq(poll_join(&a, 0, NULL), 0);
    ck_assert_int_eq(poll_join(&b, 0, NULL), 0);
    ck_assert_int_eq(bk_group_sync(&groups, "g", b.id, b.generation, NULL, 0, 0), 0);
    ck_assert_int_eq(poll_sync(&b, 0, NULL), BKG_WAIT);
    /* Before the leader syncs, a new member arrives. */
    ck_assert_int_eq(join(&c, 10), 0);
    ck_assert_int_eq(poll_sync(&b, 10, NULL), BKG_REBALANCE_IN_PROGRESS);
}
END_TEST

START_TEST(protocol_selection_and_inconsistent)
{
    static const char *const A[] = {"roundrobin", "range", NULL};
    static const char *const B[] = {"range", "roundrobin", NULL};
    static const char *const C[] = {"range", NULL};
    static const char *const D[] = {"RoundRobinAssigner", NULL};
    client_t a = {0}, b = {0}, c = {0}, d = {0};
    ck_assert_int_eq(join_with(&a, "g", A, "", SESSION, 0), 0);
    ck_assert_int_eq(join_with(&b, "g", B, "", SESSION, 0), 0);
    ck_assert_int_eq(join_with(&a, "g", A, "", SESSION, 0), 0);
    bk_group_join_result_t r;
    ck_assert_int_eq(poll_join(&a, 0, &r), 0);
    /* a votes roundrobin, b range: a tie goes to the first member's order. */
    ck_assert_str_eq(r.protocol_name, "roundrobin");
    ck_assert_int_eq(r.members[0].metadata_len, (int)strlen("roundrobin"));
    /* c supports only range: every member can do range, 2 votes to 1. */
    ck_assert_int_eq(join_with(&c, "g", C, "", SESSION, 10), 0);
    ck_assert_int_eq(join_with(&a, "g", A, "", SESSION, 10), 0);
    ck_assert_int_eq(join_with(&b, "g", B, "", SESSION, 10), 0);
    ck_assert_int_eq(poll_join(&a, 10, &r), 0);
    ck_assert_str_eq(r.protocol_name, "range");
    /* kafkajs's protocol name shares nothing with the others. */
    ck_assert_int_eq(join_with(&d, "g", D, "", SESSION, 20), BKG_INCONSISTENT_GROUP_PROTOCOL);
    /* No protocol at all. */
    static const char *const NONE[] = {NULL};
    client_t e = {0};
    ck_assert_int_eq(join_with(&e, "h", NONE, "", SESSION, 20), BKG_INCONSISTENT_GROUP_PROTOCOL);
    ck_assert_ptr_null(bk_groups_find(&groups, "h"));
}
END_TEST

START_TEST(session_timeout_bounds_and_group_id)
{
    client_t a = {0};
    ck_assert_int_eq(join_with(&a, "g", RANGE, "", 5999, 0), BKG_INVALID_SESSION_TIMEOUT);
    ck_assert_int_eq(join_with(&a, "g", RANGE, "", 1800001, 0), BKG_INVALID_SESSION_TIMEOUT);
    ck_assert_int_eq(join_with(&a, "", RANGE, "", SESSION, 0), BKG_INVALID_GROUP_ID);
    ck_assert_int_eq(join_with(&a, "g", RANGE, "", 6000, 0), 0);
}
END_TEST

START_TEST(initial_delay_waits_for_more_members)
{
    bk_groups_free(&groups);
    setup_delay(3000);
    client_t a = {0}, b = {0};
    ck_assert_int_eq(join(&a, 0), 0);
    ck_assert_int_eq(poll_join(&a, 0, NULL), BKG_WAIT);
    bk_groups_tick(&groups, 2000);
    ck_assert_int_eq(state(), BKG_PREPARING_REBALANCE);
    /* Another member inside the delay stretches it by another delay. */
    ck_assert_int_eq(join(&b, 2000), 0);
    bk_groups_tick(&groups, 4000);
    ck_assert_int_eq(poll_join(&a, 4000, NULL), BKG_WAIT);
    bk_groups_tick(&groups, 5000);
    ck_assert_int_eq(state(), BKG_COMPLETING_REBALANCE);
    bk_group_join_result_t r;
    ck_assert_int_eq(poll_join(&a, 5000, &r), 0);
    ck_assert_uint_eq(r.nmembers, 2);
    ck_assert_int_eq(r.generation, 1);
    ck_assert_int_eq(poll_join(&b, 5000, NULL), 0);
}
END_TEST

START_TEST(delete_only_empty_groups)
{
    client_t a = {0};
    ck_assert_int_eq(join(&a, 0), 0);
    ck_assert_int_eq(bk_groups_delete(&groups, "g"), BKG_NON_EMPTY_GROUP);
    ck_assert_int_eq(bk_group_leave(&groups, "g", a.id, 10), 0);
    ck_assert_int_eq(state(), BKG_EMPTY);
    ck_assert_int_eq(bk_groups_delete(&groups, "g"), 0);
    ck_assert_ptr_null(bk_groups_find(&groups, "g"));
    ck_assert_int_eq(bk_groups_delete(&groups, "never"), 0);
    ck_assert_str_eq(bk_group_state_name(BKG_DEAD), "Dead");
}
END_TEST

START_TEST(member_id_required_then_join)
{
    require_known = 1;
    client_t a = {0}, ghost = {0};
    ck_assert_int_eq(join(&a, 0), BKG_MEMBER_ID_REQUIRED);
    ck_assert_ptr_nonnull(strstr(a.id, "client-test-"));
    ck_assert_int_eq(state(), BKG_EMPTY); /* nobody is a member yet */
    char first[128];
    strcpy(first, a.id);
    ck_assert_int_eq(join(&a, 10), 0);
    ck_assert_str_eq(a.id, first);
    bk_group_join_result_t r;
    ck_assert_int_eq(poll_join(&a, 10, &r), 0);
    ck_assert_uint_eq(r.nmembers, 1);
    /* An id handed out but never used (a retried first join) leaves no
     * member behind, and is forgotten after a session timeout. */
    ck_assert_int_eq(join(&ghost, 20), BKG_MEMBER_ID_REQUIRED);
    ck_assert_int_eq(state(), BKG_COMPLETING_REBALANCE);
    ck_assert_uint_eq(bk_groups_find(&groups, "g")->nmembers, 1);
    bk_groups_tick(&groups, 20 + SESSION);
    ck_assert_int_eq(join(&ghost, 30 + SESSION), BKG_UNKNOWN_MEMBER_ID);
    client_t made_up = {0};
    strcpy(made_up.id, "client-made-up");
    ck_assert_int_eq(join(&made_up, 40), BKG_UNKNOWN_MEMBER_ID);
}
END_TEST

/* Every allocation of a whole group lifetime failing in turn: answers may
 * be errors, but nothing crashes or leaks (the sanitizer build checks). */
START_TEST(allocation_failures)
{
    for (long n = 0; n < 200; n++) {
        bk_groups_free(&groups);
        setup_delay(0);
        client_t a = {0}, b = {0};
        sd_alloc_fail_after(n);
        join(&a, 0);
        poll_join(&a, 0, NULL);
        join(&b, 10);
        join(&a, 10);
        poll_join(&a, 10, NULL);
        poll_join(&b, 10, NULL);
        client_t *all[] = {&a, &b};
        sync_leader(&a, all, 2, 20);
        poll_sync(&b, 20, NULL);
        bk_group_leave(&groups, "g", b.id, 30);
        bk_groups_tick(&groups, 40);
        sd_alloc_fail_after(-1);
        /* The group still works once memory is back. */
        bk_groups_tick(&groups, 100000);
        client_t c = {0};
        ck_assert_int_eq(join(&c, 100000), 0);
        ck_assert_int_eq(poll_join(&c, 100000, NULL), 0);
    }
}
END_TEST

static Suite *group_suite(void)
{
    Suite *s = suite_create("group");
    TCase *tc = tcase_create("state machine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, first_join_leader_and_sync);
    tcase_add_test(tc, rejoin_unchanged_follower_keeps_generation);
    tcase_add_test(tc, leave_rebalances_and_last_leave_empties);
    tcase_add_test(tc, session_expiry_removes_member);
    tcase_add_test(tc, parked_join_keeps_member_alive_and_dead_one_expires);
    tcase_add_test(tc, rebalance_timeout_drops_silent_member);
    tcase_add_test(tc, stale_generation_and_unknown_member);
    tcase_add_test(tc, follower_waiting_for_sync_sees_rebalance);
    tcase_add_test(tc, protocol_selection_and_inconsistent);
    tcase_add_test(tc, session_timeout_bounds_and_group_id);
    tcase_add_test(tc, initial_delay_waits_for_more_members);
    tcase_add_test(tc, delete_only_empty_groups);
    tcase_add_test(tc, member_id_required_then_join);
    tcase_add_test(tc, allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(group_suite()); }
