/* hessnorm — NumPy .npy files. */
#ifndef HESSNORM_NPY_H
#define HESSNORM_NPY_H
#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NumPy .npy (format 1.0, '<f8', C order) of a matrix, atomically. */
int hn_npy_save(const char *path, const gsl_matrix *m, hn_err *err);
int hn_npy_save_vec(const char *path, const double *v, size_t n, hn_err *err);
/* Read back a 2-D (or 1-D, as one row) '<f8' .npy (for tests and tools). */
int hn_npy_load(const char *path, gsl_matrix **out, hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
