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
#include "base/clock.h"
#include "base/parse.h"
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
          "layout), CIFAR-10 needs --data DIR (data_batch_1..5.bin, test_batch.bin).\n"
          "-h, --help: this text.\n"
          "\n" HN_CLI_EXIT_HELP,
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

/* The option values as given (parsed in apply_names and apply_numbers). */
typedef struct {
    const char *dataset, *sweep, *preset, *out, *data;
    const char *seed, *threads, *limit, *epochs, *shuffles, *hess, *mem;
    int figures;
} exp_args;

/* getopt over argv into a: -1 to go on, else the exit status (--help 0,
 * a usage error 2). */
static int parse_args(int argc, char **argv, exp_args *a)
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
    memset(a, 0, sizeof *a);
    a->preset = "quick";
    a->figures = 1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
        switch (c) {
        case 'd': a->dataset = optarg; break;
        case 's': a->sweep = optarg; break;
        case 'p': a->preset = optarg; break;
        case 'o': a->out = optarg; break;
        case 'D': a->data = optarg; break;
        case 'S': a->seed = optarg; break;
        case 't': a->threads = optarg; break;
        case 'l': a->limit = optarg; break;
        case 'e': a->epochs = optarg; break;
        case 'u': a->shuffles = optarg; break;
        case 'H': a->hess = optarg; break;
        case 'm': a->mem = optarg; break;
        case 'n': a->figures = 0; break;
        case 'h': experiment_usage(stdout); return 0;
        default: return hn_cli_bad_option("experiment", lopts, argv, c);
        }
    }
    if (optind < argc)
        return hn_cli_usage("experiment", "unexpected argument '%s'", argv[optind]);
    if (!a->dataset || !a->sweep)
        return hn_cli_usage("experiment", "missing %s", !a->dataset && !a->sweep ? "--dataset and --sweep"
                                                        : !a->dataset            ? "--dataset"
                                                                                 : "--sweep");
    return -1;
}

/* The named options into o (dataset, sweep, preset): a name that does not
 * exist is bad input (exit 1). */
static int apply_names(const exp_args *a, hn_experiment_opts *o, hn_err *err)
{
    if (strcmp(a->dataset, "mnist") && strcmp(a->dataset, "fashion-mnist") &&
        strcmp(a->dataset, "cifar10"))
        return hn_err_set(err, HN_EINVAL,
                          "--dataset: unknown dataset '%s' (expected mnist, fashion-mnist or cifar10)",
                          a->dataset);
    hn_experiment_opts_default(o);
    o->dataset = a->dataset;
    int rc;
    if ((rc = hn_sweep_parse(a->sweep, &o->sweep, err)) || (rc = hn_preset_get(a->preset, &o->preset, err)))
        return rc;
    o->figures = a->figures;
    return HN_OK;
}

/* The numbers into o (after apply_names), in the order they are checked;
 * --threads also sets OpenMP's count.  A value not of the option's syntax
 * is a usage error (exit 2): HN_EINVAL naming the option. */
static int apply_numbers(const exp_args *a, hn_experiment_opts *o, hn_err *err)
{
    size_t v;
    int rc;
    if (a->seed) {
        if ((rc = hn_cli_size("seed", a->seed, 1, &v, err)))
            return rc;
        o->seed = (unsigned long)v;
    }
    if (a->threads && (rc = hn_cli_threads(a->threads, &o->threads, err)))
        return rc;
    if (a->limit) {
        if ((rc = hn_cli_size("limit", a->limit, 0, &v, err)))
            return rc;
        if (o->preset.train_n == 0 || o->preset.train_n > v)
            o->preset.train_n = v;
        if (o->preset.test_n == 0 || o->preset.test_n > v)
            o->preset.test_n = v;
    }
    const struct {
        const char *v, *opt;
        size_t *to;
    } counts[] = {{a->epochs, "epochs", &o->preset.epochs},
                  {a->shuffles, "shuffles", &o->preset.shuffles},
                  {a->hess, "hess-samples", &o->preset.hess_n}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (counts[i].v && (rc = hn_cli_size(counts[i].opt, counts[i].v, 0, counts[i].to, err)))
            return rc;
    if (a->mem) {
        double gb;
        /* more than 1e6 GiB is a typo, not a machine */
        if (hn_parse_real(a->mem, 0, 1e6, &gb) != 0 || !(gb > 0))
            return hn_err_set(err, HN_EINVAL, "--mem-limit: expected a positive number of GiB, got '%s'",
                              a->mem);
        o->mem_limit = gb * 1024.0 * 1024.0 * 1024.0;
    }
    return HN_OK;
}

/* The report's sentence on where the data came from. */
static void data_note(const exp_args *a, char *note, size_t n)
{
    struct stat st;
    if (a->data && !strcmp(a->dataset, "mnist") && stat(a->data, &st) == 0 && S_ISREG(st.st_mode))
        snprintf(note, n,
                 "the digits sheet %s (20x20 padded to 28x28; train = the first 400 of each "
                 "class, test = the last 100)", a->data);
    else if (a->data)
        snprintf(note, n, "files in %s", a->data);
    else if (!strcmp(a->dataset, "mnist"))
        snprintf(note, n,
                 "the OpenCV digits sheet %s (5000 digits, 20x20 padded to 28x28; train = the first "
                 "400 of each class, test = the last 100), the MNIST this machine has",
                 HN_DIGITS_PNG);
    else
        snprintf(note, n, "Debian's dataset-fashion-mnist (%s)", HN_FASHION_MNIST_DIR);
}

/* Load the train and test splits and run the sweep, with progress lines
 * on stderr timed from pc's start. */
static int run_sweep(const exp_args *a, hn_experiment_opts *o, prog_ctx *pc,
                     hn_experiment_summary *sum, hn_err *err)
{
    o->progress = progress;
    o->progress_ctx = pc;
    o->progress_every = isatty(fileno(stderr)) ? 2.0 : 30.0;
    hn_dataset *train = NULL, *test = NULL;
    int rc = hn_dataset_find(a->dataset, a->data, 1, &train, err);
    if (!rc)
        rc = hn_dataset_find(a->dataset, a->data, 0, &test, err);
    if (!rc)
        rc = hn_experiment_check_data(train, o, err);
    if (!rc) {
        progress(pc, "data loaded");
        rc = hn_experiment_run(train, test, o, sum, err);
    }
    hn_dataset_free(train);
    hn_dataset_free(test);
    return rc;
}

int hn_cli_experiment(int argc, char **argv)
{
    exp_args a;
    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    hn_err err;
    hn_err_clear(&err);
    hn_experiment_opts o;
    if (apply_names(&a, &o, &err))
        return hn_cli_fail(&err);
    if (apply_numbers(&a, &o, &err))
        return hn_cli_usage("experiment", "%s", err.msg);
    char outbuf[512];
    const char *out = a.out;
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "experiment-%s-%s-%s", a.dataset, a.sweep, o.preset.name);
        out = outbuf;
    }
    o.out_dir = out;
    char note[700];
    data_note(&a, note, sizeof note);
    o.dataset_note = note;
    /* The parallel regions call no BLAS; LAPACK runs on K x K and
     * tridiagonal matrices only: keep OpenBLAS single-threaded so it never
     * competes with the OpenMP threads. */
    openblas_set_num_threads(1);
    if (hn_cli_blas_ready(o.threads, &err))
        return hn_cli_fail(&err);

    prog_ctx pc = {hn_clock_s()};
    hn_experiment_summary sum;
    if (run_sweep(&a, &o, &pc, &sum, &err))
        return hn_cli_fail(&err);
    fprintf(stderr,
            "hessnorm experiment: %zu models (%zu trained, %zu resumed) in %.1f s; training %.0f img/s, "
            "per-sample losses %.0f img/s%s\n",
            sum.models, sum.trained, sum.resumed, sum.seconds, sum.train_images_per_s,
            sum.eval_images_per_s, sum.figures_drawn ? "" : "; no figures drawn");
    printf("%s/report.md\n", out);
    return 0;
}
