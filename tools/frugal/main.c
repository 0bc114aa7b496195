/* frugal: command-line entry point. Each subcommand lives in cmd_<name>.c and uses only the
 * public headers. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "frugal/core.h"
#include "frugal/kernels.h"

static void usage(FILE *f)
{
    fprintf(f, "frugal: train GPT-2-style language models on the CPU, and measure what it costs.\n"
               "\n"
               "usage: frugal COMMAND [options]     (frugal COMMAND --help for each)\n"
               "\n"
               "commands:\n"
               "  prepare    turn text files into token shards (train.bin, val.bin)\n"
               "  tokenizer  BPE: text to token ids (or a shard) and back, train a vocabulary\n"
               "  train      train a model from scratch or resume from a checkpoint\n"
               "  eval       loss, perplexity and bits per byte of a checkpoint on a shard\n"
               "  sample     generate text from a checkpoint\n"
               "  export     a checkpoint's weights as plain safetensors (f32 or bf16)\n"
               "  compare    a baseline and its variants over seeds: runs, guards, statistics,\n"
               "             report with plots\n"
               "  plan       what a training run costs before it starts: FLOPs, memory, time\n"
               "             with failures and checkpoints, dollars (sweeps, cheapest cluster)\n"
               "  version    print version, BLAS and CPU path\n"
               "\n"
               "example (byte-level Jane Austen, a few minutes on 2 cores):\n"
               "  frugal prepare -o runs/austen data/austen/*.txt\n"
               "  frugal train --data runs/austen/train.bin --val runs/austen/val.bin \\\n"
               "               --ckpt-dir runs/austen --steps 2000\n"
               "  frugal sample --ckpt runs/austen/ckpt_00002000.safetensors --prompt 'Emma'\n"
               "\n"
               "exit codes: 0 ok, 1 failure, 2 usage error (bad flag, value or config)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "train"))
        return cmd_train(argc, argv);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc, argv);
    if (!strcmp(cmd, "sample"))
        return cmd_sample(argc, argv);
    if (!strcmp(cmd, "prepare"))
        return cmd_prepare(argc, argv);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc, argv);
    if (!strcmp(cmd, "compare"))
        return cmd_compare(argc, argv);
    if (!strcmp(cmd, "plan"))
        return cmd_plan(argc, argv);
    if (!strcmp(cmd, "tokenizer"))
        return cmd_tokenizer(argc, argv);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("frugal 0.1.0\nblas: %s\ncpu: %s, %d logical cores\nbf16 products: %s\n",
               fg_kernels_blas_info(), fg_isa_name(fg_cpu_isa()), fg_cpu_count(),
               fg_gemm_bf16_path());
        return EXIT_OK;
    }
    fprintf(stderr, "frugal: unknown command '%s' (see frugal --help)\n", cmd);
    return EXIT_USAGE;
}
