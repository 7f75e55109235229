/* hessnorm bench — the batched GEMM kernels and the spectral routes
 * against PyTorch (bench/peer_torch.py) on the same machine, in the same
 * run, interleaved: every repetition runs each row once in hessnorm and
 * once in PyTorch, at each thread count.  Each measurement runs in its own
 * process, so its peak memory (getrusage ru_maxrss) is its own.  Prints
 * one table of medians and writes it as JSON.
 *
 *   bench [--reps R] [--threads "1 2"] [--json FILE] [--data DIR]
 *         [--python PY] [--peer FILE] [--rows a,b,...]
 *
 * Rows (the paper's CNN: k = 3, C = 6 conv layers, ReLU between, flatten,
 * linear 10, bias-free; float64 unless said):
 *   train_L1/L3/L5   one Adam step, batch 64, 28x28 (PyTorch float64 and
 *                    float32 in two rows)
 *   loss60k          per-sample losses of 60,000 random 28x28 images (L3)
 *   ho               exact per-sample ||H_O|| (L3), per sample
 *   topeig64/1000    top eigenvalue of the mean Hessian over 64 / 1,000
 *                    samples (L3): hessnorm Lanczos (residual <= 1e-8
 *                    |lambda|), PyTorch power iteration
 *   dense            full Hessian + all eigenvalues of the 2,310-parameter
 *                    net L5 on 14x14 inputs, one sample
 *   inspect64        the command `hessnorm inspect --json --matrix-free` on
 *                    L3 (P = 29,742) with 64 samples, end to end (a child
 *                    process; its wall time and peak memory by wait4), against
 *                    PyTorch computing loss, gradient, lambda_max/min of the
 *                    mean H, ||mean H_O|| and every ||H_O,i|| (peer row
 *                    inspect), which also compares its values with the
 *                    command's JSON (check_max_rel); HN_BENCH_HESSNORM names
 *                    the command (default ./hessnorm)
 *   train_<net>      the paper grid's expensive settings (section VI): one
 *                    Adam step, batch 64, <net> = L5_C42, L5_C24,
 *                    L5_C12_max4, L5_C12_avg4 (arch_of: C channels, 2x2
 *                    pooling after the 0-based conv 4), PyTorch f64 and f32;
 *                    also times the per-sample-loss pass and, at 1 thread,
 *                    the step's convolutions alone (conv_seconds)
 *   jac_ho_<net>     per sample, as the experiment computes them
 *                    (hn_ho_analysis: hn_jacobian, K x K Gram, ||H_O||), on
 *                    <net> (also L5 = C 6) at PyTorch's initialisation, 16
 *                    samples; PyTorch: Jacobian of the 10 logits + K x K
 *                    form, f64 and f32
 *   ho_<net>         the same by the batched kernel hn_batch_ho_eigs (the
 *                    same PyTorch rows)
 * After the table: the paper grid's estimated wall time per data set on
 * 1 and 2 cores from the train_ and jac_ho_ rows run (grid_estimate).
 * --rows takes whole row names, comma-separated.
 *   audit64          the command `hessnorm audit --model --json` on the
 *                    paper's largest CNN (L5, C = 42, 28x28, P = 199,962,
 *                    PyTorch-uniform weights) with 64 of the Hessian samples,
 *                    end to end (wall time and peak memory by wait4, as
 *                    inspect64); no PyTorch peer (the audit's claims have none)
 * The networks' weights and the Hessian rows' samples are written once
 * to --data as raw float64 / int64 files that both sides read.  Both
 * sides run with OMP_WAIT_POLICY=PASSIVE: on a shared machine a spinning
 * OpenMP barrier waits out whole scheduler slices of a preempted peer. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_blas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm.h"

void openblas_set_num_threads(int num_threads);

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const hn_err *e)
{
    fprintf(stderr, "bench: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

/* ------------------------------------------------------------ setup */

#define N_HESS 1000
#define N_HO 64
#define N_JAC 16

static hn_model *arch_cnn(const hn_arch *a, size_t c, size_t hw)
{
    hn_model *m;
    hn_err e;
    if (hn_arch_model(a, c, hw, hw, 10, &m, &e))
        die("model", &e);
    return m;
}

static hn_model *cnn(size_t L, size_t hw)
{
    hn_arch a = {L, 3, 6, HN_POOL_NONE, 0};
    return arch_cnn(&a, 1, hw);
}

/* The network of a row name's tail "L<L>[_C<C>][_max<p>|_avg<p>]" (k = 3,
 * C = 6 unless given; p the 0-based conv followed by the 2x2 pooling, as
 * hn_arch.pool_pos): "L5_C42", "L5_C12_max4".  0, or -1 if it is not one. */
static int arch_of(const char *spec, hn_arch *a)
{
    *a = (hn_arch){0, 3, 6, HN_POOL_NONE, 0};
    int used = 0;
    if (sscanf(spec, "L%zu%n", &a->layers, &used) != 1 || !a->layers)
        return -1;
    spec += used;
    if (sscanf(spec, "_C%zu%n", &a->channels, &used) == 1)
        spec += used;
    if (!strncmp(spec, "_max", 4) || !strncmp(spec, "_avg", 4)) {
        a->pool = spec[1] == 'm' ? HN_POOL_MAX : HN_POOL_AVG;
        if (sscanf(spec + 4, "%zu%n", &a->pool_pos, &used) != 1)
            return -1;
        spec += 4 + used;
    }
    return *spec ? -1 : 0;
}

/* The paper grid's expensive settings (section VI, 28x28): the rows
 * train_<net>, jac_ho_<net> and ho_<net> run on these, with weights at
 * PyTorch's initialisation written by prepare() as <net>.bin. */
static const char *const GRID_NETS[] = {"L5_C42", "L5_C24", "L5_C12_max4", "L5_C12_avg4", "L5"};
#define N_GRID_NETS (sizeof GRID_NETS / sizeof *GRID_NETS)

static void write_raw(const char *dir, const char *name, const void *p, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void read_raw(const char *dir, const char *name, void *p, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f || fread(p, 1, bytes, f) != bytes) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* Samples x uniform [0,1]; labels from a fixed random linear "teacher" on
 * the pixels (a learnable task, so the short training below moves the
 * weights off their initialisation). */
static hn_samples *draw_samples(const hn_model *m, size_t n, gsl_rng *r, const double *teacher)
{
    hn_samples *s;
    hn_err e;
    if (hn_samples_alloc(m, n, &s, &e))
        die("samples", &e);
    const size_t d = s->in_size;
    for (size_t i = 0; i < n * d; i++)
        s->x[i] = gsl_rng_uniform(r);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        double bv = -1e300;
        for (size_t k = 0; k < 10; k++) {
            double v = 0;
            for (size_t j = 0; j < d; j++)
                v += teacher[k * 784 + j] * (s->x[i * d + j] - 0.5);
            if (v > bv) {
                bv = v;
                best = k;
            }
        }
        s->y_class[i] = (long)best;
    }
    return s;
}

/* Weights: PyTorch's default initialisation, then 200 Adam steps (batch
 * 64) on teacher-labelled images: a network part-way through training. */
static void prepare(const char *dir)
{
    mkdir(dir, 0755);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 20240601);
    double *teacher = malloc(10 * 784 * sizeof *teacher);
    for (size_t i = 0; i < 10 * 784; i++)
        teacher[i] = gsl_rng_uniform(r) - 0.5;
    hn_err e;
    for (int which = 0; which < 2; which++) {
        const size_t L = which == 0 ? 3 : 5, hw = which == 0 ? 28 : 14;
        hn_model *m = cnn(L, hw);
        double *th = malloc(m->n_params * sizeof *th);
        hn_init_uniform(m, r, th);
        hn_samples *tr = draw_samples(m, 64 * 50, r, teacher);
        hn_fast *f;
        hn_adam *opt;
        double *g = malloc(m->n_params * sizeof *g), loss;
        if (hn_fast_alloc(m, 0, 0, &f, &e) || hn_adam_alloc(m->n_params, 1e-3, 0.9, 0.999, 1e-8, &opt, &e))
            die("setup", &e);
        size_t idx[64];
        for (int step = 0; step < 200; step++) {
            for (size_t j = 0; j < 64; j++)
                idx[j] = (size_t)(step % 50) * 64 + j;
            if (hn_batch_forward_backward(m, th, tr, idx, 64, f, &loss, g, &e))
                die("setup training", &e);
            hn_adam_step(opt, th, g);
        }
        write_raw(dir, which == 0 ? "L3.bin" : "L5s.bin", th, m->n_params * sizeof *th);
        hn_samples *s = draw_samples(m, N_HESS, r, teacher);
        int64_t *y = malloc(N_HESS * sizeof *y);
        for (size_t i = 0; i < N_HESS; i++)
            y[i] = s->y_class[i];
        write_raw(dir, which == 0 ? "hess_x.bin" : "dense_x.bin", s->x, N_HESS * s->in_size * sizeof(double));
        write_raw(dir, which == 0 ? "hess_y.bin" : "dense_y.bin", y, N_HESS * sizeof *y);
        free(y);
        hn_samples_free(s);
        hn_samples_free(tr);
        hn_fast_free(f);
        hn_adam_free(opt);
        free(g);
        free(th);
        hn_model_free(m);
    }
    for (size_t k = 0; k < N_GRID_NETS; k++) {
        hn_arch a;
        arch_of(GRID_NETS[k], &a);
        hn_model *m = arch_cnn(&a, 1, 28);
        double *th = malloc(m->n_params * sizeof *th);
        hn_init_uniform(m, r, th);
        char name[64];
        snprintf(name, sizeof name, "%s.bin", GRID_NETS[k]);
        write_raw(dir, name, th, m->n_params * sizeof *th);
        free(th);
        hn_model_free(m);
    }
    free(teacher);
    gsl_rng_free(r);
}

static hn_samples *load_samples(const hn_model *m, const char *dir, const char *tag, size_t n)
{
    hn_samples *s;
    hn_err e;
    char nx[64], ny[64];
    if (hn_samples_alloc(m, n, &s, &e))
        die("samples", &e);
    snprintf(nx, sizeof nx, "%s_x.bin", tag);
    snprintf(ny, sizeof ny, "%s_y.bin", tag);
    read_raw(dir, nx, s->x, n * s->in_size * sizeof(double));
    int64_t *y = malloc(n * sizeof *y);
    read_raw(dir, ny, y, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        s->y_class[i] = (long)y[i];
    free(y);
    return s;
}

/* ------------------------------------------------------------ FLOP counts */

/* Multiply-adds x 2 of every linear op's forward product: all = sum over
 * the linear ops, rest = the same without the first (whose data gradient
 * is never needed), head = the last op's share. */
static void flops(const hn_model *m, double *all, double *rest)
{
    *all = *rest = 0;
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        double f = 2.0 * (double)ly->param_count * (double)(ly->out.h * ly->out.w);
        *all += f;
        if (t > 0)
            *rest += f;
    }
}

/* Useful FLOPs of one sample's logit Jacobian and ||H_O|| (K = 10): the
 * forward pass (all), the K reverse passes (weight gradients all, data
 * gradients rest) and the K x K Gram over the body's parameters
 * (K (K + 1) / 2 dot products of length P_body, 2 FLOPs each; the head's
 * block I_K (x) x^T is one more dot product, not counted).  Convolutions count as their
 * im2col GEMMs (2 x params x output positions, see flops); ReLU, pooling,
 * im2col copies and the 10 x 10 eigenproblem are not counted. */
static double jac_flop(const hn_model *m)
{
    double a, b;
    flops(m, &a, &b);
    const hn_layer *hd = &m->layers[m->n_layers - 1];
    return a + 10.0 * (a + b) + 10.0 * 11.0 * (double)(m->n_params - hd->param_count);
}

/* Seconds of one batch-64 training step's convolutions alone, by the
 * public batched primitives on 16 chunks of HN_FAST_CHUNK samples as the
 * step runs them (forward, weight gradient, data gradient but at the
 * first conv; im2col / col2im included), single thread, random data: what
 * the step would cost if everything else (ReLU, pooling, the head, the
 * loss, the chunk reduction, Adam) were free.  Best of 3. */
static double conv_seconds(const hn_model *m)
{
    double best = INFINITY;
    const size_t nb = HN_FAST_CHUNK;
    for (int trial = 0; trial < 3; trial++) {
        double tot = 0;
        for (size_t i = 0; i < m->n_layers; i++) {
            const hn_layer *ly = &m->layers[i];
            if (ly->type != HN_CONV2D)
                continue;
            const size_t nin = hn_shape_size(ly->in) * nb, nout = hn_shape_size(ly->out) * nb;
            const size_t ncol = hn_conv_col_size(ly->in, nb, ly->kh, ly->kw);
            double *x = malloc(nin * sizeof *x), *z = malloc(nout * sizeof *z), *dx = malloc(nin * sizeof *dx);
            double *col = malloc((ncol ? ncol : 1) * sizeof *col), *W = malloc(ly->param_count * sizeof *W);
            double *dW = calloc(ly->param_count, sizeof *dW);
            for (size_t j = 0; j < nin; j++)
                x[j] = 1.0 / (double)(j + 1);
            for (size_t j = 0; j < ly->param_count; j++)
                W[j] = 1.0 / (double)(j + 2);
            const double t0 = wall();
            for (size_t c = 0; c < 64 / nb; c++) {
                hn_conv_forward_batch(ly->in, nb, ly->out.c, ly->kh, ly->kw, W, x, col, z);
                hn_conv_backward_weights_batch(ly->in, nb, ly->out.c, ly->kh, ly->kw, x, z, col, dW);
                if (i > 0)
                    hn_conv_backward_data_batch(ly->in, nb, ly->out.c, ly->kh, ly->kw, W, z, col, dx);
            }
            tot += wall() - t0;
            free(x);
            free(z);
            free(dx);
            free(col);
            free(W);
            free(dW);
        }
        best = fmin(best, tot);
    }
    return best;
}

/* ------------------------------------------------------------ rows */

typedef struct {
    double seconds;   /* the row's time unit: see row_unit */
    double value;     /* a checkable output (loss, eigenvalue) */
    double iters;
    double flop;      /* useful floating-point operations of the timed part */
    long maxrss_kb;
    double check;     /* PyTorch inspect row: largest relative difference to hessnorm's JSON (NAN: none) */
    double fwd;       /* train rows: seconds per image of the forward pass (per-sample losses), else 0 */
    double conv;      /* train rows, 1 thread: seconds of the step's convolutions alone (conv_seconds) */
} result;

static const char *const ROWS[] = {"train_L1", "train_L3", "train_L5", "loss60k", "ho",
                                   "topeig64", "topeig1000", "dense", "inspect64",
                                   "train_L5_C42", "train_L5_C24", "train_L5_C12_max4", "train_L5_C12_avg4",
                                   "jac_ho_L5_C42", "jac_ho_L5_C24", "jac_ho_L5_C12_max4", "jac_ho_L5_C12_avg4",
                                   "jac_ho_L5", "ho_L5_C42", "ho_L5_C24", "ho_L5_C12_max4", "ho_L5_C12_avg4",
                                   "ho_L5", "audit64"};
#define N_ROWS (sizeof ROWS / sizeof *ROWS)

/* The network m at th and its samples s as interchange files in dir/name/
 * (pm, pw, ps: their paths), untimed setup of a command row. */
static void command_files(const hn_model *m, const double *th, const hn_samples *s, const char *dir,
                          const char *name, char pm[1200], char pw[1200], char ps[1200])
{
    hn_err e;
    char d[1024];
    snprintf(d, sizeof d, "%s/%s", dir, name);
    mkdir(d, 0755);
    snprintf(pm, 1200, "%s/model.json", d);
    snprintf(pw, 1200, "%s/weights.safetensors", d);
    snprintf(ps, 1200, "%s/sample.safetensors", d);
    if (hn_model_save(m, pm, &e) || hn_weights_save(m, th, pw, &e) || hn_samples_save(m, s, ps, &e))
        die(name, &e);
}

/* The command argv (argv[0] the program) with stdout into out, timed end
 * to end in a child: R's wall seconds and the child's peak memory (wait4). */
static void command_run(char **argv, const char *out, const char *name, result *R)
{
    fflush(stdout);
    double t0 = wall();
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench: %s: %s failed\n", name, argv[0]);
        exit(1);
    }
    R->seconds = wall() - t0;
    R->maxrss_kb = ru.ru_maxrss;
    /* the CPU time beside the wall time: on a shared machine the two differ */
    const double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    fprintf(stderr, "bench: %s: wall %.1f s, CPU %.1f s (user + sys), peak %.0f MB\n", name, R->seconds, cpu,
            (double)R->maxrss_kb / 1024);
}

static const char *hessnorm_cmd(void)
{
    return getenv("HN_BENCH_HESSNORM") ? getenv("HN_BENCH_HESSNORM") : "./hessnorm";
}

/* The inspect64 row: L3 and 64 of the Hessian samples as interchange files
 * in dir/inspect64/, then the command on them (untimed setup, timed run). */
static void inspect_row(int T, const char *dir, result *R)
{
    char pm[1200], pw[1200], ps[1200], out[1200], thr[16];
    hn_model *m = cnn(3, 28);
    double *th = malloc(m->n_params * sizeof *th);
    read_raw(dir, "L3.bin", th, m->n_params * sizeof *th);
    hn_samples *s = load_samples(m, dir, "hess", 64);
    command_files(m, th, s, dir, "inspect64", pm, pw, ps);
    snprintf(out, sizeof out, "%s/inspect_hn.json", dir);
    snprintf(thr, sizeof thr, "%d", T);
    char *argv[] = {(char *)hessnorm_cmd(), "inspect", "--model", pm, "--weights", pw, "--sample", ps, "--json",
                    "--matrix-free", "--threads", thr, NULL};
    command_run(argv, out, "inspect64", R);
    json_t *j = json_load_file(out, 0, NULL);
    json_t *h = j ? json_object_get(j, "hessian") : NULL;
    R->value = h ? json_real_value(json_object_get(h, "max_eigenvalue")) : NAN;
    R->iters = h ? (double)json_integer_value(json_object_get(h, "lanczos_products")) : NAN;
    json_decref(j);
    hn_samples_free(s);
    free(th);
    hn_model_free(m);
}

/* The audit64 row: the paper's largest CNN (L5, C = 42; PyTorch-uniform
 * weights from a fixed seed) and 64 of the Hessian samples as files in
 * dir/audit64/, then `audit --model --json` on them (no value checked:
 * the claims' values are tested in tests/, not here). */
static void audit_row(int T, const char *dir, result *R)
{
    char pm[1200], pw[1200], ps[1200], out[1200], thr[16];
    hn_arch a = {5, 3, 42, HN_POOL_NONE, 0};
    hn_model *m;
    hn_err e;
    if (hn_arch_model(&a, 1, 28, 28, 10, &m, &e))
        die("model", &e);
    double *th = malloc(m->n_params * sizeof *th);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 20261202);
    hn_init_uniform(m, r, th);
    gsl_rng_free(r);
    hn_samples *s = load_samples(m, dir, "hess", 64);
    command_files(m, th, s, dir, "audit64", pm, pw, ps);
    snprintf(out, sizeof out, "%s/audit_hn.json", dir);
    snprintf(thr, sizeof thr, "%d", T);
    char *argv[] = {(char *)hessnorm_cmd(), "audit", "--model", pm, "--weights", pw, "--sample", ps, "--json",
                    "--threads", thr, NULL};
    command_run(argv, out, "audit64", R);
    R->value = R->iters = NAN;
    hn_samples_free(s);
    free(th);
    hn_model_free(m);
}

static result hn_row(const char *row, int T, const char *dir)
{
    result R = {0};
    hn_err e;
    hn_arch arch;
    if (!strncmp(row, "train_", 6) && !arch_of(row + 6, &arch)) {
        hn_model *m = arch_cnn(&arch, 1, 28);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        double *th = malloc(m->n_params * sizeof *th), *g = malloc(m->n_params * sizeof *g), loss = 0;
        double *lo = malloc(512 * sizeof *lo);
        hn_init_uniform(m, r, th);
        hn_samples *s;
        if (hn_samples_alloc(m, 512, &s, &e))
            die("samples", &e);
        for (size_t i = 0; i < 512 * 784; i++)
            s->x[i] = gsl_rng_uniform(r);
        for (size_t i = 0; i < 512; i++)
            s->y_class[i] = (long)gsl_rng_uniform_int(r, 10);
        hn_fast *f;
        hn_adam *opt;
        if (hn_fast_alloc(m, T, 0, &f, &e) || hn_adam_alloc(m->n_params, 1e-3, 0.9, 0.999, 1e-8, &opt, &e))
            die("train setup", &e);
        size_t idx[64];
        /* ~5-10 s a row: a C >= 24 step is 4-15x a C = 6 step (peer: --steps) */
        const int steps = arch.channels >= 24 ? 10 : 40;
        double t0 = 0;
        for (int st = -5; st < steps; st++) {
            if (st == 0)
                t0 = wall();
            for (size_t j = 0; j < 64; j++)
                idx[j] = (size_t)((st + 5) % 8) * 64 + j;
            if (hn_batch_forward_backward(m, th, s, idx, 64, f, &loss, g, &e))
                die("train", &e);
            hn_adam_step(opt, th, g);
        }
        R.seconds = (wall() - t0) / steps;
        /* the per-sample-loss pass (the loss curves' forward passes) on the
         * same 512 images, for the grid estimate */
        t0 = wall();
        if (hn_batch_losses(m, th, s, NULL, 512, f, lo, NULL, NULL, &e))
            die("losses", &e);
        R.fwd = (wall() - t0) / 512;
        if (T == 1)
            R.conv = conv_seconds(m);
        R.value = loss;
        R.iters = steps;
        double a, b;
        flops(m, &a, &b);
        R.flop = 64.0 * (2 * a + b);
        hn_fast_free(f);
        hn_adam_free(opt);
        hn_samples_free(s);
        free(th);
        free(g);
        free(lo);
        gsl_rng_free(r);
        hn_model_free(m);
    } else if (!strcmp(row, "loss60k")) {
        const size_t n = 60000;
        hn_model *m = cnn(3, 28);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        double *th = malloc(m->n_params * sizeof *th), *loss = malloc(n * sizeof *loss);
        hn_init_uniform(m, r, th);
        hn_samples *s;
        if (hn_samples_alloc(m, n, &s, &e))
            die("samples", &e);
        for (size_t i = 0; i < n * 784; i++)
            s->x[i] = gsl_rng_uniform(r);
        for (size_t i = 0; i < n; i++)
            s->y_class[i] = (long)gsl_rng_uniform_int(r, 10);
        hn_fast *f;
        if (hn_fast_alloc(m, T, 0, &f, &e))
            die("loss setup", &e);
        double t0 = wall();
        if (hn_batch_losses(m, th, s, NULL, n, f, loss, NULL, NULL, &e))
            die("losses", &e);
        R.seconds = wall() - t0;
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += loss[i];
        R.value = sum / (double)n;
        R.iters = (double)n;
        double a, b;
        flops(m, &a, &b);
        R.flop = (double)n * a;
        hn_fast_free(f);
        hn_samples_free(s);
        free(th);
        free(loss);
        gsl_rng_free(r);
        hn_model_free(m);
    } else if ((!strncmp(row, "jac_ho_", 7) && !arch_of(row + 7, &arch)) ||
               (!strncmp(row, "ho_", 3) && !arch_of(row + 3, &arch)) || !strcmp(row, "ho")) {
        /* jac_ho_<net>: the experiment's own route, hn_ho_analysis (each
         * sample's Jacobian by hn_jacobian's K reverse passes, its K x K
         * Gram, ||H_O||); ho_<net> and ho (L3, trained weights): the
         * batched kernel hn_batch_ho_eigs */
        const int l3 = !strcmp(row, "ho");
        if (l3)
            arch_of("L3", &arch);
        hn_model *m = arch_cnn(&arch, 1, 28);
        double *th = malloc(m->n_params * sizeof *th);
        char wname[64];
        snprintf(wname, sizeof wname, "%s.bin", l3 ? "L3" : row + (row[0] == 'j' ? 7 : 3));
        read_raw(dir, wname, th, m->n_params * sizeof *th);
        const size_t n = l3 ? N_HO : N_JAC;
        hn_samples *s = load_samples(m, dir, "hess", n);
        double *ev = malloc(n * 10 * sizeof *ev), t0;
        if (row[0] == 'j') {
            size_t order[N_HO];
            for (size_t i = 0; i < n; i++)
                order[i] = i;
            hn_ho_opts o;
            hn_ho_opts_default(&o);
            o.threads = T;
            if (hn_ho_analysis(m, th, s, order, 2, NULL, NULL, 0, &o, ev, NULL, &e))
                die("jac_ho setup", &e);
            t0 = wall();
            if (hn_ho_analysis(m, th, s, order, n, NULL, NULL, 0, &o, ev, NULL, &e))
                die("jac_ho", &e);
        } else {
            hn_fast *f;
            if (hn_fast_alloc(m, T, 0, &f, &e) || hn_batch_ho_eigs(m, th, s, NULL, 1, f, ev, &e))
                die("ho setup", &e);
            t0 = wall();
            if (hn_batch_ho_eigs(m, th, s, NULL, n, f, ev, &e))
                die("ho", &e);
            hn_fast_free(f);
        }
        R.seconds = (wall() - t0) / (double)n;
        R.value = ev[0];
        R.iters = (double)n;
        R.flop = jac_flop(m);
        free(ev);
        hn_samples_free(s);
        free(th);
        hn_model_free(m);
    } else if (!strncmp(row, "topeig", 6)) {
        hn_model *m = cnn(3, 28);
        double *th = malloc(m->n_params * sizeof *th);
        read_raw(dir, "L3.bin", th, m->n_params * sizeof *th);
        const size_t n = (size_t)atoi(row + 6);
        hn_samples *s = load_samples(m, dir, "hess", n);
        double a, b;
        flops(m, &a, &b);
        hn_lanczos_result lz;
        double t0 = wall();
        if (hn_mean_op_extreme(m, th, s, NULL, n, HN_OP_MEAN_H, 300, 1e-8, 1, T, &lz, &e))
            die("lanczos", &e);
        R.seconds = wall() - t0;
        R.value = lz.lambda_max;
        R.iters = (double)lz.iterations;
        /* per product and sample: forward a, tangent forward a + b,
         * reverse a + b (weights) + 3 b (data, tangents) */
        R.flop = (double)lz.iterations * (double)n * (3 * a + 5 * b);
        hn_samples_free(s);
        free(th);
        hn_model_free(m);
    } else if (!strcmp(row, "dense")) {
        hn_model *m = cnn(5, 14);
        const size_t P = m->n_params;
        double *th = malloc(P * sizeof *th);
        read_raw(dir, "L5s.bin", th, P * sizeof *th);
        hn_samples *s = load_samples(m, dir, "dense", 1);
        gsl_vector *ev = gsl_vector_alloc(P);
        double t0 = wall();
        if (hn_hessian_eigvals(m, th, s, T, ev, &e))
            die("dense", &e);
        R.seconds = wall() - t0;
        R.value = gsl_vector_get(ev, P - 1);
        R.iters = (double)P;
        double a, b;
        flops(m, &a, &b);
        const double blocks = ceil((double)P / HN_DENSE_DIRS);
        R.flop = blocks * (a + b + HN_DENSE_DIRS * (2 * a + 4 * b)) + 4.0 / 3.0 * pow((double)P, 3);
        gsl_vector_free(ev);
        hn_samples_free(s);
        free(th);
        hn_model_free(m);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    R.maxrss_kb = ru.ru_maxrss;
    if (!strcmp(row, "inspect64"))
        inspect_row(T, dir, &R); /* the command's own peak, not this process's */
    else if (!strcmp(row, "audit64"))
        audit_row(T, dir, &R);
    return R;
}

/* Run a hessnorm row in a fresh process (this program re-executed with
 * --child: its own peak memory, and no OpenMP or OpenBLAS thread pool
 * inherited across a fork). */
static int run_hn(const char *row, int T, const char *dir, result *out)
{
    char cmd[2048], line[1024];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=%d OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 /proc/%ld/exe "
             "--child %s %d %s",
             T, (long)getpid(), row, T, dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int ok = -1;
    out->fwd = out->conv = 0;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "seconds=%lf value=%lf iters=%lf flop=%lf maxrss_kb=%ld fwd=%lf conv=%lf",
                   &out->seconds, &out->value, &out->iters, &out->flop, &out->maxrss_kb, &out->fwd,
                   &out->conv) == 7)
            ok = 0;
    if (pclose(p) != 0)
        ok = -1;
    return ok;
}

/* Run a PyTorch row: python peer_torch.py --row ... (NULL python: skipped). */
static int run_torch(const char *py, const char *peer, const char *row, const char *prow,
                     const char *extra, int T, const char *dir, result *out)
{
    out->check = NAN;
    if (!py || !prow) /* no peer for this row */
        return -1;
    char cmd[2048], line[1024];
    snprintf(cmd, sizeof cmd,
             "OMP_NUM_THREADS=%d MKL_NUM_THREADS=%d OMP_WAIT_POLICY=PASSIVE %s %s --row %s --threads %d "
             "--data %s %s",
             T, T, py, peer, prow, T, dir, extra);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int ok = -1;
    while (fgets(line, sizeof line, p)) {
        char name[64];
        double s, v;
        int it;
        long rss;
        double chk;
        if (sscanf(line, "check_max_rel=%lf", &chk) == 1)
            out->check = chk;
        if (sscanf(line, "row=%63s seconds=%lf value=%lf iters=%d maxrss_kb=%ld", name, &s, &v, &it,
                   &rss) == 5) {
            out->seconds = s;
            out->value = v;
            out->iters = it;
            out->maxrss_kb = rss;
            ok = 0;
        }
    }
    if (pclose(p) != 0)
        ok = -1;
    (void)row;
    return ok;
}

/* ------------------------------------------------------------ peak */

/* Best DGEMM rate over a few shapes (square and the thin shapes of the
 * kernels), T OpenBLAS threads. */
static double dgemm_peak(int T)
{
    openblas_set_num_threads(T);
    const size_t shapes[][3] = {{1024, 1024, 1024}, {2048, 2048, 256}, {6, 2304, 54}, {60, 54, 576}};
    double best = 0;
    for (size_t s = 0; s < 4; s++) {
        const size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        double *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B), *C = calloc(M * N, sizeof *C);
        for (size_t i = 0; i < M * K; i++)
            A[i] = 1.0 / (double)(i + 1);
        for (size_t i = 0; i < K * N; i++)
            B[i] = 1.0 / (double)(i + 2);
        gsl_matrix_view a = gsl_matrix_view_array(A, M, K), b = gsl_matrix_view_array(B, K, N),
                        c = gsl_matrix_view_array(C, M, N);
        const double f = 2.0 * (double)M * (double)N * (double)K;
        const int reps = (int)fmax(3, 3e9 / f);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &a.matrix, &b.matrix, 0.0, &c.matrix);
        for (int trial = 0; trial < 3; trial++) {
            double t0 = wall();
            for (int r = 0; r < reps; r++)
                gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &a.matrix, &b.matrix, 0.0, &c.matrix);
            best = fmax(best, f * reps / (wall() - t0) / 1e9);
        }
        free(A);
        free(B);
        free(C);
    }
    openblas_set_num_threads(1);
    return best;
}

/* The peak in a fresh process too (OpenBLAS threads are not left behind). */
static double run_peak(int T)
{
    char cmd[256], line[256];
    double v = NAN;
    snprintf(cmd, sizeof cmd, "/proc/%ld/exe --peak %d", (long)getpid(), T);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NAN;
    while (fgets(line, sizeof line, p))
        sscanf(line, "peak=%lf", &v);
    pclose(p);
    return v;
}

/* ------------------------------------------------------------ table */

typedef struct {
    const char *label;  /* table row */
    const char *hrow;   /* hessnorm row */
    const char *prow;   /* PyTorch row */
    const char *extra;  /* PyTorch arguments */
    const char *unit;   /* "img/s", "s", "ms" */
} trow;

static const trow TROWS[] = {
    {"train L1 step (b=64) vs torch f64", "train_L1", "train_f64", "--layers 1", "img/s"},
    {"train L1 step (b=64) vs torch f32", "train_L1", "train_f32", "--layers 1", "img/s"},
    {"train L3 step (b=64) vs torch f64", "train_L3", "train_f64", "--layers 3", "img/s"},
    {"train L3 step (b=64) vs torch f32", "train_L3", "train_f32", "--layers 3", "img/s"},
    {"train L5 step (b=64) vs torch f64", "train_L5", "train_f64", "--layers 5", "img/s"},
    {"train L5 step (b=64) vs torch f32", "train_L5", "train_f32", "--layers 5", "img/s"},
    {"losses of 60,000 images (L3)", "loss60k", "loss60k", "", "s"},
    {"exact per-sample norm H_O (L3)", "ho", "ho", "--n 16 --vectorize", "ms"},
    {"top eig mean H, 64 samples (L3)", "topeig64", "topeig", "--n 64", "s"},
    {"top eig mean H, 1000 samples (L3)", "topeig1000", "topeig", "--n 1000", "s"},
    {"dense H + eigvals, P=2310 (L5 14x14)", "dense", "dense", "--n 1", "s"},
    {"inspect --matrix-free, 64 samples (L3)", "inspect64", "inspect", "--n 64 --check inspect_hn.json", "s"},
    {"train L5 C42 (b=64) vs torch f64", "train_L5_C42", "train_f64", "--net L5_C42 --steps 10", "img/s"},
    {"train L5 C42 (b=64) vs torch f32", "train_L5_C42", "train_f32", "--net L5_C42 --steps 10", "img/s"},
    {"train L5 C24 (b=64) vs torch f64", "train_L5_C24", "train_f64", "--net L5_C24 --steps 10", "img/s"},
    {"train L5 C24 (b=64) vs torch f32", "train_L5_C24", "train_f32", "--net L5_C24 --steps 10", "img/s"},
    {"train L5 C12 max4 (b=64) vs torch f64", "train_L5_C12_max4", "train_f64", "--net L5_C12_max4", "img/s"},
    {"train L5 C12 max4 (b=64) vs torch f32", "train_L5_C12_max4", "train_f32", "--net L5_C12_max4", "img/s"},
    {"train L5 C12 avg4 (b=64) vs torch f64", "train_L5_C12_avg4", "train_f64", "--net L5_C12_avg4", "img/s"},
    {"train L5 C12 avg4 (b=64) vs torch f32", "train_L5_C12_avg4", "train_f32", "--net L5_C12_avg4", "img/s"},
    {"jac+H_O L5 C42 (measure.c) vs torch f64", "jac_ho_L5_C42", "jac_ho", "--net L5_C42 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C42 (measure.c) vs torch f32", "jac_ho_L5_C42", "jac_ho", "--net L5_C42 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C42 (batched) vs torch f64", "ho_L5_C42", "jac_ho", "--net L5_C42 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C42 (batched) vs torch f32", "ho_L5_C42", "jac_ho", "--net L5_C42 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C24 (measure.c) vs torch f64", "jac_ho_L5_C24", "jac_ho", "--net L5_C24 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C24 (measure.c) vs torch f32", "jac_ho_L5_C24", "jac_ho", "--net L5_C24 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C24 (batched) vs torch f64", "ho_L5_C24", "jac_ho", "--net L5_C24 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C24 (batched) vs torch f32", "ho_L5_C24", "jac_ho", "--net L5_C24 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C12 max4 (measure.c) vs torch f64", "jac_ho_L5_C12_max4", "jac_ho", "--net L5_C12_max4 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C12 max4 (measure.c) vs torch f32", "jac_ho_L5_C12_max4", "jac_ho", "--net L5_C12_max4 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C12 max4 (batched) vs torch f64", "ho_L5_C12_max4", "jac_ho", "--net L5_C12_max4 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C12 max4 (batched) vs torch f32", "ho_L5_C12_max4", "jac_ho", "--net L5_C12_max4 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C12 avg4 (measure.c) vs torch f64", "jac_ho_L5_C12_avg4", "jac_ho", "--net L5_C12_avg4 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C12 avg4 (measure.c) vs torch f32", "jac_ho_L5_C12_avg4", "jac_ho", "--net L5_C12_avg4 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C12 avg4 (batched) vs torch f64", "ho_L5_C12_avg4", "jac_ho", "--net L5_C12_avg4 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C12 avg4 (batched) vs torch f32", "ho_L5_C12_avg4", "jac_ho", "--net L5_C12_avg4 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C6 (measure.c) vs torch f64", "jac_ho_L5", "jac_ho", "--net L5 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C6 (measure.c) vs torch f32", "jac_ho_L5", "jac_ho", "--net L5 --n 16 --dtype f32", "ms"},
    {"jac+H_O L5 C6 (batched) vs torch f64", "ho_L5", "jac_ho", "--net L5 --n 16 --dtype f64", "ms"},
    {"jac+H_O L5 C6 (batched) vs torch f32", "ho_L5", "jac_ho", "--net L5 --n 16 --dtype f32", "ms"},
    {"audit --model, 64 samples (L5 C42)", "audit64", NULL, "", "s"},
};
#define N_TROWS (sizeof TROWS / sizeof *TROWS)

/* hrow is one of the comma-separated names of list (whole names: "train_L5"
 * is not selected by "train_L5_C42"). */
static int row_listed(const char *list, const char *hrow)
{
    const size_t n = strlen(hrow);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        const size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && !strncmp(p, hrow, n))
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Display value of a time: images/s for training, ms or s otherwise. */
static double shown(const trow *t, double sec)
{
    if (!strcmp(t->unit, "img/s"))
        return 64.0 / sec;
    if (!strcmp(t->unit, "ms"))
        return 1e3 * sec;
    return sec;
}

#define MAXREP 16

/* ", "key": value" with null for a missing (non-finite) value */
static void jnum(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ", \"%s\": %.10g", key, v);
    else
        fprintf(f, ", \"%s\": null", key);
}

/* The BLAS lines above the table and the JSON's "blas" object. */
static void blas_lines(FILE *js, char *txt, size_t n)
{
    hn_blas_info b;
    hn_blas_info_get(&b);
    const double gf = hn_blas_dgemm_gflops();
    hn_blas_describe(&b, gf, txt, n);
    const size_t used = strlen(txt);
    snprintf(txt + used, n - used, "Direct convolutions: %s\n", hn_conv_isa_name(hn_conv_isa_get()));
    if (!js)
        return;
    static const char *const src[] = {"openblas", "selected", "environment"};
    fprintf(js, "  \"blas\": {\"config\": \"%s\", \"core\": \"%s\", \"chosen_by\": \"%s\", "
                "\"openblas_choice\": \"%s\", \"cpu_best\": \"%s\", \"dgemm_gflops_n384\": %.3f, "
                "\"direct_convolutions\": \"%s\"},\n",
            b.config, b.core, src[b.source], b.chosen, b.best, gf, hn_conv_isa_name(hn_conv_isa_get()));
}

/* ------------------------------------------------------------ grid estimate */

/* A table row's medians, for the grid estimate (seconds 0: not run). */
typedef struct {
    double seconds, flop_rate, fwd;
} measured;

/* The measured row of `kind` ("train_", "jac_ho_", "ho_") that stands for
 * setting s: the same pooling kind if one ran, then the nearest channel
 * count (the GEMM shapes scale with C), then the nearest depth, then the
 * smaller C.  -1: none. */
static int grid_pick(measured G[][4], int t, const char *kind, const hn_arch *s)
{
    int best = -1;
    double best_key[4] = {0, 0, 0, 0};
    for (size_t k = 0; k < N_TROWS; k++) {
        hn_arch a;
        const size_t n = strlen(kind);
        if (strncmp(TROWS[k].hrow, kind, n) || arch_of(TROWS[k].hrow + n, &a) || !(G[k][t].seconds > 0))
            continue;
        const double key[4] = {a.pool == s->pool ? 0 : 1, fabs((double)a.channels - (double)s->channels),
                               fabs((double)a.layers - (double)s->layers), (double)a.channels};
        int better = best < 0;
        for (int j = 0; j < 4 && !better; j++) {
            if (key[j] != best_key[j]) {
                better = key[j] < best_key[j];
                break;
            }
        }
        if (better) {
            best = (int)k;
            memcpy(best_key, key, sizeof key);
        }
    }
    return best;
}

/* The paper preset's wall time for every model of the four sweeps
 * (hn_sweep_settings, HN_VALUES_ALL: 25 models per data set, a network in
 * two sweeps counted twice as the experiment trains it twice), from the
 * rates measured above.  Per model with setting s, n training and n_te
 * test images, E epochs (hn_paper_epochs) and ||H_O|| on all n training
 * images (the paper preset's hess_n = 0):
 *   t(s) = E n (2a + b) / R_train + (n + n_te) a / R_fwd + n f_jac / R_jac
 * with a, b the counted FLOPs of s's forward pass and reverse data pass on
 * the data set's image size (flops), f_jac = jac_flop, and R the FLOP
 * rates (counted FLOPs / measured seconds) of the row grid_pick chooses for
 * s: the training step, its per-sample-loss pass, the experiment's
 * Jacobian route (jac_ho_) and, as the second total, the batched kernel
 * (ho_).  Not counted: the Lanczos of ||H_{O,k+1} - mean|| (k <= 1000, at
 * most 600 products on 1,001 stored Jacobians), the loss curves' shuffles
 * and the tightness table, each minutes per model at most.  "2 shards"
 * runs two single-thread processes (experiment --shard) on the two cores:
 * max(half the 1-thread total, the longest model). */
static void grid_estimate(FILE *js, measured G[][4], int nthr, const int *thr)
{
    static const struct {
        const char *name;
        size_t c, hw, n, n_te;
    } ds[] = {{"fashion-mnist", 1, 28, 60000, 10000}, {"mnist", 1, 28, 60000, 10000},
              {"cifar10", 3, 32, 50000, 10000}};
    int any = 0;
    printf("\nestimated wall time of the paper grid (preset paper, sweeps layers, kernel, channels, pooling;\n"
           "rates of the rows above, per setting the row of the same pooling kind and nearest C):\n");
    printf("%-14s %-18s %8s %8s %10s %9s   %s\n", "data set", "cores", "train h", "losses h", "jacobians h",
           "total h", "total h, batched Jacobians");
    if (js)
        fprintf(js, ",\n  \"grid_estimate\": [");
    for (size_t d = 0; d < sizeof ds / sizeof *ds; d++) {
        const double E = (double)hn_paper_epochs(ds[d].name), n = (double)ds[d].n, nte = (double)ds[d].n_te;
        double one_total = NAN, one_longest = 0, one_batched = NAN, one_parts[3] = {0, 0, 0};
        for (int t = 0; t < nthr; t++) {
            double part[3] = {0, 0, 0}, batched = 0, longest = 0;
            int ok = 1;
            for (int sw = 0; sw < 4; sw++) {
                hn_arch set[16];
                const size_t ns = hn_sweep_settings((hn_sweep)sw, HN_VALUES_ALL, set, 16);
                for (size_t i = 0; i < ns; i++) {
                    const int kt = grid_pick(G, t, "train_", &set[i]), kj = grid_pick(G, t, "jac_ho_", &set[i]);
                    const int kb = grid_pick(G, t, "ho_", &set[i]);
                    if (kt < 0 || kj < 0 || !(G[kt][t].fwd > 0)) {
                        ok = 0;
                        continue;
                    }
                    hn_model *m = arch_cnn(&set[i], ds[d].c, ds[d].hw);
                    double a, b;
                    flops(m, &a, &b);
                    /* the forward rate: the row's counted forward FLOPs over its seconds per image */
                    hn_arch ra;
                    arch_of(TROWS[kt].hrow + 6, &ra);
                    hn_model *mr = arch_cnn(&ra, 1, 28);
                    double ar, br;
                    flops(mr, &ar, &br);
                    const double rfwd = ar / G[kt][t].fwd, fj = jac_flop(m);
                    const double tt = E * n * (2 * a + b) / G[kt][t].flop_rate, tf = (n + nte) * a / rfwd;
                    const double tj = n * fj / G[kj][t].flop_rate;
                    part[0] += tt;
                    part[1] += tf;
                    part[2] += tj;
                    batched += tt + tf + (kb >= 0 ? n * fj / G[kb][t].flop_rate : NAN);
                    longest = fmax(longest, tt + tf + tj);
                    hn_model_free(mr);
                    hn_model_free(m);
                }
            }
            if (!ok)
                continue;
            any = 1;
            const double total = part[0] + part[1] + part[2];
            char cores[64];
            snprintf(cores, sizeof cores, "%d (%d thread%s)", thr[t], thr[t], thr[t] > 1 ? "s" : "");
            printf("%-14s %-18s %8.1f %8.2f %10.1f %9.1f   %.1f\n", ds[d].name, cores, part[0] / 3600,
                   part[1] / 3600, part[2] / 3600, total / 3600, batched / 3600);
            if (js)
                fprintf(js, "%s\n    {\"dataset\": \"%s\", \"cores\": %d, \"mode\": \"%d thread%s\", \"train_h\": %.4g, "
                            "\"forward_h\": %.4g, \"jacobian_h\": %.4g, \"total_h\": %.4g, "
                            "\"total_batched_jacobian_h\": %.4g}",
                        d || t ? "," : "", ds[d].name, thr[t], thr[t], thr[t] > 1 ? "s" : "", part[0] / 3600,
                        part[1] / 3600,
                        part[2] / 3600, total / 3600, batched / 3600);
            if (thr[t] == 1) {
                one_total = total;
                one_longest = longest;
                one_batched = batched;
                memcpy(one_parts, part, sizeof part);
            }
        }
        if (isfinite(one_total)) {
            const double two = fmax(one_total / 2, one_longest);
            printf("%-14s %-18s %8.1f %8.2f %10.1f %9.1f   %.1f\n", ds[d].name, "2 (2 shards x 1)",
                   one_parts[0] / 7200, one_parts[1] / 7200, one_parts[2] / 7200, two / 3600,
                   one_batched / 7200);
            if (js)
                fprintf(js, ",\n    {\"dataset\": \"%s\", \"cores\": 2, \"mode\": \"2 shards x 1 thread\", "
                            "\"total_h\": %.4g, \"total_batched_jacobian_h\": %.4g}",
                        ds[d].name, two / 3600, one_batched / 7200);
        }
    }
    if (!any)
        printf("(needs a train_ and a jac_ho_ row: --rows train_L5_C42,jac_ho_L5_C42,...)\n");
    if (js)
        fprintf(js, "\n  ]");
}

int main(int argc, char **argv)
{
    /* the kernel hessnorm would run (and one OpenBLAS thread), before
     * OpenBLAS's first call; the measurement children inherit it */
    if (hn_blas_prepare(1))
        execv("/proc/self/exe", argv);
    if (argc == 5 && !strcmp(argv[1], "--child")) {
        hn_gsl_quiet();
        openblas_set_num_threads(1); /* the threads come from OpenMP */
        const int T = atoi(argv[3]);
#ifdef _OPENMP
        omp_set_num_threads(T);
#endif
        result R = hn_row(argv[2], T, argv[4]);
        printf("seconds=%.17g value=%.17g iters=%.17g flop=%.17g maxrss_kb=%ld fwd=%.17g conv=%.17g\n",
               R.seconds, R.value, R.iters, R.flop, R.maxrss_kb, R.fwd, R.conv);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--peak")) {
        printf("peak=%.6f\n", dgemm_peak(atoi(argv[2])));
        return 0;
    }
    int reps = 3, nthr = 0, thr[4];
    const char *json = "bench/results.json", *dir = "bench/.data", *peer = "bench/peer_torch.py";
    const char *py = NULL, *threads = "1 2", *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--python") && i + 1 < argc)
            py = argv[++i];
        else if (!strcmp(argv[i], "--peer") && i + 1 < argc)
            peer = argv[++i];
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: bench [--reps R] [--threads \"1 2\"] [--json FILE] [--data DIR] "
                            "[--python PY] [--peer FILE] [--rows a,b]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAXREP)
        reps = 3;
    for (const char *p = threads; *p && nthr < 4;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (v > 0)
            thr[nthr++] = (int)v;
        p = end;
    }
    if (!nthr)
        thr[nthr++] = 1;
    hn_gsl_quiet();
    if (!py) {
        const char *cand[] = {"/usr/bin/python3", "python3"};
        for (int i = 0; i < 2 && !py; i++) {
            char cmd[256];
            snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", cand[i]);
            if (system(cmd) == 0)
                py = cand[i];
        }
    }
    fprintf(stderr, "bench: preparing weights and samples in %s\n", dir);
    prepare(dir);
    double peak[4];
    for (int t = 0; t < nthr; t++) {
        peak[t] = run_peak(thr[t]);
        fprintf(stderr, "bench: DGEMM peak with %d thread(s): %.1f GFLOP/s\n", thr[t], peak[t]);
    }

    /* results[row][thread][rep] */
    static result H[N_TROWS][4][MAXREP], Tq[N_TROWS][4][MAXREP];
    static int okH[N_TROWS][4][MAXREP], okT[N_TROWS][4][MAXREP];
    static result hcache[N_ROWS][4][MAXREP];
    static int hdone[N_ROWS][4][MAXREP];
    for (int rep = 0; rep < reps; rep++)
        for (int t = 0; t < nthr; t++)
            for (size_t k = 0; k < N_TROWS; k++) {
                const trow *tr = &TROWS[k];
                if (only && !row_listed(only, tr->hrow))
                    continue;
                size_t hi = 0;
                while (strcmp(ROWS[hi], tr->hrow))
                    hi++;
                /* a hessnorm row shared by two table rows runs once per rep */
                if (!hdone[hi][t][rep]) {
                    hdone[hi][t][rep] = run_hn(tr->hrow, thr[t], dir, &hcache[hi][t][rep]) == 0 ? 1 : -1;
                    if (hdone[hi][t][rep] > 0)
                        fprintf(stderr, "bench: rep %d, %d thr, hessnorm %-10s %.6g s\n", rep + 1,
                                thr[t], tr->hrow, hcache[hi][t][rep].seconds);
                }
                okH[k][t][rep] = hdone[hi][t][rep] > 0;
                H[k][t][rep] = hcache[hi][t][rep];
                /* a PyTorch row shared by two table rows (the two hessnorm
                 * routes of jac+H_O) runs once per rep too */
                if (!tr->prow) { /* no PyTorch peer (audit64) */
                    okT[k][t][rep] = 0;
                    continue;
                }
                size_t kp = 0;
                while (kp < k && (!TROWS[kp].prow || strcmp(TROWS[kp].prow, tr->prow) || strcmp(TROWS[kp].extra, tr->extra) ||
                                  (only && !row_listed(only, TROWS[kp].hrow))))
                    kp++;
                if (kp < k) {
                    okT[k][t][rep] = okT[kp][t][rep];
                    Tq[k][t][rep] = Tq[kp][t][rep];
                    continue;
                }
                okT[k][t][rep] = run_torch(py, peer, tr->hrow, tr->prow, tr->extra, thr[t], dir,
                                           &Tq[k][t][rep]) == 0;
                if (okT[k][t][rep])
                    fprintf(stderr, "bench: rep %d, %d thr, PyTorch  %-10s %.6g s\n", rep + 1, thr[t],
                            tr->prow, Tq[k][t][rep].seconds);
            }

    FILE *js = fopen(json, "w");
    if (js) {
        char host[256] = "";
        gethostname(host, sizeof host);
        fprintf(js, "{\n  \"machine\": {\"cpus\": %ld, \"host\": \"%s\"},\n  \"reps\": %d,\n",
                sysconf(_SC_NPROCESSORS_ONLN), host, reps);
    }
    char blas[1024];
    blas_lines(js, blas, sizeof blas);
    if (js) {
        fprintf(js, "  \"dgemm_peak_gflops\": {");
        for (int t = 0; t < nthr; t++)
            fprintf(js, "%s\"%d\": %.3f", t ? ", " : "", thr[t], peak[t]);
        fprintf(js, "},\n  \"rows\": [\n");
    }
    printf("\n%s%-46s %3s %12s %12s %7s %8s %6s %9s %9s\n", blas, "row", "thr", "hessnorm", "PyTorch",
           "ratio", "GFLOP/s", "%peak", "MB hn", "MB torch");
    int first = 1;
    static measured G[N_TROWS][4];
    for (size_t k = 0; k < N_TROWS; k++)
        for (int t = 0; t < nthr; t++) {
            const trow *tr = &TROWS[k];
            double hs[MAXREP], ts[MAXREP], hm[MAXREP], tm[MAXREP], hf[MAXREP], hv[MAXREP], tv[MAXREP];
            double hit[MAXREP], tit[MAXREP], hfw[MAXREP], hcv[MAXREP], chk = NAN;
            int nh = 0, nt = 0;
            for (int rep = 0; rep < reps; rep++) {
                if (okH[k][t][rep]) {
                    hs[nh] = H[k][t][rep].seconds;
                    hm[nh] = (double)H[k][t][rep].maxrss_kb;
                    hf[nh] = H[k][t][rep].flop / H[k][t][rep].seconds;
                    hv[nh] = H[k][t][rep].value;
                    hfw[nh] = H[k][t][rep].fwd;
                    hcv[nh] = H[k][t][rep].conv;
                    hit[nh++] = H[k][t][rep].iters;
                }
                if (okT[k][t][rep]) {
                    ts[nt] = Tq[k][t][rep].seconds;
                    tm[nt] = (double)Tq[k][t][rep].maxrss_kb;
                    tv[nt] = Tq[k][t][rep].value;
                    if (isfinite(Tq[k][t][rep].check))
                        chk = isfinite(chk) ? fmax(chk, Tq[k][t][rep].check) : Tq[k][t][rep].check;
                    tit[nt++] = Tq[k][t][rep].iters;
                }
            }
            if (!nh && !nt)
                continue;
            const double hsec = median(hs, nh), tsec = median(ts, nt), gf = median(hf, nh) / 1e9;
            const double hmb = median(hm, nh) / 1024, tmb = median(tm, nt) / 1024;
            const double ratio = tsec / hsec;
            if (nh) {
                G[k][t].seconds = hsec;
                G[k][t].flop_rate = gf * 1e9;
                G[k][t].fwd = median(hfw, nh);
            }
            printf("%-46s %3d %12.4g %12.4g %7.2f %8.2f %6.1f %9.0f %9.0f\n", tr->label, thr[t],
                   shown(tr, hsec), shown(tr, tsec), ratio, gf, 100 * gf / peak[t], hmb, tmb);
            const double conv = nh ? median(hcv, nh) : 0;
            if (conv > 0)
                printf("%-46s     convolutions alone (im2col + GEMM, conv_seconds): %.1f ms, %.0f%% of the "
                       "step, %.1f GFLOP/s\n",
                       "", 1e3 * conv, 100 * conv / hsec, median(hf, nh) * hsec / conv / 1e9);
            if (isfinite(chk))
                printf("%-46s     values: largest relative difference hessnorm vs PyTorch %.3g\n", "", chk);
            if (js) {
                fprintf(js, "%s    {\"row\": \"%s\", \"threads\": %d, \"unit\": \"%s\"",
                        first ? "" : ",\n", tr->label, thr[t], tr->unit);
                jnum(js, "hessnorm", nh ? shown(tr, hsec) : NAN);
                jnum(js, "pytorch", nt ? shown(tr, tsec) : NAN);
                jnum(js, "ratio", nh && nt ? ratio : NAN);
                jnum(js, "hessnorm_seconds", nh ? hsec : NAN);
                jnum(js, "pytorch_seconds", nt ? tsec : NAN);
                jnum(js, "gflops", nh ? gf : NAN);
                jnum(js, "pct_peak", nh ? 100 * gf / peak[t] : NAN);
                jnum(js, "hessnorm_maxrss_mb", nh ? hmb : NAN);
                jnum(js, "pytorch_maxrss_mb", nt ? tmb : NAN);
                jnum(js, "hessnorm_value", nh ? hv[0] : NAN);
                jnum(js, "pytorch_value", nt ? tv[0] : NAN);
                jnum(js, "hessnorm_iters", nh ? median(hit, nh) : NAN);
                jnum(js, "pytorch_iters", nt ? median(tit, nt) : NAN);
                jnum(js, "max_rel_difference", chk);
                if (conv > 0)
                    jnum(js, "conv_alone_seconds", conv);
                if (nh && median(hfw, nh) > 0)
                    jnum(js, "forward_seconds_per_image", median(hfw, nh));
                fprintf(js, ", \"reps\": [%d, %d]}", nh, nt);
                first = 0;
            }
        }
    printf("ratio = PyTorch time / hessnorm time; GFLOP/s and %%peak: hessnorm's counted FLOPs "
           "against the best DGEMM rate measured in this run (");
    for (int t = 0; t < nthr; t++)
        printf("%s%d thr %.1f", t ? ", " : "", thr[t], peak[t]);
    printf(" GFLOP/s)%s\n", py ? "" : "; PyTorch not found, peer skipped");
    if (js)
        fprintf(js, "\n  ]");
    grid_estimate(js, G, nthr, thr);
    if (js) {
        fprintf(js, "\n}\n");
        fclose(js);
        printf("JSON: %s\n", json);
    }
    return 0;
}
