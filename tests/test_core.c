/* Core and container tests: CRC-32C (RFC 3720 vectors and a bitwise reference), the RNG
 * (reproducibility, a reference xoshiro256**, range and distribution), checked sizes, the
 * allocator hook, atomic files with injected write faults, and the safetensors reader and
 * writer: round trip, strict rejection of corrupt images built in memory, truncation at
 * every length, atomic writes that fail part way, and failing the k-th allocation without
 * leaking. Files live in a fresh mkdtemp directory under /tmp that is removed at the end. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frugal/ckpt.h"
#include "frugal/core.h"
#include "test.h"

/* ---- helpers -------------------------------------------------------------------------------- */
static int make_tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/frugal_test_core_XXXXXX");
    return mkdtemp(dir) != NULL;
}

/* Number of "<name>.tmp.<pid>" leftovers of an atomic writer in dir. */
static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* Remove dir and the plain files in it (tests create nothing deeper). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[512];
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Whether the file at path holds exactly the n bytes of want. */
static int file_equals(const char *path, const void *want, size_t n)
{
    void *buf = NULL;
    size_t len = 0;
    char err[256];
    if (fg_read_file(NULL, path, &buf, &len, err, sizeof err) != FG_OK)
        return 0;
    int same = len == n && (n == 0 || memcmp(buf, want, n) == 0);
    fg_free(NULL, buf);
    return same;
}

/* ---- 1. CRC-32C -------------------------------------------------------------------------- */
/* One bit at a time from the definition (reflected polynomial 0x82F63B78). */
static uint32_t crc32c_bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

TEST(crc32c_vectors)
{
    const char *s = "123456789";
    CHECK_EQ_I64(t, fg_crc32c(0, s, 9), 0xE3069283u);
    for (size_t k = 0; k <= 9; k++) /* continuing a stream equals one shot */
        CHECK_EQ_I64(t, fg_crc32c(fg_crc32c(0, s, k), s + k, 9 - k), 0xE3069283u);
    CHECK_EQ_I64(t, fg_crc32c(0, s, 0), 0);
    CHECK_EQ_I64(t, fg_crc32c(0xDEADBEEFu, s, 0), 0xDEADBEEFu);

    /* RFC 3720, appendix B.4 */
    unsigned char buf[48];
    memset(buf, 0x00, 32);
    CHECK_EQ_I64(t, fg_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, 32);
    CHECK_EQ_I64(t, fg_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    CHECK_EQ_I64(t, fg_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    CHECK_EQ_I64(t, fg_crc32c(0, buf, 32), 0x113FDB5Cu);
    static const unsigned char iscsi_read[48] = {
        0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    CHECK_EQ_I64(t, fg_crc32c(0, iscsi_read, 48), 0xD9963A56u);

    /* the 8-byte slices against the bitwise definition: every length and alignment, and
     * random split points of a stream */
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    unsigned char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)fg_rng_u64(&r);
    int all_same = 1;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= 200; n++)
            all_same &= fg_crc32c(0, data + off, n) == crc32c_bitwise(0, data + off, n);
    for (int k = 0; k < 100; k++) {
        size_t a = (size_t)fg_rng_below(&r, 300), b = (size_t)fg_rng_below(&r, 301 - a);
        uint32_t part = fg_crc32c(fg_crc32c(0, data, a), data + a, b);
        all_same &= part == crc32c_bitwise(0, data, a + b);
    }
    CHECK(t, all_same);
}

/* ---- 2. RNG ---------------------------------------------------------------------------------- */
/* Reference splitmix64 and xoshiro256** as published by Blackman & Vigna. */
static uint64_t ref_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t ref_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t ref_xoshiro_next(uint64_t s[4])
{
    uint64_t result = ref_rotl(s[1] * 5, 7) * 9, tmp = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= tmp;
    s[3] = ref_rotl(s[3], 45);
    return result;
}

TEST(rng_reference_and_reproducible)
{
    struct fg_rng a, b;
    fg_rng_seed(&a, 0);
    CHECK(t, a.s[0] == 0xE220A8397B1DCDAFULL); /* splitmix64(0), a published value */
    uint64_t seeds[3] = { t->seed, 0, 0xFFFFFFFFFFFFFFFFULL };
    int match_ref = 1;
    for (int k = 0; k < 3; k++) {
        uint64_t x = seeds[k], s[4];
        for (int i = 0; i < 4; i++)
            s[i] = ref_splitmix64(&x);
        fg_rng_seed(&a, seeds[k]);
        for (int i = 0; i < 1000; i++)
            match_ref &= fg_rng_u64(&a) == ref_xoshiro_next(s);
    }
    CHECK(t, match_ref);

    /* same seed, same sequence; a copied state continues identically (checkpointing) */
    fg_rng_seed(&a, t->seed);
    fg_rng_seed(&b, t->seed);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        same &= fg_rng_u64(&a) == fg_rng_u64(&b);
    struct fg_rng c = a;
    for (int i = 0; i < 100; i++)
        same &= fg_rng_u64(&a) == fg_rng_u64(&c) && fg_rng_uniform(&a) == fg_rng_uniform(&c) &&
                fg_rng_normal(&a) == fg_rng_normal(&c) &&
                fg_rng_below(&a, 77) == fg_rng_below(&c, 77);
    CHECK(t, same);

    /* neighbouring seeds give unrelated streams */
    uint64_t other[3] = { t->seed + 1, t->seed ^ (1ULL << 63), ~t->seed };
    for (int k = 0; k < 3; k++) {
        fg_rng_seed(&a, t->seed);
        fg_rng_seed(&b, other[k]);
        int n_equal = 0;
        for (int i = 0; i < 64; i++)
            n_equal += fg_rng_u64(&a) == fg_rng_u64(&b);
        CHECK_EQ_I64(t, n_equal, 0);
    }
}

TEST(rng_ranges_and_distributions)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    const uint64_t ns[] = { 1, 2, 3, 7, 10, 1000, (1ULL << 63) + 1, UINT64_MAX };
    int in_range = 1;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int i = 0; i < 10000; i++)
            in_range &= fg_rng_below(&r, ns[k]) < ns[k];
    CHECK(t, in_range);

    /* chi-square of 100k draws in 10 and 3 bins; the bounds are p ~ 1e-6 of the chi-square
     * law with 9 and 2 degrees of freedom, so a fixed seed never trips them by chance but a
     * modulo bias or a stuck bit does */
    const uint64_t bins[2] = { 10, 3 };
    const double bounds[2] = { 45.0, 28.0 };
    for (int k = 0; k < 2; k++) {
        long count[10] = { 0 };
        const int draws = 100000;
        for (int i = 0; i < draws; i++)
            count[fg_rng_below(&r, bins[k])]++;
        double expect = (double)draws / (double)bins[k], chi2 = 0;
        for (uint64_t b = 0; b < bins[k]; b++)
            chi2 += ((double)count[b] - expect) * ((double)count[b] - expect) / expect;
        if (!(chi2 < bounds[k]))
            fg_test_fail(t, __FILE__, __LINE__, "chi-square %.2f over %d bins >= %.1f", chi2,
                         (int)bins[k], bounds[k]);
    }
    /* n = 3 * 2^62: the first third of the range is hit 1/3 of the time; a plain x % n
     * (no rejection) would hit it 1/2 of the time. 20000 draws: standard error 0.0033. */
    long low = 0;
    for (int i = 0; i < 20000; i++)
        low += fg_rng_below(&r, 3ULL << 62) < (1ULL << 62);
    CHECK(t, fabs((double)low / 20000.0 - 1.0 / 3.0) < 0.03);

    /* uniform in [0, 1); normal with mean 0, variance 1 and 5% beyond +-1.96 (100k draws:
     * standard errors 0.003, 0.0045 and 0.0007, the bounds are > 6 of them) */
    const int n = 100000;
    double usum = 0, sum = 0, sumsq = 0;
    int u_in = 1, finite = 1;
    long tails = 0;
    for (int i = 0; i < n; i++) {
        double u = fg_rng_uniform(&r);
        u_in &= u >= 0.0 && u < 1.0;
        usum += u;
        double z = fg_rng_normal(&r);
        finite &= isfinite(z);
        sum += z;
        sumsq += z * z;
        tails += fabs(z) > 1.959964;
    }
    double mean = sum / n, var = sumsq / n - mean * mean, tail = (double)tails / n;
    CHECK(t, u_in && finite);
    CHECK(t, fabs(usum / n - 0.5) < 0.006);
    CHECK(t, fabs(mean) < 0.02);
    CHECK(t, var > 0.97 && var < 1.03);
    CHECK(t, tail > 0.045 && tail < 0.055);
}

/* ---- 3. checked sizes and the allocator hook ----------------------------------------------- */
TEST(size_overflow)
{
    size_t out = 12345;
    CHECK_OK(t, fg_size_mul(3, 5, &out));
    CHECK_EQ_I64(t, out, 15);
    CHECK_OK(t, fg_size_mul(0, SIZE_MAX, &out));
    CHECK_EQ_I64(t, out, 0);
    CHECK_OK(t, fg_size_mul(SIZE_MAX, 1, &out));
    CHECK(t, out == SIZE_MAX);
    CHECK_OK(t, fg_size_mul(SIZE_MAX / 2, 2, &out));
    CHECK(t, out == SIZE_MAX - 1);
    out = 12345;
    CHECK(t, fg_size_mul(SIZE_MAX / 2 + 1, 2, &out) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_size_mul(2, SIZE_MAX / 2 + 1, &out) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_size_mul((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4),
                         &out) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_size_mul(SIZE_MAX, SIZE_MAX, &out) == FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, out, 12345); /* untouched on overflow */

    CHECK_OK(t, fg_size_add(SIZE_MAX - 5, 5, &out));
    CHECK(t, out == SIZE_MAX);
    CHECK_OK(t, fg_size_add(SIZE_MAX, 0, &out));
    CHECK(t, out == SIZE_MAX);
    out = 12345;
    CHECK(t, fg_size_add(SIZE_MAX, 1, &out) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_size_add(1, SIZE_MAX, &out) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_size_add(SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 1, &out) == FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, out, 12345);

    CHECK_EQ_I64(t, fg_align_up(13, 8), 16);
    CHECK_EQ_I64(t, fg_align_up(16, 8), 16);
    CHECK_EQ_I64(t, fg_align_up(0, 64), 0);
}

TEST(allocator_hook)
{
    CHECK(t, fg_alloc(NULL, 0, 16) == NULL);
    fg_free(NULL, NULL);
    const size_t aligns[3] = { 16, 64, 4096 };
    for (int k = 0; k < 3; k++) {
        unsigned char *p = fg_alloc(NULL, 100, aligns[k]);
        CHECK(t, p != NULL && ((uintptr_t)p & (aligns[k] - 1)) == 0);
        if (p)
            memset(p, 1, 100);
        fg_free(NULL, p);
    }
    struct fg_test_alloc c = { 0 };
    struct fg_allocator a = fg_test_allocator(&c);
    void *p = fg_alloc(&a, 32, 64);
    CHECK(t, p != NULL && ((uintptr_t)p & 63) == 0);
    CHECK_EQ_I64(t, c.n_alloc, 1);
    CHECK_EQ_I64(t, c.live, 1);
    fg_free(&a, p);
    fg_free(&a, NULL);
    CHECK_EQ_I64(t, c.live, 0);
    c.fail_at = 2;
    CHECK(t, fg_alloc(&a, 32, 16) == NULL);
    CHECK_EQ_I64(t, c.live, 0);
    CHECK(t, !c.bad_align);
}

/* ---- 4. atomic files ----------------------------------------------------------------------- */
TEST(atomic_file)
{
    char dir[64], path[128], missing[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/out.bin", dir);
    struct fg_atomic_file af;

    /* create: the bytes go to a temporary file, the target appears only at commit */
    CHECK_OK(t, fg_atomic_open(&af, path, err, sizeof err));
    CHECK_EQ_I64(t, count_tmp_files(dir), 1);
    CHECK_OK(t, fg_atomic_write(&af, "hello ", 6, err, sizeof err));
    CHECK_OK(t, fg_atomic_write(&af, "world", 5, err, sizeof err));
    CHECK_OK(t, fg_atomic_write(&af, "", 0, err, sizeof err));
    CHECK(t, !path_exists(path));
    CHECK_OK(t, fg_atomic_commit(&af, err, sizeof err));
    CHECK(t, file_equals(path, "hello world", 11));
    CHECK_EQ_I64(t, count_tmp_files(dir), 0);

    /* replace an existing file */
    const char *v2 = "second version";
    CHECK_OK(t, fg_atomic_open(&af, path, err, sizeof err));
    CHECK_OK(t, fg_atomic_write(&af, v2, strlen(v2), err, sizeof err));
    CHECK_OK(t, fg_atomic_commit(&af, err, sizeof err));
    CHECK(t, file_equals(path, v2, strlen(v2)));

    /* injected fault, then abort: the old content stays, the temporary file goes, and the
     * writer stays failed */
    CHECK_OK(t, fg_atomic_open(&af, path, err, sizeof err));
    af.fail_after_bytes = 10;
    CHECK_OK(t, fg_atomic_write(&af, "12345678", 8, err, sizeof err));
    err[0] = '\0';
    CHECK(t, fg_atomic_write(&af, "12345678", 8, err, sizeof err) == FG_ERR_IO);
    CHECK(t, err[0] != '\0');
    CHECK(t, fg_atomic_write(&af, "1", 1, err, sizeof err) == FG_ERR_IO);
    fg_atomic_abort(&af);
    CHECK(t, file_equals(path, v2, strlen(v2)));
    CHECK_EQ_I64(t, count_tmp_files(dir), 0);

    /* injected fault, then commit: refused, same guarantees */
    CHECK_OK(t, fg_atomic_open(&af, path, err, sizeof err));
    af.fail_after_bytes = 3;
    CHECK(t, fg_atomic_write(&af, "abcd", 4, err, sizeof err) == FG_ERR_IO);
    CHECK(t, fg_atomic_commit(&af, err, sizeof err) == FG_ERR_IO);
    CHECK(t, file_equals(path, v2, strlen(v2)));
    CHECK_EQ_I64(t, count_tmp_files(dir), 0);

    /* the limit itself is allowed: only a write that would exceed it fails */
    CHECK_OK(t, fg_atomic_open(&af, path, err, sizeof err));
    af.fail_after_bytes = 10;
    CHECK_OK(t, fg_atomic_write(&af, "0123456789", 10, err, sizeof err));
    CHECK_OK(t, fg_atomic_commit(&af, err, sizeof err));
    CHECK(t, file_equals(path, "0123456789", 10));

    /* abort without writing: nothing changes */
    CHECK_OK(t, fg_atomic_open(&af, path, err, sizeof err));
    fg_atomic_abort(&af);
    CHECK(t, file_equals(path, "0123456789", 10));
    CHECK_EQ_I64(t, count_tmp_files(dir), 0);

    /* a nonexistent directory: open fails with FG_ERR_IO, and commit on it fails cleanly */
    snprintf(missing, sizeof missing, "%s/no/such/dir/out.bin", dir);
    err[0] = '\0';
    CHECK(t, fg_atomic_open(&af, missing, err, sizeof err) == FG_ERR_IO);
    CHECK(t, err[0] != '\0');
    CHECK(t, fg_atomic_write(&af, "x", 1, err, sizeof err) == FG_ERR_IO);
    CHECK(t, fg_atomic_commit(&af, err, sizeof err) == FG_ERR_IO);
    fg_atomic_abort(&af);
    CHECK(t, !path_exists(missing));

    /* the directory disappears (is renamed) between open and commit */
    char sub[160], sub2[160], subpath[200];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(sub2, sizeof sub2, "%s/sub2", dir);
    snprintf(subpath, sizeof subpath, "%s/out.bin", sub);
    CHECK(t, mkdir(sub, 0700) == 0);
    CHECK_OK(t, fg_atomic_open(&af, subpath, err, sizeof err));
    CHECK_OK(t, fg_atomic_write(&af, "data", 4, err, sizeof err));
    CHECK(t, rename(sub, sub2) == 0);
    err[0] = '\0';
    CHECK(t, fg_atomic_commit(&af, err, sizeof err) == FG_ERR_IO);
    CHECK(t, err[0] != '\0');
    CHECK(t, !path_exists(subpath));
    remove_dir(sub2);

    /* fg_read_file: a missing file and a directory are I/O errors; content is 0-terminated */
    void *buf = (void *)&af;
    size_t len = 7;
    CHECK(t, fg_read_file(NULL, missing, &buf, &len, err, sizeof err) == FG_ERR_IO);
    CHECK(t, buf == NULL && len == 0);
    CHECK(t, fg_read_file(NULL, dir, &buf, &len, err, sizeof err) == FG_ERR_IO);
    CHECK_OK(t, fg_read_file(NULL, path, &buf, &len, err, sizeof err));
    CHECK(t, buf && len == 10 && ((const char *)buf)[10] == '\0');
    fg_free(NULL, buf);

    fg_errno_msg(err, sizeof err, ENOENT, "opening x");
    CHECK(t, strncmp(err, "opening x: ", 11) == 0 && strstr(err, "(errno 2)") != NULL);
    fg_errno_msg(err, 8, ENOENT, "opening x");
    CHECK_EQ_I64(t, strlen(err), 7);
    remove_dir(dir);
    CHECK(t, !path_exists(dir));
}

/* ---- 5. safetensors -------------------------------------------------------------------------- */
/* An image: 8-byte little-endian header length, the JSON, then data_len bytes. Allocated at
 * its exact size so that the sanitizers catch any read past the end. */
static unsigned char *make_image(const char *json, size_t data_len, size_t *len)
{
    size_t hlen = strlen(json);
    *len = 8 + hlen + data_len;
    unsigned char *img = malloc(*len);
    if (!img) {
        fprintf(stderr, "test_core: out of memory\n");
        exit(2);
    }
    for (int i = 0; i < 8; i++)
        img[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(img + 8, json, hlen);
    for (size_t i = 0; i < data_len; i++)
        img[8 + hlen + i] = (unsigned char)(i * 7 + 1);
    return img;
}

static void set_header_len(unsigned char *img, uint64_t hlen)
{
    for (int i = 0; i < 8; i++)
        img[i] = (unsigned char)(hlen >> (8 * i));
}

/* Parse must fail with FG_ERR_FORMAT, a message, *out NULL and no leak. */
static void expect_format_error(struct fg_test *t, const char *what, const unsigned char *img,
                                size_t len)
{
    struct fg_test_alloc c = { 0 };
    struct fg_allocator a = fg_test_allocator(&c);
    struct fg_st_file *f = (struct fg_st_file *)&c; /* must be reset to NULL */
    char err[256] = "";
    fg_status st = fg_st_parse(img, len, &a, &f, err, sizeof err);
    if (st != FG_ERR_FORMAT || f != NULL || err[0] == '\0' || c.live != 0) {
        fg_test_fail(t, __FILE__, __LINE__,
                     "%s: status %s, out %s, errmsg \"%s\", %zu allocations live", what,
                     fg_status_str(st), f ? "set" : "NULL", err, c.live);
        if (st == FG_OK)
            fg_st_free(f);
    }
}

#define T_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"
#define T_B "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]}"

struct image_case {
    const char *what, *json;
    size_t data_len;
};

static const struct image_case good_images[] = {
    { "two tensors and metadata", "{" T_A "," T_B ",\"__metadata__\":{\"k\":\"v\"}}", 16 },
    { "metadata first", "{\"__metadata__\":{\"k\":\"v\",\"k2\":\"\"}," T_A "}", 8 },
    { "no tensors", "{}", 0 },
    { "header padded with spaces", "{" T_A "}      ", 8 },
    { "tensors listed out of order", "{" T_B "," T_A "}", 16 },
    { "scalar (shape [])", "{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8 },
    { "empty tensor before a tensor at the same offset",
      "{" T_A ",\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}," T_B "}", 16 },
    { "empty tensor after a tensor at the same offset",
      "{" T_A "," T_B ",\"z\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[8,8]}}", 16 },
};

static const struct image_case bad_images[] = {
    { "invalid JSON (unterminated)", "{" T_A, 8 },
    { "invalid JSON (bare word)", "{\"a\":nope}", 0 },
    { "invalid JSON (missing colon)", "{\"a\" {}}", 0 },
    { "invalid JSON (garbage after the object)", "{" T_A "} x", 8 },
    { "header is not an object", "[1, 2]", 0 },
    { "header is a string", "\"{}\"", 0 },
    { "unknown dtype", "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8 },
    { "dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8 },
    { "shape/offsets size mismatch",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8 },
    { "dtype size mismatch", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}",
      8 },
    { "overlapping tensors",
      "{" T_A ",\"b\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[4,16]}}", 16 },
    { "same range twice",
      "{" T_A ",\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8 },
    { "gap between tensors",
      "{" T_A ",\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20 },
    { "gap before the first tensor",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12 },
    { "trailing bytes", "{" T_A "}", 12 },
    { "data but no tensors", "{}", 8 },
    { "duplicate tensor name",
      "{" T_A ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16 },
    { "non-string metadata value", "{\"__metadata__\":{\"k\":1}," T_A "}", 8 },
    { "metadata value is an object", "{\"__metadata__\":{\"k\":{}}," T_A "}", 8 },
    { "metadata is not an object", "{\"__metadata__\":\"x\"," T_A "}", 8 },
    { "offsets past the data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
      8 },
    { "begin after end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8 },
    { "negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8 },
    { "fractional offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0.5,2.5]}}",
      3 },
    { "three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8 },
    { "negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
      8 },
    { "fractional dimension", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,2]}}",
      2 },
    { "string dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}",
      8 },
    { "shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8 },
    { "nine dimensions",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8 },
    { "element count overflows",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[281474976710656,281474976710656,16],"
      "\"data_offsets\":[0,8]}}",
      8 },
    { "missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8 },
    { "entry is not an object", "{\"a\":5}", 0 },
};

TEST(safetensors_parse_strict)
{
    char err[256];
    for (size_t k = 0; k < sizeof good_images / sizeof good_images[0]; k++) {
        size_t len;
        unsigned char *img = make_image(good_images[k].json, good_images[k].data_len, &len);
        struct fg_test_alloc c = { 0 };
        struct fg_allocator a = fg_test_allocator(&c);
        struct fg_st_file *f = NULL;
        fg_status st = fg_st_parse(img, len, &a, &f, err, sizeof err);
        if (st != FG_OK)
            fg_test_fail(t, __FILE__, __LINE__, "%s: %s (%s)", good_images[k].what,
                         fg_status_str(st), err);
        fg_st_free(f);
        CHECK_EQ_I64(t, c.live, 0);
        free(img);
    }
    for (size_t k = 0; k < sizeof bad_images / sizeof bad_images[0]; k++) {
        size_t len;
        unsigned char *img = make_image(bad_images[k].json, bad_images[k].data_len, &len);
        expect_format_error(t, bad_images[k].what, img, len);
        free(img);
    }
    /* header length fields that do not fit the file */
    size_t len;
    unsigned char *img = make_image("{" T_A "}", 8, &len);
    const uint64_t hlens[] = { len - 8 + 1, len, UINT64_MAX, (uint64_t)1 << 63, 0, 1 };
    for (size_t k = 0; k < sizeof hlens / sizeof hlens[0]; k++) {
        set_header_len(img, hlens[k]);
        char what[64];
        snprintf(what, sizeof what, "header length %llu", (unsigned long long)hlens[k]);
        expect_format_error(t, what, img, len);
    }
    free(img);
    /* shorter than the 8-byte length field */
    unsigned char tiny[7] = { 2, 0, 0, 0, 0, 0, 0 };
    for (size_t n = 0; n < sizeof tiny; n++)
        expect_format_error(t, "shorter than 8 bytes", tiny, n);
}

/* The tensors of the round trip: several dtypes and ranks, odd byte counts, a scalar. */
struct st_fixture {
    float a[6];
    int32_t b[4];
    uint16_t c[6];
    uint8_t d[5];
    double e;
    struct fg_st_tensor ts[5];
    struct fg_st_kv meta[4];
};

static void st_fixture_init(struct st_fixture *x, uint64_t seed)
{
    struct fg_rng r;
    fg_rng_seed(&r, seed);
    for (int i = 0; i < 6; i++)
        x->a[i] = (float)fg_rng_normal(&r);
    for (int i = 0; i < 4; i++)
        x->b[i] = (int32_t)fg_rng_u64(&r);
    for (int i = 0; i < 6; i++)
        x->c[i] = (uint16_t)fg_rng_u64(&r);
    for (int i = 0; i < 5; i++)
        x->d[i] = (uint8_t)fg_rng_u64(&r);
    x->e = fg_rng_normal(&r);
    struct fg_st_tensor ts[5] = {
        { "wte", FG_DTYPE_F32, 2, { 2, 3 }, x->a, sizeof x->a, 0 },
        { "h.0.attn.bias", FG_DTYPE_I32, 1, { 4 }, x->b, sizeof x->b, 0 },
        { "bf", FG_DTYPE_BF16, 3, { 3, 1, 2 }, x->c, sizeof x->c, 0 },
        { "bytes", FG_DTYPE_U8, 1, { 5 }, x->d, sizeof x->d, 0 },
        { "scalar", FG_DTYPE_F64, 0, { 0 }, &x->e, sizeof x->e, 0 },
    };
    memcpy(x->ts, ts, sizeof ts);
    struct fg_st_kv meta[4] = {
        { "format", "frugal-checkpoint" },
        { "config", "{\"n_layer\": 2, \"n_head\": 4}" },
        { "empty", "" },
        { "escapes", "tab\there \"quoted\" back\\slash\nnewline caf\xc3\xa9" },
    };
    memcpy(x->meta, meta, sizeof meta);
}

static void check_same_tensors(struct fg_test *t, const struct fg_st_file *f,
                               const struct st_fixture *x)
{
    CHECK_EQ_I64(t, f->n_tensors, 5);
    CHECK_EQ_I64(t, f->n_meta, 4);
    for (int i = 0; i < 5; i++) {
        const struct fg_st_tensor *want = &x->ts[i], *got = fg_st_find(f, want->name);
        if (!got) {
            fg_test_fail(t, __FILE__, __LINE__, "tensor %s missing", want->name);
            continue;
        }
        int same = got->dtype == want->dtype && got->ndim == want->ndim &&
                   got->nbytes == want->nbytes && memcmp(got->data, want->data, want->nbytes) == 0;
        for (int d = 0; d < want->ndim; d++)
            same &= got->shape[d] == want->shape[d];
        if (!same)
            fg_test_fail(t, __FILE__, __LINE__, "tensor %s differs after the round trip",
                         want->name);
    }
    for (int i = 0; i < 4; i++) {
        const char *v = fg_st_meta(f, x->meta[i].key);
        CHECK(t, v && !strcmp(v, x->meta[i].value));
    }
    CHECK(t, fg_st_find(f, "nope") == NULL);
    CHECK(t, fg_st_meta(f, "nope") == NULL);
}

TEST(safetensors_round_trip)
{
    char dir[64], path[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct st_fixture x;
    st_fixture_init(&x, t->seed);
    CHECK_OK(t, fg_st_write(path, x.ts, 5, x.meta, 4, 0, err, sizeof err));
    CHECK_EQ_I64(t, count_tmp_files(dir), 0);

    struct fg_st_file *f = NULL;
    CHECK_OK(t, fg_st_load(path, NULL, &f, err, sizeof err));
    if (f) {
        check_same_tensors(t, f, &x);
        /* frugal's layout: header padded to 8 bytes, data in the order given, nothing after */
        const unsigned char *buf = f->buf;
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--)
            hlen = (hlen << 8) | buf[i];
        CHECK_EQ_I64(t, hlen % 8, 0);
        size_t off = 8 + (size_t)hlen;
        for (int i = 0; i < 5; i++) {
            const struct fg_st_tensor *ts = fg_st_find(f, x.ts[i].name);
            CHECK(t, ts && (const unsigned char *)ts->data == buf + off);
            off += x.ts[i].nbytes;
        }
        size_t pad = 0; /* the JSON ends with '}' followed by < 8 spaces */
        while (pad < hlen && buf[8 + hlen - 1 - pad] == ' ')
            pad++;
        CHECK(t, pad < 8 && pad < hlen && buf[8 + hlen - 1 - pad] == '}');
        /* the same bytes through fg_st_parse (borrowed buffer) */
        struct fg_st_file *g = NULL;
        void *raw = NULL;
        size_t len = 0;
        CHECK_OK(t, fg_read_file(NULL, path, &raw, &len, err, sizeof err));
        CHECK_EQ_I64(t, len, off);
        CHECK_OK(t, fg_st_parse(raw, len, NULL, &g, err, sizeof err));
        if (g) {
            CHECK(t, g->buf == NULL);
            check_same_tensors(t, g, &x);
        }
        fg_st_free(g);
        fg_free(NULL, raw);
    }
    fg_st_free(f);
    fg_st_free(NULL);

    /* nothing at all, and a zero-size tensor between two others */
    CHECK_OK(t, fg_st_write(path, NULL, 0, NULL, 0, 0, err, sizeof err));
    CHECK_OK(t, fg_st_load(path, NULL, &f, err, sizeof err));
    CHECK(t, f && f->n_tensors == 0 && f->n_meta == 0);
    fg_st_free(f);
    struct fg_st_tensor three[3] = { x.ts[0],
                                     { "empty", FG_DTYPE_F32, 2, { 3, 0 }, NULL, 0, 0 },
                                     x.ts[1] };
    CHECK_OK(t, fg_st_write(path, three, 3, NULL, 0, 0, err, sizeof err));
    f = NULL;
    fg_status st = fg_st_load(path, NULL, &f, err, sizeof err);
    if (st != FG_OK)
        fg_test_fail(t, __FILE__, __LINE__, "zero-size tensor: %s (%s)", fg_status_str(st), err);
    if (f) {
        const struct fg_st_tensor *e = fg_st_find(f, "empty");
        CHECK(t, e && e->nbytes == 0 && e->ndim == 2 && e->shape[0] == 3 && e->shape[1] == 0);
    }
    fg_st_free(f);

    /* a nonexistent directory */
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors", dir);
    err[0] = '\0';
    CHECK(t, fg_st_write(path, x.ts, 5, x.meta, 4, 0, err, sizeof err) == FG_ERR_IO);
    CHECK(t, err[0] != '\0');
    f = (struct fg_st_file *)&x;
    CHECK(t, fg_st_load(path, NULL, &f, err, sizeof err) == FG_ERR_IO && f == NULL);
    remove_dir(dir);
}

TEST(safetensors_truncated)
{
    char dir[64], path[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct st_fixture x;
    st_fixture_init(&x, t->seed);
    CHECK_OK(t, fg_st_write(path, x.ts, 5, x.meta, 4, 0, err, sizeof err));
    void *raw = NULL;
    size_t full = 0;
    CHECK_OK(t, fg_read_file(NULL, path, &raw, &full, err, sizeof err));
    /* every prefix, each in a buffer of exactly its size */
    for (size_t len = 0; raw && len < full; len++) {
        unsigned char *img = malloc(len ? len : 1);
        if (!img)
            break;
        memcpy(img, raw, len);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", len, full);
        expect_format_error(t, what, img, len);
        free(img);
    }
    /* and one byte too many */
    unsigned char *longer = malloc(full + 1);
    if (raw && longer) {
        memcpy(longer, raw, full);
        longer[full] = 0;
        expect_format_error(t, "one trailing byte", longer, full + 1);
    }
    free(longer);
    fg_free(NULL, raw);
    remove_dir(dir);
}

TEST(safetensors_write_faults)
{
    char dir[64], path[128], other[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    snprintf(other, sizeof other, "%s/new.safetensors", dir);
    struct st_fixture old, cur;
    st_fixture_init(&old, t->seed);
    st_fixture_init(&cur, t->seed + 1);
    CHECK_OK(t, fg_st_write(path, old.ts, 5, old.meta, 2, 0, err, sizeof err));
    CHECK_OK(t, fg_st_write(other, cur.ts, 5, cur.meta, 4, 0, err, sizeof err));
    void *old_bytes = NULL, *new_bytes = NULL;
    size_t old_len = 0, new_len = 0;
    CHECK_OK(t, fg_read_file(NULL, path, &old_bytes, &old_len, err, sizeof err));
    CHECK_OK(t, fg_read_file(NULL, other, &new_bytes, &new_len, err, sizeof err));
    if (!old_bytes || !new_bytes || new_len < 100)
        goto done;
    /* fail in the length field, the header, the padding, each tensor and the last byte */
    const uint64_t cuts[] = { 1, 7, 8, 9, 40, new_len - 60, new_len - 20, new_len - 1 };
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        err[0] = '\0';
        fg_status st = fg_st_write(path, cur.ts, 5, cur.meta, 4, cuts[k], err, sizeof err);
        if (st != FG_ERR_IO || err[0] == '\0')
            fg_test_fail(t, __FILE__, __LINE__, "fail after %llu bytes: %s \"%s\"",
                         (unsigned long long)cuts[k], fg_status_str(st), err);
        CHECK(t, file_equals(path, old_bytes, old_len));
        CHECK_EQ_I64(t, count_tmp_files(dir), 0);
    }
    /* exactly the file size fits */
    CHECK_OK(t, fg_st_write(path, cur.ts, 5, cur.meta, 4, new_len, err, sizeof err));
    CHECK(t, file_equals(path, new_bytes, new_len));
    CHECK_EQ_I64(t, count_tmp_files(dir), 0);
done:
    fg_free(NULL, old_bytes);
    fg_free(NULL, new_bytes);
    remove_dir(dir);
}

/* ---- 6. failing allocations -------------------------------------------------------------- */
TEST(safetensors_alloc_failures)
{
    char dir[64], path[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct st_fixture x;
    st_fixture_init(&x, t->seed);
    CHECK_OK(t, fg_st_write(path, x.ts, 5, x.meta, 4, 0, err, sizeof err));
    void *raw = NULL;
    size_t len = 0;
    CHECK_OK(t, fg_read_file(NULL, path, &raw, &len, err, sizeof err));

    for (int load = 0; raw && load < 2; load++) {
        /* count the allocations of a successful parse (or load), then fail each in turn */
        struct fg_test_alloc c = { 0 };
        struct fg_allocator a = fg_test_allocator(&c);
        struct fg_st_file *f = NULL;
        fg_status st = load ? fg_st_load(path, &a, &f, err, sizeof err)
                            : fg_st_parse(raw, len, &a, &f, err, sizeof err);
        CHECK_OK(t, st);
        CHECK(t, c.live > 0);
        fg_st_free(f);
        CHECK_EQ_I64(t, c.live, 0);
        CHECK(t, !c.bad_align);
        size_t n_ok = c.n_alloc;
        CHECK(t, n_ok >= (size_t)(4 + load));
        for (size_t k = 1; k <= n_ok + 2; k++) {
            struct fg_test_alloc ck = { 0 };
            ck.fail_at = k;
            a = fg_test_allocator(&ck);
            f = (struct fg_st_file *)&ck;
            err[0] = '\0';
            st = load ? fg_st_load(path, &a, &f, err, sizeof err)
                      : fg_st_parse(raw, len, &a, &f, err, sizeof err);
            fg_status want = k <= n_ok ? FG_ERR_NOMEM : FG_OK;
            if (st != want || (st != FG_OK && (f != NULL || err[0] == '\0')))
                fg_test_fail(t, __FILE__, __LINE__, "%s failing allocation %zu of %zu: %s \"%s\"",
                             load ? "load" : "parse", k, n_ok, fg_status_str(st), err);
            if (st == FG_OK) {
                check_same_tensors(t, f, &x);
                fg_st_free(f);
            }
            if (ck.live != 0)
                fg_test_fail(t, __FILE__, __LINE__, "%s failing allocation %zu: %zu leaked",
                             load ? "load" : "parse", k, ck.live);
        }
    }
    fg_free(NULL, raw);
    remove_dir(dir);
}

/* fg_st_load_header: the same tensors and offsets as a full parse, data not read (NULL), and
 * truncation detected from the file size alone. */
TEST(safetensors_header_only)
{
    char dir[] = "/tmp/frugal_test_hdr_XXXXXX", path[64], err[256];
    CHECK(t, mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    int32_t y[3] = { 7, 8, 9 };
    struct fg_st_tensor ts[2] = { { "x", FG_DTYPE_F32, 2, { 2, 3 }, x, sizeof x, 0 },
                                  { "y", FG_DTYPE_I32, 1, { 3 }, y, sizeof y, 0 } };
    struct fg_st_kv kv = { "k", "v" };
    CHECK_OK(t, fg_st_write(path, ts, 2, &kv, 1, 0, err, sizeof err));
    struct fg_st_file *full = NULL, *hdr = NULL;
    CHECK_OK(t, fg_st_load(path, NULL, &full, err, sizeof err));
    CHECK_OK(t, fg_st_load_header(path, NULL, &hdr, err, sizeof err));
    if (full && hdr) {
        CHECK_EQ_I64(t, hdr->n_tensors, 2);
        CHECK(t, hdr->data_start == full->data_start);
        for (size_t i = 0; i < 2; i++) {
            const struct fg_st_tensor *a = fg_st_find(full, ts[i].name);
            const struct fg_st_tensor *h = fg_st_find(hdr, ts[i].name);
            CHECK(t, a && h && h->data == NULL && a->offset == h->offset && a->nbytes == h->nbytes);
        }
        CHECK(t, fg_st_meta(hdr, "k") && !strcmp(fg_st_meta(hdr, "k"), "v"));
    }
    fg_st_free(full);
    fg_st_free(hdr);
    /* cut one byte off the data: the header alone must reveal it */
    void *buf;
    size_t len;
    CHECK_OK(t, fg_read_file(NULL, path, &buf, &len, err, sizeof err));
    FILE *f = fopen(path, "wb");
    CHECK(t, f != NULL);
    if (f) {
        CHECK(t, fwrite(buf, 1, len - 1, f) == len - 1);
        fclose(f);
    }
    fg_free(NULL, buf);
    hdr = NULL;
    CHECK(t, fg_st_load_header(path, NULL, &hdr, err, sizeof err) == FG_ERR_FORMAT);
    CHECK(t, hdr == NULL);
    remove(path);
    rmdir(dir);
}

/* fg_cpu_best_rate: every thread calls the body once per run, three runs; the rate counts the work
 * of every thread that ran (a body that sleeps 20 ms doing "1000 units" cannot be faster than
 * 1000 units x threads / 20 ms); no threads or no body: 0. */
static float sleepy_body(void *user)
{
    int *calls = user;
#pragma omp atomic
    (*calls)++;
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, NULL);
    return 1.0f;
}

TEST(best_rate)
{
    int calls = 0;
    double r = fg_cpu_best_rate(2, sleepy_body, &calls, 1000.0);
    /* three runs of as many calls as threads ran (1 or 2; the runtime may grant fewer) */
    CHECK(t, calls == 3 || calls == 6);
    CHECK(t, r > 0.0 && r <= 1000.0 * (calls / 3) / 0.020);
    CHECK(t, fg_cpu_best_rate(0, sleepy_body, &calls, 1000.0) == 0.0);
    CHECK(t, fg_cpu_best_rate(1, NULL, NULL, 1000.0) == 0.0);
    const char *unit = NULL;
    CHECK(t, fg_cpu_peak_flops(0, &unit) == 0.0 && unit != NULL);
}

TEST(names_and_misc)
{
    static const char *const names[FG_DTYPE_COUNT] = { "F32", "F64", "F16", "BF16", "I64", "I32",
                                                       "I16", "I8",  "U8",  "U16",  "U32" };
    static const size_t sizes[FG_DTYPE_COUNT] = { 4, 8, 2, 2, 8, 4, 2, 1, 1, 2, 4 };
    for (int d = 0; d < FG_DTYPE_COUNT; d++) {
        CHECK(t, !strcmp(fg_dtype_name((enum fg_dtype)d), names[d]));
        CHECK_EQ_I64(t, fg_dtype_size((enum fg_dtype)d), sizes[d]);
    }
    CHECK_EQ_I64(t, fg_dtype_size(FG_DTYPE_COUNT), 0);
    CHECK(t, !strcmp(fg_status_str(FG_OK), "FG_OK"));
    CHECK(t, !strcmp(fg_status_str(FG_ERR_FORMAT), "FG_ERR_FORMAT"));
    CHECK(t, fg_status_str((fg_status)-99) != NULL);
    CHECK(t, fg_cpu_count() >= 1);
    CHECK(t, fg_isa_name(fg_cpu_isa()) != NULL);
    double t0 = fg_time_now(), t1 = fg_time_now();
    CHECK(t, t1 >= t0);
    /* FG_ISA caps the detected ISA (the caller's setting is restored afterwards) */
    const char *prev = getenv("FG_ISA");
    char saved[64] = "";
    if (prev)
        snprintf(saved, sizeof saved, "%s", prev);
    CHECK(t, setenv("FG_ISA", "ref", 1) == 0);
    CHECK_EQ_I64(t, fg_cpu_isa(), FG_ISA_REF);
    CHECK(t, setenv("FG_ISA", "generic", 1) == 0);
    CHECK(t, fg_cpu_isa() <= FG_ISA_GENERIC);
    if (prev)
        setenv("FG_ISA", saved, 1);
    else
        unsetenv("FG_ISA");
}

static const struct fg_test_case cases[] = {
    { "crc32c_vectors", test_crc32c_vectors },
    { "safetensors_header_only", test_safetensors_header_only },
    { "rng_reference_and_reproducible", test_rng_reference_and_reproducible },
    { "rng_ranges_and_distributions", test_rng_ranges_and_distributions },
    { "size_overflow", test_size_overflow },
    { "allocator_hook", test_allocator_hook },
    { "atomic_file", test_atomic_file },
    { "safetensors_parse_strict", test_safetensors_parse_strict },
    { "safetensors_round_trip", test_safetensors_round_trip },
    { "safetensors_truncated", test_safetensors_truncated },
    { "safetensors_write_faults", test_safetensors_write_faults },
    { "safetensors_alloc_failures", test_safetensors_alloc_failures },
    { "names_and_misc", test_names_and_misc },
    { "best_rate", test_best_rate },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
