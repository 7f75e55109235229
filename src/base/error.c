/* hessnorm — status codes and messages. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_errno.h>
#include "hessnorm/error.h"

const char *hn_strerror(int code)
{
    switch (code) {
    case HN_OK: return "success";
    case HN_EINVAL: return "invalid value";
    case HN_ENOMEM: return "out of memory";
    case HN_EIO: return "input/output error";
    case HN_EFORMAT: return "malformed file";
    case HN_ESHAPE: return "shape mismatch";
    case HN_ERANGE: return "size or value out of range";
    case HN_ENUMERIC: return "numerical failure";
    case HN_ETOOBIG: return "dense object too large";
    default: return "unknown error";
    }
}

/* A message is one line: control characters that came in with a quoted
 * name or value (a JSON "\n" escape, a file name) become '?'. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int hn_err_set(hn_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        one_line(e->msg);
        e->code = code;
    }
    return code;
}

void hn_err_prefix(hn_err *e, const char *prefix)
{
    char tmp[HN_ERR_MSG_LEN];
    if (!e || !prefix)
        return;
    /* truncation of an over-long message is acceptable */
    int n = snprintf(tmp, sizeof tmp, "%s: ", prefix);
    if (n < 0 || (size_t)n >= sizeof tmp)
        n = 0;
    memcpy(tmp + n, e->msg, sizeof tmp - (size_t)n - 1);
    tmp[sizeof tmp - 1] = '\0';
    memcpy(e->msg, tmp, sizeof tmp);
    one_line(e->msg);
}

void hn_err_clear(hn_err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

void hn_gsl_quiet(void)
{
    /* GSL's default handler aborts; hessnorm checks every status instead. */
    gsl_set_error_handler_off();
}
