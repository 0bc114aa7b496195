/* libFuzzer target for the safetensors parser (fg_st_parse). Properties checked on every input:
 * it never crashes or leaks; on success every tensor lies inside the buffer, its byte count
 * matches its shape and dtype, and parsing the same bytes twice gives the same tensors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fg_st_file *a = NULL, *b = NULL;
    char err[256];
    fg_status st = fg_st_parse(data, size, NULL, &a, err, sizeof err);
    if (st != FG_OK) {
        if (a || !err[0])
            abort(); /* a failure returns no object and always says why */
        return 0;
    }
    for (size_t i = 0; i < a->n_tensors; i++) {
        const struct fg_st_tensor *t = &a->tensors[i];
        const uint8_t *p = t->data;
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++)
            numel *= (size_t)t->shape[d];
        if (p < data || p + t->nbytes > data + size || numel * fg_dtype_size(t->dtype) != t->nbytes)
            abort();
    }
    if (fg_st_parse(data, size, NULL, &b, err, sizeof err) != FG_OK ||
        b->n_tensors != a->n_tensors || b->n_meta != a->n_meta)
        abort();
    for (size_t i = 0; i < a->n_tensors; i++)
        if (strcmp(a->tensors[i].name, b->tensors[i].name) ||
            a->tensors[i].data != b->tensors[i].data)
            abort();
    fg_st_free(a);
    fg_st_free(b);
    return 0;
}
