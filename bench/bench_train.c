/* bench_train: training throughput, MFU and peak memory of one GPT-2 config, the same step as
 * `frugal train` (forward, backward, global norm, AdamW that also clears the gradients) on random tokens.
 *
 *   bench_train --config S|M [--steps N] [--warmup N] [--threads N] [--profile]
 *               [--mx-weights FMT] [--mx-activations FMT] [--mx-grads FMT] [--mx-scale RULE]
 *               [--optim-storage fp32|flash] [--dtype fp32|bf16] [--attention standard|tiled]
 *               [--seq T] [--recompute none|attn|block]
 *
 * --optim-storage flash runs the step of `frugal train --optim-storage flash`: the model on
 * bf16 weights (each block decoded to fp32 for its products), bf16 gradients, the norm over
 * them, and flash AdamW (fg_flash_step per tensor: bf16 + int8 correction, 8-bit states).
 * --dtype bf16 runs the products of the linear layers and the LM head as `frugal train --dtype
 * bf16` does: fg_gemm_bf16 (operands rounded to bf16, fp32 sums) instead of OpenBLAS sgemm.
 * --attention tiled uses the tiled attention kernel (no T x T probabilities kept); --seq T
 * changes the sequence length (and block size) of the config, e.g. T = 2048 for the
 * long-sequence measurements; B stays the config's. --recompute drops activations and
 * recomputes them in backward as `frugal train --recompute` does.
 * The --mx-* flags turn on the MX emulation of the block linear layers as in `frugal train`
 * (quantize-dequantize copies, then the same fp32 sgemm: it measures the emulation's cost).
 * --profile adds a line with the mean milliseconds per step of each kind of operation
 * (fg_model_set_profile), GEMMs included, for finding where a step's time goes.
 * Prints one human line and one `JSON {...}` line. MFU = model FLOPs per second (PaLM
 * convention, fg_model_flops_per_token) over the machine's peak FP32 FLOP/s, which this
 * program measures: every thread runs a loop of independent vector FMAs (12 accumulators, no
 * memory traffic), the widest the CPU supports (AVX-512, else AVX2, else SSE), so the figure is
 * the FMA throughput the hardware really sustains, not a datasheet number. With --dtype bf16
 * the peak is that of the unit the bf16 products run on (fg_gemm_bf16_peak_flops: AMX tiles or
 * VDPBF16PS), the FMAs' on the portable path.
 * Peak memory: getrusage max RSS, compared with fg_model_mem_size() + AdamW moments plus the
 * process's resident size before the model exists (libraries, stacks: the fixed overhead). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/flashoptim.h"
#include "frugal/kernels.h"
#include "frugal/model.h"
#include "frugal/optim.h"
#include "frugal/plan.h"
#include "frugal/train.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t current_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (uint64_t)res * 4096u;
}

int main(int argc, char **argv)
{
    const char *config = "S";
    int steps = 10, warmup = 2, threads = fg_cpu_count(), profile = 0, flash = 0, bf16mm = 0,
        tiled = 0, recompute = FG_MODEL_RECOMPUTE_NONE;
    long seq = 0;
    struct fg_model_mx mx = fg_model_mx_default();
    const char *usage = "usage: bench_train --config S|M [--steps N] [--warmup N] [--threads N] "
                        "[--profile] [--mx-weights FMT] [--mx-activations FMT] [--mx-grads FMT] "
                        "[--mx-scale floor|ceil|rceil] [--optim-storage fp32|flash] "
                        "[--dtype fp32|bf16] [--attention standard|tiled] [--seq T] "
                        "[--recompute none|attn|block]\n";
    for (int i = 1; i < argc; i += 2) {
        if (!strcmp(argv[i], "--profile")) {
            profile = 1;
            i--;
            continue;
        }
        if (i + 1 >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fprintf(stderr, "%s", usage);
            return 2;
        }
        int *fmt = !strcmp(argv[i], "--mx-weights")       ? &mx.weights
                   : !strcmp(argv[i], "--mx-activations") ? &mx.activations
                   : !strcmp(argv[i], "--mx-grads")       ? &mx.grads
                                                          : NULL;
        char err[256];
        if (fmt) {
            if (fg_model_mx_parse(argv[i + 1], fmt, err, sizeof err) != FG_OK) {
                fprintf(stderr, "bench_train: %s: %s\n", argv[i], err);
                return 2;
            }
            continue;
        }
        if (!strcmp(argv[i], "--mx-scale")) {
            if (fg_mx_scale_rule_from_name(argv[i + 1], &mx.scale_rule, err, sizeof err) != FG_OK) {
                fprintf(stderr, "bench_train: --mx-scale: %s\n", err);
                return 2;
            }
            continue;
        }
        if (!strcmp(argv[i], "--optim-storage") &&
            (!strcmp(argv[i + 1], "fp32") || !strcmp(argv[i + 1], "flash")))
            flash = !strcmp(argv[i + 1], "flash");
        else if (!strcmp(argv[i], "--attention") &&
                 (!strcmp(argv[i + 1], "standard") || !strcmp(argv[i + 1], "tiled")))
            tiled = !strcmp(argv[i + 1], "tiled");
        else if (!strcmp(argv[i], "--recompute") &&
                 fg_train_recompute_parse(argv[i + 1], &recompute) == FG_OK)
            ;
        else if (!strcmp(argv[i], "--seq"))
            seq = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dtype") &&
                 (!strcmp(argv[i + 1], "fp32") || !strcmp(argv[i + 1], "bf16")))
            bf16mm = !strcmp(argv[i + 1], "bf16");
        else if (!strcmp(argv[i], "--config"))
            config = argv[i + 1];
        else if (!strcmp(argv[i], "--steps"))
            steps = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--warmup"))
            warmup = (int)strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--threads"))
            threads = (int)strtol(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "%s", usage);
            return 2;
        }
    }
    if (steps < 1 || steps > 1000 || warmup < 0 || threads < 1) {
        fprintf(stderr, "bench_train: bad --steps/--warmup/--threads\n");
        return 2;
    }
    struct fg_model_params p = fg_model_params_default();
    if (!strcmp(config, "S")) {
        struct fg_model_config c = { 4, 4, 256, 256, 4096 };
        p.cfg = c;
        p.B = 8;
        p.T = 256;
    } else if (!strcmp(config, "M")) {
        struct fg_model_config c = { 12, 12, 768, 1024, 50304 };
        p.cfg = c;
        p.B = 4;
        p.T = 64;
    } else {
        fprintf(stderr, "bench_train: --config must be S or M\n");
        return 2;
    }
    if (seq < 0 || seq > 65536) {
        fprintf(stderr, "bench_train: --seq must be in 1..65536\n");
        return 2;
    }
    if (seq > 0) {
        p.T = (size_t)seq;
        p.cfg.block_size = (int)seq;
    }
    p.attention = tiled ? FG_MODEL_ATTN_TILED : FG_MODEL_ATTN_STANDARD;
    p.recompute = recompute;
    p.n_threads = threads;
    p.mx = mx;
    p.weights = flash ? FG_MODEL_WEIGHTS_BF16 : FG_MODEL_WEIGHTS_FP32;
    p.matmul = bf16mm ? FG_MODEL_MATMUL_BF16 : FG_MODEL_MATMUL_FP32;
    fg_kernels_set_blas_threads(threads);
    uint64_t rss0 = current_rss();
    struct fg_model *m = NULL;
    char why[256];
    if (fg_model_mx_check(&p.cfg, &p.mx, why, sizeof why) != FG_OK) {
        fprintf(stderr, "bench_train: %s\n", why);
        return 2;
    }
    if (fg_model_init(&m, &p) != FG_OK) {
        fprintf(stderr, "bench_train: model init failed\n");
        return 1;
    }
    fg_model_init_weights(m, 1);
    size_t n = m->n_flat, BT = p.B * p.T;
    /* the optimizer's state: fp32 moments, or the flash storage (correction, codes, scales) */
    size_t sbytes = flash ? 1 : sizeof(float), groups = n / FG_FLASH_GROUP;
    void *mom = calloc(n, sbytes), *vel = calloc(n, sbytes), *rho = flash ? calloc(n, 1) : NULL;
    uint16_t *msc = flash ? calloc(groups, 2) : NULL, *vsc = flash ? calloc(groups, 2) : NULL;
    double *partial = calloc(fg_optim_n_chunks(n), sizeof(double));
    int32_t *x = malloc((BT + 1) * sizeof(int32_t));
    if (!mom || !vel || !partial || !x || (flash && (!rho || !msc || !vsc)))
        return 1;
    memset(mom, 0, n * sbytes); /* touch the pages, as training does */
    memset(vel, 0, n * sbytes);
    if (flash) {
        memset(rho, 0, n);
        memset(msc, 0, groups * 2);
        memset(vsc, 0, groups * 2);
    }
    struct fg_optim_segment seg[FG_MODEL_N_TENSORS];
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        seg[id].offset = m->offset[id];
        seg[id].n = m->numel[id];
        seg[id].decay = fg_model_tensor_decays(id);
    }
    struct fg_adamw_params hp = fg_adamw_params_default();
    struct fg_rng rng;
    fg_rng_seed(&rng, 42);
    double *ms = calloc((size_t)steps, sizeof(double));
    double loss = 0, phase[5] = { 0, 0, 0, 0, 0 }, prof[FG_MODEL_N_OPS] = { 0 };
    for (int s = 0; s < warmup + steps; s++) {
        if (profile && s == warmup)
            fg_model_set_profile(m, prof);
        for (size_t i = 0; i <= BT; i++)
            x[i] = (int32_t)fg_rng_below(&rng, (uint64_t)p.cfg.vocab_size);
        double t0 = fg_time_now();
        double t1 = fg_time_now();
        fg_status st = fg_model_forward(m, x, x + 1, p.B, p.T);
        double t2 = fg_time_now();
        if (st == FG_OK)
            st = fg_model_backward(m, 1.0f);
        if (st != FG_OK) {
            fprintf(stderr, "bench_train: %s\n", fg_model_errmsg(m));
            return 1;
        }
        double t3 = fg_time_now();
        double norm = sqrt(flash ? fg_sumsq_bf16(m->g16, n, partial, threads)
                                 : fg_sumsq(m->grads, n, partial, threads));
        float scale = norm > 1.0 ? (float)(1.0 / norm) : 1.0f;
        double t4 = fg_time_now();
        if (flash) {
            struct fg_flash_hparams fh = fg_flash_hparams_default(FG_FLASH_ADAM);
            fh.beta1 = hp.beta1;
            fh.beta2 = hp.beta2;
            fh.eps = hp.eps;
            for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
                size_t off = seg[id].offset;
                struct fg_flash_tensor ft;
                memset(&ft, 0, sizeof ft);
                ft.n = seg[id].n;
                ft.w16 = m->w16 + off;
                ft.rho8 = (int8_t *)rho + off;
                ft.mq = (int8_t *)mom + off;
                ft.ms = msc + off / FG_FLASH_GROUP;
                ft.vq = (uint8_t *)vel + off;
                ft.vs = vsc + off / FG_FLASH_GROUP;
                fh.weight_decay = seg[id].decay ? hp.weight_decay : 0.0f;
                fg_flash_step(&ft, NULL, m->g16 + off, scale, s + 1, 1e-4f, &fh, threads);
            }
            fg_model_zero_grad(m);
        } else {
            fg_adamw_step_zero_grad(m->params, m->grads, mom, vel, seg, FG_MODEL_N_TENSORS, s + 1,
                                    1e-4f, scale, &hp, threads);
        }
        double t5 = fg_time_now();
        double dt = (t5 - t0) * 1e3;
        if (s >= warmup) {
            phase[0] += t1 - t0;
            phase[1] += t2 - t1;
            phase[2] += t3 - t2;
            phase[3] += t4 - t3;
            phase[4] += t5 - t4;
        }
        loss = m->loss;
        if (s >= warmup)
            ms[s - warmup] = dt;
    }
    uint64_t peak = fg_peak_rss_bytes();
    qsort(ms, (size_t)steps, sizeof(double), cmp_double);
    double med = ms[steps / 2], best = ms[0];
    double tok_s = (double)BT / (med / 1e3);
    double fpt = fg_model_flops_per_token(&p.cfg, p.T);
    const char *isa;
    double peak_flops = bf16mm ? fg_gemm_bf16_peak_flops(threads, &isa) : 0.0;
    if (peak_flops <= 0) /* fp32 products, or bf16 ones on the portable path (FMAs) */
        peak_flops = fg_cpu_peak_flops(threads, &isa);
    double mfu = peak_flops > 0 ? fpt * tok_s / peak_flops : 0;
    uint64_t predicted = m->mem.total_bytes + (flash ? 3 * n + 4 * groups : 2 * m->mem.param_bytes);
    printf("config %s: L=%d C=%d NH=%d V=%d B=%zu T=%zu params=%zu threads=%d | median %.1f ms "
           "(best %.1f) | %.1f tokens/s | %.2f GFLOP/s model | peak %.1f GFLOP/s (%s) | MFU "
           "%.1f%% | loss %.3f\n",
           config, p.cfg.n_layer, p.cfg.n_embd, p.cfg.n_head, p.cfg.vocab_size, p.B, p.T,
           m->mem.n_params, threads, med, best, tok_s, fpt * tok_s / 1e9, peak_flops / 1e9, isa,
           100 * mfu, loss);
    printf("phases (mean ms, %s storage, %s products): - %.1f | forward %.1f | backward %.1f | "
           "grad norm %.1f | "
           "adamw (and zero_grad) %.1f\n",
           flash ? "flash" : "fp32", bf16mm ? "bf16" : "fp32", phase[0] * 1e3 / steps,
           phase[1] * 1e3 / steps, phase[2] * 1e3 / steps, phase[3] * 1e3 / steps,
           phase[4] * 1e3 / steps);
    if (profile) {
        printf("profile (mean ms per step):");
        for (int op = 0; op < FG_MODEL_N_OPS; op++)
            printf(" %s %.1f", fg_model_op_name(op), prof[op] / steps);
        printf("\n");
    }
    printf("memory: peak RSS %.1f MiB = predicted %.1f MiB (model %.1f + optimizer %.1f) + "
           "baseline %.1f MiB + %.1f MiB unexplained (%.1f%% of predicted)\n",
           (double)peak / 1048576.0, (double)predicted / 1048576.0,
           (double)m->mem.total_bytes / 1048576.0,
           (double)(predicted - m->mem.total_bytes) / 1048576.0, (double)rss0 / 1048576.0,
           ((double)peak - (double)predicted - (double)rss0) / 1048576.0,
           100.0 * ((double)peak - (double)predicted - (double)rss0) / (double)predicted);
    /* the planner's estimate for the same run, through the trainer's own sizing */
    struct fg_plan_params pp;
    struct fg_plan_result pr;
    char perr[256];
    fg_plan_defaults(&pp, FG_PLAN_PRESET_REALISTIC);
    pp.device_memory = 24e9;
    if (fg_plan_from_model(&pp, &p.cfg, p.B, p.T, (double)steps, perr, sizeof perr) == FG_OK &&
        fg_plan_compute(&pp, &pr, perr, sizeof perr) == FG_OK) {
        double above = (double)peak - (double)rss0;
        printf("plan: %.1f MiB per device (fg_plan_from_model); measured peak above the "
               "baseline %.1f MiB (%+.1f%%); %.4g training FLOPs per step\n",
               pr.mem_total / 1048576.0, above / 1048576.0,
               100.0 * (above - pr.mem_total) / pr.mem_total, pr.train_flops / steps);
    }
    if (fg_model_mx_on(&p.mx))
        printf("mx: weights %s, activations %s, grads %s (emulated: quantize-dequantize copies, "
               "fp32 sgemm); scratch %.1f MiB\n",
               fg_model_mx_name(p.mx.weights), fg_model_mx_name(p.mx.activations),
               fg_model_mx_name(p.mx.grads), (double)m->mem.mx_bytes / 1048576.0);
    printf("JSON {\"config\":\"%s\",\"tokens_per_s\":%.1f,\"median_ms\":%.2f,\"best_ms\":%.2f,"
           "\"flops_per_token\":%.0f,\"peak_flops\":%.0f,\"mfu\":%.4f,\"peak_rss_bytes\":%llu,"
           "\"predicted_bytes\":%llu,\"baseline_rss_bytes\":%llu,\"params\":%zu,\"threads\":%d,"
           "\"mx_weights\":\"%s\",\"mx_activations\":\"%s\",\"mx_grads\":\"%s\","
           "\"recompute\":\"%s\",\"hw_flops_per_token\":%.0f}\n",
           config, tok_s, med, best, fpt, peak_flops, mfu, (unsigned long long)peak,
           (unsigned long long)predicted, (unsigned long long)rss0, m->mem.n_params, threads,
           fg_model_mx_name(p.mx.weights), fg_model_mx_name(p.mx.activations),
           fg_model_mx_name(p.mx.grads), fg_train_recompute_name(p.recompute),
           fpt + fg_model_recompute_flops_per_token(&p.cfg, p.T, p.recompute));
    free(ms);
    free(mom);
    free(vel);
    free(rho);
    free(msc);
    free(vsc);
    free(partial);
    free(x);
    fg_model_free(m);
    return 0;
}
