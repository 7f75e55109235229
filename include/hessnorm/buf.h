/* hessnorm — growable text buffers (reports, JSON, scripts). */
#ifndef HESSNORM_BUF_H
#define HESSNORM_BUF_H
#include <stddef.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
