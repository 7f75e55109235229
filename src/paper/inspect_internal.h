/* hessnorm — internal: what the two routes of inspect share (inspect.c,
 * inspect_mf.c).  Not installed. */
#ifndef HN_PAPER_INSPECT_INTERNAL_H
#define HN_PAPER_INSPECT_INTERNAL_H
#include <stddef.h>
#include "hessnorm/inspect.h"

/* HN_EOVERFLOW naming the first non-finite logit of r->logits. */
int hn_inspect_check_logits(const hn_inspect_result *r, hn_err *err);
/* r->grad_norm from grad (P); HN_EOVERFLOW for a non-finite gradient or loss. */
int hn_inspect_check_grad(hn_inspect_result *r, const double *grad, size_t P, hn_err *err);
/* r->ho_sample_norms and r->ho_trace (the mean of the per-sample traces)
 * from r->ho_sample_eigs (N x K, descending); HN_EOVERFLOW when not finite. */
int hn_inspect_sample_eigs(hn_inspect_result *r, size_t N, size_t K, hn_err *err);
/* The eigenvalues of ev (K, descending) with |v| > HN_EIG_ZERO_RTOL max |v|
 * into a new array (*out, hn_free) and their number. */
int hn_inspect_nonzero(const double *ev, size_t K, double **out, size_t *n, hn_err *err);
/* HN_EOVERFLOW when a value of the per-sample table is not finite. */
int hn_inspect_check_table(const hn_inspect_result *r, hn_err *err);
/* The matrix-free route into r (r->logits, ho_sample_norms, ho_sample_eigs
 * allocated by the caller). */
int hn_inspect_mf(const hn_model *m, const double *theta, const hn_samples *s,
                  const hn_inspect_opts *o, hn_inspect_result *r, hn_err *err);

#endif
