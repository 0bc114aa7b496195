/* Training checkpoints on the safetensors container: weights under their model names, AdamW
 * moments as optim.m / optim.v, and the state needed for an exact resume in __metadata__,
 * with a CRC-32C per tensor so that a flipped bit is caught before it is trained on. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frugal/ckpt.h"
#include "frugal/flashoptim.h"
#include "frugal/model.h"
#include "frugal/numerics.h"

#define CKPT_FORMAT "frugal-checkpoint"

fg_status fg_ckpt_save(const char *path, const struct fg_model *model, const float *m,
                       const float *v, const struct fg_ckpt_state *st, uint64_t fail_after_bytes,
                       char *errmsg, size_t errmsg_len)
{
    struct fg_ckpt_extra x[2];
    size_t n = 0;
    if (m)
        x[n++] = (struct fg_ckpt_extra){ "optim.m", FG_DTYPE_F32, model->n_flat, (void *)m };
    if (v)
        x[n++] = (struct fg_ckpt_extra){ "optim.v", FG_DTYPE_F32, model->n_flat, (void *)v };
    return fg_ckpt_save_ex(path, model, x, n, NULL, st, fail_after_bytes, errmsg, errmsg_len);
}

#define MAX_EXTRA 8

fg_status fg_ckpt_save_ex(const char *path, const struct fg_model *model,
                          const struct fg_ckpt_extra *x, size_t n_extra, const char *storage,
                          const struct fg_ckpt_state *st, uint64_t fail_after_bytes, char *errmsg,
                          size_t errmsg_len)
{
    struct fg_st_tensor t[FG_MODEL_N_TENSORS + MAX_EXTRA];
    size_t n = 0;
    if (n_extra > MAX_EXTRA) {
        snprintf(errmsg, errmsg_len, "at most %d optimizer tensors per checkpoint", MAX_EXTRA);
        return FG_ERR_INVALID_ARG;
    }
    int bf16 = model->w16 != NULL;
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++, n++) {
        memset(&t[n], 0, sizeof t[n]);
        t[n].name = fg_model_tensor_name(id);
        t[n].dtype = bf16 ? FG_DTYPE_BF16 : FG_DTYPE_F32;
        fg_model_tensor_numel(&model->cfg, id, &t[n].ndim, t[n].shape);
        t[n].data = bf16 ? (const void *)(model->w16 + model->offset[id])
                         : (const void *)(model->params + model->offset[id]);
        t[n].nbytes = model->numel[id] * (bf16 ? 2 : 4);
    }
    for (size_t k = 0; k < n_extra; k++, n++) {
        /* names go into the crc32c JSON as they are: plain, distinct, not a weight's name */
        const char *nm = x[k].name;
        size_t dsz = fg_dtype_size(x[k].dtype), nb;
        int ok = nm && *nm && strlen(nm) <= 64 && x[k].data && dsz &&
                 fg_size_mul(x[k].n, dsz, &nb) == FG_OK;
        for (const char *q = nm; ok && *q; q++)
            ok = *q > 0x20 && *q < 0x7f && *q != '"' && *q != '\\';
        for (size_t j = 0; ok && j < n; j++)
            ok = strcmp(t[j].name, nm) != 0;
        if (!ok) {
            snprintf(errmsg, errmsg_len,
                     "optimizer tensor %zu: its name must be 1-64 printable characters without "
                     "quotes or backslashes, distinct from the others, with data and a size that "
                     "fits",
                     k);
            return FG_ERR_INVALID_ARG;
        }
        memset(&t[n], 0, sizeof t[n]);
        t[n].name = x[k].name;
        t[n].dtype = x[k].dtype;
        t[n].ndim = 1;
        t[n].shape[0] = (int64_t)x[k].n;
        t[n].data = x[k].data;
        t[n].nbytes = x[k].n * fg_dtype_size(x[k].dtype);
    }
    /* metadata strings */
    char cfg[256], step[32], rng[80], loader[96], fp[48], *crc = NULL;
    const struct fg_model_config *c = &model->cfg;
    snprintf(cfg, sizeof cfg,
             "{\"n_layer\":%d,\"n_head\":%d,\"n_embd\":%d,\"block_size\":%d,\"vocab_size\":%d}",
             c->n_layer, c->n_head, c->n_embd, c->block_size, c->vocab_size);
    snprintf(step, sizeof step, "%" PRId64, st->step);
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, st->rng[0],
             st->rng[1], st->rng[2], st->rng[3]);
    snprintf(loader, sizeof loader, "{\"batches\":%" PRIu64 "}", st->n_batches);
    snprintf(fp, sizeof fp, "%08" PRIx32 ":%" PRIu64, st->data_crc, st->data_tokens);
    char gnorm[40];
    snprintf(gnorm, sizeof gnorm, "%.17g", st->grad_norm);
    size_t crc_len = 8; /* {"name":"xxxxxxxx", ...}: the names plus 16 bytes each */
    for (size_t i = 0; i < n; i++)
        crc_len += strlen(t[i].name) + 16;
    crc = fg_alloc(&model->alloc, crc_len, 16);
    if (!crc) {
        snprintf(errmsg, errmsg_len, "out of memory");
        return FG_ERR_NOMEM;
    }
    size_t pos = (size_t)snprintf(crc, crc_len, "{");
    for (size_t i = 0; i < n; i++)
        pos += (size_t)snprintf(crc + pos, crc_len - pos, "%s\"%s\":\"%08" PRIx32 "\"",
                                i ? "," : "", t[i].name, fg_crc32c(0, t[i].data, t[i].nbytes));
    snprintf(crc + pos, crc_len - pos, "}");
    struct fg_st_kv meta[] = {
        { "format", CKPT_FORMAT },
        { "format_version", "1" },
        { "config", cfg },
        { "step", step },
        { "rng", rng },
        { "loader", loader },
        { "data_fingerprint", fp },
        { "train", st->train_json },
        { "crc32c", crc },
        { "grad_norm", gnorm },
        { "storage", storage },
    };
    size_t n_meta = sizeof meta / sizeof meta[0] - (storage ? 0 : 1);
    fg_status rc = fg_st_write(path, t, n, meta, n_meta, fail_after_bytes, errmsg, errmsg_len);
    fg_free(&model->alloc, crc);
    return rc;
}

static int json_int(const cJSON *o, const char *key, int *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(j) ||
        !(j->valuedouble >= -2147483648.0 && j->valuedouble <= 2147483647.0) ||
        j->valuedouble != (double)(int)j->valuedouble)
        return 0;
    *out = (int)j->valuedouble;
    return 1;
}

static fg_status parse_config(const struct fg_st_file *f, const char *path,
                              struct fg_model_config *cfg, char *errmsg, size_t errmsg_len)
{
    const char *fmt = fg_st_meta(f, "format"), *cs = fg_st_meta(f, "config");
    const char *ver = fg_st_meta(f, "format_version");
    if (!fmt || strcmp(fmt, CKPT_FORMAT) != 0 || !cs) {
        snprintf(errmsg, errmsg_len,
                 "%s is a safetensors file but not a frugal checkpoint "
                 "(no format/config metadata)",
                 path);
        return FG_ERR_FORMAT;
    }
    if (!ver || strcmp(ver, "1") != 0) {
        snprintf(errmsg, errmsg_len,
                 "%s has checkpoint format_version %s; this build reads "
                 "version 1",
                 path, ver ? ver : "(none)");
        return FG_ERR_FORMAT;
    }
    cJSON *j = cJSON_Parse(cs);
    int ok = j && json_int(j, "n_layer", &cfg->n_layer) && json_int(j, "n_head", &cfg->n_head) &&
             json_int(j, "n_embd", &cfg->n_embd) && json_int(j, "block_size", &cfg->block_size) &&
             json_int(j, "vocab_size", &cfg->vocab_size);
    cJSON_Delete(j);
    char inner[160];
    if (!ok || fg_model_config_check(cfg, inner, sizeof inner) != FG_OK) {
        snprintf(errmsg, errmsg_len, "%s has an invalid model config in its metadata", path);
        return FG_ERR_FORMAT;
    }
    return FG_OK;
}

fg_status fg_ckpt_read_config(const char *path, struct fg_model_config *cfg, char *errmsg,
                              size_t errmsg_len)
{
    struct fg_st_file *f = NULL;
    FG_TRY(fg_st_load_header(path, NULL, &f, errmsg, errmsg_len));
    fg_status st = parse_config(f, path, cfg, errmsg, errmsg_len);
    fg_st_free(f);
    return st;
}

fg_status fg_ckpt_read_meta(const char *path, const char *key, char *out, size_t out_len,
                            char *errmsg, size_t errmsg_len)
{
    struct fg_st_file *f = NULL;
    FG_TRY(fg_st_load_header(path, NULL, &f, errmsg, errmsg_len));
    const char *v = fg_st_meta(f, key);
    fg_status st = FG_OK;
    if (!v || strlen(v) >= out_len) {
        snprintf(errmsg, errmsg_len, "%s has no usable \"%s\" metadata", path, key);
        st = FG_ERR_FORMAT;
    } else {
        memcpy(out, v, strlen(v) + 1);
    }
    fg_st_free(f);
    return st;
}

/* Read tensor `name` (numel elements of dtype `have` in the file) from the file into dst as
 * dtype `want`, checking its CRC-32C against the "crc32c" metadata (parsed into crcs) over the
 * bytes as stored. Conversions: F32 <-> BF16 (exact one way, rounded to nearest even the
 * other); any other pair must be equal. Streams through a small buffer. */
static fg_status read_tensor(FILE *fp, const struct fg_st_file *f, const cJSON *crcs,
                             const char *path, const char *name, enum fg_dtype want, void *dst,
                             size_t numel, int may_convert, char *errmsg, size_t errmsg_len)
{
    const struct fg_st_tensor *t = fg_st_find(f, name);
    int convert = may_convert && t && t->dtype != want &&
                  ((t->dtype == FG_DTYPE_BF16 && want == FG_DTYPE_F32) ||
                   (t->dtype == FG_DTYPE_F32 && want == FG_DTYPE_BF16));
    if (!t || (t->dtype != want && !convert) || t->nbytes != numel * fg_dtype_size(t->dtype)) {
        snprintf(errmsg, errmsg_len,
                 "%s: tensor %s is missing or has the wrong type or size (this run needs %zu "
                 "elements of %s)",
                 path, name, numel, fg_dtype_name(want));
        return FG_ERR_FORMAT;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(crcs, name);
    if (!cJSON_IsString(e)) {
        snprintf(errmsg, errmsg_len,
                 "%s is corrupt: tensor %s has no CRC-32C entry; resume from an older checkpoint",
                 path, name);
        return FG_ERR_FORMAT;
    }
    if (fseeko(fp, (off_t)(f->data_start + t->offset), SEEK_SET) != 0)
        goto short_read;
    uint32_t got = 0;
    if (!convert) {
        if (fread(dst, 1, t->nbytes, fp) != t->nbytes)
            goto short_read;
        got = fg_crc32c(0, dst, t->nbytes);
    } else {
        float buf[4096];
        size_t esz = fg_dtype_size(t->dtype);
        for (size_t i = 0; i < numel;) {
            size_t k = numel - i < 4096 ? numel - i : 4096;
            if (fread(buf, esz, k, fp) != k)
                goto short_read;
            got = fg_crc32c(got, buf, k * esz);
            if (t->dtype == FG_DTYPE_BF16)
                fg_bf16_to_fp32_ref((float *)dst + i, (const uint16_t *)buf, k);
            else
                fg_fp32_to_bf16_ref((uint16_t *)dst + i, buf, k);
            i += k;
        }
    }
    uint32_t stored = (uint32_t)strtoul(e->valuestring, NULL, 16);
    if (got != stored) {
        snprintf(errmsg, errmsg_len,
                 "%s is corrupt: tensor %s fails its CRC-32C check (stored %08" PRIx32
                 ", computed %08" PRIx32 "); resume from an older checkpoint",
                 path, name, stored, got);
        return FG_ERR_FORMAT;
    }
    return FG_OK;
short_read:
    snprintf(errmsg, errmsg_len, "%s: reading tensor %s failed (truncated file?)", path, name);
    return FG_ERR_IO;
}

fg_status fg_ckpt_load(const char *path, struct fg_model *model, float *m, float *v,
                       struct fg_ckpt_state *st, char *errmsg, size_t errmsg_len)
{
    struct fg_ckpt_extra x[2];
    size_t n = 0;
    if (m)
        x[n++] = (struct fg_ckpt_extra){ "optim.m", FG_DTYPE_F32, model->n_flat, m };
    if (v)
        x[n++] = (struct fg_ckpt_extra){ "optim.v", FG_DTYPE_F32, model->n_flat, v };
    return fg_ckpt_load_ex(path, model, x, n, st, errmsg, errmsg_len);
}

fg_status fg_ckpt_load_ex(const char *path, struct fg_model *model, const struct fg_ckpt_extra *x,
                          size_t n_extra, struct fg_ckpt_state *st, char *errmsg, size_t errmsg_len)
{
    struct fg_st_file *f = NULL;
    struct fg_model_config cfg;
    FILE *fp = NULL;
    cJSON *crcs = NULL;
    /* Only the header is read whole; each tensor goes from the file straight into its
     * destination, so loading needs no memory beyond the model and the optimizer state. */
    FG_TRY(fg_st_load_header(path, &model->alloc, &f, errmsg, errmsg_len));
    fg_status rc = parse_config(f, path, &cfg, errmsg, errmsg_len);
    if (rc)
        goto done;
    const struct fg_model_config *mc = &model->cfg;
    const char *names[5] = { "n_layer", "n_head", "n_embd", "block_size", "vocab_size" };
    int have[5] = { cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.vocab_size };
    int want[5] = { mc->n_layer, mc->n_head, mc->n_embd, mc->block_size, mc->vocab_size };
    for (int i = 0; i < 5; i++)
        if (have[i] != want[i]) {
            snprintf(errmsg, errmsg_len,
                     "checkpoint %s has %s = %d but the run asks for %d: drop the flag or "
                     "start a new run",
                     path, names[i], have[i], want[i]);
            rc = FG_ERR_INVALID_ARG;
            goto done;
        }
    const char *cs = fg_st_meta(f, "crc32c");
    crcs = cs ? cJSON_Parse(cs) : NULL;
    if (!crcs) {
        snprintf(errmsg, errmsg_len, "%s has no valid crc32c metadata", path);
        rc = FG_ERR_FORMAT;
        goto done;
    }
    if (!(fp = fopen(path, "rb"))) {
        char what[4200];
        snprintf(what, sizeof what, "cannot open %s", path);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        rc = FG_ERR_IO;
        goto done;
    }
    for (int id = 0; id < FG_MODEL_N_TENSORS && !rc; id++) {
        void *dst = model->w16 ? (void *)(model->w16 + model->offset[id])
                               : (void *)(model->params + model->offset[id]);
        rc = read_tensor(fp, f, crcs, path, fg_model_tensor_name(id),
                         model->w16 ? FG_DTYPE_BF16 : FG_DTYPE_F32, dst, model->numel[id], 1,
                         errmsg, errmsg_len);
    }
    for (size_t k = 0; k < n_extra && !rc; k++)
        rc = read_tensor(fp, f, crcs, path, x[k].name, x[k].dtype, x[k].data, x[k].n, 0, errmsg,
                         errmsg_len);
    if (rc || !st)
        goto done;
    memset(st, 0, sizeof *st);
    const char *step = fg_st_meta(f, "step"), *rng = fg_st_meta(f, "rng");
    const char *loader = fg_st_meta(f, "loader"), *fpr = fg_st_meta(f, "data_fingerprint");
    int ok = step && rng && loader && fpr && strlen(rng) == 64;
    if (ok) {
        char *end;
        st->step = strtoll(step, &end, 10);
        ok = *end == '\0' && st->step >= 0;
        for (int i = 0; i < 4 && ok; i++) {
            char word[17];
            memcpy(word, rng + 16 * i, 16);
            word[16] = '\0';
            st->rng[i] = strtoull(word, &end, 16);
            ok = *end == '\0';
        }
        cJSON *j = cJSON_Parse(loader);
        const cJSON *nb = j ? cJSON_GetObjectItemCaseSensitive(j, "batches") : NULL;
        ok = ok && cJSON_IsNumber(nb) && nb->valuedouble >= 0;
        if (ok)
            st->n_batches = (uint64_t)nb->valuedouble;
        cJSON_Delete(j);
        unsigned long long tok = 0;
        unsigned int crc = 0;
        ok = ok && sscanf(fpr, "%8x:%llu", &crc, &tok) == 2;
        st->data_crc = crc;
        st->data_tokens = tok;
    }
    if (!ok) {
        snprintf(errmsg, errmsg_len,
                 "%s: training state metadata (step, rng, loader, "
                 "data_fingerprint) is missing or malformed",
                 path);
        rc = FG_ERR_FORMAT;
    }
    const char *gn = fg_st_meta(f, "grad_norm");
    st->grad_norm = gn ? strtod(gn, NULL) : (double)NAN;
    const char *tj = fg_st_meta(f, "train");
    if (!rc && tj)
        snprintf(st->train_json, sizeof st->train_json, "%s", tj);
done:
    if (fp)
        fclose(fp);
    cJSON_Delete(crcs);
    fg_st_free(f);
    return rc;
}

fg_status fg_ckpt_export(const char *ckpt_path, const char *out_path, enum fg_dtype dtype,
                         char *errmsg, size_t errmsg_len)
{
    if (dtype != FG_DTYPE_F32 && dtype != FG_DTYPE_BF16) {
        snprintf(errmsg, errmsg_len, "export writes F32 or BF16 weights, not %s",
                 fg_dtype_name(dtype));
        return FG_ERR_INVALID_ARG;
    }
    struct fg_model_params mp = fg_model_params_default();
    FG_TRY(fg_ckpt_read_config(ckpt_path, &mp.cfg, errmsg, errmsg_len));
    struct fg_st_file *hdr = NULL;
    FG_TRY(fg_st_load_header(ckpt_path, NULL, &hdr, errmsg, errmsg_len));
    const struct fg_st_tensor *rt = fg_st_find(hdr, "optim.rho");
    const struct fg_st_tensor *wt = fg_st_find(hdr, "wte");
    int bits = rt ? (rt->dtype == FG_DTYPE_I16 ? 16 : 8) : 0;
    int flash = rt != NULL;
    enum fg_dtype rho_dtype = rt ? rt->dtype : FG_DTYPE_I8;
    char step[32];
    const char *sv = fg_st_meta(hdr, "step");
    snprintf(step, sizeof step, "%s", sv ? sv : "0");
    int weights_bf16 = wt && wt->dtype == FG_DTYPE_BF16;
    fg_st_free(hdr);
    if (flash && (!weights_bf16 || (rho_dtype != FG_DTYPE_I8 && rho_dtype != FG_DTYPE_I16))) {
        snprintf(errmsg, errmsg_len,
                 "%s has a master correction (optim.rho) of type %s next to %s weights: not a "
                 "checkpoint frugal wrote",
                 ckpt_path, fg_dtype_name(rho_dtype), weights_bf16 ? "BF16" : "F32");
        return FG_ERR_FORMAT;
    }
    /* the model in the storage of the output's source: bf16 weights for a flash checkpoint
     * (joined below), fp32 otherwise */
    mp.B = 1;
    mp.T = 1;
    mp.training = 0;
    mp.weights = flash ? FG_MODEL_WEIGHTS_BF16 : FG_MODEL_WEIGHTS_FP32;
    struct fg_model *m = NULL;
    fg_status rc = fg_model_init(&m, &mp);
    if (rc) {
        snprintf(errmsg, errmsg_len, "out of memory for the model of %s", ckpt_path);
        return rc;
    }
    size_t nf = m->n_flat;
    void *rho = NULL, *out = NULL;
    if (flash) {
        rho = fg_alloc(&m->alloc, nf * (size_t)(bits / 8), 64);
        if (!rho) {
            rc = FG_ERR_NOMEM;
            snprintf(errmsg, errmsg_len, "out of memory for the master correction of %s",
                     ckpt_path);
            goto done;
        }
    }
    struct fg_ckpt_extra x = { "optim.rho", rho_dtype, nf, rho };
    if ((rc = fg_ckpt_load_ex(ckpt_path, m, &x, flash ? 1 : 0, NULL, errmsg, errmsg_len)) != FG_OK)
        goto done;
    /* the output's elements: fp32 (joined, or the fp32 weights) or bf16 */
    int need_f32 = dtype == FG_DTYPE_F32;
    if (flash == need_f32) { /* a join (flash to F32) or a rounding (fp32 to BF16) */
        out = fg_alloc(&m->alloc, nf * (need_f32 ? 4 : 2), 64);
        if (!out) {
            rc = FG_ERR_NOMEM;
            snprintf(errmsg, errmsg_len, "out of memory for the exported weights");
            goto done;
        }
        if (flash)
            fg_flash_join_n(m->w16, rho, nf, bits, out);
        else
            fg_fp32_to_bf16_ref(out, m->params, nf);
    }
    const void *base = out ? out : flash ? (const void *)m->w16 : (const void *)m->params;
    size_t esz = need_f32 ? 4 : 2;
    struct fg_st_tensor t[FG_MODEL_N_TENSORS];
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        memset(&t[id], 0, sizeof t[id]);
        t[id].name = fg_model_tensor_name(id);
        t[id].dtype = dtype;
        fg_model_tensor_numel(&m->cfg, id, &t[id].ndim, t[id].shape);
        t[id].data = (const char *)base + m->offset[id] * esz;
        t[id].nbytes = m->numel[id] * esz;
    }
    char cfg[256];
    const struct fg_model_config *c = &m->cfg;
    snprintf(cfg, sizeof cfg,
             "{\"n_layer\":%d,\"n_head\":%d,\"n_embd\":%d,\"block_size\":%d,\"vocab_size\":%d}",
             c->n_layer, c->n_head, c->n_embd, c->block_size, c->vocab_size);
    struct fg_st_kv meta[] = {
        { "format", "frugal-weights" },
        { "config", cfg },
        { "step", step },
    };
    rc = fg_st_write(out_path, t, FG_MODEL_N_TENSORS, meta, sizeof meta / sizeof meta[0], 0, errmsg,
                     errmsg_len);
done:
    if (m) {
        fg_free(&m->alloc, rho);
        fg_free(&m->alloc, out);
    }
    fg_model_free(m);
    return rc;
}
