/*
 * kl_segment.c - one log segment: <base>.log + .index + .timeindex (see
 * kl_segment.h). Batches are located by walking their headers from an index
 * entry; recovery rescans them with their CRCs.
 */
#include "storage/kl_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/crc32c.h"
#include "base/log.h"

static int io_error(const kl_segment_t *seg, const char *what, sd_err_t *err)
{
    return sd_err_set(err, KL_ERR_STORAGE, "%s %s/%s: %s", what, seg->dir, seg->name,
                      strerror(errno));
}

/* Reads up to len bytes at pos; returns the count read (short at end of
 * file) or -1 with errno set. */
static ssize_t pread_full(int fd, uint8_t *buf, size_t len, int64_t pos)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(pos + (int64_t)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int kl_segment__open(int dir_fd, const char *dir, int64_t base_offset, int create,
                     kl_segment_t **out, sd_err_t *err)
{
    *out = NULL;
    kl_segment_t *seg = sd_calloc(1, sizeof *seg);
    if (!seg)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory opening a segment");
    seg->log_fd = seg->offsets.fd = seg->times.fd = -1;
    seg->base_offset = base_offset;
    seg->end_offset = base_offset;
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = -1;
    seg->roll_base_ms = -1;
    seg->dir = dir;
    snprintf(seg->name, sizeof seg->name, "%020" PRId64 ".log", base_offset);

    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
    seg->log_fd = openat(dir_fd, seg->name, flags, 0644);
    if (seg->log_fd < 0) {
        int rc = io_error(seg, "open", err);
        kl_segment__close(seg);
        return rc;
    }
    struct stat st;
    if (fstat(seg->log_fd, &st) < 0) {
        int rc = io_error(seg, "stat", err);
        kl_segment__close(seg);
        return rc;
    }
    seg->size = st.st_size;
    char name[40];
    snprintf(name, sizeof name, "%020" PRId64 ".index", base_offset);
    int rc = kl_index__open(&seg->offsets, dir_fd, dir, name, KL_OFFSET_ENTRY_SIZE, create, err);
    if (rc == 0) {
        snprintf(name, sizeof name, "%020" PRId64 ".timeindex", base_offset);
        rc = kl_index__open(&seg->times, dir_fd, dir, name, KL_TIME_ENTRY_SIZE, create, err);
    }
    if (rc) {
        kl_segment__close(seg);
        return rc;
    }
    *out = seg;
    return 0;
}

void kl_segment__close(kl_segment_t *seg)
{
    if (!seg)
        return;
    if (seg->log_fd >= 0)
        close(seg->log_fd);
    kl_index__close(&seg->offsets);
    kl_index__close(&seg->times);
    sd_free(seg);
}

void kl_segment__delete(kl_segment_t *seg, int dir_fd)
{
    char names[3][40];
    snprintf(names[0], sizeof names[0], "%s", seg->name);
    snprintf(names[1], sizeof names[1], "%s", seg->offsets.name);
    snprintf(names[2], sizeof names[2], "%s", seg->times.name);
    kl_segment__close(seg);
    for (int i = 0; i < 3; i++)
        if (names[i][0])
            unlinkat(dir_fd, names[i], 0);
}

/* A time entry when the largest timestamp grew since the last one. */
static void maybe_append_time(kl_segment_t *seg)
{
    int64_t last = seg->times.count ? kl_index__timestamp(&seg->times, seg->times.count - 1) : -1;
    if (seg->max_timestamp > last)
        kl_index__append_time(&seg->times, seg->max_timestamp,
                              (uint32_t)(seg->offset_of_max_timestamp - seg->base_offset));
}

void kl_segment__note_batch(kl_segment_t *seg, int64_t position, int64_t size, int64_t base_offset,
                            int64_t last_offset, int64_t max_timestamp, int32_t index_interval)
{
    if (max_timestamp > seg->max_timestamp) {
        seg->max_timestamp = max_timestamp;
        seg->offset_of_max_timestamp = base_offset;
    }
    /* Short of memory the entry is skipped and tried again at the next
     * batch: a sparser index is still a correct one. */
    if (seg->bytes_since_index > index_interval &&
        kl_index__append_offset(&seg->offsets, (uint32_t)(base_offset - seg->base_offset),
                                (uint32_t)position) == 0) {
        maybe_append_time(seg);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += size;
    seg->end_offset = last_offset + 1;
}

int kl_segment__write(kl_segment_t *seg, const uint8_t *buf, size_t len, sd_err_t *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(seg->log_fd, buf + done, len - done, (off_t)(seg->size + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            int rc = io_error(seg, "write", err);
            if (done > 0 && ftruncate(seg->log_fd, (off_t)seg->size) < 0)
                sd_error("kl_log",
                         "cannot cut %s/%s back to %" PRId64 " bytes after a failed write: %s",
                         seg->dir, seg->name, seg->size, strerror(errno));
            return rc;
        }
        done += (size_t)n;
    }
    seg->size += (int64_t)len;
    return 0;
}

int kl_segment__write_indexes(kl_segment_t *seg, sd_err_t *err)
{
    int rc = kl_index__write_pending(&seg->offsets, err);
    if (rc == 0)
        rc = kl_index__write_pending(&seg->times, err);
    return rc;
}

int kl_segment__finish(kl_segment_t *seg, sd_err_t *err)
{
    maybe_append_time(seg);
    return kl_segment__write_indexes(seg, err);
}

/* Walks batch headers through a small read-ahead buffer. */
typedef struct header_cursor {
    const kl_segment_t *seg;
    int64_t start; /* file position of buf[0] */
    size_t len;
    uint8_t buf[4096];
} header_cursor_t;

static void cursor_init(header_cursor_t *c, const kl_segment_t *seg)
{
    c->seg = seg;
    c->start = 0;
    c->len = 0;
}

/* The header of the batch at pos, checked to be a plausible batch that ends
 * inside the segment. KL_ERR_CORRUPT when not. */
static int cursor_header(header_cursor_t *c, int64_t pos, kl_batch_header_t *h, sd_err_t *err)
{
    const kl_segment_t *seg = c->seg;
    if (pos < 0 || seg->size - pos < KL_BATCH_HEADER_SIZE)
        return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: no batch header at byte %" PRId64, seg->dir,
                          seg->name, pos);
    if (pos < c->start || pos + KL_BATCH_HEADER_SIZE > c->start + (int64_t)c->len) {
        size_t want = sizeof c->buf;
        if ((int64_t)want > seg->size - pos)
            want = (size_t)(seg->size - pos);
        ssize_t n = pread_full(seg->log_fd, c->buf, want, pos);
        if (n < 0)
            return io_error(seg, "read", err);
        c->start = pos;
        c->len = (size_t)n;
        if (n < KL_BATCH_HEADER_SIZE)
            return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: short read at byte %" PRId64, seg->dir,
                              seg->name, pos);
    }
    kl_batch_header_decode(c->buf + (pos - c->start), h);
    if (h->magic != KL_BATCH_MAGIC_V2 ||
        h->batch_length < KL_BATCH_HEADER_SIZE - KL_BATCH_LOG_OVERHEAD ||
        kl_batch_total_size(h) > seg->size - pos || h->last_offset_delta < 0)
        return sd_err_set(err, KL_ERR_CORRUPT, "%s/%s: bad batch header at byte %" PRId64, seg->dir,
                          seg->name, pos);
    return 0;
}

int kl_segment__load(kl_segment_t *seg, int is_last, int64_t next_base, sd_err_t *err)
{
    int64_t max_rel = is_last ? INT32_MAX : next_base - 1 - seg->base_offset;
    if (max_rel > INT32_MAX)
        max_rel = INT32_MAX;
    if (kl_index__check_offsets(&seg->offsets, seg->size, max_rel) ||
        kl_index__check_times(&seg->times, max_rel))
        return 1;
    header_cursor_t *c = sd_malloc(sizeof *c);
    if (!c)
        return sd_err_set(err, SD_ERR_NOMEM, "out of memory loading %s/%s", seg->dir, seg->name);
    cursor_init(c, seg);
    kl_batch_header_t h;
    int rc = 0;
    int64_t pos = 0;
    /* The last offset entry must point at the batch it names. */
    if (seg->offsets.count) {
        size_t last = seg->offsets.count - 1;
        pos = kl_index__position(&seg->offsets, last);
        rc = cursor_header(c, pos, &h, err);
        if (rc == KL_ERR_CORRUPT ||
            (rc == 0 &&
             h.base_offset != seg->base_offset + kl_index__rel_offset(&seg->offsets, last)))
            rc = 1;
        if (rc)
            goto done;
    }
    if (seg->times.count) {
        size_t last = seg->times.count - 1;
        seg->max_timestamp = kl_index__timestamp(&seg->times, last);
        seg->offset_of_max_timestamp =
            seg->base_offset + kl_index__time_rel_offset(&seg->times, last);
    }
    if (!is_last) {
        seg->end_offset = next_base;
        goto done;
    }
    /* The active segment: its end offset and largest timestamp come from
     * the batches after the last index entry, and the segment.ms clock from
     * its first batch. */
    if (seg->size > 0) {
        rc = cursor_header(c, 0, &h, err);
        if (rc)
            goto corrupt;
        seg->roll_base_ms = h.max_timestamp;
    }
    int64_t end = seg->base_offset;
    int64_t walk = pos;
    while (walk < seg->size) {
        rc = cursor_header(c, walk, &h, err);
        if (rc)
            goto corrupt;
        if (h.base_offset < seg->base_offset ||
            kl_batch_last_offset(&h) - seg->base_offset > INT32_MAX ||
            (walk > pos && h.base_offset < end)) {
            rc = 1;
            goto done;
        }
        if (h.max_timestamp > seg->max_timestamp) {
            seg->max_timestamp = h.max_timestamp;
            seg->offset_of_max_timestamp = h.base_offset;
        }
        end = kl_batch_last_offset(&h) + 1;
        walk += kl_batch_total_size(&h);
    }
    seg->end_offset = end;
    seg->bytes_since_index = seg->size - pos;
    goto done;
corrupt:
    if (rc == KL_ERR_CORRUPT)
        rc = 1;
done:
    sd_free(c);
    return rc;
}

/* Sequential reads through the caller's scratch buffer, for recovery. */
typedef struct scan_window {
    int fd;
    uint8_t *buf;
    size_t cap;
    int64_t file_size;
    int64_t start;
    size_t len;
} scan_window_t;

/* Pointer to bytes [pos, pos + n) with n <= cap; NULL on a read error
 * (errno set) or when the file ends first (*short_read set). */
static const uint8_t *window_get(scan_window_t *w, int64_t pos, size_t n, int *short_read)
{
    if (pos >= w->start && pos + (int64_t)n <= w->start + (int64_t)w->len)
        return w->buf + (pos - w->start);
    size_t want = w->cap;
    if ((int64_t)want > w->file_size - pos)
        want = (size_t)(w->file_size - pos);
    ssize_t got = pread_full(w->fd, w->buf, want, pos);
    if (got < 0)
        return NULL;
    w->start = pos;
    w->len = (size_t)got;
    if ((size_t)got < n) {
        *short_read = 1;
        return NULL;
    }
    return w->buf;
}

int kl_segment__recover(kl_segment_t *seg, int64_t min_offset, int32_t index_interval, uint8_t *buf,
                        size_t buf_size, kl_recover_result_t *result, sd_err_t *err)
{
    result->cut_bytes = 0;
    result->reason[0] = '\0';
    struct stat st;
    if (fstat(seg->log_fd, &st) < 0)
        return io_error(seg, "stat", err);
    /* Both indexes are rebuilt from nothing. */
    seg->offsets.count = seg->offsets.written = 0;
    seg->times.count = seg->times.written = 0;
    seg->offsets.damaged = seg->times.damaged = 0;
    if (ftruncate(seg->offsets.fd, 0) < 0 || ftruncate(seg->times.fd, 0) < 0)
        return io_error(seg, "truncate the indexes of", err);
    seg->bytes_since_index = 0;
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = -1;
    seg->roll_base_ms = -1;
    seg->end_offset = seg->base_offset;

    scan_window_t w = {.fd = seg->log_fd, .buf = buf, .cap = buf_size, .file_size = st.st_size};
    int64_t next = min_offset > seg->base_offset ? min_offset : seg->base_offset;
    int64_t pos = 0;
    int short_read = 0;
    char *reason = result->reason;
    size_t reason_len = sizeof result->reason;
    while (pos < st.st_size) {
        if (st.st_size - pos < KL_BATCH_HEADER_SIZE) {
            snprintf(reason, reason_len, "torn batch header (%" PRId64 " bytes left)",
                     st.st_size - pos);
            break;
        }
        const uint8_t *p = window_get(&w, pos, KL_BATCH_HEADER_SIZE, &short_read);
        if (!p) {
            if (short_read) {
                snprintf(reason, reason_len, "file shrank while reading");
                break;
            }
            return io_error(seg, "read", err);
        }
        kl_batch_header_t h;
        kl_batch_header_decode(p, &h);
        if (h.magic != KL_BATCH_MAGIC_V2) {
            snprintf(reason, reason_len, "magic %d", h.magic);
            break;
        }
        if (h.batch_length < KL_BATCH_HEADER_SIZE - KL_BATCH_LOG_OVERHEAD) {
            snprintf(reason, reason_len, "batchLength %" PRId32, h.batch_length);
            break;
        }
        int64_t size = kl_batch_total_size(&h);
        if (size > st.st_size - pos) {
            snprintf(reason, reason_len,
                     "batch of %" PRId64 " bytes runs past the end of the file (torn write)", size);
            break;
        }
        if (h.last_offset_delta < 0 || h.base_offset < next ||
            kl_batch_last_offset(&h) - seg->base_offset > INT32_MAX) {
            snprintf(reason, reason_len,
                     "offsets %" PRId64 "+%" PRId32 " out of order (expected >= %" PRId64 ")",
                     h.base_offset, h.last_offset_delta, next);
            break;
        }
        if (pos + size > (int64_t)UINT32_MAX) {
            snprintf(reason, reason_len, "segment larger than 4 GiB");
            break;
        }
        uint32_t crc = 0;
        int64_t from = pos + KL_BATCH_OFF_ATTRIBUTES, to = pos + size;
        while (from < to) {
            size_t chunk = (size_t)(to - from) < buf_size ? (size_t)(to - from) : buf_size;
            const uint8_t *q = window_get(&w, from, chunk, &short_read);
            if (!q) {
                if (short_read)
                    break;
                return io_error(seg, "read", err);
            }
            crc = sd_crc32c(crc, q, chunk);
            from += (int64_t)chunk;
        }
        if (short_read) {
            snprintf(reason, reason_len, "file shrank while reading");
            break;
        }
        if (crc != h.crc) {
            snprintf(reason, reason_len,
                     "CRC mismatch (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")", h.crc, crc);
            break;
        }
        if (pos == 0)
            seg->roll_base_ms = h.max_timestamp;
        kl_segment__note_batch(seg, pos, size, h.base_offset, kl_batch_last_offset(&h),
                               h.max_timestamp, index_interval);
        next = kl_batch_last_offset(&h) + 1;
        pos += size;
    }
    result->cut_bytes = st.st_size - pos;
    seg->size = pos;
    return kl_segment__write_indexes(seg, err);
}

int kl_segment__cut(kl_segment_t *seg, sd_err_t *err)
{
    if (ftruncate(seg->log_fd, (off_t)seg->size) < 0)
        return io_error(seg, "truncate", err);
    return 0;
}

int kl_segment__find_offset(const kl_segment_t *seg, int64_t offset, int64_t *position,
                            kl_batch_header_t *h, sd_err_t *err)
{
    int64_t pos = 0;
    if (offset > seg->base_offset) {
        int64_t rel = offset - seg->base_offset;
        size_t i =
            kl_index__floor_offset(&seg->offsets, rel > UINT32_MAX ? UINT32_MAX : (uint32_t)rel);
        if (i != SIZE_MAX)
            pos = kl_index__position(&seg->offsets, i);
    }
    header_cursor_t c;
    cursor_init(&c, seg);
    while (pos < seg->size) {
        int rc = cursor_header(&c, pos, h, err);
        if (rc)
            return rc;
        if (kl_batch_last_offset(h) >= offset) {
            *position = pos;
            return 1;
        }
        pos += kl_batch_total_size(h);
    }
    return 0;
}

int kl_segment__extend(const kl_segment_t *seg, int64_t start, int64_t first_size,
                       int32_t max_bytes, int64_t *end, sd_err_t *err)
{
    *end = start + first_size;
    if (max_bytes <= first_size)
        return 0;
    int64_t limit = start + max_bytes;
    if (limit > seg->size)
        limit = seg->size;
    /* Index positions are batch boundaries: jump to the last one that
     * fits, then walk the few headers after it. */
    size_t i = kl_index__floor_position(&seg->offsets, (uint32_t)limit);
    if (i != SIZE_MAX && kl_index__position(&seg->offsets, i) > *end)
        *end = kl_index__position(&seg->offsets, i);
    header_cursor_t c;
    cursor_init(&c, seg);
    while (limit - *end >= KL_BATCH_HEADER_SIZE) {
        kl_batch_header_t h;
        int rc = cursor_header(&c, *end, &h, err);
        if (rc)
            return rc;
        if (*end + kl_batch_total_size(&h) > limit)
            break;
        *end += kl_batch_total_size(&h);
    }
    return 0;
}

int kl_segment__find_timestamp(const kl_segment_t *seg, int64_t timestamp, int64_t *position,
                               kl_batch_header_t *h, sd_err_t *err)
{
    /* Batches before the time entry's offset all have smaller timestamps
     * (the entry names the first batch to reach its timestamp). */
    int64_t pos = *position;
    if (pos < 0) {
        pos = 0;
        size_t i = kl_index__floor_time(&seg->times, timestamp);
        if (i != SIZE_MAX) {
            size_t j =
                kl_index__floor_offset(&seg->offsets, kl_index__time_rel_offset(&seg->times, i));
            if (j != SIZE_MAX)
                pos = kl_index__position(&seg->offsets, j);
        }
    }
    header_cursor_t c;
    cursor_init(&c, seg);
    while (pos < seg->size) {
        int rc = cursor_header(&c, pos, h, err);
        if (rc)
            return rc;
        if (h->max_timestamp >= timestamp) {
            *position = pos;
            return 1;
        }
        pos += kl_batch_total_size(h);
    }
    return 0;
}

int kl_segment__pread(const kl_segment_t *seg, int64_t pos, uint8_t *buf, size_t len, sd_err_t *err)
{
    ssize_t n = pread_full(seg->log_fd, buf, len, pos);
    if (n < 0)
        return io_error(seg, "read", err);
    if ((size_t)n != len)
        return sd_err_set(err, KL_ERR_STORAGE, "%s/%s: short read at byte %" PRId64, seg->dir,
                          seg->name, pos);
    return 0;
}
