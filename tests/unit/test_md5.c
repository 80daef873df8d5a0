/*
 * test_md5.c - MD5 against the test suite of RFC 1321 (appendix A.5), fed in
 * one piece and byte by byte, plus inputs around the 56- and 64-byte padding
 * boundaries checked against the one-shot digest.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "base/md5.h"
#include "unit.h"

static void hex(const uint8_t digest[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static const struct {
    const char *input;
    const char *digest;
} rfc_vectors[] = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"1234567890123456789012345678901234567890"
     "1234567890123456789012345678901234567890",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

START_TEST(rfc_1321_vectors)
{
    for (size_t i = 0; i < sizeof rfc_vectors / sizeof rfc_vectors[0]; i++) {
        uint8_t digest[16];
        char text[33];
        sd_md5(rfc_vectors[i].input, strlen(rfc_vectors[i].input), digest);
        hex(digest, text);
        ck_assert_str_eq(text, rfc_vectors[i].digest);

        sd_md5_t ctx;
        sd_md5_init(&ctx);
        for (const char *p = rfc_vectors[i].input; *p; p++)
            sd_md5_update(&ctx, p, 1);
        sd_md5_final(&ctx, digest);
        hex(digest, text);
        ck_assert_str_eq(text, rfc_vectors[i].digest);
    }
}
END_TEST

START_TEST(padding_boundaries_split_anywhere)
{
    uint8_t data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    for (size_t len = 50; len <= 140; len++) {
        uint8_t whole[16];
        sd_md5(data, len, whole);
        for (size_t split = 0; split <= len; split += 13) {
            sd_md5_t ctx;
            uint8_t parts[16];
            sd_md5_init(&ctx);
            sd_md5_update(&ctx, data, split);
            sd_md5_update(&ctx, data + split, len - split);
            sd_md5_final(&ctx, parts);
            ck_assert_mem_eq(whole, parts, 16);
        }
    }
    /* 56 zero bytes: the padding needs a second block. */
    uint8_t zeros[56] = {0};
    uint8_t digest[16];
    char text[33];
    sd_md5(zeros, sizeof zeros, digest);
    hex(digest, text);
    ck_assert_str_eq(text, "e3c4dd21a9171fd39d208efa09bf7883");
}
END_TEST

static Suite *md5_suite(void)
{
    Suite *s = suite_create("md5");
    TCase *tc = tcase_create("digest");
    tcase_add_test(tc, rfc_1321_vectors);
    tcase_add_test(tc, padding_boundaries_split_anywhere);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return unit_run(md5_suite()); }
