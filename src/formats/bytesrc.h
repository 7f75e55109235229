/* hessnorm — internal: one byte reader for raw and gzip files, shared by
 * the IDX and CIFAR-10 loaders.  For raw files the size is known up front;
 * for gzip it is not, so payloads are read into a buffer that grows only
 * as decompressed bytes actually arrive.  Not installed. */
#ifndef HN_FORMATS_BYTESRC_H
#define HN_FORMATS_BYTESRC_H
#include <stddef.h>
#include <stdio.h>
#include <zlib.h>
#include "hessnorm/error.h"

typedef struct {
    const char *path;
    FILE *f;                 /* the file (raw, or the gzip stream's bytes) */
    int gz;                  /* 1: f holds one gzip member, inflated through z */
    z_stream *z;             /* gzip: zlib's state (its allocations through hn_malloc) */
    unsigned char *in;       /* gzip: the input buffer */
    int end;                 /* gzip: the member has ended (and nothing follows it) */
    unsigned long long size; /* file size in bytes */
    unsigned long long pos;  /* raw: bytes consumed */
} hn_src;

/* Open path (a regular file), raw or gzip by its 1f 8b magic, not its
 * name.  On failure nothing is left open. */
int hn_src_open(hn_src *s, const char *path, hn_err *err);
/* Close what is open; twice is fine. */
void hn_src_close(hn_src *s);
/* Read up to n bytes; *got < n only at end of data.  Read failures,
 * corrupt or cut-off gzip streams, and anything after the gzip member (a
 * second member, trailing garbage) are errors naming `what`. */
int hn_src_read(hn_src *s, void *buf, size_t n, size_t *got, const char *what, hn_err *err);
/* Read the rest of the data, at most `want` bytes, into a new buffer.
 * *len is the number of bytes present (<= want) and *more is set when data
 * continues past `want`.  With `exact` and a raw file whose remaining size
 * differs from `want`, nothing is read or allocated (*buf NULL, *len and
 * *more describe the mismatch). */
int hn_src_slurp(hn_src *s, size_t want, int exact, unsigned char **buf, size_t *len, int *more,
                 const char *what, hn_err *err);

#endif
