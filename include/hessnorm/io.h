/* hessnorm — small file utilities: whole-file reads, atomic writes, .npy. */
#ifndef HESSNORM_IO_H
#define HESSNORM_IO_H
#include <stddef.h>
#include <gsl/gsl_matrix.h>
#include "hessnorm/error.h"

/* Read a whole file (NUL-terminated copy; *len excludes the NUL). */
int hn_read_file(const char *path, char **buf, size_t *len, hn_err *err);
/* Write len bytes to path through path.tmp.XXXXXX + fsync + rename, so
 * that the file appears whole or not at all; then remove any other
 * path.tmp.XXXXXX beside it (left by a writer killed mid-write). */
int hn_write_file_atomic(const char *path, const void *buf, size_t len, hn_err *err);
/* NumPy .npy (format 1.0, '<f8', C order) of a matrix, atomically. */
int hn_npy_save(const char *path, const gsl_matrix *m, hn_err *err);
int hn_npy_save_vec(const char *path, const double *v, size_t n, hn_err *err);
/* Read back a 2-D (or 1-D, as one row) '<f8' .npy (for tests and tools). */
int hn_npy_load(const char *path, gsl_matrix **out, hn_err *err);

#endif
