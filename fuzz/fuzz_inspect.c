/* Fuzz `inspect` end to end on tiny models: the model JSON is the input up
 * to the first NUL byte, the weights (safetensors) are the rest; the
 * sample is fixed (x_i = sin(i+1), label 0 or a zero target; two samples
 * when the JSON text's length is odd).  Models above the caps below are
 * skipped so that one run stays in milliseconds. */
#include <math.h>
#include "fuzz_common.h"

#define CAP_PARAMS 96
#define CAP_ACT 256
#define CAP_LAYERS 12

int hn_fuzz_inspect(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul)
        return 0;
    size_t nj = (size_t)(nul - data);
    hn_model *m = NULL;
    hn_err e;
    hn_err_clear(&e);
    int rc = hn_model_parse((const char *)data, nj, "fuzz.json", &m, &e);
    if (rc) {
        hn_fuzz_failed("inspect model", rc, &e);
        return 0;
    }
    if (m->n_params > CAP_PARAMS || m->max_act > CAP_ACT || m->n_layers > CAP_LAYERS ||
        hn_shape_size(m->input) > CAP_ACT) {
        hn_model_free(m);
        return -1; /* not added to the corpus */
    }
    double *theta = calloc(m->n_params, sizeof *theta);
    hn_samples *s = NULL;
    HN_FUZZ_CHECK(theta != NULL);
    rc = hn_weights_load(m, hn_fuzz_file(0, nul + 1, size - nj - 1), theta, &e);
    if (rc) {
        hn_fuzz_failed("inspect weights", rc, &e);
        goto out;
    }
    HN_FUZZ_CHECK(hn_samples_alloc(m, 1 + (nj & 1), &s, &e) == 0);
    for (size_t j = 0; j < s->n * s->in_size; j++)
        s->x[j] = sin((double)(j + 1));
    hn_inspect_result *r = (hn_inspect_result *)1;
    rc = hn_inspect(m, theta, s, &r, &e);
    if (rc) {
        hn_fuzz_failed("inspect", rc, &e);
        HN_FUZZ_CHECK(r == NULL);
        goto out;
    }
    HN_FUZZ_CHECK(r->num_params == m->n_params && r->n_samples == s->n);
    HN_FUZZ_CHECK(r->n_ho_eigs <= m->n_params);
    char *js = hn_inspect_to_json(m, r);
    HN_FUZZ_CHECK(js != NULL); /* non-finite values are written as null */
    hn_free(js);
    hn_inspect_free(r);
out:
    hn_samples_free(s);
    free(theta);
    hn_model_free(m);
    return 0;
}

HN_FUZZ_ENTRY(inspect)
