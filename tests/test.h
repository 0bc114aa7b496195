/* frugal's own test runner (the contract of STYLE.md, appendix C).
 * TEST(name) defines a test; each tests/test_<sub>.c ends with a case table and
 *   int main(int argc, char **argv) { return fg_test_main(argc, argv, cases, N); }
 * argv[1] filters tests by substring; FG_TEST_SEED overrides the printed seed.
 * The last line printed is exactly "N passed, N failed" (", N skipped" when any were skipped).
 */
#ifndef FRUGAL_TEST_H
#define FRUGAL_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"

struct fg_test {
    const char *name;
    int failed, skipped;
    uint64_t seed;
};

struct fg_test_case {
    const char *name;
    void (*fn)(struct fg_test *t);
};

#define TEST(name) static void test_##name(struct fg_test *t)

int fg_test_main(int argc, char **argv, const struct fg_test_case *cases, size_t n);
void fg_test_fail(struct fg_test *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fg_test_skip(struct fg_test *t, const char *why);
/* Returns 1 if every |got-ref| <= atol + rtol*|ref| (NaN never passes); otherwise reports the
 * worst element (index, both values, abs and rel error) and returns 0. */
int fg_test_close_f32(struct fg_test *t, const char *file, int line, const char *what,
                      const float *got, const float *ref, size_t n, double atol, double rtol);
int fg_test_close_f64(struct fg_test *t, const char *file, int line, const char *what,
                      const double *got, const double *ref, size_t n, double atol, double rtol);

/* An allocator for tests: counts calls (n_alloc), frees of non-NULL pointers (n_free), blocks
 * alive (live) and the bytes of the successful allocations (bytes), fails its fail_at-th call
 * (1-based; 0 = never) and records a violation of core.h's alignment contract (a power of two
 * >= 16) in bad_align. */
struct fg_test_alloc {
    size_t n_alloc, n_free, live, fail_at, bytes;
    int bad_align;
};
struct fg_allocator fg_test_allocator(struct fg_test_alloc *c);

#define CHECK(t, cond)                                                 \
    do {                                                               \
        if (!(cond))                                                   \
            fg_test_fail((t), __FILE__, __LINE__, "CHECK(%s)", #cond); \
    } while (0)
#define CHECK_EQ_I64(t, a, b)                                                                      \
    do {                                                                                           \
        long long fg_a_ = (long long)(a), fg_b_ = (long long)(b);                                  \
        if (fg_a_ != fg_b_)                                                                        \
            fg_test_fail((t), __FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, fg_a_, fg_b_); \
    } while (0)
#define CHECK_OK(t, st)                                                                  \
    do {                                                                                 \
        int fg_st_ = (int)(st);                                                          \
        if (fg_st_ != 0)                                                                 \
            fg_test_fail((t), __FILE__, __LINE__, "%s returned status %d", #st, fg_st_); \
    } while (0)
#define CHECK_CLOSE(t, got, ref, n, atol, rtol) \
    fg_test_close_f32((t), __FILE__, __LINE__, #got, (got), (ref), (n), (atol), (rtol))
#define CHECK_CLOSE64(t, got, ref, n, atol, rtol) \
    fg_test_close_f64((t), __FILE__, __LINE__, #got, (got), (ref), (n), (atol), (rtol))

#endif
