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
        if (!(pool_here && ns->pool_replaces_relu) && !(ns->relu_skip >> i & 1u))
            rc = hn_model_add(m, HN_RELU, 0, 0, 0, err);
        if (!rc && pool_here)
            rc = hn_model_add(m, ns->pool == 1 ? mp : ap, 0, ns->dim == 1 ? 1 : ns->kpool, ns->kpool, err);
    }
    if (!rc && ns->n_fc > 0) {
        rc = hn_model_add(m, HN_FLATTEN, 0, 0, 0, err);
        for (size_t j = 0; j < ns->n_fc && !rc; j++) {
            rc = hn_model_add(m, HN_LINEAR, ns->fc[j], 1, 1, err);
            if (!rc && j + 1 < ns->n_fc && !(ns->relu_skip >> (ns->n_conv + j) & 1u))
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

/* At a linear op: the one before it (if any) had no ReLU and no pooling in
 * place of one after it, so its Lambda is I. */
static void no_relu_before(hn_netspec *ns, int seen_relu)
{
    const size_t t = ns->n_conv + ns->n_fc; /* the linear ops so far */
    const int pooled_prev = ns->pool && ns->n_fc == 0 && ns->pool_after + 1 == ns->n_conv &&
                            ns->pool_replaces_relu;
    if (t > 0 && t <= 8 * sizeof ns->relu_skip && !seen_relu && !pooled_prev)
        ns->relu_skip |= 1u << (t - 1);
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
            no_relu_before(ns, seen_relu);
            ns->ch[ns->n_conv] = ly->out.c;
            ns->kh[ns->n_conv] = ly->kh;
            ns->kw[ns->n_conv] = ly->kw;
            ns->n_conv++;
            seen_relu = 0;
            break;
        case HN_LINEAR:
            if (ns->n_fc >= 4)
                return hn_err_set(err, HN_EINVAL, "layers[%zu]: more than 4 FC layers", i);
            no_relu_before(ns, seen_relu);
            seen_relu = 0;
            ns->fc[ns->n_fc++] = ly->out.c;
            break;
        case HN_RELU:
            seen_relu = 1;
            break;
        case HN_MAXPOOL1D:
        case HN_MAXPOOL2D:
        case HN_AVGPOOL1D:
        case HN_AVGPOOL2D:
            if (ns->n_pool++) /* a second one: the claims tied to a pooling setting need one */
                break;
            if (ly->kh != ly->kw && ns->dim == 2)
                ns->irregular = "a non-square pooling window";
            ns->pool = (ly->type == HN_MAXPOOL1D || ly->type == HN_MAXPOOL2D) ? 1 : 2;
            ns->pool_after = ns->n_conv ? ns->n_conv - 1 : 0;
            ns->pool_replaces_relu = !seen_relu;
            ns->kpool = ly->kw;
            break;
        default:
            break;
        }
    }
    if (ns->n_pool > 1)
        ns->irregular = "more than one pooling layer";
    if (ns->irregular)
        return HN_OK;
    /* the rebuilt spec must describe the same network, else it is outside
     * the paper's settings: the claims that hold for every matricized
     * network are still evaluated, the ones tied to a setting are n/a */
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
        ns->irregular = "a layer order the paper does not treat"; /* e.g. a ReLU after a pooling */
    return HN_OK;
}

/* ------------------------------------------------------------ structured */

/* Structured instances are built from the structure of the bounds: every
 * bound is a product of per-layer factors (||T^(p)||, ||Q^(p)||, the sizes
 * C, k, d, m, n, h, the weight maxima w, w~) and ||A||, so the
 * constructions below set each factor on its own: 1x1-spatial chains
 * (d = m = n = 1, every norm attained), a first kernel covering the whole
 * input, pooling to 1x1, K = 2 with tied logits (||A|| -> 1/2) and
 * independent weight scales per layer group (w~ << w breaks Lemma 5). */

static void recipe_set(hn_family_recipe *rc, const char *name, double w, hn_kernel_kind ker, int tied,
                       hn_input_kind in, double xs)
{
    rc->name = name;
    for (int g = 0; g < HN_GRP_COUNT; g++)
        rc->scale[g] = w;
    rc->kernel = ker;
    rc->tied = tied;
    rc->input = in;
    rc->x_scale = xs;
}

/* A 1x1-spatial chain: input c_in x 1 (x 1), n_conv 1x1 convs to c
 * channels, the last one to K. */
static void chain_spec(hn_netspec *ns, int dim, size_t c_in, size_t c, size_t K, size_t n_conv, int mse)
{
    memset(ns, 0, sizeof *ns);
    ns->dim = dim;
    ns->in_c = c_in;
    ns->in_h = ns->in_w = 1;
    ns->n_conv = n_conv;
    for (size_t i = 0; i < n_conv; i++) {
        ns->ch[i] = i + 1 == n_conv ? K : c;
        ns->kh[i] = ns->kw[i] = 1;
    }
    ns->K = K;
    ns->mse = mse;
    ns->kpool = 2;
}

/* Theorems 1-2, Lemma 2, Appendices B and D: constant 1x1 chains.  CE with
 * C = K = 2 (Theorems 1, 2: 1/(2 sqrt 2), 1/(8 sqrt 2)), CE with one
 * channel and last layer (+a, -a), a = w / sqrt 2 (equal layer norms,
 * Lemma 2: 1/(2 sqrt 2)), MSE with C = K = 1 (1/sqrt 2); tied logits. */
static void st_chain(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    static const double ws[] = {0.5, 1.0, 4.0};
    int dim = 1 + (int)(v % 2);
    size_t kind = (v / 2) % 3, n_conv = 1 + (v / 6) % 3;
    double w = ws[(v / 18) % 3];
    if (kind == 0)
        chain_spec(ns, dim, 2, 2, 2, n_conv, 0);
    else if (kind == 1)
        chain_spec(ns, dim, 1, 1, 2, n_conv, 0);
    else
        chain_spec(ns, dim, 1, 1, 1, n_conv, 1);
    recipe_set(rc, "structured-chain", w, HN_KER_CONST, kind < 2, HN_X_CONST, kind < 2 ? 0.0 : 1.0);
    if (kind == 1)
        rc->scale[HN_GRP_LAST] = w / sqrt(2.0);
}

/* Appendices C, D: the first kernel covers the whole C x k (x k) input
 * (d = m = n = 1, ||T||^2 = C^2 k w^2), then a 1x1 conv C -> K = C. */
static void st_whole_kernel(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    int dim = 1 + (int)(v % 2);
    size_t C = 1 + (v / 2) % 3, k = 2 + (v / 6) % 2;
    chain_spec(ns, dim, C, C, C, 2, C == 1);
    ns->in_w = k;
    ns->kw[0] = k;
    if (dim == 2)
        ns->in_h = ns->kh[0] = k;
    recipe_set(rc, "structured-whole-kernel", 1.0, HN_KER_CONST, C > 1, HN_X_CONST, C > 1 ? 0.0 : 1.0);
}

/* Appendix G: a conv whose kernel is the whole C x k x k input, flatten,
 * n_fc constant C x C layers (h = C = K): every factor of appG.GR_conv and
 * GR_fc attained; and the same with w~ = 10^-3 w. */
static void st_whole_kernel_fc(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    size_t C = 1 + v % 2, k = 1 + (v / 2) % 2, n_fc = 1 + (v / 4) % 2;
    chain_spec(ns, 2, C, C, C, 1, C == 1);
    ns->in_h = ns->in_w = ns->kh[0] = ns->kw[0] = k;
    ns->n_fc = n_fc;
    for (size_t j = 0; j < n_fc; j++)
        ns->fc[j] = C;
    recipe_set(rc, "structured-whole-kernel-fc", 1.0, HN_KER_CONST, C > 1, HN_X_CONST, C > 1 ? 0.0 : 1.0);
    if ((v / 8) % 2)
        rc->scale[HN_GRP_FC] = rc->scale[HN_GRP_LAST] = 1e-3;
}

/* Appendix B: one 1x1 conv 1 -> K on a one-pixel input (H_O = x^2 A). */
static void st_submult(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    int dim = 1 + (int)(v % 2);
    size_t K = 1 + (v / 2) % 3;
    chain_spec(ns, dim, 1, K, K, 1, K == 1);
    recipe_set(rc, "structured-single-conv", 1.0, HN_KER_CONST, K > 1, HN_X_CONST, K > 1 ? 0.0 : 1.0);
}

/* Lemma 5 corrected: a one-channel 1x1 conv, flatten, linear 1 -> K with
 * (+a, -a), a / w in {1, 10^-2, 10^-4}. */
static void st_lemma5c(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    static const double as[] = {1.0, 1e-2, 1e-4};
    int mse = (int)(v % 2);
    chain_spec(ns, 2, 1, 1, mse ? 1 : 2, 1, mse);
    ns->ch[0] = 1;
    ns->n_fc = 1;
    ns->fc[0] = ns->K;
    recipe_set(rc, "structured-lemma5-minimal", 1.0, HN_KER_CONST, !mse, HN_X_CONST, mse ? 1.0 : 0.0);
    rc->scale[HN_GRP_LAST] = as[(v / 2) % 3];
}

/* The issue's Lemma 5 counterexample: input 1x3x3, a 2x2 conv 1 -> 2 with
 * all weights 1, flatten, linear 8 -> 2 with rows +0.001 / -0.001; x all
 * ones or uniform positive; CE and MSE. */
static void st_lemma5_issue(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    chain_spec(ns, 2, 1, 2, 2, 1, (int)(v % 2));
    ns->in_h = ns->in_w = 3;
    ns->kh[0] = ns->kw[0] = 2;
    ns->n_fc = 1;
    ns->fc[0] = 2;
    recipe_set(rc, "structured-lemma5-issue", 1.0, HN_KER_CONST, 1, (v / 2) % 2 ? HN_X_UNIFORM : HN_X_CONST, 1.0);
    rc->scale[HN_GRP_LAST] = 1e-3;
}

/* Lemmas 3-4, Appendices E-F: global pooling (k_pool = the input side)
 * instead of the ReLU, 1x1 constant convs; max or avg, k_pool 2..4,
 * (n_conv, pooled after) in {(2,1), (3,1), (3,2)}; CE with C = K = 2
 * tied, MSE with C = K = 1.  Then 1-D: k_pool 2..3. */
static void st_pooled(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    int one_d = v >= 36;
    size_t u = one_d ? v - 36 : v;
    int pool = 1 + (int)(u % 2), mse = (int)((u / 2) % 2);
    size_t kp = 2 + (u / 4) % (one_d ? 2 : 3), layout = one_d ? 0 : (u / 12) % 3;
    size_t C = mse ? 1 : 2;
    chain_spec(ns, one_d ? 1 : 2, 1, C, C, layout ? 3 : 2, mse);
    ns->in_w = kp;
    ns->in_h = one_d ? 1 : kp;
    ns->pool = pool;
    ns->pool_replaces_relu = 1;
    ns->pool_after = layout == 2 ? 1 : 0;
    ns->kpool = kp;
    recipe_set(rc, "structured-global-pool", 1.0, HN_KER_CONST, !mse, HN_X_CONST, mse ? 1.0 : 0.0);
}

/* One-hot and +-1 kernels, one-hot and constant inputs, tiny and huge x:
 * input 1x3x3, 2x2 conv 1 -> 2, ReLU, 2x2 conv 2 -> K. */
static void st_patterns(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    int mse = (int)(v % 2);
    chain_spec(ns, 2, 1, 2, 2, 2, mse);
    ns->in_h = ns->in_w = 3;
    ns->kh[0] = ns->kw[0] = ns->kh[1] = ns->kw[1] = 2;
    recipe_set(rc, "structured-patterns", 1.0, (v / 2) % 2 ? HN_KER_ONEHOT : HN_KER_PM1, !mse,
               (v / 4) % 2 ? HN_X_ONEHOT : HN_X_CONST, (v / 8) % 2 ? 1e4 : 1e-4);
}

/* Fixed grids of per-group scales: an FC-head net (input 1x3x3, 2x2 conv
 * 1 -> 2, flatten, FC 8 -> 4 -> 2) over conv x FC scales in {10^-4, 1,
 * 10^4}^2; a 1-D conv-only net (input 2x5, 2-wide convs 2 -> 2 -> 2, the
 * last over the remaining 3 positions) over first / inner / last in
 * {10^-2, 10^2}^3; CE and MSE. */
static void st_group_grid(size_t v, hn_netspec *ns, hn_family_recipe *rc)
{
    static const double g3[] = {1e-4, 1.0, 1e4}, g2[] = {1e-2, 1e2};
    int mse = (int)(v % 2);
    size_t u = v / 2;
    if (u < 9) {
        chain_spec(ns, 2, 1, 2, 2, 1, mse);
        ns->in_h = ns->in_w = 3;
        ns->kh[0] = ns->kw[0] = 2;
        ns->n_fc = 2;
        ns->fc[0] = 4;
        ns->fc[1] = 2;
        recipe_set(rc, "structured-group-grid-fc", g3[u % 3], HN_KER_CONST, !mse, HN_X_CONST, 1.0);
        rc->scale[HN_GRP_FC] = rc->scale[HN_GRP_LAST] = g3[u / 3];
        return;
    }
    u -= 9;
    chain_spec(ns, 1, 2, 2, 2, 3, mse);
    ns->in_w = 5;
    ns->kw[0] = ns->kw[1] = 2;
    ns->kw[2] = 3;
    recipe_set(rc, "structured-group-grid-conv", g2[u % 2], HN_KER_CONST, !mse, HN_X_CONST, 1.0);
    rc->scale[HN_GRP_INNER] = g2[(u / 2) % 2];
    rc->scale[HN_GRP_LAST] = g2[(u / 4) % 2];
}

static const struct {
    size_t variants;
    void (*build)(size_t v, hn_netspec *ns, hn_family_recipe *rc);
} structured[] = {
    {54, st_chain}, {12, st_whole_kernel}, {16, st_whole_kernel_fc}, {6, st_submult},
    {6, st_lemma5c}, {4, st_lemma5_issue}, {44, st_pooled}, {16, st_patterns}, {34, st_group_grid},
};
#define N_STRUCTURED_ARCH (sizeof structured / sizeof structured[0])

size_t hn_family_structured_count(void)
{
    size_t n = 0;
    for (size_t a = 0; a < N_STRUCTURED_ARCH; a++)
        n += structured[a].variants;
    return n;
}

void hn_family_structured(size_t i, hn_netspec *ns, hn_family_recipe *rc)
{
    for (size_t a = 0; a < N_STRUCTURED_ARCH; a++) {
        if (i < structured[a].variants) {
            structured[a].build(i, ns, rc);
            return;
        }
        i -= structured[a].variants;
    }
    structured[0].build(0, ns, rc); /* out of range: the first construction */
}

void hn_family_scaled(gsl_rng *r, hn_family_target target, hn_netspec *ns, hn_family_recipe *rc)
{
    hn_family_random_spec(r, ns, target);
    int adv = 0;
    if (gsl_rng_uniform(r) < 0.3) /* 1x1 kernels, the last conv over what remains */
        adv_1x1_kernels(ns, 0, target, &adv);
    rc->name = "structured-group-scales";
    for (int g = 0; g < HN_GRP_COUNT; g++)
        rc->scale[g] = log_uniform(r, -4.0, 4.0);
    rc->kernel = (hn_kernel_kind)gsl_rng_uniform_int(r, 4);
    rc->tied = gsl_rng_uniform(r) < 0.5;
    rc->input = (hn_input_kind)gsl_rng_uniform_int(r, 4);
    rc->x_scale = gsl_rng_uniform(r) < 0.3 ? 0.0 : log_uniform(r, -4.0, 4.0);
    if (ns->n_fc && gsl_rng_uniform(r) < 0.5) {
        /* Lemma 5's bracket: w~ << w, the FC layers 10^-8 .. 10^-3 times
         * the convs (one conv scale), logits tied so ||A|| is not lost to
         * saturation */
        double w = rc->scale[HN_GRP_FIRST];
        rc->scale[HN_GRP_INNER] = rc->scale[HN_GRP_LASTCONV] = w;
        rc->scale[HN_GRP_FC] = rc->scale[HN_GRP_LAST] = w * log_uniform(r, -8.0, -3.0);
        rc->tied = 1;
        rc->x_scale = 0.0;
    }
}

static hn_layer_group layer_group(const hn_model *m, size_t t, size_t n_conv)
{
    if (t + 1 == m->n_linear)
        return HN_GRP_LAST;
    if (m->layers[m->linear_pos[t]].type == HN_LINEAR)
        return HN_GRP_FC;
    if (t == 0)
        return HN_GRP_FIRST;
    return t + 1 == n_conv ? HN_GRP_LASTCONV : HN_GRP_INNER;
}

/* The weights of linear layer t: the recipe's pattern at its group's scale. */
static void fill_layer(gsl_rng *r, const hn_model *m, size_t t, const hn_family_recipe *rc, double *theta)
{
    const hn_layer *ly = &m->layers[m->linear_pos[t]];
    size_t n_conv = 0;
    for (size_t u = 0; u < m->n_linear; u++)
        n_conv += m->layers[m->linear_pos[u]].type != HN_LINEAR;
    const double b = rc->scale[layer_group(m, t, n_conv)];
    const size_t ci = ly->in.c, kk = ly->type == HN_LINEAR ? 1 : ly->kh * ly->kw;
    for (size_t j = 0; j < ly->param_count; j++) {
        size_t o = j / (ci * kk), i = (j / kk) % ci, a = j % kk;
        double v = b;
        if (rc->kernel == HN_KER_PM1)
            v = gsl_rng_uniform(r) < 0.5 ? -b : b;
        else if (rc->kernel == HN_KER_ONEHOT)
            v = (a == 0 && i == o % ci) ? b : 0.0;
        else if (rc->kernel == HN_KER_UNIFORM)
            v = b * (2 * gsl_rng_uniform(r) - 1);
        if (rc->tied && t + 1 == m->n_linear && o % 2)
            v = -v;
        theta[ly->param_offset + j] = v;
    }
}

int hn_family_fill(gsl_rng *r, const hn_model *m, const hn_family_recipe *rc, double *theta, hn_samples *s,
                   hn_err *err)
{
    for (size_t t = 0; t < m->n_linear; t++)
        fill_layer(r, m, t, rc, theta);
    const double xs = rc->x_scale > 0 ? rc->x_scale : 1.0;
    for (size_t i = 0; i < s->n * s->in_size; i++) {
        double u = gsl_rng_uniform(r);
        double x = rc->input == HN_X_CONST    ? 1.0
                   : rc->input == HN_X_ONEHOT ? (i % s->in_size == 0 ? 1.0 : 0.0)
                   : rc->input == HN_X_UNIFORM ? u
                                               : 2 * u - 1;
        s->x[i] = xs * x;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->y_class)
            s->y_class[i] = (long)gsl_rng_uniform_int(r, m->classes);
        if (s->y_vec)
            for (size_t k = 0; k < m->classes; k++)
                s->y_vec[i * m->classes + k] = 2 * gsl_rng_uniform(r) - 1;
    }
    if (rc->x_scale > 0)
        return HN_OK;
    /* tie: bias-free ReLU/pooling nets are positively homogeneous in x, so
     * scaling x scales the logits; max |z| = HN_TIE_LOGIT */
    hn_ws *ws;
    double z[64];
    if (m->classes > 64)
        return HN_OK;
    int rc2 = hn_ws_alloc(m, &ws, err);
    if (rc2)
        return rc2;
    for (size_t i = 0; i < s->n; i++) {
        double *x = s->x + i * s->in_size, mx = 0;
        hn_forward(m, theta, x, ws, z);
        for (size_t k = 0; k < m->classes; k++)
            mx = fmax(mx, fabs(z[k]));
        if (mx > 0 && isfinite(mx))
            for (size_t j = 0; j < s->in_size; j++)
                x[j] *= HN_TIE_LOGIT / mx;
    }
    hn_ws_free(ws);
    return HN_OK;
}
