/* frugal eval and frugal sample: load a checkpoint's weights into an inference-only model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "frugal/kernels.h"
#include "frugal/tokenizer.h"
#include "frugal/train.h"

#define ATTN_AUTO (-1) /* --attention auto: settled by load_model once the shape is known */

/* --dtype and --attention into *matmul and *attention; an exit code */
static int parse_kernels(const char *cmd, const char *dtype, const char *attention, int *matmul,
                         int *attn)
{
    if (dtype && fg_train_dtype_parse(dtype, matmul) != FG_OK) {
        fprintf(stderr, "frugal %s: unknown --dtype '%s' (fp32 or bf16)\n", cmd, dtype);
        return EXIT_USAGE;
    }
    if (!attention || !strcmp(attention, "auto")) {
        *attn = ATTN_AUTO;
    } else if (fg_train_attention_parse(attention, attn) != FG_OK) {
        fprintf(stderr, "frugal %s: unknown --attention '%s' (standard, tiled or auto)\n", cmd,
                attention);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* *attention_io: a kernel, or ATTN_AUTO (then set to the kernel chosen) */
static fg_status load_model(const char *ckpt, size_t B, size_t T, int threads, int matmul,
                            int *attention_io, struct fg_model **out, const char *cmd)
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
    mp.matmul = matmul;
    if (*attention_io == ATTN_AUTO)
        *attention_io = fg_model_attention_auto(&cfg, T);
    int attention = *attention_io;
    mp.attention = attention;
    if (attention == FG_MODEL_ATTN_TILED &&
        !fg_attention_tiled_supported((size_t)cfg.n_embd, (size_t)cfg.n_head)) {
        fprintf(stderr,
                "frugal %s: --attention tiled takes heads of at most %d channels; this "
                "model's are %d: use --attention standard\n",
                cmd, FG_ATTENTION_TILED_MAX_HS, cfg.n_embd / cfg.n_head);
        return FG_ERR_INVALID_ARG;
    }
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

/* --tokenizer NAME (gpt2 or a tokenizer.json) and --vocab DIR: load the tokenizer, check that
 * the model can emit every id of it. Returns an exit code (EXIT_OK with *out NULL when no
 * tokenizer was asked for). */
static int open_tokenizer(const char *cmd, const char *name, const char *vocab,
                          const struct fg_model *m, struct fg_tokenizer **out)
{
    *out = NULL;
    if (!name) {
        if (vocab) {
            fprintf(stderr, "frugal %s: --vocab needs --tokenizer gpt2\n", cmd);
            return EXIT_USAGE;
        }
        return EXIT_OK;
    }
    struct cli_vocab v = { 0 };
    if (!strcmp(name, "gpt2"))
        v.dir = vocab;
    else if (vocab) {
        fprintf(stderr,
                "frugal %s: --vocab goes with --tokenizer gpt2, not with a tokenizer.json\n", cmd);
        return EXIT_USAGE;
    } else
        v.json = name;
    int rc = cli_load_tokenizer(cmd, &v, 1, out);
    if (rc)
        return rc;
    size_t nv = fg_tokenizer_n_vocab(*out);
    if (nv > (size_t)m->cfg.vocab_size) {
        fprintf(stderr,
                "frugal %s: the tokenizer %s has %zu ids but the model only %d: give the "
                "tokenizer the model was trained with\n",
                cmd, name, nv, m->cfg.vocab_size);
        fg_tokenizer_free(*out);
        *out = NULL;
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
    const char *ckpt = NULL, *data = NULL, *tok_name = NULL, *vocab = NULL;
    size_t B = 8, T = 0;
    int threads = fg_cpu_count(), max_batches = 0, json = 0, matmul = FG_MODEL_MATMUL_FP32;
    int attn = FG_MODEL_ATTN_STANDARD;
    const char *dtype = NULL, *attention = NULL;
    struct opt o[] = {
        { "--ckpt", OPT_STR, &ckpt, "FILE", "checkpoint to evaluate [required]", 0, 0, 0, 0 },
        { "--data", OPT_STR, &data, "FILE", "token shard to score [required]", 0, 0, 0, 0 },
        { "--batch", OPT_SIZE, &B, "B", "sequences per batch [8]", 1, 0, 0, 0 },
        { "--seq", OPT_SIZE, &T, "T", "tokens per sequence [block size]", 1, 0, 0, 0 },
        { "--max-batches", OPT_INT, &max_batches, "N", "score at most N batches, 0 = all [0]", 0, 0,
          0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads [all cores]", 1, 0, 0, 0 },
        { "--dtype", OPT_STR, &dtype, "D",
          "products' operands: fp32, or bf16 as frugal train --dtype bf16 [fp32]", 0, 0, 0, 0 },
        { "--attention", OPT_STR, &attention, "K",
          "standard, tiled (no T x T probabilities: long --seq) or auto (tiled from --seq "
          "2048) [auto]",
          0, 0, 0, 0 },
        { "--tokenizer", OPT_STR, &tok_name, "NAME",
          "gpt2 or a tokenizer.json: also report bits per byte of text", 0, 0, 0, 0 },
        { "--vocab", OPT_STR, &vocab, "DIR",
          "gpt2: directory with encoder.json and vocab.bpe [data/gpt2]", 0, 0, 0, 0 },
        { "--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0, 0, 0 },
    };
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(
        argc, argv, 2, o, sizeof o / sizeof o[0], "eval", "--ckpt FILE --data FILE [options]",
        "Mean next-token loss of a checkpoint over consecutive windows of a shard,\n"
        "with perplexity, bits per token and bits per byte of text: for a byte-level\n"
        "vocabulary directly; otherwise with --tokenizer, from the bytes the scored\n"
        "tokens decode to (<|endoftext|> counts as 0 bytes, so the figure errs\n"
        "high).",
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
    if ((rc = parse_kernels("eval", dtype, attention, &matmul, &attn)) != EXIT_OK)
        return rc;
    struct fg_model *m;
    fg_status st = load_model(ckpt, B, T, threads, matmul, &attn, &m, "eval");
    if (st)
        return cli_exit_code(st);
    T = m->T;
    struct fg_shard s;
    struct fg_tokenizer *tok = NULL;
    char err[1024];
    int32_t *in = NULL, *tg = NULL;
    if ((rc = open_tokenizer("eval", tok_name, vocab, m, &tok)) != EXIT_OK) {
        fg_model_free(m);
        return rc;
    }
    in = malloc(B * T * sizeof *in);
    tg = malloc(B * T * sizeof *tg);
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
    /* bytes of text behind the scored targets: windows k = 0.. of fg_eval_shard, n tokens */
    uint64_t text_bytes = 0;
    if (!st && tok) {
        uint32_t eot = fg_tokenizer_eot_id(tok);
        for (size_t k = 0; (uint64_t)k * B * T < n && fg_shard_window(&s, k, B, T, in, tg); k++)
            for (size_t i = 0; i < B * T; i++) {
                size_t len = 0;
                if ((uint32_t)tg[i] != eot && fg_tokenizer_token_bytes(tok, (uint32_t)tg[i], &len))
                    text_bytes += len;
            }
    }
    fg_shard_close(&s);
    if (st) {
        fprintf(stderr, "frugal eval: %s\n", fg_model_errmsg(m));
        goto done;
    }
    double bpt = loss / log(2.0);
    double bpb = m->cfg.vocab_size == 256 && !tok ? bpt
                 : text_bytes                     ? bpt * (double)n / (double)text_bytes
                                                  : -1.0;
    if (json) {
        printf("{\"loss\":%.6f,\"perplexity\":%.4f,\"bits_per_token\":%.6f,", loss, exp(loss), bpt);
        if (bpb >= 0)
            printf("\"bits_per_byte\":%.6f,\"nats_per_byte\":%.6f,", bpb, bpb * log(2.0));
        if (tok)
            printf("\"text_bytes\":%llu,", (unsigned long long)text_bytes);
        printf("\"tokens\":%llu,\"dtype\":\"%s\",\"attention\":\"%s\"}\n", (unsigned long long)n,
               fg_train_dtype_name(matmul), fg_train_attention_name(attn));
    } else {
        printf("tokens scored   %llu\nloss            %.4f nats/token\nperplexity      %.3f\n"
               "bits per token  %.4f\n",
               (unsigned long long)n, loss, exp(loss), bpt);
        if (tok)
            printf("text bytes      %llu (%.3f per token)\n", (unsigned long long)text_bytes,
                   (double)text_bytes / (double)n);
        if (bpb >= 0)
            printf("bits per byte   %.4f\nnats per byte   %.4f\n", bpb, bpb * log(2.0));
        else
            printf("bits per byte   n/a (give --tokenizer: the bytes per token are needed)\n");
    }
done:
    free(in);
    free(tg);
    fg_tokenizer_free(tok);
    fg_model_free(m);
    return cli_exit_code(st);
}

int cmd_sample(int argc, char **argv)
{
    const char *ckpt = NULL, *prompt = "\n", *prompt_ids = NULL, *tok_name = NULL, *vocab = NULL;
    int n_tokens = 200, top_k = 40, threads = fg_cpu_count(), matmul = FG_MODEL_MATMUL_FP32;
    int attn = FG_MODEL_ATTN_STANDARD;
    const char *dtype = NULL, *attention = NULL;
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
        { "--tokenizer", OPT_STR, &tok_name, "NAME",
          "gpt2 or a tokenizer.json: encode the prompt, print text", 0, 0, 0, 0 },
        { "--vocab", OPT_STR, &vocab, "DIR",
          "gpt2: directory with encoder.json and vocab.bpe [data/gpt2]", 0, 0, 0, 0 },
        { "--n", OPT_INT, &n_tokens, "N", "tokens to generate [200]", 1, 0, 0, 0 },
        { "--temperature", OPT_FLOAT, &temperature, "X", "softmax temperature [0.8]", 0, 1, 0, 0 },
        { "--top-k", OPT_INT, &top_k, "K", "sample among the K likeliest, 0 = all [40]", 0, 0, 0,
          0 },
        { "--seed", OPT_U64, &seed, "N", "sampling seed [1]", 0, 0, 0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads [all cores]", 1, 0, 0, 0 },
        { "--dtype", OPT_STR, &dtype, "D",
          "products' operands: fp32, or bf16 as frugal train --dtype bf16 [fp32]", 0, 0, 0, 0 },
        { "--attention", OPT_STR, &attention, "K",
          "standard, tiled or auto (tiled from a block size of 2048) [auto]", 0, 0, 0, 0 },
    };
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(
        argc, argv, 2, o, sizeof o / sizeof o[0], "sample", "--ckpt FILE [--prompt TEXT] [options]",
        "Generate a continuation of the prompt, one token at a time (temperature\n"
        "and top-k sampling). A byte-level model prints bytes; a model trained on BPE\n"
        "tokens prints text with --tokenizer (the one its data was prepared with;\n"
        "<|endoftext|> prints as a blank line), ids without it.\n\n"
        "example:\n"
        "  frugal sample --ckpt runs/austen/ckpt_002100.safetensors \\\n"
        "      --tokenizer runs/austen/tokenizer.json --prompt \"It is a truth\"",
        pos, 0, &n_pos);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!ckpt) {
        fprintf(stderr, "frugal sample: --ckpt FILE is required\n");
        return EXIT_USAGE;
    }
    if ((rc = parse_kernels("sample", dtype, attention, &matmul, &attn)) != EXIT_OK)
        return rc;
    struct fg_model *m;
    fg_status st = load_model(ckpt, 1, 0, threads, matmul, &attn, &m, "sample");
    if (st)
        return cli_exit_code(st);
    size_t T = m->T, V = (size_t)m->cfg.vocab_size, plen = strlen(prompt);
    struct fg_tokenizer *tok = NULL;
    if ((rc = open_tokenizer("sample", tok_name, vocab, m, &tok)) != EXIT_OK) {
        fg_model_free(m);
        return rc;
    }
    if (tok && prompt_ids) {
        fprintf(stderr, "frugal sample: give the prompt as --prompt TEXT with --tokenizer, not as "
                        "--prompt-ids\n");
        fg_tokenizer_free(tok);
        fg_model_free(m);
        return EXIT_USAGE;
    }
    int byte_level = V == 256 && !tok, text = byte_level || tok;
    uint32_t eot = tok ? fg_tokenizer_eot_id(tok) : 0;
    if (!text && !prompt_ids) {
        fprintf(stderr,
                "frugal sample: this model's vocabulary has %zu tokens, not bytes: give the "
                "prompt as --prompt-ids, or give --tokenizer (the one its data was prepared "
                "with)\n",
                V);
        fg_model_free(m);
        return EXIT_USAGE;
    }
    if (prompt_ids)
        plen = strlen(prompt_ids); /* an upper bound on the number of ids */
    size_t cap = plen + (size_t)n_tokens + 1;
    int32_t *ctx = malloc(cap * sizeof *ctx);
    float *probs = malloc(V * sizeof *probs);
    uint32_t *ids = tok ? malloc((plen + 1) * sizeof *ids) : NULL;
    if (!ctx || !probs || (tok && !ids)) {
        fprintf(stderr, "frugal sample: out of memory\n");
        free(ctx);
        free(probs);
        free(ids);
        fg_tokenizer_free(tok);
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
    } else if (tok) {
        size_t n_ids = 0;
        if (fg_tokenizer_encode(tok, prompt, plen, 0, ids, plen + 1, &n_ids) != FG_OK) {
            fprintf(stderr, "frugal sample: cannot encode the prompt: %s\n",
                    fg_tokenizer_errmsg(tok));
            free(ctx);
            free(probs);
            free(ids);
            fg_tokenizer_free(tok);
            fg_model_free(m);
            return EXIT_FAIL;
        }
        for (size_t i = 0; i < n_ids; i++)
            ctx[len++] = (int32_t)ids[i];
    } else {
        for (size_t i = 0; i < plen; i++)
            ctx[len++] = (int32_t)(unsigned char)prompt[i];
    }
    free(ids);
    if (len == 0) {
        fprintf(stderr, "frugal sample: the prompt is empty\n");
        free(ctx);
        free(probs);
        fg_tokenizer_free(tok);
        fg_model_free(m);
        return EXIT_USAGE;
    }
    struct fg_rng rng;
    fg_rng_seed(&rng, seed);
    if (text && !prompt_ids)
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
        if (tok) {
            size_t tlen = 0;
            const uint8_t *b = fg_tokenizer_token_bytes(tok, (uint32_t)pick, &tlen);
            if ((uint32_t)pick == eot)
                fputs("\n\n", stdout);
            else if (b)
                fwrite(b, 1, tlen, stdout);
            else
                printf("<%zu>", pick); /* padded ids past the tokenizer's vocabulary */
        } else if (byte_level && !prompt_ids)
            putchar((int)pick);
        else
            printf(" %zu", pick);
        fflush(stdout);
    }
    putchar('\n');
    free(ctx);
    free(probs);
    fg_tokenizer_free(tok);
    fg_model_free(m);
    return cli_exit_code(st);
}
