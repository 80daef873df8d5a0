/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of Kafka record batch v2. Uses the SSE4.2 crc32 instruction when
 * the CPU has it (checked once at run time), slicing-by-8 tables otherwise.
 */
#ifndef STRAND_BASE_CRC32C_H
#define STRAND_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over len bytes; returns the finished CRC, so
 * sd_crc32c(sd_crc32c(0, a, n), b, m) == sd_crc32c(0, a||b, n+m). */
uint32_t sd_crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable implementation alone (tests compare the two). */
uint32_t sd_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* 1 when the hardware path is in use. */
int sd_crc32c_hw_available(void);

#endif
