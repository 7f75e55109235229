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
    case HN_EOVERFLOW: return "result overflows";
    case HN_ESTOPPED: return "stopped at the time limit";
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

/* Back to the start of a UTF-8 character (never into a multi-byte one). */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

const char *hn_path_short(char *buf, size_t n, const char *path)
{
    size_t len = strlen(path);
    if (n == 0)
        return buf;
    if (len < n) {
        memcpy(buf, path, len + 1);
        return buf;
    }
    if (n < 8) { /* no room for head, "..." and tail: the head alone, whole characters */
        size_t head = char_start(path, n - 1);
        memcpy(buf, path, head);
        buf[head] = '\0';
        return buf;
    }
    /* the head keeps where it is, the longer tail the file's own name */
    size_t keep = n - 4, head = char_start(path, keep / 3);
    size_t from = len - (keep - head);
    while (from < len && ((unsigned char)path[from] & 0xC0) == 0x80)
        from++;
    memcpy(buf, path, head);
    memcpy(buf + head, "...", 3);
    memcpy(buf + head + 3, path + from, len - from + 1);
    return buf;
}

/* A message longer than the buffer: its first field (a file name in
 * every message that names one) is shortened in the middle so that the
 * field and the reason after it fit; failing that, the whole message. */
static void fit(const char *big, char *msg)
{
    const char *colon = strstr(big, ": ");
    size_t rest = colon ? strlen(colon) : 0;
    if (colon && colon > big && rest + 16 < HN_ERR_MSG_LEN) {
        char head[HN_ERR_MSG_LEN], path[HN_ERR_BIG];
        size_t p = (size_t)(colon - big);
        memcpy(path, big, p);
        path[p] = '\0';
        hn_path_short(head, HN_ERR_MSG_LEN - rest, path);
        snprintf(msg, HN_ERR_MSG_LEN, "%s%s", head, colon);
    } else {
        hn_path_short(msg, HN_ERR_MSG_LEN, big);
    }
}

int hn_err_set(hn_err *e, int code, const char *fmt, ...)
{
    if (e) {
        char big[HN_ERR_BIG];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(big, sizeof big, fmt, ap);
        va_end(ap);
        if (n < 0)
            big[0] = '\0';
        if (strlen(big) < sizeof e->msg)
            memcpy(e->msg, big, strlen(big) + 1);
        else
            fit(big, e->msg);
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
    memcpy(tmp, e->msg, sizeof tmp);
    hn_err_set(e, e->code, "%s: %s", prefix, tmp);
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
