/*
 * server.h - the broker's network side: one epoll event loop over
 * non-blocking sockets, Kafka request framing, dispatch to the per-API
 * handlers, ordered responses (memory + sendfile splices), deferred
 * responses for acks=all (group commit by the flusher thread) and parked
 * Fetch requests (long poll).
 *
 * Responses leave a connection in request order. A response held for a
 * flush (acks=all) waits in the connection's queue while later requests are
 * processed (so a producer's pipelined requests share one fdatasync); a
 * parked Fetch stops the connection's processing until it is answered.
 */
#ifndef STRAND_BROKER_SERVER_H
#define STRAND_BROKER_SERVER_H

#include <stdint.h>

#include "base/bytes.h"
#include "base/config.h"
#include "metadata.h"
#include "protocol/kp_types.h"
#include "topics.h"

typedef struct bk_server bk_server_t;
typedef struct bk_conn bk_conn_t;
typedef struct bk_request bk_request_t;

/* What a handler returns. */
enum {
    BK_RESPOND = 0,     /* the response body is in req->out: send it */
    BK_NO_RESPONSE = 1, /* acks=0: nothing is sent */
    BK_DEFER = 2,       /* bk_request_park was called */
    BK_CLOSE = -1,      /* close the connection (malformed request) */
};

/* Re-runs a parked request; timed_out = 1 when its deadline passed. Returns
 * as a handler does. */
typedef int (*bk_retry_fn)(bk_request_t *req, int timed_out);

struct bk_request {
    bk_server_t *server;
    bk_conn_t *conn;
    kp_request_header_t header;
    sd_reader_t body;  /* the request body after the header */
    kp_arena_t *arena; /* reset after the response is queued */
    kp_out_t *out;     /* response: frame size + header written; handler appends body */
    size_t body_start; /* offset in out->w where the body starts */
    void *state;       /* a handler's decoded request, kept while parked */
    /* parking (fetch long poll) */
    int64_t deadline_ms;
    bk_retry_fn retry;
    /* set by bk_request_wait_flush: the response waits for this flush job */
    uint64_t flush_seq;
};

typedef int (*bk_handler_fn)(bk_request_t *req);

typedef struct bk_api_entry {
    int16_t api_key;
    int16_t min_version, max_version;
    bk_handler_fn handler;
} bk_api_entry_t;

extern const bk_api_entry_t bk_api_table[];
extern const size_t bk_api_table_count;
const bk_api_entry_t *bk_api_lookup(int16_t api_key);

/* Server state shared with handlers. */
struct bk_server {
    sd_config_t config;
    bk_meta_t *meta;
    bk_topics_t topics;
    int32_t node_id;
    char data_dir[4096];
    char listen_host[256];
    int listen_port;
    char advertised_host[256]; /* empty: the address the client connected to */
    int advertised_port;
    int64_t now_ms;           /* wall clock at the start of the current loop turn */
    int wake_parked;          /* re-run parked requests at the end of this turn */
    int acks_all_fsync;       /* strand.acks.all.fsync */
    struct bk_groups *groups; /* consumer groups (group/coordinator.h) */
    /* Set before bk_server_run: called on a thread of its own when SIGTERM or
     * SIGINT arrives while the broker goes on serving; the broker shuts down
     * once it returns (the in-process registry leaves its group and closes
     * its Kafka clients this way). */
    void (*before_stop)(void *ctx);
    void *before_stop_ctx;
    struct bk_server_internal *internal;
};

/* Starts from parsed properties: validates the config, opens the data
 * directory (recovering after an unclean shutdown), binds the listener and
 * prints "strand: kafka listening on HOST:PORT". */
int bk_server_start(bk_server_t *server, const sd_props_t *props, sd_err_t *err);
/* Runs until SIGTERM/SIGINT, then shuts down cleanly. Returns 0 or an error. */
int bk_server_run(bk_server_t *server);
void bk_server_free(bk_server_t *server);

/* For handlers. */
/* Holds the response being encoded in req->out until every append made so
 * far is fdatasync'ed (group commit). The connection goes on with its next
 * requests meanwhile; responses still leave in request order. Returns
 * BK_RESPOND. */
int bk_request_wait_flush(bk_request_t *req);
/* Parks the request until deadline_ms or the next append; retry is called
 * then. Returns BK_DEFER. */
int bk_request_park(bk_request_t *req, int64_t deadline_ms, bk_retry_fn retry);
/* Re-runs every parked request at the end of the current loop turn (their
 * retry functions decide whether they can answer now): after an append, a
 * group membership change, ... */
void bk_server_wake(bk_server_t *server);
/* Notes an append to a partition (for flushing and waking parked fetches). */
void bk_server_note_append(bk_server_t *server, bk_partition_t *partition, int64_t records);
/* Drops a partition from the flush bookkeeping before its topic is deleted. */
void bk_server_forget_topic(bk_server_t *server, bk_topic_t *topic);
/* The host and port to advertise to the client of this connection. */
void bk_conn_advertised(bk_conn_t *conn, const char **host, int *port);
/* The client's address as "host:port" (borrowed until the connection closes). */
const char *bk_conn_peer(const bk_conn_t *conn);

/* Encodes a response body after the header: the server patches the frame
 * size. Handlers call their generated kp_*_response_encode on req->out. */

int64_t bk_now_ms(void);

#endif
