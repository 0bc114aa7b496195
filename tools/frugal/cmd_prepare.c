/* frugal prepare: text files -> byte-level token shards (train.bin, val.bin). The byte
 * tokenizer (vocabulary 256) is built in; the BPE tokenizer plugs in here later. The split is
 * deterministic: the last --val-fraction of every file goes to validation. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "frugal/data.h"

int cmd_prepare(int argc, char **argv)
{
    const char *outdir = NULL, *tok = "bytes";
    double val_fraction = 0.1;
    struct opt o[] = {
        { "-o", OPT_STR, &outdir, "DIR",
          "output directory (created with its parents if missing) [required]", 0, 0, 0, 0 },
        { "--tokenizer", OPT_STR, &tok, "NAME", "tokenizer: bytes (vocabulary 256) [bytes]", 0, 0,
          0, 0 },
        { "--val-fraction", OPT_DOUBLE, &val_fraction, "F",
          "tail fraction of each file for "
          "validation [0.1]",
          0, 0, 0, 0 },
    };
    const char *files[4096];
    int n_files;
    int rc =
        cli_parse(argc, argv, 2, o, sizeof o / sizeof o[0], "prepare", "-o DIR [options] FILE...",
                  "Tokenize text files into llm.c-layout shards DIR/train.bin and DIR/val.bin.\n"
                  "Each file is one document; its last --val-fraction bytes go to validation.",
                  files, 4096, &n_files);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!outdir || n_files == 0) {
        fprintf(stderr, "frugal prepare: need -o DIR and at least one input FILE\n");
        return EXIT_USAGE;
    }
    if (strcmp(tok, "bytes") != 0) {
        fprintf(stderr, "frugal prepare: unknown tokenizer '%s' (available: bytes)\n", tok);
        return EXIT_USAGE;
    }
    if (val_fraction >= 1.0) {
        fprintf(stderr, "frugal prepare: --val-fraction must be below 1\n");
        return EXIT_USAGE;
    }
    /* mkdir -p: create every missing component */
    char partial[4096];
    snprintf(partial, sizeof partial, "%s", outdir);
    for (char *c = partial + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            (void)mkdir(partial, 0755);
            *c = '/';
        }
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        char msg[600], what[500];
        snprintf(what, sizeof what, "cannot create output directory %s", outdir);
        fg_errno_msg(msg, sizeof msg, errno, what);
        fprintf(stderr, "frugal prepare: %s\n", msg);
        return EXIT_FAIL;
    }
    uint16_t *tr = NULL, *va = NULL;
    size_t n_tr = 0, n_va = 0, cap_tr = 0, cap_va = 0;
    int status = EXIT_FAIL;
    char err[1024];
    for (int i = 0; i < n_files; i++) {
        void *buf;
        size_t len;
        if (fg_read_file(NULL, files[i], &buf, &len, err, sizeof err) != FG_OK) {
            fprintf(stderr, "frugal prepare: %s\n", err);
            goto done;
        }
        size_t n_val = (size_t)((double)len * val_fraction), n_train = len - n_val;
        if (n_tr + n_train > cap_tr) {
            cap_tr = (n_tr + n_train) * 2;
            uint16_t *p = realloc(tr, cap_tr * sizeof *tr);
            if (!p) {
                fg_free(NULL, buf);
                goto oom;
            }
            tr = p;
        }
        if (n_va + n_val > cap_va) {
            cap_va = (n_va + n_val) * 2;
            uint16_t *p = realloc(va, cap_va * sizeof *va);
            if (!p) {
                fg_free(NULL, buf);
                goto oom;
            }
            va = p;
        }
        const unsigned char *b = buf;
        for (size_t k = 0; k < n_train; k++)
            tr[n_tr++] = b[k];
        for (size_t k = n_train; k < len; k++)
            va[n_va++] = b[k];
        fg_free(NULL, buf);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/train.bin", outdir);
    if (fg_shard_write(path, tr, n_tr, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal prepare: %s (does -o %s exist and is it writable?)\n", err, outdir);
        goto done;
    }
    printf("%s: %zu tokens\n", path, n_tr);
    snprintf(path, sizeof path, "%s/val.bin", outdir);
    if (fg_shard_write(path, va, n_va, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal prepare: %s\n", err);
        goto done;
    }
    printf("%s: %zu tokens\n", path, n_va);
    status = EXIT_OK;
    goto done;
oom:
    fprintf(stderr, "frugal prepare: out of memory\n");
done:
    free(tr);
    free(va);
    return status;
}
