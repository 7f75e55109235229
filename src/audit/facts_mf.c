/* hessnorm — the audit's facts of a network past the dense limit, from
 * the matrix-free route (paper/matfree.c): layer norms with brackets, A, F
 * and H_O exactly through K x K forms.  The groups it fills are
 * HN_FG_MATFREE; the others stay unmeasured. */
#include "config.h"
#include <math.h>
#include "hessnorm/matfree.h"
#include "audit/internal.h"

/* Lanczos: relative residual 1e-10 (eigenvalue error far below the printed
 * digits), at most 300 products per norm; fixed seed (deterministic). */
#define MF_RTOL 1e-10
#define MF_MAX_ITER 300
#define MF_SEED 20261202UL

int hn_facts_mf_theta(const hn_model *m, const double *theta, hn_mf_theta **out, hn_err *err)
{
    return hn_mf_theta_compute(m, theta, MF_MAX_ITER, MF_RTOL, MF_SEED, out, err);
}

int hn_facts_fill_matfree(hn_facts *f, const hn_model *m, const double *theta, const hn_samples *s,
                          const hn_mf_theta *th, hn_err *err)
{
    hn_mf_sample *r;
    int rc = th ? hn_mf_sample_compute_at(m, theta, th, s, 0, &r, err)
                : hn_mf_sample_compute(m, theta, s, 0, MF_MAX_ITER, MF_RTOL, MF_SEED, &r, err);
    if (rc)
        return rc;
    for (size_t t = 0; t < r->n_lin; t++) {
        const hn_mf_layer *L = &r->layers[t];
        f->T_norm[t] = L->T_norm.lo;
        f->T_hi[t] = L->T_norm.hi;
        f->R_norm[t] = L->R_norm.lo;
        f->R_hi[t] = L->R_norm.hi;
        f->Q_norm[t] = L->Q_norm;
        f->G_norm[t] = L->G_norm;
        f->Rx_norm[t] = L->Rx_norm;
        f->T_fro[t] = L->T_fro;
    }
    f->A_norm = r->A_norm;
    f->F_norm = r->F_norm;
    f->HO_norm = r->HO_norm;
    f->Qfull_norm = NAN;
    hn_mf_sample_free(r);
    return HN_OK;
}
