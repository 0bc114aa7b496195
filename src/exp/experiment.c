/* Experiment files: JSON into struct fg_experiment, every field checked, every mistake named
 * with the fix (the layout: docs/formats.md, "Experiment files"). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frugal/exp.h"

struct pctx {
    struct fg_experiment *e;
    const char *base;
    char *err;
    size_t n;
};

__attribute__((format(printf, 3, 4))) static fg_status fail(struct pctx *c, fg_status st,
                                                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->n, fmt, ap);
    va_end(ap);
    return st;
}

/* keys of obj must all be in the NULL-terminated list known */
static fg_status known_keys(struct pctx *c, const cJSON *obj, const char *where,
                            const char *const *known)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = !strcmp(it->string, *k);
        if (!ok) {
            char list[256] = "";
            for (const char *const *k = known; *k; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         k == known ? "" : ", ", *k);
            return fail(c, FG_ERR_INVALID_ARG, "%s: unknown key \"%.64s\" (known: %s)", where,
                        it->string, list);
        }
    }
    return FG_OK;
}

static int good_name(const char *s)
{
    if (!s[0] || strlen(s) >= FG_EXP_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    return 1;
}

/* flags that frugal compare sets for every run itself */
static const char *const reserved[] = { "--data",   "--val",        "--seed",    "--metrics",
                                        "--json",   "--quiet",      "--steps",   "--time-budget",
                                        "--resume", "--ckpt-dir",   "--stop-at", "--eval-every",
                                        "--check",  "--ckpt-every", "--keep",    NULL };

/* split text at white space into args (copied into e->strings) */
static fg_status split_flags(struct pctx *c, const char *text, const char *where, char **args,
                             int *n_args)
{
    struct fg_experiment *e = c->e;
    *n_args = 0;
    const char *p = text;
    while (*p) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && !isspace((unsigned char)*q))
            q++;
        size_t len = (size_t)(q - p);
        if (*n_args >= FG_EXP_MAX_ARGS || e->used + len + 1 > sizeof e->strings)
            return fail(c, FG_ERR_INVALID_ARG, "%s: too many flags (at most %d words)", where,
                        FG_EXP_MAX_ARGS);
        char *dst = e->strings + e->used;
        memcpy(dst, p, len);
        dst[len] = '\0';
        e->used += len + 1;
        for (const char *const *r = reserved; *r; r++)
            if (!strcmp(dst, *r))
                return fail(c, FG_ERR_INVALID_ARG,
                            "%s: %s is set by frugal compare for every run (data, seed, budget, "
                            "outputs): remove it",
                            where, dst);
        args[(*n_args)++] = dst;
        p = q;
    }
    return FG_OK;
}

static fg_status path_of(struct pctx *c, const cJSON *v, const char *where, char *out)
{
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return fail(c, FG_ERR_INVALID_ARG, "%s must be a non-empty string (a file path)", where);
    int rel = v->valuestring[0] != '/' && c->base && c->base[0];
    int len = snprintf(out, FG_EXP_PATH_MAX, "%s%s%s", rel ? c->base : "", rel ? "/" : "",
                       v->valuestring);
    if (len < 0 || len >= FG_EXP_PATH_MAX)
        return fail(c, FG_ERR_INVALID_ARG, "%s: path too long", where);
    return FG_OK;
}

/* a number in [lo, hi] (lo_open: > lo) */
static fg_status number(struct pctx *c, const cJSON *v, const char *where, double lo, int lo_open,
                        double hi, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble > hi ||
        (lo_open ? !(v->valuedouble > lo) : !(v->valuedouble >= lo)))
        return fail(c, FG_ERR_INVALID_ARG, "%s must be a number %s %g and at most %g", where,
                    lo_open ? "above" : "of at least", lo, hi);
    *out = v->valuedouble;
    return FG_OK;
}

static fg_status integer(struct pctx *c, const cJSON *v, const char *where, double lo, double hi,
                         int64_t *out)
{
    double x = 0.0;
    FG_TRY(number(c, v, where, lo, 0, hi, &x));
    if (x != floor(x))
        return fail(c, FG_ERR_INVALID_ARG, "%s must be a whole number, not %g", where, x);
    *out = (int64_t)x;
    return FG_OK;
}

static fg_status parse_data(struct pctx *c, const cJSON *d)
{
    static const char *const keys[] = { "train", "val", "corpus", "vocab_size", NULL };
    struct fg_experiment *e = c->e;
    if (!cJSON_IsObject(d))
        return fail(c, FG_ERR_INVALID_ARG,
                    "\"data\" is missing: give {\"train\": SHARD, \"val\": SHARD} or "
                    "{\"corpus\": [TEXT FILES]}");
    FG_TRY(known_keys(c, d, "data", keys));
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(d, "train");
    const cJSON *va = cJSON_GetObjectItemCaseSensitive(d, "val");
    const cJSON *co = cJSON_GetObjectItemCaseSensitive(d, "corpus");
    if ((tr || va) == (co != NULL) || (!co && !(tr && va)))
        return fail(c, FG_ERR_INVALID_ARG,
                    "data: give both \"train\" and \"val\" token shards, or a \"corpus\" of text "
                    "files, not both");
    if (co) {
        const cJSON *f;
        if (!cJSON_IsArray(co) || cJSON_GetArraySize(co) < 1 ||
            cJSON_GetArraySize(co) > FG_EXP_MAX_CORPUS)
            return fail(c, FG_ERR_INVALID_ARG, "data.corpus must list 1 to %d text files",
                        FG_EXP_MAX_CORPUS);
        cJSON_ArrayForEach(f, co) FG_TRY(path_of(c, f, "data.corpus[]", e->corpus[e->n_corpus++]));
        const cJSON *vs = cJSON_GetObjectItemCaseSensitive(d, "vocab_size");
        int64_t vocab = 256;
        if (vs)
            FG_TRY(integer(c, vs, "data.vocab_size", 256, 1 << 20, &vocab));
        e->corpus_vocab = (int)vocab;
        return FG_OK;
    }
    if (cJSON_GetObjectItemCaseSensitive(d, "vocab_size"))
        return fail(c, FG_ERR_INVALID_ARG,
                    "data.vocab_size goes with a \"corpus\" (shards already have their tokens)");
    FG_TRY(path_of(c, tr, "data.train", e->train));
    return path_of(c, va, "data.val", e->val);
}

static fg_status parse_variants(struct pctx *c, const cJSON *vs, const cJSON *base)
{
    struct fg_experiment *e = c->e;
    static const char *const keys[] = { "name", "flags", NULL };
    if (!cJSON_IsArray(vs) || cJSON_GetArraySize(vs) < 2 ||
        cJSON_GetArraySize(vs) > FG_EXP_MAX_VARIANTS)
        return fail(c, FG_ERR_INVALID_ARG,
                    "\"variants\" must list 2 to %d {\"name\": ..., \"flags\": \"...\"} objects "
                    "(the baseline among them)",
                    FG_EXP_MAX_VARIANTS);
    const cJSON *v;
    cJSON_ArrayForEach(v, vs)
    {
        int i = e->n_variants;
        char where[96];
        snprintf(where, sizeof where, "variants[%d]", i);
        if (!cJSON_IsObject(v))
            return fail(c, FG_ERR_INVALID_ARG, "%s must be an object", where);
        FG_TRY(known_keys(c, v, where, keys));
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(v, "name");
        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(v, "flags");
        if (!cJSON_IsString(nm) || !good_name(nm->valuestring))
            return fail(c, FG_ERR_INVALID_ARG,
                        "%s.name must be 1 to %d letters, digits, '-', '_' or '.' (it names "
                        "files)",
                        where, FG_EXP_NAME_MAX - 1);
        for (int k = 0; k < i; k++)
            if (!strcmp(e->v[k].name, nm->valuestring))
                return fail(c, FG_ERR_INVALID_ARG, "%s: the name \"%s\" is used twice", where,
                            nm->valuestring);
        snprintf(e->v[i].name, sizeof e->v[i].name, "%s", nm->valuestring);
        if (fl && !cJSON_IsString(fl))
            return fail(c, FG_ERR_INVALID_ARG, "%s.flags must be a string of train flags", where);
        snprintf(where, sizeof where, "variants[%d] (%s).flags", i, e->v[i].name);
        FG_TRY(split_flags(c, fl ? fl->valuestring : "", where, e->v[i].args, &e->v[i].n_args));
        e->n_variants++;
    }
    e->baseline = 0;
    if (base) {
        if (!cJSON_IsString(base))
            return fail(c, FG_ERR_INVALID_ARG, "\"baseline\" must be a variant's name");
        e->baseline = -1;
        for (int k = 0; k < e->n_variants; k++)
            if (!strcmp(e->v[k].name, base->valuestring))
                e->baseline = k;
        if (e->baseline < 0) {
            char list[512] = "";
            for (int k = 0; k < e->n_variants; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                         e->v[k].name);
            return fail(c, FG_ERR_INVALID_ARG, "baseline \"%.64s\" is not one of the variants (%s)",
                        base->valuestring, list);
        }
    }
    return FG_OK;
}

static fg_status parse_guards(struct pctx *c, const cJSON *g)
{
    static const char *const keys[] = { "spike", "max_rss_mib", "checkpoint", NULL };
    static const char *const skeys[] = { "factor", "steps", NULL };
    static const char *const ckeys[] = { "at", "min_cost_reduction", "max_loss_increase", NULL };
    struct fg_experiment *e = c->e;
    if (!g)
        return FG_OK;
    if (!cJSON_IsObject(g))
        return fail(c, FG_ERR_INVALID_ARG, "\"guards\" must be an object");
    FG_TRY(known_keys(c, g, "guards", keys));
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(g, "spike");
    if (sp) {
        int64_t steps = 0;
        if (!cJSON_IsObject(sp))
            return fail(c, FG_ERR_INVALID_ARG,
                        "guards.spike must be {\"factor\": F, \"steps\": N}");
        FG_TRY(known_keys(c, sp, "guards.spike", skeys));
        FG_TRY(number(c, cJSON_GetObjectItemCaseSensitive(sp, "factor"), "guards.spike.factor", 1.0,
                      1, 1e6, &e->spike_factor));
        FG_TRY(integer(c, cJSON_GetObjectItemCaseSensitive(sp, "steps"), "guards.spike.steps", 1,
                       1e9, &steps));
        e->spike_steps = (int)steps;
    }
    const cJSON *mr = cJSON_GetObjectItemCaseSensitive(g, "max_rss_mib");
    if (mr)
        FG_TRY(number(c, mr, "guards.max_rss_mib", 0.0, 1, 1e12, &e->max_rss_mib));
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(g, "checkpoint");
    if (ck) {
        if (!cJSON_IsObject(ck))
            return fail(c, FG_ERR_INVALID_ARG,
                        "guards.checkpoint must be {\"at\": FRACTION, \"min_cost_reduction\": ..., "
                        "\"max_loss_increase\": ...}");
        FG_TRY(known_keys(c, ck, "guards.checkpoint", ckeys));
        FG_TRY(number(c, cJSON_GetObjectItemCaseSensitive(ck, "at"), "guards.checkpoint.at", 0.0, 1,
                      1.0, &e->check_at));
        const cJSON *mc = cJSON_GetObjectItemCaseSensitive(ck, "min_cost_reduction");
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(ck, "max_loss_increase");
        if (!mc && !ml)
            return fail(c, FG_ERR_INVALID_ARG,
                        "guards.checkpoint needs min_cost_reduction, max_loss_increase or both");
        if (mc) {
            FG_TRY(number(c, mc, "guards.checkpoint.min_cost_reduction", -1e6, 0, 1.0,
                          &e->check_min_cost_reduction));
            e->check_cost = 1;
        }
        if (ml) {
            FG_TRY(number(c, ml, "guards.checkpoint.max_loss_increase", 0.0, 0, 1e6,
                          &e->check_max_loss_increase));
            e->check_loss = 1;
        }
    }
    return FG_OK;
}

static fg_status parse_root(struct pctx *c, const cJSON *root)
{
    static const char *const keys[] = { "name",     "description", "data",  "common",
                                        "variants", "baseline",    "seeds", "budget",
                                        "quality",  "guards",      NULL };
    static const char *const bkeys[] = { "steps", "tokens", "seconds", NULL };
    static const char *const qkeys[] = { "margin", "alpha", NULL };
    struct fg_experiment *e = c->e;
    if (!cJSON_IsObject(root))
        return fail(c, FG_ERR_INVALID_ARG, "an experiment file holds one JSON object");
    FG_TRY(known_keys(c, root, "experiment", keys));
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(nm) || !good_name(nm->valuestring))
        return fail(c, FG_ERR_INVALID_ARG,
                    "\"name\" must be 1 to %d letters, digits, '-', '_' or '.'",
                    FG_EXP_NAME_MAX - 1);
    snprintf(e->name, sizeof e->name, "%s", nm->valuestring);
    FG_TRY(parse_data(c, cJSON_GetObjectItemCaseSensitive(root, "data")));
    const cJSON *co = cJSON_GetObjectItemCaseSensitive(root, "common");
    if (co && !cJSON_IsString(co))
        return fail(c, FG_ERR_INVALID_ARG, "\"common\" must be a string of train flags");
    FG_TRY(split_flags(c, co ? co->valuestring : "", "common", e->common, &e->n_common));
    FG_TRY(parse_variants(c, cJSON_GetObjectItemCaseSensitive(root, "variants"),
                          cJSON_GetObjectItemCaseSensitive(root, "baseline")));
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(root, "seeds"), *s;
    if (!cJSON_IsArray(sd) || cJSON_GetArraySize(sd) < 1 ||
        cJSON_GetArraySize(sd) > FG_EXP_MAX_SEEDS)
        return fail(c, FG_ERR_INVALID_ARG, "\"seeds\" must list 1 to %d seeds, e.g. [1, 2, 3]",
                    FG_EXP_MAX_SEEDS);
    cJSON_ArrayForEach(s, sd)
    {
        int64_t v;
        FG_TRY(integer(c, s, "seeds[]", 0, 9007199254740992.0, &v));
        for (int k = 0; k < e->n_seeds; k++)
            if (e->seeds[k] == (uint64_t)v)
                return fail(c, FG_ERR_INVALID_ARG, "seed %lld is listed twice", (long long)v);
        e->seeds[e->n_seeds++] = (uint64_t)v;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "budget");
    if (!cJSON_IsObject(b))
        return fail(c, FG_ERR_INVALID_ARG,
                    "\"budget\" is missing: {\"steps\": N} or {\"tokens\": N}, optionally with "
                    "\"seconds\"");
    FG_TRY(known_keys(c, b, "budget", bkeys));
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(b, "steps");
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(b, "tokens");
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(b, "seconds");
    if ((bs != NULL) == (bt != NULL))
        return fail(c, FG_ERR_INVALID_ARG,
                    "budget: give \"steps\" or \"tokens\" (one of them), optionally with "
                    "\"seconds\"");
    if (bs)
        FG_TRY(integer(c, bs, "budget.steps", 1, 1e12, &e->steps));
    if (bt)
        FG_TRY(integer(c, bt, "budget.tokens", 1, 1e18, &e->tokens));
    if (bw)
        FG_TRY(number(c, bw, "budget.seconds", 0.0, 1, 1e9, &e->seconds));
    e->margin = 0.01;
    e->alpha = 0.05;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "quality");
    if (q) {
        if (!cJSON_IsObject(q))
            return fail(c, FG_ERR_INVALID_ARG,
                        "\"quality\" must be {\"margin\": ..., \"alpha\": ...}");
        FG_TRY(known_keys(c, q, "quality", qkeys));
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(q, "margin");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(q, "alpha");
        if (m)
            FG_TRY(number(c, m, "quality.margin", 0.0, 1, 1.0, &e->margin));
        if (a) {
            FG_TRY(number(c, a, "quality.alpha", 0.0, 1, 0.5, &e->alpha));
        }
    }
    return parse_guards(c, cJSON_GetObjectItemCaseSensitive(root, "guards"));
}

fg_status fg_experiment_parse(const char *text, size_t len, const char *base_dir,
                              struct fg_experiment *out, char *errmsg, size_t errmsg_len)
{
    memset(out, 0, sizeof *out);
    struct pctx c = { out, base_dir, errmsg, errmsg_len };
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (root && end) { /* only white space may follow the value */
        while (end < text + len && isspace((unsigned char)*end))
            end++;
        if (end != text + len) {
            cJSON_Delete(root);
            root = NULL;
        }
    }
    if (!root) {
        size_t pos = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos; i++) {
            col = text[i] == '\n' ? 1 : col + 1;
            line += text[i] == '\n';
        }
        return fail(&c, FG_ERR_FORMAT, "%zu:%zu: not valid JSON%s", line, col,
                    pos + 1 >= len ? " (the file ends here: truncated?)" : "");
    }
    fg_status st = parse_root(&c, root);
    cJSON_Delete(root);
    return st;
}
