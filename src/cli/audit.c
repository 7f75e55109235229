/* hessnorm audit — every statement and proof step of the paper, checked;
 * with --model, every claim on one given network. */
#include "config.h"
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "base/json.h"
#include "audit/one_json.h"
#include "hessnorm/outdir.h"
#include "cli.h"
#include "base/parse.h"
#include "base/mem.h"
#include "base/threads.h"
#include "hessnorm/matfree.h"

static void audit_usage(FILE *f)
{
    fputs("usage: hessnorm audit [--out DIR] [--seed S] [--budget SECONDS] [--claims ID,...]\n"
          "                      [--random N] [--adversarial N] [--nm-iterations N] [--trained N]\n"
          "                      [--sweep-draws N] [--no-figures]\n"
          "       hessnorm audit --list [--json]\n"
          "       hessnorm audit --model M.json --weights W.safetensors --sample S.safetensors\n"
          "                      [--weights-star WSTAR.safetensors] [--json] [--claims ID,...]\n"
          "                      [--dense | --matrix-free] [--threads N]\n"
          "Evaluates every statement and proof step of the paper exactly as printed (and the\n"
          "corrected versions beside the failing ones) on random and adversarial networks,\n"
          "searches for counterexamples with Nelder-Mead, and writes DIR/report.md,\n"
          "DIR/index.html, DIR/audit.json, DIR/figures/, DIR/counterexamples/ and DIR/best/\n"
          "(the network closest to each inequality's supremum).  DIR holds exactly one run:\n"
          "written beside it and swapped in at the end; a second run on DIR is refused while\n"
          "one runs, and an interrupted run leaves the previous output as it was.\n"
          "Defaults: --out audit-out --seed 1 --budget 110 --random 280 --adversarial 140\n"
          "--nm-iterations 100 --trained 8 (networks trained to a minimum of L_k, for eq. (1))\n"
          "--sweep-draws 5 (random networks per point of the parameter sweeps, 0..5; 0: no\n"
          "sweeps).  The counts fix the run, so it is deterministic given --seed;\n"
          "the budget only stops a run that would take too long (the report says so).\n"
          "\n"
          "With --model/--weights/--sample (all three; docs/format.md) it evaluates the claims\n"
          "on that one network instead and prints, per claim: the paper's location, the\n"
          "relation, both sides, measured/bound (the relative discrepancy for '='), and\n"
          "holds / VIOLATED / n/a; --json prints the same as one JSON object.  Nothing is\n"
          "written.  Any conv network inspect reads: the claims about every matricized\n"
          "network are evaluated on it; a claim tied to a setting (Theorems 1-2: conv only;\n"
          "Lemmas 3-4: one pooling in place of a ReLU; Lemma 5: FC head, no pooling) is n/a\n"
          "with the reason where the network is outside it (two poolings, a ReLU after a\n"
          "pooling, ...; a missing ReLU is Lambda = I).  The table is\n"
          "the first sample's; a batch adds each claim's distribution over the samples.\n"
          "The equation-(1) and corollary claims need theta*,\n"
          "theta and k+1 samples, which one network does not give: they come out n/a.\n"
          "\n"
          "With --weights-star WSTAR as well, W is theta and WSTAR is theta* of equation (1),\n"
          "and the sample file holds the k+1 samples (k = n - 1: L_k is the mean loss of the\n"
          "first k, l_{k+1} the loss of the last; n >= 2) -- an audit counterexample folder:\n"
          "--weights weights.safetensors --weights-star weights_star.safetensors.  Then the\n"
          "equation-(1), Section III, corollary, eq1.first_order and assumption1 claims are\n"
          "evaluated too, and the claims about one network are evaluated at theta* and the\n"
          "first sample, as the audit does on its equation-(1) instances.\n"
          "\n"
          "Route: the dense paper matrices when they fit (every matrix within 2^27 entries and\n"
          "2^27 in all, and the memory left), else matrix-free, said on stderr (--dense /\n"
          "--matrix-free force one): matrix-free, the\n"
          "layer norms are brackets (Lanczos value below, a certified or residual bound above),\n"
          "a claim is 'holds' or 'VIOLATED' only when both ends agree ('undecided' otherwise),\n"
          "and the claims that need dense matrices are n/a with that reason.  --threads N: OpenMP\n"
          "threads (0: all cores); results do not depend on it.\n"
          "\n"
          "--list prints the claim registry (id, location, relation, the formula as printed);\n"
          "with --json, as a JSON array.  -h, --help: this text.\n"
          "\n" HN_CLI_EXIT_HELP,
          f);
}

static void on_signal(int sig)
{
    hn_outdir_signal_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The largest --random, --adversarial or --nm-iterations. */
#define MAX_COUNT 100000000
/* The largest --trained: the trained families' networks (audit/trained.c) */
#define MAX_TRAINED 64
/* The largest --budget: 1e9 s is 31 years, a typo rather than a run. */
#define MAX_BUDGET 1e9

static void on_progress(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s\n", msg);
}

/* ------------------------------------------------------------ one network */

/* Every --claims id is in the registry (checked before any file is read;
 * the message is the full audit's). */
static int check_claim_list(const char *list)
{
    size_t ids = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len) {
            int found = 0;
            for (size_t i = 0; i < hn_claims_count() && !found; i++) {
                const char *id = hn_claim_get(i)->id;
                found = strlen(id) == len && !strncmp(id, p, len);
            }
            if (!found) {
                /* at most 64 bytes, printable ones: the message stays one line */
                char q[65];
                size_t k = 0;
                for (; k < len && k < 64; k++)
                    q[k] = isprint((unsigned char)p[k]) ? p[k] : '?';
                q[k] = '\0';
                fprintf(stderr, "hessnorm: --claims: unknown claim id '%s%s'\n", q,
                        len > 64 ? "..." : "");
                return -1;
            }
            ids++;
        }
        p += len + (p[len] == ',');
    }
    if (!ids) {
        fprintf(stderr, "hessnorm: --claims: no claim id in the list\n");
        return -1;
    }
    return 0;
}

/* The files of one `audit --model` run and their sizes. */
typedef struct {
    const char *model, *weights, *wstar, *sample; /* wstar NULL without --weights-star */
    size_t n_in_file, n_params;
} one_files;

static void print_table(const one_files *fl, const hn_claim_instance *c, size_t n)
{
    size_t holds = 0, viol = 0, na = 0, land = 0, und = 0;
    int mf = 0;
    for (size_t i = 0; i < n; i++) {
        mf |= c[i].matrix_free;
        und += c[i].undecided;
        holds += c[i].applicable && !c[i].violated && !c[i].undecided;
        viol += c[i].violated;
        na += !c[i].applicable;
        land += c[i].na == HN_NA_LANDSCAPE;
    }
    printf("model   %s (%zu parameters)\n", fl->model, fl->n_params);
    if (fl->wstar) {
        printf("theta   %s\ntheta*  %s\n", fl->weights, fl->wstar);
        printf("sample  %s (k+1 = %zu samples, k = %zu; the claims about one network at theta* and sample 1)\n",
               fl->sample, fl->n_in_file, fl->n_in_file - 1);
    } else {
        printf("sample  %s (sample 1 of %zu)\n", fl->sample, fl->n_in_file);
    }
    printf("route   %s\n", mf ? "matrix-free (past the dense limit: norms are brackets, the claims that need "
                                    "dense matrices are n/a)" : "dense");
    printf("claims  %zu: %zu hold, %zu VIOLATED, %zu undecided, %zu n/a", n, holds, viol, und, na);
    if (land)
        printf(" (%zu need the equation-(1) facts: theta*, k+1 samples)", land);
    printf("\n\n");
    printf("%-26s %-13s %-3s %13s %13s %12s  %-8s  %s\n", "claim", "location", "rel", "measured",
           "bound", "ratio|disc", "status", "detail");
    for (size_t i = 0; i < n; i++) {
        const hn_claim_instance *x = &c[i];
        char me[32] = "-", bo[32] = "-", ra[32] = "-";
        if (x->applicable) {
            if (!x->identity) {
                snprintf(me, sizeof me, "%.6e", x->value.measured);
                snprintf(bo, sizeof bo, "%.6e", x->value.bound);
            }
            if (x->claim->rel == HN_REL_EQ)
                snprintf(ra, sizeof ra, "d %.3e", x->value.discrepancy);
            else if (isfinite(x->ratio))
                snprintf(ra, sizeof ra, "%.4e", x->ratio);
            else
                snprintf(ra, sizeof ra, "inf");
        }
        const char *st = hn_claim_instance_status(x), *d = hn_claim_instance_detail(x);
        printf("%-26s %-13s %-3s %13s %13s %12s  %s", x->claim->id, x->claim->location,
               hn_relation_name(x->claim->rel), me, bo, ra, st);
        if (*d)
            printf("%*s  %s", (int)(8 - strlen(st)), "", d);
        printf("\n");
    }
    if (n && c[0].batch_n > 1) {
        printf("\nover the %zu samples of the file, each alone (ratio = measured / bound; 'd' = discrepancy):\n",
               c[0].batch_n);
        printf("%-26s %9s %11s %11s %11s %7s %9s\n", "claim", "applies", "min", "median", "max", "worst", "violated");
        for (size_t i = 0; i < n; i++) {
            const hn_claim_instance *x = &c[i];
            if (!x->batch_applicable)
                continue;
            printf("%-26s %9zu %11.4e %11.4e %11.4e %7zu %9zu%s\n", x->claim->id, x->batch_applicable, x->ratio_min,
                   x->ratio_median, x->ratio_max, x->worst_sample, x->batch_violated,
                   x->claim->rel == HN_REL_EQ ? "  (d)" : "");
        }
    }
    printf("\nrel: <= bound, = equality, ~ approximation (read as <=).  ratio = measured / bound;\n"
           "'d' = relative discrepancy of the two sides (for =).  VIOLATED: ratio > 1 + %g or\n"
           "discrepancy > %g (hn_claim_violated).  n/a: the claim does not apply to this\n"
           "network.\n",
           HN_VIOLATION_RTOL, HN_EQ_RTOL);
}

/* The JSON text (free with hn_free), or NULL when out of memory. */
static char *to_json(const one_files *fl, const hn_claim_instance *c, size_t n)
{
    int bad = 0;
    json_t *o = json_object(), *list = json_array();
    if (!o || !list) {
        json_decref(o);
        json_decref(list);
        return NULL;
    }
    hn_json_put(o, "model", json_string(fl->model), &bad);
    hn_json_put(o, "weights", json_string(fl->weights), &bad);
    if (fl->wstar) {
        hn_json_put(o, "weights_star", json_string(fl->wstar), &bad);
        hn_json_put(o, "k", json_integer((json_int_t)(fl->n_in_file - 1)), &bad);
    }
    hn_json_put(o, "sample", json_string(fl->sample), &bad);
    hn_json_put(o, "samples_in_file", json_integer((json_int_t)fl->n_in_file), &bad);
    hn_json_put(o, "sample_used", json_integer(0), &bad);
    hn_json_put(o, "num_params", json_integer((json_int_t)fl->n_params), &bad);
    int mf = 0;
    for (size_t i = 0; i < n; i++)
        mf |= c[i].matrix_free;
    hn_json_put(o, "route", json_string(mf ? "matrix-free" : "dense"), &bad);
    for (size_t i = 0; i < n && !bad; i++) {
        json_t *e = hn_claim_instance_json(&c[i]);
        if (!e) {
            bad = 1;
            break;
        }
        if (json_array_append_new(list, e) != 0)
            bad = 1;
    }
    hn_json_put(o, "claims", list, &bad);
    char *txt = bad ? NULL : hn_json_dumps(o, HN_JSON_FLAGS);
    json_decref(o);
    return txt;
}

/* The file an error of the library is about: theta* and the samples by
 * their field, everything else about the network (the model file). */
static const char *error_file(const hn_err *e, const one_files *fl)
{
    if (fl->wstar && !strncmp(e->msg, "theta*", 6))
        return fl->wstar;
    if (fl->wstar && (e->msg[0] == 'x' || e->msg[0] == 'y') && (e->msg[1] == ':' || e->msg[1] == '['))
        return fl->sample;
    return fl->model;
}

/* Before the dense work (the route asked for, or the automatic one when
 * the paper's matrices fit its limits): the paper's matrices of one sample
 * (hn_paper_build holds them all; the facts are built sample by sample)
 * and the Hessians with their eigensolver copies (hn_inspect_need) must
 * fit in the memory left, or the run is refused naming the sample file.
 * An upper estimate: paper10 (P = 1,662) is estimated at 477 MiB and
 * peaks at 392 MiB resident. */
static int check_memory(const one_files *fl, const hn_cli_net *net, hn_route route, hn_err *err)
{
    hn_dense_need need;
    const int fits = hn_paper_dense_need(net->m, &need);
    if (route == HN_ROUTE_MATFREE || (route == HN_ROUTE_AUTO && !fits)) {
        /* matrix-free: per thread (one sample each) the explicit R^(p-1)
         * and the K x P Jacobian */
        const int T = hn_resolve_threads(0);
        const hn_model *m = net->m;
        const double per = (hn_mf_r_explicit_bytes(m) <= HN_MF_R_EXPLICIT_MAX_BYTES ? (double)hn_mf_r_explicit_bytes(m)
                                                                                   : 0.0) +
                           8.0 * (double)m->classes * (double)m->n_params;
        char what[320], full[200];
        hn_path_short(full, sizeof full, fl->model);
        snprintf(what, sizeof what, "%s: the matrix-free facts (%d thread%s, one sample each)", full, T,
                 T == 1 ? "" : "s");
        return hn_mem_check((double)T * per, what, T > 1 ? "raise the limit or lower --threads" : "raise the limit",
                            err);
    }
    if (!fits)
        return HN_OK; /* --dense past the dense limit: the library refuses it by name */
    const hn_samples one = hn_samples_view(net->s, 0);
    return hn_cli_dense_memory(fl->sample, net->m, &one, need.total,
                               fl->wstar ? "raise the limit"
                               : route == HN_ROUTE_DENSE ? "raise the limit or drop --dense for --matrix-free"
                                                         : "so the automatic route is the matrix-free one",
                               err);
}

/* The route of the run: the one asked for; the automatic one is dense when
 * the paper's matrices fit their limits and the memory left (check_memory),
 * else matrix-free, said in one line on stderr (as inspect does).  With
 * --weights-star there is no matrix-free route: a refusal. */
static int choose_route(const one_files *fl, const hn_cli_net *net, hn_route *route, hn_err *err)
{
    int rc = check_memory(fl, net, fl->wstar ? HN_ROUTE_AUTO : *route, err);
    if (rc == HN_ENOMEM && *route == HN_ROUTE_AUTO && !fl->wstar) {
        fprintf(stderr, "hessnorm audit: route matrix-free: %s\n", err->msg);
        hn_err_clear(err);
        *route = HN_ROUTE_MATFREE;
        rc = HN_OK;
    }
    return rc;
}

static int audit_one(one_files *fl, const char *claims, int json, hn_route route)
{
    if (claims && check_claim_list(claims))
        return 1;
    hn_err err;
    hn_err_clear(&err);
    hn_cli_net net;
    hn_claim_instance *res = NULL;
    double *star = NULL;
    size_t n = 0;
    int rc = hn_cli_load(fl->model, fl->weights, fl->sample, &net, &err);
    if (!rc && !(res = hn_calloc(hn_claims_count(), sizeof *res)))
        rc = hn_err_set(&err, HN_ENOMEM, "out of memory");
    if (!rc && fl->wstar) {
        if (!(star = hn_calloc(net.m->n_params, sizeof *star)))
            rc = hn_err_set(&err, HN_ENOMEM, "out of memory");
        else
            rc = hn_weights_load(net.m, fl->wstar, star, &err);
    }
    if (!rc)
        rc = choose_route(fl, &net, &route, &err);
    if (!rc) {
        rc = fl->wstar ? hn_audit_one_landscape(net.m, net.theta, star, net.s, claims, res, hn_claims_count(), &n, &err)
                       : hn_audit_one_route(net.m, net.theta, net.s, claims, route, res, hn_claims_count(), &n,
                                            &err);
        /* every error left is about the network or its input: name the
         * file (an overflow: the input with the largest magnitude) */
        if (rc == HN_EOVERFLOW)
            hn_cli_blame_overflow(fl->weights, fl->sample, fl->wstar, &net, star, &err);
        else if (rc && rc != HN_ENOMEM)
            hn_err_prefix(&err, error_file(&err, fl));
    }
    int status = 0;
    if (rc) {
        status = hn_cli_fail(&err);
    } else {
        fl->n_in_file = net.s->n;
        fl->n_params = net.m->n_params;
        if (json)
            status = hn_cli_print_json(to_json(fl, res, n));
        else
            print_table(fl, res, n);
    }
    hn_free(star);
    hn_free(res);
    hn_cli_net_free(&net);
    return status;
}

/* --list: the claim registry, as text or (--json) a JSON array of
 * {id, location, relation, printed, reading, corrects, typo}. */
static int print_list(int json)
{
    if (!json) {
        for (size_t i = 0; i < hn_claims_count(); i++) {
            const hn_claim *cl = hn_claim_get(i);
            printf("%-28s %-14s %s  %s\n", cl->id, cl->location, hn_relation_name(cl->rel), cl->printed);
        }
        return 0;
    }
    int bad = 0;
    json_t *list = json_array();
    for (size_t i = 0; list && i < hn_claims_count() && !bad; i++) {
        const hn_claim *cl = hn_claim_get(i);
        json_t *e = json_object();
        if (!e) {
            bad = 1;
            break;
        }
        hn_json_put(e, "id", json_string(cl->id), &bad);
        hn_json_put(e, "location", json_string(cl->location), &bad);
        hn_json_put(e, "relation", json_string(hn_relation_name(cl->rel)), &bad);
        hn_json_put(e, "printed", json_string(cl->printed), &bad);
        hn_json_put(e, "reading", json_string(cl->reading), &bad);
        hn_json_put(e, "corrects", cl->corrects ? json_string(cl->corrects) : json_null(), &bad);
        hn_json_put(e, "typo", json_boolean(cl->typo), &bad);
        if (json_array_append_new(list, e) != 0)
            bad = 1;
    }
    char *txt = list && !bad ? hn_json_dumps(list, HN_JSON_FLAGS) : NULL;
    json_decref(list);
    return hn_cli_print_json(txt);
}

/* The options as given. */
typedef struct {
    hn_audit_opts o;
    int json, list;
    hn_route route;
    const char *route_opt, *model, *weights, *sample, *wstar;
    const char *run_opt; /* an option of the full audit, for the conflict check */
} audit_args;

/* One option's value into a: 0, or the exit status of a usage error. */
static int audit_option(int c, const char *v, audit_args *a)
{
    size_t n;
    int nthreads;
    hn_err te;
    switch (c) {
    case 'M': a->model = v; break;
    case 'W': a->weights = v; break;
    case 'S': a->sample = v; break;
    case 'X': a->wstar = v; break;
    case 'j': a->json = 1; break;
    case 'l': a->list = 1; break;
    case 'D':
    case 'Z':
        if (a->route_opt && strcmp(a->route_opt, c == 'D' ? "--dense" : "--matrix-free"))
            return hn_cli_usage("audit", "--dense and --matrix-free exclude each other");
        a->route = c == 'D' ? HN_ROUTE_DENSE : HN_ROUTE_MATFREE;
        a->route_opt = c == 'D' ? "--dense" : "--matrix-free";
        break;
    case 'T':
        if (hn_cli_threads(v, &nthreads, &te))
            return hn_cli_usage("audit", "%s", te.msg);
        break;
    case 'o': a->o.out_dir = v; break;
    case 's':
        /* the strict parser: strtoul took "-1" (and wrapped) and an
         * overflowing value (as ULONG_MAX) */
        if (hn_parse_size(v, 0, ULONG_MAX, &n) != 0)
            return hn_cli_usage("audit", "--seed: '%s' is not a number", v);
        a->o.seed = (unsigned long)n;
        break;
    case 'b':
        /* the strict parser: strtod took " 5", "+5", "0x10", "inf"
         * (a run without a budget) and "1e-400" (0, caught late) */
        if (hn_parse_real(v, 0, MAX_BUDGET, &a->o.budget_seconds) != 0 || !(a->o.budget_seconds > 0))
            return hn_cli_usage("audit", "--budget: '%s' is not a positive number of seconds", v);
        break;
    case 'c':
        if (!v[strspn(v, ",")])
            return hn_cli_usage("audit", "--claims: no claim id in the list");
        a->o.claims = v;
        break;
    case 'r': if (hn_cli_count("audit", "--random", v, MAX_COUNT, &n)) return 2; a->o.n_random = n; break;
    case 'a': if (hn_cli_count("audit", "--adversarial", v, MAX_COUNT, &n)) return 2; a->o.n_adversarial = n; break;
    case 'n': if (hn_cli_count("audit", "--nm-iterations", v, MAX_COUNT, &n)) return 2; a->o.nm_iterations = n; break;
    case 'R': if (hn_cli_count("audit", "--trained", v, MAX_TRAINED, &n)) return 2; a->o.n_trained = n; break;
    case 'w': if (hn_cli_count("audit", "--sweep-draws", v, HN_AUDIT_SWEEP_DRAWS_MAX, &n)) return 2; a->o.sweep_draws = n; break;
    case 'F': a->o.figures = 0; break;
    }
    return 0;
}

/* getopt over argv into a: -1 to go on, else the exit status (--help 0,
 * a usage error 2). */
static int parse_args(int argc, char **argv, audit_args *a)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},        {"seed", required_argument, 0, 's'},
        {"budget", required_argument, 0, 'b'},     {"claims", required_argument, 0, 'c'},
        {"random", required_argument, 0, 'r'},     {"adversarial", required_argument, 0, 'a'},
        {"nm-iterations", required_argument, 0, 'n'}, {"no-figures", no_argument, 0, 'F'},
        {"list", no_argument, 0, 'l'},             {"help", no_argument, 0, 'h'},
        {"model", required_argument, 0, 'M'},      {"weights", required_argument, 0, 'W'},
        {"sample", required_argument, 0, 'S'},     {"json", no_argument, 0, 'j'},
        {"weights-star", required_argument, 0, 'X'}, {"dense", no_argument, 0, 'D'},
        {"matrix-free", no_argument, 0, 'Z'},      {"threads", required_argument, 0, 'T'},
        {"trained", required_argument, 0, 'R'},    {"sweep-draws", required_argument, 0, 'w'},
        {0, 0, 0, 0}};
    int c, st;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            audit_usage(stdout);
            return 0;
        }
        if (c == '?' || c == ':')
            return hn_cli_bad_option("audit", opts, argv, c);
        if (!a->run_opt && strchr("osbranFRw", c))
            for (size_t i = 0; opts[i].name && !a->run_opt; i++)
                if (opts[i].val == c)
                    a->run_opt = opts[i].name;
        if ((st = audit_option(c, optarg, a)))
            return st;
    }
    if (optind < argc)
        return hn_cli_usage("audit", "unexpected argument '%s'", argv[optind]);
    return -1;
}

int hn_cli_audit(int argc, char **argv)
{
    audit_args a;
    memset(&a, 0, sizeof a);
    hn_audit_defaults(&a.o);
    a.o.progress = on_progress;
    a.route = HN_ROUTE_AUTO;
    int st = parse_args(argc, argv, &a);
    if (st >= 0)
        return st;
    if (a.list)
        return print_list(a.json);
    /* after the usage errors: OpenBLAS's buffers for the threads --threads
     * (or OpenMP's default) gives */
    hn_err err;
    hn_err_clear(&err);
    if (a.model || a.weights || a.sample) {
        if (!a.model || !a.weights || !a.sample)
            return hn_cli_usage("audit", "--model, --weights and --sample go together (missing %s)",
                                !a.model ? "--model" : !a.weights ? "--weights" : "--sample");
        if (a.run_opt)
            return hn_cli_usage("audit", "--%s is an option of the full audit, not of --model", a.run_opt);
        if (hn_cli_blas_ready(0, &err))
            return hn_cli_fail(&err);
        one_files fl = {a.model, a.weights, a.wstar, a.sample, 0, 0};
        return audit_one(&fl, a.o.claims, a.json, a.route);
    }
    if (a.wstar || a.route_opt)
        return hn_cli_usage("audit", "%s needs --model, --weights and --sample", a.wstar ? "--weights-star" : a.route_opt);
    if (a.json)
        return hn_cli_usage("audit", "--json needs --model, --weights and --sample (or --list)");
    /* before the output folder is made */
    if (a.o.claims && check_claim_list(a.o.claims))
        return 1;
    if (hn_cli_blas_ready(0, &err))
        return hn_cli_fail(&err);
    /* SIGINT / SIGTERM: remove the run's temporary folder, then die of the
     * signal (the previous output stays as it was) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = hn_audit_run(&a.o, &err);
    if (rc)
        return hn_cli_fail(&err);
    fprintf(stderr, "audit: report in %s/report.md and %s/index.html\n", a.o.out_dir, a.o.out_dir);
    return 0;
}
