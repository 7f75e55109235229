/* hessnorm command — what the subcommands share: failure lines, loading (and
 * freeing) a model with its weights and samples, JSON on stdout, the standard-output
 * write check, count options. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "base/parse.h"
#include "cli.h"
#ifdef _OPENMP
#include <omp.h>
#endif

int hn_cli_fail(const hn_err *err)
{
    fprintf(stderr, "hessnorm: %s\n", err->msg[0] ? err->msg : hn_strerror(err->code));
    return 1;
}

int hn_cli_finish(int status)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hessnorm: standard output: write error: %s\n",
                errno ? strerror(errno) : "unknown error");
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

int hn_cli_print_json(char *txt)
{
    if (!txt) {
        fprintf(stderr, "hessnorm: out of memory\n");
        return 1;
    }
    puts(txt);
    hn_free(txt);
    return 0;
}

int hn_cli_count(const char *cmd, const char *opt, const char *v, size_t max, size_t *out)
{
    if (hn_parse_size(v, 0, max, out) == 0)
        return 0;
    fprintf(stderr, "hessnorm %s: %s: '%s' is not a count\n", cmd, opt, v);
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
