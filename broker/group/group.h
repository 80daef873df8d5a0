/*
 * group.h - the classic consumer-group coordinator's state machine (Kafka's
 * ClassicGroupState: Empty, PreparingRebalance, CompletingRebalance, Stable,
 * Dead), as pure logic over an explicit clock: no sockets, no storage. The
 * handlers drive it; parked requests poll it; the event loop calls
 * bk_groups_tick once per turn for session expiry and rebalance deadlines.
 *
 * Liveness: a member stays alive while it heartbeats, or while one of its
 * JoinGroup/SyncGroup requests is parked (each poll refreshes it). A parked
 * request whose connection closes simply stops polling, so its member
 * expires one session timeout later, as in Kafka.
 */
#ifndef STRAND_BROKER_GROUP_H
#define STRAND_BROKER_GROUP_H

#include <stddef.h>
#include <stdint.h>

/* Kafka error codes the group operations answer with. */
enum {
    BKG_OK = 0,
    BKG_COORDINATOR_NOT_AVAILABLE = 15,
    BKG_ILLEGAL_GENERATION = 22,
    BKG_INCONSISTENT_GROUP_PROTOCOL = 23,
    BKG_INVALID_GROUP_ID = 24,
    BKG_UNKNOWN_MEMBER_ID = 25,
    BKG_INVALID_SESSION_TIMEOUT = 26,
    BKG_REBALANCE_IN_PROGRESS = 27,
    BKG_NON_EMPTY_GROUP = 68,
    BKG_GROUP_ID_NOT_FOUND = 69,
    BKG_MEMBER_ID_REQUIRED = 79,
};
/* A poll's answer when the result is not there yet: keep the request parked. */
#define BKG_WAIT (-1)

typedef enum {
    BKG_EMPTY = 0,
    BKG_PREPARING_REBALANCE,
    BKG_COMPLETING_REBALANCE,
    BKG_STABLE,
    BKG_DEAD,
} bk_group_state_t;

typedef struct bk_group_config {
    int64_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int64_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int64_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
} bk_group_config_t;

/* One protocol a member supports, in its order of preference. */
typedef struct bk_group_protocol {
    char *name;
    uint8_t *metadata;
    int32_t metadata_len;
} bk_group_protocol_t;

typedef struct bk_group_member {
    char *id;
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    bk_group_protocol_t *protocols;
    size_t nprotocols;
    uint8_t *assignment; /* from the leader's SyncGroup; NULL before */
    int32_t assignment_len;
    int64_t expires_ms;        /* removed when the clock reaches this */
    int awaiting_join;         /* rejoined for the rebalance in progress */
    int32_t joined_generation; /* last generation whose join result it may take */
    int32_t synced_generation; /* last generation whose assignment is set */
} bk_group_member_t;

/* A member id handed out with MEMBER_ID_REQUIRED, not yet used to join. */
typedef struct bk_group_pending {
    char *id;
    int64_t expires_ms;
} bk_group_pending_t;

/* A member as the leader's JoinGroup response lists it. */
typedef struct bk_group_joined {
    char *member_id;
    uint8_t *metadata;
    int32_t metadata_len;
} bk_group_joined_t;

typedef struct bk_group {
    char *id;
    bk_group_state_t state;
    int32_t generation;
    char *protocol_type; /* NULL until the first member joins */
    char *protocol_name; /* selected at the end of each rebalance; NULL when Empty */
    char *leader_id;
    bk_group_member_t **members;
    size_t nmembers, members_cap;
    int64_t rebalance_deadline_ms;  /* PreparingRebalance ends here at the latest */
    int64_t initial_delay_until_ms; /* and not before this, for a group that was Empty */
    int64_t rebalance_started_ms;
    bk_group_pending_t *pending;
    size_t npending, pending_cap;
    /* The members of the last completed generation, for the leader. */
    bk_group_joined_t *joined;
    size_t njoined;
} bk_group_t;

typedef struct bk_groups {
    bk_group_config_t config;
    bk_group_t **items;
    size_t count, cap;
    char instance_tag[40]; /* makes member ids unique across restarts */
    uint64_t next_member;
    int changed; /* set when parked requests may now be answered */
} bk_groups_t;

/* What JoinGroup asks for; every pointer is borrowed for the call. */
typedef struct bk_group_join_args {
    const char *member_id; /* "" for a new member */
    const char *client_id;
    const char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    const char *protocol_type;
    const bk_group_protocol_t *protocols;
    size_t nprotocols;
    /* JoinGroup v4+: a new member first gets its id with MEMBER_ID_REQUIRED
     * and joins with it (so a retried first join leaves no ghost member);
     * the id is forgotten if unused for a session timeout. */
    int require_known_member_id;
} bk_group_join_args_t;

/* A JoinGroup answer; borrowed from the group until its next change. */
typedef struct bk_group_join_result {
    int32_t generation;
    const char *protocol_name;
    const char *leader_id;
    const char *member_id;
    const bk_group_joined_t *members; /* the leader only; NULL otherwise */
    size_t nmembers;
} bk_group_join_result_t;

/* An assignment from the leader's SyncGroup (borrowed for the call). */
typedef struct bk_group_assignment {
    const char *member_id;
    const uint8_t *data;
    int32_t len;
} bk_group_assignment_t;

/* instance_tag (copied, at most 39 characters) goes into every member id. */
void bk_groups_init(bk_groups_t *groups, const bk_group_config_t *config, const char *instance_tag);
void bk_groups_free(bk_groups_t *groups);
/* The group or NULL; borrowed until it is deleted. */
bk_group_t *bk_groups_find(bk_groups_t *groups, const char *group_id);
/* Returns and clears the "parked requests may be answered" flag. */
int bk_groups_take_changed(bk_groups_t *groups);

/* JoinGroup. On success (0) *member_id (borrowed from the member) names the
 * joining member and *wait_generation is what to pass to bk_group_join_poll.
 * BKG_MEMBER_ID_REQUIRED sets *member_id to the id to join with. Otherwise
 * a Kafka error code; allocation failures give BKG_COORDINATOR_NOT_AVAILABLE. */
int bk_group_join(bk_groups_t *groups, const char *group_id, const bk_group_join_args_t *args,
                  int64_t now_ms, const char **member_id, int32_t *wait_generation);
/* 0 with *out filled once the rebalance the member joined has completed,
 * BKG_WAIT before, or an error code (the member was dropped: 25). */
int bk_group_join_poll(bk_groups_t *groups, const char *group_id, const char *member_id,
                       int32_t wait_generation, int64_t now_ms, bk_group_join_result_t *out);

/* SyncGroup: the leader's call stores every assignment and makes the group
 * Stable. Returns 0 (then poll), or an error code. */
int bk_group_sync(bk_groups_t *groups, const char *group_id, const char *member_id,
                  int32_t generation, const bk_group_assignment_t *assignments, size_t n,
                  int64_t now_ms);
/* 0 with the member's assignment (borrowed until the group changes),
 * BKG_WAIT while the leader has not synced, or an error code. */
int bk_group_sync_poll(bk_groups_t *groups, const char *group_id, const char *member_id,
                       int32_t generation, int64_t now_ms, const uint8_t **assignment,
                       int32_t *len);

int bk_group_heartbeat(bk_groups_t *groups, const char *group_id, const char *member_id,
                       int32_t generation, int64_t now_ms);
int bk_group_leave(bk_groups_t *groups, const char *group_id, const char *member_id,
                   int64_t now_ms);
/* May this OffsetCommit be stored? generation < 0 with an empty member id
 * is a standalone commit, allowed unless the group has members. */
int bk_group_validate_commit(bk_groups_t *groups, const char *group_id, const char *member_id,
                             int32_t generation, int64_t now_ms);
/* Deletes a group without members (it goes Dead and is forgotten). Returns 0
 * (also when unknown here), or BKG_NON_EMPTY_GROUP. */
int bk_groups_delete(bk_groups_t *groups, const char *group_id);

/* Expires members whose session ran out and ends rebalances whose time has
 * come. Returns nonzero when something changed. */
int bk_groups_tick(bk_groups_t *groups, int64_t now_ms);

/* "Empty", "PreparingRebalance", ... as Kafka names them. */
const char *bk_group_state_name(bk_group_state_t state);
/* The member's metadata for the group's selected protocol (NULL if none). */
const bk_group_protocol_t *bk_group_member_protocol(const bk_group_t *group,
                                                    const bk_group_member_t *member);

#endif
