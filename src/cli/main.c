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
     * memory limit refuses it (and exit then waits for them).  It also
     * picks its kernel then, and falls back to a generic one on a CPU its
     * table does not know.  So hn_blas_prepare sets OPENBLAS_NUM_THREADS=1
     * and, when OpenBLAS chose a kernel below this CPU's features,
     * OPENBLAS_CORETYPE (each only when unset), and the program starts
     * again, once, so that OpenBLAS reads them.  Without /proc, go on with
     * its threads stopped below and say when the kernel is the slower one. */
    if (hn_blas_prepare(1)) {
        execv("/proc/self/exe", argv);
        const char *nt = getenv("OPENBLAS_NUM_THREADS");
        if (nt && !strcmp(nt, "1"))
            openblas_set_num_threads(1);
        hn_blas_info bi;
        hn_blas_info_get(&bi);
        if (bi.slower)
            fprintf(stderr, "hessnorm: warning: OpenBLAS runs its %s kernel, slower than this CPU's %s "
                            "(could not re-execute /proc/self/exe to select it; set OPENBLAS_CORETYPE=%s)\n",
                    bi.core, bi.best, bi.best);
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
        if (argc > 2 && !strcmp(argv[2], "--verbose")) {
            /* the BLAS, its kernel and how fast it multiplies, measured now */
            hn_blas_info bi;
            char txt[1024];
            hn_blas_info_get(&bi);
            hn_blas_describe(&bi, hn_blas_dgemm_gflops(), txt, sizeof txt);
            fputs(txt, stdout);
        }
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
