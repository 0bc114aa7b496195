/* libFuzzer target for the token-shard validator (fg_shard_check), both variants (uint16 and
 * uint32 ids). Properties: no crash; on success the header names a known width, its count
 * matches the size exactly and every token is below the vocabulary; the answer does not depend
 * on anything but the bytes (checked twice). */
#include <stdint.h>
#include <stdlib.h>

#include "frugal/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int vocab = 300;
    size_t n = 0, n2 = 0;
    int maxv = -1, maxv2 = -1;
    char err[256];
    fg_status st = fg_shard_check(data, size, vocab, &n, &maxv, err, sizeof err);
    fg_status st2 = fg_shard_check(data, size, vocab, &n2, &maxv2, err, sizeof err);
    if (st != st2)
        abort();
    if (st != FG_OK)
        return 0;
    int width = fg_shard_token_bytes(data, size);
    if (width != 2 && width != 4)
        abort();
    if (n != n2 || maxv != maxv2 || FG_SHARD_HEADER_BYTES + (size_t)width * n != size ||
        maxv >= vocab)
        abort();
    return 0;
}
