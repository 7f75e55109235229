/* hessnorm experiment — the sweeps of the paper's section VI (Figures 1-4)
 * with the Hessian quantities of the theory, resumable. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "base/clock.h"
#include "cli.h"

/* OpenBLAS's own API (its cblas.h clashes with GSL's gsl_cblas.h). */
void openblas_set_num_threads(int num_threads);

static void experiment_usage(FILE *f)
{
    fputs("usage: hessnorm experiment --dataset mnist|fashion-mnist|cifar10\n"
          "                           --sweep layers|kernel|channels|pooling\n"
          "                           [--preset quick|paper|tiny] [--out DIR] [--data DIR]\n"
          "                           [--seed N] [--threads N] [--limit N] [--epochs N]\n"
          "                           [--shuffles S] [--hess-samples N] [--mem-limit GB]\n"
          "                           [--no-figures]\n"
          "Trains the networks of the paper's section VI (L conv layers, kernel k, C channels,\n"
          "bias-free, Adam lr 1e-3, batch 64), then for every model: the mean over S random\n"
          "orders of |L_{k+1} - L_k| (smoothed 0.995), the exact per-sample ||H_O||,\n"
          "||H_{O,k+1} - (1/k) sum H_{O,i}|| by Lanczos and Corollary 2's right side.\n"
          "Sweeps: layers L=2..7 (k=3, C=6); kernel k=2..5 (L=4, C=6); channels C=6..42\n"
          "(L=5, k=3); pooling max/avg at conv 1..4 (L=5, C=12, k=3).\n"
          "Presets: paper = section VI exactly (whole splits, 10 epochs, 15 on CIFAR-10,\n"
          "S=500, k in {10,100,1000}); quick = 3000/1000 images, 1 epoch, S=50, a subset of\n"
          "the sweep; tiny = for tests.  Output (default experiment-<dataset>-<sweep>-<preset>):\n"
          "report.md, index.html, CSV, PNG figures, models/<setting>/ in the interchange\n"
          "format.  An interrupted run resumes from the finished models.\n"
          "Data: Fashion-MNIST from /usr/share/datasets/fashion-mnist, MNIST = the OpenCV\n"
          "digits sheet (or --data DIR with the IDX files, or --data SHEET.png in the same\n"
          "layout), CIFAR-10 needs --data DIR (data_batch_1..5.bin, test_batch.bin).\n",
          f);
}

typedef struct {
    double t0;
} prog_ctx;

static void progress(void *ctx, const char *msg)
{
    const prog_ctx *p = ctx;
    fprintf(stderr, "[%7.1fs] %s\n", hn_clock_s() - p->t0, msg);
    fflush(stderr);
}

/* Positive integer option value; 0 and garbage are errors naming the option. */
static int parse_size(const char *opt, const char *v, int allow_zero, size_t *out, hn_err *err)
{
    char *e;
    errno = 0;
    unsigned long long x = strtoull(v, &e, 10);
    if (errno || e == v || *e || v[0] == '-' || (!allow_zero && x == 0) || x > SIZE_MAX)
        return hn_err_set(err, HN_EINVAL, "--%s: expected a %s integer, got '%s'", opt,
                          allow_zero ? "non-negative" : "positive", v);
    *out = (size_t)x;
    return HN_OK;
}

/* More OpenMP threads than this is a typo, not a machine (and would not
 * fit the int the runtime takes); results do not depend on the count. */
#define MAX_THREADS 1024

int hn_cli_experiment(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"dataset", required_argument, 0, 'd'}, {"sweep", required_argument, 0, 's'},
        {"preset", required_argument, 0, 'p'},  {"out", required_argument, 0, 'o'},
        {"data", required_argument, 0, 'D'},    {"seed", required_argument, 0, 'S'},
        {"threads", required_argument, 0, 't'}, {"limit", required_argument, 0, 'l'},
        {"epochs", required_argument, 0, 'e'},  {"shuffles", required_argument, 0, 'u'},
        {"hess-samples", required_argument, 0, 'H'}, {"mem-limit", required_argument, 0, 'm'},
        {"no-figures", no_argument, 0, 'n'},    {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *dataset = NULL, *sweep = NULL, *preset = "quick", *out = NULL, *data = NULL;
    const char *v_seed = NULL, *v_threads = NULL, *v_limit = NULL, *v_epochs = NULL;
    const char *v_shuffles = NULL, *v_hess = NULL, *v_mem = NULL;
    int figures = 1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'd': dataset = optarg; break;
        case 's': sweep = optarg; break;
        case 'p': preset = optarg; break;
        case 'o': out = optarg; break;
        case 'D': data = optarg; break;
        case 'S': v_seed = optarg; break;
        case 't': v_threads = optarg; break;
        case 'l': v_limit = optarg; break;
        case 'e': v_epochs = optarg; break;
        case 'u': v_shuffles = optarg; break;
        case 'H': v_hess = optarg; break;
        case 'm': v_mem = optarg; break;
        case 'n': figures = 0; break;
        case 'h': experiment_usage(stdout); return 0;
        default: experiment_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hessnorm experiment: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!dataset || !sweep) {
        fprintf(stderr, "hessnorm experiment: need --dataset and --sweep\n");
        experiment_usage(stderr);
        return 2;
    }
    hn_err err;
    hn_err_clear(&err);
    if (strcmp(dataset, "mnist") && strcmp(dataset, "fashion-mnist") && strcmp(dataset, "cifar10")) {
        hn_err_set(&err, HN_EINVAL,
                   "--dataset: unknown dataset '%s' (expected mnist, fashion-mnist or cifar10)", dataset);
        return hn_cli_fail(&err);
    }
    hn_experiment_opts o;
    hn_experiment_opts_default(&o);
    o.dataset = dataset;
    size_t v;
    if (hn_sweep_parse(sweep, &o.sweep, &err) || hn_preset_get(preset, &o.preset, &err))
        return hn_cli_fail(&err);
    if (v_seed) {
        if (parse_size("seed", v_seed, 1, &v, &err))
            return hn_cli_fail(&err);
        o.seed = (unsigned long)v;
    }
    if (v_threads) {
        if (parse_size("threads", v_threads, 0, &v, &err))
            return hn_cli_fail(&err);
        if (v > MAX_THREADS) {
            hn_err_set(&err, HN_EINVAL, "--threads: %zu is more than %d", v, MAX_THREADS);
            return hn_cli_fail(&err);
        }
        o.threads = (int)v;
#ifdef _OPENMP
        omp_set_num_threads(o.threads);
#endif
    }
    if (v_limit) {
        if (parse_size("limit", v_limit, 0, &v, &err))
            return hn_cli_fail(&err);
        if (o.preset.train_n == 0 || o.preset.train_n > v)
            o.preset.train_n = v;
        if (o.preset.test_n == 0 || o.preset.test_n > v)
            o.preset.test_n = v;
    }
    if (v_epochs) {
        if (parse_size("epochs", v_epochs, 0, &v, &err))
            return hn_cli_fail(&err);
        o.preset.epochs = v;
    }
    if (v_shuffles) {
        if (parse_size("shuffles", v_shuffles, 0, &v, &err))
            return hn_cli_fail(&err);
        o.preset.shuffles = v;
    }
    if (v_hess) {
        if (parse_size("hess-samples", v_hess, 0, &v, &err))
            return hn_cli_fail(&err);
        o.preset.hess_n = v;
    }
    if (v_mem) {
        char *e;
        double gb = strtod(v_mem, &e);
        if (e == v_mem || *e || !(gb > 0) || gb > 1e6) {
            hn_err_set(&err, HN_EINVAL, "--mem-limit: expected a positive number of GiB, got '%s'", v_mem);
            return hn_cli_fail(&err);
        }
        o.mem_limit = gb * 1024.0 * 1024.0 * 1024.0;
    }
    o.figures = figures;
    char outbuf[512];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "experiment-%s-%s-%s", dataset, sweep, o.preset.name);
        out = outbuf;
    }
    o.out_dir = out;
    char note[700];
    struct stat st;
    if (data && !strcmp(dataset, "mnist") && stat(data, &st) == 0 && S_ISREG(st.st_mode))
        snprintf(note, sizeof note,
                 "the digits sheet %s (20x20 padded to 28x28; train = the first 400 of each "
                 "class, test = the last 100)", data);
    else if (data)
        snprintf(note, sizeof note, "files in %s", data);
    else if (!strcmp(dataset, "mnist"))
        snprintf(note, sizeof note,
                 "the OpenCV digits sheet %s (5000 digits, 20x20 padded to 28x28; train = the first "
                 "400 of each class, test = the last 100), the MNIST this machine has",
                 HN_DIGITS_PNG);
    else
        snprintf(note, sizeof note, "Debian's dataset-fashion-mnist (%s)", HN_FASHION_MNIST_DIR);
    o.dataset_note = note;
    /* The parallel regions call no BLAS; LAPACK runs on K x K and
     * tridiagonal matrices only: keep OpenBLAS single-threaded so it never
     * competes with the OpenMP threads. */
    openblas_set_num_threads(1);

    prog_ctx pc = {hn_clock_s()};
    o.progress = progress;
    o.progress_ctx = &pc;
    o.progress_every = isatty(fileno(stderr)) ? 2.0 : 30.0;

    hn_dataset *train = NULL, *test = NULL;
    int rc = hn_dataset_find(dataset, data, 1, &train, &err);
    if (!rc)
        rc = hn_dataset_find(dataset, data, 0, &test, &err);
    hn_experiment_summary sum;
    if (!rc) {
        progress(&pc, "data loaded");
        rc = hn_experiment_run(train, test, &o, &sum, &err);
    }
    hn_dataset_free(train);
    hn_dataset_free(test);
    if (rc)
        return hn_cli_fail(&err);
    fprintf(stderr,
            "hessnorm experiment: %zu models (%zu trained, %zu resumed) in %.1f s; training %.0f img/s, "
            "per-sample losses %.0f img/s%s\n",
            sum.models, sum.trained, sum.resumed, sum.seconds, sum.train_images_per_s,
            sum.eval_images_per_s, sum.figures_drawn ? "" : "; no figures drawn");
    printf("%s/report.md\n", out);
    return 0;
}
