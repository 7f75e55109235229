/* hessnorm — the audit's outputs: the writer and its stages for the
 * counterexamples and audit.json (report.md and index.html: report_text.c;
 * figures: figures.c).  Writing computes nothing: the sweeps and the sharp
 * constant come in hn_audit_studies. */
#include "config.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/buf.h"
#include "hessnorm/gnuplot.h"
#include "hessnorm/spectra.h"
#include "audit/report.h"
#include "base/json.h"

static json_t *spec_json(const hn_netspec *ns)
{
    json_t *j = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:b,s:i,s:b}", "dim", ns->dim, "in_channels",
                     (int)ns->in_c, "in_h", (int)ns->in_h, "in_w", (int)ns->in_w, "conv_layers",
                     (int)ns->n_conv, "fc_layers", (int)ns->n_fc, "classes", (int)ns->K, "pooling",
                     ns->pool == 0 ? "none" : ns->pool == 1 ? "max" : "avg", "pool_replaces_relu",
                     ns->pool_replaces_relu, "pool_l", (int)(ns->pool_after + 1), "mse", ns->mse);
    /* only for a user's model: the audit's own networks have a ReLU after every hidden layer */
    if (j && ns->relu_skip) {
        json_t *a = json_array();
        for (unsigned t = 0; a && t < 8 * sizeof ns->relu_skip; t++)
            if (ns->relu_skip >> t & 1u && json_array_append_new(a, json_integer((json_int_t)t + 1)) != 0)
                break;
        if (!a || json_object_set_new(j, "no_relu_after_T", a) != 0) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/* The network of an inequality's best ratio is saved (best/<id>/) when
 * the claim has no counterexample: the network that came closest to the
 * supremum. */
static int has_best(const hn_report *r, size_t c)
{
    const hn_cstat *st = &r->stats[c];
    return r->selected[c] && hn_claim_get(c)->rel == HN_REL_LE && !st->violations && st->worst.m;
}

/* One network of the audit in the interchange format with its claim.json
 * (a counterexample, or the best network of a claim). */
static int write_network(const hn_claim *cl, const hn_inst *in, const hn_claim_value *v, const hn_cstat *st,
                         const char *dir, hn_err *err)
{
    int rc = hn_inst_save(in, dir, err);
    if (rc)
        return rc;
    json_t *o = json_object();
    json_object_set_new(o, "claim", json_string(cl->id));
    json_object_set_new(o, "location", json_string(cl->location));
    json_object_set_new(o, "printed", json_string(cl->printed));
    json_object_set_new(o, "reading", json_string(cl->reading));
    json_object_set_new(o, "relation", json_string(hn_relation_name(cl->rel)));
    json_object_set_new(o, "measured", hn_json_num(v->measured));
    json_object_set_new(o, "bound", hn_json_num(v->bound));
    json_object_set_new(o, "ratio", hn_json_num(v->bound > 0 ? v->measured / v->bound : INFINITY));
    json_object_set_new(o, "discrepancy", hn_json_num(v->discrepancy));
    json_object_set_new(o, "detail", json_string(v->detail));
    json_object_set_new(o, "family", json_string(in->family ? in->family : ""));
    json_object_set_new(o, "num_params", json_integer((json_int_t)in->m->n_params));
    json_object_set_new(o, "network", spec_json(&in->ns));
    if (in != &st->cx) {
        char sv[64];
        hn_sup_text(&st->sup, sv, sizeof sv);
        json_object_set_new(o, "supremum", json_string(sv));
        json_object_set_new(o, "found_over_supremum", hn_json_num(hn_found_over_sup(cl, st)));
    }
    if (in->delta) {
        json_object_set_new(o, "k", json_integer((json_int_t)in->lk));
        json_object_set_new(o, "R", hn_json_num(hn_vec_norm(in->delta, in->m->n_params)));
        json_object_set_new(o, "reproduce",
                            json_string("theta* = weights_star.safetensors, theta = weights.safetensors; "
                                        "sample.safetensors holds the k+1 samples in order; L_k is the mean "
                                        "loss of the first k (hessnorm inspect on a sample file with those "
                                        "samples), l_{k+1} the loss of the last"));
    } else {
        json_object_set_new(o, "reproduce",
                            json_string("hessnorm inspect --json --model model.json --weights "
                                        "weights.safetensors --sample sample.safetensors: the measured side "
                                        "is read off hessian_outer.norm, A_norm, F_norm or linear_layers"));
    }
    char p[4800];
    snprintf(p, sizeof p, "%s/claim.json", dir);
    rc = hn_json_save(o, p, HN_JSON_FLAGS | JSON_SORT_KEYS, 0, err);
    json_decref(o);
    return rc;
}

/* Stage counterexamples/: one directory per claim with a counterexample;
 * r->cxrel[c] gets its path relative to out_dir. */
static int write_counterexamples(hn_report *r, const char *cxdir, hn_err *err)
{
    char p[4400];
    int rc = HN_OK;
    for (size_t c = 0; c < hn_claims_count() && !rc; c++) {
        if (!r->selected[c] || !r->stats[c].cx.m)
            continue;
        snprintf(p, sizeof p, "%s/%s", cxdir, hn_claim_get(c)->id);
        rc = write_network(hn_claim_get(c), &r->stats[c].cx, &r->stats[c].cx_v, &r->stats[c], p, err);
        char rel[300];
        snprintf(rel, sizeof rel, "counterexamples/%s", hn_claim_get(c)->id);
        if (!(r->cxrel[c] = hn_strdup(rel)) && !rc)
            rc = hn_err_set(err, HN_ENOMEM, "out of memory");
    }
    return rc;
}

/* Stage best/: the best network of every inequality without a
 * counterexample. */
static int write_best(const hn_report *r, const char *bestdir, hn_err *err)
{
    char p[4400];
    int rc = HN_OK;
    for (size_t c = 0; c < hn_claims_count() && !rc; c++)
        if (has_best(r, c)) {
            snprintf(p, sizeof p, "%s/%s", bestdir, hn_claim_get(c)->id);
            rc = write_network(hn_claim_get(c), &r->stats[c].worst, &r->stats[c].worst_v, &r->stats[c], p, err);
        }
    return rc;
}

static json_t *claim_json(const hn_report *r, size_t c)
{
    const hn_claim *cl = hn_claim_get(c);
    const hn_cstat *st = &r->stats[c];
    json_t *e = json_object();
    json_object_set_new(e, "id", json_string(cl->id));
    json_object_set_new(e, "location", json_string(cl->location));
    json_object_set_new(e, "printed", json_string(cl->printed));
    json_object_set_new(e, "reading", json_string(cl->reading));
    json_object_set_new(e, "relation", json_string(hn_relation_name(cl->rel)));
    json_object_set_new(e, "verdict", json_string(hn_verdict_name(st->verdict)));
    json_object_set_new(e, "samples", json_integer((json_int_t)st->n));
    json_object_set_new(e, "violations", json_integer((json_int_t)st->violations));
    json_object_set_new(e, "violation_rate", st->n ? json_real((double)st->violations / (double)st->n) : json_null());
    json_object_set_new(e, "worst_ratio", st->n ? hn_json_num(st->worst_ratio) : json_null());
    json_object_set_new(e, "median_ratio", st->n ? hn_json_num(st->median) : json_null());
    json_object_set_new(e, "looseness", st->n && st->worst_ratio > 0 ? hn_json_num(1.0 / st->worst_ratio) : json_null());
    json_object_set_new(e, "worst_discrepancy", st->n ? hn_json_num(st->worst_disc) : json_null());
    json_object_set_new(e, "worst_detail", json_string(st->worst_v.detail));
    json_object_set_new(e, "local_search_ratio", st->nm_done ? hn_json_num(st->nm_ratio) : json_null());
    json_object_set_new(e, "counterexample", r->cxrel[c] ? json_string(r->cxrel[c]) : json_null());
    char best[300];
    snprintf(best, sizeof best, "best/%s", cl->id);
    json_object_set_new(e, "best_network", has_best(r, c) ? json_string(best) : json_null());
    json_object_set_new(e, "corrects", cl->corrects ? json_string(cl->corrects) : json_null());
    json_object_set_new(e, "loss", json_string(cl->loss == HN_SET_CE    ? "cross_entropy"
                                               : cl->loss == HN_SET_MSE ? "mse"
                                                                        : "any"));
    const hn_claim *tw = hn_claim_twin(c);
    json_object_set_new(e, "twin", tw ? json_string(tw->id) : json_null());
    char sv[64];
    hn_sup_text(&st->sup, sv, sizeof sv);
    json_object_set_new(e, "supremum",
                        json_pack("{s:s,s:o,s:b,s:s,s:s}", "kind", hn_sup_kind_name(st->sup.kind), "value",
                                  hn_json_num(st->sup.value), "infinite", isinf(st->sup.value), "text", sv, "why",
                                  st->sup.why));
    json_object_set_new(e, "found_over_supremum", hn_json_num(hn_found_over_sup(cl, st)));
    json_object_set_new(e, "supremum_contradicted", json_boolean(hn_sup_contradicted(cl, st)));
    json_object_set_new(e, "verdict_basis", json_string(hn_verdict_basis(cl, st)));
    return e;
}

static json_t *sweeps_json(const hn_audit_studies *studies)
{
    const hn_sweep *sw = studies->sweeps;
    json_t *swj = json_array();
    for (size_t i = 0; i < studies->n_sweeps; i++) {
        json_t *pts = json_array();
        for (size_t k = 0; k < sw[i].npts; k++) {
            json_t *b = json_object();
            for (size_t j = 0; j < sw[i].nb; j++)
                json_object_set_new(b, sw[i].bound_ids[j], hn_json_num(sw[i].bound[j][k]));
            json_array_append_new(pts, json_pack("{s:f,s:o,s:o}", "x", sw[i].x[k], "measured_HO_norm",
                                                 hn_json_num(sw[i].measured[k]), "bounds", b));
        }
        json_array_append_new(swj, json_pack("{s:s,s:s,s:o}", "sweep", sw[i].name, "x", sw[i].xlabel, "points", pts));
    }
    return swj;
}

/* Stage audit.json. */
static int write_audit_json(const hn_report *r, hn_err *err)
{
    const hn_audit_opts *o = r->o;
    json_t *root = json_object();
    json_object_set_new(root, "paper",
                        json_string("ConvNets Landscape Convergence: Hessian-Based Analysis of Matricized Networks"));
    json_object_set_new(root, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(root, "networks", json_integer((json_int_t)r->info->networks));
    json_object_set_new(root, "random_networks", json_integer((json_int_t)o->n_random));
    json_object_set_new(root, "adversarial_networks", json_integer((json_int_t)o->n_adversarial));
    json_object_set_new(root, "nelder_mead_iterations", json_integer((json_int_t)o->nm_iterations));
    json_object_set_new(root, "trained_networks", json_integer((json_int_t)o->n_trained));
    json_object_set_new(root, "sweep_draws", json_integer((json_int_t)o->sweep_draws));
    json_object_set_new(root, "truncated_by_budget", json_boolean(r->info->truncated));
    json_object_set_new(root, "loose_ratio", json_real(HN_LOOSE_RATIO));
    json_object_set_new(root, "violation_rtol", json_real(HN_VIOLATION_RTOL));
    json_t *arr = json_array();
    for (size_t c = 0; c < hn_claims_count(); c++)
        if (r->selected[c])
            json_array_append_new(arr, claim_json(r, c));
    json_object_set_new(root, "claims", arr);
    json_t *fj = json_array();
    for (size_t i = 0; i < r->nfind; i++)
        json_array_append_new(fj, json_pack("{s:s,s:s,s:s}", "kind", hn_finding_kind_name(r->findings[i].kind),
                                            "claim", hn_claim_get(r->findings[i].claim)->id, "text",
                                            r->findings[i].text));
    json_object_set_new(root, "findings", fj);
    json_t *sj = json_array();
    for (size_t i = 0; i < r->nsharp; i++) {
        const hn_sharp_row *row = &r->sharp[i];
        json_array_append_new(sj, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "quantity", row->what, "paper",
                                            row->paper, "sharp", row->sharp, "evidence", row->evidence,
                                            "paper_value", hn_json_num(row->paper_value), "sharp_value",
                                            hn_json_num(row->sharp_value)));
    }
    json_object_set_new(root, "sharp_constants", sj);
    json_object_set_new(root, "sweeps", sweeps_json(r->studies));
    char p[4400];
    snprintf(p, sizeof p, "%s/audit.json", o->out_dir);
    int rc = hn_json_save(root, p, HN_JSON_FLAGS | JSON_SORT_KEYS, 0, err);
    json_decref(root);
    return rc;
}

int hn_audit_write(const hn_audit_opts *o, const hn_cstat *stats, const int *selected,
                   const hn_audit_run_info *info, const hn_audit_studies *studies, hn_err *err)
{
    const size_t nc = hn_claims_count();
    char figdir[2048], cxdir[2048];
    snprintf(figdir, sizeof figdir, "%s/figures", o->out_dir);
    snprintf(cxdir, sizeof cxdir, "%s/counterexamples", o->out_dir);
    int rc = hn_mkdir_p(figdir, err);
    if (!rc)
        rc = hn_mkdir_p(cxdir, err);
    if (rc)
        return rc;
    hn_report r = {o, stats, selected, info, studies, 0, hn_calloc(nc, sizeof(char *)), {{0}}, 0, NULL, 0,
                   hn_calloc(nc, 1), {0}};
    if (!r.cxrel || !r.ratio_drawn) {
        hn_free(r.cxrel);
        hn_free(r.ratio_drawn);
        return hn_err_set(err, HN_ENOMEM, "out of memory");
    }
    rc = write_counterexamples(&r, cxdir, err);
    if (!rc) {
        char bestdir[2048];
        snprintf(bestdir, sizeof bestdir, "%s/best", o->out_dir);
        if (!(rc = hn_mkdir_p(bestdir, err)))
            rc = write_best(&r, bestdir, err);
    }
    r.figs = o->figures && hn_gnuplot_available();
    if (!rc)
        rc = hn_report_figures(&r, figdir, err);
    r.nsharp = hn_sharp_table(studies->sup_A, r.sharp);
    if (!rc)
        rc = hn_report_findings(&r, err);
    if (!rc)
        rc = write_audit_json(&r, err);
    if (!rc)
        rc = hn_report_md(&r, err);
    if (!rc)
        rc = hn_report_html(&r, err);
    for (size_t c = 0; c < nc; c++)
        hn_free(r.cxrel[c]);
    hn_free(r.cxrel);
    hn_free(r.ratio_drawn);
    hn_free(r.findings);
    return rc;
}
