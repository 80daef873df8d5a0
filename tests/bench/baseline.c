/*
 * baseline.c - what moving a benchmark's bytes costs without a broker, for
 * `make bench` to set beside the broker's figures from the same run.
 *
 * produce: a sender writes COUNT records' worth of bytes over loopback TCP in
 * chunks the size of a producer batch, and a receiver appends each chunk to
 * a file (page cache, no fsync), as a broker does at acks=1. consume: a file
 * of the same bytes goes to a socket reader with sendfile(2) in fetch-sized
 * pieces, the zero-copy path a Kafka fetch takes. One JSON line on stdout.
 *
 * Bytes per record = value size + --record-overhead; every batch of
 * --batch-records records adds --batch-overhead. Defaults, for 100-byte values
 * without keys or headers in record batch v2 (magic 2):
 *   per record 10 B: length varint 2, attributes 1, timestampDelta 1,
 *                    offsetDelta 2 (3 past 8191), keyLength 1 (null),
 *                    valueLength 2, header count 1;
 *   per batch  61 B batch header on disk; 130 B when produced, adding the
 *                    Produce request's framing (size, header, client id,
 *                    acks, timeout, topic and partition arrays).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#include "base/alloc.h"

#define MIB (1024.0 * 1024.0)

typedef struct options {
    const char *mode;
    long long count;
    long long size;
    long long record_overhead;
    long long batch_records;
    long long batch_overhead; /* -1 until set: the default depends on the mode */
    long long fetch_bytes;
    const char *dir;
} options_t;

/* State shared by the measuring thread and the peer thread; the peer writes
 * its fields before it exits and the measuring thread reads them after
 * pthread_join. */
typedef struct peer {
    int listen_fd;
    int port;
    const char *path;       /* produce: the file the receiver appends to */
    long long chunk_bytes;  /* produce: bytes the receiver reads before a write */
    long long expect_bytes; /* consume: bytes the reader waits for */
    long long received;
    long long done_ns; /* consume: when the last byte arrived */
    const char *error;
    int error_errno;
} peer_t;

static options_t opt;

static void fill_pattern(char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + (i * 7 + i / 13) % 26);
}

/* Returns 0 once all len bytes are written, -1 with errno set otherwise. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads until len bytes or end of stream; returns the bytes read, -1 on error. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static void open_listener(peer_t *peer)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t addr_len = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    peer->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (peer->listen_fd < 0 || bind(peer->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(peer->listen_fd, 1) != 0 ||
        getsockname(peer->listen_fd, (struct sockaddr *)&addr, &addr_len) != 0)
        die("loopback listener: %s", strerror(errno));
    peer->port = ntohs(addr.sin_port);
}

static int connect_loopback(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void *peer_fail(peer_t *peer, const char *what)
{
    peer->error = what;
    peer->error_errno = errno;
    return NULL;
}

/* ---- produce: socket -> append to file -------------------------------- */

/* Reads one batch-sized chunk at a time, as a broker reads one request, and
 * appends it with one write. After end of stream it sends one byte, so the
 * sender's clock stops only once every byte is in the file. */
static void *receiver_run(void *arg)
{
    peer_t *peer = arg;
    char *buf = NULL;
    int conn = -1, file = -1;

    conn = accept4(peer->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return peer_fail(peer, "accept");
    file = open(peer->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (file < 0) {
        peer_fail(peer, "open the receiver's file");
        goto done;
    }
    buf = sd_malloc((size_t)peer->chunk_bytes);
    if (!buf) {
        peer_fail(peer, "allocate the receive buffer");
        goto done;
    }
    for (;;) {
        ssize_t n = read_full(conn, buf, (size_t)peer->chunk_bytes);
        if (n < 0) {
            peer_fail(peer, "read");
            goto done;
        }
        if (n > 0 && write_all(file, buf, (size_t)n) != 0) {
            peer_fail(peer, "append to the file");
            goto done;
        }
        peer->received += n;
        if (n < peer->chunk_bytes)
            break;
    }
    if (write_all(conn, "k", 1) != 0)
        peer_fail(peer, "acknowledge");
done:
    sd_free(buf);
    if (file >= 0)
        close(file);
    if (conn >= 0)
        close(conn);
    return NULL;
}

static void run_produce(long long total_bytes, long long chunk_bytes)
{
    char path[4096];
    char *chunk = sd_malloc((size_t)chunk_bytes);
    if (!chunk)
        die("out of memory for a %lld-byte chunk", chunk_bytes);
    fill_pattern(chunk, (size_t)chunk_bytes);
    snprintf(path, sizeof path, "%s/baseline-produce-%d.log", opt.dir, (int)getpid());

    peer_t peer = {.path = path, .chunk_bytes = chunk_bytes};
    pthread_t thread;
    open_listener(&peer);
    if (pthread_create(&thread, NULL, receiver_run, &peer) != 0)
        die("pthread_create failed");
    int fd = connect_loopback(peer.port);
    if (fd < 0)
        die("connect: %s", strerror(errno));

    long long start = bench_now_ns();
    for (long long sent = 0; sent < total_bytes;) {
        long long n = total_bytes - sent < chunk_bytes ? total_bytes - sent : chunk_bytes;
        if (write_all(fd, chunk, (size_t)n) != 0)
            die("send: %s", strerror(errno));
        sent += n;
    }
    char ack;
    if (shutdown(fd, SHUT_WR) != 0 || read_full(fd, &ack, 1) != 1)
        die("no acknowledgement from the receiver: %s", strerror(errno));
    long long end = bench_now_ns();

    pthread_join(thread, NULL);
    close(fd);
    close(peer.listen_fd);
    unlink(path);
    sd_free(chunk);
    if (peer.error)
        die("receiver: %s: %s", peer.error, strerror(peer.error_errno));
    if (peer.received != total_bytes)
        die("receiver got %lld of %lld bytes", peer.received, total_bytes);

    double seconds = (double)(end - start) / 1e9;
    printf("{\"mode\":\"baseline-produce\",\"records\":%lld,\"record_bytes\":%lld,"
           "\"chunk_bytes\":%lld,\"bytes\":%lld,\"seconds\":%.4f,\"records_per_s\":%.0f,"
           "\"mb_per_s\":%.2f,\"wire_mb_per_s\":%.2f}\n",
           opt.count, opt.size, chunk_bytes, total_bytes, seconds, (double)opt.count / seconds,
           (double)(opt.count * opt.size) / MIB / seconds, (double)total_bytes / MIB / seconds);
}

/* ---- consume: file -> sendfile -> socket reader ----------------------- */

static void *reader_run(void *arg)
{
    peer_t *peer = arg;
    size_t buf_len = 1 << 20;
    char *buf = sd_malloc(buf_len);
    if (!buf)
        return peer_fail(peer, "allocate the read buffer");
    int fd = connect_loopback(peer->port);
    if (fd < 0) {
        sd_free(buf);
        return peer_fail(peer, "connect");
    }
    while (peer->received < peer->expect_bytes) {
        ssize_t n = read(fd, buf, buf_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            peer_fail(peer, "read");
            break;
        }
        if (n == 0)
            break;
        peer->received += n;
    }
    peer->done_ns = bench_now_ns();
    close(fd);
    sd_free(buf);
    return NULL;
}

static void write_file(const char *path, long long total_bytes)
{
    size_t buf_len = 1 << 20;
    char *buf = sd_malloc(buf_len);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!buf || fd < 0)
        die("create %s: %s", path, strerror(errno));
    fill_pattern(buf, buf_len);
    for (long long written = 0; written < total_bytes;) {
        size_t n =
            total_bytes - written < (long long)buf_len ? (size_t)(total_bytes - written) : buf_len;
        if (write_all(fd, buf, n) != 0)
            die("write %s: %s", path, strerror(errno));
        written += (long long)n;
    }
    close(fd);
    sd_free(buf);
}

static void run_consume(long long total_bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/baseline-consume-%d.log", opt.dir, (int)getpid());
    /* Written just before, so it is in the page cache, like a segment the
     * broker has just appended to. */
    write_file(path, total_bytes);
    int file = open(path, O_RDONLY | O_CLOEXEC);
    if (file < 0)
        die("open %s: %s", path, strerror(errno));

    peer_t peer = {.expect_bytes = total_bytes};
    pthread_t thread;
    open_listener(&peer);
    if (pthread_create(&thread, NULL, reader_run, &peer) != 0)
        die("pthread_create failed");
    int conn = accept4(peer.listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        die("accept: %s", strerror(errno));

    long long start = bench_now_ns();
    off_t offset = 0;
    while (offset < total_bytes) {
        long long left = total_bytes - (long long)offset;
        size_t n = (size_t)(left < opt.fetch_bytes ? left : opt.fetch_bytes);
        /* One fetch response's worth per call; sendfile may send less. */
        while (n > 0) {
            ssize_t sent = sendfile(conn, file, &offset, n);
            if (sent < 0 && errno == EINTR)
                continue;
            if (sent <= 0)
                die("sendfile: %s", sent < 0 ? strerror(errno) : "sent nothing");
            n -= (size_t)sent;
        }
    }
    pthread_join(thread, NULL);
    long long end = peer.done_ns;

    close(conn);
    close(peer.listen_fd);
    close(file);
    unlink(path);
    if (peer.error)
        die("reader: %s: %s", peer.error, strerror(peer.error_errno));
    if (peer.received != total_bytes)
        die("reader got %lld of %lld bytes", peer.received, total_bytes);

    double seconds = (double)(end - start) / 1e9;
    printf("{\"mode\":\"baseline-consume\",\"records\":%lld,\"record_bytes\":%lld,"
           "\"fetch_bytes\":%lld,\"bytes\":%lld,\"seconds\":%.4f,\"records_per_s\":%.0f,"
           "\"mb_per_s\":%.2f,\"wire_mb_per_s\":%.2f}\n",
           opt.count, opt.size, opt.fetch_bytes, total_bytes, seconds, (double)opt.count / seconds,
           (double)(opt.count * opt.size) / MIB / seconds, (double)total_bytes / MIB / seconds);
}

/* ---- options ---------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: baseline produce|consume --count N --size BYTES [options]\n"
                 "  --record-overhead B  framing bytes per record (default 10)\n"
                 "  --batch-records N    records per producer batch (default 10000)\n"
                 "  --batch-overhead B   framing bytes per batch (default 130 for produce,\n"
                 "                       61 for consume)\n"
                 "  --fetch-bytes B      consume: bytes per sendfile call (default 1048576)\n"
                 "  --dir DIR            where the file goes (default .)\n"
                 "records_per_s and mb_per_s count record values only, as kbench does, so the\n"
                 "two compare directly; wire_mb_per_s counts every byte moved.\n");
}

int main(int argc, char **argv)
{
    bench_program = "baseline";
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 's'},
        {"record-overhead", required_argument, NULL, 'o'},
        {"batch-records", required_argument, NULL, 'B'},
        {"batch-overhead", required_argument, NULL, 'O'},
        {"fetch-bytes", required_argument, NULL, 'f'},
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opt = (options_t){
        .count = 1000000,
        .size = 100,
        .record_overhead = 10,
        .batch_records = 10000,
        .batch_overhead = -1,
        .fetch_bytes = 1 << 20,
        .dir = ".",
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt.count = parse_number("count", optarg, 1, 1LL << 40); break;
        case 's': opt.size = parse_number("size", optarg, 0, 1 << 24); break;
        case 'o': opt.record_overhead = parse_number("record-overhead", optarg, 0, 1 << 20); break;
        case 'B': opt.batch_records = parse_number("batch-records", optarg, 1, 1 << 24); break;
        case 'O': opt.batch_overhead = parse_number("batch-overhead", optarg, 0, 1 << 20); break;
        case 'f': opt.fetch_bytes = parse_number("fetch-bytes", optarg, 1, 1LL << 31); break;
        case 'd': opt.dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    opt.mode = argv[optind];
    /* A peer that gives up must surface as an error from write or sendfile,
     * not end the process silently. */
    signal(SIGPIPE, SIG_IGN);
    int produce = strcmp(opt.mode, "produce") == 0;
    if (!produce && strcmp(opt.mode, "consume") != 0)
        die("mode must be produce or consume, not '%s'", opt.mode);
    if (opt.batch_overhead < 0)
        opt.batch_overhead = produce ? 130 : 61;

    long long batches = (opt.count + opt.batch_records - 1) / opt.batch_records;
    long long total = opt.count * (opt.size + opt.record_overhead) + batches * opt.batch_overhead;
    if (produce)
        run_produce(total,
                    opt.batch_records * (opt.size + opt.record_overhead) + opt.batch_overhead);
    else
        run_consume(total);
    return 0;
}
