/* hessnorm — GEMM-shaped batched kernels: im2col + OpenBLAS DGEMM.
 *
 * The per-sample loops of layers.h stay the reference route; everything
 * here is a second route to the same numbers, checked against them in
 * tests/test_fastconv.c.
 *
 * Batched tensors are stored channel-major ("CNHW"): element (c, b, y, x)
 * of a batch of B blocks of shape (C, H, W) is at ((c*B + b)*H + y)*W + x.
 * A convolution of the whole batch is then one matrix product
 *     Z (co x B*ho*wo) = W (co x ci*kh*kw) * col (ci*kh*kw x B*ho*wo),
 * its data adjoint dcol = W^T dZ followed by col2im, and its weight
 * gradient dW += dZ col^T.  A plain vector batch (N, 1, 1) is the N x B
 * matrix, so the linear head is the same product.
 *
 * Network-level routines split the items (samples) into fixed chunks of
 * HN_FAST_CHUNK consecutive items; a chunk is the unit of work of one
 * thread and owns one partial result, and the partial results are reduced
 * in chunk order.  Results are therefore bit-identical for every thread
 * count (they depend on HN_FAST_CHUNK, never on the threads).  Call with
 * OpenBLAS single-threaded (OPENBLAS_NUM_THREADS=1 or
 * openblas_set_num_threads(1)) when threads > 1: the GEMMs are small and
 * the threads come from OpenMP.  No routine prints; every routine that
 * can fail returns 0 or a negative HN_E* code and fills err (may be NULL). */
#ifndef HESSNORM_FASTCONV_H
#define HESSNORM_FASTCONV_H
#include <stddef.h>
#include "hessnorm/error.h"
#include "hessnorm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- primitives */

/* col (ci*kh*kw rows, B*ho*wo columns, row-major) of x (CNHW, B blocks of
 * shape in): col[(i*kh + a)*kw + b][(n*ho + y)*wo + q] = x(i, n, y+a, q+b). */
void hn_im2col(hn_shape in, size_t B, size_t kh, size_t kw, const double *x, double *col);
/* x = adjoint of hn_im2col applied to col (x overwritten, B blocks of in). */
void hn_col2im(hn_shape in, size_t B, size_t kh, size_t kw, const double *col, double *x);

/* Size in doubles of the col scratch the batched convolutions need for B
 * blocks (0 when kh = kw = 1: the input is its own col). */
size_t hn_conv_col_size(hn_shape in, size_t B, size_t kh, size_t kw);

/* Batched counterparts of hn_conv_forward / hn_conv_backward_data /
 * hn_conv_backward_weights on B blocks in CNHW (stride 1, no padding;
 * W is [co, ci, kh, kw]).  col: scratch of hn_conv_col_size doubles (may
 * be NULL when that is 0).  forward and backward_data overwrite their
 * output; backward_weights accumulates dW += sum over the B blocks. */
void hn_conv_forward_batch(hn_shape in, size_t B, size_t co, size_t kh, size_t kw,
                           const double *W, const double *x, double *col, double *z);
void hn_conv_backward_data_batch(hn_shape in, size_t B, size_t co, size_t kh, size_t kw,
                                 const double *W, const double *dz, double *col, double *dx);
void hn_conv_backward_weights_batch(hn_shape in, size_t B, size_t co, size_t kh, size_t kw,
                                    const double *x, const double *dz, double *col, double *dW);

/* Per-sample (C,H,W) blocks <-> CNHW: dst(c, n, .) = src[n](c, .). */
void hn_nchw_to_cnhw(hn_shape s, size_t B, const double *src, double *dst);
void hn_cnhw_to_nchw(hn_shape s, size_t B, const double *src, double *dst);

/* ---------------------------------------------------------------- network */

/* Items per chunk (the unit of work of one thread). */
#define HN_FAST_CHUNK 4

typedef struct hn_fast hn_fast;

/* Workspaces for `threads` threads (<= 0: omp_get_max_threads(); 1
 * without OpenMP) and Hessian-vector products with up to max_dirs
 * directions per pass (0: none until a routine needs them).  The model
 * must outlive the workspace.  Routines other than hn_batch_forward_backward
 * and hn_batch_losses may grow the workspace on first use (HN_ENOMEM);
 * those two never allocate.  Errors: HN_EINVAL (model not finalized),
 * HN_ENOMEM, HN_ERANGE (sizes overflow). */
int hn_fast_alloc(const hn_model *m, int threads, size_t max_dirs, hn_fast **out, hn_err *err);
void hn_fast_free(hn_fast *f);
int hn_fast_threads(const hn_fast *f);

/* In every routine below: the items are samples idx[0..n-1] of s (idx NULL:
 * samples 0..n-1), m is the workspace's model, theta has m->n_params
 * entries.  Errors: HN_EINVAL (n = 0, an index >= s->n, a class label out
 * of range, missing labels where a loss is needed, another model),
 * HN_ESHAPE (s's sample size differs from the model input), HN_ENOMEM. */

/* Mean loss (may be NULL) and mean gradient (m->n_params, overwritten; may
 * be NULL) of the n samples. */
int hn_batch_forward_backward(const hn_model *m, const double *theta, const hn_samples *s,
                              const size_t *idx, size_t n, hn_fast *f, double *loss,
                              double *grad, hn_err *err);

/* Per-sample loss (n, may be NULL; needs labels), logits (n x K, may be
 * NULL) and predicted class (argmax, first on ties; n, may be NULL). */
int hn_batch_losses(const hn_model *m, const double *theta, const hn_samples *s,
                    const size_t *idx, size_t n, hn_fast *f, double *loss, double *logits,
                    long *pred, hn_err *err);

/* Logit Jacobians J (n x K x P: sample t's K x P row-major block at
 * J + t*K*P), the K reverse passes of a sample done as one batched pass;
 * logits (n x K, may be NULL). */
int hn_batch_jacobian(const hn_model *m, const double *theta, const hn_samples *s,
                      const size_t *idx, size_t n, hn_fast *f, double *J, double *logits,
                      hn_err *err);

/* Exact spectrum of every per-sample H_O,t = J_t^T A_t J_t: its nonzero
 * eigenvalues are those of the K x K matrix C_t J_t J_t^T C_t^T, where
 * A_t = C_t^T C_t, C_t = diag(sqrt(p_t)) (I - 1 p_t^T) for cross-entropy
 * (the same eigenvalues as A^{1/2} J J^T A^{1/2}) and C = I for MSE.
 * eigs (n x K): sample t's K eigenvalues, descending (eigs[t*K] = ||H_O,t||;
 * rounding may leave the null ones slightly negative).  Errors as above,
 * HN_ENUMERIC (LAPACK dsyevd failed). */
int hn_batch_ho_eigs(const hn_model *m, const double *theta, const hn_samples *s,
                     const size_t *idx, size_t n, hn_fast *f, double *eigs, hn_err *err);

/* Exact nonzero spectrum of the mean outer-product Hessian
 * (1/n) sum_t J_t^T A_t J_t on n items: the eigenvalues of the n K x n K
 * Gram (1/n) B B^T, B's rows C_t J_t (A_t = C_t^T C_t as in
 * hn_batch_ho_eigs), which has the nonzero eigenvalues of (1/n) B^T B.
 * eigs (n K): descending (eigs[0] = ||mean H_O||; the null ones may be
 * slightly negative by rounding).  sample_eigs (n K, or NULL): every
 * item's spectrum as hn_batch_ho_eigs gives it, here from the Gram's
 * diagonal blocks (n times block t is C_t J_t J_t^T C_t^T), so no second
 * Jacobian pass.  rows (or NULL): *rows receives B (n K x P, row-major;
 * the caller frees it with hn_free), for products with mean H_O =
 * (1/n) B^T B; NULL on error.  Holds hn_batch_ho_mean_bytes(m, n) bytes
 * (the n K x P Jacobian rows and the Gram).  Errors as
 * hn_batch_jacobian, HN_ENOMEM, HN_ETOOBIG, HN_ENUMERIC (LAPACK). */
int hn_batch_ho_mean_eigs(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                          size_t n, hn_fast *f, double *eigs, double *sample_eigs, double **rows, hn_err *err);
size_t hn_batch_ho_mean_bytes(const hn_model *m, size_t n);

/* Exact Hessian-vector products by the batched R-operator
 * (forward-over-reverse): HV (ndir x P, row j = sum_t w_t H_t v_j) for the
 * ndir directions V (ndir x P, row-major), H_t the loss Hessian of item t,
 * w_t = weights[t] (weights NULL: 1/n, the mean).  ndir >= 1. */
int hn_batch_hvp(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                 size_t n, const double *weights, hn_fast *f, const double *V, size_t ndir,
                 double *HV, hn_err *err);
/* The same for the outer-product (Gauss-Newton) part H_O,t = J_t^T A_t J_t. */
int hn_batch_gnvp(const hn_model *m, const double *theta, const hn_samples *s,
                  const size_t *idx, size_t n, const double *weights, hn_fast *f,
                  const double *V, size_t ndir, double *HV, hn_err *err);

/* A fixed operator v -> sum_t w_t H_t v (outer = 0) or sum_t w_t H_O,t v
 * (outer != 0) on the n items, for many products (Lanczos): the forward
 * pass, the softmax and the loss gradient's reverse cotangents of every
 * item are computed once by hn_hvp_op_alloc and kept (about
 * n * (sum of activation sizes + linear outputs) doubles), so that each
 * product only runs the tangent and R-reverse passes.  Every product is
 * bit-identical to hn_batch_hvp / hn_batch_gnvp with one direction.  s,
 * theta and the model must outlive the operator; idx and weights are
 * copied.  Errors as hn_batch_hvp. */
typedef struct hn_hvp_op hn_hvp_op;
int hn_hvp_op_alloc(const hn_model *m, const double *theta, const hn_samples *s, const size_t *idx,
                    size_t n, const double *weights, int outer, int threads, hn_hvp_op **out,
                    hn_err *err);
/* Number of parameters (the operator's dimension). */
size_t hn_hvp_op_dim(const hn_hvp_op *op);
/* Hv (P, overwritten) = the operator applied to v (P). */
int hn_hvp_op_apply(hn_hvp_op *op, const double *v, double *Hv, hn_err *err);
void hn_hvp_op_free(hn_hvp_op *op);

#ifdef __cplusplus
}
#endif
#endif
