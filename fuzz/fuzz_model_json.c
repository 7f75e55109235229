/* Fuzz the model JSON parser (hn_model_parse).  A parsed model must
 * survive a round trip through hn_model_to_json unchanged. */
#include "fuzz_common.h"

int hn_fuzz_model_json(const uint8_t *data, size_t size)
{
    hn_model *m = (hn_model *)1;
    hn_err e;
    hn_err_clear(&e);
    int rc = hn_model_parse((const char *)data, size, "fuzz.json", &m, &e);
    if (rc) {
        hn_fuzz_failed("model_json", rc, &e);
        HN_FUZZ_CHECK(m == NULL);
        return 0;
    }
    HN_FUZZ_CHECK(m && m->finalized && m->n_linear >= 1 && m->n_params >= 1);
    size_t off = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        const hn_layer *l = &m->layers[i];
        HN_FUZZ_CHECK(hn_shape_size(l->out) >= 1 && hn_shape_size(l->out) <= m->max_act);
        if (l->param_count) {
            HN_FUZZ_CHECK(l->param_offset == off);
            off += l->param_count;
        }
    }
    HN_FUZZ_CHECK(off == m->n_params);
    char *txt = hn_model_to_json(m);
    HN_FUZZ_CHECK(txt != NULL);
    hn_model *m2 = NULL;
    rc = hn_model_parse(txt, strlen(txt), "roundtrip", &m2, &e);
    HN_FUZZ_CHECK(rc == HN_OK);
    HN_FUZZ_CHECK(m2->n_layers == m->n_layers && m2->n_params == m->n_params &&
                  m2->classes == m->classes && m2->loss == m->loss && m2->max_act == m->max_act);
    for (size_t i = 0; i < m->n_layers; i++)
        HN_FUZZ_CHECK(m2->layers[i].type == m->layers[i].type &&
                      m2->layers[i].param_count == m->layers[i].param_count);
    hn_model_free(m2);
    hn_free(txt);
    hn_model_free(m);
    return 0;
}

HN_FUZZ_ENTRY(model_json)
