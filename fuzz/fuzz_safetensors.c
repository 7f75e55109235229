/* Fuzz the safetensors reader (hn_st_parse).  Accepted tensors must lie
 * inside the buffer, tile it, and convert without reading past it. */
#include "fuzz_common.h"

static size_t dtype_size(hn_st_dtype t)
{
    return t == HN_ST_F64 || t == HN_ST_I64 ? 8 : t == HN_ST_F32 || t == HN_ST_I32 ? 4 : 0;
}

int hn_fuzz_safetensors(const uint8_t *data, size_t size)
{
    hn_st_file *f = (hn_st_file *)1;
    hn_err e;
    hn_err_clear(&e);
    int rc = hn_st_parse(data, size, "fuzz.safetensors", &f, &e);
    if (rc) {
        hn_fuzz_failed("safetensors", rc, &e);
        HN_FUZZ_CHECK(f == NULL);
        return 0;
    }
    HN_FUZZ_CHECK(f != NULL);
    size_t covered = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const hn_st_tensor *t = &f->tensors[i];
        /* an empty name is legal in the format (the writer refuses one) */
        HN_FUZZ_CHECK(t->name != NULL);
        HN_FUZZ_CHECK(t->begin <= t->end && t->end <= f->data_len);
        HN_FUZZ_CHECK(hn_st_find(f, t->name) == t);
        covered += t->end - t->begin;
        size_t es = dtype_size(t->dtype);
        if (!es)
            continue;
        HN_FUZZ_CHECK(t->end - t->begin == t->numel * es);
        void *buf = malloc(t->numel ? t->numel * 8 : 1);
        HN_FUZZ_CHECK(buf != NULL);
        if (t->dtype == HN_ST_F64 || t->dtype == HN_ST_F32)
            rc = hn_st_to_f64(f, t, buf, &e);
        else
            rc = hn_st_to_i64(f, t, buf, &e);
        if (rc)
            hn_fuzz_failed("safetensors convert", rc, &e);
        free(buf);
    }
    HN_FUZZ_CHECK(covered == f->data_len); /* no gap, no overlap */
    hn_st_free(f);
    return 0;
}

HN_FUZZ_ENTRY(safetensors)
