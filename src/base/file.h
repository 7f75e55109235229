/* hessnorm — internal: the EINTR-safe descriptor loops of src/base/file.c
 * and its open-for-reading step, shared by the file writers and the
 * safetensors reader.  Not installed. */
#ifndef HN_BASE_FILE_H
#define HN_BASE_FILE_H
#include <stddef.h>
#include <sys/stat.h>
#include "hessnorm/error.h"

/* Write all len bytes (in chunks of at most SSIZE_MAX, retrying on EINTR).
 * 0, or -1 with errno set (EIO when write returns 0). */
int hn_write_all(int fd, const void *p, size_t len);

/* Read exactly n bytes (retrying on EINTR).  0, or -1 with errno set by a
 * read error, or with errno 0 at an end of file before n bytes. */
int hn_read_exact(int fd, void *p, size_t n);

/* Open path read-only and fstat it: HN_OK with *fd open and *st filled;
 * otherwise HN_EIO ("<path>: cannot open: ..." or "<path>: cannot stat:
 * ...") with *fd -1 (nothing left open). */
int hn_open_read(const char *path, int *fd, struct stat *st, hn_err *err);

#endif
