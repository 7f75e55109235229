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
          "            hessnorm audit --list [--json]\n"
          "            hessnorm audit --model M.json --weights W.safetensors\n"
          "                           --sample S.safetensors [--json] [--claims ID,...]\n"
          "  inspect   exact matrices, Hessians and norms of one model at one sample or batch\n"
          "            hessnorm inspect --model M.json --weights W.safetensors --sample S.safetensors\n"
          "                             [--json] [--dump DIR]\n"
          "            hessnorm inspect --example [--json] [--dump DIR] [--write-example DIR]\n"
          "  experiment train the paper's section-VI sweeps: loss-difference curves, Hessian norms\n"
          "            hessnorm experiment --dataset mnist|fashion-mnist|cifar10\n"
          "                                --sweep layers|kernel|channels|pooling [--preset quick|paper] [--out DIR]\n"
          "  help      hessnorm help [COMMAND]: this text, or a command's (= hessnorm COMMAND --help)\n"
          "options: -h, --help (this text); --version (the version).\n"
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

/* The top-level options and the subcommands: the exit status. */
static int dispatch(int argc, char **argv)
{
    if (argc < 2)
        return hn_cli_usage(NULL, "missing command (audit, inspect or experiment)");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return help(1, argv + 1);
    if (!strcmp(argv[1], "--version")) {
        puts(PACKAGE_STRING);
        return 0;
    }
    if (!strcmp(argv[1], "help"))
        return help(argc - 1, argv + 1);
    int i = find_command(argv[1]);
    if (i < 0)
        return argv[1][0] == '-'
                   ? hn_cli_usage(NULL, "unknown option '%s' (options come after the command)", argv[1])
                   : hn_cli_usage(NULL, "unknown command '%s' (expected audit, inspect, experiment or help)",
                                  argv[1]);
    if (!strcmp(argv[1], "audit")) {
        /* audit has no --threads: its BLAS buffers for every OpenMP thread */
        hn_err err;
        hn_err_clear(&err);
        if (hn_cli_blas_ready(0, &err))
            return hn_cli_fail(&err);
    }
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
     * memory limit refuses it (and exit then waits for them): so with
     * OPENBLAS_NUM_THREADS unset, set it to 1 and start again, and OpenBLAS
     * never starts them.  Without /proc, go on with them stopped below. */
    if (!getenv("OPENBLAS_NUM_THREADS")) {
        if (setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0)
            execv("/proc/self/exe", argv);
        openblas_set_num_threads(1);
    }
    hn_gsl_quiet();
    return hn_cli_finish(dispatch(argc, argv));
}
