/* hessnorm — direct tensor implementation of every layer and loss.
 * Forward, backward (data and weights) and the R-operator (forward-over-
 * reverse directional derivatives) for exact Hessian-vector products.
 * This route never builds the paper's dense matrices, so the two check
 * each other. */
#ifndef HESSNORM_LAYERS_H
#define HESSNORM_LAYERS_H
#include <stddef.h>
#include "hessnorm/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- primitive ops on (c,h,w) blocks; W is [co, ci, kh, kw] ---- */
/* The instruction set of the three direct convolutions below: on x86-64
 * they are compiled for the baseline, AVX2 and AVX-512F and run in the
 * best one the CPU has and the OS enables, chosen on first use.  Every
 * choice gives bit-identical results (the same multiplies and adds in the
 * same order, no FMA).  hn_conv_isa_set picks one (AUTO: the best again):
 * HN_EINVAL for one the machine cannot run; not to be called while a
 * convolution runs in another thread.  BASE < AVX2 < AVX512. */
typedef enum {
    HN_CONV_ISA_AUTO = 0,
    HN_CONV_ISA_BASE = 1,
    HN_CONV_ISA_AVX2 = 2,
    HN_CONV_ISA_AVX512 = 3
} hn_conv_isa;
hn_conv_isa hn_conv_isa_get(void);
/* the best this CPU and OS run (what AUTO picks), whatever is set */
hn_conv_isa hn_conv_isa_best(void);
int hn_conv_isa_set(hn_conv_isa isa);
/* "baseline", "AVX2", "AVX-512F" ("auto" for AUTO) */
const char *hn_conv_isa_name(hn_conv_isa isa);

void hn_conv_forward(hn_shape in, size_t co, size_t kh, size_t kw,
                     const double *W, const double *x, double *z);
/* dx = T(W)^T dz (overwrites dx) */
void hn_conv_backward_data(hn_shape in, size_t co, size_t kh, size_t kw,
                           const double *W, const double *dz, double *dx);
/* dW += dz (x) x  (accumulates) */
void hn_conv_backward_weights(hn_shape in, size_t co, size_t kh, size_t kw,
                              const double *x, const double *dz, double *dW);
/* Max pooling, stride = kernel, floor; argmax[j] = input index chosen for
 * output j (first maximum in row-major window order, as PyTorch). */
void hn_maxpool_forward(hn_shape in, size_t kh, size_t kw, const double *x,
                        double *y, size_t *argmax);
void hn_avgpool_forward(hn_shape in, size_t kh, size_t kw, const double *x, double *y);
/* Backward of avg pooling (also its transpose): dx = P^T dy (overwrites). */
void hn_avgpool_backward(hn_shape in, size_t kh, size_t kw, const double *dy, double *dx);

/* ---- losses ---- */
/* Cross-entropy with a class label or MSE 1/2||z - y||^2.  Returns the
 * loss; g (length K) = dl/dz; p (length K, may be NULL) = softmax(z) for
 * CE.  Stable for saturated logits (log-sum-exp). */
double hn_loss_eval(hn_loss_type loss, size_t K, const double *z, long y_class,
                    const double *y_vec, double *g, double *p);
/* v -> A v, where A = d^2 l / dz^2 (diag(p) - p p^T for CE, I for MSE).
 * Stable form (A v)_a = p_a sum_b p_b (v_a - v_b): no cancellation of
 * p_a - p_a^2 when the softmax saturates. */
void hn_loss_hess_apply(hn_loss_type loss, size_t K, const double *p,
                        const double *v, double *Av);
/* The dense K x K matrix A (row-major), with the diagonal p_a (1 - p_a)
 * computed as p_a sum_{b != a} p_b (accurate when p saturates). */
void hn_loss_hess_matrix(hn_loss_type loss, size_t K, const double *p, double *A);

/* ---- whole network, one sample ---- */
typedef struct hn_ws hn_ws;
int hn_ws_alloc(const hn_model *m, hn_ws **out, hn_err *err);
void hn_ws_free(hn_ws *ws);

/* Forward pass; keeps activations, ReLU masks and pooling choices in ws.
 * logits (K) may be NULL. */
int hn_forward(const hn_model *m, const double *theta, const double *x,
               hn_ws *ws, double *logits);
/* Activation after layer i (i = -1 for the input) from the last forward. */
const double *hn_ws_act(const hn_ws *ws, int i);
/* Pooling choice of layer i from the last forward (NULL unless maxpool). */
const size_t *hn_ws_argmax(const hn_ws *ws, size_t i);
/* 1 if some ReLU pre-activation is within tol of 0 or some max-pool
 * window has a tie within tol (the net is not twice differentiable there). */
int hn_ws_near_kink(const hn_model *m, const hn_ws *ws, double tol);

/* Backward from dz (length K) after hn_forward with the same x:
 * grad (n_params, may be NULL) += d/dtheta <dz, z>;
 * dx (input size, may be NULL) = d/dx <dz, z>. */
int hn_backward(const hn_model *m, const double *theta, hn_ws *ws,
                const double *dz, double *grad, double *dx);

/* The layers [from, to) as the fixed linear map of the last hn_forward
 * (its ReLU masks, max-pool choices; avg pooling and flatten as they are;
 * the linear layers with theta): y = M v, or y = M^T v with transpose.
 * v has the length of the activation entering layer `from` (M^T: leaving
 * layer to-1; the logits when to = n_layers), y the other; from = to is the
 * identity.  In the paper's terms, with t_p = m->linear_pos[p-1]:
 * G^(p) = [t_p + 1, n_layers), R^(p-1) = [0, t_p).  Uses ws's scratch (not
 * the activations; the linear layers run as im2col + GEMM).  HN_EINVAL if
 * from > to or to > n_layers, HN_ENOMEM (the im2col scratch, allocated on
 * the first call). */
int hn_fixed_range(const hn_model *m, const double *theta, hn_ws *ws, size_t from, size_t to, int transpose,
                   const double *v, double *y);
/* hn_fixed_range (M, not M^T) on B vectors at once: row r of v (B rows of
 * the activation entering layer `from`, row-major) to row r of y (B rows
 * of the one leaving layer to-1); each linear layer as one im2col + GEMM
 * over the B rows (the same kernel, so the same numbers up to the GEMM's
 * summation order).  Reads ws's masks only (threads may share ws); work:
 * hn_fixed_range_batch_work(m, from, to, B) doubles.  HN_EINVAL as
 * hn_fixed_range's, or B = 0. */
size_t hn_fixed_range_batch_work(const hn_model *m, size_t from, size_t to, size_t B);
int hn_fixed_range_batch(const hn_model *m, const double *theta, const hn_ws *ws, size_t from, size_t to, size_t B,
                         const double *v, double *y, double *work);

/* Loss and gradient for one sample (grad += scale * dl/dtheta). */
int hn_loss_grad(const hn_model *m, const double *theta, const hn_samples *s,
                 size_t i, hn_ws *ws, double scale, double *loss, double *grad);
/* Mean loss over all samples and its gradient (grad overwritten; may be NULL). */
int hn_batch_loss_grad(const hn_model *m, const double *theta, const hn_samples *s,
                       double *loss, double *grad, hn_err *err);

/* Exact Hessian-vector product of the loss of sample i:
 * Hv += scale * (d^2 l / dtheta^2) v, by forward-over-reverse (Pearlmutter's
 * R-operator): all ops are bilinear in (weights, activation) or fixed
 * piecewise-linear masks, so this is exact away from kinks. */
int hn_hvp(const hn_model *m, const double *theta, const hn_samples *s, size_t i,
           hn_ws *ws, const double *v, double scale, double *Hv);

/* Per-sample Jacobian of the logits, J (K x n_params, row-major), by K
 * reverse passes.  Also the logits (may be NULL). */
int hn_jacobian(const hn_model *m, const double *theta, const double *x,
                hn_ws *ws, double *J, double *logits);

#ifdef __cplusplus
}
#endif
#endif
