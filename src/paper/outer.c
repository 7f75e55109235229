/* hessnorm — H_O = J^T A J by each of its routes (see outer.h). */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "hessnorm/alloc.h"
#include "hessnorm/outer.h"
#include "hessnorm/spectra.h"
#include "hessnorm/eigsmall.h"
#include "linalg/vecops.h"

/* ------------------------------------------------------------ dense */

void hn_outer_dense(const gsl_matrix *A, const gsl_matrix *J, gsl_matrix *AJ, gsl_matrix *HO)
{
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, A, J, 0.0, AJ);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, J, AJ, 0.0, HO);
}

int hn_outer_add(hn_loss_type loss, size_t K, size_t P, const double *p, const double *J,
                 double scale, double *AJ, gsl_matrix *HO)
{
    /* AJ = A J column by column */
    double *col = hn_calloc(K, sizeof *col), *acol = hn_calloc(K, sizeof *acol);
    if (!col || !acol) {
        hn_free(col);
        hn_free(acol);
        return HN_ENOMEM;
    }
    for (size_t j = 0; j < P; j++) {
        for (size_t k = 0; k < K; k++)
            col[k] = J[k * P + j];
        hn_loss_hess_apply(loss, K, p, col, acol);
        for (size_t k = 0; k < K; k++)
            AJ[k * P + j] = acol[k];
    }
    hn_free(col);
    hn_free(acol);
    gsl_matrix_const_view Jv = gsl_matrix_const_view_array(J, K, P);
    gsl_matrix_const_view AJv = gsl_matrix_const_view_array(AJ, K, P);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, scale, &Jv.matrix, &AJv.matrix, 1.0, HO);
    return HN_OK;
}

/* ------------------------------------------------------------ Gram */

/* The nonzero eigenvalues of the Gram matrix's spectrum ev (ascending),
 * descending, into a new array of NK slots. */
static int gram_nonzero(const gsl_vector *ev, size_t P, double zero_rtol, double **eigs,
                        size_t *n, hn_err *err)
{
    const size_t NK = ev->size;
    double mx = 0;
    for (size_t k = 0; k < NK; k++)
        mx = fmax(mx, fabs(gsl_vector_get(ev, k)));
    *eigs = hn_calloc(NK, sizeof(double));
    if (!*eigs)
        return hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    *n = 0;
    for (size_t k = NK; k-- > 0;) {
        double v = gsl_vector_get(ev, k);
        if (fabs(v) > zero_rtol * mx && *n < P)
            (*eigs)[(*n)++] = v;
    }
    return HN_OK;
}

int hn_outer_gram_eigs(const hn_model *m, const double *theta, const hn_samples *s,
                       double zero_rtol, double **eigs, size_t *n, hn_err *err)
{
    const size_t K = m->classes, P = m->n_params, N = s->n, NK = N * K;
    int rc;
    hn_ws *ws = NULL;
    gsl_matrix *S = gsl_matrix_calloc(NK, P), *Gm = gsl_matrix_alloc(NK, NK);
    gsl_matrix *A = gsl_matrix_alloc(K, K), *V = gsl_matrix_alloc(K, K), *Ah = gsl_matrix_alloc(K, K);
    gsl_vector *lam = gsl_vector_alloc(K), *ev = gsl_vector_alloc(NK);
    double *J = hn_calloc(K * P, sizeof *J), *z = hn_calloc(K, sizeof *z), *p = hn_calloc(K, sizeof *p);
    if (!S || !Gm || !A || !V || !Ah || !lam || !ev || !J || !z || !p) {
        rc = hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
        goto done;
    }
    if ((rc = hn_ws_alloc(m, &ws, err)) != 0)
        goto done;
    for (size_t i = 0; i < N; i++) {
        hn_jacobian(m, theta, s->x + i * s->in_size, ws, J, z);
        hn_loss_eval(m->loss, K, z, s->y_class ? s->y_class[i] : 0,
                     s->y_vec ? s->y_vec + i * K : NULL, NULL, p);
        hn_loss_hess_matrix(m->loss, K, p, A->data);
        if ((rc = hn_eig_sym_lapack(A, lam, V, err)) != 0)
            goto done;
        /* A is PSD, negative eigenvalues are rounding; K x K gsl
         * matrices: tda = K, stride 1 */
        hn_psd_sqrt_from_eig(K, V->data, lam->data, Ah->data);
        gsl_matrix_const_view Jv = gsl_matrix_const_view_array(J, K, P);
        gsl_matrix_view Sblk = gsl_matrix_submatrix(S, i * K, 0, K, P);
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0 / sqrt((double)N), Ah, &Jv.matrix, 0.0,
                       &Sblk.matrix);
    }
    gsl_blas_dgemm(CblasNoTrans, CblasTrans, 1.0, S, S, 0.0, Gm);
    if ((rc = hn_eig_sym_lapack(Gm, ev, NULL, err)) != 0)
        goto done;
    rc = gram_nonzero(ev, P, zero_rtol, eigs, n, err);
done:
    hn_ws_free(ws);
    if (S) gsl_matrix_free(S);
    if (Gm) gsl_matrix_free(Gm);
    if (A) gsl_matrix_free(A);
    if (V) gsl_matrix_free(V);
    if (Ah) gsl_matrix_free(Ah);
    if (lam) gsl_vector_free(lam);
    if (ev) gsl_vector_free(ev);
    hn_free(J);
    hn_free(z);
    hn_free(p);
    return rc;
}

int hn_outer_dense_eigs(const gsl_matrix *HO, double zero_rtol, double **eigs, size_t *n,
                        hn_err *err)
{
    const size_t P = HO->size1;
    gsl_vector *ev = gsl_vector_alloc(P);
    if (!ev)
        return hn_err_set(err, HN_ENOMEM, "inspect: out of memory");
    int rc = hn_eig_sym_lapack(HO, ev, NULL, err);
    if (!rc)
        rc = gram_nonzero(ev, P, zero_rtol, eigs, n, err);
    gsl_vector_free(ev);
    return rc;
}

/* ------------------------------------------------------------ per sample */

void hn_outer_sample_gram(size_t K, size_t P, const double *J, double *G)
{
    for (size_t a = 0; a < K; a++)
        for (size_t c = a; c < K; c++)
            G[a * K + c] = G[c * K + a] = hn_dot_seq(J + a * P, J + c * P, P);
}

int hn_outer_sample_norm(hn_loss_type loss, size_t K, const double *p, const double *G,
                         double *buf, double *out)
{
    double *A = buf, *S = A + K * K, *T = S + K * K, *ev = T + 2 * K * K, *e = ev + K;
    for (size_t a = 0; a < K; a++) {
        memset(e, 0, K * sizeof *e);
        e[a] = 1;
        hn_loss_hess_apply(loss, K, p, e, T);
        for (size_t b = 0; b < K; b++)
            A[b * K + a] = T[b];
    }
    /* S = A^{1/2} (A is PSD; rounding may make its null eigenvalue
     * slightly negative, clamped to 0) */
    if (hn_psd_sqrt(K, A, ev, S, NULL) != 0 || hn_sym_sandwich_eigs(K, S, G, T, ev, NULL) != 0)
        return HN_ENUMERIC;
    *out = ev[K - 1];
    return HN_OK;
}

/* ------------------------------------------------------------ operator */

/* Below this many multiply-adds a product runs on one thread: thread
 * wake-ups cost more than they save, and far more on a loaded machine. */
#define HN_OUTER_PAR_WORK 200000.0
#define HN_OUTER_BLOCK 512

/* u_i = w_i A_i J_i v for every sample. */
static void op_tangents(const hn_outer_op *o, const double *v, int par)
{
    const size_t K = o->K, Pb = o->Pb, d = o->d;
    const long nlong = (long)o->n;
#pragma omp parallel for num_threads(o->threads) schedule(static) if (par)
    for (long i = 0; i < nlong; i++) {
        const double *J = o->Jb + (size_t)i * K * Pb, *x = o->xh + (size_t)i * d;
        const double *p = o->p + (size_t)i * K;
        double *u = o->u + (size_t)i * K;
        double tmp[HN_OUTER_OP_MAX_K];
        for (size_t a = 0; a < K; a++) {
            double sa = hn_dot_seq(J + a * Pb, v, Pb);
            if (d)
                sa += hn_dot_seq(x, v + Pb + a * d, d);
            tmp[a] = sa;
        }
        hn_loss_hess_apply(o->loss, K, p, tmp, u);
        const double c = o->w[i];
        for (size_t a = 0; a < K; a++)
            u[a] *= c;
    }
}

int hn_outer_op_apply(void *vctx, const double *v, double *y)
{
    const hn_outer_op *o = vctx;
    const size_t K = o->K, Pb = o->Pb, d = o->d, nl = o->n;
    if (K > HN_OUTER_OP_MAX_K)
        return HN_EINVAL;
    const int par = (double)nl * (double)K * (double)(Pb + d) > HN_OUTER_PAR_WORK; /* same bits either way */
    op_tangents(o, v, par);
    /* y = sum_i J_i^T u_i in fixed blocks of parameters, samples in order */
    const long nb = (long)((Pb + HN_OUTER_BLOCK - 1) / HN_OUTER_BLOCK);
#pragma omp parallel for num_threads(o->threads) schedule(static) if (par)
    for (long b = 0; b < nb; b++) {
        const size_t p1 = (size_t)b * HN_OUTER_BLOCK;
        const size_t p2 = p1 + HN_OUTER_BLOCK < Pb ? p1 + HN_OUTER_BLOCK : Pb;
        for (size_t p = p1; p < p2; p++)
            y[p] = 0;
        for (size_t i = 0; i < nl; i++)
            for (size_t a = 0; a < K; a++) {
                const double ua = o->u[i * K + a];
                const double *row = o->Jb + (i * K + a) * Pb;
                for (size_t p = p1; p < p2; p++)
                    y[p] += ua * row[p];
            }
    }
    if (d) {
        const long nd = (long)((d + HN_OUTER_BLOCK - 1) / HN_OUTER_BLOCK), tot = nd * (long)K;
#pragma omp parallel for num_threads(o->threads) schedule(static) if (par)
        for (long t = 0; t < tot; t++) {
            const size_t a = (size_t)(t / nd), q1 = (size_t)(t % nd) * HN_OUTER_BLOCK;
            const size_t q2 = q1 + HN_OUTER_BLOCK < d ? q1 + HN_OUTER_BLOCK : d;
            double *ya = y + Pb + a * d;
            for (size_t q = q1; q < q2; q++)
                ya[q] = 0;
            for (size_t i = 0; i < nl; i++) {
                const double ua = o->u[i * K + a];
                const double *x = o->xh + i * d;
                for (size_t q = q1; q < q2; q++)
                    ya[q] += ua * x[q];
            }
        }
    }
    return HN_OK;
}
