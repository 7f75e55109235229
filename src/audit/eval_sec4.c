/* hessnorm — the claims of Section III and IV, equation (3), Lemma 1 and Appendix A: their evaluators (the
 * registry is in claims.c; symbols as read there). */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "audit/claims_eval.h"

/* ------------------------------------------------ Section III / IV, Lemma 1 */

int hn_ev_eq3(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->eq3_disc;
    snprintf(v->detail, sizeof v->detail, "dense product vs direct forward pass");
    return 0;
}
int hn_ev_zGz(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->zGz_disc;
    return 0;
}
int hn_ev_xRx(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->xRx_disc;
    return 0;
}
int hn_ev_zGTRx(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->zGTRx_disc;
    return 0;
}
int hn_ev_lemma1(const hn_facts *f, hn_claim_value *v)
{
    v->measured = f->HO_norm;
    v->bound = f->HO_norm;
    v->discrepancy = f->lemma1_disc;
    snprintf(v->detail, sizeof v->detail, "Q^T F^T A F Q vs J^T A J (backprop)");
    return 0;
}
int hn_ev_typo(const hn_facts *f, hn_claim_value *v)
{
    (void)f;
    (void)v;
    return 1; /* not well-formed: nothing to evaluate */
}
int hn_ev_vecz(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->vecz_disc;
    return 0;
}
int hn_ev_split(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->kron_split_disc;
    return 0;
}
int hn_ev_dzdW(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->dzdW_disc;
    return 0;
}
int hn_ev_block(const hn_facts *f, hn_claim_value *v)
{
    v->discrepancy = f->block_disc;
    return 0;
}
