/* hessnorm example: how tight is Theorem 2 (or any claim) on my network?
 *
 *   cc tightness.c $(pkg-config --cflags --libs hessnorm) -o tightness
 *   ./tightness model.json weights.safetensors sample.safetensors
 *
 * Loads a network in the interchange format (docs/format.md; python3 -m
 * hessnorm export writes it from PyTorch), prints ||H_O|| and the outer-
 * product spectrum of its first sample (hn_inspect), then every claim of
 * the paper that applies to it with measured / bound (hn_audit_one). */
#include <stdio.h>
#include <stdlib.h>
#include "hessnorm.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.json WEIGHTS.safetensors SAMPLE.safetensors\n", argv[0]);
        return 2;
    }
    hn_gsl_quiet(); /* errors come back as codes; GSL never aborts */
    hn_err e;
    hn_err_clear(&e);
    hn_model *m = NULL;
    hn_samples *s = NULL;
    double *theta = NULL;
    hn_inspect_result *r = NULL;
    hn_claim_instance *ci = NULL;
    int status = 1;
    if (hn_model_load(argv[1], &m, &e) || !(theta = calloc(m->n_params, sizeof *theta)) ||
        hn_weights_load(m, argv[2], theta, &e) || hn_samples_load(m, argv[3], &s, &e)) {
        fprintf(stderr, "tightness: %s\n", e.msg[0] ? e.msg : "out of memory");
        goto done;
    }
    hn_samples one = hn_samples_view(s, 0);
    if (hn_inspect(m, theta, &one, &r, &e)) {
        fprintf(stderr, "tightness: %s\n", e.msg);
        goto done;
    }
    printf("%zu parameters, loss %.6g, ||H_O|| %.6g (%zu nonzero eigenvalues), ||H|| %.6g\n", r->num_params,
           r->loss, r->ho_norm, r->n_ho_eigs, r->h_norm);
    size_t n = 0;
    if (!(ci = calloc(hn_claims_count(), sizeof *ci)) ||
        hn_audit_one(m, theta, s, NULL, ci, hn_claims_count(), &n, &e)) {
        fprintf(stderr, "tightness: %s\n", ci ? e.msg : "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (ci[i].applicable && ci[i].claim->rel == HN_REL_LE)
            printf("%-26s %-12s measured/bound %.3e%s\n", ci[i].claim->id, ci[i].claim->location, ci[i].ratio,
                   ci[i].violated ? "  VIOLATED" : ci[i].undecided ? "  undecided" : "");
    status = 0;
done:
    free(ci);
    hn_inspect_free(r);
    hn_samples_free(s);
    free(theta);
    hn_model_free(m);
    return status;
}
