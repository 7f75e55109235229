/* hessnorm inspect — report every matrix norm and Hessian of one model. */
#include "config.h"
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <errno.h>
#include <gsl/gsl_rng.h>
#include <unistd.h>
#include "base/mem.h"
#include "base/clock.h"
#include "cli.h"

/* The built-in example: a small 2-D ConvNet with max pooling after a ReLU,
 * a flatten and a linear head, cross-entropy.  Weights are drawn from
 * gsl_rng mt19937 with seed 1, uniform in +-1/sqrt(fan_in) (PyTorch's
 * default scale); the input is uniform in [0,1]; the label is 3. */
static const char example_json[] =
    "{\n"
    "  \"format\": \"hessnorm-model/1\",\n"
    "  \"input\": [1, 8, 8],\n"
    "  \"classes\": 4,\n"
    "  \"loss\": \"cross_entropy\",\n"
    "  \"layers\": [\n"
    "    {\"type\": \"conv2d\", \"out_channels\": 2, \"kernel\": [3, 3]},\n"
    "    {\"type\": \"relu\"},\n"
    "    {\"type\": \"maxpool2d\", \"kernel\": 2},\n"
    "    {\"type\": \"conv2d\", \"out_channels\": 3, \"kernel\": [2, 2]},\n"
    "    {\"type\": \"relu\"},\n"
    "    {\"type\": \"flatten\"},\n"
    "    {\"type\": \"linear\", \"out_features\": 4}\n"
    "  ]\n"
    "}\n";

/* The built-in example: model, weights and sample (all allocated; on
 * failure none). */
static int load_example(hn_cli_net *net, hn_err *err)
{
    *net = (hn_cli_net){NULL, NULL, NULL};
    int rc = hn_model_parse(example_json, sizeof example_json - 1, "example", &net->m, err);
    if (rc)
        return rc;
    const hn_model *m = net->m;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    net->theta = hn_calloc(m->n_params, sizeof(double));
    if (!r || !net->theta || (rc = hn_samples_alloc(m, 1, &net->s, err)) != 0) {
        rc = rc ? rc : hn_err_set(err, HN_ENOMEM, "example: out of memory");
        if (r)
            gsl_rng_free(r);
        hn_cli_net_free(net);
        *net = (hn_cli_net){NULL, NULL, NULL};
        return rc;
    }
    gsl_rng_set(r, 1);
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        double bound = 1.0 / sqrt((double)(ly->in.c * ly->kh * ly->kw));
        for (size_t j = 0; j < ly->param_count; j++)
            net->theta[ly->param_offset + j] = bound * (2.0 * gsl_rng_uniform(r) - 1.0);
    }
    for (size_t j = 0; j < net->s->in_size; j++)
        net->s->x[j] = gsl_rng_uniform(r);
    net->s->y_class[0] = 3;
    gsl_rng_free(r);
    return HN_OK;
}

static void inspect_usage(FILE *f)
{
    fputs("usage: hessnorm inspect --model M.json --weights W.safetensors --sample S.safetensors\n"
          "                        [--json] [--dump DIR] [--threads N] [--dense | --matrix-free]\n"
          "       hessnorm inspect --example [--json] [--dump DIR] [--write-example DIR]\n"
          "                        [--threads N] [--dense | --matrix-free]\n"
          "Computes: loss, logits, gradient norm, the full Hessian H (exact Hessian-vector\n"
          "products), the outer-product Hessian H_O = Q^T F^T A F Q (Lemma 1), ||H - H_O||,\n"
          "and for one sample (a batch: sample 0) the norms of A, F and of T, Q, G, R, Rx per\n"
          "layer with the paper's per-layer bounds.  The sample file may hold a batch: H and\n"
          "H_O are then the means over it.\n"
          "Route: dense (every value exact) when P <= 500 parameters, P x P is within the\n"
          "dense limit and the matrices fit in the memory left; else matrix-free (Lanczos on\n"
          "exact Hessian-vector products: norms are brackets [lower, upper]; the mean H_O\n"
          "of a batch exactly from its N K x N K Gram when that fits in 512 MiB and 4096\n"
          "rows, else by Lanczos too).  --dense / --matrix-free force one; the route is\n"
          "named in the output.\n"
          "--dump DIR writes every matrix as NumPy .npy (the dense route).  --threads N: OpenMP\n"
          "threads (default and 0: all cores); the results are the same for every N.\n"
          "-h, --help: this text.\n"
          "\n" HN_CLI_EXIT_HELP,
          f);
}

/* "v [lo, hi: kind]" of a bracket, or just v when exact */
static const char *br(char *b, size_t n, const hn_bracket *x)
{
    if (x->hi_kind == HN_HI_EXACT && x->lo_kind == HN_HI_EXACT)
        snprintf(b, n, "%.10g", x->value);
    else
        snprintf(b, n, "%.10g [%.10g (%s), %.10g (%s)]", x->value, x->lo, hn_hi_kind_name(x->lo_kind),
                 x->hi, hn_hi_kind_name(x->hi_kind));
    return b;
}

static void print_layers(const hn_model *m, const hn_inspect_result *r)
{
    char b1[160], b2[160];
    printf("||A|| %.10g   ||F|| %.10g   ||J|| %.10g\n", r->A_norm, r->F_norm, r->J_norm);
    printf("%-4s %-6s %-9s %14s %14s %14s %14s %14s %14s\n", "p", "layer", "type", "||T||",
           "||T||_F", "||Q||", "||G||", "||R(p-1)||", "||R(p-1)x||");
    for (size_t t = 0; t < r->n_lin; t++) {
        const hn_inspect_layer *L = &r->layers[t];
        printf("%-4zu %-6zu %-9s %14.8g %14.8g %14.8g %14.8g %14.8g %14.8g\n", t + 1, L->index,
               hn_layer_type_name(m->layers[L->index].type), L->T_norm, L->T_fro, L->Q_norm,
               L->G_norm, L->R_norm, L->Rx_norm);
    }
    printf("brackets and the paper's bounds per layer:\n");
    for (size_t t = 0; t < r->n_lin; t++) {
        const hn_inspect_layer *L = &r->layers[t];
        printf("  p=%zu ||T|| %s (hi: %s); ||T||^2 = %.6g <= %s = %.6g; ||Q|| = %.6g <= %s", t + 1,
               br(b1, sizeof b1, &L->T_b), L->T_hi_how ? L->T_hi_how : "", L->T_norm * L->T_norm,
               L->bound.T_formula, L->bound.T_sq_bound, L->Q_norm, L->bound.Q_formula);
        if (isnan(L->bound.Q_bound))
            printf("; ||R(p-1)|| %s\n", br(b2, sizeof b2, &L->R_b));
        else
            printf(" = %.6g; ||R(p-1)|| %s\n", L->bound.Q_bound, br(b2, sizeof b2, &L->R_b));
    }
}

static void print_table(const hn_model *m, const hn_inspect_result *r)
{
    char b1[160], b2[160], b3[160];
    printf("route                 %s\n", hn_inspect_route_name(r->route));
    printf("parameters            %zu\n", r->num_params);
    printf("samples               %zu\n", r->n_samples);
    printf("loss                  %.12g\n", r->loss);
    printf("||grad||              %.12g\n", r->grad_norm);
    printf("H:   ||H|| %s   max eig %s   min eig %s   trace %.10g\n", br(b1, sizeof b1, &r->h_norm_b),
           br(b2, sizeof b2, &r->h_max_b), br(b3, sizeof b3, &r->h_min_b), r->h_trace);
    printf("     trace: %s\n", r->h_trace_how);
    if (r->h_trace_probes)
        printf("     Hutchinson check: %.10g +- %.3g (standard error, %zu probes)\n", r->h_trace_est,
               r->h_trace_se, r->h_trace_probes);
    printf("H_O: ||H_O|| %s   trace %.10g   ", br(b1, sizeof b1, &r->ho_norm_b), r->ho_trace);
    if (r->ho_eigs_na)
        printf("nonzero eigenvalues n/a (%s)\n", r->ho_eigs_na);
    else
        printf("nonzero eigenvalues %zu\n", r->n_ho_eigs);
    if (r->route == HN_INSPECT_MATFREE)
        printf("     ||H_O|| hi: %s\n", r->ho_norm_hi_how);
    double mx = 0;
    for (size_t i = 0; i < r->n_samples; i++)
        mx = fmax(mx, r->ho_sample_norms[i]);
    printf("     per sample: max ||H_O,i|| %.10g (exact, K x K; every one in --json)\n", mx);
    printf("||H_F|| = ||H - H_O|| %s\n", br(b1, sizeof b1, &r->hf_norm_b));
    if (r->route == HN_INSPECT_MATFREE && r->ho_gram)
        printf("Lanczos products: H %zu%s, H_O none (its N K x N K Gram), H - H_O %zu%s\n", r->lanczos_products[0],
               r->lanczos_converged[0] ? "" : " (not converged)", r->lanczos_products[2],
               r->lanczos_converged[2] ? "" : " (not converged)");
    else if (r->route == HN_INSPECT_MATFREE)
        printf("Lanczos products: H %zu%s, H_O %zu%s, H - H_O %zu%s\n", r->lanczos_products[0],
               r->lanczos_converged[0] ? "" : " (not converged)", r->lanczos_products[1],
               r->lanczos_converged[1] ? "" : " (not converged)", r->lanczos_products[2],
               r->lanczos_converged[2] ? "" : " (not converged)");
    if (r->has_table) { /* the per-sample matrices (one sample, or sample 0 matrix-free) */
        if (r->n_samples > 1)
            printf("sample %zu:\n", r->table_sample);
        print_layers(m, r);
    }
}

static int write_example(const char *dir, const hn_model *m, const double *theta,
                         const hn_samples *s, hn_err *err)
{
    char p[4096];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return hn_err_set(err, HN_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    int rc;
    snprintf(p, sizeof p, "%s/model.json", dir);
    if ((rc = hn_model_save(m, p, err)))
        return rc;
    snprintf(p, sizeof p, "%s/weights.safetensors", dir);
    if ((rc = hn_weights_save(m, theta, p, err)))
        return rc;
    snprintf(p, sizeof p, "%s/sample.safetensors", dir);
    return hn_samples_save(m, s, p, err);
}

/* Before the work: the dense matrices of the sample file's batch must fit
 * in the memory left. */
static int check_memory(const char *sample, const hn_cli_net *net, hn_err *err)
{
    char hint[96];
    if (net->s->n == 1)
        snprintf(hint, sizeof hint, "raise the limit (the size is set by the model's %zu parameters)",
                 net->m->n_params);
    else
        snprintf(hint, sizeof hint, "raise the limit or inspect fewer samples at once");
    return hn_cli_dense_memory(sample ? sample : "example", net->m, net->s, 0, hint, err);
}

typedef struct {
    double t0;
} prog_ctx;

static void on_progress(void *ctx, const char *msg)
{
    const prog_ctx *p = ctx;
    fprintf(stderr, "inspect [%6.1fs] %s\n", hn_clock_s() - p->t0, msg);
    fflush(stderr);
}

/* The route (asked for, or hn_inspect_choose against the memory left),
 * its memory checked before the work; for long work one line on stderr:
 * the route, why, the memory it needs (and, dense, the limit). */
static int choose_route(const char *sample, const hn_cli_net *net, hn_inspect_route asked,
                        hn_inspect_opts *o, hn_err *err)
{
    char why[320] = "asked for", need_s[32], room_s[32];
    hn_mem_room room;
    hn_mem_room_get(&room, 0);
    const double roomd = room.room == (size_t)-1 ? INFINITY : (double)room.room;
    o->route = asked == HN_INSPECT_AUTO ? hn_inspect_choose(net->m, net->s, roomd, why, sizeof why) : asked;
    const size_t P = net->m->n_params;
    if (o->route == HN_INSPECT_DENSE) {
        int rc = check_memory(sample, net, err);
        if (rc)
            return rc;
        if (P > 500) { /* below, the dense route takes well under a second */
            char what[160];
            double need = hn_inspect_need(net->m, net->s, what, sizeof what);
            fprintf(stderr, "inspect: route dense (%s): %s need %s of the %s left%s%s; dense limit %zu entries per matrix\n",
                    why, what, hn_mem_str(need_s, sizeof need_s, need),
                    room.bound ? hn_mem_str(room_s, sizeof room_s, roomd) : "unlimited memory",
                    room.bound ? " under " : "", room.bound ? room.bound : "", (size_t)HN_DENSE_LIMIT);
        }
        return HN_OK;
    }
    char full[HN_ERR_MSG_LEN];
    double need = hn_inspect_mf_need(net->m, net->s, o);
    hn_path_short(full, 200, sample ? sample : "example");
    size_t n = strlen(full);
    snprintf(full + n, sizeof full - n, ": matrix-free, %zu sample%s x %zu parameters", net->s->n,
             net->s->n == 1 ? "" : "s", P);
    int rc = hn_mem_check(need, full, "raise the limit or inspect fewer samples at once", err);
    if (!rc)
        fprintf(stderr, "inspect: route matrix-free (%s): needs about %s (the Lanczos basis of %zu vectors%s, "
                "the stored passes of %zu samples)\n", why, hn_mem_str(need_s, sizeof need_s, need),
                o->max_iter + 1, hn_inspect_ho_gram_fits(net->m, net->s->n, o) ? " or the mean H_O's Gram" : "",
                net->s->n);
    return rc;
}

int hn_cli_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},   {"weights", required_argument, 0, 'w'},
        {"sample", required_argument, 0, 's'},  {"json", no_argument, 0, 'j'},
        {"dump", required_argument, 0, 'd'},    {"example", no_argument, 0, 'e'},
        {"write-example", required_argument, 0, 'x'}, {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},          {"dense", no_argument, 0, 'D'},
        {"matrix-free", no_argument, 0, 'M'},
        {0, 0, 0, 0}};
    const char *model = NULL, *weights = NULL, *sample = NULL, *dump = NULL, *wex = NULL, *threads = NULL;
    int json = 0, example = 0, c, routes = 0;
    hn_inspect_route route = HN_INSPECT_AUTO;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'w': weights = optarg; break;
        case 's': sample = optarg; break;
        case 'j': json = 1; break;
        case 'd': dump = optarg; break;
        case 'e': example = 1; break;
        case 'x': wex = optarg; example = 1; break;
        case 't': threads = optarg; break;
        case 'D': route = HN_INSPECT_DENSE; routes |= 1; break;
        case 'M': route = HN_INSPECT_MATFREE; routes |= 2; break;
        case 'h': inspect_usage(stdout); return 0;
        default: return hn_cli_bad_option("inspect", opts, argv, c);
        }
    }
    if (optind < argc)
        return hn_cli_usage("inspect", "unexpected argument '%s'", argv[optind]);
    if (routes == 3)
        return hn_cli_usage("inspect", "--dense and --matrix-free exclude each other");
    if (route == HN_INSPECT_MATFREE && dump)
        return hn_cli_usage("inspect", "--dump writes the dense matrices: it needs the dense route, not --matrix-free");
    if (dump) /* the dense matrices are the output */
        route = HN_INSPECT_DENSE;
    if (!example && (!model || !weights || !sample)) {
        const char *miss[3];
        int k = 0;
        if (!model)
            miss[k++] = "--model";
        if (!weights)
            miss[k++] = "--weights";
        if (!sample)
            miss[k++] = "--sample";
        return hn_cli_usage("inspect", "missing %s%s%s%s%s (give --model, --weights and --sample, or --example)",
                            miss[0], k > 2 ? ", " : k > 1 ? " and " : "", k > 1 ? miss[1] : "",
                            k > 2 ? " and " : "", k > 2 ? miss[2] : "");
    }
    hn_err err;
    hn_err_clear(&err);
    hn_cli_net net;
    hn_inspect_result *r = NULL;
    int rc, nthreads;
    if (threads && hn_cli_threads(threads, &nthreads, &err))
        return hn_cli_usage("inspect", "%s", err.msg);
    if (hn_cli_blas_ready(threads ? nthreads : 0, &err))
        return hn_cli_fail(&err);
    if (example) {
        rc = load_example(&net, &err);
    } else {
        rc = hn_cli_load(model, weights, sample, &net, &err);
    }
    hn_inspect_opts o;
    hn_inspect_opts_default(&o);
    o.threads = threads ? nthreads : 0;
    prog_ctx pc = {hn_clock_s()};
    o.progress = (hn_progress_cfg){on_progress, &pc, isatty(fileno(stderr)) ? 2.0 : 30.0, NULL};
    if (!rc)
        rc = choose_route(example ? NULL : sample, &net, route, &o, &err);
    if (!rc && wex)
        rc = write_example(wex, net.m, net.theta, net.s, &err);
    if (!rc && (rc = hn_inspect_ex(net.m, net.theta, net.s, &o, &r, &err)) == HN_EOVERFLOW)
        hn_cli_blame_overflow(example ? NULL : weights, example ? NULL : sample, NULL, &net, NULL, &err);
    if (!rc && dump)
        rc = hn_inspect_dump(net.m, net.theta, net.s, dump, &err);
    int status = 0;
    if (rc) {
        status = hn_cli_fail(&err);
    } else if (json) {
        status = hn_cli_print_json(hn_inspect_to_json(net.m, r));
    } else {
        print_table(net.m, r);
    }
    hn_inspect_free(r);
    hn_cli_net_free(&net);
    return status;
}
