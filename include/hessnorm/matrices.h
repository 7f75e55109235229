/* hessnorm — the paper's matrices, exact and dense.
 *
 * Conventions (documented in docs/conventions.md):
 *  - vectors are C-order vectorisations of (c,h,w) activations;
 *  - vec_r (row-wise vectorisation, the paper's choice): vec_r(X)[i*n+j] = X[i][j];
 *  - with vec_r:  vec_r(A X B) = (A (x) B^T) vec_r(X);
 *  - dz/dT^(p) (row-wise) = G^(p) (x) (R^(p-1) x)^T, so
 *    F = [G^(1) (x) (R^(0)x)^T, ..., G^(L+1) (x) (R^(L)x)^T]  (K x sum |T^(p)|);
 *  - Q^(p) = d vec_r T^(p) / d vec W^(p)  (|T^(p)| x |W^(p)|, 0/1 entries),
 *    Q = blockdiag(Q^(1), ..., Q^(L+1));  J = F Q;  H_O = Q^T F^T A F Q.
 * Indices: the paper's p = 1..L+1 is index p-1 here. */
#ifndef HESSNORM_MATRICES_H
#define HESSNORM_MATRICES_H
#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include "hessnorm/model.h"
#include "hessnorm/layers.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Dense objects larger than this many doubles are refused with HN_ETOOBIG. */
#define HN_DENSE_LIMIT ((size_t)1 << 27)

/* T of the linear operator at layers[pos] (rows = out size, cols = in size). */
int hn_mat_T(const hn_model *m, const double *theta, size_t pos, gsl_matrix **out, hn_err *err);
/* Q of layers[pos]: (rows*cols of T) x param_count. */
int hn_mat_Q(const hn_model *m, size_t pos, gsl_matrix **out, hn_err *err);
/* Max-pool selection matrix for the given choices (out x in) and the
 * avg-pool matrix (out x in). */
int hn_mat_maxpool(hn_shape in, size_t kh, size_t kw, const size_t *argmax,
                   gsl_matrix **out, hn_err *err);
int hn_mat_avgpool(hn_shape in, size_t kh, size_t kw, gsl_matrix **out, hn_err *err);
/* 0/1 diagonal ReLU mask diag(z > 0). */
int hn_mat_relu(const double *z, size_t n, gsl_matrix **out, hn_err *err);

/* Everything for one sample. */
typedef struct {
    size_t n_lin;            /* L + 1 */
    size_t K, P;
    gsl_matrix **T;          /* [n_lin] */
    gsl_matrix **Q;          /* [n_lin] */
    gsl_matrix **Lambda;     /* [n_lin - 1]: Lambda^(p), p = 1..L */
    gsl_matrix **G;          /* [n_lin]: G^(p), G^(L+1) = I */
    gsl_matrix **R;          /* [n_lin]: R^(p-1) for p = 1..L+1 (R[0] = I) */
    gsl_vector **Rx;         /* [n_lin]: R^(p-1) x */
    gsl_matrix *F;           /* K x sum |T| */
    gsl_matrix *Qfull;       /* block diagonal (NULL if over the limit) */
    gsl_matrix *A;           /* K x K */
    gsl_matrix *J;           /* K x P  = F Q */
    gsl_matrix *HO;          /* P x P  = Q^T F^T A F Q */
    double *logits, *p;      /* K */
    double loss;
} hn_paper;

/* What hn_paper_build would allocate for m (without allocating): the
 * largest matrix (what, rows x cols, entries) and the total entries of the
 * required ones (the optional block-diagonal Q excluded); fits = 1 when
 * the largest is within HN_DENSE_LIMIT and the total within
 * HN_DENSE_TOTAL_LIMIT.  Returns fits. */
#define HN_DENSE_TOTAL_LIMIT ((size_t)1 << 27) /* 1 GiB of doubles in all */
typedef struct {
    size_t largest, rows, cols, total;
    const char *what;
    int fits;
} hn_dense_need;
int hn_paper_dense_need(const hn_model *m, hn_dense_need *need);

/* The paper's symbols of a network at theta, as the claims read them
 * (src/audit/claims.c's header): C the largest channel count (the input's
 * and every conv layer's output); k the largest conv kernel side; m x n
 * the first linear layer's output size (d = n in 1-D); w the largest
 * |parameter| of the conv layers, w~ of the linear ones; h_out the largest
 * linear output size, h_all the largest linear size in or out; nconv the
 * conv layers, dim 1 or 2 (of the last conv layer). */
typedef struct {
    size_t C, k, m, n, d, h_out, h_all, nconv;
    int dim;
    double w, wt;
} hn_paper_symbols;
void hn_paper_symbols_of(const hn_model *m, const double *theta, hn_paper_symbols *s);

/* Build all of the above at (theta, sample i of s). */
int hn_paper_build(const hn_model *m, const double *theta, const hn_samples *s,
                   size_t i, hn_paper **out, hn_err *err);
void hn_paper_free(hn_paper *pp);

#ifdef __cplusplus
}
#endif
#endif
