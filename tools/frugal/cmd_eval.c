/* frugal eval and frugal sample: load a checkpoint's weights into an inference-only model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "frugal/kernels.h"
#include "frugal/train.h"

static fg_status load_model(const char *ckpt, size_t B, size_t T, int threads,
                            struct fg_model **out, const char *cmd)
{
    struct fg_model_config cfg;
    char err[1024];
    *out = NULL;
    fg_status st = fg_ckpt_read_config(ckpt, &cfg, err, sizeof err);
    if (st) {
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        return st;
    }
    if (T > (size_t)cfg.block_size) {
        fprintf(stderr, "frugal %s: --seq %zu exceeds the model's block size %d\n", cmd, T,
                cfg.block_size);
        return FG_ERR_INVALID_ARG;
    }
    if (T == 0)
        T = (size_t)cfg.block_size;
    struct fg_model_params mp = fg_model_params_default();
    mp.cfg = cfg;
    mp.B = B;
    mp.T = T;
    mp.training = 0;
    mp.n_threads = threads;
    if ((st = fg_model_init(out, &mp)) != FG_OK) {
        fprintf(stderr, "frugal %s: cannot create the model: %s\n", cmd, fg_status_str(st));
        return st;
    }
    if ((st = fg_ckpt_load(ckpt, *out, NULL, NULL, NULL, err, sizeof err)) != FG_OK) {
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        fg_model_free(*out);
        *out = NULL;
    }
    fg_kernels_set_blas_threads(threads);
    return st;
}

int cmd_eval(int argc, char **argv)
{
    const char *ckpt = NULL, *data = NULL;
    size_t B = 8, T = 0;
    int threads = fg_cpu_count(), max_batches = 0, json = 0;
    struct opt o[] = {
        { "--ckpt", OPT_STR, &ckpt, "FILE", "checkpoint to evaluate [required]", 0, 0, 0, 0 },
        { "--data", OPT_STR, &data, "FILE", "token shard to score [required]", 0, 0, 0, 0 },
        { "--batch", OPT_SIZE, &B, "B", "sequences per batch [8]", 1, 0, 0, 0 },
        { "--seq", OPT_SIZE, &T, "T", "tokens per sequence [block size]", 1, 0, 0, 0 },
        { "--max-batches", OPT_INT, &max_batches, "N", "score at most N batches, 0 = all [0]", 0, 0,
          0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads [all cores]", 1, 0, 0, 0 },
        { "--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0, 0, 0 },
    };
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, 2, o, sizeof o / sizeof o[0], "eval",
                       "--ckpt FILE --data FILE [options]",
                       "Mean next-token loss of a checkpoint over consecutive windows of a shard,\n"
                       "with perplexity, bits per token and (byte-level vocabulary) bits per byte.",
                       pos, 0, &n_pos);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!ckpt || !data) {
        fprintf(stderr, "frugal eval: --ckpt FILE and --data FILE are required\n");
        return EXIT_USAGE;
    }
    if (B > (1u << 24)) {
        fprintf(stderr, "frugal eval: --batch %zu is larger than the limit %u\n", B, 1u << 24);
        return EXIT_USAGE;
    }
    struct fg_model *m;
    fg_status st = load_model(ckpt, B, T, threads, &m, "eval");
    if (st)
        return cli_exit_code(st);
    T = m->T;
    struct fg_shard s;
    char err[1024];
    int32_t *in = malloc(B * T * sizeof *in), *tg = malloc(B * T * sizeof *tg);
    if (!in || !tg) {
        fprintf(stderr, "frugal eval: out of memory for a batch of %zu x %zu\n", B, T);
        st = FG_ERR_NOMEM;
        goto done;
    }
    if ((st = fg_shard_open(&s, data, m->cfg.vocab_size, err, sizeof err)) != FG_OK) {
        fprintf(stderr, "frugal eval: %s\n", err);
        goto done;
    }
    if (s.n_tokens < B * T + 1) {
        fprintf(stderr,
                "frugal eval: %s has %zu tokens; one batch of %zu x %zu needs %zu (lower "
                "--batch or --seq)\n",
                data, s.n_tokens, B, T, B * T + 1);
        st = FG_ERR_INVALID_ARG;
        fg_shard_close(&s);
        goto done;
    }
    double loss;
    uint64_t n;
    st = fg_eval_shard(m, &s, B, T, max_batches, in, tg, &loss, &n);
    fg_shard_close(&s);
    if (st) {
        fprintf(stderr, "frugal eval: %s\n", fg_model_errmsg(m));
        goto done;
    }
    double bpt = loss / log(2.0);
    if (json) {
        printf("{\"loss\":%.6f,\"perplexity\":%.4f,\"bits_per_token\":%.6f,", loss, exp(loss), bpt);
        if (m->cfg.vocab_size == 256)
            printf("\"bits_per_byte\":%.6f,", bpt);
        printf("\"tokens\":%llu}\n", (unsigned long long)n);
    } else {
        printf("tokens scored   %llu\nloss            %.4f nats/token\nperplexity      %.3f\n"
               "bits per token  %.4f\n",
               (unsigned long long)n, loss, exp(loss), bpt);
        if (m->cfg.vocab_size == 256)
            printf("bits per byte   %.4f\n", bpt);
        else
            printf("bits per byte   n/a (needs the tokenizer's bytes per token)\n");
    }
done:
    free(in);
    free(tg);
    fg_model_free(m);
    return cli_exit_code(st);
}

int cmd_sample(int argc, char **argv)
{
    const char *ckpt = NULL, *prompt = "\n", *prompt_ids = NULL;
    int n_tokens = 200, top_k = 40, threads = fg_cpu_count();
    float temperature = 0.8f;
    uint64_t seed = 1;
    struct opt o[] = {
        { "--ckpt", OPT_STR, &ckpt, "FILE", "checkpoint [required]", 0, 0, 0, 0 },
        { "--prompt", OPT_STR, &prompt, "TEXT",
          "text to continue (bytes for a byte vocabulary) "
          "[newline]",
          0, 0, 0, 0 },
        { "--prompt-ids", OPT_STR, &prompt_ids, "LIST",
          "prompt as comma-separated token ids "
          "(models without a byte vocabulary)",
          0, 0, 0, 0 },
        { "--n", OPT_INT, &n_tokens, "N", "tokens to generate [200]", 1, 0, 0, 0 },
        { "--temperature", OPT_FLOAT, &temperature, "X", "softmax temperature [0.8]", 0, 1, 0, 0 },
        { "--top-k", OPT_INT, &top_k, "K", "sample among the K likeliest, 0 = all [40]", 0, 0, 0,
          0 },
        { "--seed", OPT_U64, &seed, "N", "sampling seed [1]", 0, 0, 0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads [all cores]", 1, 0, 0, 0 },
    };
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, 2, o, sizeof o / sizeof o[0], "sample",
                       "--ckpt FILE [--prompt TEXT] [options]",
                       "Generate a continuation of the prompt, one token at a time (temperature\n"
                       "and top-k sampling). A byte-level model prints bytes; others print ids.",
                       pos, 0, &n_pos);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!ckpt) {
        fprintf(stderr, "frugal sample: --ckpt FILE is required\n");
        return EXIT_USAGE;
    }
    struct fg_model *m;
    fg_status st = load_model(ckpt, 1, 0, threads, &m, "sample");
    if (st)
        return cli_exit_code(st);
    size_t T = m->T, V = (size_t)m->cfg.vocab_size, plen = strlen(prompt);
    int byte_level = V == 256;
    if (!byte_level && !prompt_ids) {
        fprintf(stderr,
                "frugal sample: this model's vocabulary has %zu tokens, not bytes: give the "
                "prompt as --prompt-ids (text prompts need a tokenizer)\n",
                V);
        fg_model_free(m);
        return EXIT_USAGE;
    }
    if (prompt_ids)
        plen = strlen(prompt_ids); /* an upper bound on the number of ids */
    size_t cap = plen + (size_t)n_tokens + 1;
    int32_t *ctx = malloc(cap * sizeof *ctx);
    float *probs = malloc(V * sizeof *probs);
    if (!ctx || !probs) {
        fprintf(stderr, "frugal sample: out of memory\n");
        free(ctx);
        free(probs);
        fg_model_free(m);
        return EXIT_FAIL;
    }
    size_t len = 0;
    if (prompt_ids) {
        const char *s = prompt_ids;
        while (*s) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 0 || (size_t)v >= V || (*end && *end != ',')) {
                fprintf(stderr,
                        "frugal sample: --prompt-ids must be comma-separated ids in [0, "
                        "%zu)\n",
                        V);
                free(ctx);
                free(probs);
                fg_model_free(m);
                return EXIT_USAGE;
            }
            ctx[len++] = (int32_t)v;
            s = *end ? end + 1 : end;
        }
    } else {
        for (size_t i = 0; i < plen; i++)
            ctx[len++] = (int32_t)(unsigned char)prompt[i];
    }
    if (len == 0) {
        fprintf(stderr, "frugal sample: the prompt is empty\n");
        free(ctx);
        free(probs);
        fg_model_free(m);
        return EXIT_USAGE;
    }
    struct fg_rng rng;
    fg_rng_seed(&rng, seed);
    if (byte_level && !prompt_ids)
        fwrite(prompt, 1, plen, stdout);
    else
        for (size_t i = 0; i < len; i++)
            printf("%s%d", i ? " " : "", (int)ctx[i]);
    for (int k = 0; k < n_tokens; k++) {
        size_t start = len > T ? len - T : 0, n = len - start;
        if ((st = fg_model_forward(m, ctx + start, NULL, 1, n)) != FG_OK) {
            fprintf(stderr, "\nfrugal sample: %s\n", fg_model_errmsg(m));
            break;
        }
        const float *z = fg_model_logits(m) + (n - 1) * m->Vp;
        /* top-k threshold: the k-th largest logit (k small, selection by repeated scan) */
        float thresh = -INFINITY;
        if (top_k > 0 && (size_t)top_k < V) {
            float prev = INFINITY;
            for (int j = 0; j < top_k; j++) {
                float best = -INFINITY;
                for (size_t i = 0; i < V; i++)
                    if (z[i] < prev && z[i] > best)
                        best = z[i];
                prev = best;
            }
            thresh = prev;
        }
        float maxv = -INFINITY;
        for (size_t i = 0; i < V; i++)
            maxv = z[i] > maxv ? z[i] : maxv;
        double sum = 0;
        for (size_t i = 0; i < V; i++) {
            probs[i] = z[i] >= thresh ? expf((z[i] - maxv) / temperature) : 0.0f;
            sum += (double)probs[i];
        }
        double u = fg_rng_uniform(&rng) * sum, acc = 0;
        size_t pick = V - 1;
        for (size_t i = 0; i < V; i++) {
            acc += (double)probs[i];
            if (u < acc) {
                pick = i;
                break;
            }
        }
        ctx[len++] = (int32_t)pick;
        if (byte_level && !prompt_ids)
            putchar((int)pick);
        else
            printf(" %zu", pick);
        fflush(stdout);
    }
    putchar('\n');
    free(ctx);
    free(probs);
    fg_model_free(m);
    return cli_exit_code(st);
}
