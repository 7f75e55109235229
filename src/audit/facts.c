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
#include "hessnorm/outer.h"
#include "audit/internal.h"

/* Every dense product and Kronecker factor below is checked: a NULL from
 * GSL's allocator is out of memory, returned as HN_ENOMEM (it used to be
 * dereferenced). */
static int facts_nomem(hn_err *err)
{
    return hn_err_set(err, HN_ENOMEM, "facts: out of memory");
}

void hn_facts_free(hn_facts *f) { hn_free(f); }

/* ------------------------------------------------------------ fact groups
 *
 * hn_facts is filled group by group (the groups are listed in internal.h;
 * each claim's `facts` mask names the groups its evaluator reads).  A group
 * function fills only its own fields, from the state below, and may read
 * the fields of the groups it requires (fact_groups[].requires). */

/* What the groups share while one hn_facts is filled. */
typedef struct {
    const hn_netspec *ns;
    const hn_model *m;
    const double *theta;
    const hn_samples *s;
    size_t landscape_k;
    const double *delta;
    hn_paper *pp;                /* the paper's matrices at sample 0 */
    hn_ws *ws;                   /* the forward pass at sample 0 (activations, argmax) */
    gsl_matrix *HO;              /* H_O of sample 0 by backprop (group HO) */
    gsl_matrix *Jblk[HN_MAXLIN]; /* (G (x) r^T) Q^(p) per layer (group APPA), for the blocks */
} facts_ctx;

/* HN_FG_SHAPE: spec, m, n_lin, L, n_conv, n_fc, K, P, dim, pool, pool_instead,
 * pool_l, kpool, x_norm, x_sq_norm, C, mm, nn, d, w, wt, k, h_out, h_all and per layer
 * is_conv, kh, kw, cin, cout, out_pos, rows, cols, W_sq. */
static int fg_shape(hn_facts *f, facts_ctx *c, hn_err *err)
{
    (void)err;
    const hn_netspec *ns = c->ns;
    const hn_model *m = c->m;
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
    f->x_norm = hn_vec_norm(c->s->x, c->s->in_size);
    for (size_t i = 0; i < c->s->in_size; i++) /* ||x^2||, x squared elementwise (Appendix E) */
        f->x_sq_norm += pow(c->s->x[i], 4);
    f->x_sq_norm = sqrt(f->x_sq_norm);
    /* the paper's symbols (C, k, m, n, d, w, w~, h), one home: paper/matrices.c */
    hn_paper_symbols sy;
    hn_paper_symbols_of(m, c->theta, &sy);
    f->C = sy.C;
    f->k = sy.k;
    f->mm = sy.m;
    f->nn = sy.n;
    f->d = sy.d;
    f->w = sy.w;
    f->wt = sy.wt;
    f->h_out = sy.h_out;
    f->h_all = sy.h_all;
    for (size_t t = 0; t < f->n_lin; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        f->is_conv[t] = ly->type != HN_LINEAR;
        f->kh[t] = ly->kh;
        f->kw[t] = ly->kw;
        f->cin[t] = ly->in.c;
        f->cout[t] = ly->out.c;
        f->out_pos[t] = ly->out.h * ly->out.w;
        f->rows[t] = hn_shape_size(ly->out); /* T^(p) maps the layer's input to its output */
        f->cols[t] = hn_shape_size(ly->in);
        double wsq = 0;
        for (size_t j = 0; j < ly->param_count; j++)
            wsq += c->theta[ly->param_offset + j] * c->theta[ly->param_offset + j];
        f->W_sq[t] = wsq;
    }
    return HN_OK;
}

/* HN_FG_NORMS: per layer T_norm, Q_norm, G_norm, R_norm, T_fro, Rx_norm. */
static int fg_layer_norms(hn_facts *f, facts_ctx *c, hn_err *err)
{
    const hn_paper *pp = c->pp;
    int rc;
    for (size_t t = 0; t < f->n_lin; t++) {
        if ((rc = hn_norm2(pp->T[t], &f->T_norm[t], err)) || (rc = hn_gram_norm2(pp->Q[t], &f->Q_norm[t], err)) ||
            (rc = hn_norm2(pp->G[t], &f->G_norm[t], err)) || (rc = hn_norm2(pp->R[t], &f->R_norm[t], err)))
            return rc;
        f->T_hi[t] = f->T_norm[t]; /* dense SVDs: exact, the bracket is a point */
        f->R_hi[t] = f->R_norm[t];
        f->T_fro[t] = hn_norm_fro(pp->T[t]);
        f->Rx_norm[t] = gsl_blas_dnrm2(pp->Rx[t]);
    }
    return HN_OK;
}

/* HN_FG_ENTRIES (Appendices C, D: entries of T and Q): T_row_disc,
 * T_fro_disc, Q_row_disc.  Reads T_fro (NORMS). */
static int fg_conv_entries(hn_facts *f, facts_ctx *c, hn_err *err)
{
    (void)err;
    const hn_paper *pp = c->pp;
    for (size_t t = 0; t < f->n_lin; t++) {
        const hn_layer *ly = &c->m->layers[c->m->linear_pos[t]];
        const double wsq = f->W_sq[t];
        /* row norms of T: each row holds every weight of one output channel once */
        for (size_t r = 0; r < pp->T[t]->size1; r++) {
            gsl_vector_const_view row = gsl_matrix_const_row(pp->T[t], r);
            double rn = gsl_blas_dnrm2(&row.vector);
            size_t oc = r / f->out_pos[t];
            double want = 0;
            const double *W = c->theta + ly->param_offset + oc * ly->in.c * ly->kh * ly->kw;
            for (size_t j = 0; j < ly->in.c * ly->kh * ly->kw; j++)
                want += W[j] * W[j];
            f->T_row_disc = fmax(f->T_row_disc, fabs(rn * rn - want) / fmax(want, 1e-300));
        }
        f->T_fro_disc = fmax(f->T_fro_disc, fabs(f->T_fro[t] * f->T_fro[t] - f->out_pos[t] * wsq) /
                                                fmax(f->out_pos[t] * wsq, 1e-300));
        /* every row of Q^(p) = d T_ij / dW: rows of T have C_{p-1} k1 k2 weights */
        for (size_t r = 0; r < f->rows[t]; r++) {
            double sq = 0;
            for (size_t col = 0; col < f->cols[t]; col++) {
                gsl_vector_const_view qr = gsl_matrix_const_row(pp->Q[t], r * f->cols[t] + col);
                double n2 = gsl_blas_dnrm2(&qr.vector);
                sq += n2 * n2;
            }
            double want = (double)(ly->in.c * ly->kh * ly->kw);
            f->Q_row_disc = fmax(f->Q_row_disc, fabs(sq - want) / want);
        }
    }
    return HN_OK;
}

/* The two Kronecker identities of layer t that materialise n_p x n_p |r|
 * products: the corrected split (kron_split_disc) and vec z^(p)
 * (vecz_disc). */
static int appa_kron_identities(hn_facts *f, facts_ctx *c, size_t t, const gsl_matrix *Kr, hn_err *err)
{
    const hn_paper *pp = c->pp;
    int rc = HN_OK;
    gsl_matrix_view rv = gsl_matrix_view_vector(pp->Rx[t], 1, pp->Rx[t]->size);
    /* (G (x) I_1)(I_{n1} (x) r^T) = G (x) r^T (corrected Appendix A split) */
    {
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
    const double *act = hn_ws_act(c->ws, (int)c->m->linear_pos[t]);
    if (!rc) {
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
    return rc;
}

/* HN_FG_APPA (Appendix A, per layer): dzdW_disc, kron_norm_disc,
 * kron_split_disc, vecz_disc, dzdT_disc; keeps the J blocks in c->Jblk.
 * Reads G_norm, Rx_norm (NORMS). */
static int fg_appendix_a(hn_facts *f, facts_ctx *c, hn_err *err)
{
    const hn_paper *pp = c->pp;
    int rc = HN_OK;
    for (size_t t = 0; t < f->n_lin && !rc; t++) {
        const hn_layer *ly = &c->m->layers[c->m->linear_pos[t]];
        /* J block: (G (x) r^T) Q^(p) against the backprop-free J = F Q */
        gsl_matrix_view rv = gsl_matrix_view_vector(pp->Rx[t], 1, pp->Rx[t]->size);
        gsl_matrix *Kr = hn_kron(pp->G[t], &rv.matrix);
        if (!Kr)
            return hn_err_set(err, HN_ENOMEM, "facts: out of memory");
        gsl_matrix *Jb = hn_mat_mul(Kr, CblasNoTrans, pp->Q[t], CblasNoTrans);
        if (!Jb) {
            gsl_matrix_free(Kr);
            return facts_nomem(err);
        }
        gsl_matrix_view Jp = gsl_matrix_submatrix(pp->J, 0, ly->param_offset, f->K, ly->param_count);
        f->dzdW_disc = fmax(f->dzdW_disc, hn_mat_disc(Jb, &Jp.matrix));
        c->Jblk[t] = Jb; /* kept for the block check of Appendix A */
        /* ||G (x) r^T|| = ||G|| ||r|| */
        double kn;
        if ((rc = hn_norm2(Kr, &kn, err)) == 0) {
            double want = f->G_norm[t] * f->Rx_norm[t];
            f->kron_norm_disc = fmax(f->kron_norm_disc, fabs(kn - want) / fmax(want, 1e-300));
        }
        /* the two identity checks materialise Kronecker products of size
         * n_p x n_p |r|; skipped (left at 0 = not measured) past 4M entries */
        const int small_kron = (double)f->rows[t] * (double)f->rows[t] * (double)f->cols[t] <= 4e6;
        if (!rc && small_kron)
            rc = appa_kron_identities(f, c, t, Kr, err);
        gsl_matrix_free(Kr);
    }
    f->dzdT_disc = f->vecz_disc;
    return rc;
}

/* eq. (3): z = T^(L+1) Lambda^(L) ... T^(1) x as a dense product, against
 * the direct forward pass (eq3_disc). */
static int sec4_eq3(hn_facts *f, facts_ctx *c, hn_err *err)
{
    const hn_paper *pp = c->pp;
    const hn_samples *s = c->s;
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
        return facts_nomem(err);
    }
    hn_forward(c->m, c->theta, s->x, c->ws, z_direct);
    f->eq3_disc = hn_vec_disc(cur->data, z_direct, f->K);
    hn_free(z_direct);
    gsl_vector_free(cur);
    return HN_OK;
}

/* HN_FG_SEC4 (Section IV and equation (3)): zGz_disc, xRx_disc, zGTRx_disc,
 * eq3_disc. */
static int fg_section_iv(hn_facts *f, facts_ctx *c, hn_err *err)
{
    const hn_paper *pp = c->pp;
    for (size_t t = 0; t < f->n_lin; t++) {
        const int pos = (int)c->m->linear_pos[t];
        /* z = G^(p) z^(p) with z^(p) from the direct forward pass */
        gsl_vector_const_view zv = gsl_vector_const_view_array(hn_ws_act(c->ws, pos), f->rows[t]);
        gsl_vector *zz = gsl_vector_alloc(f->K), *tr = gsl_vector_alloc(f->rows[t]);
        if (!zz || !tr) {
            if (zz) gsl_vector_free(zz);
            if (tr) gsl_vector_free(tr);
            return facts_nomem(err);
        }
        gsl_blas_dgemv(CblasNoTrans, 1.0, pp->G[t], &zv.vector, 0.0, zz);
        f->zGz_disc = fmax(f->zGz_disc, hn_vec_disc(zz->data, pp->logits, f->K));
        /* x^(p-1) = R^(p-1) x against the direct activation */
        const double *ain = hn_ws_act(c->ws, pos - 1);
        f->xRx_disc = fmax(f->xRx_disc, hn_vec_disc(pp->Rx[t]->data, ain, f->cols[t]));
        /* z = G^(p) T^(p) R^(p-1) x */
        gsl_blas_dgemv(CblasNoTrans, 1.0, pp->T[t], pp->Rx[t], 0.0, tr);
        gsl_blas_dgemv(CblasNoTrans, 1.0, pp->G[t], tr, 0.0, zz);
        f->zGTRx_disc = fmax(f->zGTRx_disc, hn_vec_disc(zz->data, pp->logits, f->K));
        gsl_vector_free(tr);
        gsl_vector_free(zz);
    }
    return sec4_eq3(f, c, err);
}

/* HN_FG_APPB (Appendix B): A_norm, F_norm, Qfull_norm (NAN when the
 * block-diagonal Q is over the dense limit: not measured). */
static int fg_appendix_b(hn_facts *f, facts_ctx *c, hn_err *err)
{
    int rc;
    if ((rc = hn_norm2(c->pp->A, &f->A_norm, err)) || (rc = hn_gram_norm2(c->pp->F, &f->F_norm, err)))
        return rc;
    if (!c->pp->Qfull)
        f->Qfull_norm = NAN;
    else if ((rc = hn_gram_norm2(c->pp->Qfull, &f->Qfull_norm, err)))
        return rc;
    return HN_OK;
}

/* HN_FG_HO: HO_norm, from H_O of sample 0 by backprop (J^T A J), kept in
 * c->HO for LEMMA1 and BLOCKS. */
static int fg_ho(hn_facts *f, facts_ctx *c, hn_err *err)
{
    c->HO = gsl_matrix_alloc(f->P, f->P);
    hn_samples first = hn_samples_view(c->s, 0); /* the per-sample matrices are for sample 0 */
    if (!c->HO)
        return facts_nomem(err);
    int rc = hn_hessian_outer(c->m, c->theta, &first, c->HO, err);
    if (!rc)
        f->HO_norm = hn_sym_norm(c->HO, err, &rc);
    return rc;
}

/* HN_FG_LEMMA1: lemma1_disc, Q^T F^T A F Q (literal association) against
 * H_O by backprop (HO). */
static int fg_lemma1(hn_facts *f, facts_ctx *c, hn_err *err)
{
    const hn_paper *pp = c->pp;
    if (!pp->Qfull) {
        f->lemma1_disc = hn_mat_disc(pp->HO, c->HO);
        return HN_OK;
    }
    /* (Q^T F^T) A (F Q) with F Q formed from the whole block-diagonal Q */
    int rc = HN_OK;
    gsl_matrix *FQ = hn_mat_mul(pp->F, CblasNoTrans, pp->Qfull, CblasNoTrans);
    gsl_matrix *AFQ = FQ ? gsl_matrix_alloc(pp->A->size1, FQ->size2) : NULL;
    gsl_matrix *L1 = AFQ ? gsl_matrix_alloc(FQ->size2, FQ->size2) : NULL;
    if (L1) {
        hn_outer_dense(pp->A, FQ, AFQ, L1); /* L1 = (F Q)^T A (F Q): the dense H_O route */
        f->lemma1_disc = hn_mat_disc(L1, c->HO);
    } else {
        rc = facts_nomem(err);
    }
    if (FQ) gsl_matrix_free(FQ);
    if (AFQ) gsl_matrix_free(AFQ);
    if (L1) gsl_matrix_free(L1);
    return rc;
}

/* HN_FG_BLOCKS: block_disc, every block
 * H_O^(kl) = Q^(k)T (G^(k)T (x) R^(k-1)x) A (G^(l) (x) x^T R^(l-1)T) Q^(l)
 * formed from the J blocks (APPA) against H_O (HO). */
static int fg_ho_blocks(hn_facts *f, facts_ctx *c, hn_err *err)
{
    const hn_model *m = c->m;
    const gsl_matrix *HO = c->HO;
    double HOmax = 0;
    for (size_t i = 0; i < HO->size1; i++)
        for (size_t j = 0; j < HO->size2; j++)
            HOmax = fmax(HOmax, fabs(gsl_matrix_get(HO, i, j)));
    for (size_t a = 0; a < f->n_lin; a++)
        for (size_t b = 0; b < f->n_lin; b++) {
            const hn_layer *la = &m->layers[m->linear_pos[a]], *lb = &m->layers[m->linear_pos[b]];
            gsl_matrix *AJ = hn_mat_mul(c->pp->A, CblasNoTrans, c->Jblk[b], CblasNoTrans);
            gsl_matrix *blk = AJ ? hn_mat_mul(c->Jblk[a], CblasTrans, AJ, CblasNoTrans) : NULL;
            if (!blk) {
                if (AJ) gsl_matrix_free(AJ);
                return facts_nomem(err);
            }
            gsl_matrix_const_view hv = gsl_matrix_const_submatrix(HO, la->param_offset, lb->param_offset,
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
    return HN_OK;
}

/* The avg-pool Gram check of Appendix F on the pooling matrix P of layer
 * ly: avg_gram_disc and avg_block_norm. */
static int pool_avg_gram(hn_facts *f, const hn_layer *ly, const gsl_matrix *P, hn_err *err)
{
    /* Gram A^T A: 1/kpool^4 within a window, 0 across windows */
    gsl_matrix *G = hn_mat_mul(P, CblasTrans, P, CblasNoTrans);
    if (!G)
        return facts_nomem(err);
    const double kp = (double)(ly->kh * ly->kw);
    const size_t ho = ly->out.h, wo = ly->out.w;
    for (size_t u = 0; u < G->size1; u++)
        for (size_t v = 0; v < G->size2; v++) {
            size_t cu = u / (ly->in.h * ly->in.w), cv = v / (ly->in.h * ly->in.w);
            size_t yu = (u / ly->in.w) % ly->in.h, xu = u % ly->in.w;
            size_t yv = (v / ly->in.w) % ly->in.h, xv = v % ly->in.w;
            int inu = yu / ly->kh < ho && xu / ly->kw < wo, inv = yv / ly->kh < ho && xv / ly->kw < wo;
            int same = cu == cv && inu && inv && yu / ly->kh == yv / ly->kh && xu / ly->kw == xv / ly->kw;
            double want = same ? 1.0 / (kp * kp) : 0.0;
            f->avg_gram_disc = fmax(f->avg_gram_disc, fabs(gsl_matrix_get(G, u, v) - want) * kp * kp);
        }
    /* a window block of A^T A is (1/kp^2) 1 1^T of size kp: norm 1/kp */
    int rc;
    f->avg_block_norm = hn_sym_norm(G, err, &rc);
    gsl_matrix_free(G);
    return rc;
}

/* HN_FG_POOL (Appendices E, F: the pooling layer on its own): pool_norm,
 * avg_gram_disc, avg_block_norm. */
static int fg_pooling(hn_facts *f, facts_ctx *c, hn_err *err)
{
    const hn_model *m = c->m;
    int rc = HN_OK;
    for (size_t i = 0; i < m->n_layers && !rc; i++) {
        const hn_layer *ly = &m->layers[i];
        gsl_matrix *P = NULL;
        if (ly->type == HN_MAXPOOL1D || ly->type == HN_MAXPOOL2D) {
            if ((rc = hn_mat_maxpool(ly->in, ly->kh, ly->kw, hn_ws_argmax(c->ws, i), &P, err)) == 0)
                rc = hn_norm2(P, &f->pool_norm, err);
        } else if (ly->type == HN_AVGPOOL1D || ly->type == HN_AVGPOOL2D) {
            if ((rc = hn_mat_avgpool(ly->in, ly->kh, ly->kw, &P, err)) == 0 &&
                (rc = hn_norm2(P, &f->pool_norm, err)) == 0)
                rc = pool_avg_gram(f, ly, P, err);
        }
        if (P)
            gsl_matrix_free(P);
    }
    return rc;
}

/* HN_FG_HESSIAN: have_H, H_norm: the full Hessian of sample 0, formed only
 * up to 400 parameters (have_H stays 0 above). */
static int fg_hessian(hn_facts *f, facts_ctx *c, hn_err *err)
{
    if (f->P > 400)
        return HN_OK;
    gsl_matrix *H = gsl_matrix_alloc(f->P, f->P);
    hn_samples one = hn_samples_view(c->s, 0);
    if (!H)
        return hn_err_set(err, HN_ENOMEM, "facts: out of memory");
    int rc = hn_hessian_full(c->m, c->theta, &one, H, err);
    if (!rc)
        f->H_norm = hn_sym_norm(H, err, &rc);
    gsl_matrix_free(H);
    if (!rc)
        f->have_H = 1;
    return rc;
}

/* HN_FG_LANDSCAPE (equation (1), Section III, the corollaries): have_land,
 * lk, R, lhs, identity_disc, W_l_theta, W_l_star, W_x, ldiff_star,
 * grad_term, dH_norm, dHO_norm; only for landscape_k > 0 and a delta
 * (have_land stays 0 otherwise). */
static int fg_landscape(hn_facts *f, facts_ctx *c, hn_err *err)
{
    if (c->landscape_k > 0 && c->delta)
        return hn_facts_landscape(f, c->m, c->theta, c->s, c->landscape_k, c->delta, err);
    return HN_OK;
}

/* The groups in the order they are filled (the order of the enum). */
static const struct {
    const char *name;
    int (*fill)(hn_facts *f, facts_ctx *c, hn_err *err);
    unsigned requires;           /* groups whose fields or state fill reads */
} fact_groups[HN_FG_COUNT] = {
    [HN_FG_SHAPE] = {"shape", fg_shape, 0},
    [HN_FG_NORMS] = {"layer-norms", fg_layer_norms, HN_FG(HN_FG_SHAPE)},
    [HN_FG_ENTRIES] = {"conv-entries", fg_conv_entries, HN_FG(HN_FG_SHAPE) | HN_FG(HN_FG_NORMS)},
    [HN_FG_APPA] = {"appendix-a", fg_appendix_a, HN_FG(HN_FG_SHAPE) | HN_FG(HN_FG_NORMS)},
    [HN_FG_SEC4] = {"section-iv", fg_section_iv, HN_FG(HN_FG_SHAPE)},
    [HN_FG_APPB] = {"appendix-b", fg_appendix_b, HN_FG(HN_FG_SHAPE)},
    [HN_FG_HO] = {"h-o", fg_ho, HN_FG(HN_FG_SHAPE)},
    [HN_FG_LEMMA1] = {"lemma1", fg_lemma1, HN_FG(HN_FG_SHAPE) | HN_FG(HN_FG_HO)},
    [HN_FG_BLOCKS] = {"h-o-blocks", fg_ho_blocks, HN_FG(HN_FG_SHAPE) | HN_FG(HN_FG_HO) | HN_FG(HN_FG_APPA)},
    [HN_FG_POOL] = {"pooling", fg_pooling, HN_FG(HN_FG_SHAPE)},
    [HN_FG_HESSIAN] = {"hessian", fg_hessian, HN_FG(HN_FG_SHAPE)},
    [HN_FG_LANDSCAPE] = {"landscape", fg_landscape, HN_FG(HN_FG_SHAPE)},
};

const char *hn_fact_group_name(hn_fact_group g)
{
    return (unsigned)g < HN_FG_COUNT ? fact_groups[g].name : "?";
}

unsigned hn_fact_groups_closure(unsigned groups)
{
    /* requires only points to earlier groups: one pass from the last down */
    groups &= HN_FG_ALL;
    for (int g = HN_FG_COUNT - 1; g >= 0; g--)
        if (groups & HN_FG(g))
            groups |= fact_groups[g].requires;
    return groups;
}

int hn_facts_compute(const hn_netspec *ns, const hn_model *m, const double *theta,
                     const hn_samples *s, size_t landscape_k, const double *delta,
                     hn_facts **out, hn_err *err)
{
    return hn_facts_compute_groups(ns, m, theta, s, landscape_k, delta, HN_FG_ALL, out, err);
}

int hn_facts_compute_groups(const hn_netspec *ns, const hn_model *m, const double *theta,
                            const hn_samples *s, size_t landscape_k, const double *delta, unsigned groups,
                            hn_facts **out, hn_err *err)
{
    return hn_facts_compute_route(ns, m, theta, s, landscape_k, delta, groups, HN_ROUTE_AUTO, NULL, out, err);
}

int hn_facts_route_matfree(const hn_model *m, hn_route route)
{
    hn_dense_need need;
    return route == HN_ROUTE_MATFREE || (route == HN_ROUTE_AUTO && !hn_paper_dense_need(m, &need));
}

int hn_facts_compute_route(const hn_netspec *ns, const hn_model *m, const double *theta, const hn_samples *s,
                           size_t landscape_k, const double *delta, unsigned groups, hn_route route,
                           const hn_mf_theta *th, hn_facts **out, hn_err *err)
{
    *out = NULL;
    if (m->n_linear > HN_MAXLIN)
        return hn_err_set(err, HN_EINVAL, "facts: at most %d linear layers", HN_MAXLIN);
    hn_facts *f = hn_calloc(1, sizeof *f);
    if (!f)
        return hn_err_set(err, HN_ENOMEM, "facts: out of memory");
    facts_ctx c = {ns, m, theta, s, landscape_k, delta, NULL, NULL, NULL, {0}};
    f->groups = hn_fact_groups_closure(groups);
    hn_dense_need need;
    const int fits = hn_paper_dense_need(m, &need);
    int rc = HN_OK;
    if (route == HN_ROUTE_DENSE && !fits)
        rc = hn_err_set(err, HN_ETOOBIG,
                        "dense route: %s would be a %zux%zu matrix (%zu entries in all; limits %zu and %zu)",
                        need.what, need.rows, need.cols, need.total, (size_t)HN_DENSE_LIMIT,
                        (size_t)HN_DENSE_TOTAL_LIMIT);
    else if (route == HN_ROUTE_MATFREE || !fits)
        rc = HN_ETOOBIG; /* take the matrix-free route below */
    else
        rc = hn_paper_build(m, theta, s, 0, &c.pp, err);
    if (rc == HN_ETOOBIG && route != HN_ROUTE_DENSE) {
        /* past the dense limit: the groups the matrix-free route measures
         * (audit/facts_mf.c), every other group stays unmeasured and its
         * claims come out n/a with that reason (hn_claim_eval) */
        f->groups &= HN_FG_MATFREE | HN_FG(HN_FG_LANDSCAPE); /* landscape: n/a without theta* (have_land 0) */
        f->matfree = 1;
        if ((rc = fg_shape(f, &c, err)) == 0)
            rc = hn_facts_fill_matfree(f, m, theta, s, th, err);
    } else {
        if (!rc && (rc = hn_ws_alloc(m, &c.ws, err)) == 0)
            hn_forward(m, theta, s->x, c.ws, NULL);
        for (int g = 0; g < HN_FG_COUNT && !rc; g++)
            if (f->groups & HN_FG(g))
                rc = fact_groups[g].fill(f, &c, err);
    }
    for (size_t t = 0; t < HN_MAXLIN; t++)
        if (c.Jblk[t])
            gsl_matrix_free(c.Jblk[t]);
    if (c.HO) gsl_matrix_free(c.HO);
    hn_ws_free(c.ws);
    hn_paper_free(c.pp);
    if (rc) {
        hn_free(f);
        return rc;
    }
    *out = f;
    return HN_OK;
}
