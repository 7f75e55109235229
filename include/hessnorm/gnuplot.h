/* hessnorm — the gnuplot driver for report figures.  gnuplot runs without
 * a shell (argument vector, script on its stdin); every name or text put
 * into a script goes through hn_gnuplot_quote or hn_gnuplot_quote_file. */
#ifndef HESSNORM_GNUPLOT_H
#define HESSNORM_GNUPLOT_H
#include "hessnorm/buf.h"
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Run gnuplot on `script` (which must `set output` to png_path's
 * temporary name — write the token @OUT@, replaced by that name quoted
 * with hn_gnuplot_quote_file) and rename the result to png_path.  HN_EIO
 * "PNG: gnuplot not found (apt-get install gnuplot-nox)" when there is no
 * gnuplot on PATH, "PNG: gnuplot failed (exit status N): REASON" (REASON:
 * gnuplot's error line) when it fails. */
int hn_gnuplot(const char *script, const char *png_path, hn_err *err);
/* 1 if a gnuplot with the pngcairo or png terminal is available. */
int hn_gnuplot_available(void);
/* 1 if gnuplot accepts `set terminal NAME` (NAME a fixed terminal name). */
int hn_gnuplot_terminal(const char *name);

/* Append s to b as a gnuplot string constant that gnuplot reads back as
 * exactly s: single-quoted (no backquote command substitution, no @macro
 * expansion, no backslash escapes; '' is a quote), and what a single-
 * quoted string cannot hold (a control byte -- a newline would end the
 * command --, a leading quote, a second quote in a row) as "..." pieces
 * joined by gnuplot's `.` operator:
 * "it's" -> 'it''s', "a\nb" -> 'a'."\012".'b', "'x" -> "'".'x'. */
void hn_gnuplot_quote(hn_buf *b, const char *s);
/* hn_gnuplot_quote for a file name (set output, plot): a relative name
 * that does not start with an ASCII letter, digit, '_' or '.' gets "./"
 * first, so that gnuplot never takes it for a command ('<cmd' and '|cmd'
 * run one), stdin ('-'), a datablock ('$name'), a special file ('+') or
 * a home directory ('~'). */
void hn_gnuplot_quote_file(hn_buf *b, const char *path);

#ifdef __cplusplus
}
#endif
#endif
