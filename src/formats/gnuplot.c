/* hessnorm — the gnuplot driver for report figures. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hessnorm/buf.h"
#include "hessnorm/gnuplot.h"

int hn_gnuplot_available(void)
{
    return system("gnuplot -e 'set terminal pngcairo' </dev/null >/dev/null 2>&1") == 0 ||
           system("gnuplot -e 'set terminal png' </dev/null >/dev/null 2>&1") == 0;
}

int hn_gnuplot(const char *script, const char *png_path, hn_err *err)
{
    char tmp_png[4200], tmp_gp[4200];
    snprintf(tmp_png, sizeof tmp_png, "%s.tmp%ld", png_path, (long)getpid());
    snprintf(tmp_gp, sizeof tmp_gp, "%s.gp.tmp%ld", png_path, (long)getpid());
    hn_buf b;
    hn_buf_init(&b);
    for (const char *p = script; *p;) {
        const char *q = strstr(p, "@OUT@");
        if (!q) {
            hn_buf_puts(&b, p);
            break;
        }
        hn_buf_printf(&b, "%.*s'%s'", (int)(q - p), p, tmp_png);
        p = q + 5;
    }
    int rc = hn_buf_save(&b, tmp_gp, err);
    hn_buf_free(&b);
    if (rc)
        return rc;
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' </dev/null >/dev/null 2>&1", tmp_gp);
    int st = system(cmd);
    unlink(tmp_gp);
    if (st != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(tmp_png);
        return hn_err_set(err, HN_EIO, "%s: gnuplot failed (is gnuplot-nox installed?)", png_path);
    }
    if (rename(tmp_png, png_path) != 0) {
        int e = errno;
        unlink(tmp_png);
        return hn_err_set(err, HN_EIO, "%s: %s", png_path, strerror(e));
    }
    return HN_OK;
}
