/*
 * test_crc32c.c - CRC-32C against the iSCSI test vectors (RFC 3720, B.4) and
 * the check value of the Castagnoli polynomial; the hardware and software
 * paths agree on every length and alignment; incremental use.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "unit.h"

START_TEST(check_value)
{
    ck_assert_uint_eq(sd_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sd_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sd_crc32c(0, "", 0), 0);
}
END_TEST

START_TEST(rfc3720_vectors)
{
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    ck_assert_uint_eq(sd_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    ck_assert_uint_eq(sd_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ck_assert_uint_eq(sd_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ck_assert_uint_eq(sd_crc32c(0, buf, 32), 0x113FDB5Cu);
}
END_TEST

START_TEST(hardware_matches_software)
{
    uint8_t *buf = malloc(4096 + 16);
    for (int i = 0; i < 4096 + 16; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t align = 0; align < 8; align++)
        for (size_t len = 0; len < 300; len++)
            ck_assert_uint_eq(sd_crc32c(0, buf + align, len), sd_crc32c_sw(0, buf + align, len));
    ck_assert_uint_eq(sd_crc32c(0, buf, 4096), sd_crc32c_sw(0, buf, 4096));
    free(buf);
}
END_TEST

START_TEST(incremental)
{
    const char *text = "The quick brown fox jumps over the lazy dog";
    size_t len = strlen(text);
    uint32_t whole = sd_crc32c(0, text, len);
    for (size_t split = 0; split <= len; split++)
        ck_assert_uint_eq(sd_crc32c(sd_crc32c(0, text, split), text + split, len - split), whole);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, check_value);
    tcase_add_test(tc, rfc3720_vectors);
    tcase_add_test(tc, hardware_matches_software);
    tcase_add_test(tc, incremental);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
