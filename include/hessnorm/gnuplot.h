/* hessnorm — the gnuplot driver for report figures. */
#ifndef HESSNORM_GNUPLOT_H
#define HESSNORM_GNUPLOT_H
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Run gnuplot on `script` (which must `set output` to `png_path`.tmp —
 * use the token @OUT@, replaced by the temporary name) and rename the
 * result to png_path.  HN_EIO if gnuplot is missing or fails. */
int hn_gnuplot(const char *script, const char *png_path, hn_err *err);
/* 1 if a gnuplot with the pngcairo or png terminal is available. */
int hn_gnuplot_available(void);

#ifdef __cplusplus
}
#endif
#endif
