/* hessnorm — network families for the audit: random draws over
 * architectures and weight scales, and adversarial constructions. */
#include "config.h"
#include <math.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/alloc.h"
#include "hessnorm/layers.h"
#include "hessnorm/spectra.h"
#include "audit/families.h"

int hn_netspec_model(const hn_netspec *ns, hn_model **out, hn_err *err)
{
    size_t dims[3];
    int nd;
    if (ns->dim == 1) {
        dims[0] = ns->in_c;
        dims[1] = ns->in_w;
        nd = 2;
    } else {
        dims[0] = ns->in_c;
        dims[1] = ns->in_h;
        dims[2] = ns->in_w;
        nd = 3;
    }
    hn_model *m;
    int rc = hn_model_new(nd, dims, ns->K, ns->mse ? HN_LOSS_MSE : HN_LOSS_CE, &m, err);
    if (rc)
        return rc;
    const hn_layer_type conv = ns->dim == 1 ? HN_CONV1D : HN_CONV2D;
    const hn_layer_type mp = ns->dim == 1 ? HN_MAXPOOL1D : HN_MAXPOOL2D;
    const hn_layer_type ap = ns->dim == 1 ? HN_AVGPOOL1D : HN_AVGPOOL2D;
    for (size_t i = 0; i < ns->n_conv && !rc; i++) {
        rc = hn_model_add(m, conv, ns->ch[i], ns->dim == 1 ? 1 : ns->kh[i], ns->kw[i], err);
        int last = i + 1 == ns->n_conv && ns->n_fc == 0;
        if (rc || last)
            continue;
        int pool_here = ns->pool && ns->pool_after == i;
        if (!(pool_here && ns->pool_replaces_relu))
            rc = hn_model_add(m, HN_RELU, 0, 0, 0, err);
        if (!rc && pool_here)
            rc = hn_model_add(m, ns->pool == 1 ? mp : ap, 0, ns->dim == 1 ? 1 : ns->kpool, ns->kpool, err);
    }
    if (!rc && ns->n_fc > 0) {
        rc = hn_model_add(m, HN_FLATTEN, 0, 0, 0, err);
        for (size_t j = 0; j < ns->n_fc && !rc; j++) {
            rc = hn_model_add(m, HN_LINEAR, ns->fc[j], 1, 1, err);
            if (!rc && j + 1 < ns->n_fc)
                rc = hn_model_add(m, HN_RELU, 0, 0, 0, err);
        }
    }
    if (!rc)
        rc = hn_model_finalize(m, err);
    if (rc) {
        hn_model_free(m);
        return rc;
    }
    *out = m;
    return HN_OK;
}

static double log_uniform(gsl_rng *r, double lo, double hi)
{
    return pow(10.0, lo + (hi - lo) * gsl_rng_uniform(r));
}

static size_t uni(gsl_rng *r, size_t lo, size_t hi) /* inclusive */
{
    return lo + gsl_rng_uniform_int(r, hi - lo + 1);
}

/* Draw a random architecture.  conv_only: the last conv produces the K
 * logits at 1x1 (the setting of Theorems 1-2, Lemmas 3-4). */
void hn_family_random_spec(gsl_rng *r, hn_netspec *ns, hn_family_target target)
{
    for (;;) {
        memset(ns, 0, sizeof *ns);
        ns->dim = gsl_rng_uniform(r) < 0.4 ? 1 : 2;
        if (target == HN_FAM_CONV1D)
            ns->dim = 1;
        else if (target >= HN_FAM_CONV2D && target <= HN_FAM_FC_HEAD)
            ns->dim = 2;
        ns->in_c = uni(r, 1, 3);
        ns->in_h = ns->dim == 1 ? 1 : uni(r, 4, 8);
        ns->in_w = ns->dim == 1 ? uni(r, 5, 14) : uni(r, 4, 8);
        ns->n_conv = uni(r, 1, 4);
        ns->n_fc = gsl_rng_uniform(r) < 0.3 ? uni(r, 1, 2) : 0;
        ns->K = uni(r, 2, 4);
        ns->mse = gsl_rng_uniform(r) < 0.2;
        ns->kpool = 2;
        double u = gsl_rng_uniform(r);
        ns->pool = u < 0.45 ? 0 : u < 0.75 ? 1 : 2;
        ns->pool_replaces_relu = gsl_rng_uniform(r) < 0.7;
        switch (target) {
        case HN_FAM_ANY: break;
        case HN_FAM_CONV1D:
        case HN_FAM_CONV2D:
        case HN_FAM_PURE:
            ns->n_fc = 0;
            ns->pool = 0;
            break;
        case HN_FAM_MAXPOOL:
        case HN_FAM_AVGPOOL:
            ns->n_fc = 0;
            ns->pool = target == HN_FAM_MAXPOOL ? 1 : 2;
            ns->pool_replaces_relu = 1;
            if (ns->n_conv < 2)
                ns->n_conv = 2 + gsl_rng_uniform_int(r, 3);
            ns->in_h = uni(r, 5, 9);
            ns->in_w = uni(r, 5, 9);
            break;
        case HN_FAM_FC_HEAD:
            ns->pool = 0;
            if (!ns->n_fc)
                ns->n_fc = uni(r, 1, 2);
            break;
        }
        size_t last_pool = ns->n_fc ? ns->n_conv - 1 : (ns->n_conv >= 2 ? ns->n_conv - 2 : 0);
        if (ns->n_conv < 2 && !ns->n_fc)
            ns->pool = 0;
        if (ns->pool)
            ns->pool_after = uni(r, 0, last_pool);
        size_t h = ns->in_h, w = ns->in_w;
        int ok = 1;
        for (size_t i = 0; i < ns->n_conv && ok; i++) {
            int last = i + 1 == ns->n_conv && !ns->n_fc;
            if (last) {
                ns->kh[i] = h;
                ns->kw[i] = w;
                ns->ch[i] = ns->K;
                if (h > 6 || w > 8)
                    ok = 0;
                continue;
            }
            ns->kh[i] = ns->dim == 1 ? 1 : uni(r, 1, 3);
            ns->kw[i] = uni(r, 1, 3);
            ns->ch[i] = uni(r, 1, 3);
            if (ns->kh[i] > h || ns->kw[i] > w) {
                ok = 0;
                break;
            }
            h -= ns->kh[i] - 1;
            w -= ns->kw[i] - 1;
            if (ns->pool && ns->pool_after == i) {
                if ((ns->dim == 2 && h < 2) || w < 2) {
                    ok = 0;
                    break;
                }
                if (ns->dim == 2)
                    h /= 2;
                w /= 2;
            }
        }
        if (!ok)
            continue;
        for (size_t j = 0; j < ns->n_fc; j++)
            ns->fc[j] = j + 1 == ns->n_fc ? ns->K : uni(r, 2, 6);
        if (ns->n_fc && ns->ch[ns->n_conv - 1] * h * w > 64)
            continue;
        return;
    }
}

/* Weights and sample: scale s (times 1/sqrt(fan_in)), mode 0 uniform
 * symmetric, 1 constant positive kernels (every activation positive: the
 * chain of norms is as aligned as it gets), 2 constant with random sign per
 * layer.  x uniform in [0,1]. */
void hn_family_draw(gsl_rng *r, const hn_model *m, double scale, int mode, double *theta, hn_samples *s)
{
    for (size_t t = 0; t < m->n_linear; t++) {
        const hn_layer *ly = &m->layers[m->linear_pos[t]];
        double b = scale / sqrt((double)(ly->in.c * ly->kh * ly->kw));
        double sign = gsl_rng_uniform(r) < 0.5 ? -1.0 : 1.0;
        for (size_t j = 0; j < ly->param_count; j++) {
            double v;
            if (mode == 1)
                v = b;
            else if (mode == 2)
                v = sign * b;
            else
                v = b * (2 * gsl_rng_uniform(r) - 1);
            theta[ly->param_offset + j] = v;
        }
    }
    for (size_t i = 0; i < s->n * s->in_size; i++)
        s->x[i] = gsl_rng_uniform(r);
    for (size_t i = 0; i < s->n; i++) {
        if (s->y_class)
            s->y_class[i] = (long)gsl_rng_uniform_int(r, m->classes);
        if (s->y_vec)
            for (size_t k = 0; k < m->classes; k++)
                s->y_vec[i * m->classes + k] = 2 * gsl_rng_uniform(r) - 1;
    }
}

/* ------------------------------------------------------------ equation (1) */

hn_family_weights hn_family_random_weights(gsl_rng *r)
{
    hn_family_weights w = {"random", log_uniform(r, -1.5, 1.0), 0};
    return w;
}

size_t hn_family_landscape(gsl_rng *r, int interp, hn_netspec *ns, hn_family_weights *w)
{
    /* small conv-only nets without pooling: Theorems 1-2, equation (1) */
    ns->n_fc = 0;
    ns->pool = 0;
    ns->mse = interp;
    size_t k = 1 + gsl_rng_uniform_int(r, 4);
    w->name = interp ? "landscape-interpolating" : "landscape";
    w->scale = log_uniform(r, -0.5, 0.5);
    return k;
}

void hn_family_delta(gsl_rng *r, size_t P, const double *theta, int adversarial, double *delta)
{
    double nt = hn_vec_norm(theta, P), nd = 0;
    for (size_t j = 0; j < P; j++) {
        delta[j] = 2 * gsl_rng_uniform(r) - 1;
        nd += delta[j] * delta[j];
    }
    /* R relative to ||theta*||; adversarial: an absolute R in [0.1, 3]
     * around tiny or huge weights, far outside the Taylor regime */
    double R = adversarial ? log_uniform(r, -1.0, 0.5) : log_uniform(r, -3.0, 0.0) * nt;
    for (size_t j = 0; j < P; j++)
        delta[j] *= R / sqrt(nd);
}

int hn_family_landscape_extreme(size_t i, hn_netspec *ns, hn_family_weights *w)
{
    int interp = ns->mse = (i / HN_FAM_COUNT) % 2 == 0;
    w->name = interp ? "landscape-interpolating-extreme" : "landscape-extreme";
    static const double lscales[] = {1e-6, 1e-4, 1e-2, 3.0};
    w->scale = lscales[(i / (2 * HN_FAM_COUNT)) % 4];
    return interp;
}

/* ------------------------------------------------------------ adversarial */

/* Each construction rewrites the drawn spec of adversarial instance i
 * (target: its family) and sets the draw mode; none draws. */

/* constant positive kernels: every activation positive, the chain of norms
 * as aligned as it gets */
static void adv_constant_positive(hn_netspec *ns, size_t i, hn_family_target target, int *mode)
{
    (void)ns, (void)i, (void)target;
    *mode = 1;
}

/* constant kernels with a random sign per layer */
static void adv_constant_signed(hn_netspec *ns, size_t i, hn_family_target target, int *mode)
{
    (void)ns, (void)i, (void)target;
    *mode = 2;
}

/* 1x1 kernels everywhere but the last conv (which then covers the whole
 * remaining input of a conv-only net), constant positive */
static void adv_1x1_kernels(hn_netspec *ns, size_t i, hn_family_target target, int *mode)
{
    (void)i, (void)target;
    *mode = 1;
    for (size_t c = 0; c + 1 < ns->n_conv; c++)
        ns->kh[c] = ns->kw[c] = 1;
    if (!ns->n_fc && ns->n_conv >= 1) {
        size_t h = ns->in_h, w = ns->in_w;
        if (ns->pool && ns->pool_after + 1 < ns->n_conv) {
            if (ns->dim == 2) h /= 2;
            w /= 2;
        }
        ns->kh[ns->n_conv - 1] = ns->dim == 1 ? 1 : h;
        ns->kw[ns->n_conv - 1] = w;
    }
}

/* the drawn spec with the MSE loss, constant positive */
static void adv_mse_constant(hn_netspec *ns, size_t i, hn_family_target target, int *mode)
{
    (void)i, (void)target;
    ns->mse = 1;
    *mode = 1;
}

/* the tightest pooled net: one channel, 1x1 kernels, a 2x2 input pooled to
 * 1x1, MSE with K = 1 (every norm in the chain is attained); avg-pool for
 * the avg-pool family, max-pool otherwise */
static void adv_minimal_pooled(hn_netspec *ns, size_t i, hn_family_target target, int *mode)
{
    *mode = 1;
    size_t nconv = ns->n_conv < 2 ? 2 : ns->n_conv;
    memset(ns, 0, sizeof *ns);
    ns->dim = 2;
    ns->in_c = 1;
    ns->in_h = ns->in_w = 2;
    ns->n_conv = nconv;
    for (size_t c = 0; c < nconv; c++) {
        ns->ch[c] = 1;
        ns->kh[c] = ns->kw[c] = 1;
    }
    ns->K = 1;
    ns->mse = 1;
    ns->pool = target == HN_FAM_AVGPOOL ? 2 : 1;
    ns->pool_replaces_relu = 1;
    ns->pool_after = (i / HN_FAM_COUNT) % (nconv - 1);
    ns->kpool = 2;
}

/* the drawn spec and uniform weights, at the extreme scales alone */
static void adv_extreme_scale(hn_netspec *ns, size_t i, hn_family_target target, int *mode)
{
    (void)ns, (void)i, (void)target, (void)mode;
}

static const struct {
    const char *name;
    void (*build)(hn_netspec *ns, size_t i, hn_family_target target, int *mode);
} adversarial[6] = {
    {"constant-positive", adv_constant_positive}, {"constant-signed", adv_constant_signed},
    {"1x1-kernels", adv_1x1_kernels},             {"mse-constant", adv_mse_constant},
    {"minimal-pooled-1x1", adv_minimal_pooled},   {"random-extreme-scale", adv_extreme_scale},
};

void hn_family_adversarial(size_t i, hn_family_target target, hn_netspec *ns, hn_family_weights *w)
{
    /* family cycles fastest, then the weight scale, then the construction */
    int a = (int)((i / HN_FAM_COUNT + i / (5 * HN_FAM_COUNT)) % 6);
    static const double scales[] = {1e-3, 1e-1, 1.0, 10.0, 100.0};
    w->scale = scales[(i / HN_FAM_COUNT) % 5];
    w->name = adversarial[a].name;
    adversarial[a].build(ns, i, target, &w->mode);
}

/* Make MSE targets interpolate: y_i = f(x_i), so every l_i = 0 and theta
 * is a global minimum of every L_k (Assumption 1 holds exactly). */
int hn_family_interpolate(const hn_model *m, const double *theta, hn_samples *s, hn_err *err)
{
    if (!s->y_vec)
        return hn_err_set(err, HN_EINVAL, "interpolate: needs an MSE model");
    hn_ws *ws;
    int rc = hn_ws_alloc(m, &ws, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->n; i++)
        hn_forward(m, theta, s->x + i * s->in_size, ws, s->y_vec + i * m->classes);
    hn_ws_free(ws);
    return HN_OK;
}

int hn_netspec_from_model(const hn_model *m, hn_netspec *ns, hn_err *err)
{
    memset(ns, 0, sizeof *ns);
    if (m->input_ndim < 2)
        return hn_err_set(err, HN_EINVAL,
                          "input: the claims are about conv nets; the model input is a plain vector");
    ns->dim = m->input_ndim == 2 ? 1 : 2;
    ns->in_c = m->input.c;
    ns->in_h = m->input.h;
    ns->in_w = m->input.w;
    ns->K = m->classes;
    ns->mse = m->loss == HN_LOSS_MSE;
    ns->kpool = 2;
    int seen_relu = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *ly = &m->layers[i];
        switch (ly->type) {
        case HN_CONV1D:
        case HN_CONV2D:
            if (ns->n_fc || ns->n_conv >= 8)
                return hn_err_set(err, HN_EINVAL, "layers[%zu]: conv after the FC head or more than 8 convs", i);
            ns->ch[ns->n_conv] = ly->out.c;
            ns->kh[ns->n_conv] = ly->kh;
            ns->kw[ns->n_conv] = ly->kw;
            ns->n_conv++;
            seen_relu = 0;
            break;
        case HN_LINEAR:
            if (ns->n_fc >= 4)
                return hn_err_set(err, HN_EINVAL, "layers[%zu]: more than 4 FC layers", i);
            ns->fc[ns->n_fc++] = ly->out.c;
            break;
        case HN_RELU:
            seen_relu = 1;
            break;
        case HN_MAXPOOL1D:
        case HN_MAXPOOL2D:
        case HN_AVGPOOL1D:
        case HN_AVGPOOL2D:
            if (ns->pool)
                return hn_err_set(err, HN_EINVAL, "layers[%zu]: the claims cover one pooling layer", i);
            if (ly->kh != ly->kw && ns->dim == 2)
                return hn_err_set(err, HN_EINVAL, "layers[%zu]: non-square pooling", i);
            ns->pool = (ly->type == HN_MAXPOOL1D || ly->type == HN_MAXPOOL2D) ? 1 : 2;
            ns->pool_after = ns->n_conv ? ns->n_conv - 1 : 0;
            ns->pool_replaces_relu = !seen_relu;
            ns->kpool = ly->kw;
            break;
        default:
            break;
        }
    }
    /* the rebuilt spec must describe the same network */
    hn_model *check;
    int rc = hn_netspec_model(ns, &check, NULL);
    if (rc == HN_ENOMEM)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    if (rc) /* the rebuilt spec is not even a valid network: not the same one */
        check = NULL;
    char *a = check ? hn_model_to_json(m) : NULL, *b = check ? hn_model_to_json(check) : NULL;
    int same = a && b && !strcmp(a, b);
    int nomem = check && (!a || !b);
    hn_free(a);
    hn_free(b);
    hn_model_free(check);
    if (nomem)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    if (!same)
        return hn_err_set(err, HN_EINVAL,
                          "layers: the model is not in the audited families (conv layers with ReLU, "
                          "at most one pooling, optional flatten + FC head with ReLUs)");
    return HN_OK;
}
