/* The test runner behind tests/test.h. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

void fg_test_fail(struct fg_test *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: [%s] ", file, line, t->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t->failed = 1;
}

void fg_test_skip(struct fg_test *t, const char *why)
{
    printf("  skip %s: %s\n", t->name, why);
    t->skipped = 1;
}

static int close_report(struct fg_test *t, const char *file, int line, const char *what,
                        size_t worst, double got, double ref, double maxabs, double maxrel,
                        size_t n_bad, size_t n, double atol, double rtol)
{
    if (n_bad == 0)
        return 1;
    fg_test_fail(t, file, line,
                 "%s: %zu of %zu elements outside atol %.1e + rtol %.1e; worst [%zu] got %.9g "
                 "ref %.9g; max abs err %.3e, max rel err %.3e",
                 what, n_bad, n, atol, rtol, worst, got, ref, maxabs, maxrel);
    return 0;
}

int fg_test_close_f32(struct fg_test *t, const char *file, int line, const char *what,
                      const float *got, const float *ref, size_t n, double atol, double rtol)
{
    double maxabs = 0, maxrel = 0, worst_excess = -1;
    size_t worst = 0, n_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i], err = fabs(g - r);
        double rel = err / (fabs(r) > 1e-30 ? fabs(r) : 1e-30);
        int bad = !(err <= atol + rtol * fabs(r));
        if (err > maxabs || isnan(err))
            maxabs = err;
        if (rel > maxrel)
            maxrel = rel;
        double excess = isnan(err) ? (double)INFINITY : err - (atol + rtol * fabs(r));
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
        n_bad += (size_t)bad;
    }
    return close_report(t, file, line, what, worst, n ? got[worst] : 0, n ? ref[worst] : 0, maxabs,
                        maxrel, n_bad, n, atol, rtol);
}

int fg_test_close_f64(struct fg_test *t, const char *file, int line, const char *what,
                      const double *got, const double *ref, size_t n, double atol, double rtol)
{
    double maxabs = 0, maxrel = 0, worst_excess = -1;
    size_t worst = 0, n_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - ref[i]);
        double rel = err / (fabs(ref[i]) > 1e-300 ? fabs(ref[i]) : 1e-300);
        int bad = !(err <= atol + rtol * fabs(ref[i]));
        if (err > maxabs || isnan(err))
            maxabs = err;
        if (rel > maxrel)
            maxrel = rel;
        double excess = isnan(err) ? (double)INFINITY : err - (atol + rtol * fabs(ref[i]));
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
        n_bad += (size_t)bad;
    }
    return close_report(t, file, line, what, worst, n ? got[worst] : 0, n ? ref[worst] : 0, maxabs,
                        maxrel, n_bad, n, atol, rtol);
}

int fg_test_main(int argc, char **argv, const struct fg_test_case *cases, size_t n)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    uint64_t seed = 20240520;
    const char *env = getenv("FG_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 10);
    printf("# %s seed %" PRIu64 "\n", argv[0], seed);
    int passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (filter && !strstr(cases[i].name, filter))
            continue;
        struct fg_test t = { cases[i].name, 0, 0, seed };
        cases[i].fn(&t);
        if (t.failed) {
            failed++;
            printf("FAIL %s\n", cases[i].name);
        } else if (t.skipped) {
            skipped++;
        } else {
            passed++;
            printf("ok %s\n", cases[i].name);
        }
        fflush(stdout);
    }
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

static void *test_alloc_fn(void *user, size_t size, size_t align)
{
    struct fg_test_alloc *c = user;
    c->n_alloc++;
    if (align < 16 || (align & (align - 1)) != 0)
        c->bad_align = 1;
    if (c->fail_at && c->n_alloc == c->fail_at)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0)
        return NULL;
    c->live++;
    c->bytes += size;
    return p;
}

static void test_free_fn(void *user, void *ptr)
{
    struct fg_test_alloc *c = user;
    if (ptr) {
        c->live--;
        c->n_free++;
        free(ptr);
    }
}

struct fg_allocator fg_test_allocator(struct fg_test_alloc *c)
{
    struct fg_allocator a = { test_alloc_fn, test_free_fn, c };
    return a;
}
