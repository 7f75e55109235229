/* hessnorm — command-line entry point: dispatches to the subcommands. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: hessnorm <command> [options]\n"
          "commands:\n"
          "  audit     check every statement and proof step of the paper; write a report\n"
          "            hessnorm audit [--out DIR] [--seed S] [--budget SECONDS] [--claims ID,...]\n"
          "            hessnorm audit --model M.json --weights W.safetensors\n"
          "                           --sample S.safetensors [--json] [--claims ID,...]\n"
          "  inspect   exact matrices, Hessians and norms of one model at one sample or batch\n"
          "            hessnorm inspect --model M.json --weights W.safetensors --sample S.safetensors\n"
          "                             [--json] [--dump DIR]\n"
          "            hessnorm inspect --example [--json] [--dump DIR] [--write-example DIR]\n"
          "  experiment train the paper's section-VI sweeps: loss-difference curves, Hessian norms\n"
          "            hessnorm experiment --dataset mnist|fashion-mnist|cifar10\n"
          "                                --sweep layers|kernel|channels|pooling [--preset quick|paper] [--out DIR]\n"
          "run 'hessnorm <command> --help' for details.\n",
          f);
}

/* OpenBLAS's own control (declared in its cblas.h, which clashes with GSL's). */
void openblas_set_num_threads(int num_threads);

int main(int argc, char **argv)
{
    /* hessnorm's matrices are small and its loops parallelise over samples:
     * BLAS threads only add contention unless the user asks for them.
     * OpenBLAS starts its worker threads when it is loaded, before main,
     * and each maps a 128 MiB buffer at once, retrying forever when a
     * memory limit refuses it (and exit then waits for them): so with
     * OPENBLAS_NUM_THREADS unset, set it to 1 and start again, and OpenBLAS
     * never starts them.  Without /proc, go on with them stopped below. */
    if (!getenv("OPENBLAS_NUM_THREADS")) {
        if (setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0)
            execv("/proc/self/exe", argv);
        openblas_set_num_threads(1);
    }
    hn_gsl_quiet();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return hn_cli_finish(0);
    }
    if (!strcmp(argv[1], "--version")) {
        puts(PACKAGE_STRING);
        return hn_cli_finish(0);
    }
    if (!strcmp(argv[1], "audit")) {
        /* audit has no --threads: its BLAS buffers for every OpenMP thread */
        hn_err err;
        hn_err_clear(&err);
        if (hn_cli_blas_ready(0, &err))
            return hn_cli_fail(&err);
        return hn_cli_finish(hn_cli_audit(argc - 1, argv + 1));
    }
    if (!strcmp(argv[1], "inspect"))
        return hn_cli_finish(hn_cli_inspect(argc - 1, argv + 1));
    if (!strcmp(argv[1], "experiment"))
        return hn_cli_finish(hn_cli_experiment(argc - 1, argv + 1));
    fprintf(stderr, "hessnorm: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
