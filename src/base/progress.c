/* hessnorm — progress lines and durations. */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include "base/progress.h"

/* One formatter for both entry points: "label " + message in a cap-byte
 * line.  Without a label the prefix is empty and off is 0, so the message
 * is formatted exactly as vsnprintf(msg, cap, fmt, ap) would. */
static void say(hn_progress_fn fn, void *ctx, const char *label, size_t cap, const char *fmt,
                va_list ap)
{
    char msg[HN_PROGRESS_MAX];
    if (cap > sizeof msg)
        cap = sizeof msg;
    int off = snprintf(msg, cap, "%s%s", label ? label : "", label ? " " : "");
    if (off < 0 || (size_t)off >= cap)
        off = 0;
    vsnprintf(msg + off, cap - (size_t)off, fmt, ap);
    fn(ctx, msg);
}

void hn_progress_say(const hn_progress_cfg *pr, size_t cap, const char *fmt, ...)
{
    if (!pr || !pr->fn || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    say(pr->fn, pr->ctx, pr->label, cap, fmt, ap);
    va_end(ap);
}

void hn_progress_line(hn_progress_fn fn, void *ctx, size_t cap, const char *fmt, ...)
{
    if (!fn || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    say(fn, ctx, NULL, cap, fmt, ap);
    va_end(ap);
}

void hn_fmt_duration(char *b, size_t n, double s)
{
    if (!(s >= 0) || !isfinite(s))
        snprintf(b, n, "?");
    else if (s < 60)
        snprintf(b, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}
