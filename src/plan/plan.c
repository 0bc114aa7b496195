/* The planner's cost model: compute, replicas and memory, failure-free time, failures and
 * checkpoints, dollars. Formulas, presets and provenance: docs/planner.md. Pure functions. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frugal/model.h"
#include "frugal/plan.h"

/* ---- building blocks ---- */

double fg_plan_young_interval(double delta, double mtti)
{
    return sqrt(2.0 * delta * mtti);
}

double fg_plan_daly_interval(double delta, double mtti)
{
    if (delta >= 2.0 * mtti)
        return mtti;
    double x = delta / (2.0 * mtti);
    return sqrt(2.0 * delta * mtti) * (1.0 + sqrt(x) / 3.0 + x / 9.0) - delta;
}

double fg_plan_daly_wall(double solve, double delta, double mtti, double recovery, double tau)
{
    return mtti * exp(recovery / mtti) * expm1((tau + delta) / mtti) * solve / tau;
}

double fg_plan_mtti(double devices, double mtbf_device, double mtbf_cpu, double devices_per_cpu)
{
    double lambda = devices / mtbf_device;
    if (mtbf_cpu > 0.0 && devices_per_cpu > 0.0)
        lambda += ceil(devices / devices_per_cpu) / mtbf_cpu;
    return 1.0 / lambda;
}

double fg_plan_kofn_mtti(double lambda_sys, double replicas, double recovery, double k_tol,
                         double *rho)
{
    double lambda_g = lambda_sys / replicas;
    double r = lambda_g * recovery;
    if (rho)
        *rho = r;
    /* P(k_tol groups down) = C(D, K) rho^K / (1 + rho)^D, in logs: rho^K underflows */
    double D = replicas, K = k_tol;
    double log_p =
        lgamma(D + 1.0) - lgamma(K + 1.0) - lgamma(D - K + 1.0) + K * log(r) - D * log1p(r);
    double lambda_int = (D - K) * lambda_g * exp(log_p);
    return 1.0 / lambda_int;
}

double fg_plan_zero_bytes(double psi, double nd, int stage, double weight_bytes, double grad_bytes,
                          double optimizer_bytes)
{
    double w = weight_bytes * psi, g = grad_bytes * psi, o = optimizer_bytes * psi;
    if (stage >= 1)
        o /= nd;
    if (stage >= 2)
        g /= nd;
    if (stage >= 3)
        w /= nd;
    return w + g + o;
}

double fg_plan_activation_bytes(double seq_len, double micro_batch, double hidden, double heads,
                                int recompute)
{
    double sbh = seq_len * micro_batch * hidden;
    if (recompute)
        return 2.0 * sbh;
    return sbh * (34.0 + 5.0 * heads * seq_len / hidden);
}

double fg_plan_mfu_from_report(double train_flops, double device_hours, double peak_flops)
{
    return train_flops / (device_hours * 3600.0 * peak_flops);
}

/* ---- projection ---- */

void fg_plan_projection_scenario(struct fg_plan_projection *pj, int scenario)
{
    static const double experts_per_year[3] = { 8.0, 4.0, 0.0 };
    static const double tokens_per_param[3] = { 20.0, 40.0, 120.0 };
    int s = scenario < 0 ? 0 : scenario > 2 ? 2 : scenario;
    pj->year0 = 2024.0;
    pj->params0 = 1.8e12;
    pj->params_growth = 2.0;
    pj->experts0 = 16.0;
    pj->experts_per_year = experts_per_year[s];
    pj->tokens_per_param = tokens_per_param[s];
    pj->flops_per_param_token = 6.0;
    pj->kappa0 = FG_PLAN_KAPPA_CLOUD;
    pj->hw_growth = 1.32;
}

void fg_plan_project(const struct fg_plan_projection *pj, double year, double *params,
                     double *experts, double *flops, double *dollars)
{
    double dy = year - pj->year0;
    double P = pj->params0 * pow(pj->params_growth, dy);
    double K = pj->experts0 + pj->experts_per_year * dy;
    if (K < 1.0)
        K = 1.0;
    double C = pj->flops_per_param_token * pj->tokens_per_param * P * P / K;
    *params = P;
    *experts = K;
    *flops = C;
    *dollars = C / (pj->kappa0 * pow(pj->hw_growth, dy));
}

/* ---- the input table ---- */

#define F(name, unit, tp, tr, help)                                      \
    {                                                                    \
#        name, offsetof(struct fg_plan_params, name), unit, tp, tr, help \
    }

static const struct fg_plan_field fields[] = {
    F(params, "", 'A', 'A', "total parameters P"),
    F(active_params, "", 'P', 'R', "parameters active per token (0 = params / experts)"),
    F(experts, "", 'P', 'P', "MoE experts K: compute divides by K (1 = dense)"),
    F(tokens, "", 'P', 'P', "training tokens T (0 = tokens-per-param x params, with gamma)"),
    F(tokens_per_param, "", 'P', 'R', "tokens per parameter r (Chinchilla 20)"),
    F(gamma, "", 'P', 'A', "token-scaling exponent: compute grows as params^gamma (2: T = r P)"),
    F(gamma_anchor, "", 'A', 'A', "parameter count where T = r P holds for any gamma"),
    F(flops_per_param_token, "FLOP", 'P', 'P', "training FLOPs per active parameter per token"),
    F(train_flops, "FLOP", 'A', 'A', "total training FLOPs (0 = flops-per-param-token x P x T)"),
    F(peak_flops, "FLOP/s", 'A', 'R', "peak FLOP/s per device"),
    F(mfu, "", 'A', 'R', "model FLOPs utilization (sustained = peak x mfu)"),
    F(sustained_flops, "FLOP/s", 'P', 'R', "sustained FLOP/s per device (0 = peak x mfu)"),
    F(device_memory, "B", 'P', 'P', "memory per device"),
    F(price, "$/h", 'P', 'P', "price per device-hour"),
    F(devices, "", 'A', 'A', "devices allocated N (billed and exposed to failures)"),
    F(devices_per_host, "", 'A', 'R', "devices per host (the host Amdahl unit)"),
    F(mtbf_device, "h", 'P', 'R', "mean time between failures of one device"),
    F(mtbf_cpu, "h", 'P', 'A', "mean time between failures of one host CPU (0 = not counted)"),
    F(devices_per_cpu, "", 'P', 'R', "devices per host CPU"),
    F(seq_fraction, "", 'P', 'A', "Amdahl sequential fraction s"),
    F(zero_stage, "", 'A', 'A', "ZeRO stage 0-3: what data parallelism shards"),
    F(state_bytes, "B", 'R', 'R', "training-state bytes per parameter (16: mixed-precision Adam)"),
    F(weight_bytes, "B", 'R', 'R', "bytes per working weight (part of state-bytes)"),
    F(grad_bytes, "B", 'R', 'R', "bytes per gradient (part of state-bytes)"),
    F(memory_headroom, "", 'A', 'A', "fraction of device memory kept free for buffers"),
    F(seq_len, "", 'A', 'A', "sequence length for activation memory (0 = ignore activations)"),
    F(micro_batch, "", 'A', 'A', "sequences per device per micro-step"),
    F(hidden, "", 'A', 'A', "model width (activation memory)"),
    F(layers, "", 'A', 'A', "layers (activation memory)"),
    F(heads, "", 'A', 'A', "attention heads (activation memory)"),
    F(recompute, "", 'A', 'A', "1: full activation recomputation"),
    F(extra_bytes, "B", 'A', 'A', "bytes per replica beyond per-parameter state and activations"),
    F(ckpt_bytes_per_param, "B", 'A', 'R', "checkpoint bytes per parameter (model-state mode)"),
    F(ckpt_factor, "", 'P', 'A', "fraction of the modelled checkpoint size actually written"),
    F(fs_bandwidth, "B/s", 'P', 'R', "checkpoint filesystem bandwidth"),
    F(recovery, "h", 'P', 'R', "time to recover from one interruption"),
    F(k_tol, "", 'P', 'A', "tolerated concurrent data-parallel group failures (K-of-N)"),
    F(lambda_shared, "1/h", 'A', 'A', "failure rate no group absorbs (filesystem, fabric)"),
    F(flops_per_dollar, "FLOP/$", 'R', 'A',
      "calibrated FLOP per dollar: cost = C / kappa (0 = off)"),
};

#undef F

const struct fg_plan_field *fg_plan_fields(size_t *n)
{
    *n = sizeof fields / sizeof fields[0];
    return fields;
}

const struct fg_plan_field *fg_plan_field_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!strcmp(fields[i].name, name))
            return &fields[i];
    return NULL;
}

double *fg_plan_field_ptr(struct fg_plan_params *p, const struct fg_plan_field *f)
{
    return (double *)(void *)((char *)p + f->offset);
}

static double field_value(const struct fg_plan_params *p, const struct fg_plan_field *f)
{
    double v;
    memcpy(&v, (const char *)p + f->offset, sizeof v);
    return v;
}

/* ---- presets ---- */

void fg_plan_defaults(struct fg_plan_params *p, enum fg_plan_preset preset)
{
    memset(p, 0, sizeof *p);
    p->experts = 1.0;
    p->tokens_per_param = 20.0;
    p->gamma = 2.0;
    p->gamma_anchor = 70e9;
    p->flops_per_param_token = 6.0;
    p->device_memory = 80e9;
    p->price = 2.5;
    p->devices = 1024.0;
    p->devices_per_host = 8.0;
    p->devices_per_cpu = 4.0;
    p->state_bytes = 16.0;
    p->weight_bytes = 2.0;
    p->grad_bytes = 2.0;
    p->ckpt_bytes_per_param = 14.0;
    p->ckpt_factor = 1.0;
    p->interval = FG_PLAN_INTERVAL_DALY;
    if (preset == FG_PLAN_PRESET_REALISTIC) {
        p->peak_flops = 989e12; /* H100 SXM dense BF16 */
        p->mfu = 0.40;
        p->mtbf_device = 50000.0; /* all-cause, Llama 3 / Epoch AI */
        p->mtbf_cpu = 0.0;        /* folded into mtbf_device */
        p->seq_fraction = 0.0;
        p->amdahl = FG_PLAN_AMDAHL_NONE;
        p->recovery = 0.25;
        p->fs_bandwidth = 2e12;
        p->ckpt_mode = FG_PLAN_CKPT_MODEL_STATE;
        p->memory_headroom = 0.10;
    } else {
        p->sustained_flops = 150e12;
        p->mtbf_device = 950000.0;
        p->mtbf_cpu = 1500000.0;
        p->seq_fraction = 0.01;
        p->amdahl = FG_PLAN_AMDAHL_REPLICA;
        p->recovery = 2.0;
        p->fs_bandwidth = 500e9;
        p->ckpt_mode = FG_PLAN_CKPT_DEVICE_MEMORY;
    }
}

/* ---- a frugal model ---- */

fg_status fg_plan_from_model(struct fg_plan_params *p, const struct fg_model_config *cfg, size_t B,
                             size_t T, double steps, char *err, size_t errlen)
{
    struct fg_model_mem mem;
    if (B == 0 || T == 0 || !(steps >= 1.0) || fg_model_mem_size(cfg, B, T, 1, &mem) != FG_OK) {
        if (err && errlen)
            snprintf(err, errlen, "bad model config, batch %zu x %zu or steps %g", B, T, steps);
        return FG_ERR_INVALID_ARG;
    }
    double tokens = steps * (double)B * (double)T;
    p->params = (double)mem.n_params;
    p->active_params = 0.0;
    p->experts = 1.0;
    p->tokens = tokens;
    p->train_flops = tokens * fg_model_flops_per_token(cfg, T);
    p->state_bytes = 16.0;
    p->weight_bytes = 4.0;
    p->grad_bytes = 4.0;
    p->seq_len = 0.0;
    /* fp32 AdamW moments are 2 x param_bytes; everything the trainer holds is then
     * 16 params + extra = total_bytes + 2 param_bytes */
    p->extra_bytes = (double)mem.total_bytes + 2.0 * (double)mem.param_bytes - 16.0 * p->params;
    p->ckpt_mode = FG_PLAN_CKPT_MODEL_STATE;
    p->ckpt_bytes_per_param = 12.0;
    p->devices = 1.0;
    p->k_tol = 0.0;
    return FG_OK;
}

/* ---- validation ---- */

static fg_status bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FG_ERR_INVALID_ARG;
}

static int is_int(double v)
{
    return v == floor(v);
}

static fg_status validate(const struct fg_plan_params *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        double v = field_value(p, &fields[i]);
        if (!isfinite(v))
            return bad(err, errlen, "%s is %g: give a finite number", fields[i].name, v);
        if (v < 0.0)
            return bad(err, errlen, "%s is %g: it cannot be negative", fields[i].name, v);
    }
    if (p->params <= 0.0)
        return bad(err, errlen, "params is %g: give the model's parameter count (> 0)", p->params);
    if (p->experts < 1.0)
        return bad(err, errlen, "experts is %g: 1 for a dense model, K >= 1 for MoE", p->experts);
    if (p->active_params > p->params)
        return bad(err, errlen, "active_params %g exceeds params %g", p->active_params, p->params);
    if (p->train_flops == 0.0) {
        if (p->flops_per_param_token <= 0.0)
            return bad(err, errlen, "flops_per_param_token must be > 0 (6 for training)");
        if (p->tokens == 0.0) {
            if (p->tokens_per_param <= 0.0)
                return bad(err, errlen, "give tokens or tokens_per_param (> 0)");
            if (p->gamma < 1.0 || p->gamma > 3.0)
                return bad(err, errlen, "gamma is %g: the token-scaling exponent lies in [1, 3]",
                           p->gamma);
            if (p->gamma_anchor <= 0.0)
                return bad(err, errlen, "gamma_anchor must be > 0");
        }
    }
    if (p->mfu > 1.0)
        return bad(err, errlen, "mfu is %g: utilization cannot exceed 1 (40%% is 0.4)", p->mfu);
    if (p->sustained_flops == 0.0 && (p->peak_flops == 0.0 || p->mfu == 0.0))
        return bad(err, errlen,
                   "no device speed: give sustained_flops, or peak_flops and mfu (both > 0)");
    if (p->device_memory <= 0.0)
        return bad(err, errlen, "device_memory must be > 0 bytes");
    if (p->devices < 1.0 || !is_int(p->devices))
        return bad(err, errlen, "devices is %g: give a whole number >= 1", p->devices);
    if (p->devices_per_host < 1.0 || !is_int(p->devices_per_host))
        return bad(err, errlen, "devices_per_host is %g: give a whole number >= 1",
                   p->devices_per_host);
    if (p->mtbf_device <= 0.0)
        return bad(err, errlen, "mtbf_device must be > 0 hours");
    if (p->mtbf_cpu > 0.0 && p->devices_per_cpu <= 0.0)
        return bad(err, errlen, "devices_per_cpu must be > 0 when mtbf_cpu is set");
    if (p->seq_fraction >= 1.0)
        return bad(err, errlen, "seq_fraction is %g: Amdahl's sequential fraction is below 1",
                   p->seq_fraction);
    if (p->zero_stage > 3.0 || !is_int(p->zero_stage))
        return bad(err, errlen, "zero_stage is %g: give 0, 1, 2 or 3", p->zero_stage);
    if (p->state_bytes <= 0.0 || p->weight_bytes + p->grad_bytes > p->state_bytes)
        return bad(err, errlen,
                   "state_bytes %g must be > 0 and hold weight_bytes + grad_bytes (%g + %g)",
                   p->state_bytes, p->weight_bytes, p->grad_bytes);
    if (p->memory_headroom >= 1.0)
        return bad(err, errlen, "memory_headroom is %g: a fraction below 1", p->memory_headroom);
    if (p->seq_len > 0.0 &&
        (p->micro_batch <= 0.0 || p->hidden <= 0.0 || p->layers <= 0.0 || p->heads <= 0.0))
        return bad(err, errlen,
                   "activation memory needs micro_batch, hidden, layers and heads (> 0) with "
                   "seq_len; or seq_len 0 to leave activations out");
    if (p->recompute != 0.0 && p->recompute != 1.0)
        return bad(err, errlen, "recompute is %g: 0 or 1", p->recompute);
    if (p->ckpt_mode == FG_PLAN_CKPT_MODEL_STATE && p->ckpt_bytes_per_param <= 0.0)
        return bad(err, errlen, "ckpt_bytes_per_param must be > 0 for model-state checkpoints");
    if (p->ckpt_factor <= 0.0 || p->ckpt_factor > 1.0)
        return bad(err, errlen, "ckpt_factor is %g: a fraction in (0, 1]", p->ckpt_factor);
    if (p->fs_bandwidth <= 0.0)
        return bad(err, errlen, "fs_bandwidth must be > 0 bytes/s");
    if (!is_int(p->k_tol))
        return bad(err, errlen, "k_tol is %g: give a whole number of groups", p->k_tol);
    if ((unsigned)p->amdahl > FG_PLAN_AMDAHL_REPLICA || (unsigned)p->ckpt_mode > 1u ||
        (unsigned)p->interval > 1u)
        return bad(err, errlen, "unknown amdahl, ckpt_mode or interval choice");
    return FG_OK;
}

/* ---- the pipeline ---- */

/* Model-state + activation bytes per device with G devices per replica and D replicas. */
static double mem_per_device(const struct fg_plan_params *p, double act_total, double G, double D,
                             double *w, double *g, double *o, double *a)
{
    double psi = p->params / G;
    double ob = p->state_bytes - p->weight_bytes - p->grad_bytes;
    int stage = (int)p->zero_stage;
    double nd = D > 0.0 ? D : 1.0;
    *w = p->weight_bytes * psi / (stage >= 3 ? nd : 1.0);
    *g = p->grad_bytes * psi / (stage >= 2 ? nd : 1.0);
    *o = ob * psi / (stage >= 1 ? nd : 1.0);
    *a = act_total / G;
    return *w + *g + *o + *a;
}

fg_status fg_plan_compute(const struct fg_plan_params *p, struct fg_plan_result *out, char *err,
                          size_t errlen)
{
    fg_status st = validate(p, err, errlen);
    if (st != FG_OK)
        return st;
    struct fg_plan_result r;
    memset(&r, 0, sizeof r);

    /* 1. compute */
    r.active_params = p->active_params > 0.0 ? p->active_params : p->params / p->experts;
    if (p->tokens > 0.0)
        r.tokens = p->tokens;
    else
        r.tokens = p->tokens_per_param * p->gamma_anchor *
                   pow(p->params / p->gamma_anchor, p->gamma - 1.0);
    r.train_flops = p->train_flops > 0.0 ? p->train_flops
                                         : p->flops_per_param_token * r.active_params * r.tokens;
    r.sustained_flops = p->sustained_flops > 0.0 ? p->sustained_flops : p->peak_flops * p->mfu;
    r.device_hours_ideal = r.train_flops / (r.sustained_flops * 3600.0);
    r.cost_ideal = r.device_hours_ideal * p->price;
    r.cost_kappa = p->flops_per_dollar > 0.0 ? r.train_flops / p->flops_per_dollar : 0.0;

    /* 2. replicas and memory: the smallest replica whose per-device share fits */
    double avail = p->device_memory * (1.0 - p->memory_headroom);
    double act_total = 0.0;
    if (p->seq_len > 0.0) {
        r.mem_activations_full = p->layers * fg_plan_activation_bytes(p->seq_len, p->micro_batch,
                                                                      p->hidden, p->heads, 0);
        r.mem_activations_recompute =
            p->layers *
            fg_plan_activation_bytes(p->seq_len, p->micro_batch, p->hidden, p->heads, 1);
        act_total = p->recompute != 0.0 ? r.mem_activations_recompute : r.mem_activations_full;
    }
    act_total += p->extra_bytes;
    double N = p->devices, w, g, o, a;
    /* Closed form with D ~ N / G (exact for stage 0), then step up while the floor of N / G
     * leaves it short: a/G + b <= avail, b = the data-parallel-sharded part at D = N / G. */
    double ob = p->state_bytes - p->weight_bytes - p->grad_bytes;
    int stage = (int)p->zero_stage;
    double per_g =
        act_total + p->params * ((stage >= 3 ? 0.0 : p->weight_bytes) +
                                 (stage >= 2 ? 0.0 : p->grad_bytes) + (stage >= 1 ? 0.0 : ob));
    double shared = p->params *
                    ((stage >= 3 ? p->weight_bytes : 0.0) + (stage >= 2 ? p->grad_bytes : 0.0) +
                     (stage >= 1 ? ob : 0.0)) /
                    N;
    double G = avail > shared ? ceil(per_g / (avail - shared)) : HUGE_VAL;
    if (G < 1.0)
        G = 1.0;
    for (int i = 0; i < 64 && G <= N; i++) {
        if (mem_per_device(p, act_total, G, floor(N / G), &w, &g, &o, &a) <= avail)
            break;
        G += 1.0;
    }
    r.replica_devices = G;
    if (!(G <= N)) {
        /* does not fit on this cluster: G is the smallest replica that would fit at stage 0 */
        if (!isfinite(G))
            r.replica_devices = ceil((p->params * p->state_bytes + act_total) / avail);
        r.fits = 0;
        *out = r;
        return FG_OK;
    }
    r.replicas = floor(N / G);
    r.devices_used = r.replicas * G;
    r.mem_total = mem_per_device(p, act_total, G, r.replicas, &r.mem_weights, &r.mem_grads,
                                 &r.mem_optimizer, &r.mem_activations);
    r.fits = r.mem_total <= avail;
    if (p->k_tol >= r.replicas)
        return bad(err, errlen,
                   "k_tol is %g but there are only %g data-parallel groups: tolerate fewer "
                   "failures than groups",
                   p->k_tol, r.replicas);

    /* 3. failure-free time */
    double units = 1.0;
    switch (p->amdahl) {
    case FG_PLAN_AMDAHL_DEVICE:
        units = r.devices_used;
        break;
    case FG_PLAN_AMDAHL_HOST:
        units = ceil(r.devices_used / p->devices_per_host);
        break;
    case FG_PLAN_AMDAHL_REPLICA:
        units = r.replicas;
        break;
    default:
        break;
    }
    r.amdahl = 1.0 + p->seq_fraction * (units - 1.0);
    r.efficiency = 1.0 / r.amdahl;
    r.solve_hours = r.train_flops / (r.devices_used * r.sustained_flops) * r.amdahl / 3600.0;

    /* 4. failures */
    /* lambda_shared: failures no data-parallel group absorbs (filesystem, fabric) */
    r.mtti = 1.0 / (1.0 / fg_plan_mtti(N, p->mtbf_device, p->mtbf_cpu, p->devices_per_cpu) +
                    p->lambda_shared);
    double dilate = 1.0;
    r.mtti_effective = r.mtti;
    if (p->k_tol > 0.0) {
        double lambda_groups = 1.0 / r.mtti - p->lambda_shared;
        double m = fg_plan_kofn_mtti(lambda_groups, r.replicas, p->recovery, p->k_tol, &r.rho);
        r.mtti_effective = 1.0 / (1.0 / m + p->lambda_shared);
        dilate = 1.0 + r.rho;
    }

    /* 5. checkpoints */
    r.ckpt_bytes = (p->ckpt_mode == FG_PLAN_CKPT_MODEL_STATE ? p->params * p->ckpt_bytes_per_param
                                                             : N * p->device_memory) *
                   p->ckpt_factor;
    r.ckpt_write_s = r.ckpt_bytes / p->fs_bandwidth;
    double delta = r.ckpt_write_s / 3600.0, M = r.mtti_effective;
    if (!isfinite(M)) {
        /* no interruption expected (K-of-N absorbs every failure, e.g. recovery 0): Daly's
         * limit for M -> infinity: no checkpoint is needed during the run, T_w = T_s */
        r.ckpt_interval = r.solve_hours;
        r.wall_hours = dilate * r.solve_hours;
    } else {
        r.ckpt_interval = p->interval == FG_PLAN_INTERVAL_YOUNG ? fg_plan_young_interval(delta, M)
                                                                : fg_plan_daly_interval(delta, M);
        /* 6. wall time */
        r.wall_hours =
            dilate * fg_plan_daly_wall(r.solve_hours, delta, M, p->recovery, r.ckpt_interval);
    }
    r.dilation = r.wall_hours / r.solve_hours;
    r.ettr = r.solve_hours / r.wall_hours;
    r.interruptions = r.wall_hours / M;
    r.wall_days = r.wall_hours / 24.0;

    /* 7. the bill */
    r.device_hours = N * r.wall_hours;
    r.cost = r.device_hours * p->price;
    *out = r;
    return FG_OK;
}
