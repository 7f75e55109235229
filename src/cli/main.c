/* hessnorm — command-line entry point: dispatches to the subcommands. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: hessnorm <command> [options]\n"
          "commands:\n"
          "  audit     check every statement and proof step of the paper; write a report\n"
          "            hessnorm audit [--out DIR] [--seed S] [--budget SECONDS] [--claims ID,...]\n"
          "            hessnorm audit --list [--json]\n"
          "            hessnorm audit --model M.json --weights W.safetensors\n"
          "                           --sample S.safetensors [--weights-star WSTAR.safetensors]\n"
          "                           [--json] [--claims ID,...] [--dense | --matrix-free]\n"
          "  inspect   matrices, Hessians and norms of one model at one sample or batch\n"
          "            hessnorm inspect --model M.json --weights W.safetensors --sample S.safetensors\n"
          "                             [--json] [--dump DIR] [--dense | --matrix-free]\n"
          "            hessnorm inspect --example [--json] [--dump DIR] [--write-example DIR]\n"
          "  experiment train the paper's section-VI sweeps: loss-difference curves, Hessian norms\n"
          "            hessnorm experiment --dataset mnist|fashion-mnist|cifar10|all\n"
          "                                --sweep layers|kernel|channels|pooling|all\n"
          "                                [--preset quick|paper] [--out DIR] [--shard i/n]\n"
          "            hessnorm experiment --report-only --out DIR\n"
          "  help      hessnorm help [COMMAND]: this text, or a command's (= hessnorm COMMAND --help)\n"
          "options: -h, --help (this text); --version (the version); --version --verbose (also\n"
          "the BLAS, its kernel, the CPU and a DGEMM rate).\n"
          "\n" HN_CLI_EXIT_HELP,
          f);
}

/* The subcommands: name and entry (argv[0] is the name). */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {{"audit", hn_cli_audit}, {"inspect", hn_cli_inspect}, {"experiment", hn_cli_experiment}};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static int find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return (int)i;
    return -1;
}

/* hessnorm help [COMMAND] */
static int help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    if (argc > 2)
        return hn_cli_usage(NULL, "help: unexpected argument '%s'", argv[2]);
    int i = find_command(argv[1]);
    if (i < 0)
        return hn_cli_usage(NULL, "help: unknown command '%s' (expected audit, inspect or experiment)", argv[1]);
    char *av[] = {argv[1], (char *)"--help", NULL};
    return commands[i].run(2, av);
}

/* hessnorm --version [--verbose] */
static int version(int argc, char **argv)
{
    const int verbose = argc > 1 && !strcmp(argv[1], "--verbose");
    if (argc > 1 + verbose)
        return hn_cli_usage(NULL, "--version: unexpected argument '%s' (only --verbose)", argv[1 + verbose]);
    puts(PACKAGE_STRING);
    if (verbose) {
        /* the BLAS, its kernel and how fast it multiplies, measured now */
        hn_blas_info bi;
        char txt[1024];
        hn_blas_info_get(&bi);
        hn_blas_describe(&bi, hn_blas_dgemm_gflops(), txt, sizeof txt);
        fputs(txt, stdout);
        /* the direct convolutions' instruction set (same bits in each) */
        const hn_conv_isa now = hn_conv_isa_get();
        if (getenv("HESSNORM_CONV_ISA")) {
            printf("Direct convolutions: %s (HESSNORM_CONV_ISA; the best here: %s)\n", hn_conv_isa_name(now),
                   hn_conv_isa_name(hn_conv_isa_best()));
        } else {
            printf("Direct convolutions: %s (the best this CPU runs)\n", hn_conv_isa_name(now));
        }
    }
    return 0;
}

/* HESSNORM_CONV_ISA (baseline, AVX2, AVX-512F or auto; any case) picks
 * the direct convolutions' instruction set; every one gives the same bits,
 * so this is for checking that, or for timing them.  Nonzero after the
 * failure line for a value not of the list or one this CPU cannot run. */
static int conv_isa_from_env(void)
{
    const char *v = getenv("HESSNORM_CONV_ISA");
    if (!v)
        return 0;
    hn_err err;
    static const hn_conv_isa all[] = {HN_CONV_ISA_AUTO, HN_CONV_ISA_BASE, HN_CONV_ISA_AVX2, HN_CONV_ISA_AVX512};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcasecmp(v, hn_conv_isa_name(all[i]))) {
            if (hn_conv_isa_set(all[i]) == HN_OK)
                return 0;
            hn_err_set(&err, HN_EINVAL, "HESSNORM_CONV_ISA: this CPU or its OS does not run %s (the best here: %s)",
                       hn_conv_isa_name(all[i]), hn_conv_isa_name(hn_conv_isa_best()));
            return hn_cli_fail(&err);
        }
    /* hn_err_set keeps the quoted value on one line (control characters as '?') */
    hn_err_set(&err, HN_EINVAL, "HESSNORM_CONV_ISA: expected baseline, AVX2, AVX-512F or auto, got '%.40s'", v);
    return hn_cli_fail(&err);
}

/* The top-level options and the subcommands: the exit status. */
static int dispatch(int argc, char **argv)
{
    if (argc < 2)
        return hn_cli_usage(NULL, "missing command (audit, inspect or experiment)");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return help(1, argv + 1);
    if (!strcmp(argv[1], "--version"))
        return version(argc - 1, argv + 1);
    if (!strcmp(argv[1], "help"))
        return help(argc - 1, argv + 1);
    int i = find_command(argv[1]);
    if (i < 0)
        return argv[1][0] == '-'
                   ? hn_cli_usage(NULL, "unknown option '%s' (options come after the command)", argv[1])
                   : hn_cli_usage(NULL, "unknown command '%s' (expected audit, inspect, experiment or help)",
                                  argv[1]);
    return commands[i].run(argc - 1, argv + 1);
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
    if (conv_isa_from_env())
        return hn_cli_finish(1);
    return hn_cli_finish(dispatch(argc, argv));
}
