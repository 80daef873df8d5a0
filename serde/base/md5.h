/*
 * md5.h - MD5 message digest (RFC 1321). Not for security: the registry uses
 * it to derive stable name-based UUIDs (RFC 4122 version 3) from schema
 * content, the way Confluent Schema Registry fingerprints schemas.
 */
#ifndef STRAND_BASE_MD5_H
#define STRAND_BASE_MD5_H

#include <stddef.h>
#include <stdint.h>

#define SD_MD5_DIGEST_LEN 16

typedef struct sd_md5 {
    uint32_t state[4]; /* A, B, C, D */
    uint64_t length;   /* bytes fed so far */
    uint8_t block[64]; /* the partial block waiting for more input */
} sd_md5_t;

void sd_md5_init(sd_md5_t *ctx);
void sd_md5_update(sd_md5_t *ctx, const void *data, size_t len);
/* Writes the digest; ctx must be initialised again before reuse. */
void sd_md5_final(sd_md5_t *ctx, uint8_t digest[SD_MD5_DIGEST_LEN]);

/* One-shot digest of len bytes. */
void sd_md5(const void *data, size_t len, uint8_t digest[SD_MD5_DIGEST_LEN]);

#endif
