/* Fuzz weights and samples loading (hn_weights_load, hn_samples_load)
 * against fixed models.  Input: byte 0 picks the model (even: the
 * fixtures/example ConvNet, cross-entropy; odd: a 1-D MSE net), then a
 * 16-bit length splits the rest into the weights file and the samples
 * file. */
#include <math.h>
#include "fuzz_common.h"

static const char *const MODELS[2] = {
    "{\"format\": \"hessnorm-model/1\", \"input\": [1, 8, 8], \"classes\": 4,"
    " \"loss\": \"cross_entropy\", \"layers\": ["
    " {\"type\": \"conv2d\", \"out_channels\": 2, \"kernel\": [3, 3]}, {\"type\": \"relu\"},"
    " {\"type\": \"maxpool2d\", \"kernel\": 2},"
    " {\"type\": \"conv2d\", \"out_channels\": 3, \"kernel\": [2, 2]}, {\"type\": \"relu\"},"
    " {\"type\": \"flatten\"}, {\"type\": \"linear\", \"out_features\": 4}]}",
    "{\"format\": \"hessnorm-model/1\", \"input\": [2, 6], \"classes\": 2, \"loss\": \"mse\","
    " \"layers\": [{\"type\": \"conv1d\", \"out_channels\": 2, \"kernel\": 3},"
    " {\"type\": \"avgpool1d\", \"kernel\": 2}, {\"type\": \"flatten\"},"
    " {\"type\": \"linear\", \"out_features\": 2}]}"};

int hn_fuzz_weights_samples(const uint8_t *data, size_t size)
{
    static hn_model *models[2];
    hn_err e;
    if (size < 1)
        return 0;
    hn_model *m = models[data[0] & 1];
    if (!m) {
        const char *txt = MODELS[data[0] & 1];
        HN_FUZZ_CHECK(hn_model_parse(txt, strlen(txt), "fixed", &models[data[0] & 1], &e) == 0);
        m = models[data[0] & 1];
    }
    const uint8_t *w, *s;
    size_t nw, ns;
    hn_fuzz_split(data + 1, size - 1, &w, &nw, &s, &ns);

    double *theta = calloc(m->n_params, sizeof *theta);
    HN_FUZZ_CHECK(theta != NULL);
    hn_err_clear(&e);
    int rc = hn_weights_load(m, hn_fuzz_file(0, w, nw), theta, &e);
    if (rc)
        hn_fuzz_failed("weights", rc, &e);
    else
        for (size_t j = 0; j < m->n_params; j++)
            HN_FUZZ_CHECK(isfinite(theta[j]));
    free(theta);

    hn_samples *smp = (hn_samples *)1;
    hn_err_clear(&e);
    rc = hn_samples_load(m, hn_fuzz_file(1, s, ns), &smp, &e);
    if (rc) {
        hn_fuzz_failed("samples", rc, &e);
        HN_FUZZ_CHECK(smp == NULL);
        return 0;
    }
    HN_FUZZ_CHECK(smp->n >= 1 && smp->in_size == hn_shape_size(m->input) && smp->classes == m->classes);
    for (size_t j = 0; j < smp->n * smp->in_size; j++)
        HN_FUZZ_CHECK(isfinite(smp->x[j]));
    for (size_t i = 0; i < smp->n; i++) {
        if (m->loss == HN_LOSS_CE)
            HN_FUZZ_CHECK(smp->y_class[i] >= 0 && (size_t)smp->y_class[i] < m->classes);
        else
            for (size_t k = 0; k < m->classes; k++)
                HN_FUZZ_CHECK(isfinite(smp->y_vec[i * m->classes + k]));
    }
    hn_samples_free(smp);
    return 0;
}

HN_FUZZ_ENTRY(weights_samples)
