/* Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without libFuzzer (zstd's
 * regression driver), so every corpus file runs under the gcc ASan build in CI.
 *   replay_<target> FILE...        prints "N passed, 0 failed"; a broken property aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            printf("%d passed, 1 failed\n", n);
            return 1;
        }
        size_t cap = 1 << 16, len = 0;
        uint8_t *buf = malloc(cap);
        size_t got;
        while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
            len += got;
            if (len == cap) {
                uint8_t *nb = realloc(buf, cap *= 2);
                if (!nb)
                    free(buf);
                buf = nb;
            }
        }
        fclose(f);
        if (!buf) {
            fprintf(stderr, "replay: out of memory\n");
            return 1;
        }
        /* an exact-size copy, so ASan catches a read one byte past the input */
        uint8_t *exact = malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++)
            exact[k] = buf[k];
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        n++;
    }
    printf("%d passed, 0 failed\n", n);
    return 0;
}
