/* hessnorm — internal: equation-(1) instances at trained minima
 * (audit/trained.c): theta* a minimum of L_k found by full-batch training,
 * theta = theta* + delta. */
#ifndef HN_AUDIT_TRAINED_H
#define HN_AUDIT_TRAINED_H
#include "hessnorm/audit.h"
#include "hessnorm/model.h"

/* The training stops when ||grad L_k(theta*)|| <= this times the mean
 * ||grad l_i|| over the k samples at the initial weights (the problem's
 * gradient scale; at an exact fit every grad l_i itself goes to 0): Newton's steps reach it in a few
 * iterations from Adam's point (gradient rounding is ~1e-16 of that mean),
 * and it is 100x inside HN_STATIONARY_RTOL (audit/claims_eval.h). */
#define HN_TRAINED_GTOL 1e-12
/* Full-batch Adam steps before the Newton polish, and Newton iterations
 * (the fallback caps; hitting the second is reported). */
#define HN_TRAINED_ADAM_STEPS 3000
#define HN_TRAINED_NEWTON_ITERS 60
/* Draws per trained network until one trains to HN_TRAINED_GTOL (the last
 * one is kept, and reported, if none does). */
#define HN_TRAINED_ATTEMPTS 12
/* Instances per trained network: radii R = 10^{-3, -2, -1} ||theta*||,
 * each with delta = +R u and -R u. */
#define HN_TRAINED_RADII 3
#define HN_TRAINED_PER_NET (2 * HN_TRAINED_RADII)

/* How the minimisation ended. */
typedef struct {
    size_t adam_steps, newton_iters;
    double grad_rel;   /* ||grad L_k|| / mean_i ||grad l_i|| at the end (0 if both are 0) */
    int converged;     /* grad_rel <= HN_TRAINED_GTOL */
} hn_trained_info;

/* Minimise L_k (the mean loss over every sample of s) from theta, in place:
 * full-batch Adam (net/train.c's hn_adam_step), then damped Newton steps on
 * the exact Hessian (|eigenvalues|, so a saddle is left downhill) with a
 * backtracking line search, until HN_TRAINED_GTOL or the caps.  Not
 * converging is not an error (info->converged = 0).  HN_ENOMEM,
 * HN_ENUMERIC (the loss became NaN / Inf), the Hessian's errors. */
int hn_trained_minimize(const hn_model *m, double *theta, const hn_samples *s, hn_trained_info *info,
                        hn_err *err);

/* Trained network i of a run (seed label "audit/trained", index
 * i * HN_TRAINED_ATTEMPTS + attempt): its spec *ns, k, the model, k + 1
 * samples and theta* (trained on the first k samples), all owned by the
 * caller (hn_model_free, hn_free, hn_samples_free).  i cycles through four
 * kinds (trained.c: trained_spec): cross-entropy ReLU nets, cross-entropy
 * one-conv nets, MSE ReLU nets fitting their k samples exactly and MSE ReLU
 * nets with more residuals than weights; 1-D and 2-D alternate.  info: how
 * the training of the kept draw ended.  Errors as hn_trained_minimize and
 * the model's. */
int hn_trained_net(unsigned long seed, size_t i, hn_netspec *ns, size_t *k, hn_model **m, double **theta,
                   hn_samples **s, hn_trained_info *info, hn_err *err);
#endif
