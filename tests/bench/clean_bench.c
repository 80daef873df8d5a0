/*
 * clean_bench.c - log cleaner throughput: MB/s of log cleaned by
 * kl_log_clean_now, beside a baseline of copying the same segment files once
 * (read + write in 1 MiB pieces, then fsync, as the cleaner fsyncs what it
 * writes), both from the page cache in the same run. Prints one JSON line.
 *
 *   clean_bench --dir DIR [--mb 128] [--keys 100000] [--size 100]
 *               [--codec none|gzip|snappy|lz4|zstd]
 *
 * The log: batches of 100 records with values of --size bytes and keys drawn
 * from --keys distinct ones, rolled at 32 MiB, so most records are
 * superseded and the cleaner rewrites most batches.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/log.h"
#include "bench_util.h"
#include "storage/kl_batch.h"
#include "storage/kl_cleaner.h"
#include "storage/kl_codec.h"
#include "storage/kl_log.h"

#define RECORDS_PER_BATCH 100

static void quiet(sd_log_level_t level, const char *module, const char *line, void *opaque)
{
    (void)module;
    (void)opaque;
    if (level >= SD_LOG_ERROR)
        fprintf(stderr, "%s\n", line);
}

static int codec_by_name(const char *name)
{
    for (int c = KL_CODEC_NONE; c <= KL_CODEC_ZSTD; c++)
        if (strcmp(kl_codec_name(c), name) == 0)
            return c;
    die("unknown codec %s", name);
}

/* One batch of RECORDS_PER_BATCH records, compressed with codec, into out. */
static void make_batch(sd_writer_t *out, sd_writer_t *plain, sd_writer_t *packed, int codec,
                       long long keys, int size, int64_t ts, unsigned *seed)
{
    static char key_text[RECORDS_PER_BATCH][24];
    static uint8_t value[65536];
    kl_record_t recs[RECORDS_PER_BATCH];
    for (int i = 0; i < size; i++)
        value[i] = (uint8_t)('a' + (i * 7 + (int)(*seed & 15)) % 26);
    for (int i = 0; i < RECORDS_PER_BATCH; i++) {
        *seed = *seed * 1103515245u + 12345u;
        int n = snprintf(key_text[i], sizeof key_text[i], "key-%llu",
                         (unsigned long long)((*seed >> 4) % (unsigned long long)keys));
        recs[i] = (kl_record_t){.key = (const uint8_t *)key_text[i],
                                .key_len = n,
                                .value = value,
                                .value_len = size,
                                .timestamp = ts};
    }
    sd_err_t err;
    sd_writer_reset(plain);
    sd_writer_reset(out);
    if (kl_batch_build(plain, NULL, recs, RECORDS_PER_BATCH, &err))
        die("build: %s", err.msg);
    if (codec == KL_CODEC_NONE) {
        sd_write_bytes(out, plain->buf, plain->len);
        return;
    }
    sd_writer_reset(packed);
    if (kl_codec_compress(codec, plain->buf + KL_BATCH_HEADER_SIZE,
                          plain->len - KL_BATCH_HEADER_SIZE, packed, &err))
        die("compress: %s", err.msg);
    sd_write_bytes(out, plain->buf, KL_BATCH_HEADER_SIZE);
    sd_write_bytes(out, packed->buf, packed->len);
    sd_put_be16(out->buf + KL_BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
    sd_put_be32(out->buf + KL_BATCH_OFF_LENGTH, (uint32_t)(out->len - KL_BATCH_LOG_OVERHEAD));
    sd_put_be32(out->buf + KL_BATCH_OFF_CRC, kl_batch_compute_crc(out->buf, out->len));
}

/* Copies each file once: read + write in 1 MiB pieces, fsync (the
 * baseline). Returns the bytes copied. */
static long long copy_files(char (*paths)[4200], int n)
{
    static uint8_t buf[1 << 20];
    long long copied = 0;
    for (int i = 0; i < n; i++) {
        char dst[4300];
        snprintf(dst, sizeof dst, "%.4200s.copy", paths[i]);
        int in = open(paths[i], O_RDONLY);
        int to = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || to < 0)
            die("open %s", paths[i]);
        ssize_t got;
        while ((got = read(in, buf, sizeof buf)) > 0) {
            if (write(to, buf, (size_t)got) != got)
                die("write %s", dst);
            copied += got;
        }
        if (fsync(to) < 0)
            die("fsync %s", dst);
        close(to);
        close(in);
        unlink(dst);
    }
    return copied;
}

int main(int argc, char **argv)
{
    bench_program = "clean_bench";
    const char *dir = NULL;
    long long mb = 128, keys = 100000, size = 100;
    int codec = KL_CODEC_NONE;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--mb") == 0)
            mb = parse_number("mb", argv[i + 1], 1, 1 << 20);
        else if (strcmp(argv[i], "--keys") == 0)
            keys = parse_number("keys", argv[i + 1], 1, 1LL << 40);
        else if (strcmp(argv[i], "--size") == 0)
            size = parse_number("size", argv[i + 1], 0, 65536);
        else if (strcmp(argv[i], "--codec") == 0)
            codec = codec_by_name(argv[i + 1]);
        else
            die("unknown option %s", argv[i]);
    }
    if (!dir)
        die("--dir is required");
    sd_log_set_sink(quiet, NULL);
    char log_dir[4096];
    snprintf(log_dir, sizeof log_dir, "%s/clean-bench-%d", dir, (int)getpid());

    kl_log_config_t config;
    kl_log_config_defaults(&config);
    config.segment_bytes = 32 << 20;
    config.cleanup_compact = 1;
    config.cleanup_delete = 0;
    kl_log_t *log = NULL;
    sd_err_t err;
    if (kl_log_open(log_dir, &config, 0, &log, &err))
        die("open: %s", err.msg);
    sd_writer_t out, plain, packed;
    sd_writer_init(&out);
    sd_writer_init(&plain);
    sd_writer_init(&packed);
    unsigned seed = 42;
    int64_t ts = 1700000000000LL;
    long long records = 0;
    while (kl_log_size_bytes(log) < mb << 20) {
        make_batch(&out, &plain, &packed, codec, keys, (int)size, ts, &seed);
        int64_t base;
        if (kl_log_append(log, out.buf, out.len, ts, &base, &err))
            die("append: %s", err.msg);
        records += RECORDS_PER_BATCH;
    }
    /* Seal the last segment too, so every byte written is cleanable. */
    kl_log_maybe_roll(log, INT64_MAX / 2);

    /* The segment files, listed before the clock starts. */
    static char paths[4096][4200];
    int npaths = 0;
    DIR *d = opendir(log_dir);
    if (!d)
        die("opendir %s", log_dir);
    struct dirent *e;
    while ((e = readdir(d)) && npaths < 4096)
        if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".log") == 0)
            snprintf(paths[npaths++], sizeof paths[0], "%s/%s", log_dir, e->d_name);
    closedir(d);

    long long copy_start = bench_now_ns();
    long long copied = copy_files(paths, npaths);
    long long copy_ns = bench_now_ns() - copy_start;

    kl_clean_stats_t stats;
    long long clean_start = bench_now_ns();
    if (kl_log_clean_now(log, ts + 1000, 1, &stats, &err))
        die("clean: %s", err.msg);
    long long clean_ns = bench_now_ns() - clean_start;

    double mib = 1024.0 * 1024.0;
    printf("{\"codec\":\"%s\",\"records\":%lld,\"keys\":%lld,\"bytes_read\":%" PRId64
           ",\"bytes_written\":%" PRId64 ",\"records_kept\":%" PRId64
           ",\"batches_rewritten\":%" PRId64 ",\"clean_s\":%.3f,\"clean_mb_per_s\":%.1f"
           ",\"copy_bytes\":%lld,\"copy_s\":%.3f,\"copy_mb_per_s\":%.1f}\n",
           kl_codec_name(codec), records, keys, stats.bytes_read, stats.bytes_written,
           stats.records_kept, stats.batches_rewritten, clean_ns / 1e9,
           stats.bytes_read / mib / (clean_ns / 1e9), copied, copy_ns / 1e9,
           copied / mib / (copy_ns / 1e9));
    kl_log_close(log);
    sd_writer_free(&out);
    sd_writer_free(&plain);
    sd_writer_free(&packed);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", log_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "clean_bench: could not remove %s\n", log_dir);
    return 0;
}
