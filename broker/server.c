/*
 * server.c - event loop, framing, dispatch, ordered responses, group commit.
 *
 * Frame layout (Kafka protocol guide): every request and response is
 *   offset 0  size 4  int32 length of what follows
 *   offset 4  ...     header + body
 * A declared length is checked against socket.request.max.bytes before any
 * buffer grows for it.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "config.h"
#include "group/coordinator.h"
#include "log_cleaner.h"

#define MOD "server"
#define CLEAN_SHUTDOWN_FILE ".strand-clean-shutdown"
#define LOCK_FILE ".lock"
#define MAX_QUEUED_RESPONSES 64
#define TICK_MS 100

typedef struct out_msg {
    kp_out_t out;
    size_t sent;        /* bytes of the frame already written */
    uint64_t flush_seq; /* 0, or the flush job that must finish before it goes out */
    struct out_msg *next;
} out_msg_t;

enum { CONN_IDLE = 0, CONN_PARKED };

struct bk_conn {
    int fd;
    bk_server_t *server;
    uint8_t *rbuf;
    size_t rlen, rcap, rpos;
    out_msg_t *out_head, *out_tail;
    size_t out_count;
    out_msg_t *current; /* response being built for the request in progress */
    bk_request_t req;
    int state; /* CONN_* */
    kp_arena_t *arena;
    char peer[64];
    char local_host[64];
    int local_port;
    int closing;
    uint32_t events;
    int64_t last_active_ms;
    bk_conn_t *prev, *next;
};

typedef struct flush_mark {
    uint8_t topic_id[16];
    char *name;
    int32_t partition;
    int64_t upto;
} flush_mark_t;

typedef struct flush_job {
    uint64_t seq;
    int *fds;
    size_t nfds, fds_cap;
    flush_mark_t *marks;
    size_t nmarks, marks_cap;
    int failed;
} flush_job_t;

struct bk_server_internal {
    int epfd, listen_fd, signal_fd, flush_fd, lock_fd;
    bk_conn_t *conns;
    size_t nconns;
    bk_partition_t **dirty;
    size_t ndirty, dirty_cap;
    pthread_t flusher;
    int flusher_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    flush_job_t *job; /* handed to the flusher */
    int job_ready;    /* set by the loop, cleared by the flusher */
    int job_done;     /* set by the flusher */
    int stop_flusher;
    int flushing;
    uint64_t next_seq, done_seq;
    uint64_t wanted_seq; /* highest flush_seq a queued response waits for */
    int stop;
    int stop_hook_started;
    pthread_t stop_hook_thread;
    atomic_int stop_hook_done; /* set by the before_stop thread when it returns */
    int64_t last_tick_ms, last_checkpoint_ms;
    int64_t max_request_bytes;
    int64_t idle_ms;
    int64_t max_connections;
    bk_cleaner_t *cleaner; /* retention and compaction */
};

int64_t bk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ flusher */

static void job_free(flush_job_t *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->nfds; i++)
        close(job->fds[i]);
    for (size_t i = 0; i < job->nmarks; i++)
        sd_free(job->marks[i].name);
    sd_free(job->fds);
    sd_free(job->marks);
    sd_free(job);
}

static void *flusher_main(void *arg)
{
    struct bk_server_internal *in = arg;
    pthread_mutex_lock(&in->lock);
    for (;;) {
        while (!in->job_ready && !in->stop_flusher)
            pthread_cond_wait(&in->cond, &in->lock);
        if (!in->job_ready && in->stop_flusher)
            break;
        flush_job_t *job = in->job;
        in->job_ready = 0;
        pthread_mutex_unlock(&in->lock);
        for (size_t i = 0; i < job->nfds; i++) {
            if (fdatasync(job->fds[i]) != 0) {
                sd_error(MOD, "fdatasync failed: %s", strerror(errno));
                job->failed = 1;
            }
        }
        pthread_mutex_lock(&in->lock);
        in->job_done = 1;
        uint64_t one = 1;
        ssize_t ignored = write(in->flush_fd, &one, sizeof one);
        (void)ignored;
    }
    pthread_mutex_unlock(&in->lock);
    return NULL;
}

static void mark_dirty(bk_server_t *server, bk_partition_t *p)
{
    struct bk_server_internal *in = server->internal;
    if (p->dirty)
        return;
    if (in->ndirty == in->dirty_cap) {
        size_t cap = in->dirty_cap ? in->dirty_cap * 2 : 64;
        bk_partition_t **grown = sd_realloc(in->dirty, cap * sizeof *grown);
        if (!grown)
            return; /* flushed at shutdown or by the next acks=all anyway */
        in->dirty = grown;
        in->dirty_cap = cap;
    }
    in->dirty[in->ndirty++] = p;
    p->dirty = 1;
}

void bk_server_wake(bk_server_t *server) { server->wake_parked = 1; }

void bk_server_note_append(bk_server_t *server, bk_partition_t *partition, int64_t records)
{
    if (partition->first_unflushed_ms == 0)
        partition->first_unflushed_ms = server->now_ms;
    partition->unflushed_messages += records;
    mark_dirty(server, partition);
    bk_server_wake(server);
}

void bk_server_forget_topic(bk_server_t *server, bk_topic_t *topic)
{
    struct bk_server_internal *in = server->internal;
    size_t kept = 0;
    for (size_t i = 0; i < in->ndirty; i++)
        if (in->dirty[i]->topic != topic)
            in->dirty[kept++] = in->dirty[i];
    in->ndirty = kept;
}

static int flush_due(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    if (in->wanted_seq >= in->next_seq) /* a response waits for a job not started yet */
        return 1;
    for (size_t i = 0; i < in->ndirty; i++) {
        bk_partition_t *p = in->dirty[i];
        /* A rolled segment is synced soon, as Kafka flushes a segment when
         * it rolls: recovery after a crash then rescans the active segment
         * only, whatever the acks. */
        if (kl_log_flushed_offset(p->log) < kl_log_active_base_offset(p->log))
            return 1;
        if (p->unflushed_messages >= p->topic->flush_messages ||
            (p->first_unflushed_ms && server->now_ms - p->first_unflushed_ms >= p->topic->flush_ms))
            return 1;
    }
    return 0;
}

/* Builds a job from every dirty partition. Returns NULL on allocation failure. */
static flush_job_t *build_job(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    flush_job_t *job = sd_calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->fds_cap = in->ndirty * 4 + 4;
    job->fds = sd_calloc(job->fds_cap, sizeof *job->fds);
    job->marks_cap = in->ndirty + 1;
    job->marks = sd_calloc(job->marks_cap, sizeof *job->marks);
    if (!job->fds || !job->marks)
        goto fail;
    for (size_t i = 0; i < in->ndirty; i++) {
        bk_partition_t *p = in->dirty[i];
        size_t n = 0;
        int64_t upto = 0;
        if (job->fds_cap - job->nfds < 4) {
            size_t cap = job->fds_cap * 2;
            int *grown = sd_realloc(job->fds, cap * sizeof *grown);
            if (!grown)
                goto fail;
            job->fds = grown;
            job->fds_cap = cap;
        }
        if (kl_log_flush_fds(p->log, job->fds + job->nfds, job->fds_cap - job->nfds, &n, &upto))
            goto fail;
        job->nfds += n;
        flush_mark_t *m = &job->marks[job->nmarks++];
        memcpy(m->topic_id, p->topic->id, 16);
        m->name = sd_strdup(p->topic->name);
        if (!m->name)
            goto fail;
        m->partition = p->index;
        m->upto = upto;
        p->dirty = 0;
        p->unflushed_messages = 0;
        p->first_unflushed_ms = 0;
    }
    in->ndirty = 0;
    return job;
fail:
    job_free(job);
    return NULL;
}

static void send_queued(bk_conn_t *conn);
static void queue_current(bk_conn_t *conn);
static void update_interest(bk_conn_t *conn);
static void process_frames(bk_conn_t *conn);
static void conn_close(bk_conn_t *conn, const char *why);

static void finish_job(bk_server_t *server, flush_job_t *job)
{
    struct bk_server_internal *in = server->internal;
    if (!job->failed) {
        for (size_t i = 0; i < job->nmarks; i++) {
            flush_mark_t *m = &job->marks[i];
            bk_topic_t *t = bk_topics_find(&server->topics, m->name, strlen(m->name));
            if (t && memcmp(t->id, m->topic_id, 16) == 0 && m->partition < t->partition_count)
                kl_log_mark_flushed(t->partitions[m->partition].log, m->upto);
        }
    }
    in->done_seq = job->seq;
    in->flushing = 0;
    for (bk_conn_t *c = in->conns; c; c = c->next) {
        if (c->closing)
            continue;
        if (job->failed) {
            /* Responses that waited for this flush must never go out. */
            for (out_msg_t *m = c->out_head; m; m = m->next)
                if (m->flush_seq && m->flush_seq <= in->done_seq) {
                    conn_close(c, "a flush to disk failed; the produce is not acknowledged");
                    break;
                }
            continue;
        }
        out_msg_t *head = c->out_head;
        if (!head || !head->flush_seq || head->flush_seq > in->done_seq)
            continue;
        send_queued(c);
        if (c->state == CONN_IDLE)
            process_frames(c);
        update_interest(c);
    }
    job_free(job);
}

static void maybe_start_flush(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    if (in->flushing || !flush_due(server))
        return;
    flush_job_t *job = build_job(server);
    if (!job)
        return; /* retried next turn */
    job->seq = in->next_seq++;
    in->flushing = 1;
    if (job->nfds == 0) {
        finish_job(server, job);
        return;
    }
    pthread_mutex_lock(&in->lock);
    in->job = job;
    in->job_ready = 1;
    in->job_done = 0;
    pthread_cond_signal(&in->cond);
    pthread_mutex_unlock(&in->lock);
}

/* Runs the server's before_stop hook, then wakes the loop to stop. */
static void *stop_hook_main(void *arg)
{
    bk_server_t *server = arg;
    struct bk_server_internal *in = server->internal;
    server->before_stop(server->before_stop_ctx);
    atomic_store(&in->stop_hook_done, 1);
    uint64_t one = 1;
    ssize_t ignored = write(in->flush_fd, &one, sizeof one);
    (void)ignored;
    return NULL;
}

/* SIGTERM/SIGINT: stop now, or once the before_stop hook has run. */
static void request_stop(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    if (!server->before_stop) {
        in->stop = 1;
        return;
    }
    if (in->stop_hook_started)
        return;
    if (pthread_create(&in->stop_hook_thread, NULL, stop_hook_main, server) != 0) {
        sd_error(MOD, "cannot start the shutdown thread; stopping at once");
        server->before_stop(server->before_stop_ctx);
        in->stop = 1;
        return;
    }
    in->stop_hook_started = 1;
}

static void on_flush_event(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    if (in->stop_hook_started && atomic_load(&in->stop_hook_done)) {
        pthread_join(in->stop_hook_thread, NULL);
        in->stop_hook_started = 0;
        in->stop = 1;
    }
    uint64_t count;
    ssize_t ignored = read(in->flush_fd, &count, sizeof count);
    (void)ignored;
    pthread_mutex_lock(&in->lock);
    flush_job_t *job = in->job_done ? in->job : NULL;
    if (job) {
        in->job = NULL;
        in->job_done = 0;
    }
    pthread_mutex_unlock(&in->lock);
    if (job)
        finish_job(server, job);
}

int bk_request_wait_flush(bk_request_t *req)
{
    req->flush_seq = req->server->internal->next_seq;
    return BK_RESPOND;
}

int bk_request_park(bk_request_t *req, int64_t deadline_ms, bk_retry_fn retry)
{
    req->deadline_ms = deadline_ms;
    req->retry = retry;
    req->conn->state = CONN_PARKED;
    return BK_DEFER;
}

/* -------------------------------------------------------------- connections */

static void update_interest(bk_conn_t *conn)
{
    if (conn->closing)
        return;
    uint32_t events = 0;
    if (conn->state == CONN_IDLE && conn->out_count < MAX_QUEUED_RESPONSES)
        events |= EPOLLIN;
    if (conn->out_head && conn->out_head->flush_seq <= conn->server->internal->done_seq)
        events |= EPOLLOUT;
    if (events == conn->events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = conn};
    epoll_ctl(conn->server->internal->epfd, EPOLL_CTL_MOD, conn->fd, &ev);
    conn->events = events;
}

static void out_msg_free(out_msg_t *msg)
{
    if (!msg)
        return;
    for (size_t i = 0; i < msg->out.nsplices; i++)
        if (msg->out.splices[i].fd >= 0)
            close(msg->out.splices[i].fd);
    kp_out_free(&msg->out);
    sd_free(msg);
}

static void conn_close(bk_conn_t *conn, const char *why)
{
    if (conn->closing)
        return;
    if (why)
        sd_info(MOD, "closing connection from %s: %s", conn->peer, why);
    conn->closing = 1;
    epoll_ctl(conn->server->internal->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
    conn->state = CONN_IDLE;
}

static void conn_free(bk_conn_t *conn)
{
    struct bk_server_internal *in = conn->server->internal;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        in->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    in->nconns--;
    close(conn->fd);
    while (conn->out_head) {
        out_msg_t *next = conn->out_head->next;
        out_msg_free(conn->out_head);
        conn->out_head = next;
    }
    out_msg_free(conn->current);
    kp_arena_free(conn->arena);
    sd_free(conn->rbuf);
    sd_free(conn);
}

static void reap_closed(bk_server_t *server)
{
    bk_conn_t *c = server->internal->conns;
    while (c) {
        bk_conn_t *next = c->next;
        if (c->closing)
            conn_free(c);
        c = next;
    }
}

const char *bk_conn_peer(const bk_conn_t *conn) { return conn->peer; }

void bk_conn_advertised(bk_conn_t *conn, const char **host, int *port)
{
    bk_server_t *server = conn->server;
    if (server->advertised_host[0]) {
        *host = server->advertised_host;
        *port = server->advertised_port;
    } else {
        *host = conn->local_host;
        *port = conn->local_port;
    }
}

/* Writes as much of the queued responses as the socket takes. */
static void send_queued(bk_conn_t *conn)
{
    while (conn->out_head && !conn->closing) {
        out_msg_t *msg = conn->out_head;
        if (msg->flush_seq > conn->server->internal->done_seq)
            break; /* held until its data is on disk; later ones wait behind it */
        kp_out_t *o = &msg->out;
        size_t total = kp_out_total(o);
        while (msg->sent < total) {
            /* Locate msg->sent in the stream: memory runs between splices. */
            size_t stream = 0, mem_at = 0;
            ssize_t n = 0;
            int done_part = 0;
            for (size_t i = 0; i <= o->nsplices && !done_part; i++) {
                size_t mem_end = i < o->nsplices ? o->splices[i].at : o->w.len;
                size_t mem_len = mem_end - mem_at;
                if (msg->sent < stream + mem_len) {
                    size_t off = mem_at + (msg->sent - stream);
                    n = send(conn->fd, o->w.buf + off, mem_end - off, MSG_NOSIGNAL);
                    done_part = 1;
                    break;
                }
                stream += mem_len;
                mem_at = mem_end;
                if (i < o->nsplices) {
                    kp_splice_t *s = &o->splices[i];
                    if (msg->sent < stream + s->len) {
                        off_t pos = (off_t)(s->file_pos + (int64_t)(msg->sent - stream));
                        n = sendfile(conn->fd, s->fd, &pos, s->len - (msg->sent - stream));
                        if (n == 0) {
                            conn_close(conn, "segment file shorter than expected");
                            return;
                        }
                        done_part = 1;
                        break;
                    }
                    stream += s->len;
                }
            }
            if (!done_part)
                break;
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    update_interest(conn);
                    return;
                }
                if (errno == EINTR)
                    continue;
                conn_close(conn, strerror(errno));
                return;
            }
            msg->sent += (size_t)n;
        }
        conn->out_head = msg->next;
        if (!conn->out_head)
            conn->out_tail = NULL;
        conn->out_count--;
        out_msg_free(msg);
    }
    update_interest(conn);
}

/* Moves the finished response of the current request to the send queue. */
static void queue_current(bk_conn_t *conn)
{
    out_msg_t *msg = conn->current;
    conn->current = NULL;
    kp_arena_reset(conn->arena);
    conn->rpos += 4 + (size_t)sd_be32(conn->rbuf + conn->rpos);
    if (!msg)
        return;
    if (msg->out.w.err || msg->out.err) {
        out_msg_free(msg);
        conn_close(conn, "the response could not be encoded (out of memory or a value the version "
                         "cannot carry)");
        return;
    }
    sd_writer_patch_i32(&msg->out.w, 0, (int32_t)(kp_out_total(&msg->out) - 4));
    msg->flush_seq = conn->req.flush_seq;
    struct bk_server_internal *in = conn->server->internal;
    if (msg->flush_seq > in->wanted_seq)
        in->wanted_seq = msg->flush_seq;
    msg->next = NULL;
    if (conn->out_tail)
        conn->out_tail->next = msg;
    else
        conn->out_head = msg;
    conn->out_tail = msg;
    conn->out_count++;
    send_queued(conn);
}

static void drop_current(bk_conn_t *conn)
{
    out_msg_free(conn->current);
    conn->current = NULL;
    kp_arena_reset(conn->arena);
    conn->rpos += 4 + (size_t)sd_be32(conn->rbuf + conn->rpos);
}

/* Truncates the response to its header, closing any splice fds. */
static void reset_body(bk_request_t *req)
{
    kp_out_t *o = req->out;
    for (size_t i = 0; i < o->nsplices; i++)
        if (o->splices[i].fd >= 0)
            close(o->splices[i].fd);
    o->nsplices = 0;
    o->w.len = req->body_start;
}

static void after_handler(bk_conn_t *conn, int rc)
{
    switch (rc) {
    case BK_RESPOND:
        conn->state = CONN_IDLE;
        queue_current(conn);
        break;
    case BK_NO_RESPONSE:
        conn->state = CONN_IDLE;
        drop_current(conn);
        break;
    case BK_DEFER: break;
    default:
        conn->state = CONN_IDLE;
        conn_close(conn, "malformed or refused request");
        break;
    }
}

/* ApiVersions at a version we do not know: error 35 in the v0 layout with
 * our ApiVersions range, so the client can retry with one we support. */
static void unsupported_api_versions(bk_conn_t *conn, int32_t correlation_id)
{
    const bk_api_entry_t *e = bk_api_lookup(18);
    sd_writer_t *w = &conn->current->out.w;
    sd_write_i32(w, correlation_id);
    sd_write_i16(w, 35);
    sd_write_i32(w, 1);
    sd_write_i16(w, 18);
    sd_write_i16(w, e->min_version);
    sd_write_i16(w, e->max_version);
}

static void handle_frame(bk_conn_t *conn, const uint8_t *frame, size_t size)
{
    bk_server_t *server = conn->server;
    bk_request_t *req = &conn->req;
    memset(req, 0, sizeof *req);
    req->server = server;
    req->conn = conn;
    req->arena = conn->arena;
    sd_reader_t r;
    sd_reader_init(&r, frame, size);
    if (kp_request_header_decode(&r, &req->header)) {
        conn_close(conn, "malformed request header");
        return;
    }
    const bk_api_entry_t *entry = bk_api_lookup(req->header.api_key);
    if (!entry) {
        char why[128];
        snprintf(why, sizeof why, "unknown API key %d (version %d)", req->header.api_key,
                 req->header.api_version);
        conn_close(conn, why);
        return;
    }
    conn->current = sd_calloc(1, sizeof *conn->current);
    if (!conn->current) {
        conn_close(conn, "out of memory");
        return;
    }
    kp_out_init(&conn->current->out);
    req->out = &conn->current->out;
    sd_writer_placeholder_i32(&req->out->w);
    int16_t version = req->header.api_version;
    if (version < entry->min_version || version > entry->max_version) {
        if (req->header.api_key == 18) {
            unsupported_api_versions(conn, req->header.correlation_id);
            after_handler(conn, BK_RESPOND);
            return;
        }
        char why[160];
        snprintf(why, sizeof why, "unsupported version %d of API key %d (supported %d-%d)", version,
                 req->header.api_key, entry->min_version, entry->max_version);
        out_msg_free(conn->current);
        conn->current = NULL;
        conn_close(conn, why);
        return;
    }
    kp_response_header_encode(req->out, req->header.api_key, version, req->header.correlation_id);
    req->body_start = req->out->w.len;
    req->body = r;
    after_handler(conn, entry->handler(req));
}

static void process_frames(bk_conn_t *conn)
{
    int64_t max = conn->server->internal->max_request_bytes;
    while (!conn->closing && conn->state == CONN_IDLE && conn->out_count < MAX_QUEUED_RESPONSES) {
        size_t avail = conn->rlen - conn->rpos;
        if (avail < 4)
            break;
        int32_t size = (int32_t)sd_be32(conn->rbuf + conn->rpos);
        if (size < 8 || size > max) {
            char why[160];
            snprintf(why, sizeof why,
                     "request frame of %d bytes is invalid or exceeds "
                     "socket.request.max.bytes (%lld)",
                     size, (long long)max);
            conn_close(conn, why);
            return;
        }
        if (avail < 4 + (size_t)size)
            break;
        handle_frame(conn, conn->rbuf + conn->rpos + 4, (size_t)size);
    }
    if (conn->state == CONN_IDLE && conn->rpos > 0) {
        memmove(conn->rbuf, conn->rbuf + conn->rpos, conn->rlen - conn->rpos);
        conn->rlen -= conn->rpos;
        conn->rpos = 0;
    }
}

static void on_readable(bk_conn_t *conn)
{
    int64_t max = conn->server->internal->max_request_bytes;
    for (int rounds = 0; rounds < 16 && conn->state == CONN_IDLE && !conn->closing; rounds++) {
        /* Grow to fit the frame being received (its size is checked first). */
        size_t want = 65536;
        size_t avail = conn->rlen - conn->rpos;
        if (avail >= 4) {
            int32_t size = (int32_t)sd_be32(conn->rbuf + conn->rpos);
            if (size < 8 || size > max) {
                process_frames(conn); /* closes with the reason */
                return;
            }
            if ((size_t)size + 4 > avail && (size_t)size + 4 - avail > want)
                want = (size_t)size + 4 - avail;
        }
        if (conn->rcap - conn->rlen < want) {
            if (conn->rpos > 0) {
                memmove(conn->rbuf, conn->rbuf + conn->rpos, conn->rlen - conn->rpos);
                conn->rlen -= conn->rpos;
                conn->rpos = 0;
            }
            if (conn->rcap - conn->rlen < want) {
                size_t cap = conn->rlen + want;
                uint8_t *grown = sd_realloc(conn->rbuf, cap);
                if (!grown) {
                    conn_close(conn, "out of memory for a request");
                    return;
                }
                conn->rbuf = grown;
                conn->rcap = cap;
            }
        }
        ssize_t n = recv(conn->fd, conn->rbuf + conn->rlen, conn->rcap - conn->rlen, 0);
        if (n == 0) {
            conn_close(conn, NULL);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EINTR)
                continue;
            conn_close(conn, strerror(errno));
            return;
        }
        conn->rlen += (size_t)n;
        conn->last_active_ms = conn->server->now_ms;
        process_frames(conn);
    }
    /* Shrink a buffer left large by one big request. */
    if (conn->state == CONN_IDLE && conn->rlen == conn->rpos && conn->rcap > (1u << 20)) {
        sd_free(conn->rbuf);
        conn->rbuf = NULL;
        conn->rlen = conn->rcap = conn->rpos = 0;
    }
}

static void format_addr(const struct sockaddr_storage *ss, char *host, size_t n, int *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)n);
        *port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)n);
        *port = ntohs(a->sin_port);
    }
}

static void on_accept(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(in->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                sd_warn(MOD, "accept failed: %s", strerror(errno));
            return;
        }
        if ((int64_t)in->nconns >= in->max_connections) {
            sd_warn(MOD, "refusing a connection: max.connections (%lld) reached",
                    (long long)in->max_connections);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bk_conn_t *conn = sd_calloc(1, sizeof *conn);
        kp_arena_t *arena = conn ? kp_arena_new() : NULL;
        if (!conn || !arena) {
            sd_free(conn);
            close(fd);
            sd_error(MOD, "out of memory accepting a connection");
            continue;
        }
        conn->fd = fd;
        conn->server = server;
        conn->arena = arena;
        conn->last_active_ms = server->now_ms;
        char host[INET6_ADDRSTRLEN];
        int port;
        format_addr(&ss, host, sizeof host, &port);
        snprintf(conn->peer, sizeof conn->peer, "%s:%d", host, port);
        struct sockaddr_storage local;
        len = sizeof local;
        if (getsockname(fd, (struct sockaddr *)&local, &len) == 0)
            format_addr(&local, conn->local_host, sizeof conn->local_host, &conn->local_port);
        conn->events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
        if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            kp_arena_free(arena);
            sd_free(conn);
            close(fd);
            continue;
        }
        conn->next = in->conns;
        if (in->conns)
            in->conns->prev = conn;
        in->conns = conn;
        in->nconns++;
        sd_debug(MOD, "accepted connection from %s", conn->peer);
    }
}

/* Re-runs parked requests when woken, and those whose deadline passed. */
static void run_parked(bk_server_t *server, int woken)
{
    for (bk_conn_t *c = server->internal->conns; c; c = c->next) {
        if (c->state != CONN_PARKED || c->closing)
            continue;
        int timed_out = server->now_ms >= c->req.deadline_ms;
        if (!timed_out && !woken)
            continue;
        reset_body(&c->req);
        c->state = CONN_IDLE;
        after_handler(c, c->req.retry(&c->req, timed_out));
        if (c->state == CONN_IDLE && !c->closing) {
            process_frames(c);
            update_interest(c);
        }
    }
}

static int next_timeout(bk_server_t *server)
{
    if (server->wake_parked)
        return 0;
    int64_t timeout = TICK_MS;
    for (bk_conn_t *c = server->internal->conns; c; c = c->next)
        if (c->state == CONN_PARKED && c->req.deadline_ms - server->now_ms < timeout)
            timeout = c->req.deadline_ms - server->now_ms;
    return timeout < 0 ? 0 : (int)timeout;
}

static void periodic(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    if (server->now_ms - in->last_tick_ms < 1000)
        return;
    in->last_tick_ms = server->now_ms;
    for (size_t t = 0; t < server->topics.count; t++) {
        bk_topic_t *topic = server->topics.items[t];
        for (int32_t p = 0; p < topic->partition_count; p++)
            kl_log_maybe_roll(topic->partitions[p].log, server->now_ms);
    }
    bk_cleaner_tick(in->cleaner, &server->topics, server->now_ms);
    if (server->now_ms - in->last_checkpoint_ms >= 10000) {
        in->last_checkpoint_ms = server->now_ms;
        for (size_t t = 0; t < server->topics.count; t++) {
            bk_topic_t *topic = server->topics.items[t];
            for (int32_t p = 0; p < topic->partition_count; p++)
                kl_log_checkpoint(topic->partitions[p].log);
        }
    }
    if (in->idle_ms >= 0) {
        for (bk_conn_t *c = in->conns; c; c = c->next)
            if (c->state == CONN_IDLE && !c->out_head &&
                server->now_ms - c->last_active_ms > in->idle_ms)
                conn_close(c, "idle for longer than connections.max.idle.ms");
    }
}

/* ------------------------------------------------------------ start / stop */

static int parse_listener(const char *text, const char *name, char *host, size_t n, int *port,
                          sd_err_t *err)
{
    const char *p = strstr(text, "://");
    if (!p || strncmp(text, "PLAINTEXT://", 12) != 0 || strchr(text, ','))
        return sd_err_set(err, SD_ERR_INVALID,
                          "invalid value '%s' for %s: expected one PLAINTEXT://HOST:PORT listener",
                          text, name);
    p += 3;
    const char *colon = strrchr(p, ':');
    if (!colon)
        return sd_err_set(err, SD_ERR_INVALID, "invalid value '%s' for %s: no port", text, name);
    size_t hlen = (size_t)(colon - p);
    if (hlen >= 2 && p[0] == '[' && p[hlen - 1] == ']') {
        p++;
        hlen -= 2;
    }
    if (hlen >= n)
        return sd_err_set(err, SD_ERR_INVALID, "invalid value '%s' for %s: host too long", text,
                          name);
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || v < 0 || v > 65535)
        return sd_err_set(err, SD_ERR_INVALID, "invalid value '%s' for %s: bad port", text, name);
    *port = (int)v;
    return 0;
}

static int bind_listener(bk_server_t *server, sd_err_t *err)
{
    struct bk_server_internal *in = server->internal;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", server->listen_port);
    const char *host = server->listen_host[0] ? server->listen_host : NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return sd_err_set(err, SD_ERR_INVALID, "cannot resolve listener host '%s': %s",
                          server->listen_host, gai_strerror(gai));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int rc = sd_err_set(err, SD_ERR_IO, "cannot listen on %s:%d: %s", server->listen_host,
                            server->listen_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return rc;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    char bound[INET6_ADDRSTRLEN];
    format_addr(&ss, bound, sizeof bound, &server->listen_port);
    in->listen_fd = fd;
    return 0;
}

int bk_server_start(bk_server_t *server, const sd_props_t *props, sd_err_t *err)
{
    memset(server, 0, sizeof *server);
    struct bk_server_internal *in = sd_calloc(1, sizeof *in);
    if (!in)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory");
    server->internal = in;
    in->epfd = in->listen_fd = in->signal_fd = in->flush_fd = in->lock_fd = -1;
    in->next_seq = 1;
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->cond, NULL);
    int rc =
        sd_config_init(&server->config, bk_broker_config_defs, bk_broker_config_count, props, err);
    if (rc)
        return rc;
    const sd_config_t *cfg = &server->config;
    sd_log_level_t level;
    if (sd_log_level_parse(sd_config_str(cfg, "strand.log.level"), &level) == 0)
        sd_log_set_level(level);
    server->node_id = (int32_t)sd_config_int(cfg, "broker.id");
    server->acks_all_fsync = sd_config_bool(cfg, "strand.acks.all.fsync");
    in->max_request_bytes = sd_config_int(cfg, "socket.request.max.bytes");
    in->idle_ms = sd_config_int(cfg, "connections.max.idle.ms");
    in->max_connections = sd_config_int(cfg, "max.connections");
    rc = parse_listener(sd_config_str(cfg, "listeners"), "listeners", server->listen_host,
                        sizeof server->listen_host, &server->listen_port, err);
    if (rc)
        return rc;
    const char *adv = sd_config_str(cfg, "advertised.listeners");
    if (adv && *adv) {
        rc = parse_listener(adv, "advertised.listeners", server->advertised_host,
                            sizeof server->advertised_host, &server->advertised_port, err);
        if (rc)
            return rc;
    }
    const char *dirs = sd_config_str(cfg, "log.dirs");
    if (!*dirs || strchr(dirs, ','))
        return sd_err_set(err, SD_ERR_INVALID,
                          "invalid value '%s' for log.dirs: expected one directory", dirs);
    if (strlen(dirs) >= sizeof server->data_dir - 64)
        return sd_err_set(err, SD_ERR_INVALID, "log.dirs path is too long");
    snprintf(server->data_dir, sizeof server->data_dir, "%s", dirs);
    rc = sd_mkdirs(server->data_dir, err);
    if (rc)
        return rc;

    char path[4160];
    snprintf(path, sizeof path, "%s/%s", server->data_dir, LOCK_FILE);
    in->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (in->lock_fd < 0 || flock(in->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return sd_err_set(err, SD_ERR_IO,
                          "data directory %s is in use by another strand process (%s)",
                          server->data_dir, strerror(errno));

    snprintf(path, sizeof path, "%s/strand-meta.db", server->data_dir);
    int fresh = access(path, F_OK) != 0;
    snprintf(path, sizeof path, "%s/%s", server->data_dir, CLEAN_SHUTDOWN_FILE);
    int recover = !fresh && access(path, F_OK) != 0;
    if (!recover) {
        unlink(path);
        sd_fsync_dir(server->data_dir, NULL);
    }
    rc = bk_meta_open(server->data_dir, &server->meta, err);
    if (rc)
        return rc;
    if (recover)
        sd_info(MOD, "no clean-shutdown marker in %s: checking logs for damage", server->data_dir);
    rc = bk_topics_open(&server->topics, server->data_dir, server->meta, cfg, recover, err);
    if (rc)
        return rc;
    rc = bk_coordinator_start(server, err);
    if (rc)
        return rc;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    in->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    in->flush_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    in->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (in->signal_fd < 0 || in->flush_fd < 0 || in->epfd < 0)
        return sd_err_set(err, SD_ERR_IO, "cannot set up the event loop: %s", strerror(errno));
    rc = bind_listener(server, err);
    if (rc)
        return rc;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &in->listen_fd};
    epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->listen_fd, &ev);
    ev.data.ptr = &in->signal_fd;
    epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->signal_fd, &ev);
    ev.data.ptr = &in->flush_fd;
    epoll_ctl(in->epfd, EPOLL_CTL_ADD, in->flush_fd, &ev);
    /* Started after SIGTERM is blocked, so the thread inherits the mask. */
    rc = bk_cleaner_start(cfg, &in->cleaner, err);
    if (rc)
        return rc;
    if (pthread_create(&in->flusher, NULL, flusher_main, in) != 0)
        return sd_err_set(err, SD_ERR_IO, "cannot start the flusher thread");
    in->flusher_started = 1;
    server->now_ms = bk_now_ms();
    in->last_tick_ms = in->last_checkpoint_ms = server->now_ms;
    const char *shown = server->listen_host[0] ? server->listen_host : "0.0.0.0";
    int ipv6 = strchr(shown, ':') != NULL;
    printf("strand: kafka listening on %s%s%s:%d\n", ipv6 ? "[" : "", shown, ipv6 ? "]" : "",
           server->listen_port);
    fflush(stdout);
    sd_info(MOD, "kafka listener ready on port %d, data in %s, cluster id %s", server->listen_port,
            server->data_dir, bk_meta_cluster_id(server->meta));
    return 0;
}

int bk_server_run(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    struct epoll_event events[64];
    while (!in->stop) {
        int n = epoll_wait(in->epfd, events, 64, next_timeout(server));
        if (n < 0 && errno != EINTR) {
            sd_error(MOD, "epoll_wait failed: %s", strerror(errno));
            return -1;
        }
        server->now_ms = bk_now_ms();
        for (int i = 0; i < n; i++) {
            void *ptr = events[i].data.ptr;
            if (ptr == &in->listen_fd) {
                on_accept(server);
            } else if (ptr == &in->signal_fd) {
                struct signalfd_siginfo si;
                while (read(in->signal_fd, &si, sizeof si) == sizeof si) {
                    sd_info(MOD, "received signal %u, shutting down", si.ssi_signo);
                    request_stop(server);
                }
            } else if (ptr == &in->flush_fd) {
                on_flush_event(server);
            } else {
                bk_conn_t *conn = ptr;
                if (conn->closing)
                    continue;
                if (events[i].events & (EPOLLERR | EPOLLHUP) && !(events[i].events & EPOLLIN)) {
                    conn_close(conn, NULL);
                    continue;
                }
                if (events[i].events & EPOLLOUT)
                    send_queued(conn);
                if (events[i].events & EPOLLIN)
                    on_readable(conn);
                else if (conn->state == CONN_IDLE) {
                    process_frames(conn);
                    update_interest(conn);
                }
            }
        }
        bk_coordinator_tick(server);
        int woken = server->wake_parked;
        server->wake_parked = 0;
        run_parked(server, woken);
        maybe_start_flush(server);
        periodic(server);
        reap_closed(server);
    }
    return 0;
}

/* Syncs every partition with unflushed data (at shutdown, on this thread). */
static void flush_all(bk_server_t *server)
{
    for (size_t t = 0; t < server->topics.count; t++) {
        bk_topic_t *topic = server->topics.items[t];
        for (int32_t p = 0; p < topic->partition_count; p++) {
            int fds[16];
            size_t n = 0;
            int64_t upto;
            kl_log_t *log = topic->partitions[p].log;
            if (kl_log_flush_fds(log, fds, 16, &n, &upto) != 0)
                continue;
            int ok = 1;
            for (size_t i = 0; i < n; i++) {
                if (fdatasync(fds[i]) != 0)
                    ok = 0;
                close(fds[i]);
            }
            if (ok)
                kl_log_mark_flushed(log, upto);
        }
    }
}

void bk_server_free(bk_server_t *server)
{
    struct bk_server_internal *in = server->internal;
    if (!in) {
        sd_config_free(&server->config);
        return;
    }
    int clean = in->stop && server->meta;
    if (in->flusher_started) {
        pthread_mutex_lock(&in->lock);
        in->stop_flusher = 1;
        pthread_cond_signal(&in->cond);
        pthread_mutex_unlock(&in->lock);
        pthread_join(in->flusher, NULL);
        job_free(in->job);
    }
    while (in->conns)
        conn_free(in->conns);
    bk_coordinator_free(server);
    bk_cleaner_stop(in->cleaner, &server->topics);
    in->cleaner = NULL;
    if (server->topics.dir) {
        flush_all(server);
        bk_topics_close(&server->topics);
    }
    bk_meta_close(server->meta);
    if (clean) {
        char path[4160];
        snprintf(path, sizeof path, "%s/%s", server->data_dir, CLEAN_SHUTDOWN_FILE);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
            sd_fsync_dir(server->data_dir, NULL);
            sd_info(MOD, "clean shutdown complete");
        }
    }
    if (in->listen_fd >= 0)
        close(in->listen_fd);
    if (in->signal_fd >= 0)
        close(in->signal_fd);
    if (in->flush_fd >= 0)
        close(in->flush_fd);
    if (in->epfd >= 0)
        close(in->epfd);
    if (in->lock_fd >= 0)
        close(in->lock_fd);
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->cond);
    sd_free(in->dirty);
    sd_free(in);
    server->internal = NULL;
    sd_config_free(&server->config);
}
