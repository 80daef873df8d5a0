/*
 * group.c - the classic group protocol's state machine (see group.h):
 * membership, rebalances with protocol selection and generations, leader
 * assignments, session expiry. Transitions follow Kafka's ClassicGroupState:
 *   Empty -> PreparingRebalance          a member joins
 *   PreparingRebalance -> Completing...  every member rejoined, or the
 *                                        rebalance timeout passed (members
 *                                        that did not rejoin are dropped)
 *   PreparingRebalance -> Empty          every member left or expired
 *   CompletingRebalance -> Stable        the leader's SyncGroup
 *   Completing/Stable -> Preparing...    a join with new metadata, a new
 *                                        member, a leave, an expiry
 *   any -> Dead                          the group is deleted
 */
#include "group.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* How long the initial delay may stretch as members keep arriving. */
static int32_t max_rebalance_timeout(const bk_group_t *g)
{
    int32_t max = 0;
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_timeout_ms > max)
            max = g->members[i]->rebalance_timeout_ms;
    return max;
}

static void free_protocols(bk_group_protocol_t *protocols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sd_free(protocols[i].name);
        sd_free(protocols[i].metadata);
    }
    sd_free(protocols);
}

/* Deep copy of a protocol list; NULL on allocation failure (or n == 0). */
static bk_group_protocol_t *copy_protocols(const bk_group_protocol_t *in, size_t n)
{
    bk_group_protocol_t *out = sd_calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i].name = sd_strdup(in[i].name);
        out[i].metadata_len = in[i].metadata_len > 0 ? in[i].metadata_len : 0;
        out[i].metadata = sd_malloc(out[i].metadata_len ? (size_t)out[i].metadata_len : 1);
        if (!out[i].name || !out[i].metadata) {
            free_protocols(out, i + 1);
            return NULL;
        }
        if (out[i].metadata_len)
            memcpy(out[i].metadata, in[i].metadata, (size_t)out[i].metadata_len);
    }
    return out;
}

static void member_free(bk_group_member_t *m)
{
    if (!m)
        return;
    sd_free(m->id);
    sd_free(m->client_id);
    sd_free(m->client_host);
    free_protocols(m->protocols, m->nprotocols);
    sd_free(m->assignment);
    sd_free(m);
}

static void joined_free(bk_group_t *g)
{
    for (size_t i = 0; i < g->njoined; i++) {
        sd_free(g->joined[i].member_id);
        sd_free(g->joined[i].metadata);
    }
    sd_free(g->joined);
    g->joined = NULL;
    g->njoined = 0;
}

static void group_free(bk_group_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nmembers; i++)
        member_free(g->members[i]);
    sd_free(g->members);
    for (size_t i = 0; i < g->npending; i++)
        sd_free(g->pending[i].id);
    sd_free(g->pending);
    joined_free(g);
    sd_free(g->id);
    sd_free(g->protocol_type);
    sd_free(g->protocol_name);
    sd_free(g->leader_id);
    sd_free(g);
}

void bk_groups_init(bk_groups_t *groups, const bk_group_config_t *config, const char *instance_tag)
{
    memset(groups, 0, sizeof *groups);
    groups->config = *config;
    snprintf(groups->instance_tag, sizeof groups->instance_tag, "%s", instance_tag);
}

void bk_groups_free(bk_groups_t *groups)
{
    for (size_t i = 0; i < groups->count; i++)
        group_free(groups->items[i]);
    sd_free(groups->items);
    groups->items = NULL;
    groups->count = groups->cap = 0;
}

bk_group_t *bk_groups_find(bk_groups_t *groups, const char *group_id)
{
    for (size_t i = 0; i < groups->count; i++)
        if (strcmp(groups->items[i]->id, group_id) == 0)
            return groups->items[i];
    return NULL;
}

int bk_groups_take_changed(bk_groups_t *groups)
{
    int changed = groups->changed;
    groups->changed = 0;
    return changed;
}

static bk_group_t *group_create(bk_groups_t *groups, const char *group_id)
{
    if (groups->count == groups->cap) {
        size_t cap = groups->cap ? groups->cap * 2 : 8;
        bk_group_t **grown = sd_realloc(groups->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        groups->items = grown;
        groups->cap = cap;
    }
    bk_group_t *g = sd_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->id = sd_strdup(group_id);
    if (!g->id) {
        sd_free(g);
        return NULL;
    }
    g->state = BKG_EMPTY;
    groups->items[groups->count++] = g;
    return g;
}

static bk_group_member_t *find_member(const bk_group_t *g, const char *member_id)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (strcmp(g->members[i]->id, member_id) == 0)
            return g->members[i];
    return NULL;
}

static void remove_member(bk_group_t *g, bk_group_member_t *m)
{
    for (size_t i = 0; i < g->nmembers; i++) {
        if (g->members[i] != m)
            continue;
        memmove(&g->members[i], &g->members[i + 1], (g->nmembers - i - 1) * sizeof g->members[0]);
        g->nmembers--;
        break;
    }
    if (g->leader_id && strcmp(g->leader_id, m->id) == 0) {
        sd_free(g->leader_id);
        g->leader_id = NULL;
    }
    member_free(m);
}

const char *bk_group_state_name(bk_group_state_t state)
{
    static const char *const names[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                        "Stable", "Dead"};
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "Unknown";
}

static const bk_group_protocol_t *member_protocol_named(const bk_group_member_t *m,
                                                        const char *name)
{
    for (size_t i = 0; name && i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return &m->protocols[i];
    return NULL;
}

const bk_group_protocol_t *bk_group_member_protocol(const bk_group_t *group,
                                                    const bk_group_member_t *member)
{
    return member_protocol_named(member, group->protocol_name);
}

/* Does every member except `skip` support protocol `name`? */
static int all_support(const bk_group_t *g, const bk_group_member_t *skip, const char *name)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i] != skip && !member_protocol_named(g->members[i], name))
            return 0;
    return 1;
}

/* Kafka's selection: among the protocols every member supports, each member
 * votes for the first of its own list; the most votes win (ties go to the
 * earlier candidate in the first member's preference order). */
static const char *select_protocol(const bk_group_t *g)
{
    const bk_group_member_t *first = g->members[0];
    const char *best = NULL;
    size_t best_votes = 0;
    for (size_t c = 0; c < first->nprotocols; c++) {
        const char *candidate = first->protocols[c].name;
        if (!all_support(g, NULL, candidate))
            continue;
        size_t votes = 0;
        for (size_t i = 0; i < g->nmembers; i++) {
            const bk_group_member_t *m = g->members[i];
            for (size_t p = 0; p < m->nprotocols; p++) {
                if (!all_support(g, NULL, m->protocols[p].name))
                    continue;
                if (strcmp(m->protocols[p].name, candidate) == 0)
                    votes++;
                break;
            }
        }
        if (!best || votes > best_votes) {
            best = candidate;
            best_votes = votes;
        }
    }
    return best;
}

/* Can a member with these protocols join (Kafka: supportsProtocols)? */
static int protocols_acceptable(const bk_group_t *g, const bk_group_member_t *self,
                                const bk_group_join_args_t *args)
{
    if (!args->protocol_type[0] || args->nprotocols == 0)
        return 0;
    size_t others = g->nmembers - (self ? 1 : 0);
    if (others == 0)
        return 1;
    if (!g->protocol_type || strcmp(g->protocol_type, args->protocol_type) != 0)
        return 0;
    for (size_t i = 0; i < args->nprotocols; i++)
        if (all_support(g, self, args->protocols[i].name))
            return 1;
    return 0;
}

static int same_protocols(const bk_group_member_t *m, const bk_group_join_args_t *args)
{
    if (m->nprotocols != args->nprotocols)
        return 0;
    for (size_t i = 0; i < m->nprotocols; i++) {
        const bk_group_protocol_t *a = &m->protocols[i], *b = &args->protocols[i];
        int32_t blen = b->metadata_len > 0 ? b->metadata_len : 0;
        if (strcmp(a->name, b->name) != 0 || a->metadata_len != blen ||
            (blen && memcmp(a->metadata, b->metadata, (size_t)blen) != 0))
            return 0;
    }
    return 1;
}

static void prepare_rebalance(bk_groups_t *groups, bk_group_t *g, int64_t now)
{
    int from_empty = g->state == BKG_EMPTY;
    g->state = BKG_PREPARING_REBALANCE;
    g->rebalance_started_ms = now;
    g->rebalance_deadline_ms = now + max_rebalance_timeout(g);
    g->initial_delay_until_ms = 0;
    if (from_empty && groups->config.initial_rebalance_delay_ms > 0) {
        int64_t until = now + groups->config.initial_rebalance_delay_ms;
        g->initial_delay_until_ms =
            until < g->rebalance_deadline_ms ? until : g->rebalance_deadline_ms;
    }
    groups->changed = 1;
}

/* Records the members of a new generation for the leader's JoinGroup. */
static int snapshot_members(bk_group_t *g)
{
    joined_free(g);
    g->joined = sd_calloc(g->nmembers ? g->nmembers : 1, sizeof *g->joined);
    if (!g->joined)
        return -1;
    for (size_t i = 0; i < g->nmembers; i++) {
        const bk_group_member_t *m = g->members[i];
        const bk_group_protocol_t *p = member_protocol_named(m, g->protocol_name);
        bk_group_joined_t *j = &g->joined[g->njoined++];
        j->member_id = sd_strdup(m->id);
        j->metadata_len = p ? p->metadata_len : 0;
        j->metadata = sd_malloc(j->metadata_len ? (size_t)j->metadata_len : 1);
        if (!j->member_id || !j->metadata)
            return -1;
        if (j->metadata_len)
            memcpy(j->metadata, p->metadata, (size_t)j->metadata_len);
    }
    return 0;
}

/* Ends the rebalance: drops members that did not rejoin, picks the protocol
 * and leader, and opens the next generation. Out of memory, it leaves the
 * group preparing, every member still waiting, and the next tick retries. */
static void complete_rebalance(bk_groups_t *groups, bk_group_t *g, int64_t now)
{
    for (size_t i = g->nmembers; i-- > 0;)
        if (!g->members[i]->awaiting_join)
            remove_member(g, g->members[i]);
    groups->changed = 1;
    if (g->nmembers == 0) {
        g->generation++;
        g->state = BKG_EMPTY;
        sd_free(g->protocol_name);
        g->protocol_name = NULL;
        sd_free(g->leader_id);
        g->leader_id = NULL;
        joined_free(g);
        return;
    }
    /* Every join checks that the members share a protocol, so there is one;
     * the fallback only guards that invariant. */
    const char *selected = select_protocol(g);
    if (!selected)
        selected = g->members[0]->protocols[0].name;
    char *name = sd_strdup(selected);
    char *leader = g->leader_id ? NULL : sd_strdup(g->members[0]->id);
    if (!name || (!g->leader_id && !leader)) {
        sd_free(name);
        sd_free(leader);
        return;
    }
    sd_free(g->protocol_name);
    g->protocol_name = name;
    if (leader)
        g->leader_id = leader;
    if (snapshot_members(g) != 0) {
        joined_free(g);
        return;
    }
    g->generation++;
    g->state = BKG_COMPLETING_REBALANCE;
    for (size_t i = 0; i < g->nmembers; i++) {
        bk_group_member_t *m = g->members[i];
        m->awaiting_join = 0;
        m->joined_generation = g->generation;
        m->expires_ms = now + m->session_timeout_ms;
        sd_free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
    }
}

/* Completes a rebalance whose members have all rejoined (and whose initial
 * delay is over), or whose deadline passed. */
static void maybe_complete(bk_groups_t *groups, bk_group_t *g, int64_t now)
{
    if (g->state != BKG_PREPARING_REBALANCE)
        return;
    if (now >= g->rebalance_deadline_ms) {
        complete_rebalance(groups, g, now);
        return;
    }
    if (now < g->initial_delay_until_ms)
        return;
    for (size_t i = 0; i < g->nmembers; i++)
        if (!g->members[i]->awaiting_join)
            return;
    complete_rebalance(groups, g, now);
}

/* A member left or expired: the others rebalance. */
static void member_gone(bk_groups_t *groups, bk_group_t *g, bk_group_member_t *m, int64_t now)
{
    remove_member(g, m);
    groups->changed = 1;
    if (g->state == BKG_STABLE || g->state == BKG_COMPLETING_REBALANCE)
        prepare_rebalance(groups, g, now);
    maybe_complete(groups, g, now);
}

static int set_member_protocols(bk_group_member_t *m, const bk_group_join_args_t *args)
{
    bk_group_protocol_t *copy = copy_protocols(args->protocols, args->nprotocols);
    if (!copy)
        return -1;
    free_protocols(m->protocols, m->nprotocols);
    m->protocols = copy;
    m->nprotocols = args->nprotocols;
    m->session_timeout_ms = args->session_timeout_ms;
    m->rebalance_timeout_ms = args->rebalance_timeout_ms;
    return 0;
}

/* A fresh member id in Kafka's form: the client id, a dash, something
 * unique. Caller frees with sd_free; NULL on allocation failure. */
static char *new_member_id(bk_groups_t *groups, const char *client_id)
{
    size_t n = strlen(client_id) + strlen(groups->instance_tag) + 32;
    char *id = sd_malloc(n);
    if (id)
        snprintf(id, n, "%s-%s-%llu", client_id, groups->instance_tag,
                 (unsigned long long)++groups->next_member);
    return id;
}

/* Adds a member; steals `id` (freed on failure too). */
static bk_group_member_t *add_member(bk_group_t *g, const bk_group_join_args_t *args, char *id)
{
    bk_group_member_t *m = NULL;
    if (g->nmembers == g->members_cap) {
        size_t cap = g->members_cap ? g->members_cap * 2 : 4;
        bk_group_member_t **grown = sd_realloc(g->members, cap * sizeof *grown);
        if (!grown)
            goto fail;
        g->members = grown;
        g->members_cap = cap;
    }
    m = sd_calloc(1, sizeof *m);
    if (!m)
        goto fail;
    m->id = id;
    id = NULL;
    m->client_id = sd_strdup(args->client_id);
    m->client_host = sd_strdup(args->client_host);
    if (!m->id || !m->client_id || !m->client_host || set_member_protocols(m, args) != 0)
        goto fail;
    m->joined_generation = -1;
    m->synced_generation = -1;
    g->members[g->nmembers++] = m;
    return m;
fail:
    sd_free(id);
    member_free(m);
    return NULL;
}

/* Remembers an id handed out with MEMBER_ID_REQUIRED; steals `id`. */
static int add_pending(bk_group_t *g, char *id, int64_t expires_ms)
{
    if (g->npending == g->pending_cap) {
        size_t cap = g->pending_cap ? g->pending_cap * 2 : 4;
        bk_group_pending_t *grown = sd_realloc(g->pending, cap * sizeof *grown);
        if (!grown) {
            sd_free(id);
            return -1;
        }
        g->pending = grown;
        g->pending_cap = cap;
    }
    g->pending[g->npending].id = id;
    g->pending[g->npending].expires_ms = expires_ms;
    g->npending++;
    return 0;
}

/* Removes pending entry i and returns its id (the caller owns it). */
static char *take_pending(bk_group_t *g, size_t i)
{
    char *id = g->pending[i].id;
    g->pending[i] = g->pending[--g->npending];
    return id;
}

static int find_pending(const bk_group_t *g, const char *member_id)
{
    for (size_t i = 0; i < g->npending; i++)
        if (strcmp(g->pending[i].id, member_id) == 0)
            return (int)i;
    return -1;
}

int bk_group_join(bk_groups_t *groups, const char *group_id, const bk_group_join_args_t *args,
                  int64_t now_ms, const char **member_id, int32_t *wait_generation)
{
    if (!group_id[0])
        return BKG_INVALID_GROUP_ID;
    if (args->session_timeout_ms < groups->config.min_session_timeout_ms ||
        args->session_timeout_ms > groups->config.max_session_timeout_ms)
        return BKG_INVALID_SESSION_TIMEOUT;
    bk_group_t *g = bk_groups_find(groups, group_id);
    int is_new = !args->member_id[0];
    if (!g) {
        if (!is_new)
            return BKG_UNKNOWN_MEMBER_ID;
        if (!args->protocol_type[0] || args->nprotocols == 0)
            return BKG_INCONSISTENT_GROUP_PROTOCOL;
        g = group_create(groups, group_id);
        if (!g)
            return BKG_COORDINATOR_NOT_AVAILABLE;
    }
    if (g->state == BKG_DEAD)
        return BKG_COORDINATOR_NOT_AVAILABLE;
    bk_group_member_t *m = is_new ? NULL : find_member(g, args->member_id);
    int pending = !is_new && !m ? find_pending(g, args->member_id) : -1;
    if (!is_new && !m && pending < 0)
        return BKG_UNKNOWN_MEMBER_ID;
    if (!protocols_acceptable(g, m, args))
        return BKG_INCONSISTENT_GROUP_PROTOCOL;
    if (is_new && args->require_known_member_id) {
        char *id = new_member_id(groups, args->client_id);
        if (!id || add_pending(g, id, now_ms + args->session_timeout_ms) != 0)
            return BKG_COORDINATOR_NOT_AVAILABLE;
        *member_id = id;
        return BKG_MEMBER_ID_REQUIRED;
    }
    if (g->nmembers == 0 || !g->protocol_type) {
        char *type = sd_strdup(args->protocol_type);
        if (!type)
            return BKG_COORDINATOR_NOT_AVAILABLE;
        sd_free(g->protocol_type);
        g->protocol_type = type;
    }

    if (m && (g->state == BKG_STABLE || g->state == BKG_COMPLETING_REBALANCE) &&
        same_protocols(m, args) &&
        (g->state == BKG_COMPLETING_REBALANCE || strcmp(m->id, g->leader_id) != 0)) {
        /* Nothing changed: the current generation's answer again. */
        m->expires_ms = now_ms + m->session_timeout_ms;
        *member_id = m->id;
        *wait_generation = g->generation - 1;
        return BKG_OK;
    }
    if (m) {
        if (set_member_protocols(m, args) != 0)
            return BKG_COORDINATOR_NOT_AVAILABLE;
    } else {
        m = add_member(g, args,
                       pending >= 0 ? take_pending(g, (size_t)pending)
                                    : new_member_id(groups, args->client_id));
        if (!m)
            return BKG_COORDINATOR_NOT_AVAILABLE;
        is_new = 1;
    }
    m->awaiting_join = 1;
    m->expires_ms = now_ms + m->session_timeout_ms;
    if (g->state != BKG_PREPARING_REBALANCE) {
        prepare_rebalance(groups, g, now_ms);
    } else if (is_new && g->initial_delay_until_ms > now_ms) {
        /* Members still arriving: wait another delay, up to the deadline. */
        int64_t until = now_ms + groups->config.initial_rebalance_delay_ms;
        int64_t limit = g->rebalance_started_ms + max_rebalance_timeout(g);
        g->initial_delay_until_ms = until < limit ? until : limit;
        if (limit > g->rebalance_deadline_ms)
            g->rebalance_deadline_ms = limit;
    }
    *member_id = m->id;
    *wait_generation = g->generation;
    maybe_complete(groups, g, now_ms);
    return BKG_OK;
}

int bk_group_join_poll(bk_groups_t *groups, const char *group_id, const char *member_id,
                       int32_t wait_generation, int64_t now_ms, bk_group_join_result_t *out)
{
    bk_group_t *g = bk_groups_find(groups, group_id);
    bk_group_member_t *m = g ? find_member(g, member_id) : NULL;
    if (!m)
        return BKG_UNKNOWN_MEMBER_ID;
    if (m->joined_generation <= wait_generation) {
        if (m->expires_ms < now_ms + m->session_timeout_ms)
            m->expires_ms = now_ms + m->session_timeout_ms;
        return BKG_WAIT;
    }
    if (m->joined_generation != g->generation)
        return BKG_REBALANCE_IN_PROGRESS; /* overtaken by a later rebalance */
    memset(out, 0, sizeof *out);
    out->generation = g->generation;
    out->protocol_name = g->protocol_name;
    out->leader_id = g->leader_id;
    out->member_id = m->id;
    if (g->leader_id && strcmp(g->leader_id, m->id) == 0) {
        out->members = g->joined;
        out->nmembers = g->njoined;
    }
    return BKG_OK;
}

/* The checks SyncGroup, Heartbeat and OffsetCommit share. */
static int check_member(bk_groups_t *groups, const char *group_id, const char *member_id,
                        int32_t generation, bk_group_t **group, bk_group_member_t **member)
{
    if (!group_id[0])
        return BKG_INVALID_GROUP_ID;
    bk_group_t *g = bk_groups_find(groups, group_id);
    if (!g)
        return BKG_UNKNOWN_MEMBER_ID;
    if (g->state == BKG_DEAD)
        return BKG_COORDINATOR_NOT_AVAILABLE;
    bk_group_member_t *m = find_member(g, member_id);
    if (!m)
        return BKG_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return BKG_ILLEGAL_GENERATION;
    *group = g;
    *member = m;
    return BKG_OK;
}

int bk_group_sync(bk_groups_t *groups, const char *group_id, const char *member_id,
                  int32_t generation, const bk_group_assignment_t *assignments, size_t n,
                  int64_t now_ms)
{
    bk_group_t *g = NULL;
    bk_group_member_t *m = NULL;
    int rc = check_member(groups, group_id, member_id, generation, &g, &m);
    if (rc)
        return rc;
    m->expires_ms = now_ms + m->session_timeout_ms;
    if (g->state == BKG_PREPARING_REBALANCE)
        return BKG_REBALANCE_IN_PROGRESS;
    if (g->state != BKG_COMPLETING_REBALANCE || strcmp(g->leader_id, m->id) != 0)
        return BKG_OK; /* Stable: the poll answers; a follower waits */
    /* The leader: copy every assignment first, then commit them all. */
    uint8_t **copies = sd_calloc(g->nmembers ? g->nmembers : 1, sizeof *copies);
    int32_t *lens = sd_calloc(g->nmembers ? g->nmembers : 1, sizeof *lens);
    if (!copies || !lens)
        goto fail;
    for (size_t i = 0; i < g->nmembers; i++) {
        const bk_group_assignment_t *a = NULL;
        for (size_t k = 0; k < n; k++)
            if (strcmp(assignments[k].member_id, g->members[i]->id) == 0)
                a = &assignments[k];
        lens[i] = a && a->len > 0 ? a->len : 0;
        copies[i] = sd_malloc(lens[i] ? (size_t)lens[i] : 1);
        if (!copies[i])
            goto fail;
        if (lens[i])
            memcpy(copies[i], a->data, (size_t)lens[i]);
    }
    for (size_t i = 0; i < g->nmembers; i++) {
        bk_group_member_t *each = g->members[i];
        sd_free(each->assignment);
        each->assignment = copies[i];
        each->assignment_len = lens[i];
        each->synced_generation = g->generation;
    }
    sd_free(copies);
    sd_free(lens);
    g->state = BKG_STABLE;
    groups->changed = 1;
    return BKG_OK;
fail:
    for (size_t i = 0; copies && i < g->nmembers; i++)
        sd_free(copies[i]);
    sd_free(copies);
    sd_free(lens);
    return BKG_COORDINATOR_NOT_AVAILABLE;
}

int bk_group_sync_poll(bk_groups_t *groups, const char *group_id, const char *member_id,
                       int32_t generation, int64_t now_ms, const uint8_t **assignment, int32_t *len)
{
    bk_group_t *g = bk_groups_find(groups, group_id);
    bk_group_member_t *m = g ? find_member(g, member_id) : NULL;
    if (!m)
        return BKG_UNKNOWN_MEMBER_ID;
    if (m->synced_generation == generation && generation == g->generation) {
        *assignment = m->assignment;
        *len = m->assignment_len;
        return BKG_OK;
    }
    if (g->generation != generation)
        return BKG_ILLEGAL_GENERATION;
    if (g->state != BKG_COMPLETING_REBALANCE)
        return BKG_REBALANCE_IN_PROGRESS;
    if (m->expires_ms < now_ms + m->session_timeout_ms)
        m->expires_ms = now_ms + m->session_timeout_ms;
    return BKG_WAIT;
}

int bk_group_heartbeat(bk_groups_t *groups, const char *group_id, const char *member_id,
                       int32_t generation, int64_t now_ms)
{
    bk_group_t *g = NULL;
    bk_group_member_t *m = NULL;
    int rc = check_member(groups, group_id, member_id, generation, &g, &m);
    if (rc)
        return rc;
    m->expires_ms = now_ms + m->session_timeout_ms;
    if (g->state == BKG_PREPARING_REBALANCE)
        return BKG_REBALANCE_IN_PROGRESS;
    return BKG_OK;
}

int bk_group_leave(bk_groups_t *groups, const char *group_id, const char *member_id, int64_t now_ms)
{
    if (!group_id[0])
        return BKG_INVALID_GROUP_ID;
    bk_group_t *g = bk_groups_find(groups, group_id);
    if (!g)
        return BKG_UNKNOWN_MEMBER_ID;
    if (g->state == BKG_DEAD)
        return BKG_COORDINATOR_NOT_AVAILABLE;
    bk_group_member_t *m = find_member(g, member_id);
    if (!m)
        return BKG_UNKNOWN_MEMBER_ID;
    member_gone(groups, g, m, now_ms);
    return BKG_OK;
}

int bk_group_validate_commit(bk_groups_t *groups, const char *group_id, const char *member_id,
                             int32_t generation, int64_t now_ms)
{
    if (!group_id[0])
        return BKG_INVALID_GROUP_ID;
    bk_group_t *g = bk_groups_find(groups, group_id);
    int standalone = generation < 0 && !member_id[0];
    if (!g)
        return standalone ? BKG_OK : BKG_ILLEGAL_GENERATION;
    if (g->state == BKG_DEAD)
        return BKG_COORDINATOR_NOT_AVAILABLE;
    if (generation < 0 && g->state == BKG_EMPTY)
        return BKG_OK;
    if (standalone)
        return BKG_UNKNOWN_MEMBER_ID; /* the group has members: only they commit */
    bk_group_member_t *m = find_member(g, member_id);
    if (!m)
        return BKG_UNKNOWN_MEMBER_ID;
    if (generation != g->generation)
        return BKG_ILLEGAL_GENERATION;
    if (g->state == BKG_COMPLETING_REBALANCE)
        return BKG_REBALANCE_IN_PROGRESS;
    m->expires_ms = now_ms + m->session_timeout_ms;
    return BKG_OK;
}

int bk_groups_delete(bk_groups_t *groups, const char *group_id)
{
    for (size_t i = 0; i < groups->count; i++) {
        bk_group_t *g = groups->items[i];
        if (strcmp(g->id, group_id) != 0)
            continue;
        if (g->nmembers > 0)
            return BKG_NON_EMPTY_GROUP;
        g->state = BKG_DEAD;
        groups->items[i] = groups->items[--groups->count];
        group_free(g);
        groups->changed = 1;
        return BKG_OK;
    }
    return BKG_OK;
}

int bk_groups_tick(bk_groups_t *groups, int64_t now_ms)
{
    int before = groups->changed;
    groups->changed = 0;
    for (size_t i = 0; i < groups->count; i++) {
        bk_group_t *g = groups->items[i];
        for (size_t k = g->npending; k-- > 0;)
            if (now_ms >= g->pending[k].expires_ms)
                sd_free(take_pending(g, k));
        for (size_t k = g->nmembers; k-- > 0;) {
            if (k >= g->nmembers)
                continue; /* an earlier removal completed a rebalance and shrank the list */
            bk_group_member_t *m = g->members[k];
            if (now_ms >= m->expires_ms)
                member_gone(groups, g, m, now_ms);
        }
        maybe_complete(groups, g, now_ms);
    }
    int changed = groups->changed;
    groups->changed = before || changed;
    return changed;
}
