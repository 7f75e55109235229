/* hessnorm — small file utilities: whole-file reads, atomic writes, directories. */
#ifndef HESSNORM_FILE_H
#define HESSNORM_FILE_H
#include <stddef.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read a whole file (NUL-terminated copy; *len excludes the NUL). */
int hn_read_file(const char *path, char **buf, size_t *len, hn_err *err);
/* Write len bytes to path through path.tmp.XXXXXX + fsync + rename, so
 * that the file appears whole or not at all; then remove any other
 * path.tmp.XXXXXX beside it left by a writer killed mid-write (one a live
 * writer holds locked until its rename is left alone, so processes may
 * write one path at once). */
int hn_write_file_atomic(const char *path, const void *buf, size_t len, hn_err *err);
/* Create a directory (and parents); existing is fine. */
int hn_mkdir_p(const char *path, hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
