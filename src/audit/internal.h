/* hessnorm — internal: the measured facts a claim is evaluated on. */
#ifndef HN_AUDIT_INTERNAL_H
#define HN_AUDIT_INTERNAL_H
#include "hessnorm/audit.h"
#include "hessnorm/matfree.h"
#include "hessnorm/matrices.h"

#define HN_MAXLIN 12
/* Two ratios within this relative distance are a tie: norms from
 * different routes or BLAS kernels differ by rounding (~1e-15), which must
 * not choose what the audit reports or searches from.  A tie is won by the
 * smaller layer p (a per-layer claim's worst p, claims_eval.h), by the
 * smaller and then the earlier instance (a claim's worst instance, where
 * Nelder-Mead starts, stats.c) and by the earlier instance (the gradient
 * ascent's starts, audit.c).  1e-12: far above
 * rounding, far below HN_VIOLATION_RTOL. */
#define HN_WORST_TIE 1e-12

/* The fact groups: hn_facts is filled group by group, each by one named
 * function of facts.c (fg_<name>), in this order.  A claim's `facts` mask
 * names the groups its evaluator reads; a group that reads another's fields
 * or matrices requires it (facts.c: fact_groups[]), and computing a group
 * computes its requirements first.  Every group requires SHAPE. */
typedef enum {
    HN_FG_SHAPE,     /* fg_shape: the network and the paper's symbols C, k, d, m, n, w, w~, h, ||x|| */
    HN_FG_NORMS,     /* fg_layer_norms: ||T||, ||Q||, ||G||, ||R||, ||Lambda||, ||R x|| per layer */
    HN_FG_ENTRIES,   /* fg_conv_entries: Appendices C, D entrywise (rows of T and Q, ||T||_F) */
    HN_FG_APPA,      /* fg_appendix_a: Appendix A per layer (J blocks, Kronecker identities) */
    HN_FG_SEC4,      /* fg_section_iv: Section IV and equation (3) identities */
    HN_FG_APPB,      /* fg_appendix_b: ||A||, ||F||, ||Q|| (Appendix B) */
    HN_FG_HO,        /* fg_ho: H_O by backprop and ||H_O|| */
    HN_FG_LEMMA1,    /* fg_lemma1: Q^T F^T A F Q against H_O (requires HO) */
    HN_FG_BLOCKS,    /* fg_ho_blocks: the blocks H_O^(kl) of Appendix A (requires HO, APPA) */
    HN_FG_POOL,      /* fg_pooling: the pooling matrix (Appendices E, F) */
    HN_FG_HESSIAN,   /* fg_hessian: ||H|| of the full Hessian, up to 400 parameters */
    HN_FG_LANDSCAPE, /* fg_landscape: equation (1), Section III, the corollaries */
    HN_FG_COUNT
} hn_fact_group;
#define HN_FG(g) (1u << (g))
#define HN_FG_ALL ((1u << HN_FG_COUNT) - 1)
/* The groups of the local search and the sweeps: the norms, ||A||, ||F||,
 * ||H_O||, pooling and equation (1); no identity checks, no full Hessian. */
#define HN_FG_LIGHT                                                                          \
    (HN_FG(HN_FG_SHAPE) | HN_FG(HN_FG_NORMS) | HN_FG(HN_FG_APPB) | HN_FG(HN_FG_HO) |         \
     HN_FG(HN_FG_POOL) | HN_FG(HN_FG_LANDSCAPE))

/* The groups the matrix-free route fills (networks past the dense limit). */
#define HN_FG_MATFREE (HN_FG(HN_FG_SHAPE) | HN_FG(HN_FG_NORMS) | HN_FG(HN_FG_APPB) | HN_FG(HN_FG_HO))

struct hn_facts {
    unsigned groups;         /* the groups filled (a mask of HN_FG(g)); the rest is 0 */
    int matfree;             /* 1: past the dense limit, NORMS/APPB/HO from paper/matfree.c */
    hn_netspec spec;
    const hn_model *m;
    size_t n_lin, L, n_conv, n_fc, K, P;
    int dim;
    /* the paper's symbols, read as stated in each claim */
    size_t C, k, d, mm, nn, h_out, h_all;
    double w, wt, x_norm, x_sq_norm; /* x_sq_norm = ||x^2|| (elementwise square) */
    int pool, pool_instead;
    size_t pool_l, kpool;    /* the paper's l (1-based): pooling inside Lambda^(l) */
    /* per linear op (index p-1) */
    double T_norm[HN_MAXLIN], T_fro[HN_MAXLIN], Q_norm[HN_MAXLIN], G_norm[HN_MAXLIN];
    double R_norm[HN_MAXLIN], Rx_norm[HN_MAXLIN], W_sq[HN_MAXLIN];
    /* upper ends of the brackets of T_norm and R_norm (T_norm, R_norm are the
     * lower ends): equal to them on the dense route; matrix-free, T_hi is
     * certified and R_hi certified or a Lanczos residual bound */
    double T_hi[HN_MAXLIN], R_hi[HN_MAXLIN];
    size_t out_pos[HN_MAXLIN], rows[HN_MAXLIN], cols[HN_MAXLIN], cin[HN_MAXLIN], cout[HN_MAXLIN];
    size_t kh[HN_MAXLIN], kw[HN_MAXLIN];
    int is_conv[HN_MAXLIN];
    double T_row_disc, T_fro_disc, Q_row_disc;
    double F_norm, A_norm, HO_norm, Qfull_norm;
    double lemma1_disc, block_disc, dzdW_disc, kron_split_disc, vecz_disc, kron_norm_disc;
    double eq3_disc, zGz_disc, xRx_disc, zGTRx_disc, dzdT_disc;
    /* pooling layer (when present) */
    double pool_norm, avg_gram_disc, avg_block_norm;
    /* 1-based: the per-layer claims (HN_WORST_P) read this p alone (0: every p); the
     * upper ends of a matrix-free bracket are taken at the p the lower ends chose */
    size_t pin_p;
    /* full Hessian at this sample */
    int have_H;
    double H_norm;
    /* equation (1) / corollaries */
    int have_land;
    size_t lk;
    double R, lhs, ldiff_star, dH_norm, dHO_norm, grad_term, W_l_star, W_l_theta, W_x;
    double identity_disc;
    /* gradients at theta* (Assumption 1): ||grad L_k||, ||grad l_{k+1}||, ||grad L_{k+1}||, and the
     * size of the terms they average, gscale_k = 1/k sum_{i<=k} ||grad l_i||, gscale_k1 the same
     * over the k+1 samples */
    double gLk_norm, gl_last_norm, gLk1_norm, gscale_k, gscale_k1;
};

/* hn_facts_compute filling only `groups` (a mask of HN_FG(g)) and the
 * groups they require; the fields of the other groups stay 0. */
int hn_facts_compute_groups(const hn_netspec *ns, const hn_model *m, const double *theta,
                            const hn_samples *s, size_t landscape_k, const double *delta, unsigned groups,
                            hn_facts **out, hn_err *err);
/* hn_facts_compute_groups on a chosen route: HN_ROUTE_AUTO (dense when
 * hn_paper_dense_need fits, else matrix-free), HN_ROUTE_DENSE (HN_ETOOBIG
 * naming the matrix when it does not fit), HN_ROUTE_MATFREE. */
int hn_facts_compute_route(const hn_netspec *ns, const hn_model *m, const double *theta, const hn_samples *s,
                           size_t landscape_k, const double *delta, unsigned groups, hn_route route,
                           const hn_mf_theta *th, hn_facts **out, hn_err *err);
/* 1 when hn_facts_compute_route takes the matrix-free route for m (route
 * HN_ROUTE_MATFREE, or HN_ROUTE_AUTO past the dense limit), else 0. */
int hn_facts_route_matfree(const hn_model *m, hn_route route);
/* One claim on the facts f into o (audit/one.c): its value, on the
 * matrix-free route both bracket ends and the verdict from them (a claim
 * over every layer p: over every p), or n/a with the reason. */
int hn_claim_instance_eval(hn_claim_instance *o, const hn_claim *c, const hn_facts *f, hn_err *err);
/* The landscape group (audit/landscape.c): the fields of equation (1),
 * Section III and the corollaries at theta and theta* = theta - delta over
 * samples 0..k of s; have_land = 1.  HN_ENOMEM or the Hessians' errors. */
int hn_facts_landscape(hn_facts *f, const hn_model *m, const double *theta, const hn_samples *s,
                       size_t k, const double *delta, hn_err *err);
/* The matrix-free NORMS, APPB and HO fields (audit/facts_mf.c) of sample 0
 * of s, SHAPE filled: T/R brackets, Q, G, Rx, T_fro, A, F, H_O (Qfull_norm
 * NAN: the block-diagonal Q is not formed). */
int hn_facts_fill_matfree(hn_facts *f, const hn_model *m, const double *theta, const hn_samples *s,
                          const hn_mf_theta *th, hn_err *err);
/* The theta part of the matrix-free facts (hn_mf_theta_compute with the
 * facts' Lanczos settings), to share among samples: th of
 * hn_facts_compute_route and hn_facts_fill_matfree (NULL: computed there). */
int hn_facts_mf_theta(const hn_model *m, const double *theta, hn_mf_theta **out, hn_err *err);
/* groups with every group they require, directly or not. */
unsigned hn_fact_groups_closure(unsigned groups);
/* The short name of group g ("shape", "layer-norms", ...; "?" outside the enum). */
const char *hn_fact_group_name(hn_fact_group g);
#endif
