/* Allocator hook and overflow-checked size arithmetic.
 * The default allocator is posix_memalign; contexts carry a struct fg_allocator so that tests
 * can count allocations (no allocation inside a training step) or fail the k-th one. */
#define _DEFAULT_SOURCE /* madvise */
#include <stdlib.h>
#if defined(__linux__)
#    include <sys/mman.h>
#endif

#include "frugal/core.h"

/* Blocks of this size or more (the arenas, optimizer state) are 2 MiB aligned and, on Linux,
 * advised as transparent huge pages: the training step streams through hundreds of MB, and
 * 4 KiB pages cost TLB misses on every pass. A hint only: without THP nothing changes. */
#define HUGE_BLOCK ((size_t)4 << 20)
#define HUGE_PAGE  ((size_t)2 << 20)

static void *default_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    if (size >= HUGE_BLOCK && align < HUGE_PAGE)
        align = HUGE_PAGE;
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size >= HUGE_BLOCK)
        (void)madvise(p, size / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
#endif
    return p;
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

struct fg_allocator fg_allocator_default(void)
{
    struct fg_allocator a = { default_alloc, default_free, NULL };
    return a;
}

void *fg_alloc(const struct fg_allocator *a, size_t size, size_t align)
{
    if (size == 0)
        return NULL;
    if (!a || !a->alloc)
        return default_alloc(NULL, size, align);
    return a->alloc(a->user, size, align);
}

void fg_free(const struct fg_allocator *a, void *ptr)
{
    if (!ptr)
        return;
    if (!a || !a->free)
        default_free(NULL, ptr);
    else
        a->free(a->user, ptr);
}

fg_status fg_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return FG_ERR_INVALID_ARG;
    *out = a * b;
    return FG_OK;
}

fg_status fg_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return FG_ERR_INVALID_ARG;
    *out = a + b;
    return FG_OK;
}
