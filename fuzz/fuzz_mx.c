/* libFuzzer target for the MX block decoder (fg_mx_decode_buffer) and the quantizer behind it.
 * The first byte selects the element format (modulo 6) and the scale rule used to re-quantize
 * ((byte >> 3) modulo 3); the rest is the buffer: n scale bytes, then n packed code blocks.
 * Properties: no crash or undefined behaviour; a buffer that is not whole blocks is rejected with
 * FG_ERR_FORMAT, anything else decodes to 32 values per block; the fast path decodes to the same
 * bits as _ref, and so does decoding twice (determinism); a 0xFF scale gives NaN everywhere;
 * re-quantizing the decoded values gives the same bytes on both paths and, for every finite
 * block, stays within the per-element bound |x' - x| <= rho |x| + tau X' of numerics.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/numerics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum fg_mx_format f = (enum fg_mx_format)(data[0] % 6);
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    const uint8_t *buf = data + 1;
    size_t len = size - 1, rec = 1 + fi->block_bytes, nb = len / rec, cap = nb * 32, n = 0;
    struct fg_mx_params p = fg_mx_params_default();
    p.scale_rule = (enum fg_mx_scale_rule)((data[0] >> 3) % 3);
    char err[256];
    float *x = malloc((cap ? cap : 1) * sizeof(float));
    float *x2 = malloc((cap ? cap : 1) * sizeof(float));
    float *x3 = malloc((cap ? cap : 1) * sizeof(float));
    uint8_t *s = malloc(nb ? nb : 1), *c = malloc(nb ? nb * fi->block_bytes : 1);
    uint8_t *s2 = malloc(nb ? nb : 1), *c2 = malloc(nb ? nb * fi->block_bytes : 1);
    if (!x || !x2 || !x3 || !s || !c || !s2 || !c2)
        abort();
    p.path = FG_NUM_PATH_REF;
    fg_status st = fg_mx_decode_buffer(f, &p, buf, len, x, cap, &n, err, sizeof err);
    if (len % rec) {
        if (st != FG_ERR_FORMAT)
            abort();
        goto done;
    }
    if (st != FG_OK || n != cap)
        abort();
    p.path = FG_NUM_PATH_AUTO;
    if (fg_mx_decode_buffer(f, &p, buf, len, x2, cap, &n, err, sizeof err) != FG_OK ||
        memcmp(x, x2, cap * sizeof(float)))
        abort();
    for (size_t b = 0; b < nb; b++)
        for (size_t i = 0; buf[b] == 0xFF && i < 32; i++)
            if (!isnan(x[b * 32 + i]))
                abort();
    /* re-quantize the decoded values on both paths */
    p.path = FG_NUM_PATH_REF;
    if (fg_mx_quantize(f, &p, x, cap, s, c, err, sizeof err) != FG_OK)
        abort();
    p.path = FG_NUM_PATH_AUTO;
    if (fg_mx_quantize(f, &p, x, cap, s2, c2, err, sizeof err) != FG_OK || memcmp(s, s2, nb) ||
        memcmp(c, c2, nb * fi->block_bytes))
        abort();
    if (fg_mx_dequantize(f, &p, s, c, cap, x3, err, sizeof err) != FG_OK)
        abort();
    for (size_t b = 0; b < nb; b++) {
        if (s[b] == 0xFF) /* a NaN or Inf was decoded: a NaN block again */
            continue;
        double X = ldexp(1.0, (int)s[b] - 127);
        for (size_t i = b * 32; i < b * 32 + 32; i++) {
            double err_i = fabs((double)x3[i] - (double)x[i]);
            if (!(err_i <= fi->rho * fabs((double)x[i]) + fi->tau * X))
                abort();
        }
    }
done:
    free(x);
    free(x2);
    free(x3);
    free(s);
    free(c);
    free(s2);
    free(c2);
    return 0;
}
