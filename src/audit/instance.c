/* hessnorm — the audit's network instances: allocation, copies, the i-th
 * instance of a run (its own rng stream) and saving one in the interchange
 * format. */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_rng.h>
#include "hessnorm/alloc.h"
#include "hessnorm/seed.h"
#include "hessnorm/file.h"
#include "audit/report.h"
#include "audit/families.h"

void hn_inst_free(hn_inst *in)
{
    if (!in)
        return;
    hn_model_free(in->m);
    hn_free(in->theta);
    hn_free(in->delta);
    hn_samples_free(in->s);
    memset(in, 0, sizeof *in);
}

int hn_inst_alloc(hn_inst *in, const hn_netspec *ns, size_t n_samples, hn_err *err)
{
    memset(in, 0, sizeof *in);
    in->ns = *ns;
    int rc = hn_netspec_model(ns, &in->m, err);
    if (rc)
        return rc;
    in->theta = hn_calloc(in->m->n_params, sizeof(double));
    if (!in->theta || (rc = hn_samples_alloc(in->m, n_samples, &in->s, err)) != 0) {
        hn_inst_free(in);
        return rc ? rc : hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    }
    in->s->batched = n_samples > 1;
    return HN_OK;
}

int hn_inst_copy(hn_inst *dst, const hn_inst *src, hn_err *err)
{
    int rc = hn_inst_alloc(dst, &src->ns, src->s->n, err);
    if (rc)
        return rc;
    const size_t P = src->m->n_params;
    memcpy(dst->theta, src->theta, P * sizeof(double));
    memcpy(dst->s->x, src->s->x, src->s->n * src->s->in_size * sizeof(double));
    if (src->s->y_class)
        memcpy(dst->s->y_class, src->s->y_class, src->s->n * sizeof(long));
    if (src->s->y_vec)
        memcpy(dst->s->y_vec, src->s->y_vec, src->s->n * src->m->classes * sizeof(double));
    dst->lk = src->lk;
    dst->family = src->family;
    if (src->delta) {
        dst->delta = hn_calloc(P, sizeof(double));
        if (!dst->delta) {
            hn_inst_free(dst);
            return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        }
        memcpy(dst->delta, src->delta, P * sizeof(double));
    }
    return HN_OK;
}

/* A structured instance (audit/families.c): deterministic ones draw from a
 * stream of a fixed seed (0), so they do not depend on the run's seed. */
static int inst_structured(unsigned long seed, size_t i, hn_inst_kind kind, hn_inst *in, hn_err *err)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    hn_netspec ns;
    hn_family_recipe rcp;
    if (kind == HN_INST_STRUCTURED) {
        gsl_rng_set(r, hn_seed_derive(0, "audit/structured-fixed", i));
        hn_family_structured(i, &ns, &rcp);
    } else {
        gsl_rng_set(r, hn_seed_derive(seed, "audit/structured", i));
        hn_family_scaled(r, (hn_family_target)(i % HN_FAM_COUNT), &ns, &rcp);
    }
    int rc = hn_inst_alloc(in, &ns, 1, err);
    if (!rc) {
        in->family = rcp.name;
        if ((rc = hn_family_fill(r, in->m, &rcp, in->theta, in->s, err)) != 0)
            hn_inst_free(in);
    }
    gsl_rng_free(r);
    return rc;
}

/* Instance i of the run: its own rng stream, so instance i does not depend
 * on what came before it. */
int hn_inst_make(unsigned long seed, size_t i, hn_inst_kind kind, hn_inst *in, hn_err *err)
{
    if (kind == HN_INST_STRUCTURED || kind == HN_INST_SCALED)
        return inst_structured(seed, i, kind, in, err);
    int adversarial = kind == HN_INST_ADVERSARIAL;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
    gsl_rng_set(r, hn_seed_derive(seed, adversarial ? "audit/adversarial" : "audit/random", i));
    hn_netspec ns;
    /* cycle through the targeted families so every statement's own setting
     * is drawn as often as the others */
    hn_family_target target = (hn_family_target)(i % HN_FAM_COUNT);
    hn_family_random_spec(r, &ns, target);
    int land = target == HN_FAM_PURE;
    int interp = land && gsl_rng_uniform(r) < 0.5;
    size_t k = 0;
    hn_family_weights w = hn_family_random_weights(r);
    if (land)
        k = hn_family_landscape(r, interp, &ns, &w);
    if (land && adversarial)
        interp = hn_family_landscape_extreme(i, &ns, &w);
    if (adversarial && !land)
        hn_family_adversarial(i, target, &ns, &w);
    int rc = hn_inst_alloc(in, &ns, land ? k + 1 : 1, err);
    if (rc) {
        /* the 1x1 rewrite can make a spec invalid: fall back to the random spec */
        gsl_rng_free(r);
        return rc;
    }
    in->family = w.name;
    in->lk = k;
    hn_family_draw(r, in->m, w.scale, w.mode, in->theta, in->s);
    if (interp && (rc = hn_family_interpolate(in->m, in->theta, in->s, err)) != 0) {
        hn_inst_free(in);
        gsl_rng_free(r);
        return rc;
    }
    if (land) {
        const size_t P = in->m->n_params;
        in->delta = hn_calloc(P, sizeof(double));
        if (!in->delta) {
            hn_inst_free(in);
            gsl_rng_free(r);
            return hn_err_set(err, HN_ENOMEM, "audit: out of memory");
        }
        hn_family_delta(r, P, in->theta, adversarial, in->delta);
    }
    gsl_rng_free(r);
    return HN_OK;
}

int hn_inst_save(const hn_inst *in, const char *dir, hn_err *err)
{
    char p[4400];
    int rc = hn_mkdir_p(dir, err);
    if (rc)
        return rc;
    const size_t P = in->m->n_params;
    double *th = hn_calloc(P, sizeof *th);
    if (!th)
        return hn_err_set(err, HN_ENOMEM, "out of memory");
    for (size_t j = 0; j < P; j++)
        th[j] = in->theta[j] + (in->delta ? in->delta[j] : 0.0);
    snprintf(p, sizeof p, "%s/model.json", dir);
    rc = hn_model_save(in->m, p, err);
    snprintf(p, sizeof p, "%s/weights.safetensors", dir);
    if (!rc)
        rc = hn_weights_save(in->m, th, p, err);
    snprintf(p, sizeof p, "%s/sample.safetensors", dir);
    if (!rc)
        rc = hn_samples_save(in->m, in->s, p, err);
    if (!rc && in->delta) {
        snprintf(p, sizeof p, "%s/weights_star.safetensors", dir);
        rc = hn_weights_save(in->m, in->theta, p, err);
    }
    hn_free(th);
    return rc;
}
