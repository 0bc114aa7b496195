/* Training-loop tests: it learns, same seed => same bits, 1 thread == 2 threads, exact
 * resume (2N straight == N + resume + N), checkpoint fault injection, CRC detection, and no
 * allocation inside the step loop. Data: the first 64 KiB of the bundled Austen corpus. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frugal/kernels.h"
#include "frugal/numerics.h"
#include "frugal/train.h"
#include "test.h"

#define CORPUS    "data/austen/emma.txt"
#define MAX_STEPS 64

static char g_dir[256];

static int make_data(void)
{
    if (g_dir[0])
        return 1;
    snprintf(g_dir, sizeof g_dir, "/tmp/frugal_test_train_XXXXXX");
    if (!mkdtemp(g_dir))
        return 0;
    void *buf;
    size_t len;
    char err[512], path[512];
    if (fg_read_file(NULL, CORPUS, &buf, &len, err, sizeof err) != FG_OK)
        return 0;
    size_t n = len < 65536 ? len : 65536, nv = 8192;
    uint16_t *tok = malloc(n * sizeof *tok);
    for (size_t i = 0; i < n; i++)
        tok[i] = ((unsigned char *)buf)[i];
    snprintf(path, sizeof path, "%s/train.bin", g_dir);
    int ok = fg_shard_write(path, tok, n - nv, err, sizeof err) == FG_OK;
    snprintf(path, sizeof path, "%s/val.bin", g_dir);
    ok = ok && fg_shard_write(path, tok + n - nv, nv, err, sizeof err) == FG_OK;
    free(tok);
    fg_free(NULL, buf);
    return ok;
}

static char g_train[300], g_val[300];

struct losses {
    double loss[MAX_STEPS + 1];
};

static void record(void *user, const struct fg_train_progress *p)
{
    struct losses *l = user;
    if (p->step <= MAX_STEPS)
        l->loss[p->step] = p->loss;
}

static struct fg_train_params tiny_params(const char *ckpt_dir, struct losses *l)
{
    struct fg_train_params p = fg_train_params_default();
    p.cfg.n_layer = 2;
    p.cfg.n_head = 2;
    p.cfg.n_embd = 32;
    p.cfg.block_size = 32;
    p.cfg.vocab_size = 256;
    p.B = 4;
    p.T = 32;
    p.accum = 2;
    p.steps = 8;
    p.warmup = 2;
    p.lr = 3e-3f;
    p.eval_every = 4;
    p.eval_batches = 2;
    p.n_threads = 2;
    snprintf(g_train, sizeof g_train, "%s/train.bin", g_dir);
    snprintf(g_val, sizeof g_val, "%s/val.bin", g_dir);
    p.train_path = g_train;
    p.val_path = g_val;
    p.ckpt_dir = ckpt_dir;
    p.on_progress = record;
    p.user = l;
    return p;
}

static void subdir(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
    (void)mkdir(out, 0755);
}

/* compare every tensor's bytes of two checkpoints (metadata may differ) */
static int same_tensors(struct fg_test *t, const char *a, const char *b)
{
    struct fg_st_file *fa = NULL, *fb = NULL;
    char err[512];
    int same = 0;
    if (fg_st_load(a, NULL, &fa, err, sizeof err) || fg_st_load(b, NULL, &fb, err, sizeof err)) {
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        goto done;
    }
    same = fa->n_tensors == fb->n_tensors;
    for (size_t i = 0; same && i < fa->n_tensors; i++) {
        const struct fg_st_tensor *x = &fa->tensors[i], *y = fg_st_find(fb, x->name);
        same = y && x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0;
        if (!same)
            fg_test_fail(t, __FILE__, __LINE__, "tensor %s differs between %s and %s", x->name, a,
                         b);
    }
    same = same && !strcmp(fg_st_meta(fa, "step"), fg_st_meta(fb, "step")) &&
           !strcmp(fg_st_meta(fa, "rng"), fg_st_meta(fb, "rng"));
done:
    fg_st_free(fa);
    fg_st_free(fb);
    return same;
}

/* 8 steps straight vs 4 + resume + 4, from the same settings (base: its ckpt_dir, progress
 * callback, stop_at and resume_path are set here), in $g_dir/<tag>_straight and _resumed: the
 * losses of every step and the step-8 checkpoints must be equal. x keeps the paths, the losses
 * and the resumed run's settings (resume_path = the step-4 checkpoint) for further checks. */
struct resumed_run {
    char dir_a[400], dir_b[400], mid[500], ckpt_a[500], ckpt_b[500];
    struct losses la, lb;
    struct fg_train_params pc;
};

static void straight_vs_resumed(struct fg_test *t, const char *tag,
                                const struct fg_train_params *base, struct resumed_run *x)
{
    char name[64];
    snprintf(name, sizeof name, "%s_straight", tag);
    subdir(x->dir_a, sizeof x->dir_a, name);
    snprintf(name, sizeof name, "%s_resumed", tag);
    subdir(x->dir_b, sizeof x->dir_b, name);
    memset(&x->la, 0, sizeof x->la);
    memset(&x->lb, 0, sizeof x->lb);
    struct fg_train_params pa = *base, pb = *base;
    pa.ckpt_dir = x->dir_a;
    pb.ckpt_dir = x->dir_b;
    pa.on_progress = pb.on_progress = record;
    pa.user = &x->la;
    pb.user = &x->lb;
    pa.steps = pb.steps = 8;
    pa.stop_at = pb.stop_at = 0;
    pa.resume_path = pb.resume_path = NULL;
    struct fg_train_result r;
    char err[1024];
    CHECK_OK(t, fg_train(&pa, &r, err, sizeof err));
    pb.stop_at = 4;
    CHECK_OK(t, fg_train(&pb, &r, err, sizeof err));
    CHECK_EQ_I64(t, r.steps_done, 4);
    snprintf(x->mid, sizeof x->mid, "%s/ckpt_00000004.safetensors", x->dir_b);
    x->pc = pb;
    x->pc.stop_at = 0;
    x->pc.resume_path = x->mid;
    CHECK_OK(t, fg_train(&x->pc, &r, err, sizeof err));
    if (r.steps_done != 4)
        fg_test_fail(t, __FILE__, __LINE__, "%s: the resumed run did %lld steps: %s", tag,
                     (long long)r.steps_done, err);
    CHECK(t, memcmp(x->la.loss, x->lb.loss, sizeof x->la.loss) == 0);
    snprintf(x->ckpt_a, sizeof x->ckpt_a, "%s/ckpt_00000008.safetensors", x->dir_a);
    snprintf(x->ckpt_b, sizeof x->ckpt_b, "%s/ckpt_00000008.safetensors", x->dir_b);
    CHECK(t, same_tensors(t, x->ckpt_a, x->ckpt_b));
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

TEST(it_learns)
{
    CHECK(t, make_data());
    struct losses l;
    memset(&l, 0, sizeof l);
    struct fg_train_params p = tiny_params(NULL, &l);
    p.steps = 40;
    p.eval_every = 0;
    struct fg_train_result r;
    char err[1024];
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    /* from ln 256 = 5.55 nats/byte; 40 steps of 256 tokens reach about 3 on English text */
    CHECK(t, l.loss[1] > 5.0 && l.loss[1] < 6.0);
    CHECK(t, r.final_val_loss < 3.6);
    CHECK_EQ_I64(t, r.steps_done, 40);
    CHECK_EQ_I64(t, r.tokens, 40 * 4 * 32 * 2);
}

/* --dtype bf16: the products on bf16 operands. It learns as fp32 does (the same data and
 * seed end within 2% of fp32's validation loss after 20 steps, not at the same bits), records
 * the dtype in
 * its checkpoints, and resumes to the bits of a straight run, on fp32 and flash storage. */
TEST(bf16_products_learn_like_fp32_and_resume_exactly)
{
    CHECK(t, make_data());
    struct losses l32, l16;
    memset(&l32, 0, sizeof l32);
    memset(&l16, 0, sizeof l16);
    struct fg_train_params p = tiny_params(NULL, &l32), q = tiny_params(NULL, &l16);
    p.steps = q.steps = 20; /* short: valgrind runs the portable bf16 kernel, slowly */
    p.eval_every = q.eval_every = 0;
    q.matmul = FG_MODEL_MATMUL_BF16;
    struct fg_train_result r32, r16;
    char err[1024];
    CHECK_OK(t, fg_train(&p, &r32, err, sizeof err));
    CHECK_OK(t, fg_train(&q, &r16, err, sizeof err));
    CHECK(t, r16.final_val_loss < 4.3); /* from 5.55 (ln 256) */
    CHECK(t, fabs(r16.final_val_loss - r32.final_val_loss) < 0.02 * r32.final_val_loss);
    CHECK(t, l16.loss[1] != l32.loss[1] || l16.loss[2] != l32.loss[2]); /* bf16 did run */

    static const struct {
        const char *tag;
        enum fg_train_storage storage;
    } cases[] = { { "bf16mm", FG_TRAIN_STORAGE_FP32 }, { "bf16mm_flash", FG_TRAIN_STORAGE_FLASH } };

    for (size_t c = 0; c < 2 && !t->failed; c++) {
        struct losses l;
        struct fg_train_params pb = tiny_params(NULL, &l);
        pb.matmul = FG_MODEL_MATMUL_BF16;
        pb.storage = cases[c].storage;
        struct resumed_run x;
        straight_vs_resumed(t, cases[c].tag, &pb, &x);
        char js[1024];
        CHECK_OK(t, fg_ckpt_read_meta(x.mid, "train", js, sizeof js, err, sizeof err));
        CHECK(t, strstr(js, "\"dtype\":\"bf16\"") != NULL);
    }
    /* bf16 products with the MX emulation: refused, naming both */
    struct fg_train_params bad = tiny_params(NULL, &l16);
    bad.matmul = FG_MODEL_MATMUL_BF16;
    bad.mx.weights = FG_MX_FORMAT_E4M3;
    CHECK(t, fg_train(&bad, &r16, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "--dtype bf16") && strstr(err, "MX"));
}

/* --attention tiled: the same function as standard attention summed in another order, so the
 * same data and seed end within 0.5% of standard's validation loss after 20 steps; the kernel
 * is recorded in
 * checkpoints and a run resumes to the bits of a straight one. */
TEST(tiled_attention_learns_like_standard_and_resumes_exactly)
{
    CHECK(t, make_data());
    struct losses ls, lt;
    memset(&ls, 0, sizeof ls);
    memset(&lt, 0, sizeof lt);
    struct fg_train_params p = tiny_params(NULL, &ls), q = tiny_params(NULL, &lt);
    p.steps = q.steps = 20;
    p.eval_every = q.eval_every = 0;
    q.attention = FG_MODEL_ATTN_TILED;
    struct fg_train_result rs, rt;
    char err[1024];
    CHECK_OK(t, fg_train(&p, &rs, err, sizeof err));
    CHECK_OK(t, fg_train(&q, &rt, err, sizeof err));
    CHECK(t, rt.final_val_loss < 4.3);
    CHECK(t, fabs(rt.final_val_loss - rs.final_val_loss) < 0.005 * rs.final_val_loss);
    CHECK(t, rt.mem.act_bytes < rs.mem.act_bytes);
    struct losses l;
    struct fg_train_params pb = tiny_params(NULL, &l);
    pb.attention = FG_MODEL_ATTN_TILED;
    struct resumed_run x;
    straight_vs_resumed(t, "tiled", &pb, &x);
    char js[1024];
    CHECK_OK(t, fg_ckpt_read_meta(x.mid, "train", js, sizeof js, err, sizeof err));
    CHECK(t, strstr(js, "\"attention\":\"tiled\"") != NULL);
}

/* --recompute: the gradients are the same bits, so a run with block recomputation ends at
 * the checkpoint of a run without, and a run resumed with another setting (none for 4 steps,
 * then attn) too; the ledger counts the extra FLOPs as hardware FLOPs only. */
TEST(recompute_trains_the_same_bits)
{
    CHECK(t, make_data());
    char d0[300], d1[300], d2[300], c0[400], c1[400], c2[400], mid[400];
    subdir(d0, sizeof d0, "rc_none");
    subdir(d1, sizeof d1, "rc_block");
    subdir(d2, sizeof d2, "rc_switch");
    struct losses l0, l1, l2;
    memset(&l0, 0, sizeof l0);
    memset(&l1, 0, sizeof l1);
    memset(&l2, 0, sizeof l2);
    struct fg_train_params p0 = tiny_params(d0, &l0), p1 = tiny_params(d1, &l1);
    struct fg_train_params p2 = tiny_params(d2, &l2);
    p0.cfg.n_layer = p1.cfg.n_layer = p2.cfg.n_layer = 3;
    p1.recompute = FG_MODEL_RECOMPUTE_BLOCK;
    p2.stop_at = 4;
    struct fg_train_result r0, r1, r2;
    char err[1024];
    CHECK_OK(t, fg_train(&p0, &r0, err, sizeof err));
    CHECK_OK(t, fg_train(&p1, &r1, err, sizeof err));
    CHECK(t, memcmp(l0.loss, l1.loss, sizeof l0.loss) == 0);
    snprintf(c0, sizeof c0, "%s/ckpt_00000008.safetensors", d0);
    snprintf(c1, sizeof c1, "%s/ckpt_00000008.safetensors", d1);
    CHECK(t, same_tensors(t, c0, c1));
    CHECK(t, r1.mem.act_bytes < r0.mem.act_bytes);
    CHECK(t, r0.hw_flops_per_token == r0.flops_per_token);
    CHECK(t, r1.flops_per_token == r0.flops_per_token);
    CHECK(t, r1.hw_flops_per_token ==
                 r1.flops_per_token +
                     fg_model_recompute_flops_per_token(&p1.cfg, p1.T, FG_MODEL_RECOMPUTE_BLOCK));
    CHECK_OK(t, fg_train(&p2, &r2, err, sizeof err));
    snprintf(mid, sizeof mid, "%s/ckpt_00000004.safetensors", d2);
    p2.stop_at = 0;
    p2.resume_path = mid;
    p2.recompute = FG_MODEL_RECOMPUTE_ATTN;
    CHECK_OK(t, fg_train(&p2, &r2, err, sizeof err));
    CHECK(t, memcmp(l0.loss, l2.loss, sizeof l0.loss) == 0);
    snprintf(c2, sizeof c2, "%s/ckpt_00000008.safetensors", d2);
    CHECK(t, same_tensors(t, c0, c2));
    /* an unknown setting is refused, naming the choices */
    p2.recompute = 7;
    p2.resume_path = NULL;
    CHECK(t, fg_train(&p2, &r2, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "none, attn or block") != NULL);
}

/* The ledger: FLOPs per step from the analytic count, MFU and dollars from them and the
 * measured times, gradient-norm statistics from the steps' norms, the metrics lines' fields;
 * injected faults: a NaN gradient stops the run as a real divergence does (one non-finite
 * event), a loss spike is flagged and kept out of the moving average. */
struct ledger_log {
    double norm[MAX_STEPS + 1], loss[MAX_STEPS + 1], ma[MAX_STEPS + 1];
    int spike[MAX_STEPS + 1];
    int64_t n;
};

static void ledger_record(void *user, const struct fg_train_progress *p)
{
    struct ledger_log *l = user;
    if (p->step > MAX_STEPS)
        return;
    l->norm[p->step] = p->grad_norm;
    l->loss[p->step] = p->loss;
    l->ma[p->step] = p->loss_ma;
    l->spike[p->step] = p->spike;
    l->n = p->step;
}

TEST(ledger_and_injected_faults)
{
    CHECK(t, make_data());
    struct losses unused;
    struct ledger_log lg;
    memset(&lg, 0, sizeof lg);
    char metrics[400], err[1024];
    snprintf(metrics, sizeof metrics, "%s/ledger.jsonl", g_dir);
    struct fg_train_params p = tiny_params(NULL, &unused);
    p.on_progress = ledger_record;
    p.user = &lg;
    p.peak_flops = 1e10;
    p.price_per_hour = 3.6;
    p.metrics_path = metrics;
    struct fg_train_result r;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    /* the count, op by op, per token, forward (x 3 with backward): qkv, projection, fc, fc
     * projection and the tied LM head as 2 x in x out, attention's two T x HS products per
     * head without the causal halving */
    double L = p.cfg.n_layer, C = p.cfg.n_embd, T = (double)p.T, Vp = 256;
    double fwd = L * (2 * C * 3 * C + 2 * C * C + 2 * C * 4 * C + 2 * 4 * C * C + 2 * 2 * T * C) +
                 2 * C * Vp;
    CHECK(t, fabs(r.flops_per_token - 3 * fwd) <= 1e-9 * r.flops_per_token);
    CHECK(t, r.hw_flops_per_token == r.flops_per_token);
    CHECK(t, r.mfu == r.flops_per_token * r.tokens_per_s / 1e10);
    CHECK(t, r.dollars == r.wall_seconds / 3600.0 * 3.6);
    CHECK(t, r.wall_seconds >= r.seconds && r.seconds > 0 && r.cpu_seconds > 0);
    CHECK(t, r.nonfinite_events == 0);
    /* gradient norms: mean, sample sd and max of what each step reported */
    double s = 0, ss = 0, mx = 0;
    for (int64_t k = 1; k <= lg.n; k++) {
        s += lg.norm[k];
        mx = lg.norm[k] > mx ? lg.norm[k] : mx;
    }
    double mean = s / (double)lg.n;
    for (int64_t k = 1; k <= lg.n; k++)
        ss += (lg.norm[k] - mean) * (lg.norm[k] - mean);
    CHECK_EQ_I64(t, lg.n, 8);
    CHECK(t, fabs(r.grad_norm_mean - mean) <= 1e-12 * mean && r.grad_norm_max == mx);
    CHECK(t, fabs(r.grad_norm_sd - sqrt(ss / (double)(lg.n - 1))) <= 1e-9 * r.grad_norm_sd);
    /* the metrics lines: tokens so far, and the ledger's fields */
    FILE *f = fopen(metrics, "r");
    char line[1024];
    int64_t lines = 0;
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        char want[64];
        snprintf(want, sizeof want, "\"tokens\":%lld,",
                 (long long)(lines * (int64_t)(p.B * p.T) * p.accum));
        CHECK(t, strstr(line, want) != NULL);
        CHECK(t, strstr(line, "\"elapsed_s\":") && strstr(line, "\"cpu_s\":") &&
                     strstr(line, "\"dollars\":") && strstr(line, "\"mfu\":") &&
                     strstr(line, "\"spike\":0"));
        CHECK(t, (lines == 1) == (strstr(line, "\"loss_ma\":") == NULL));
    }
    if (f)
        fclose(f);
    CHECK_EQ_I64(t, lines, 8);

    /* a NaN gradient at step 3: stopped there, reported as a non-finite event */
    p.metrics_path = NULL;
    p.inject_nan_step = 3;
    CHECK(t, fg_train(&p, &r, err, sizeof err) == FG_ERR_NUMERIC);
    CHECK(t, strstr(err, "not finite") != NULL);
    CHECK_EQ_I64(t, r.nonfinite_events, 1);
    CHECK_EQ_I64(t, r.steps_done, 2);
    /* a loss spike from step 5: flagged each step, kept out of the average */
    p.inject_nan_step = 0;
    p.inject_spike_step = 5;
    memset(&lg, 0, sizeof lg);
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    CHECK_EQ_I64(t, r.loss_spikes, 4);
    CHECK(t, !lg.spike[4] && lg.spike[5] && lg.spike[8]);
    CHECK(t, lg.ma[6] == lg.ma[5] && lg.ma[8] == lg.ma[5] && lg.loss[5] > 2 * lg.ma[5]);
    CHECK(t, isnan(lg.ma[1]) && lg.ma[2] == lg.loss[1]);
    /* bad ledger settings are refused */
    p.inject_spike_step = 0;
    p.price_per_hour = -1;
    CHECK(t, fg_train(&p, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "--price-per-hour") != NULL);
}

TEST(same_seed_same_bits_any_threads)
{
    /* the 1-vs-2-thread half needs a thread-count invariant BLAS (see kernels.h) */
    int invariant = fg_kernels_blas_thread_invariant(2) == 1;
    CHECK(t, make_data());
    char d1[300], d2[300], d3[300], c1[400], c2[400], c3[400];
    subdir(d1, sizeof d1, "det1");
    subdir(d2, sizeof d2, "det2");
    subdir(d3, sizeof d3, "det3");
    struct losses l1, l2, l3;
    memset(&l1, 0, sizeof l1);
    memset(&l2, 0, sizeof l2);
    memset(&l3, 0, sizeof l3);
    struct fg_train_params p1 = tiny_params(d1, &l1), p2 = tiny_params(d2, &l2);
    struct fg_train_params p3 = tiny_params(d3, &l3);
    p2.n_threads = invariant ? 1 : 2;
    if (!invariant)
        printf("  note: BLAS not thread-count invariant here: comparing 2 threads with 2\n");
    p3.seed = 99;
    struct fg_train_result r;
    char err[1024];
    CHECK_OK(t, fg_train(&p1, &r, err, sizeof err));
    CHECK_OK(t, fg_train(&p2, &r, err, sizeof err));
    CHECK_OK(t, fg_train(&p3, &r, err, sizeof err));
    CHECK(t, memcmp(l1.loss, l2.loss, sizeof l1.loss) == 0);
    snprintf(c1, sizeof c1, "%s/ckpt_00000008.safetensors", d1);
    snprintf(c2, sizeof c2, "%s/ckpt_00000008.safetensors", d2);
    snprintf(c3, sizeof c3, "%s/ckpt_00000008.safetensors", d3);
    CHECK(t, same_tensors(t, c1, c2));
    /* a different seed must give different losses (the test can fail) */
    CHECK(t, memcmp(l1.loss, l3.loss, sizeof l1.loss) != 0);
}

TEST(resume_is_exact)
{
    CHECK(t, make_data());
    struct losses l;
    struct fg_train_params p = tiny_params(NULL, &l);
    struct resumed_run x;
    straight_vs_resumed(t, "plain", &p, &x);
    /* --keep 2: the step-4 checkpoint is still there next to step 8 */
    CHECK(t, access(x.mid, R_OK) == 0);
}

/* Lion, SGD with Nesterov momentum and SGD without momentum: each learns, resumes to the same
 * bits as a straight run, keeps only its own states in the checkpoint (Lion and SGD: optim.m;
 * momentum 0: none), and refuses to resume under another optimizer. */
TEST(lion_and_sgd_learn_and_resume_exactly)
{
    CHECK(t, make_data());

    static const struct {
        enum fg_flash_kind kind;
        float lr, momentum;
        int nesterov, has_m;
        const char *tag;
    } cases[] = {
        { FG_FLASH_LION, 1e-3f, 0.9f, 0, 1, "lion" },
        { FG_FLASH_SGD, 0.05f, 0.9f, 1, 1, "sgdn" },
        { FG_FLASH_SGD, 0.2f, 0.0f, 0, 0, "sgd0" },
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct losses l;
        memset(&l, 0, sizeof l);
        struct fg_train_params p = tiny_params(NULL, &l);
        p.optimizer = cases[c].kind;
        p.lr = cases[c].lr;
        p.momentum = cases[c].momentum;
        p.nesterov = cases[c].nesterov;
        if (cases[c].kind == FG_FLASH_LION)
            p.adam.beta2 = 0.99f;
        p.steps = 40;
        p.eval_every = 0;
        struct fg_train_result r;
        char err[1024];
        CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
        if (!(r.final_val_loss < l.loss[1] - 1.0))
            fg_test_fail(t, __FILE__, __LINE__, "%s: loss %.3f -> val %.3f", cases[c].tag,
                         l.loss[1], r.final_val_loss);
        /* 8 straight == 4 + resume + 4 */
        struct resumed_run x;
        struct fg_train_params pb = tiny_params(NULL, &l);
        pb.optimizer = cases[c].kind;
        pb.lr = cases[c].lr;
        pb.momentum = cases[c].momentum;
        pb.nesterov = cases[c].nesterov;
        straight_vs_resumed(t, cases[c].tag, &pb, &x);
        struct fg_st_file *f = NULL;
        if (fg_st_load(x.ckpt_a, NULL, &f, err, sizeof err) == FG_OK) {
            CHECK(t, (fg_st_find(f, "optim.m") != NULL) == cases[c].has_m);
            CHECK(t, fg_st_find(f, "optim.v") == NULL);
            fg_st_free(f);
        } else {
            fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        }
        /* another optimizer cannot take over the state */
        struct fg_train_params pd = x.pc;
        pd.optimizer = FG_FLASH_ADAM;
        err[0] = '\0';
        CHECK_EQ_I64(t, fg_train(&pd, &r, err, sizeof err), FG_ERR_INVALID_ARG);
        CHECK(t, strstr(err, "--optimizer") != NULL);
    }
}

TEST(keep_deletes_only_own_old_checkpoints)
{
    CHECK(t, make_data());
    char d[300], path[400], other[400], err[1024];
    subdir(d, sizeof d, "keep");
    /* a file that is not a checkpoint must survive */
    snprintf(other, sizeof other, "%s/notes.txt", d);
    FILE *f = fopen(other, "wb");
    CHECK(t, f != NULL);
    if (f) {
        fputs("not ours", f);
        fclose(f);
    }
    struct losses l;
    struct fg_train_params p = tiny_params(d, &l);
    p.ckpt_every = 2;
    p.keep = 2;
    struct fg_train_result r;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    const int64_t want[] = { 6, 8 }, gone[] = { 2, 4 };
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/ckpt_%08lld.safetensors", d, (long long)want[i]);
        if (access(path, R_OK) != 0)
            fg_test_fail(t, __FILE__, __LINE__, "%s should exist", path);
        snprintf(path, sizeof path, "%s/ckpt_%08lld.safetensors", d, (long long)gone[i]);
        if (access(path, R_OK) == 0)
            fg_test_fail(t, __FILE__, __LINE__, "%s should have been deleted (--keep 2)", path);
    }
    CHECK(t, access(other, R_OK) == 0);
    /* a second run into the same directory would overwrite ckpt_6 and ckpt_8 (another run's):
     * refused before training, naming a file, and nothing is touched */
    void *before;
    size_t len;
    snprintf(path, sizeof path, "%s/ckpt_00000008.safetensors", d);
    CHECK_OK(t, fg_read_file(NULL, path, &before, &len, err, sizeof err));
    p.seed = 4242;
    CHECK(t, fg_train(&p, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "ckpt_0000000") != NULL && strstr(err, "--ckpt-dir") != NULL);
    void *after;
    size_t len2;
    CHECK_OK(t, fg_read_file(NULL, path, &after, &len2, err, sizeof err));
    CHECK(t, len == len2 && memcmp(before, after, len) == 0);
    fg_free(NULL, before);
    fg_free(NULL, after);
}

struct notes {
    int n;
    char last[1500];
};

static void collect_note(void *user, const char *msg)
{
    struct notes *nt = user;
    nt->n++;
    snprintf(nt->last, sizeof nt->last, "%s", msg);
}

TEST(resume_with_changed_settings_is_noted)
{
    CHECK(t, make_data());
    char d[300], mid[400];
    subdir(d, sizeof d, "changed");
    struct losses l;
    struct fg_train_params p = tiny_params(d, &l);
    p.stop_at = 2;
    struct fg_train_result r;
    char err[1024];
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    snprintf(mid, sizeof mid, "%s/ckpt_00000002.safetensors", d);
    struct notes nt = { 0, "" };
    struct fg_train_params q = tiny_params(NULL, &l); /* no checkpoints: only the notes matter */
    q.resume_path = mid;
    q.on_progress = NULL;
    q.on_log = collect_note;
    q.user = &nt;
    /* a different thread count is a change only where the BLAS is not thread-count invariant */
    q.n_threads = 1;
    CHECK_OK(t, fg_train(&q, &r, err, sizeof err));
    CHECK_EQ_I64(t, nt.n, fg_kernels_blas_thread_invariant(2) == 1 ? 0 : 1);
    q.n_threads = 2;
    nt.n = 0;
    q.lr = 1e-4f;
    CHECK_OK(t, fg_train(&q, &r, err, sizeof err));
    CHECK_EQ_I64(t, nt.n, 1);
    CHECK(t, strstr(nt.last, "--lr 9.99999975e-05 (checkpoint: 0.00300000003)") != NULL);
    /* a model config that contradicts the checkpoint is an error, not a note */
    q.lr = p.lr;
    q.cfg.n_layer = 3;
    CHECK(t, fg_train(&q, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "n_layer") != NULL);
}

/* --metrics across a resume from an older checkpoint: each step appears exactly once */
TEST(metrics_after_resume_have_each_step_once)
{
    CHECK(t, make_data());
    char d1[300], d2[300], metrics[400], mid[400], err[1024];
    subdir(d1, sizeof d1, "metrics_a");
    subdir(d2, sizeof d2, "metrics_b");
    snprintf(metrics, sizeof metrics, "%s/m.jsonl", d1);
    struct losses l;
    struct fg_train_params p = tiny_params(d1, &l);
    p.ckpt_every = 3;
    p.keep = 5;
    p.steps = 6;
    p.metrics_path = metrics;
    struct fg_train_result r;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    snprintf(mid, sizeof mid, "%s/ckpt_00000003.safetensors", d1);
    struct fg_train_params q = p;
    q.ckpt_dir = d2;
    q.resume_path = mid;
    CHECK_OK(t, fg_train(&q, &r, err, sizeof err));
    void *buf;
    size_t len;
    CHECK_OK(t, fg_read_file(NULL, metrics, &buf, &len, err, sizeof err));
    int seen[8] = { 0 }, lines = 0;
    for (char *line = buf; line && *line; lines++) {
        long long s = -1;
        if (sscanf(line, "{\"step\":%lld", &s) == 1 && s >= 1 && s <= 6)
            seen[s]++;
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    fg_free(NULL, buf);
    CHECK_EQ_I64(t, lines, 6);
    for (int s = 1; s <= 6; s++)
        CHECK_EQ_I64(t, seen[s], 1);
}

/* A stop request (what the CLI's SIGINT handler sets) ends the run after the current step with
 * a checkpoint; resuming from it matches an uninterrupted run bit for bit. */
struct stopper {
    volatile int flag;
    int64_t at;
};

static void stop_at_step(void *user, const struct fg_train_progress *pr)
{
    struct stopper *s = user;
    if (pr->step == s->at)
        s->flag = 1; /* seen by the trainer right after this callback */
}

TEST(stop_request_checkpoints_and_resumes_exactly)
{
    CHECK(t, make_data());
    char da[300], db[300], ca[400], cb[400], mid[400], err[1024];
    subdir(da, sizeof da, "stop_straight");
    subdir(db, sizeof db, "stop_interrupted");
    struct losses l;
    struct fg_train_params p = tiny_params(da, &l);
    struct fg_train_result r;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    CHECK_EQ_I64(t, r.interrupted, 0);
    struct stopper s = { 0, 3 };
    struct fg_train_params q = tiny_params(db, &l);
    q.on_progress = stop_at_step;
    q.user = &s;
    q.stop_request = &s.flag;
    CHECK_OK(t, fg_train(&q, &r, err, sizeof err));
    CHECK_EQ_I64(t, r.interrupted, 1);
    /* the request is seen at the end of the next step (it is polled before the callback) */
    CHECK(t, r.steps_done >= 3 && r.steps_done <= 4);
    snprintf(mid, sizeof mid, "%s/ckpt_%08lld.safetensors", db, (long long)r.steps_done);
    CHECK(t, !strcmp(r.last_ckpt, mid) && access(mid, R_OK) == 0);
    struct fg_train_params c = tiny_params(db, &l);
    c.resume_path = mid;
    CHECK_OK(t, fg_train(&c, &r, err, sizeof err));
    snprintf(ca, sizeof ca, "%s/ckpt_00000008.safetensors", da);
    snprintf(cb, sizeof cb, "%s/ckpt_00000008.safetensors", db);
    CHECK(t, same_tensors(t, ca, cb));
}

TEST(checkpoint_write_fault_keeps_previous)
{
    /* a run resumed from ckpt_2 whose next checkpoint write fails at various byte offsets:
     * FG_ERR_IO naming the checkpoint, ckpt_2 unchanged, no temporary or partial file */
    CHECK(t, make_data());
    char d[300], good[400], next[400], err[1024];
    subdir(d, sizeof d, "fault");
    struct losses l;
    memset(&l, 0, sizeof l);
    struct fg_train_params p = tiny_params(d, &l);
    p.stop_at = 2;
    struct fg_train_result r;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    snprintf(good, sizeof good, "%s/ckpt_00000002.safetensors", d);
    snprintf(next, sizeof next, "%s/ckpt_00000004.safetensors", d);
    void *before;
    size_t before_len;
    CHECK_OK(t, fg_read_file(NULL, good, &before, &before_len, err, sizeof err));
    struct fg_train_params q = tiny_params(d, &l);
    q.resume_path = good;
    q.stop_at = 4;
    for (uint64_t cut = 1; cut < before_len; cut += before_len / 5) {
        q.ckpt_fail_after = cut;
        fg_status st = fg_train(&q, &r, err, sizeof err);
        CHECK(t, st == FG_ERR_IO);
        CHECK(t, strstr(err, "checkpoint") != NULL);
        CHECK_EQ_I64(t, count_tmp_files(d), 0);
        CHECK(t, access(next, F_OK) != 0);
        void *after;
        size_t after_len;
        CHECK_OK(t, fg_read_file(NULL, good, &after, &after_len, err, sizeof err));
        CHECK(t, after_len == before_len && memcmp(before, after, before_len) == 0);
        fg_free(NULL, after);
    }
    fg_free(NULL, before);
}

TEST(corrupt_checkpoint_rejected)
{
    CHECK(t, make_data());
    char d[300], path[400], err[1024];
    subdir(d, sizeof d, "corrupt");
    struct losses l;
    memset(&l, 0, sizeof l);
    struct fg_train_params p = tiny_params(d, &l);
    p.steps = 1;
    struct fg_train_result r;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    snprintf(path, sizeof path, "%s/ckpt_00000001.safetensors", d);
    FILE *f = fopen(path, "r+b");
    CHECK(t, f != NULL);
    if (!f)
        return;
    fseek(f, -100, SEEK_END); /* inside the last tensor (optim.v) */
    int c = fgetc(f);
    fseek(f, -100, SEEK_END);
    fputc(c ^ 0x10, f);
    fclose(f);
    p.resume_path = path;
    p.steps = 2;
    fg_status st = fg_train(&p, &r, err, sizeof err);
    CHECK(t, st == FG_ERR_FORMAT);
    CHECK(t, strstr(err, "CRC") != NULL && strstr(err, "optim.v") != NULL);
    /* truncated */
    CHECK(t, truncate(path, 4000) == 0);
    st = fg_train(&p, &r, err, sizeof err);
    CHECK(t, st == FG_ERR_FORMAT);
}

TEST(no_allocation_in_step_loop)
{
    CHECK(t, make_data());
    struct fg_test_alloc c2 = { 0 }, c6 = { 0 };
    struct fg_allocator a2 = fg_test_allocator(&c2), a6 = fg_test_allocator(&c6);
    struct losses l;
    struct fg_train_params p = tiny_params(NULL, &l);
    struct fg_train_result r;
    char err[1024];
    p.allocator = &a2;
    p.steps = 2;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    p.allocator = &a6;
    p.steps = 6;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    CHECK(t, c2.n_alloc > 0);
    CHECK_EQ_I64(t, c2.n_alloc, c6.n_alloc);
    CHECK_EQ_I64(t, c6.n_alloc, c6.n_free);
}

TEST(failing_allocations_are_clean)
{
    /* fail the k-th allocation for every k: FG_ERR_NOMEM each time, nothing leaks */
    CHECK(t, make_data());
    struct losses l;
    struct fg_train_params p = tiny_params(NULL, &l);
    p.steps = 1;
    struct fg_train_result r;
    char err[1024];
    struct fg_test_alloc probe = { 0 };
    struct fg_allocator ap = fg_test_allocator(&probe);
    p.allocator = &ap;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    CHECK(t, probe.n_alloc >= 3);
    for (size_t k = 1; k <= probe.n_alloc; k++) {
        struct fg_test_alloc f = { .fail_at = k };
        struct fg_allocator a = fg_test_allocator(&f);
        p.allocator = &a;
        fg_status st = fg_train(&p, &r, err, sizeof err);
        if (st != FG_ERR_NOMEM)
            fg_test_fail(t, __FILE__, __LINE__, "allocation %zu failing gave status %d", k,
                         (int)st);
        CHECK_EQ_I64(t, f.live, 0);
    }
}

/* The weights a checkpoint holds as fp32, into an fp32 model of its config: the fp32 weights,
 * or a flash checkpoint's master weights, joined from its bf16 weights and optim.rho. */
static int ckpt_master(struct fg_test *t, const char *path, struct fg_model *m)
{
    char err[512];
    if (fg_ckpt_load(path, m, NULL, NULL, NULL, err, sizeof err) != FG_OK) {
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        return 0;
    }
    struct fg_st_file *f = NULL;
    if (fg_st_load(path, NULL, &f, err, sizeof err) != FG_OK) {
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        return 0;
    }
    const struct fg_st_tensor *rho = fg_st_find(f, "optim.rho");
    int ok = 1;
    if (rho) {
        int bits = rho->dtype == FG_DTYPE_I16 ? 16 : 8;
        for (int id = 0; id < FG_MODEL_N_TENSORS && ok; id++) {
            const struct fg_st_tensor *w = fg_st_find(f, fg_model_tensor_name(id));
            ok = w && w->dtype == FG_DTYPE_BF16;
            if (ok)
                fg_flash_join_n(w->data,
                                (const char *)rho->data + m->offset[id] * (size_t)(bits / 8),
                                m->numel[id], bits, fg_model_param(m, id));
        }
    }
    fg_st_free(f);
    CHECK(t, ok);
    return ok;
}

/* cosine similarity of (a - base) and (b - base) over n elements */
static double delta_cosine(const float *a, const float *b, const float *base, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] - (double)base[i], y = (double)b[i] - (double)base[i];
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
}

/* Flash storage against the fp32 twin, per optimizer (spec section 10.1's fidelity test, on
 * the tiny GPT for 200 steps): the change of the master weights from the start has cosine
 * >= 0.99 to the fp32 run's, and a different optimizer's change does not (< 0.995: the test
 * can tell optimizers apart); validation losses agree; the ledger counts 16 / 12 bytes per
 * flat element in fp32 and 7.125 / 6.0625 in flash (8.125 with the int16 correction); the
 * checkpoint holds 5.125 bytes per element plus metadata. */
TEST(flash_storage_matches_fp32_twin)
{
    CHECK(t, make_data());

    static const struct {
        enum fg_flash_kind kind;
        float lr;
        int bits;
        double fp32_bytes, flash_bytes, ckpt_bytes;
        const char *tag;
    } cases[] = {
        { FG_FLASH_ADAM, 1e-3f, 24, 16, 7.125, 5.125, "adamw" },
        { FG_FLASH_ADAM, 1e-3f, 32, 16, 8.125, 6.125, "adamw32" },
        { FG_FLASH_LION, 3e-4f, 24, 12, 6.0625, 4.0625, "lion" },
        { FG_FLASH_SGD, 0.05f, 24, 12, 6.0625, 4.0625, "sgd" },
    };

    struct fg_model_params mp = fg_model_params_default();
    struct fg_model *m0 = NULL, *mf = NULL, *ma = NULL, *mo = NULL;
    struct losses l;
    struct fg_train_params base = tiny_params(NULL, &l);
    mp.cfg = base.cfg;
    mp.training = 0;
    mp.B = 1;
    mp.T = 1;
    CHECK_OK(t, fg_model_init(&m0, &mp));
    CHECK_OK(t, fg_model_init(&mf, &mp));
    CHECK_OK(t, fg_model_init(&ma, &mp));
    CHECK_OK(t, fg_model_init(&mo, &mp));
    if (!m0 || !mf || !ma || !mo)
        goto done;
    fg_model_init_weights(m0, base.seed);
    size_t nf = m0->n_flat;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char dir[2][400], ck[2][900];
        double val[2];
        struct fg_train_result r;
        char err[1024];
        for (int flash = 0; flash <= 1; flash++) {
            char name[32];
            snprintf(name, sizeof name, "fid_%s_%s", cases[c].tag, flash ? "flash" : "fp32");
            subdir(dir[flash], sizeof dir[flash], name);
            memset(&l, 0, sizeof l);
            struct fg_train_params p = tiny_params(dir[flash], &l);
            p.optimizer = cases[c].kind;
            p.lr = cases[c].lr;
            p.nesterov = cases[c].kind == FG_FLASH_SGD;
            if (cases[c].kind == FG_FLASH_LION)
                p.adam.beta2 = 0.99f;
            p.storage = flash ? FG_TRAIN_STORAGE_FLASH : FG_TRAIN_STORAGE_FP32;
            p.master_bits = cases[c].bits;
            p.steps = 200;
            p.warmup = 20;
            p.eval_every = 0;
            p.eval_batches = 4;
            /* micro-batches of 2 x 16, one per step, one thread: 200 steps stay cheap under
             * valgrind (CI runs this binary there) */
            p.B = 2;
            p.T = 16;
            p.accum = 1;
            p.n_threads = 1;
            CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
            val[flash] = r.final_val_loss;
            snprintf(ck[flash], sizeof ck[flash], "%s/ckpt_00000200.safetensors", dir[flash]);
            double want = flash ? cases[c].flash_bytes : cases[c].fp32_bytes;
            double per_flat = r.ledger.bytes_per_param * (double)r.ledger.n_params / (double)nf;
            if (per_flat != want)
                fg_test_fail(t, __FILE__, __LINE__, "%s %s: %.6f bytes per element, want %.6f",
                             cases[c].tag, flash ? "flash" : "fp32", per_flat, want);
            CHECK_EQ_I64(t, r.ledger.weights, nf * (flash ? 2 : 4));
            CHECK_EQ_I64(t, r.ledger.grads, nf * (flash ? 2 : 4));
            CHECK(t, flash ? r.ledger.decode > 0 : r.ledger.decode == 0);
        }
        if (!(fabs(val[1] - val[0]) <= 0.01 * val[0]))
            fg_test_fail(t, __FILE__, __LINE__, "%s: validation loss fp32 %.4f, flash %.4f",
                         cases[c].tag, val[0], val[1]);
        if (!ckpt_master(t, ck[0], ma) || !ckpt_master(t, ck[1], mf))
            continue;
        /* frugal export: the master weights (F32: joined; k = 0 flash, 2 fp32), or the bf16
         * weights as trained (k = 1: the checkpoint's own bytes) */
        struct fg_st_file *src1 = NULL;
        if (fg_st_load(ck[1], NULL, &src1, err, sizeof err) != FG_OK)
            fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        for (int k = 0; k < 3 && src1; k++) {
            char out[600];
            snprintf(out, sizeof out, "%s/export%d.safetensors", dir[1], k);
            const struct fg_model *ref = k == 2 ? ma : mf;
            enum fg_dtype dt = k == 1 ? FG_DTYPE_BF16 : FG_DTYPE_F32;
            struct fg_st_file *e = NULL;
            if (fg_ckpt_export(k == 2 ? ck[0] : ck[1], out, dt, err, sizeof err) != FG_OK ||
                fg_st_load(out, NULL, &e, err, sizeof err) != FG_OK) {
                fg_test_fail(t, __FILE__, __LINE__, "export %d: %s", k, err);
                continue;
            }
            size_t bad = 0;
            for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
                const char *name = fg_model_tensor_name(id);
                const struct fg_st_tensor *x = fg_st_find(e, name), *y = fg_st_find(src1, name);
                const void *want = k == 1 ? y->data : (const void *)(ref->params + ref->offset[id]);
                size_t nb = ref->numel[id] * (k == 1 ? 2 : 4);
                bad += !x || x->dtype != dt || x->nbytes != nb || memcmp(x->data, want, nb) != 0;
            }
            CHECK_EQ_I64(t, bad, 0);
            CHECK(t, e->n_tensors == FG_MODEL_N_TENSORS && !strcmp(fg_st_meta(e, "step"), "200"));
            fg_st_free(e);
        }
        fg_st_free(src1);
        /* the flash run starts from the bf16-rounded initialization */
        float *start = malloc(nf * sizeof(float));
        if (!start)
            continue;
        for (size_t i = 0; i < nf; i++)
            start[i] = fg_bf16_decode(fg_bf16_encode(m0->params[i]));
        double cf = delta_cosine(mf->params, ma->params, m0->params, nf);
        double cs = delta_cosine(mf->params, ma->params, start, nf);
        double cos = cf > cs ? cf : cs;
        if (!(cos >= 0.99))
            fg_test_fail(t, __FILE__, __LINE__, "%s: cosine of the weight changes %.5f < 0.99",
                         cases[c].tag, cos);
        /* a different optimizer (the next case's fp32 run, or AdamW's for the last) differs */
        if (c == 0) {
            memcpy(mo->params, ma->params, nf * sizeof(float));
        } else if (cases[c].kind != FG_FLASH_ADAM) {
            double other = delta_cosine(mf->params, mo->params, m0->params, nf);
            if (!(other < 0.995))
                fg_test_fail(t, __FILE__, __LINE__, "%s vs AdamW: cosine %.5f: not sensitive",
                             cases[c].tag, other);
        }
        free(start);
        /* the flash checkpoint: weights, correction, codes and scales as they are */
        struct stat st;
        struct fg_st_file *f = NULL;
        if (stat(ck[1], &st) == 0 && fg_st_load_header(ck[1], NULL, &f, err, sizeof err) == FG_OK) {
            /* weights per tensor (2 bytes each), the rest over the flat buffer */
            double data = (double)st.st_size - (double)f->data_start;
            double want = 2.0 * (double)m0->mem.n_params + (cases[c].ckpt_bytes - 2) * (double)nf;
            if (data != want)
                fg_test_fail(t, __FILE__, __LINE__, "%s: checkpoint data %.0f bytes, want %.0f",
                             cases[c].tag, data, want);
            CHECK(t, (double)st.st_size <= 5.2 * (double)nf + 65536 || cases[c].bits == 32);
            CHECK(t, !strcmp(fg_st_meta(f, "storage"), "flash"));
            fg_st_free(f);
            /* every group's scale belongs to its codes: requantizing sets the scale from the
             * group's largest value, so a group with a scale above the 1e-12 floor has a code
             * at the top (m: 126 or 127 after the bf16 scale's rounding up; v: 253-255). A
             * scale read from another group (a wrong offset) breaks this. */
            struct fg_st_file *full = NULL;
            if (fg_st_load(ck[1], NULL, &full, err, sizeof err) == FG_OK) {
                static const char *const codes[2] = { "optim.m.codes", "optim.v.codes" };
                static const char *const scales[2] = { "optim.m.scales", "optim.v.scales" };
                for (int k = 0; k < 2; k++) {
                    const struct fg_st_tensor *q = fg_st_find(full, codes[k]);
                    const struct fg_st_tensor *sc = fg_st_find(full, scales[k]);
                    if (!q || !sc)
                        continue; /* Lion and SGD: no v */
                    size_t groups = sc->nbytes / 2, bad = 0, used = 0;
                    for (size_t gi = 0; gi < groups; gi++) {
                        /* scale 0: an all-zero group; a scale at the floor of 1e-12: a group
                         * of noise (the key bias's gradient is zero but for rounding), whose
                         * codes are small by design */
                        if (fg_bf16_decode(((const uint16_t *)sc->data)[gi]) < 2e-12f)
                            continue;
                        int top = 0;
                        for (size_t i = gi * 32; i < gi * 32 + 32 && i < q->nbytes; i++) {
                            int v = k ? ((const uint8_t *)q->data)[i]
                                      : abs(((const int8_t *)q->data)[i]);
                            top = v > top ? v : top;
                        }
                        used++;
                        bad += top < (k ? 253 : 126);
                    }
                    CHECK(t, used > groups / 2);
                    if (bad)
                        fg_test_fail(t, __FILE__, __LINE__,
                                     "%s %s: %zu of %zu groups lack a top code", cases[c].tag,
                                     codes[k], bad, used);
                }
                fg_st_free(full);
            }
        } else {
            fg_test_fail(t, __FILE__, __LINE__, "%s: %s", ck[1], err);
        }
    }
done:
    fg_model_free(m0);
    fg_model_free(mf);
    fg_model_free(ma);
    fg_model_free(mo);
}

/* Flash storage resumes to the same bits (8 straight == 4 + resume + 4) for each optimizer and
 * both master widths; a flash checkpoint refuses fp32 storage and the other master width, an
 * fp32 checkpoint refuses flash, each naming the flag; master bits other than 24/32 are
 * refused. */
TEST(flash_storage_resumes_exactly)
{
    CHECK(t, make_data());

    static const struct {
        enum fg_flash_kind kind;
        float lr;
        int bits;
        const char *tag;
    } cases[] = {
        { FG_FLASH_ADAM, 3e-3f, 24, "fl_adamw" },
        { FG_FLASH_ADAM, 3e-3f, 32, "fl_adamw32" },
        { FG_FLASH_LION, 3e-4f, 24, "fl_lion" },
        { FG_FLASH_SGD, 0.05f, 24, "fl_sgd" },
    };

    struct fg_train_result r;
    char err[1024];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct losses l;
        struct fg_train_params pb = tiny_params(NULL, &l);
        pb.optimizer = cases[c].kind;
        pb.lr = cases[c].lr;
        pb.storage = FG_TRAIN_STORAGE_FLASH;
        pb.master_bits = cases[c].bits;
        pb.B = 2; /* small micro-batches (2 x 16, two per step): cheap under valgrind */
        pb.T = 16;
        struct resumed_run x;
        straight_vs_resumed(t, cases[c].tag, &pb, &x);
        /* the other storage, or the other master width: refused, nothing trained */
        struct fg_train_params pd = x.pc;
        pd.storage = FG_TRAIN_STORAGE_FP32;
        err[0] = '\0';
        CHECK_EQ_I64(t, fg_train(&pd, &r, err, sizeof err), FG_ERR_INVALID_ARG);
        CHECK(t, strstr(err, "--optim-storage flash") != NULL);
        pd.storage = FG_TRAIN_STORAGE_FLASH;
        pd.master_bits = cases[c].bits == 24 ? 32 : 24;
        CHECK_EQ_I64(t, fg_train(&pd, &r, err, sizeof err), FG_ERR_INVALID_ARG);
        CHECK(t, strstr(err, "--master-bits") != NULL);
    }
    /* an fp32 checkpoint under flash storage */
    char dir[400], ck[600];
    subdir(dir, sizeof dir, "fl_from_fp32");
    struct losses l;
    struct fg_train_params p = tiny_params(dir, &l);
    p.stop_at = 2;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    snprintf(ck, sizeof ck, "%s/ckpt_00000002.safetensors", dir);
    p.stop_at = 0;
    p.resume_path = ck;
    p.storage = FG_TRAIN_STORAGE_FLASH;
    CHECK_EQ_I64(t, fg_train(&p, &r, err, sizeof err), FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "--optim-storage fp32") != NULL);
    p.resume_path = NULL;
    p.master_bits = 16;
    CHECK_EQ_I64(t, fg_train(&p, &r, err, sizeof err), FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "master bits") != NULL);
}

/* Gradient release: each slice updated inside backward equals the update after backward bit
 * for bit (no clipping: release clips with the previous step's norm), for each optimizer; the
 * ledger has no gradient buffer (AdamW 5.125 bytes per element, Lion and SGD 4.0625); with
 * clipping a run resumes exactly (the norm is in the checkpoint); bad combinations refused. */
TEST(grad_release_equals_update_after_backward)
{
    CHECK(t, make_data());

    static const struct {
        enum fg_flash_kind kind;
        float lr;
        double bytes;
        int vocab; /* 2112: wte is released in three chunks of rows (1024, 1024, 64) */
        const char *tag;
    } cases[] = {
        { FG_FLASH_ADAM, 3e-3f, 5.125, 256, "rel_adamw" },
        { FG_FLASH_LION, 3e-4f, 4.0625, 256, "rel_lion" },
        { FG_FLASH_SGD, 0.05f, 4.0625, 256, "rel_sgd" },
        { FG_FLASH_ADAM, 3e-3f, 5.125, 2112, "rel_adamw_v2112" },
    };

    struct fg_train_result r;
    char err[1024];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char d[2][400], ck[2][900], name[32];
        for (int rel = 0; rel <= 1; rel++) {
            snprintf(name, sizeof name, "%s%d", cases[c].tag, rel);
            subdir(d[rel], sizeof d[rel], name);
            struct losses l;
            struct fg_train_params p = tiny_params(d[rel], &l);
            p.optimizer = cases[c].kind;
            p.lr = cases[c].lr;
            p.storage = FG_TRAIN_STORAGE_FLASH;
            p.accum = 1;
            p.grad_clip = 0;
            p.grad_release = rel;
            p.cfg.vocab_size = cases[c].vocab;
            p.B = 2; /* small micro-batches: cheap under valgrind */
            p.T = 16;
            CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
            snprintf(ck[rel], sizeof ck[rel], "%s/ckpt_00000008.safetensors", d[rel]);
            if (rel) {
                double per_flat =
                    r.ledger.bytes_per_param * (double)r.ledger.n_params / (double)r.mem.n_flat;
                if (per_flat != cases[c].bytes)
                    fg_test_fail(t, __FILE__, __LINE__, "%s: %.6f bytes per element, want %.6f",
                                 cases[c].tag, per_flat, cases[c].bytes);
                CHECK_EQ_I64(t, r.ledger.grads, 0);
            }
        }
        CHECK(t, same_tensors(t, ck[0], ck[1]));
    }
    /* with clipping (on the previous step's norm): 8 straight == 4 + resume + 4 */
    struct losses lc;
    struct fg_train_params pr = tiny_params(NULL, &lc);
    pr.storage = FG_TRAIN_STORAGE_FLASH;
    pr.accum = 1;
    pr.grad_release = 1;
    pr.grad_clip = 0.05f; /* small enough to clip every step after the first */
    struct resumed_run x;
    straight_vs_resumed(t, "rel_clip", &pr, &x);
    /* and clipping did act: without it the weights differ */
    char dn[400];
    subdir(dn, sizeof dn, "rel_noclip");
    struct losses ln;
    memset(&ln, 0, sizeof ln);
    struct fg_train_params pn = tiny_params(dn, &ln);
    pn.storage = FG_TRAIN_STORAGE_FLASH;
    pn.accum = 1;
    pn.grad_release = 1;
    pn.grad_clip = 0;
    CHECK_OK(t, fg_train(&pn, &r, err, sizeof err));
    CHECK(t, memcmp(x.la.loss, ln.loss, sizeof ln.loss) != 0);
    CHECK(t, x.la.loss[1] == ln.loss[1]); /* the first step is never clipped: same start */
    /* refused: fp32 storage, --accum 2, n_embd not a multiple of 32 */
    for (int k = 0; k < 3; k++) {
        struct losses l;
        struct fg_train_params p = tiny_params(NULL, &l);
        p.storage = k == 0 ? FG_TRAIN_STORAGE_FP32 : FG_TRAIN_STORAGE_FLASH;
        p.accum = k == 1 ? 2 : 1;
        if (k == 2)
            p.cfg.n_embd = 48;
        p.grad_release = 1;
        err[0] = '\0';
        CHECK_EQ_I64(t, fg_train(&p, &r, err, sizeof err), FG_ERR_INVALID_ARG);
        CHECK(t, strstr(err, "gradient release needs") != NULL);
    }
}

static const struct fg_test_case cases[] = {
    { "it_learns", test_it_learns },
    { "same_seed_same_bits_any_threads", test_same_seed_same_bits_any_threads },
    { "resume_is_exact", test_resume_is_exact },
    { "lion_and_sgd_learn_and_resume_exactly", test_lion_and_sgd_learn_and_resume_exactly },
    { "keep_deletes_only_own_old_checkpoints", test_keep_deletes_only_own_old_checkpoints },
    { "resume_with_changed_settings_is_noted", test_resume_with_changed_settings_is_noted },
    { "metrics_after_resume_have_each_step_once", test_metrics_after_resume_have_each_step_once },
    { "stop_request_checkpoints_and_resumes_exactly",
      test_stop_request_checkpoints_and_resumes_exactly },
    { "checkpoint_write_fault_keeps_previous", test_checkpoint_write_fault_keeps_previous },
    { "corrupt_checkpoint_rejected", test_corrupt_checkpoint_rejected },
    { "no_allocation_in_step_loop", test_no_allocation_in_step_loop },
    { "failing_allocations_are_clean", test_failing_allocations_are_clean },
    { "flash_storage_matches_fp32_twin", test_flash_storage_matches_fp32_twin },
    { "flash_storage_resumes_exactly", test_flash_storage_resumes_exactly },
    { "grad_release_equals_update_after_backward", test_grad_release_equals_update_after_backward },
    { "bf16_products_learn_like_fp32_and_resume_exactly",
      test_bf16_products_learn_like_fp32_and_resume_exactly },
    { "tiled_attention_learns_like_standard_and_resumes_exactly",
      test_tiled_attention_learns_like_standard_and_resumes_exactly },
    { "recompute_trains_the_same_bits", test_recompute_trains_the_same_bits },
    { "ledger_and_injected_faults", test_ledger_and_injected_faults },
};

int main(int argc, char **argv)
{
    int rc = fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
    if (g_dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return rc;
}
