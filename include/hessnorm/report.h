/* hessnorm — report helpers shared by `audit` and `experiment`: a growable
 * text buffer, atomic file output, gnuplot figures, progress callbacks. */
#ifndef HESSNORM_REPORT_H
#define HESSNORM_REPORT_H
#include <stddef.h>
#include "hessnorm/error.h"

/* Growable NUL-terminated text buffer.  On allocation failure `failed` is
 * set and further appends are ignored; hn_buf_save reports HN_ENOMEM. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} hn_buf;

void hn_buf_init(hn_buf *b);
void hn_buf_free(hn_buf *b);
void hn_buf_printf(hn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hn_buf_puts(hn_buf *b, const char *s);
/* Append s escaped for HTML text. */
void hn_buf_html(hn_buf *b, const char *s);
/* Write the buffer to path atomically. */
int hn_buf_save(const hn_buf *b, const char *path, hn_err *err);

/* Create a directory (and parents); existing is fine. */
int hn_mkdir_p(const char *path, hn_err *err);

/* Run gnuplot on `script` (which must `set output` to `png_path`.tmp —
 * use the token @OUT@, replaced by the temporary name) and rename the
 * result to png_path.  HN_EIO if gnuplot is missing or fails. */
int hn_gnuplot(const char *script, const char *png_path, hn_err *err);
/* 1 if a gnuplot with the pngcairo or png terminal is available. */
int hn_gnuplot_available(void);

/* Progress: the library reports through this callback (the CLI prints it
 * on stderr).  NULL = silent. */
typedef void (*hn_progress_fn)(void *ctx, const char *msg);

#endif
