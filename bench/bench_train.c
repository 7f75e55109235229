/* hessnorm bench — training throughput and the per-sample-loss pass of the
 * section-VI networks (float64), to compare with bench/peer_train.py
 * (PyTorch on CPU, same network, same thread count).  `make bench` runs
 * both.  Prints one line per network:
 *   hessnorm <setting> threads=T train_img_per_s=X eval_img_per_s=Y */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gsl/gsl_rng.h>
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

static int bench_one(const hn_arch *a, size_t n, int threads)
{
    hn_err e;
    hn_dataset *d;
    if (hn_dataset_alloc(n, 1, 28, 28, &d, &e))
        return 1;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 1);
    for (size_t i = 0; i < n * 784; i++)
        d->x[i] = gsl_rng_uniform(r);
    for (size_t i = 0; i < n; i++)
        d->y[i] = (unsigned char)gsl_rng_uniform_int(r, 10);
    hn_model *m;
    hn_sample_set ss;
    if (hn_arch_model(a, 1, 28, 28, 10, &m, &e) || hn_sample_set_init(&ss, d, NULL, 0, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    double *th = calloc(m->n_params, sizeof *th), *loss = calloc(n, sizeof *loss);
    hn_init_uniform(m, r, th);
    hn_train_opts o;
    hn_train_opts_paper(&o);
    o.epochs = 1;
    o.threads = threads;
    hn_train_stats st;
    if (hn_train(m, th, &ss.s, &o, r, NULL, NULL, &st, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    const double t0 = wall();
    if (hn_eval_samples(m, th, &ss.s, threads, NULL, loss, NULL, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    const double te = wall() - t0;
    char name[64];
    hn_arch_name(a, name, sizeof name);
    printf("hessnorm %s threads=%d train_img_per_s=%.1f eval_img_per_s=%.1f\n", name, threads,
           st.images_per_s, (double)n / te);
    fflush(stdout);
    free(th);
    free(loss);
    hn_sample_set_free(&ss);
    hn_model_free(m);
    hn_dataset_free(d);
    gsl_rng_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    /* the kernel hessnorm would run, selected before OpenBLAS's first call */
    if (hn_blas_prepare(1))
        execv("/proc/self/exe", argv);
    int threads = 0;
    size_t n = 2048;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--n"))
            n = (size_t)strtoul(argv[i + 1], NULL, 10);
    }
#ifdef _OPENMP
    if (threads <= 0)
        threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    hn_gsl_quiet();
    openblas_set_num_threads(1);
    {
        /* the BLAS lines of the table (bench/table.awk) */
        hn_blas_info b;
        char txt[1024];
        hn_blas_info_get(&b);
        hn_blas_describe(&b, hn_blas_dgemm_gflops(), txt, sizeof txt);
        for (char *l = strtok(txt, "\n"); l; l = strtok(NULL, "\n"))
            printf("blas %s\n", l);
        printf("blas Direct convolutions: %s\n", hn_conv_isa_name(hn_conv_isa_get()));
    }
    /* the Fig. 1-3 extremes and the Fig. 4 net */
    const hn_arch nets[] = {{2, 3, 6, HN_POOL_NONE, 0}, {7, 3, 6, HN_POOL_NONE, 0},
                            {4, 5, 6, HN_POOL_NONE, 0}, {5, 3, 24, HN_POOL_NONE, 0},
                            {5, 3, 12, HN_POOL_MAX, 2}};
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++)
        if (bench_one(&nets[i], n, threads))
            return 1;
    return 0;
}
