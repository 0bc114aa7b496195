/* frugal planner: what a training run will cost before it starts.
 *
 * Compute (FLOPs, device-hours), memory per device (ZeRO stages, activations), time with
 * failures and checkpoints (mean time to interrupt, Young/Daly checkpoint interval, Daly's wall
 * time, K-of-N tolerance of data-parallel group failures), and dollars. Every function here is
 * pure: no allocation, no globals, no I/O; the same inputs give the same bits.
 *
 * Units: FLOP and bytes as doubles (decimal: 1 GB = 1e9 B), times in hours unless a name ends
 * in _s (seconds) or _days. docs/planner.md gives every formula with its source, the presets
 * and the provenance tags: P stated by the paper the `paper` preset reproduces (Faraboschi et
 * al., arXiv:2404.08811), R a standard formula or public figure reconstructed from a named
 * source, A an assumption of ours, U set by the user.
 */
#ifndef FRUGAL_PLAN_H
#define FRUGAL_PLAN_H

#include <stddef.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fg_plan_preset { FG_PLAN_PRESET_PAPER = 0, FG_PLAN_PRESET_REALISTIC = 1 };

/* What Amdahl's "processors" are: the sequential fraction applies over data-parallel replicas
 * (paper preset), over devices, over hosts, or not at all. */
enum fg_plan_amdahl {
    FG_PLAN_AMDAHL_NONE = 0,
    FG_PLAN_AMDAHL_DEVICE = 1,
    FG_PLAN_AMDAHL_HOST = 2,
    FG_PLAN_AMDAHL_REPLICA = 3
};

/* Checkpoint size: a fraction of all device memory (paper) or bytes per parameter. */
enum fg_plan_ckpt { FG_PLAN_CKPT_DEVICE_MEMORY = 0, FG_PLAN_CKPT_MODEL_STATE = 1 };

enum fg_plan_interval { FG_PLAN_INTERVAL_DALY = 0, FG_PLAN_INTERVAL_YOUNG = 1 };

/* Numeric inputs: one double each, so that a table (fg_plan_fields) can name, set, sweep and
 * print any of them. A field set to 0 where the table says "0 = derived" is computed. */
struct fg_plan_params {
    /* model and data */
    double params;                /* P: total parameters */
    double active_params;         /* parameters active per token; 0 = params / experts */
    double experts;               /* K: MoE experts, compute divides by K (1 = dense) */
    double tokens;                /* T: training tokens; 0 = from tokens_per_param and gamma */
    double tokens_per_param;      /* r: tokens per parameter at the anchor */
    double gamma;                 /* token-scaling exponent: C grows as P^gamma (2: T = r P) */
    double gamma_anchor;          /* P_ref where T = r P holds exactly */
    double flops_per_param_token; /* c_f: training FLOPs per active parameter per token (6) */
    double train_flops;           /* C given directly (e.g. a frugal model); 0 = c_f P_act T */
    /* hardware */
    double peak_flops;       /* peak FLOP/s per device */
    double mfu;              /* model FLOPs utilization; sustained = peak * mfu */
    double sustained_flops;  /* F: sustained FLOP/s per device; 0 = peak_flops * mfu */
    double device_memory;    /* bytes per device */
    double price;            /* $ per device-hour */
    double devices;          /* N: devices allocated (billed, exposed to failures) */
    double devices_per_host; /* for the host Amdahl unit */
    double mtbf_device;      /* hours, per device */
    double mtbf_cpu;         /* hours, per host CPU; 0 = off */
    double devices_per_cpu;  /* devices per host CPU */
    /* parallelism and memory */
    double seq_fraction;    /* s: Amdahl sequential fraction, 0 <= s < 1 */
    double zero_stage;      /* 0..3 */
    double state_bytes;     /* b_state: training-state bytes per parameter (16 mixed Adam) */
    double weight_bytes;    /* bytes per weight in the ZeRO split (2) */
    double grad_bytes;      /* bytes per gradient (2) */
    double memory_headroom; /* fraction of device memory kept free (buffers, fragmentation) */
    double seq_len;         /* activations: sequence length; 0 = ignore activations */
    double micro_batch;     /* activations: sequences per device per micro-step */
    double hidden;          /* activations: model width h */
    double layers;          /* activations: layers */
    double heads;           /* activations: attention heads a */
    double recompute;       /* 1: full activation recomputation (2 s b h bytes per layer kept) */
    double extra_bytes;     /* bytes per replica beyond the per-parameter state and the activation
                           formula (a frugal model: its activations, scratch and alignment,
                           from fg_model_mem_size) */
    /* checkpoints and failures */
    double ckpt_bytes_per_param; /* b_ckpt, model_state mode */
    double ckpt_factor;          /* f_ck: fraction of the modelled checkpoint size written */
    double fs_bandwidth;         /* bytes/s to the checkpoint filesystem */
    double recovery;             /* R: hours per interruption (detect, replace, restart) */
    double k_tol;                /* tolerated concurrent data-parallel group failures */
    double lambda_shared;        /* failures/hour of shared parts (filesystem, fabric): added to the
                             system's rate; K-of-N does not absorb them. 0 = none */
    /* cost calibration */
    double flops_per_dollar; /* kappa: a third cost path C / kappa; 0 = off */
    /* choices */
    enum fg_plan_amdahl amdahl;
    enum fg_plan_ckpt ckpt_mode;
    enum fg_plan_interval interval;
};

struct fg_plan_result {
    double train_flops;   /* C */
    double tokens;        /* T used */
    double active_params; /* P_active used */
    double sustained_flops;
    double device_hours_ideal; /* C / (F 3600) */
    double cost_ideal;         /* device_hours_ideal * price */
    double cost_kappa;         /* C / kappa (0 when kappa is off) */
    /* replicas and memory */
    double replica_devices;                       /* G: devices per model copy */
    double replicas;                              /* D = floor(N / G) */
    double devices_used;                          /* D G */
    double mem_weights, mem_grads, mem_optimizer; /* bytes per device under the ZeRO stage */
    double mem_activations;      /* bytes per device: activation formula + extra_bytes, over G */
    double mem_activations_full; /* without recomputation */
    double mem_activations_recompute; /* with full recomputation */
    double mem_total;                 /* weights + grads + optimizer + activations */
    int fits;                         /* mem_total <= device_memory * (1 - headroom) and G <= N */
    /* time */
    double amdahl;         /* A = 1 + s (units - 1) */
    double efficiency;     /* 1 / A */
    double solve_hours;    /* T_s: failure-free time */
    double mtti;           /* M: mean time to interrupt, hours (whole system) */
    double mtti_effective; /* M_eff with K-of-N (= mtti when k_tol = 0) */
    double rho;            /* per-group failure load lambda_g R (0 when k_tol = 0) */
    double ckpt_bytes;     /* S_ck */
    double ckpt_write_s;   /* delta, seconds */
    double ckpt_interval;  /* tau, hours of compute between checkpoints */
    double wall_hours;     /* T_w */
    double dilation;       /* T_w / T_s */
    double ettr;           /* T_s / T_w */
    double interruptions;  /* expected, T_w / M_eff */
    double device_hours;   /* billed: N T_w */
    double cost;           /* billed: device_hours * price */
    double wall_days;
};

/* Fills p with a preset (docs/planner.md, table of parameters). The model size is left 0. */
FG_API void fg_plan_defaults(struct fg_plan_params *p, enum fg_plan_preset preset);

/* The whole pipeline (compute, replicas and memory, time, checkpoints, failures, dollars).
 * Validates p first: on an inconsistent or out-of-range input returns FG_ERR_INVALID_ARG and
 * writes a one-line explanation naming the input and the fix into err (if errlen > 0); r is
 * then untouched. A model that does not fit is not an error: r->fits says it, with
 * r->replica_devices the devices one replica needs (exact at ZeRO stage 0, a lower bound for
 * stages 1-3, whose per-device share depends on the cluster size). When failures outpace
 * progress (recovery and checkpoints longer than the time between interrupts), wall_hours,
 * device_hours and cost are +inf: the run never finishes. */
FG_API fg_status fg_plan_compute(const struct fg_plan_params *p, struct fg_plan_result *r,
                                 char *err, size_t errlen);

struct fg_model_config;

/* One truth with the trainer: sets the model part of p for a frugal model trained on one
 * device for `steps` steps of B x T tokens with fp32 AdamW: params (fg_model_mem_size's count),
 * tokens, train_flops = steps B T fg_model_flops_per_token(cfg, T) (what `frugal train`
 * reports), state 16 B/param (4 weight, 4 gradient, 8 moments), extra_bytes = the rest of
 * fg_model_mem_size (activations, scratch, alignment), checkpoints of 12 B/param (weights and
 * moments) in model-state mode, devices 1, activation formula off. The hardware fields are
 * left as they are. FG_ERR_INVALID_ARG (with err) for a bad config. */
FG_API fg_status fg_plan_from_model(struct fg_plan_params *p, const struct fg_model_config *cfg,
                                    size_t B, size_t T, double steps, char *err, size_t errlen);

/* ---- building blocks (pure; used by fg_plan_compute and tested one by one) ---- */

/* Young's interval sqrt(2 delta M); delta and M in the same unit. */
FG_API double fg_plan_young_interval(double delta, double mtti);
/* Daly's (2006) higher-order interval: for delta < 2M,
 * sqrt(2 delta M) [1 + sqrt(delta / 2M) / 3 + (delta / 2M) / 9] - delta; else M. */
FG_API double fg_plan_daly_interval(double delta, double mtti);
/* Daly's expected wall time for solve time Ts, checkpoint time delta, restart R, interval tau,
 * exponential failures of mean M: M e^(R/M) (e^((tau + delta)/M) - 1) Ts / tau. */
FG_API double fg_plan_daly_wall(double solve, double delta, double mtti, double recovery,
                                double tau);
/* Mean time to interrupt of N devices in series, plus ceil(N / devices_per_cpu) host CPUs
 * (mtbf_cpu 0 = CPUs not counted). */
FG_API double fg_plan_mtti(double devices, double mtbf_device, double mtbf_cpu,
                           double devices_per_cpu);
/* K-of-N: the system interrupts only when more than k_tol of the D groups are down at once.
 * Returns M_eff (hours) and stores rho = lambda_g R. lambda_sys in failures per hour. Meant
 * for k_tol >= 1 (fg_plan_compute calls it only then); k_tol = 0 gives the rate of a first
 * failure while all groups are up, lambda_sys / (1 + rho)^D. */
FG_API double fg_plan_kofn_mtti(double lambda_sys, double replicas, double recovery, double k_tol,
                                double *rho);
/* Model-state bytes per device under ZeRO stage 0..3 for psi parameters over nd data-parallel
 * ranks, with weight, gradient and optimizer bytes per parameter. */
FG_API double fg_plan_zero_bytes(double psi, double nd, int stage, double weight_bytes,
                                 double grad_bytes, double optimizer_bytes);
/* Activation bytes per layer (Korthikanti et al. 2022, no tensor parallelism):
 * s b h (34 + 5 a s / h), or 2 s b h with full recomputation. */
FG_API double fg_plan_activation_bytes(double seq_len, double micro_batch, double hidden,
                                       double heads, int recompute);
/* MFU back-computed from a report: C / (device_hours 3600 peak). */
FG_API double fg_plan_mfu_from_report(double train_flops, double device_hours, double peak_flops);

/* ---- projection over years (the paper's Table 1 scenarios) ---- */

/* Compute-cost calibration constants (FLOP per dollar) that reproduce the paper's four dollar
 * figures within 2% (docs/planner.md): cloud prices and GPU cost. */
#define FG_PLAN_KAPPA_CLOUD 7.6e17
#define FG_PLAN_KAPPA_GPU   3.63e18

struct fg_plan_projection {
    double year0;                 /* base year */
    double params0;               /* parameters in year0 */
    double params_growth;         /* parameter growth per year (factor) */
    double experts0;              /* MoE experts in year0 (>= 1) */
    double experts_per_year;      /* additional experts per year (scenario) */
    double tokens_per_param;      /* r (scenario); compute = c_f r P^2 / K */
    double flops_per_param_token; /* c_f (6) */
    double kappa0;                /* FLOP per dollar in year0 */
    double hw_growth;             /* FLOP-per-dollar improvement per year (factor) */
};

/* The three scenarios of the paper's Table 1, paired in order: S1 8 experts/year and 20
 * tokens/param, S2 4 and 40, S3 0 and 120 (index 0..2); the other fields get the documented
 * assumptions (year0 2024, 1.8e12 parameters and 16 experts in year0, parameters x2 per year,
 * FLOP per dollar x1.32 per year) and kappa0 = FG_PLAN_KAPPA_CLOUD. */
FG_API void fg_plan_projection_scenario(struct fg_plan_projection *pj, int scenario);

/* Parameters, experts, training FLOPs and dollars of the model of `year`. */
FG_API void fg_plan_project(const struct fg_plan_projection *pj, double year, double *params,
                            double *experts, double *flops, double *dollars);

/* ---- the input table: names, units, presets and provenance, for CLIs and reports ---- */

struct fg_plan_field {
    const char *name; /* flag name without dashes, e.g. "params" */
    size_t offset;    /* offsetof(struct fg_plan_params, ...) of a double */
    const char *unit; /* "", "FLOP/s", "B", "h", "$/h" ... */
    char tag_paper;   /* provenance of the paper preset's value: 'P', 'R' or 'A' */
    char tag_realistic;
    const char *help;
};

/* The table of numeric inputs; *n receives its length. */
FG_API const struct fg_plan_field *fg_plan_fields(size_t *n);
/* The field called name, or NULL (also for a NULL name). */
FG_API const struct fg_plan_field *fg_plan_field_find(const char *name);
/* Pointer to the double a field describes, inside p. */
FG_API double *fg_plan_field_ptr(struct fg_plan_params *p, const struct fg_plan_field *f);

#ifdef __cplusplus
}
#endif
#endif
