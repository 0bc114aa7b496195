/* frugal export: a checkpoint's weights as a plain safetensors file (fg_ckpt_export). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "frugal/ckpt.h"

int cmd_export(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *dtype = "f32";
    struct opt o[] = {
        { "--ckpt", OPT_STR, &ckpt, "FILE", "checkpoint written by frugal train [required]", 0, 0,
          0, 0 },
        { "-o", OPT_STR, &out, "FILE", "output .safetensors file [required]", 0, 0, 0, 0 },
        { "--dtype", OPT_STR, &dtype, "T", "f32 or bf16 [f32]", 0, 0, 0, 0 },
    };
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, 2, o, sizeof o / sizeof o[0], "export", "--ckpt FILE -o FILE",
                       "Write a checkpoint's weights as a plain safetensors file for other\n"
                       "tools: the 16 tensors of model.h under their names (wte, wpe, ln1w ...,\n"
                       "per-layer tensors stacked along the first axis, weights (out, in), wte\n"
                       "with its vocabulary padded to a multiple of 64 by zero rows), metadata\n"
                       "format=frugal-weights, config and step; no optimizer state.\n"
                       "\n"
                       "The weights are the master weights: a --optim-storage flash checkpoint's\n"
                       "bf16 weights joined with their int8/int16 correction for f32 (the values\n"
                       "the optimizer keeps), or its bf16 weights as trained for bf16; an fp32\n"
                       "checkpoint's weights as they are, or rounded to nearest even for bf16.\n"
                       "The file is written atomically (a temporary file, then renamed).",
                       pos, 0, &n_pos);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!ckpt || !out) {
        fprintf(stderr, "frugal export: --ckpt FILE and -o FILE are required\n");
        return EXIT_USAGE;
    }
    enum fg_dtype dt;
    if (!strcmp(dtype, "f32") || !strcmp(dtype, "fp32")) {
        dt = FG_DTYPE_F32;
    } else if (!strcmp(dtype, "bf16")) {
        dt = FG_DTYPE_BF16;
    } else {
        fprintf(stderr, "frugal export: unknown --dtype '%s' (f32 or bf16)\n", dtype);
        return EXIT_USAGE;
    }
    char err[1024];
    fg_status st = fg_ckpt_export(ckpt, out, dt, err, sizeof err);
    if (st) {
        fprintf(stderr, "frugal export: %s\n", err);
        return cli_exit_code(st);
    }
    printf("wrote %s (%s weights of %s)\n", out, dt == FG_DTYPE_F32 ? "F32" : "BF16", ckpt);
    return EXIT_OK;
}
