/* hessnorm — internal: the measured facts a claim is evaluated on. */
#ifndef HN_AUDIT_INTERNAL_H
#define HN_AUDIT_INTERNAL_H
#include "hessnorm/audit.h"
#include "hessnorm/matrices.h"

#define HN_MAXLIN 12

struct hn_facts {
    hn_netspec spec;
    const hn_model *m;
    size_t n_lin, L, n_conv, n_fc, K, P;
    int dim;
    /* the paper's symbols, read as stated in each claim */
    size_t C, k, d, mm, nn, h_out, h_all;
    double w, wt, x_norm;
    int pool, pool_instead;
    size_t pool_l, kpool;    /* the paper's l (1-based): pooling inside Lambda^(l) */
    /* per linear op (index p-1) */
    double T_norm[HN_MAXLIN], T_fro[HN_MAXLIN], Q_norm[HN_MAXLIN], G_norm[HN_MAXLIN];
    double R_norm[HN_MAXLIN], Rx_norm[HN_MAXLIN], Lam_norm[HN_MAXLIN], W_sq[HN_MAXLIN];
    size_t out_pos[HN_MAXLIN], rows[HN_MAXLIN], cols[HN_MAXLIN], cin[HN_MAXLIN], cout[HN_MAXLIN];
    size_t kh[HN_MAXLIN], kw[HN_MAXLIN];
    int is_conv[HN_MAXLIN];
    double T_row_disc, T_fro_disc, Q_row_disc, Q_fro_sq[HN_MAXLIN];
    double F_norm, A_norm, HO_norm, Qfull_norm;
    double lemma1_disc, block_disc, dzdW_disc, kron_split_disc, vecz_disc, kron_norm_disc;
    double eq3_disc, zGz_disc, xRx_disc, zGTRx_disc, dzdT_disc;
    /* pooling layer (when present) */
    double pool_norm, avg_gram_disc, avg_block_norm;
    /* full Hessian at this sample */
    int have_H;
    double H_norm;
    /* equation (1) / corollaries */
    int have_land;
    size_t lk;
    double R, lhs, ldiff_star, dH_norm, dHO_norm, grad_term, W_l_star, W_l_theta, W_x;
    double identity_disc;
};

/* light = 1 skips the full Hessian (for the local search). */
int hn_facts_compute_ex(const hn_netspec *ns, const hn_model *m, const double *theta,
                        const hn_samples *s, size_t landscape_k, const double *delta, int light,
                        hn_facts **out, hn_err *err);
#endif
