/* hessnorm experiment — the sweeps of the paper's section VI (Figures 1-4)
 * with the Hessian quantities of the theory, resumable. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <math.h>
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
    fputs("usage: hessnorm experiment --dataset mnist|fashion-mnist|cifar10|all\n"
          "                           --sweep layers|kernel|channels|pooling|all\n"
          "                           [--preset quick|paper|tiny] [--out DIR] [--data DIR]\n"
          "                           [--seed N] [--threads N] [--limit N] [--epochs N]\n"
          "                           [--shuffles S] [--hess-samples N] [--mem-limit GB]\n"
          "                           [--no-figures] [--shard i/n] [--time-limit SECONDS]\n"
          "       hessnorm experiment --report-only --out DIR [--no-figures]\n"
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
          "format.  While a model trains, its state after each epoch is kept in\n"
          "models/<setting>/train_checkpoint.safetensors: an interrupted run (killed, or out of\n"
          "time) resumes from the finished models and the last finished epoch, bit-identical.\n"
          "--time-limit S: once S seconds have passed (from the start of the command), stop at\n"
          "the next epoch's end or before the next model, exit status 3; rerun the same command\n"
          "to go on (a scheduler's wall-time limit minus one epoch of the largest net).\n"
          "Data: Fashion-MNIST from /usr/share/datasets/fashion-mnist, MNIST = the OpenCV\n"
          "digits sheet (or --data DIR with the IDX files, or --data SHEET.png in the same\n"
          "layout), CIFAR-10 needs --data DIR (data_batch_1..5.bin, test_batch.bin).\n"
          "--dataset all / --sweep all: the grid, one folder DIR/<dataset>-<sweep>/ per pair\n"
          "(with --dataset all, --data DIR holds DIR/mnist, DIR/fashion-mnist, DIR/cifar10).\n"
          "--shard i/n (1 <= i <= n): only the settings of shard i (a stable hash of\n"
          "dataset/sweep/setting); without it a Slurm job array's SLURM_ARRAY_TASK_* give it.\n"
          "A shard writes its models and sweep.json but no report: --report-only --out DIR\n"
          "then builds the report (of each grid folder) from the finished models and names the\n"
          "missing ones.  -h, --help: this text.\n"
          "\n" HN_CLI_EXIT_HELP "3 stopped at --time-limit (the work done is saved; rerun to go on).\n",
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
    const char *shard, *time_limit;
    int figures, report_only, n_run_opts; /* options other than --out, --no-figures */
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
        {"shard", required_argument, 0, 'x'},   {"report-only", no_argument, 0, 'R'},
        {"time-limit", required_argument, 0, 'T'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->preset = "quick";
    a->figures = 1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
        a->n_run_opts += c != 'o' && c != 'n' && c != 'R' && c != 'h';
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
        case 'x': a->shard = optarg; break;
        case 'T': a->time_limit = optarg; break;
        case 'R': a->report_only = 1; break;
        case 'h': experiment_usage(stdout); return 0;
        default: return hn_cli_bad_option("experiment", lopts, argv, c);
        }
    }
    if (optind < argc)
        return hn_cli_usage("experiment", "unexpected argument '%s'", argv[optind]);
    if (a->report_only && a->n_run_opts)
        return hn_cli_usage("experiment", "--report-only takes only --out DIR and --no-figures");
    if (a->report_only && !a->out)
        return hn_cli_usage("experiment", "--report-only needs --out DIR");
    if (!a->report_only && (!a->dataset || !a->sweep))
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
                          "--dataset: unknown dataset '%s' (expected mnist, fashion-mnist, cifar10 or all)",
                          a->dataset);
    hn_experiment_opts_default(o);
    o->dataset = a->dataset;
    int rc;
    if (hn_sweep_parse(a->sweep, &o->sweep, NULL) != HN_OK) /* the library's list has no 'all' */
        return hn_err_set(err, HN_EINVAL,
                          "--sweep: unknown sweep '%s' (expected layers, kernel, channels, pooling or all)", a->sweep);
    if ((rc = hn_preset_get(a->preset, &o->preset, err)))
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
    /* up to ten years of seconds; 0 stops at the first epoch's end */
    if (a->time_limit && hn_parse_real(a->time_limit, 0, 3.2e8, &o->time_limit) != 0)
        return hn_err_set(err, HN_EINVAL, "--time-limit: expected a number of seconds >= 0, got '%s'",
                          a->time_limit);
    return HN_OK;
}

/* apply_names and apply_numbers: 0, or the exit status with its line on
 * stderr (a name of nothing 1, a value not of its option's syntax 2). */
static int apply_options(const exp_args *a, hn_experiment_opts *o)
{
    hn_err err;
    hn_err_clear(&err);
    if (apply_names(a, o, &err))
        return hn_cli_fail(&err);
    if (apply_numbers(a, o, &err))
        return hn_cli_usage("experiment", "%s", err.msg);
    return 0;
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

/* --shard i/n, or from a Slurm job array (SLURM_ARRAY_TASK_ID, _COUNT,
 * _MIN, _STEP) without it: *i, *n (0, 0: no shard). */
static int parse_shard(const char *v, size_t *i, size_t *n, hn_err *err)
{
    *i = *n = 0;
    if (v) {
        const char *slash = strchr(v, '/');
        char num[32];
        if (!slash || (size_t)(slash - v) >= sizeof num)
            return hn_err_set(err, HN_EINVAL, "--shard: expected i/n (1 <= i <= n), got '%s'", v);
        memcpy(num, v, (size_t)(slash - v));
        num[slash - v] = 0;
        if (hn_parse_size(num, 1, SIZE_MAX, i) || hn_parse_size(slash + 1, 1, 1000000, n) || *i > *n)
            return hn_err_set(err, HN_EINVAL, "--shard: expected i/n (1 <= i <= n <= 1000000), got '%s'", v);
        return HN_OK;
    }
    const char *id = getenv("SLURM_ARRAY_TASK_ID"), *count = getenv("SLURM_ARRAY_TASK_COUNT");
    if (!id || !count)
        return HN_OK;
    const char *mn = getenv("SLURM_ARRAY_TASK_MIN"), *step = getenv("SLURM_ARRAY_TASK_STEP");
    size_t vid, vn, vmin = 0, vstep = 1;
    if (hn_parse_size(id, 0, SIZE_MAX, &vid) || hn_parse_size(count, 1, 1000000, &vn) ||
        (mn && hn_parse_size(mn, 0, SIZE_MAX, &vmin)) || (step && hn_parse_size(step, 1, SIZE_MAX, &vstep)) ||
        vid < vmin || (vid - vmin) % vstep || (vid - vmin) / vstep >= vn)
        return hn_err_set(err, HN_EINVAL,
                          "SLURM_ARRAY_TASK_ID=%s (COUNT=%s, MIN=%s, STEP=%s) is not one of a contiguous "
                          "job array's tasks; use --array=1-N or give --shard i/n",
                          id, count, mn ? mn : "unset", step ? step : "unset");
    *i = (vid - vmin) / vstep + 1;
    *n = vn;
    return HN_OK;
}

static const char *const all_datasets[] = {"mnist", "fashion-mnist", "cifar10"};
static const char *const all_sweeps[] = {"layers", "kernel", "channels", "pooling"};

/* --report-only --out DIR: DIR's report, or with no DIR/sweep.json those
 * of its grid folders DIR/<dataset>-<sweep>; the missing models listed. */
static int report_only(const exp_args *a)
{
    hn_err err;
    hn_err_clear(&err);
    char dir[3000], path[3100];
    int found = 0;
    for (size_t k = 0; k <= 12; k++) {
        if (k == 0)
            snprintf(dir, sizeof dir, "%s", a->out);
        else
            snprintf(dir, sizeof dir, "%s/%s-%s", a->out, all_datasets[(k - 1) / 4], all_sweeps[(k - 1) % 4]);
        snprintf(path, sizeof path, "%s/sweep.json", dir);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        hn_experiment_report_info info;
        if (hn_experiment_report(dir, a->figures, &info, &err))
            return hn_cli_fail(&err);
        found++;
        if (info.missing[0])
            fprintf(stderr, "hessnorm experiment: %s: %zu of %zu models not finished: %s\n", dir,
                    info.settings - info.complete, info.settings, info.missing);
        printf("%s/report.md\n", dir);
        if (k == 0)
            break;
    }
    if (!found) {
        hn_err_set(&err, HN_EIO, "%s: no sweep.json in it or in its <dataset>-<sweep> folders "
                                 "(not the --out of a hessnorm experiment)", a->out);
        return hn_cli_fail(&err);
    }
    return 0;
}

/* One sweep of the run: a (dataset and sweep given) into out; --time-limit
 * counted from the command's start t_cmd. */
static int run_one(const exp_args *a, const char *out, size_t si, size_t sn, int grid, double t_cmd)
{
    hn_err err;
    hn_err_clear(&err);
    hn_experiment_opts o;
    int status = apply_options(a, &o);
    if (status)
        return status;
    o.out_dir = out;
    o.shard_i = si;
    o.shard_n = sn;
    prog_ctx pc = {hn_clock_s()};
    if (o.time_limit >= 0)
        o.time_limit = fmax(0, o.time_limit - (pc.t0 - t_cmd));
    if (sn && hn_experiment_shard_count(&o) == 0) {
        fprintf(stderr, "hessnorm experiment: %s: no setting in shard %zu/%zu\n", out, si, sn);
        return 0;
    }
    char note[700];
    data_note(a, note, sizeof note);
    o.dataset_note = note;
    hn_experiment_summary sum;
    int rc = run_sweep(a, &o, &pc, &sum, &err);
    if (rc) {
        hn_cli_fail(&err);
        return rc == HN_ESTOPPED ? HN_CLI_EXIT_STOPPED : 1;
    }
    fprintf(stderr,
            "hessnorm experiment: %s%s%zu models (%zu trained, %zu resumed) in %.1f s; training %.0f img/s, "
            "per-sample losses %.0f img/s%s\n",
            grid ? out : "", grid ? ": " : "", sum.models, sum.trained, sum.resumed, sum.seconds, sum.train_images_per_s,
            sum.eval_images_per_s, sn ? "" : sum.figures_drawn ? "" : "; no figures drawn");
    printf(sn ? "%s\n" : "%s/report.md\n", out);
    return 0;
}

int hn_cli_experiment(int argc, char **argv)
{
    const double t_cmd = hn_clock_s();
    exp_args a;
    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    if (a.report_only)
        return report_only(&a);
    hn_err err;
    hn_err_clear(&err);
    const int all_ds = !strcmp(a.dataset, "all"), all_sw = !strcmp(a.sweep, "all"), grid = all_ds || all_sw;
    const size_t nd = all_ds ? 3 : 1, ns = all_sw ? 4 : 1;
    /* every pair's options checked before anything runs */
    for (size_t d = 0; d < nd; d++)
        for (size_t s = 0; s < ns; s++) {
            exp_args b = a;
            b.dataset = all_ds ? all_datasets[d] : a.dataset;
            b.sweep = all_sw ? all_sweeps[s] : a.sweep;
            b.threads = NULL; /* set once, below */
            hn_experiment_opts o;
            if ((status = apply_options(&b, &o)))
                return status;
        }
    size_t si, sn;
    hn_experiment_opts o;
    exp_args first = a;
    first.dataset = all_ds ? all_datasets[0] : a.dataset;
    first.sweep = all_sw ? all_sweeps[0] : a.sweep;
    if ((status = apply_options(&first, &o)))
        return status;
    /* a --shard value not of the form i/n is a usage error; Slurm's
     * variables are the environment's, bad input */
    if (parse_shard(a.shard, &si, &sn, &err))
        return a.shard ? hn_cli_usage("experiment", "%s", err.msg) : hn_cli_fail(&err);
    char base[512];
    if (a.out)
        snprintf(base, sizeof base, "%s", a.out);
    else
        snprintf(base, sizeof base, "experiment-%s-%s-%s", a.dataset, a.sweep, o.preset.name);
    /* The parallel regions call no BLAS; LAPACK runs on K x K and
     * tridiagonal matrices only: keep OpenBLAS single-threaded so it never
     * competes with the OpenMP threads. */
    openblas_set_num_threads(1);
    if (hn_cli_blas_ready(o.threads, &err))
        return hn_cli_fail(&err);
    for (size_t d = 0; d < nd; d++)
        for (size_t s = 0; s < ns; s++) {
            exp_args b = a;
            char data[3000], out[3000];
            b.dataset = all_ds ? all_datasets[d] : a.dataset;
            b.sweep = all_sw ? all_sweeps[s] : a.sweep;
            struct stat st;
            /* --dataset all: --data DIR holds DIR/<dataset>; else its default place */
            if (all_ds && a.data) {
                snprintf(data, sizeof data, "%s/%s", a.data, b.dataset);
                b.data = stat(data, &st) == 0 ? data : NULL;
            }
            if (grid)
                snprintf(out, sizeof out, "%s/%s-%s", base, b.dataset, b.sweep);
            else
                snprintf(out, sizeof out, "%s", base);
            int rc = run_one(&b, out, si, sn, grid, t_cmd);
            if (rc)
                return rc;
        }
    return 0;
}
