/* hessnorm audit — every statement and proof step of the paper, checked. */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static void audit_usage(FILE *f)
{
    fputs("usage: hessnorm audit [--out DIR] [--seed S] [--budget SECONDS] [--claims ID,...]\n"
          "                      [--random N] [--adversarial N] [--nm-iterations N] [--no-figures] [--list]\n"
          "Evaluates every statement and proof step of the paper exactly as printed (and the\n"
          "corrected versions beside the failing ones) on random and adversarial networks,\n"
          "searches for counterexamples with Nelder-Mead, and writes DIR/report.md,\n"
          "DIR/index.html, DIR/audit.json, DIR/figures/ and DIR/counterexamples/.\n"
          "Defaults: --out audit-out --seed 1 --budget 110 --random 280 --adversarial 140\n"
          "--nm-iterations 100.  The counts fix the run, so it is deterministic given --seed;\n"
          "the budget only stops a run that would take too long (the report says so).\n",
          f);
}

static void on_progress(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "%s\n", msg);
}

static int parse_size(const char *opt, const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-' || v > 100000000ULL) {
        fprintf(stderr, "hessnorm audit: %s: '%s' is not a count\n", opt, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int hn_cli_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},        {"seed", required_argument, 0, 's'},
        {"budget", required_argument, 0, 'b'},     {"claims", required_argument, 0, 'c'},
        {"random", required_argument, 0, 'r'},     {"adversarial", required_argument, 0, 'a'},
        {"nm-iterations", required_argument, 0, 'n'}, {"no-figures", no_argument, 0, 'F'},
        {"list", no_argument, 0, 'l'},             {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    hn_audit_opts o;
    hn_audit_defaults(&o);
    o.progress = on_progress;
    int c;
    size_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_dir = optarg; break;
        case 's': {
            char *end;
            o.seed = strtoul(optarg, &end, 10);
            if (!*optarg || *end) {
                fprintf(stderr, "hessnorm audit: --seed: '%s' is not a number\n", optarg);
                return 2;
            }
            break;
        }
        case 'b': {
            char *end;
            o.budget_seconds = strtod(optarg, &end);
            if (!*optarg || *end || !(o.budget_seconds > 0)) {
                fprintf(stderr, "hessnorm audit: --budget: '%s' is not a positive number of seconds\n", optarg);
                return 2;
            }
            break;
        }
        case 'c': o.claims = optarg; break;
        case 'r': if (parse_size("--random", optarg, &v)) return 2; o.n_random = v; break;
        case 'a': if (parse_size("--adversarial", optarg, &v)) return 2; o.n_adversarial = v; break;
        case 'n': if (parse_size("--nm-iterations", optarg, &v)) return 2; o.nm_iterations = v; break;
        case 'F': o.figures = 0; break;
        case 'l':
            for (size_t i = 0; i < hn_claims_count(); i++) {
                const hn_claim *cl = hn_claim_get(i);
                printf("%-28s %-14s %s  %s\n", cl->id, cl->location, hn_relation_name(cl->rel), cl->printed);
            }
            return 0;
        case 'h': audit_usage(stdout); return 0;
        default: audit_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hessnorm audit: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    hn_err err;
    hn_err_clear(&err);
    int rc = hn_audit_run(&o, &err);
    if (rc)
        return hn_cli_fail(&err);
    fprintf(stderr, "audit: report in %s/report.md and %s/index.html\n", o.out_dir, o.out_dir);
    return 0;
}
