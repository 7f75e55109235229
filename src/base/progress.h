/* hessnorm — internal: the one progress line and the one duration of the
 * library (training, evaluation, the experiment, the audit).  Not
 * installed; the callback and its settings are hessnorm/progress.h. */
#ifndef HN_BASE_PROGRESS_H
#define HN_BASE_PROGRESS_H
#include <stddef.h>
#include "hessnorm/progress.h"

/* The longest line (bytes with the NUL) a caller may ask for. */
#define HN_PROGRESS_MAX 768

/* pr->fn(pr->ctx, "<label> <message>"), the whole line cut to cap - 1
 * bytes (cap <= HN_PROGRESS_MAX; larger is taken as HN_PROGRESS_MAX);
 * without the label and its space when pr->label is NULL; nothing when pr
 * or pr->fn is NULL.  The cap is the caller's: the lines were cut at 512
 * (training, the audit), 600 (the sweep lines) and 768 (one model's
 * lines) and keep those lengths. */
void hn_progress_say(const hn_progress_cfg *pr, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same without a cfg: fn(ctx, message), nothing when fn is NULL. */
void hn_progress_line(hn_progress_fn fn, void *ctx, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "42s", "3m07s", "2h05m" or "?" for a negative or non-finite s, into b
 * (n bytes, snprintf's truncation). */
void hn_fmt_duration(char *b, size_t n, double s);

#endif
