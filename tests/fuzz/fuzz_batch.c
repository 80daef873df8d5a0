/*
 * fuzz_batch.c - libFuzzer target for record batch handling: the input is a
 * Produce partition's records buffer. It goes through the validator (on a
 * copy), the record and header readers of every uncompressed batch that
 * validates, and then kl_log_append on a long-lived temporary log, whose
 * reads must give back exactly the bytes appended. Every few thousand inputs
 * the log is reopened with recovery, which must find it intact; a fraction
 * of inputs is also written raw as a segment file and recovered, which must
 * never fail on content alone. A custom mutator fixes the CRCs of most
 * mutants so that the checks behind the CRC get explored too.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "storage/kl_batch.h"
#include "storage/kl_log.h"

static char root[64];
static char log_dir[128];
static char raw_dir[128];
static kl_log_t *log;
static kl_log_config_t config;
static unsigned long appended;

static void quiet(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)level;
    (void)module;
    (void)line;
    (void)opaque;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void cleanup(void)
{
    kl_log_close(log);
    log = NULL;
    remove_tree(root);
}

static void open_log(int recover)
{
    sd_err_t err;
    if (kl_log_open(log_dir, &config, recover, &log, &err)) {
        fprintf(stderr, "fuzz_batch: open %s: %s\n", log_dir, err.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sd_log_set_sink(quiet, NULL);
    snprintf(root, sizeof root, "/tmp/fuzz_batch.XXXXXX");
    if (!mkdtemp(root))
        abort();
    snprintf(log_dir, sizeof log_dir, "%s/log-0", root);
    snprintf(raw_dir, sizeof raw_dir, "%s/raw-0", root);
    kl_log_config_defaults(&config);
    config.segment_bytes = 64 * 1024;
    config.index_interval_bytes = 512;
    open_log(0);
    atexit(cleanup);
    return 0;
}

/* Reads every record and header of an uncompressed batch that validated. */
static void walk_records(const uint8_t *batch, size_t size)
{
    kl_record_iter_t it;
    if (kl_record_iter_init(&it, batch, size))
        return;
    kl_record_t rec;
    sd_reader_t headers;
    int rc;
    while ((rc = kl_record_iter_next(&it, &rec, &headers)) == 1) {
        kl_header_t h;
        int32_t n = 0;
        while (kl_record_header_next(&headers, &h) == 1)
            n++;
        if (n != rec.header_count)
            abort();
    }
    if (rc != 0) /* the validator accepted these records */
        abort();
}

static void validate_copy(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    size_t pos = 0;
    while (pos < size) {
        kl_batch_header_t h;
        sd_err_t err;
        if (kl_batch_validate(copy + pos, size - pos, KL_BATCH_FROM_CLIENT, 1 << 20, &h, &err))
            break;
        size_t batch = (size_t)kl_batch_total_size(&h);
        walk_records(copy + pos, batch);
        pos += batch;
    }
    kl_batch_iter_t it;
    const uint8_t *batch;
    size_t batch_size;
    kl_batch_iter_init(&it, copy, size);
    while (kl_batch_iter_next(&it, &batch, &batch_size) == 1)
        if (batch < copy || batch + batch_size > copy + size)
            abort();
    free(copy);
}

/* What was appended reads back byte for byte, in whole batches. */
static void read_back(const uint8_t *expect, size_t size, int64_t base)
{
    size_t done = 0;
    int64_t offset = base;
    while (done < size) {
        kl_read_t rd;
        sd_err_t err;
        if (kl_log_read(log, offset, 1 << 20, &rd, &err) || rd.len <= 0 ||
            (size_t)rd.len > size - done)
            abort();
        uint8_t *got = malloc((size_t)rd.len);
        if (pread(rd.fd, got, (size_t)rd.len, rd.pos) != rd.len ||
            memcmp(got, expect + done, (size_t)rd.len) != 0)
            abort();
        close(rd.fd);
        kl_batch_iter_t it;
        const uint8_t *batch;
        size_t batch_size;
        kl_batch_iter_init(&it, got, (size_t)rd.len);
        kl_batch_header_t h = {0};
        while (kl_batch_iter_next(&it, &batch, &batch_size) == 1)
            kl_batch_header_decode(batch, &h);
        if (it.pos != (size_t)rd.len)
            abort();
        offset = kl_batch_last_offset(&h) + 1;
        done += (size_t)rd.len;
        free(got);
    }
    if (offset != kl_log_end_offset(log))
        abort();
}

/* The input as the .log of a segment, opened with recovery. */
static void recover_raw(const uint8_t *data, size_t size)
{
    remove_tree(raw_dir);
    if (mkdir(raw_dir, 0755) < 0)
        abort();
    char path[200];
    snprintf(path, sizeof path, "%s/00000000000000000000.log", raw_dir);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    kl_log_t *raw;
    sd_err_t err;
    if (kl_log_open(raw_dir, &config, 1, &raw, &err))
        abort();
    int64_t end = kl_log_end_offset(raw);
    if (end > 0) {
        kl_read_t rd;
        if (kl_log_read(raw, 0, 1 << 20, &rd, &err) || rd.len <= 0)
            abort();
        close(rd.fd);
    }
    kl_log_close(raw);
}

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* Mutations rarely keep a CRC-32C right, which would leave everything past
 * the CRC check unexplored: most mutants get their batches' CRCs fixed. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    size = LLVMFuzzerMutate(data, size, max_size);
    if (seed % 4 == 0)
        return size;
    kl_batch_iter_t it;
    const uint8_t *batch;
    size_t batch_size;
    kl_batch_iter_init(&it, data, size);
    while (kl_batch_iter_next(&it, &batch, &batch_size) == 1) {
        uint8_t *b = data + (batch - data);
        sd_put_be32(b + KL_BATCH_OFF_CRC, kl_batch_compute_crc(b, batch_size));
    }
    return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    validate_copy(data, size);

    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    int64_t base;
    sd_err_t err;
    int64_t end = kl_log_end_offset(log);
    int rc = kl_log_append(log, copy, size, 1700000000000LL, &base, &err);
    if (rc == 0) {
        if (base != end)
            abort();
        read_back(copy, size, base);
        appended++;
    } else if (kl_log_end_offset(log) != end || rc == KL_ERR_STORAGE) {
        abort();
    }
    free(copy);

    if (appended && appended % 2000 == 0) {
        /* Reopen as after a crash: everything appended must survive. */
        end = kl_log_end_offset(log);
        kl_log_close(log);
        open_log(1);
        if (kl_log_end_offset(log) != end)
            abort();
        if (appended % 10000 == 0) {
            kl_log_close(log);
            remove_tree(log_dir);
            open_log(0);
        }
        appended++;
    }
    /* A cheap hash picks the inputs also recovered as raw segments. */
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < size && i < 64; i++)
        hash = (hash ^ data[i]) * 16777619u;
    if (hash % 16 == 0)
        recover_raw(data, size);
    return 0;
}
