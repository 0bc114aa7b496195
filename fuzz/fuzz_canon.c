/* libFuzzer target for the record canonicalizer (fg_canon_parse / fg_canon_write). The first
 * byte selects the kind (modulo 3: JSON, stanza, CSV); for CSV the rest is the header row, a
 * '\n', then the row. Properties: no crash; parsing twice gives the same status and the same
 * canonical bytes and hash (determinism); for JSON and stanzas the canonical form is itself a
 * valid record of the kind whose canonical form is itself (idempotence); a record is a keyed
 * duplicate of itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *canon_bytes(const struct fg_canon_rec *r, size_t *n)
{
    if (fg_canon_write(r, NULL, 0, n) != FG_ERR_INVALID_ARG && *n != 0)
        abort();
    uint8_t *buf = malloc(*n ? *n : 1);
    if (!buf)
        abort();
    size_t m = 0;
    if (fg_canon_write(r, (char *)buf, *n, &m) != FG_OK || m != *n)
        abort();
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum fg_canon_kind kind = (enum fg_canon_kind)(data[0] % 3);
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    struct fg_canon_params p = fg_canon_params_default();
    if (kind == FG_CANON_CSV) {
        const char *nl = memchr(in, '\n', len);
        if (!nl)
            return 0;
        p.csv_header = in;
        p.csv_header_len = (size_t)(nl - in);
        len -= p.csv_header_len + 1;
        in = nl + 1;
    }
    struct fg_canon_rec *a = NULL, *b = NULL, *c = NULL;
    char err[256];
    fg_status st = fg_canon_parse(kind, in, len, &p, &a, err, sizeof err);
    fg_status st2 = fg_canon_parse(kind, in, len, &p, &b, err, sizeof err);
    if (st != st2 || (st == FG_OK) != (a != NULL) || (st2 == FG_OK) != (b != NULL))
        abort();
    if (st != FG_OK)
        return 0;
    size_t na = 0, nb = 0, nc = 0;
    uint8_t *xa = canon_bytes(a, &na), *xb = canon_bytes(b, &nb);
    uint64_t ha[2], hb[2];
    fg_canon_hash(a, ha);
    fg_canon_hash(b, hb);
    if (na != nb || memcmp(xa, xb, na) != 0 || ha[0] != hb[0] || ha[1] != hb[1])
        abort();
    if (!fg_canon_keyed_equal(a, b, NULL, 0))
        abort();
    if (kind != FG_CANON_CSV) {
        if (fg_canon_parse(kind, (const char *)xa, na, &p, &c, err, sizeof err) != FG_OK)
            abort();
        uint8_t *xc = canon_bytes(c, &nc);
        if (nc != na || memcmp(xc, xa, na) != 0)
            abort();
        free(xc);
    }
    free(xa);
    free(xb);
    fg_canon_rec_free(a);
    fg_canon_rec_free(b);
    fg_canon_rec_free(c);
    return 0;
}
