/*
 * sr_leader.h - elects the one registry process that writes `_schemas`, with
 * the Kafka group protocol as Confluent Schema Registry does
 * (SchemaRegistryCoordinator): group "schema-registry", protocol type "sr",
 * one protocol "v0" whose member metadata is Confluent's identity JSON and
 * whose assignment, computed by the group's leader member, is Confluent's
 * assignment JSON. Strand and Confluent registries can share one group.
 *
 * The election runs in one thread of its own over a plain TCP connection to
 * the group coordinator (librdkafka cannot run a custom protocol type).
 */
#ifndef STRAND_SR_LEADER_H
#define STRAND_SR_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/bytes.h"
#include "base/error.h"

typedef struct sr_leader sr_leader_t;

typedef struct sr_leader_config {
    const char *bootstrap_servers; /* "host:port[,host:port]" */
    const char *group_id;          /* "schema-registry" when NULL */
    const char *host;              /* this instance's advertised host */
    int port;                      /* and port */
    const char *scheme;            /* "http" when NULL */
    bool eligible;                 /* leader.eligibility */
    int session_timeout_ms;        /* 10000 when <= 0 */
    int heartbeat_interval_ms;     /* 3000 when <= 0 */
    int rebalance_timeout_ms;      /* 300000 in Confluent; 10000 when <= 0 */
    /* leader.election.sticky (off in Confluent unless configured): the
     * current writer keeps its place while it stays in the group, instead of
     * yielding to a newcomer with a smaller URL. */
    bool sticky;
} sr_leader_config_t;

/* Called from the election thread whenever the outcome changes: is_leader =
 * this process writes; leader_url = "scheme://host:port" of the writer (an
 * IPv6 host in brackets), NULL when none is known (borrowed for the call).
 * Never called once sr_leader_stop has returned; stopping itself reports
 * nothing. The callback must not call sr_leader_stop (it would wait for its
 * own thread). */
typedef void (*sr_leader_change_fn)(void *ctx, bool is_leader, const char *leader_url);

/* Copies the config and starts the election thread; the first outcome comes
 * later through on_change. *out is the caller's, released by sr_leader_stop.
 * Returns 0, or SD_ERR_INVALID (a config value; err names it), SD_ERR_NOMEM
 * or SD_ERR_IO (no thread). */
int sr_leader_start(const sr_leader_config_t *config, sr_leader_change_fn on_change, void *ctx,
                    sr_leader_t **out, sd_err_t *err);

/* Leaves the group (LeaveGroup, so the others elect a new writer at once),
 * closes the connection, joins the thread and frees the elector. Returns
 * within about a second whatever the election was waiting for (a DNS lookup
 * in progress excepted). Call once per elector; NULL is a no-op. */
void sr_leader_stop(sr_leader_t *leader);

/* ---- the wire formats, for the tests and the fuzzer --------------------- */

/* Confluent's SchemaRegistryIdentity (the "v0" member metadata), written by
 * Jackson as {"host":..,"port":..,"master_eligibility":..,"scheme":..,
 * "version":1,"leader":..}: constructor properties first, in their order. */
typedef struct sr_leader_identity {
    int version; /* 1 */
    char *host;  /* owned */
    int port;
    char *scheme; /* owned; "http" when the JSON has none */
    bool eligible;
    bool leader; /* "leader": claims the writer's place (sticky election) */
} sr_leader_identity_t;

/* Appends the identity's JSON to w; returns 0 or SD_ERR_NOMEM. */
int sr_leader_identity_encode(const sr_leader_identity_t *identity, sd_writer_t *w);
/* Parses an identity; unknown fields are ignored, as Confluent does. On
 * success *out owns copies (sr_leader_identity_clear); on failure *out is
 * left cleared and err names the problem (SD_ERR_INVALID / SD_ERR_NOMEM). */
int sr_leader_identity_decode(const uint8_t *json, size_t len, sr_leader_identity_t *out,
                              sd_err_t *err);
void sr_leader_identity_clear(sr_leader_identity_t *identity);
/* "scheme://host:port" into buf; returns 0, or -1 when it does not fit. */
int sr_leader_identity_url(const sr_leader_identity_t *identity, char *buf, size_t len);

/* Confluent's SchemaRegistryProtocol.Assignment, the same for every member:
 * {"error":0,"master":"<member id>","master_identity":{..},"version":1},
 * "master" and "master_identity" left out when no member is eligible. */
enum { SR_LEADER_ASSIGNMENT_NO_ERROR = 0, SR_LEADER_ASSIGNMENT_DUPLICATE_URLS = 1 };

typedef struct sr_leader_assignment {
    int version;  /* 1 */
    int error;    /* SR_LEADER_ASSIGNMENT_* */
    char *master; /* owned; the writer's Kafka member id, NULL when none */
    bool has_identity;
    sr_leader_identity_t master_identity; /* valid when has_identity */
} sr_leader_assignment_t;

int sr_leader_assignment_encode(const sr_leader_assignment_t *assignment, sd_writer_t *w);
/* As sr_leader_identity_decode; *out is freed with sr_leader_assignment_clear. */
int sr_leader_assignment_decode(const uint8_t *json, size_t len, sr_leader_assignment_t *out,
                                sd_err_t *err);
void sr_leader_assignment_clear(sr_leader_assignment_t *assignment);

/* One member of a JoinGroup answer, as the group's leader member sees it. */
typedef struct sr_leader_member {
    const char *member_id; /* borrowed */
    const uint8_t *metadata;
    size_t metadata_len;
} sr_leader_member_t;

/* Confluent's choice (SchemaRegistryCoordinator.onLeaderElected): the
 * eligible member with the smallest URL; with sticky, a single eligible
 * member claiming "leader" keeps the place (several claims: smallest URL).
 * Two members with one URL make error DUPLICATE_URLS. A member whose
 * metadata does not parse is neither eligible nor counted. Fills *out (clear
 * with sr_leader_assignment_clear); returns 0 or SD_ERR_NOMEM. */
int sr_leader_assign(const sr_leader_member_t *members, size_t count, bool sticky,
                     sr_leader_assignment_t *out, sd_err_t *err);

/* Decoders of the Kafka responses the election reads (body after the
 * response header), exposed for the fuzzer. Strings are copied out, so a
 * decoded response owns its memory: free it with sr_leader_response_clear. */
typedef struct sr_leader_response {
    int16_t error_code;
    /* FindCoordinator v1 */
    char *host;
    int32_t port;
    /* JoinGroup v4 */
    int32_t generation;
    char *protocol_name;
    char *leader_id;
    char *member_id;
    sr_leader_member_t *members; /* member ids and metadata copied, owned */
    size_t member_count;
    /* SyncGroup v1 */
    uint8_t *assignment;
    size_t assignment_len;
} sr_leader_response_t;

/* Kafka API keys of the responses sr_leader_response_decode reads. */
enum {
    SR_LEADER_API_FIND_COORDINATOR = 10,
    SR_LEADER_API_JOIN_GROUP = 11,
    SR_LEADER_API_HEARTBEAT = 12,
    SR_LEADER_API_LEAVE_GROUP = 13,
    SR_LEADER_API_SYNC_GROUP = 14,
};

/* Decodes the body of a response to api_key (one of the above, at the
 * version the election sends). Every byte must be consumed. Returns 0, or
 * SD_ERR_INVALID / SD_ERR_NOMEM with err naming the field; *out is cleared
 * on failure. */
int sr_leader_response_decode(int16_t api_key, const uint8_t *body, size_t len,
                              sr_leader_response_t *out, sd_err_t *err);
void sr_leader_response_clear(sr_leader_response_t *response);

#endif
