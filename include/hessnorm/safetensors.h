/* hessnorm — safetensors reader and writer.
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F64", "shape": [...], "data_offsets": [b, e]}, ...,
 *  "__metadata__": {...}}, then the data buffer; offsets are relative to
 * the start of the buffer.  The reader checks every field and that the
 * tensors tile the buffer exactly (no overlap, no gap, nothing past end). */
#ifndef HESSNORM_SAFETENSORS_H
#define HESSNORM_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { HN_ST_F64, HN_ST_F32, HN_ST_I64, HN_ST_I32, HN_ST_OTHER } hn_st_dtype;

#define HN_ST_MAX_DIMS 8
typedef struct {
    char *name;
    hn_st_dtype dtype;
    char dtype_name[16];
    int ndim;
    size_t shape[HN_ST_MAX_DIMS];
    size_t numel;
    size_t begin, end;       /* byte offsets into data */
} hn_st_tensor;

typedef struct {
    char *path;
    size_t n_tensors;
    hn_st_tensor *tensors;
    unsigned char *data;
    size_t data_len;
} hn_st_file;

/* Largest header accepted (bytes); larger is an error, not an allocation. */
#define HN_ST_MAX_HEADER (100u * 1024u * 1024u)

int hn_st_read(const char *path, hn_st_file **out, hn_err *err);
int hn_st_parse(const unsigned char *buf, size_t len, const char *source,
                hn_st_file **out, hn_err *err);
void hn_st_free(hn_st_file *f);
const hn_st_tensor *hn_st_find(const hn_st_file *f, const char *name);
/* Convert a float tensor (F64/F32) to doubles; rejects NaN/Inf. */
int hn_st_to_f64(const hn_st_file *f, const hn_st_tensor *t, double *out, hn_err *err);
/* Convert an integer tensor (I64/I32) to long. */
int hn_st_to_i64(const hn_st_file *f, const hn_st_tensor *t, long *out, hn_err *err);

/* Writer: collect tensors, then write atomically.  Tensors are sorted by
 * name in the header and in the data buffer; the header is padded with
 * spaces to a multiple of 8 bytes. */
typedef struct hn_st_writer hn_st_writer;
hn_st_writer *hn_st_writer_new(void);
/* data is copied; dtype HN_ST_F64 (double*), HN_ST_F32 (float*),
 * HN_ST_I64 (int64_t*) or HN_ST_I32 (int32_t*); ndim 0 is a scalar.
 * Names must be non-empty UTF-8, unique, and not "__metadata__". */
int hn_st_writer_add(hn_st_writer *w, const char *name, hn_st_dtype dtype,
                     int ndim, const size_t *shape, const void *data, hn_err *err);
int hn_st_writer_save(hn_st_writer *w, const char *path, hn_err *err);
void hn_st_writer_free(hn_st_writer *w);

#ifdef __cplusplus
}
#endif
#endif
