/* hessnorm fuzzing — replay the seed corpora and the regression inputs
 * through the harnesses, without libFuzzer (make check).
 *
 *   replay                     every file under fixtures/fuzz/<harness>/ (seeds),
 *                              fixtures/fuzz/regressions/<harness>/ and
 *                              fixtures/fuzz/corpus/<harness>/ (the corpus of
 *                              the recorded `make fuzz` runs, minimized with
 *                              libFuzzer's -merge=1)
 *   replay HARNESS FILE...     the given files (HN_FUZZ_VERBOSE=1 prints
 *                              each failure's message)
 * A broken contract aborts (exit status != 0). */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include "fuzz_common.h"

static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} HARNESSES[] = {
    {"model_json", hn_fuzz_model_json},   {"safetensors", hn_fuzz_safetensors},
    {"weights_samples", hn_fuzz_weights_samples}, {"idx", hn_fuzz_idx},
    {"cifar10", hn_fuzz_cifar10},         {"digits_png", hn_fuzz_digits_png},
    {"inspect", hn_fuzz_inspect},
};
#define N_HARNESSES (sizeof HARNESSES / sizeof HARNESSES[0])

static int run_file(int (*fn)(const uint8_t *, size_t), const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    /* an exact-size copy, so ASan sees any read past the input */
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    free(buf);
    fn(exact, n);
    free(exact);
    return 0;
}

static long run_dir(int (*fn)(const uint8_t *, size_t), const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[4096];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (run_file(fn, p) == 0)
            n++;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    hn_gsl_quiet();
    if (argc >= 2) {
        for (size_t h = 0; h < N_HARNESSES; h++)
            if (!strcmp(argv[1], HARNESSES[h].name)) {
                for (int i = 2; i < argc; i++)
                    if (run_file(HARNESSES[h].fn, argv[i]) != 0)
                        return 1;
                return 0;
            }
        fprintf(stderr, "replay: unknown harness '%s'\n", argv[1]);
        return 2;
    }
    const char *src = getenv("HN_SRCDIR");
#ifdef HN_SRCDIR
    if (!src)
        src = HN_SRCDIR;
#endif
    if (!src)
        src = ".";
    long total = 0;
    for (size_t h = 0; h < N_HARNESSES; h++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/fixtures/fuzz/%s", src, HARNESSES[h].name);
        long seeds = run_dir(HARNESSES[h].fn, dir);
        snprintf(dir, sizeof dir, "%s/fixtures/fuzz/regressions/%s", src, HARNESSES[h].name);
        long regs = run_dir(HARNESSES[h].fn, dir);
        snprintf(dir, sizeof dir, "%s/fixtures/fuzz/corpus/%s", src, HARNESSES[h].name);
        long found = run_dir(HARNESSES[h].fn, dir);
        printf("%-16s %4ld seed inputs, %3ld regression inputs, %4ld fuzzer-found inputs: "
               "contract held\n", HARNESSES[h].name, seeds, regs, found);
        if (seeds == 0) {
            fprintf(stderr, "replay: no seed corpus for %s in %s/fixtures/fuzz/\n", HARNESSES[h].name, src);
            return 1;
        }
        total += seeds + regs + found;
    }
    printf("replay: %ld inputs\n", total);
    return 0;
}
