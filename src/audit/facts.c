/* hessnorm — measured facts of one network instance, for the claims. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include "hessnorm/alloc.h"
#include "hessnorm/hessian.h"
#include "hessnorm/layers.h"
#include "hessnorm/spectra.h"
#include "hessnorm/kron.h"
#include "hessnorm/dense.h"
#include "audit/internal.h"

/* Every dense product and Kronecker factor below is checked: a NULL from
 * GSL's allocator is out of memory, returned as HN_ENOMEM (it used to be
 * dereferenced). */
static int facts_nomem(hn_err *err)
{
    return hn_err_set(err, HN_ENOMEM, "facts: out of memory");
}

void hn_facts_free(hn_facts *f) { hn_free(f); }

/* Per-sample loss of sample i at theta. */
static double loss_at(const hn_model *m, const double *th, const hn_samples *s, size_t i, hn_ws *ws)
{
    double l;
    hn_loss_grad(m, th, s, i, ws, 1.0, &l, NULL);
    return l;
}

/* A view of sample i as a one-sample set. */
static hn_samples one_sample(const hn_samples *s, size_t i)
{
    hn_samples o = *s;
    o.n = 1;
    o.batched = 0;
    o.x = s->x + i * s->in_size;
    o.y_class = s->y_class ? s->y_class + i : NULL;
    o.y_vec = s->y_vec ? s->y_vec + i * s->classes : NULL;
    return o;
}

static int landscape(hn_facts *f, const hn_model *m, const double *theta, const hn_samples *s,
                     size_t k, const double *delta, hn_err *err)
{
    const size_t P = m->n_params, N = k + 1;
    int rc = HN_OK;
    hn_ws *ws = NULL;
    double *th = hn_calloc(P, sizeof *th), *g1 = hn_calloc(P, sizeof *g1), *g2 = hn_calloc(P, sizeof *g2);
    gsl_matrix *H = gsl_matrix_alloc(P, P), *acc = gsl_matrix_calloc(P, P), *Hlast = gsl_matrix_alloc(P, P);
    gsl_matrix *HO = gsl_matrix_alloc(P, P), *accO = gsl_matrix_calloc(P, P);
    if (!th || !g1 || !g2 || !H || !acc || !Hlast || !HO || !accO ||
        (rc = hn_ws_alloc(m, &ws, err)) != 0) {
        rc = rc ? rc : hn_err_set(err, HN_ENOMEM, "facts: out of memory");
        goto done;
    }
    f->have_land = 1;
    f->lk = k;
    f->R = hn_vec_norm(delta, P);
    for (size_t j = 0; j < P; j++)
        th[j] = theta[j] + delta[j];
    /* at theta = theta* + delta */
    double sum_k = 0, sum_k1, lk1 = 0;
    f->W_l_theta = 0;
    for (size_t i = 0; i < N; i++) {
        double l = loss_at(m, th, s, i, ws);
        f->W_l_theta = fmax(f->W_l_theta, fabs(l));
        if (i < k)
            sum_k += l;
        else
            lk1 = l;
    }
    sum_k1 = sum_k + lk1;
    double Lk = sum_k / (double)k, Lk1 = sum_k1 / (double)N;
    f->lhs = fabs(Lk1 - Lk);
    /* relative to the size of the terms: the difference itself may cancel */
    f->identity_disc = fabs((Lk1 - Lk) - (lk1 - Lk) / (double)N) /
                       fmax((fabs(lk1) + fabs(Lk)) / (double)N + fabs(Lk1 - Lk), 1e-300);
    /* at theta* */
    double sk = 0, l_last = 0;
    f->W_l_star = 0;
    f->W_x = 0;
    for (size_t i = 0; i < N; i++) {
        double l;
        memset(g2, 0, P * sizeof *g2);
        hn_loss_grad(m, theta, s, i, ws, 1.0, &l, g2);
        f->W_l_star = fmax(f->W_l_star, fabs(l));
        f->W_x = fmax(f->W_x, hn_vec_norm(s->x + i * s->in_size, s->in_size));
        hn_samples one = one_sample(s, i);
        if ((rc = hn_hessian_full(m, theta, &one, i < k ? H : Hlast, err)) != 0 ||
            (rc = hn_hessian_outer(m, theta, &one, HO, err)) != 0)
            goto done;
        if (i < k) {
            sk += l;
            for (size_t j = 0; j < P; j++)
                g1[j] += g2[j] / (double)k;
            gsl_matrix_scale(H, 1.0 / (double)k);
            gsl_matrix_add(acc, H);
            gsl_matrix_scale(HO, 1.0 / (double)k);
            gsl_matrix_sub(accO, HO);
        } else {
            l_last = l;
            for (size_t j = 0; j < P; j++)
                g1[j] = g2[j] - g1[j]; /* grad l_{k+1} - grad L_k */
            gsl_matrix_add(accO, HO);
        }
    }
    f->ldiff_star = fabs(l_last - sk / (double)k);
    double gt = 0;
    for (size_t j = 0; j < P; j++)
        gt += g1[j] * delta[j];
    f->grad_term = fabs(gt);
    gsl_matrix_sub(Hlast, acc); /* H_{k+1} - (1/k) sum H_i */
    f->dH_norm = hn_sym_norm(Hlast, err, &rc);
    if (!rc)
        f->dHO_norm = hn_sym_norm(accO, err, &rc);
done:
    hn_ws_free(ws);
    hn_free(th);
    hn_free(g1);
    hn_free(g2);
    if (H) gsl_matrix_free(H);
    if (acc) gsl_matrix_free(acc);
    if (Hlast) gsl_matrix_free(Hlast);
    if (HO) gsl_matrix_free(HO);
    if (accO) gsl_matrix_free(accO);
    return rc;
}

int hn_facts_compute(const hn_netspec *ns, const hn_model *m, const double *theta,
                     const hn_samples *s, size_t landscape_k, const double *delta,
                     hn_facts **out, hn_err *err)
{
    return hn_facts_compute_ex(ns, m, theta, s, landscape_k, delta, 0, out, err);
}

int hn_facts_compute_ex(const hn_netspec *ns, const hn_model *m, const double *theta,
                        const hn_samples *s, size_t landscape_k, const double *delta, int light,
                        hn_facts **out, hn_err *err)
{
    *out = NULL;
    if (m->n_linear > HN_MAXLIN)
        return hn_err_set(err, HN_EINVAL, "facts: at most %d linear layers", HN_MAXLIN);
    hn_facts *f = hn_calloc(1, sizeof *f);
    if (!f)
        return hn_err_set(err, HN_ENOMEM, "facts: out of memory");
    hn_paper *pp = NULL;
    hn_ws *ws = NULL;
    gsl_matrix *HO = NULL, *tmp = NULL, *tmp2 = NULL;
    gsl_matrix *Jblk[HN_MAXLIN] = {0};
    int rc = hn_paper_build(m, theta, s, 0, &pp, err);
    if (rc || (rc = hn_ws_alloc(m, &ws, err)) != 0)
        goto done;
    f->spec = *ns;
    f->m = m;
    f->n_lin = m->n_linear;
    f->L = m->n_linear - 1;
    f->n_conv = ns->n_conv;
    f->n_fc = ns->n_fc;
    f->K = m->classes;
    f->P = m->n_params;
    f->dim = ns->dim;
    f->pool = ns->pool;
    f->pool_instead = ns->pool_replaces_relu;
    f->pool_l = ns->pool_after + 1;
    f->kpool = ns->kpool;
    f->x_norm = hn_vec_norm(s->x, s->in_size);
    /* C: every channel count, input and K of a conv-only net included */
    f->C = ns->in_c;
    for (size_t i = 0; i < ns->n_conv; i++)
        f->C = f->C > ns->ch[i] ? f->C : ns->ch[i];
    /* the paper's "d_i <= d_1 := d" and "m_i <= m_1 := m, n_i <= n_1 := n":
     * the output size of the first layer, read as printed (every later size
     * is at most this) */
    {
        const hn_layer *first = &m->layers[m->linear_pos[0]];
        f->mm = first->out.h;
        f->nn = first->out.w;
        f->d = first->out.w;
    }
    hn_forward(m, theta, s->x, ws, NULL);
    for (size_t t = 0; t < f->n_lin; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        f->is_conv[t] = ly->type != HN_LINEAR;
        f->kh[t] = ly->kh;
        f->kw[t] = ly->kw;
        f->cin[t] = ly->in.c;
        f->cout[t] = ly->out.c;
        f->out_pos[t] = ly->out.h * ly->out.w;
        f->rows[t] = pp->T[t]->size1;
        f->cols[t] = pp->T[t]->size2;
        double wmax = 0, wsq = 0;
        for (size_t j = 0; j < ly->param_count; j++) {
            double v = theta[ly->param_offset + j];
            wmax = fmax(wmax, fabs(v));
            wsq += v * v;
        }
        f->W_sq[t] = wsq;
        if (f->is_conv[t]) {
            f->w = fmax(f->w, wmax);
            size_t kk = ly->kh > ly->kw ? ly->kh : ly->kw;
            f->k = f->k > kk ? f->k : kk;
        } else {
            f->wt = fmax(f->wt, wmax);
            size_t h = ly->out.c;
            f->h_out = f->h_out > h ? f->h_out : h;
            f->h_all = f->h_all > h ? f->h_all : h;
            f->h_all = f->h_all > ly->in.c ? f->h_all : ly->in.c;
        }
        if ((rc = hn_norm2(pp->T[t], &f->T_norm[t], err)) || (rc = hn_gram_norm2(pp->Q[t], &f->Q_norm[t], err)) ||
            (rc = hn_norm2(pp->G[t], &f->G_norm[t], err)) || (rc = hn_norm2(pp->R[t], &f->R_norm[t], err)))
            goto done;
        if (t + 1 < f->n_lin && (rc = hn_norm2(pp->Lambda[t], &f->Lam_norm[t], err)))
            goto done;
        f->T_fro[t] = hn_norm_fro(pp->T[t]);
        f->Rx_norm[t] = gsl_blas_dnrm2(pp->Rx[t]);
        f->Q_fro_sq[t] = hn_norm_fro(pp->Q[t]) * hn_norm_fro(pp->Q[t]);
        if (!light) {
            /* row norms of T: each row holds every weight of one output channel once */
            for (size_t r = 0; r < pp->T[t]->size1; r++) {
                gsl_vector_const_view row = gsl_matrix_const_row(pp->T[t], r);
                double rn = gsl_blas_dnrm2(&row.vector);
                size_t oc = r / f->out_pos[t];
                double want = 0;
                const double *W = theta + ly->param_offset + oc * ly->in.c * ly->kh * ly->kw;
                for (size_t j = 0; j < ly->in.c * ly->kh * ly->kw; j++)
                    want += W[j] * W[j];
                f->T_row_disc = fmax(f->T_row_disc, fabs(rn * rn - want) / fmax(want, 1e-300));
            }
            f->T_fro_disc = fmax(f->T_fro_disc, fabs(f->T_fro[t] * f->T_fro[t] - f->out_pos[t] * wsq) /
                                                    fmax(f->out_pos[t] * wsq, 1e-300));
            /* every row of Q^(p) = d T_ij / dW: rows of T have C_{p-1} k1 k2 weights */
            for (size_t r = 0; r < f->rows[t]; r++) {
                double sq = 0;
                for (size_t c = 0; c < f->cols[t]; c++) {
                    gsl_vector_const_view qr = gsl_matrix_const_row(pp->Q[t], r * f->cols[t] + c);
                    double n2 = gsl_blas_dnrm2(&qr.vector);
                    sq += n2 * n2;
                }
                double want = (double)(ly->in.c * ly->kh * ly->kw);
                f->Q_row_disc = fmax(f->Q_row_disc, fabs(sq - want) / want);
            }
            /* J block: (G (x) r^T) Q^(p) against the backprop-free J = F Q */
            gsl_matrix_view rv = gsl_matrix_view_vector(pp->Rx[t], 1, pp->Rx[t]->size);
            gsl_matrix *Kr = hn_kron(pp->G[t], &rv.matrix);
            if (!Kr) {
                rc = hn_err_set(err, HN_ENOMEM, "facts: out of memory");
                goto done;
            }
            gsl_matrix *Jb = hn_mat_mul(Kr, CblasNoTrans, pp->Q[t], CblasNoTrans);
            if (!Jb) {
                gsl_matrix_free(Kr);
                rc = facts_nomem(err);
                goto done;
            }
            gsl_matrix_view Jp = gsl_matrix_submatrix(pp->J, 0, ly->param_offset, f->K, ly->param_count);
            f->dzdW_disc = fmax(f->dzdW_disc, hn_mat_disc(Jb, &Jp.matrix));
            Jblk[t] = Jb; /* kept for the block check of Appendix A */
            /* ||G (x) r^T|| = ||G|| ||r|| */
            double kn;
            if ((rc = hn_norm2(Kr, &kn, err)) == 0) {
                double want = f->G_norm[t] * f->Rx_norm[t];
                f->kron_norm_disc = fmax(f->kron_norm_disc, fabs(kn - want) / fmax(want, 1e-300));
            }
            /* the two identity checks below materialise Kronecker products of
             * size n_p x n_p |r|; skipped (left at 0 = not measured) past 4M entries */
            const int small_kron = (double)f->rows[t] * (double)f->rows[t] * (double)f->cols[t] <= 4e6;
            /* (G (x) I_1)(I_{n1} (x) r^T) = G (x) r^T (corrected Appendix A split) */
            if (!rc && small_kron) {
                gsl_matrix *In = gsl_matrix_alloc(pp->G[t]->size2, pp->G[t]->size2), *Ir = NULL, *split = NULL;
                if (In) {
                    gsl_matrix_set_identity(In);
                    Ir = hn_kron(In, &rv.matrix);
                }
                if (Ir)
                    split = hn_mat_mul(pp->G[t], CblasNoTrans, Ir, CblasNoTrans);
                if (split)
                    f->kron_split_disc = fmax(f->kron_split_disc, hn_mat_disc(split, Kr));
                else
                    rc = facts_nomem(err);
                if (split) gsl_matrix_free(split);
                if (Ir) gsl_matrix_free(Ir);
                if (In) gsl_matrix_free(In);
            }
            /* vec z^(p) = (I (x) x^(p-1)T) vec_r T^(p) = d z^(p)/d T^(p) vec_r T^(p) */
            const double *act = hn_ws_act(ws, (int)m->linear_pos[t]);
            if (!rc && small_kron) {
                gsl_vector *vt = hn_vec_r(pp->T[t]), *zp = gsl_vector_alloc(f->rows[t]);
                gsl_matrix *Io = gsl_matrix_alloc(f->rows[t], f->rows[t]), *dzdT = NULL;
                if (Io) {
                    gsl_matrix_set_identity(Io);
                    dzdT = hn_kron(Io, &rv.matrix);
                }
                if (vt && zp && dzdT) {
                    gsl_blas_dgemv(CblasNoTrans, 1.0, dzdT, vt, 0.0, zp);
                    f->vecz_disc = fmax(f->vecz_disc, hn_vec_disc(zp->data, act, f->rows[t]));
                } else {
                    rc = facts_nomem(err);
                }
                if (zp) gsl_vector_free(zp);
                if (dzdT) gsl_matrix_free(dzdT);
                if (Io) gsl_matrix_free(Io);
                if (vt) gsl_vector_free(vt);
            }
            /* z = G^(p) z^(p) with z^(p) from the direct forward pass */
            gsl_vector_const_view zv = gsl_vector_const_view_array(act, f->rows[t]);
            gsl_vector *zz = gsl_vector_alloc(f->K), *tr = gsl_vector_alloc(f->rows[t]);
            if (rc || !zz || !tr) {
                rc = rc ? rc : facts_nomem(err);
                if (zz) gsl_vector_free(zz);
                if (tr) gsl_vector_free(tr);
                gsl_matrix_free(Kr);
                goto done;
            }
            gsl_blas_dgemv(CblasNoTrans, 1.0, pp->G[t], &zv.vector, 0.0, zz);
            f->zGz_disc = fmax(f->zGz_disc, hn_vec_disc(zz->data, pp->logits, f->K));
            /* x^(p-1) = R^(p-1) x against the direct activation */
            const double *ain = hn_ws_act(ws, (int)m->linear_pos[t] - 1);
            f->xRx_disc = fmax(f->xRx_disc, hn_vec_disc(pp->Rx[t]->data, ain, f->cols[t]));
            /* z = G^(p) T^(p) R^(p-1) x */
            gsl_blas_dgemv(CblasNoTrans, 1.0, pp->T[t], pp->Rx[t], 0.0, tr);
            gsl_blas_dgemv(CblasNoTrans, 1.0, pp->G[t], tr, 0.0, zz);
            f->zGTRx_disc = fmax(f->zGTRx_disc, hn_vec_disc(zz->data, pp->logits, f->K));
            gsl_vector_free(tr);
            gsl_vector_free(zz);
            gsl_matrix_free(Kr);
        }
        if (rc)
            goto done;
    }
    f->dzdT_disc = f->vecz_disc;
    /* eq. (3): z = T^(L+1) Lambda^(L) ... T^(1) x as a dense product */
    if (!light) {
        gsl_vector_const_view xv = gsl_vector_const_view_array(s->x, s->in_size);
        gsl_vector *cur = gsl_vector_alloc(s->in_size);
        if (cur)
            gsl_vector_memcpy(cur, &xv.vector);
        for (size_t t = 0; cur && t < f->n_lin; t++) {
            gsl_vector *a = gsl_vector_alloc(pp->T[t]->size1);
            if (a)
                gsl_blas_dgemv(CblasNoTrans, 1.0, pp->T[t], cur, 0.0, a);
            gsl_vector_free(cur);
            cur = a;
            if (cur && t + 1 < f->n_lin) {
                gsl_vector *b = gsl_vector_alloc(pp->Lambda[t]->size1);
                if (b)
                    gsl_blas_dgemv(CblasNoTrans, 1.0, pp->Lambda[t], cur, 0.0, b);
                gsl_vector_free(cur);
                cur = b;
            }
        }
        /* K logits: a user's network may have any number of classes */
        double *z_direct = hn_calloc(f->K, sizeof *z_direct);
        if (!cur || !z_direct) {
            if (cur)
                gsl_vector_free(cur);
            hn_free(z_direct);
            rc = facts_nomem(err);
            goto done;
        }
        hn_forward(m, theta, s->x, ws, z_direct);
        f->eq3_disc = hn_vec_disc(cur->data, z_direct, f->K);
        hn_free(z_direct);
        gsl_vector_free(cur);
    }
    if ((rc = hn_norm2(pp->A, &f->A_norm, err)) || (rc = hn_gram_norm2(pp->F, &f->F_norm, err)))
        goto done;
    if (pp->Qfull && (rc = hn_gram_norm2(pp->Qfull, &f->Qfull_norm, err)))
        goto done;
    /* Lemma 1: Q^T F^T A F Q (literal association) against J^T A J by backprop */
    HO = gsl_matrix_alloc(f->P, f->P);
    hn_samples first = one_sample(s, 0); /* the per-sample matrices are for sample 0 */
    if (!HO) /* rc is 0 here: without this the facts came back half filled */
        rc = facts_nomem(err);
    if (rc || (rc = hn_hessian_outer(m, theta, &first, HO, err)))
        goto done;
    if (light) {
        /* local search: only the norms are needed */
    } else if (pp->Qfull) {
        /* (Q^T F^T) A (F Q) with F Q formed from the whole block-diagonal Q */
        gsl_matrix *FQ = hn_mat_mul(pp->F, CblasNoTrans, pp->Qfull, CblasNoTrans);
        gsl_matrix *AFQ = FQ ? hn_mat_mul(pp->A, CblasNoTrans, FQ, CblasNoTrans) : NULL;
        gsl_matrix *L1 = AFQ ? hn_mat_mul(FQ, CblasTrans, AFQ, CblasNoTrans) : NULL;
        if (L1)
            f->lemma1_disc = hn_mat_disc(L1, HO);
        else
            rc = facts_nomem(err);
        if (FQ) gsl_matrix_free(FQ);
        if (AFQ) gsl_matrix_free(AFQ);
        if (L1) gsl_matrix_free(L1);
        if (rc)
            goto done;
    } else {
        f->lemma1_disc = hn_mat_disc(pp->HO, HO);
    }
    /* blocks H_O^(kl) = Q^(k)T (G^(k)T (x) R^(k-1)x) A (G^(l) (x) x^T R^(l-1)T) Q^(l) */
    /* (J blocks (G^(k) (x) x^T R^(k-1)T) Q^(k) were formed above) */
    double HOmax = 0;
    for (size_t i = 0; i < HO->size1; i++)
        for (size_t j = 0; j < HO->size2; j++)
            HOmax = fmax(HOmax, fabs(gsl_matrix_get(HO, i, j)));
    for (size_t a = 0; a < f->n_lin && !light; a++)
        for (size_t b = 0; b < f->n_lin; b++) {
            const hn_layer *la = &m->layers[m->linear_pos[a]], *lb = &m->layers[m->linear_pos[b]];
            gsl_matrix *AJ = hn_mat_mul(pp->A, CblasNoTrans, Jblk[b], CblasNoTrans);
            gsl_matrix *blk = AJ ? hn_mat_mul(Jblk[a], CblasTrans, AJ, CblasNoTrans) : NULL;
            if (!blk) {
                if (AJ) gsl_matrix_free(AJ);
                rc = facts_nomem(err);
                goto done;
            }
            gsl_matrix_view hv = gsl_matrix_submatrix(HO, la->param_offset, lb->param_offset,
                                                      la->param_count, lb->param_count);
            /* relative to the largest entry of all of H_O: a block that is
             * ~0 (saturated softmax) is compared at the scale of H_O */
            double d = 0;
            for (size_t i = 0; i < blk->size1; i++)
                for (size_t j = 0; j < blk->size2; j++)
                    d = fmax(d, fabs(gsl_matrix_get(blk, i, j) - gsl_matrix_get(&hv.matrix, i, j)));
            f->block_disc = fmax(f->block_disc, HOmax > 0 ? d / HOmax : d);
            gsl_matrix_free(AJ);
            gsl_matrix_free(blk);
        }
    f->HO_norm = hn_sym_norm(HO, err, &rc);
    if (rc)
        goto done;
    /* the pooling layer on its own */
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *ly = &m->layers[i];
        if (ly->type == HN_MAXPOOL1D || ly->type == HN_MAXPOOL2D) {
            if ((rc = hn_mat_maxpool(ly->in, ly->kh, ly->kw, hn_ws_argmax(ws, i), &tmp, err)) ||
                (rc = hn_norm2(tmp, &f->pool_norm, err)))
                goto done;
        } else if (ly->type == HN_AVGPOOL1D || ly->type == HN_AVGPOOL2D) {
            if ((rc = hn_mat_avgpool(ly->in, ly->kh, ly->kw, &tmp, err)) ||
                (rc = hn_norm2(tmp, &f->pool_norm, err)))
                goto done;
            /* Gram A^T A: 1/kpool^4 within a window, 0 across windows */
            tmp2 = hn_mat_mul(tmp, CblasTrans, tmp, CblasNoTrans);
            if (!tmp2) {
                rc = facts_nomem(err);
                goto done;
            }
            const double kp = (double)(ly->kh * ly->kw);
            const size_t ho = ly->out.h, wo = ly->out.w;
            for (size_t u = 0; u < tmp2->size1; u++)
                for (size_t v = 0; v < tmp2->size2; v++) {
                    size_t cu = u / (ly->in.h * ly->in.w), cv = v / (ly->in.h * ly->in.w);
                    size_t yu = (u / ly->in.w) % ly->in.h, xu = u % ly->in.w;
                    size_t yv = (v / ly->in.w) % ly->in.h, xv = v % ly->in.w;
                    int inu = yu / ly->kh < ho && xu / ly->kw < wo, inv = yv / ly->kh < ho && xv / ly->kw < wo;
                    int same = cu == cv && inu && inv && yu / ly->kh == yv / ly->kh && xu / ly->kw == xv / ly->kw;
                    double want = same ? 1.0 / (kp * kp) : 0.0;
                    f->avg_gram_disc = fmax(f->avg_gram_disc, fabs(gsl_matrix_get(tmp2, u, v) - want) * kp * kp);
                }
            /* a window block of A^T A is (1/kp^2) 1 1^T of size kp: norm 1/kp */
            f->avg_block_norm = hn_sym_norm(tmp2, err, &rc);
            gsl_matrix_free(tmp2);
            tmp2 = NULL;
            if (rc)
                goto done;
        }
        if (tmp) {
            gsl_matrix_free(tmp);
            tmp = NULL;
        }
    }
    /* the full Hessian of this sample (small nets) */
    if (!light && f->P <= 400) {
        gsl_matrix *H = gsl_matrix_alloc(f->P, f->P);
        hn_samples one = one_sample(s, 0);
        if (!H) {
            rc = hn_err_set(err, HN_ENOMEM, "facts: out of memory");
            goto done;
        }
        rc = hn_hessian_full(m, theta, &one, H, err);
        if (!rc)
            f->H_norm = hn_sym_norm(H, err, &rc);
        gsl_matrix_free(H);
        if (rc)
            goto done;
        f->have_H = 1;
    }
    if (landscape_k > 0 && delta)
        rc = landscape(f, m, theta, s, landscape_k, delta, err);
done:
    for (size_t t = 0; t < HN_MAXLIN; t++)
        if (Jblk[t])
            gsl_matrix_free(Jblk[t]);
    if (tmp) gsl_matrix_free(tmp);
    if (tmp2) gsl_matrix_free(tmp2);
    if (HO) gsl_matrix_free(HO);
    hn_ws_free(ws);
    hn_paper_free(pp);
    if (rc) {
        hn_free(f);
        return rc;
    }
    *out = f;
    return HN_OK;
}
