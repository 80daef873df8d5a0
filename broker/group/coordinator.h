/*
 * coordinator.h - ties the group state machine (group.h) to the server:
 * the group registry configured from the broker properties, the per-turn
 * timer check, and the helpers the group handlers share.
 */
#ifndef STRAND_BROKER_COORDINATOR_H
#define STRAND_BROKER_COORDINATOR_H

#include "base/error.h"
#include "group/group.h"

struct bk_server;
struct bk_request;

/* Creates server->groups from the group.* properties. Freed by
 * bk_coordinator_free. */
int bk_coordinator_start(struct bk_server *server, sd_err_t *err);
void bk_coordinator_free(struct bk_server *server);
/* Once per event-loop turn: session expiry and rebalance deadlines; wakes
 * parked requests when a group changed. */
void bk_coordinator_tick(struct bk_server *server);
/* Wakes parked requests if the last group operation changed a group. */
void bk_coordinator_changed(struct bk_server *server);
/* How long a parked JoinGroup/SyncGroup waits before polling again (and so
 * keeping its member alive): a third of the session timeout, at most 1 s. */
int64_t bk_coordinator_poll_interval(int32_t session_timeout_ms);

#endif
