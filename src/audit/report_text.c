/* hessnorm — the audit's text outputs: report.md and index.html (the same
 * sections: summary, sharp constants, sweeps, one entry per claim). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "hessnorm/buf.h"
#include "base/mathml.h"
#include "audit/report.h"

static const char *css =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%}"
    "th{background:#eee}.fails{background:#fcc}.typo{background:#fec}.loose{background:#eef}"
    ".holds{background:#cfc}.approximation{background:#ffd}code{font-size:90%}img{max-width:100%}"
    "math{font-size:110%}.ascii{color:#666;font-size:80%}nav ul{columns:4;font-size:85%}"
    "nav li{break-inside:avoid}";

static void fmt_ratio(char *buf, size_t n, double r)
{
    if (!isfinite(r))
        snprintf(buf, n, "inf");
    else
        snprintf(buf, n, "%.3g", r);
}

/* The summary's worst and median ratio of a claim ("-" when untested). */
static void summary_ratios(const hn_claim *cl, const hn_cstat *st, char wr[32], char mr[32])
{
    snprintf(wr, 32, "-");
    snprintf(mr, 32, "-");
    if (st->n) {
        fmt_ratio(wr, 32, st->worst_ratio);
        fmt_ratio(mr, 32, st->median);
        if (cl->rel == HN_REL_EQ && st->worst_disc > 0) {
            char d[40];
            snprintf(d, sizeof d, " (diff %.1e)", st->worst_disc);
            strncat(wr, d, 32 - strlen(wr) - 1);
        }
    }
}

/* The summary's supremum ("exact 1/(2√2) = 0.3536", "upper bound 1", "-") and
 * found / supremum ("-" when not defined). */
static void summary_sup(const hn_claim *cl, const hn_cstat *st, char sup[96], char fo[32])
{
    char sv[64];
    hn_sup_text(&st->sup, sv, sizeof sv);
    if (st->sup.kind == HN_SUP_NONE)
        snprintf(sup, 96, "%s", cl->rel == HN_REL_EQ || cl->typo ? "-" : "none known");
    else
        snprintf(sup, 96, "%s %s", st->sup.kind == HN_SUP_EXACT ? "exact" : "≤", sv);
    double r = hn_found_over_sup(cl, st);
    if (isnan(r))
        snprintf(fo, 32, "-");
    else
        snprintf(fo, 32, "%.3g%s", r, hn_sup_contradicted(cl, st) ? " (!)" : "");
}

/* The findings' section titles, in the order hn_report_findings lists them. */
static const char *finding_title(hn_finding_kind k)
{
    switch (k) {
    case HN_FIND_FAILS: return "Statements and steps that fail (a counterexample is saved)";
    case HN_FIND_CONTRADICTION: return "Contradictions: a ratio found above a derived supremum";
    case HN_FIND_SEARCH_GAP: return "False bounds the search has not broken yet (exact supremum above 1)";
    case HN_FIND_LOOSE: return "Loose bounds (holding with a factor to spare)";
    case HN_FIND_TYPO: return "Typos (not well-formed as printed; the corrected form is checked)";
    case HN_FIND_APPROX: return "Approximations: their failure rates";
    case HN_FIND_MSE: return "The extension to MSE (A = I): the .mse twins";
    }
    return "?";
}

/* The sharp-constants row's "(measured ...; paper / sharp = ...)" or "". */
static void sharp_extra(const hn_sharp_row *row, char extra[96])
{
    extra[0] = '\0';
    if (isfinite(row->sharp_value) && isfinite(row->paper_value))
        snprintf(extra, 96, " (measured %.6g; paper / sharp = %.3g)", row->sharp_value,
                 row->paper_value / row->sharp_value);
}

static int save_text(const hn_report *r, hn_buf *b, const char *name, hn_err *err)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", r->o->out_dir, name);
    return hn_buf_save(b, p, err);
}

/* What a claim's histogram counts against its "networks": "" when the
 * same, else why fewer (ratio 0 or inf is off the log axis). */
static void hist_note(const hn_cstat *st, char *buf, size_t n)
{
    size_t zero, inf, h = hn_report_hist_count(st, &zero, &inf);
    buf[0] = '\0';
    if (h == st->n)
        return;
    char z[64] = "", f[64] = "";
    if (zero)
        snprintf(z, sizeof z, "%zu with ratio 0 (measured 0)", zero);
    if (inf)
        snprintf(f, sizeof f, "%zu with ratio inf (bound 0)", inf);
    snprintf(buf, n, "The histogram counts %zu of the %zu networks: %s%s%s %s off its log axis.", h, st->n, z,
             zero && inf ? " and " : "", f, zero + inf == 1 ? "is" : "are");
}

/* ------------------------------------------------------------ report.md */

static void md_claim(const hn_report *r, size_t c, hn_buf *md)
{
    const hn_claim *cl = hn_claim_get(c);
    const hn_cstat *st = &r->stats[c];
    const char *cx = r->cxrel[c];
    hn_buf_printf(md, "\n### <a id=\"%s\"></a>`%s` — %s — %s\n\n- printed: `%s`\n- reading: %s\n"
                      "- relation: %s; networks: %zu; violations: %zu\n",
                  cl->id, cl->id, cl->location, hn_verdict_name(st->verdict), cl->printed,
                  cl->reading[0] ? cl->reading : "as printed", hn_relation_name(cl->rel), st->n, st->violations);
    if (st->n)
        hn_buf_printf(md, "- worst ratio %.6g%s%s%s, median %.6g, worst relative discrepancy %.3g\n",
                      st->worst_ratio, st->worst_v.detail[0] ? " (" : "", st->worst_v.detail,
                      st->worst_v.detail[0] ? ")" : "", st->median, st->worst_disc);
    if (st->nm_done)
        hn_buf_printf(md, "- Nelder-Mead from the worst draw reached ratio %.6g\n", st->nm_ratio);
    char sup[96], fo[32];
    summary_sup(cl, st, sup, fo);
    if (cl->rel != HN_REL_EQ && !cl->typo)
        hn_buf_printf(md, "- supremum of measured / bound: %s (%s); found / supremum: %s\n", sup, st->sup.why, fo);
    hn_buf_printf(md, "- verdict **%s**, on the basis: %s\n", hn_verdict_name(st->verdict), hn_verdict_basis(cl, st));
    if (cx)
        hn_buf_printf(md, "- counterexample: [%s](%s/claim.json): measured %.6g vs bound %.6g (%s), %zu parameters, family %s\n",
                      cx, cx, st->cx_v.measured, st->cx_v.bound, st->cx_v.detail,
                      st->cx.m->n_params, st->cx.family);
    if (cl->corrects)
        hn_buf_printf(md, "- corrects [`%s`](#%s)\n", cl->corrects, cl->corrects);
    if (r->ratio_drawn[c]) {
        char note[200];
        hist_note(st, note, sizeof note);
        hn_buf_printf(md, "\n![distribution](figures/ratio_%s.png)\n", cl->id);
        if (note[0])
            hn_buf_printf(md, "\n%s\n", note);
    }
}

int hn_report_md(const hn_report *r, hn_err *err)
{
    const hn_audit_opts *o = r->o;
    const size_t nc = hn_claims_count();
    hn_buf md;
    hn_buf_init(&md);
    hn_buf_printf(&md, "# hessnorm audit\n\nEvery statement and proof step of *ConvNets Landscape Convergence: "
                       "Hessian-Based Analysis of Matricized Networks*, evaluated exactly as printed on %zu networks "
                       "(%zu random, %zu adversarial, seed %lu) plus a Nelder-Mead search of %zu iterations on every "
                       "inequality the draws did not break.%s\n\n",
                  r->info->networks, o->n_random, o->n_adversarial, o->seed, o->nm_iterations,
                  r->info->truncated ? " **The time budget cut the run short.**" : "");
    hn_buf_puts(&md, "Ratios are measured / bound (for equalities: the two sides' ratio); a ratio above 1 breaks "
                     "an inequality. The verdict of an unbroken inequality rests on the supremum of that ratio "
                     "over the claim's setting: *loose* when the exact supremum, or a proven upper bound on it, "
                     "is below 0.5 (the bound holds with the factor 1 / supremum to spare), *holds* when the "
                     "exact supremum is at least 0.5; when no supremum is known, on the best ratio found. "
                     "`found / sup` is the best ratio found over the supremum: 1 means the search attained "
                     "it, above 1 (marked !) contradicts it.\n\n## Findings\n");
    for (size_t i = 0; i < r->nfind; i++) {
        const hn_finding *f = &r->findings[i];
        if (!i || f->kind != r->findings[i - 1].kind)
            hn_buf_printf(&md, "\n### %s\n\n", finding_title(f->kind));
        const char *id = hn_claim_get(f->claim)->id;
        hn_buf_printf(&md, "- [`%s`](#%s)%s\n", id, id, f->text + strlen(id)); /* the text starts with the id */
    }
    hn_buf_puts(&md, "\n## Summary\n\n| claim | location | relation | verdict | basis | networks | "
                     "worst ratio | supremum | found / sup | median ratio | counterexample | corrects |\n"
                     "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t c = 0; c < nc; c++) {
        if (!r->selected[c])
            continue;
        const hn_claim *cl = hn_claim_get(c);
        const hn_cstat *st = &r->stats[c];
        char wr[32], mr[32], sup[96], fo[32];
        summary_ratios(cl, st, wr, mr);
        summary_sup(cl, st, sup, fo);
        hn_buf_printf(&md, "| [`%s`](#%s) | %s | %s | **%s** | %s | %zu | %s | %s | %s | %s | %s | %s |\n", cl->id,
                      cl->id, cl->location, hn_relation_name(cl->rel), hn_verdict_name(st->verdict),
                      hn_verdict_basis(cl, st), st->n, wr, sup, fo, mr, r->cxrel[c] ? r->cxrel[c] : "",
                      cl->corrects ? cl->corrects : "");
    }
    hn_buf_puts(&md, "\n## Sharp constants\n\n| quantity | paper | sharp | evidence |\n|---|---|---|---|\n");
    for (size_t i = 0; i < r->nsharp; i++) {
        const hn_sharp_row *row = &r->sharp[i];
        char extra[96];
        sharp_extra(row, extra);
        hn_buf_printf(&md, "| %s | %s | %s%s | %s |\n", row->what, row->paper, row->sharp, extra, row->evidence);
    }
    if (r->figs) {
        hn_buf_puts(&md, "\n## Bounds against depth, kernel, channels and pooling position\n\n");
        if (r->studies->n_sweeps == 0)
            hn_buf_puts(&md, "Not run (0 draws per sweep point were asked for: `--sweep-draws 0`).\n\n");
        for (size_t i = 0; i < r->studies->n_sweeps; i++) {
            const char *name = r->studies->sweeps[i].name;
            if (r->sweep_drawn[i])
                hn_buf_printf(&md, "![%s](figures/sweep_%s.png)\n\n", name, name);
        }
    }
    hn_buf_puts(&md, "\n## Claims\n");
    for (size_t c = 0; c < nc; c++)
        if (r->selected[c])
            md_claim(r, c, &md);
    int rc = save_text(r, &md, "report.md", err);
    hn_buf_free(&md);
    return rc;
}

/* ------------------------------------------------------------ index.html */

static void html_claim(const hn_report *r, size_t c, hn_buf *html)
{
    const hn_claim *cl = hn_claim_get(c);
    const hn_cstat *st = &r->stats[c];
    const char *cx = r->cxrel[c];
    hn_buf_printf(html, "<h3 id='%s'><a href='#%s'><code>%s</code></a> &mdash; %s &mdash; %s</h3><ul><li>printed: "
                        "<span class='formula' title=\"", cl->id, cl->id, cl->id, cl->location,
                  hn_verdict_name(st->verdict));
    hn_buf_html(html, cl->printed);
    hn_buf_puts(html, "\">");
    hn_mathml(html, cl->printed);
    hn_buf_puts(html, "</span> <code class='ascii'>");
    hn_buf_html(html, cl->printed);
    hn_buf_puts(html, "</code></li><li>reading: ");
    hn_buf_html(html, cl->reading[0] ? cl->reading : "as printed");
    hn_buf_printf(html, "</li><li>relation %s; networks %zu; violations %zu</li>", hn_relation_name(cl->rel),
                  st->n, st->violations);
    if (st->n) {
        hn_buf_printf(html, "<li>worst ratio %.6g", st->worst_ratio);
        if (st->worst_v.detail[0]) {
            hn_buf_puts(html, " (");
            hn_buf_html(html, st->worst_v.detail);
            hn_buf_puts(html, ")");
        }
        hn_buf_printf(html, ", median %.6g, worst relative discrepancy %.3g</li>", st->median, st->worst_disc);
    }
    if (st->nm_done)
        hn_buf_printf(html, "<li>Nelder&ndash;Mead from the worst draw reached ratio %.6g</li>", st->nm_ratio);
    char sup[96], fo[32];
    summary_sup(cl, st, sup, fo);
    if (cl->rel != HN_REL_EQ && !cl->typo) {
        hn_buf_puts(html, "<li>supremum of measured / bound: ");
        hn_buf_html(html, sup);
        hn_buf_puts(html, " (");
        hn_buf_html(html, st->sup.why);
        hn_buf_printf(html, "); found / supremum: %s</li>", fo);
    }
    hn_buf_printf(html, "<li>verdict <b>%s</b>, on the basis: %s</li>", hn_verdict_name(st->verdict),
                  hn_verdict_basis(cl, st));
    if (cx)
        hn_buf_printf(html, "<li>counterexample: <a href='%s/claim.json'>%s</a>: measured %.6g vs bound %.6g, "
                            "%zu parameters, family %s</li>",
                      cx, cx, st->cx_v.measured, st->cx_v.bound, st->cx.m->n_params, st->cx.family);
    if (cl->corrects)
        hn_buf_printf(html, "<li>corrects <a href='#%s'>%s</a></li>", cl->corrects, cl->corrects);
    hn_buf_puts(html, "</ul>");
    if (r->ratio_drawn[c]) {
        char note[200];
        hist_note(st, note, sizeof note);
        hn_buf_printf(html, "<img src='figures/ratio_%s.png' alt='distribution of bound/measured'>", cl->id);
        if (note[0])
            hn_buf_printf(html, "<p>%s</p>", note);
    }
}

/* The table of contents: the sections, then every claim by its anchor. */
static void html_toc(const hn_report *r, hn_buf *html)
{
    hn_buf_puts(html, "<nav><h2 id='contents'>Contents</h2><ol><li><a href='#findings'>Findings</a></li>"
                      "<li><a href='#summary'>Summary</a></li><li><a href='#sharp'>Sharp constants</a></li>");
    if (r->figs)
        hn_buf_puts(html, "<li><a href='#sweeps'>Bounds against depth, kernel, channels and pooling position</a></li>");
    hn_buf_puts(html, "<li><a href='#claims'>Claims</a><ul>");
    for (size_t c = 0; c < hn_claims_count(); c++)
        if (r->selected[c]) {
            const char *id = hn_claim_get(c)->id;
            hn_buf_printf(html, "<li><a href='#%s'>%s</a></li>", id, id);
        }
    hn_buf_puts(html, "</ul></li></ol></nav>");
}

static void html_summary_row(const hn_report *r, size_t c, hn_buf *html)
{
    const hn_claim *cl = hn_claim_get(c);
    const hn_cstat *st = &r->stats[c];
    char wr[32], mr[32], sup[96], fo[32];
    summary_ratios(cl, st, wr, mr);
    summary_sup(cl, st, sup, fo);
    hn_buf_printf(html, "<tr class='%s'><td><a href='#%s'><code>%s</code></a></td><td>%s</td><td>",
                  hn_verdict_name(st->verdict), cl->id, cl->id, cl->location);
    hn_buf_html(html, hn_relation_name(cl->rel));
    hn_buf_printf(html, "</td><td><b>%s</b></td><td>%s</td><td>%zu</td><td>%s</td><td>", hn_verdict_name(st->verdict),
                  hn_verdict_basis(cl, st), st->n, wr);
    hn_buf_html(html, sup);
    hn_buf_printf(html, "</td><td>%s</td><td>%s</td><td>", fo, mr);
    if (r->cxrel[c])
        hn_buf_printf(html, "<a href='%s/claim.json'>%s</a>", r->cxrel[c], cl->id);
    hn_buf_printf(html, "</td><td>%s</td></tr>", cl->corrects ? cl->corrects : "");
}

static void html_sharp_row(const hn_sharp_row *row, hn_buf *html)
{
    char extra[96];
    sharp_extra(row, extra);
    hn_buf_puts(html, "<tr><td>");
    hn_buf_html(html, row->what);
    hn_buf_puts(html, "</td><td>");
    hn_buf_html(html, row->paper);
    hn_buf_puts(html, "</td><td>");
    hn_buf_html(html, row->sharp);
    hn_buf_html(html, extra);
    hn_buf_puts(html, "</td><td>");
    hn_buf_html(html, row->evidence);
    hn_buf_puts(html, "</td></tr>");
}

int hn_report_html(const hn_report *r, hn_err *err)
{
    const hn_audit_opts *o = r->o;
    const size_t nc = hn_claims_count();
    hn_buf html;
    hn_buf_init(&html);
    hn_buf_printf(&html, "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hessnorm audit</title><style>%s</style>"
                         "</head><body><h1>hessnorm audit</h1><p>%zu networks (%zu random, %zu adversarial), seed %lu, "
                         "Nelder&ndash;Mead %zu iterations per unbroken inequality.%s</p>",
                  css, r->info->networks, o->n_random, o->n_adversarial, o->seed, o->nm_iterations,
                  r->info->truncated ? " <b>The time budget cut the run short.</b>" : "");
    hn_buf_puts(&html, "<p><a href='#findings'>Findings</a> &middot; <a href='#contents'>Contents</a> &middot; "
                       "<a href='#summary'>Summary</a> &middot; <a href='#claims'>Claims</a></p>");
    hn_buf_puts(&html, "<p>Ratio = measured / bound; above 1 breaks an inequality. An unbroken inequality is "
                       "<i>loose</i> when the exact supremum of the ratio, or a proven upper bound on it, is below "
                       "0.5, <i>holds</i> when the exact supremum is at least 0.5, and otherwise judged on the best "
                       "ratio found. <i>found / sup</i>: the best ratio found over the supremum (above 1, marked !, "
                       "contradicts it).</p><h2 id='findings'>Findings</h2>");
    for (size_t i = 0; i < r->nfind; i++) {
        const hn_finding *f = &r->findings[i];
        if (!i || f->kind != r->findings[i - 1].kind)
            hn_buf_printf(&html, "%s<h3>%s</h3><ul>", i ? "</ul>" : "", finding_title(f->kind));
        const char *id = hn_claim_get(f->claim)->id;
        hn_buf_printf(&html, "<li><a href='#%s'><code>%s</code></a>", id, id);
        hn_buf_html(&html, f->text + strlen(id)); /* the text starts with the id */
        hn_buf_puts(&html, "</li>");
    }
    if (r->nfind)
        hn_buf_puts(&html, "</ul>");
    html_toc(r, &html);
    hn_buf_puts(&html, "<h2 id='summary'>Summary</h2><table><tr><th>claim</th><th>location</th><th>relation</th>"
                       "<th>verdict</th><th>basis</th><th>networks</th><th>worst ratio</th><th>supremum</th>"
                       "<th>found / sup</th><th>median ratio</th><th>counterexample</th><th>corrects</th></tr>");
    for (size_t c = 0; c < nc; c++)
        if (r->selected[c])
            html_summary_row(r, c, &html);
    hn_buf_puts(&html, "</table><h2 id='sharp'>Sharp constants</h2><table><tr><th>quantity</th><th>paper</th><th>sharp</th>"
                       "<th>evidence</th></tr>");
    for (size_t i = 0; i < r->nsharp; i++)
        html_sharp_row(&r->sharp[i], &html);
    hn_buf_puts(&html, "</table>");
    if (r->figs) {
        hn_buf_puts(&html, "<h2 id='sweeps'>Bounds against depth, kernel, channels and pooling position</h2>");
        if (r->studies->n_sweeps == 0)
            hn_buf_puts(&html, "<p>Not run (0 draws per sweep point were asked for: <code>--sweep-draws 0</code>).</p>");
        for (size_t i = 0; i < r->studies->n_sweeps; i++) {
            const char *name = r->studies->sweeps[i].name;
            if (r->sweep_drawn[i])
                hn_buf_printf(&html, "<img src='figures/sweep_%s.png' alt='%s'>", name, name);
        }
    }
    hn_buf_puts(&html, "<h2 id='claims'>Claims</h2>");
    for (size_t c = 0; c < nc; c++)
        if (r->selected[c])
            html_claim(r, c, &html);
    hn_buf_puts(&html, "</body></html>\n");
    int rc = save_text(r, &html, "index.html", err);
    hn_buf_free(&html);
    return rc;
}
