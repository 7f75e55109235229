/* hessnorm command — what the subcommands share: failure lines, loading (and
 * freeing) a model with its weights and samples, JSON on stdout, the standard-output
 * write check, count options. */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "base/mem.h"
#include "base/parse.h"
#include "base/threads.h"
#include "cli.h"
#ifdef _OPENMP
#include <omp.h>
#endif

int hn_cli_fail(const hn_err *err)
{
    fprintf(stderr, "hessnorm: %s\n", err->msg[0] ? err->msg : hn_strerror(err->code));
    return 1;
}

int hn_cli_usage(const char *cmd, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a value quoted from the command line keeps the message one line:
     * hn_err_set turns its control characters into '?' */
    hn_err e;
    hn_err_set(&e, HN_EINVAL, "%s", msg);
    fprintf(stderr, "hessnorm%s%s: %s\ntry 'hessnorm%s%s --help'\n", cmd ? " " : "", cmd ? cmd : "", e.msg,
            cmd ? " " : "", cmd ? cmd : "");
    return 2;
}

/* At most 64 bytes of s (n of them), non-printable ones as '?': the
 * message stays one line. */
static const char *printable(char q[72], const char *s, size_t n)
{
    size_t k = 0;
    for (; k < n && k < 64; k++)
        q[k] = isprint((unsigned char)s[k]) ? s[k] : '?';
    snprintf(q + k, 72 - k, "%s", n > 64 ? "..." : "");
    return q;
}

int hn_cli_bad_option(const char *cmd, const struct option *opts, char **argv, int c)
{
    char q[72];
    /* getopt has moved optind past the offending word (a short option
     * inside a cluster is named by optopt alone) */
    const char *word = optind > 0 ? argv[optind - 1] : "";
    const int is_long = !strncmp(word, "--", 2);
    const size_t len = is_long ? strcspn(word + 2, "=") : 0;
    if (c == ':')
        return is_long ? hn_cli_usage(cmd, "option '--%s' needs a value", printable(q, word + 2, len))
                       : hn_cli_usage(cmd, "option '-%c' needs a value", optopt);
    if (!is_long)
        return isprint(optopt) ? hn_cli_usage(cmd, "unknown option '-%c'", optopt)
                               : hn_cli_usage(cmd, "unknown option '%s'", printable(q, word, strlen(word)));
    if (optopt != 0 && word[2 + len] == '=')
        return hn_cli_usage(cmd, "option '--%s' takes no value", printable(q, word + 2, len));
    size_t matches = 0;
    for (size_t i = 0; opts[i].name; i++)
        matches += strlen(opts[i].name) > len && !strncmp(opts[i].name, word + 2, len);
    if (matches > 1)
        return hn_cli_usage(cmd, "option '--%s' is ambiguous", printable(q, word + 2, len));
    return hn_cli_usage(cmd, "unknown option '--%s'", printable(q, word + 2, len));
}

/* errno of the first failed write to standard output (a write inside a
 * long output fails before the final flush, and the flush then has no
 * errno to report) */
static int stdout_errno;

int hn_cli_finish(int status)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno ? errno : stdout_errno;
        fprintf(stderr, "hessnorm: standard output: write error: %s\n", e ? strerror(e) : "unknown error");
        return status ? status : 1;
    }
    return status;
}

int hn_cli_load(const char *model, const char *weights, const char *sample, hn_cli_net *net,
                hn_err *err)
{
    *net = (hn_cli_net){NULL, NULL, NULL};
    int rc = hn_model_load(model, &net->m, err);
    if (!rc && !(net->theta = hn_calloc(net->m->n_params, sizeof *net->theta)))
        rc = hn_err_set(err, HN_ENOMEM, "out of memory");
    if (!rc)
        rc = hn_weights_load(net->m, weights, net->theta, err);
    if (!rc)
        rc = hn_samples_load(net->m, sample, &net->s, err);
    return rc;
}

void hn_cli_net_free(hn_cli_net *net)
{
    hn_samples_free(net->s);
    hn_free(net->theta);
    hn_model_free(net->m);
}

int hn_cli_dense_memory(const char *file, const hn_model *m, const hn_samples *s, size_t paper, const char *hint,
                        hn_err *err)
{
    char what[160], full[HN_ERR_MSG_LEN];
    double need = hn_inspect_need(m, s, what, sizeof what) + 8.0 * (double)paper;
    hn_path_short(full, 200, file);
    size_t n = strlen(full);
    n += (size_t)snprintf(full + n, sizeof full - n, ": %zu sample%s x %zu classes: %s", s->n,
                          s->n == 1 ? "" : "s", m->classes, what);
    if (paper && n < sizeof full)
        snprintf(full + n, sizeof full - n, " and the paper's matrices (%zu entries)", paper);
    return hn_mem_check(need, full, hint, err);
}

/* The largest |theta_j| and the model layer holding it. */
static double theta_max(const hn_model *m, const double *theta, size_t *layer)
{
    double mw = 0;
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        for (size_t j = 0; j < ly->param_count; j++)
            if (fabs(theta[ly->param_offset + j]) > mw) {
                mw = fabs(theta[ly->param_offset + j]);
                *layer = m->linear_pos[t];
            }
    }
    return mw;
}

int hn_cli_blame_overflow(const char *weights, const char *sample, const char *wstar, const hn_cli_net *net,
                          const double *star, hn_err *err)
{
    char why[HN_ERR_MSG_LEN], file[256], tensor[32];
    double mx = 0;
    size_t lw = 0, ls = 0;
    memcpy(why, err->msg, sizeof why);
    for (size_t j = 0; j < net->s->n * net->s->in_size; j++)
        mx = fmax(mx, fabs(net->s->x[j]));
    const double mw = theta_max(net->m, net->theta, &lw), ms = star ? theta_max(net->m, star, &ls) : 0;
    /* the sample on a tie: an input is more often out of scale than a weight */
    const int x = mx >= mw && mx >= ms, st = !x && ms > mw;
    const double mag = x ? mx : st ? ms : mw;
    hn_path_short(file, sizeof file, x ? (sample ? sample : "example")
                                       : st ? wstar : (weights ? weights : "example"));
    if (x)
        snprintf(tensor, sizeof tensor, "x");
    else
        snprintf(tensor, sizeof tensor, "%zu.weight", st ? ls : lw);
    return hn_err_set(err, HN_EOVERFLOW, "%s: tensor \"%s\": magnitude up to %.3g: %s", file, tensor, mag, why);
}

int hn_cli_print_json(char *txt)
{
    if (!txt) {
        fprintf(stderr, "hessnorm: out of memory\n");
        return 1;
    }
    errno = 0;
    if (puts(txt) == EOF && !stdout_errno)
        stdout_errno = errno;
    hn_free(txt);
    return 0;
}

int hn_cli_count(const char *cmd, const char *opt, const char *v, size_t max, size_t *out)
{
    if (hn_parse_size(v, 0, max, out) == 0)
        return 0;
    size_t any;
    if (hn_parse_size(v, 0, SIZE_MAX, &any) == 0)
        hn_cli_usage(cmd, "%s: '%s' is more than %zu", opt, v, max);
    else
        hn_cli_usage(cmd, "%s: '%s' is not a count", opt, v);
    return -1;
}

int hn_cli_size(const char *opt, const char *v, int allow_zero, size_t *out, hn_err *err)
{
    if (hn_parse_size(v, allow_zero ? 0 : 1, SIZE_MAX, out) == 0)
        return HN_OK;
    return hn_err_set(err, HN_EINVAL, "--%s: expected a %s integer, got '%s'", opt,
                      allow_zero ? "non-negative" : "positive", v);
}

int hn_cli_threads(const char *v, int *out, hn_err *err)
{
    size_t n;
    int rc = hn_cli_size("threads", v, 1, &n, err);
    if (rc)
        return rc;
    /* more than this is a typo, not a machine (and would not fit OpenMP's int) */
    if (n > HN_CLI_MAX_THREADS)
        return hn_err_set(err, HN_EINVAL, "--threads: %zu is more than %d", n, HN_CLI_MAX_THREADS);
    *out = (int)n;
#ifdef _OPENMP
    if (n > 0)
        omp_set_num_threads((int)n);
#endif
    return HN_OK;
}

/* OpenBLAS (0.3.21) maps one buffer of BUFFER_SIZE = 128 MiB per thread
 * that calls it, at that thread's first level-3 call, and when the mmap
 * fails it retries forever (blas_memory_alloc): under a memory limit the
 * command would spin at 100 % CPU.  So every thread that may call it gets
 * its buffer here, before any input is read, or the command refuses. */
void *blas_memory_alloc(int procpos) __attribute__((weak));
void blas_memory_free(void *buffer) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
/* address space one buffer takes: 128 MiB plus OpenBLAS's alignment and
 * guard pages (VmSize grows by 131.5 MB at the first dgemm), rounded up */
#define HN_BLAS_BUFFER (132.0 * 1048576.0)
/* a new OpenMP thread's stack: 8 MiB (the usual RLIMIT_STACK) plus its
 * guard page, rounded up */
#define HN_THREAD_STACK (10.0 * 1048576.0)

int hn_cli_blas_ready(int threads, hn_err *err)
{
    const int T = hn_resolve_threads(threads);
    if (T > HN_CLI_MAX_THREADS) {
        /* only the default can be this many (--threads is capped) */
        const char *env = getenv("OMP_NUM_THREADS");
        return env ? hn_err_set(err, HN_EINVAL, "OMP_NUM_THREADS: %d threads are more than %d; give --threads N", T,
                                HN_CLI_MAX_THREADS)
                   : hn_err_set(err, HN_EINVAL, "this machine's %d cores are more than %d threads; give --threads N",
                                T, HN_CLI_MAX_THREADS);
    }
    /* OpenBLAS's own threads (OPENBLAS_NUM_THREADS > 1) map theirs later */
    const int B = openblas_get_num_threads ? openblas_get_num_threads() : 1;
    const double need = (double)T * (HN_BLAS_BUFFER + HN_THREAD_STACK) +
                        (double)(B > 1 ? B - 1 : 0) * HN_BLAS_BUFFER;
    hn_mem_room r;
    hn_mem_room_get(&r, 1);
    if (need > (double)r.room) {
        char a[32], b[32], c[32];
        return hn_err_set(err, HN_ENOMEM,
                          "memory: the BLAS buffers and thread stacks need %s of address space "
                          "(%d thread%s x %s), more than the %s left under %s; raise the limit%s",
                          hn_mem_str(a, sizeof a, need), T, T == 1 ? "" : "s",
                          hn_mem_str(b, sizeof b, HN_BLAS_BUFFER + HN_THREAD_STACK),
                          hn_mem_str(c, sizeof c, (double)r.room),
                          r.bound ? r.bound : "the memory limit",
                          T > 1 ? " or lower --threads" : "");
    }
    if (!blas_memory_alloc || !blas_memory_free)
        return HN_OK; /* another BLAS: nothing known to reserve */
#ifdef _OPENMP
#pragma omp parallel num_threads(T)
#endif
    {
        /* all held at once, so each thread's buffer is a separate slot */
        void *p = blas_memory_alloc(0);
#ifdef _OPENMP
#pragma omp barrier
#endif
        blas_memory_free(p);
    }
    return HN_OK;
}
