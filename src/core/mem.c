/* Allocator hook and overflow-checked size arithmetic.
 * The default allocator is posix_memalign; contexts carry a struct fg_allocator so that tests
 * can count allocations (no allocation inside a training step) or fail the k-th one. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

#include "frugal/core.h"

static void *default_alloc(void *user, size_t size, size_t align)
{
    (void)user;
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
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
