/* hessnorm command — the subcommands (one file each) and what they share
 * (common.c).  main.c only dispatches. */
#ifndef HN_CLI_H
#define HN_CLI_H
#include <stddef.h>
#include "hessnorm.h"

/* The subcommands: argv[0] is the command's name; the exit status. */
int hn_cli_inspect(int argc, char **argv);
int hn_cli_experiment(int argc, char **argv);
int hn_cli_audit(int argc, char **argv);

/* ---- common.c */

/* Print "hessnorm: <msg>" to stderr; returns exit status 1. */
int hn_cli_fail(const hn_err *err);

/* Exit statuses: 0 success; 1 bad input or a failure (hn_cli_fail); 2 a
 * usage error: an unknown option, a missing or conflicting one, or an
 * option value not of the option's syntax (a number that does not parse or
 * is out of range).  A well-formed value naming something that does not
 * exist (a file, a claim id, a dataset, sweep or preset) is bad input, 1.
 * HN_CLI_EXIT_HELP is that rule as every --help prints it. */
#define HN_CLI_EXIT_HELP                                                                          \
    "Exit status: 0 success; 1 bad input or a failure (one line on stderr naming the file\n"     \
    "and field); 2 a usage error: an unknown option, a missing or conflicting one, or an\n"     \
    "option value not of its syntax (not a number, out of range). A well-formed value naming\n" \
    "something that does not exist (a file, a claim id, a dataset, sweep or preset) is bad\n"   \
    "input (1).\n"
/* experiment --time-limit reached: the work done is saved, rerun to go on. */
#define HN_CLI_EXIT_STOPPED 3
/* A usage error: "hessnorm CMD: <msg>" and "try 'hessnorm CMD --help'" on
 * stderr (cmd NULL: "hessnorm: <msg>", "try 'hessnorm --help'"); returns 2. */
int hn_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The usage error of getopt_long's return c ('?' or ':'; the optstring
 * starts with ':' and opterr is 0): an unknown or ambiguous option, a
 * missing value, a value given to an option without one; returns 2. */
struct option;
int hn_cli_bad_option(const char *cmd, const struct option *opts, char **argv, int c);
/* A command's result on stdout (a table, --json) that could not be written
 * in full (a full disk, a closed pipe, /dev/full) is a failure, reported
 * once ("hessnorm: standard output: write error: ..."); stdio only reports
 * it at the final flush.  Returns status, or 1 for a write error after a
 * status 0. */
int hn_cli_finish(int status);
/* A network with its weights and samples, as audit --model and inspect
 * take them. */
typedef struct {
    hn_model *m;
    double *theta;
    hn_samples *s;
} hn_cli_net;
/* Load model.json, its weights (into a new theta) and the sample file, in
 * that order, stopping at the first failure.  *net is cleared first; what
 * was loaded stays in it (NULL otherwise) for hn_cli_net_free, on failure
 * too. */
int hn_cli_load(const char *model, const char *weights, const char *sample, hn_cli_net *net,
                hn_err *err);
/* Free what *net holds (any part may be NULL). */
void hn_cli_net_free(hn_cli_net *net);
/* Before the dense work on m and s: the bytes of the dense matrices
 * (hn_inspect_need, plus `paper` entries of the paper's matrices held
 * beside them: the audit's hn_paper_build, 0 for inspect) against the
 * memory left (hn_mem_check): HN_OK, or HN_ENOMEM with "<file>: <N>
 * samples x <K> classes: the PxP Hessians ... need <bytes>, more than the
 * <room> left under <limit>; <hint>" (file shortened in the middle; hint
 * names the flag or change that lowers it). */
int hn_cli_dense_memory(const char *file, const hn_model *m, const hn_samples *s, size_t paper, const char *hint,
                        hn_err *err);
/* An HN_EOVERFLOW in err names the input that caused it: of the sample's
 * x, the weights (theta) and, when star is not NULL, theta* (file wstar),
 * the tensor with the largest magnitude ("<file>: tensor \"x\": magnitude
 * up to 1e+300: <the reason>"); a NULL sample or weights name is the
 * built-in "example".  Returns HN_EOVERFLOW. */
int hn_cli_blame_overflow(const char *weights, const char *sample, const char *wstar, const hn_cli_net *net,
                          const double *star, hn_err *err);
/* puts(txt) and hn_free(txt): 0; NULL txt (out of memory building it):
 * "hessnorm: out of memory" on stderr, 1. */
int hn_cli_print_json(char *txt);
/* A count option (0..max): 0; otherwise the usage error "hessnorm <cmd>:
 * <opt>: '<v>' is not a count" (hn_cli_usage) and -1. */
int hn_cli_count(const char *cmd, const char *opt, const char *v, size_t max, size_t *out);
/* A positive (or, with allow_zero, non-negative) integer option: HN_OK;
 * otherwise HN_EINVAL with "--<opt>: expected a positive integer, got
 * '<v>'" in err. */
int hn_cli_size(const char *opt, const char *v, int allow_zero, size_t *out, hn_err *err);
/* --threads N (0 = all cores, OpenMP's default): parses v (at most
 * HN_CLI_MAX_THREADS), sets OpenMP's thread count and *out; HN_EINVAL with
 * "--threads: ..." in err.  Results do not depend on the count (every
 * parallel loop writes per-sample slots reduced in a fixed order).  The
 * cap: OpenBLAS 0.3.21 keeps 2 x 64 + 512 = 640 buffer slots; past them it
 * prints "Program is Terminated" to standard output and exits 0. */
#define HN_CLI_MAX_THREADS 512
int hn_cli_threads(const char *v, int *out, hn_err *err);

/* Map OpenBLAS's per-thread buffers now, for `threads` OpenMP threads
 * (0: OpenMP's default), before any large allocation; HN_ENOMEM with
 * "memory: ..." (the figure, the limit, --threads) when the memory limit
 * leaves no room for them; HN_EINVAL naming OMP_NUM_THREADS when the
 * default count it gives is over HN_CLI_MAX_THREADS (--threads N then
 * decides).  Every command calls it once, after its --threads. */
int hn_cli_blas_ready(int threads, hn_err *err);

#endif
