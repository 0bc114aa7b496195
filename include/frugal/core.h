/* frugal core: allocator hook, arenas, checked sizes, RNG, CRC32C, atomic files, CPU features.
 *
 * Everything here is small, dependency-free (libc only) and reentrant: state hangs off the
 * structs the caller owns, never off globals.
 */
#ifndef FRUGAL_CORE_H
#define FRUGAL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- allocator hook (zstd customMem, SQLite mem_methods) ----------------------------------
 * alloc(user, size, align) returns memory aligned to `align` (a power of two >= 16) or NULL;
 * free(user, ptr) accepts NULL. Tests install counting or failing allocators through this. */
struct fg_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
    void *user;
};

/* The default allocator (posix_memalign / free). */
FG_API struct fg_allocator fg_allocator_default(void);
/* Allocate through `a` (NULL means the default). Returns NULL on failure or size 0. */
FG_API void *fg_alloc(const struct fg_allocator *a, size_t size, size_t align);
FG_API void fg_free(const struct fg_allocator *a, void *ptr);

/* ---- checked size arithmetic ---------------------------------------------------------------
 * Return FG_ERR_INVALID_ARG on overflow and leave *out untouched. */
FG_API fg_status fg_size_mul(size_t a, size_t b, size_t *out);
FG_API fg_status fg_size_add(size_t a, size_t b, size_t *out);

/* Round n up to a multiple of the power of two `align`. */
static inline size_t fg_align_up(size_t n, size_t align)
{
    return (n + align - 1) & ~(align - 1);
}

/* ---- deterministic RNG: xoshiro256** seeded through splitmix64 -----------------------------
 * Reference: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (2018).
 * The whole state is the four words, so it can be saved in a checkpoint and restored. */
struct fg_rng {
    uint64_t s[4];
};

FG_API void fg_rng_seed(struct fg_rng *r, uint64_t seed);
FG_API uint64_t fg_rng_u64(struct fg_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
FG_API double fg_rng_uniform(struct fg_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
FG_API uint64_t fg_rng_below(struct fg_rng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call, computed in double). */
FG_API double fg_rng_normal(struct fg_rng *r);

/* ---- CRC-32C (Castagnoli, reflected 0x82F63B78) ---------------------------------------------
 * fg_crc32c(0, "123456789", 9) == 0xE3069283. Pass the previous value to continue a stream. */
FG_API uint32_t fg_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- SHA-256 (FIPS 180-4) -------------------------------------------------------------------
 * The fingerprint of files in manifests (comparable with `sha256sum`).
 * fg_sha256("abc", 3, d) gives ba7816bf 8f01cfea ... f20015ad. Streaming: init, any number of
 * updates (any lengths), then final, which writes the 32-byte digest; the context must be
 * initialized again before reuse. No allocation; thread-safe on distinct contexts. */
struct fg_sha256 {
    uint32_t h[8];    /* chaining state */
    uint64_t n_bytes; /* message bytes so far */
    uint8_t buf[64];  /* a partial block */
    size_t n_buf;
};

FG_API void fg_sha256_init(struct fg_sha256 *s);
FG_API void fg_sha256_update(struct fg_sha256 *s, const void *data, size_t len);
FG_API void fg_sha256_final(struct fg_sha256 *s, uint8_t out[32]);
/* One shot: the digest of data[0..len) (data may be NULL when len is 0). */
FG_API void fg_sha256(const void *data, size_t len, uint8_t out[32]);
/* The digest as 64 lowercase hex digits and a terminating NUL, as sha256sum prints it. */
FG_API void fg_sha256_hex(const uint8_t digest[32], char out[65]);

/* ---- files ----------------------------------------------------------------------------------
 * An atomic writer: bytes go to "<path>.tmp.<pid>" in the same directory; commit() fsyncs the
 * file, renames it over `path` and fsyncs the directory, so a reader sees the old file or the
 * new one, never a mix. abort() (or a failed commit) removes the temporary file. */
struct fg_atomic_file {
    void *fp; /* FILE*, owned */
    char path[4096];
    char tmp[4160];
    int failed;
    /* Fault injection for tests: if > 0, the write that would exceed this many bytes fails
     * with FG_ERR_IO as if the disk were full. 0 disables it. */
    uint64_t fail_after_bytes;
    uint64_t written;
};

FG_API fg_status fg_atomic_open(struct fg_atomic_file *f, const char *path, char *errmsg,
                                size_t errmsg_len);
FG_API fg_status fg_atomic_write(struct fg_atomic_file *f, const void *buf, size_t len,
                                 char *errmsg, size_t errmsg_len);
FG_API fg_status fg_atomic_commit(struct fg_atomic_file *f, char *errmsg, size_t errmsg_len);
FG_API void fg_atomic_abort(struct fg_atomic_file *f);

/* Read a whole file into a buffer from `a` (caller frees with fg_free(a, *out)). The buffer
 * has one extra zero byte after *out_len bytes. */
FG_API fg_status fg_read_file(const struct fg_allocator *a, const char *path, void **out,
                              size_t *out_len, char *errmsg, size_t errmsg_len);

/* Write "<what>: <strerror(err)> (errno N)" into errmsg using the thread-safe strerror_r. */
FG_API void fg_errno_msg(char *errmsg, size_t errmsg_len, int err, const char *what);

/* ---- CPU features and time ----------------------------------------------------------------- */
enum fg_isa {
    FG_ISA_REF = 0, /* scalar reference kernels only */
    FG_ISA_GENERIC = 1 /* portable fast path: BLAS + OpenMP + compiler vectorization */,
    FG_ISA_AVX2 = 2,
    FG_ISA_AVX512 = 3,
    FG_ISA_AVX512BF16 = 4,
    FG_ISA_AMX = 5 /* AMX-BF16 tiles, granted by the OS (Linux: arch_prctl) */
};

/* Best ISA this CPU supports (cpuid), capped by the FG_ISA environment variable when set
 * (ref|generic|avx2|avx512). Thread-safe. */
FG_API enum fg_isa fg_cpu_isa(void);
FG_API const char *fg_isa_name(enum fg_isa isa);
/* Logical CPUs available to this process (sched_getaffinity), at least 1. */
FG_API int fg_cpu_count(void);
/* Monotonic clock in seconds. */
FG_API double fg_time_now(void);
/* Peak resident set size of this process in bytes (getrusage), 0 if unknown. */
FG_API uint64_t fg_peak_rss_bytes(void);
/* CPU seconds this process has used, all threads (CLOCK_PROCESS_CPUTIME_ID). */
FG_API double fg_cpu_seconds(void);
/* The sustained peak FP32 FLOP/s of n_threads threads running independent vector FMAs on the
 * widest unit the hardware has (AVX-512, else AVX2 + FMA; 0 with neither), best of three
 * runs of about 0.1 s each; *unit (may be NULL) names it ("avx512 fma", "avx2 fma", "none").
 * What MFU is measured against. Takes about 0.3 s: cache it (frugal train does). */
FG_API double fg_cpu_peak_flops(int n_threads, const char **unit);
/* A sustained rate: each of n_threads threads calls body(user) once, three times over, and the
 * best of the three runs is returned as work x (threads the runtime granted) / seconds, work
 * being what one call does. body's result is kept from the optimizer. The timing harness of
 * the peak measurements (fg_cpu_peak_flops, fg_gemm_bf16_peak_flops). */
FG_API double fg_cpu_best_rate(int n_threads, float (*body)(void *user), void *user, double work);

#ifdef __cplusplus
}
#endif
#endif
