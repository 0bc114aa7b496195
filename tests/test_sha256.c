/* SHA-256 tests: the FIPS 180-4 example vectors ("abc", the empty string, the 448-bit
 * two-block message, one million 'a'), and streaming in every split and in uneven pieces
 * against the one-shot digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "test.h"

static void hex_of(const void *msg, size_t len, char out[65])
{
    uint8_t d[32];
    fg_sha256(msg, len, d);
    fg_sha256_hex(d, out);
}

TEST(fips_vectors)
{
    char hex[65];
    hex_of("abc", 3, hex);
    CHECK(t, !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    hex_of(NULL, 0, hex);
    CHECK(t, !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m448, strlen(m448), hex);
    CHECK(t, !strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
}

TEST(million_a_streamed)
{
    /* one million 'a' fed in pieces of 1000 bytes */
    char piece[1000];
    memset(piece, 'a', sizeof piece);
    struct fg_sha256 s;
    fg_sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        fg_sha256_update(&s, piece, sizeof piece);
    uint8_t d[32];
    char hex[65];
    fg_sha256_final(&s, d);
    fg_sha256_hex(d, hex);
    CHECK(t, !strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST(streaming_equals_one_shot)
{
    /* every length around the padding boundaries (55, 56, 63, 64 ...), split at every point */
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37 + 11);
    int bad = 0;
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t want[32];
        fg_sha256(msg, len, want);
        for (size_t cut = 0; cut <= len; cut++) {
            struct fg_sha256 s;
            uint8_t got[32];
            fg_sha256_init(&s);
            fg_sha256_update(&s, msg, cut);
            fg_sha256_update(&s, msg + cut, len - cut);
            fg_sha256_final(&s, got);
            bad += memcmp(got, want, 32) != 0;
        }
    }
    CHECK_EQ_I64(t, bad, 0);
}

static const struct fg_test_case cases[] = {
    { "fips_vectors", test_fips_vectors },
    { "million_a_streamed", test_million_a_streamed },
    { "streaming_equals_one_shot", test_streaming_equals_one_shot },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
