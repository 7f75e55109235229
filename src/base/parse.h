/* hessnorm — internal: strict number parsing for option values.  Not
 * installed. */
#ifndef HN_BASE_PARSE_H
#define HN_BASE_PARSE_H
#include <stddef.h>

/* s as a decimal count in [min, max] (max <= SIZE_MAX): 0 and *out set,
 * or -1 (*out untouched) when s is empty or NULL, holds anything but the
 * digits 0-9 (no white space, no sign: "-1" never wraps), overflows
 * (ERANGE), or is outside [min, max]. */
int hn_parse_size(const char *s, size_t min, size_t max, size_t *out);

/* s as a decimal real in [min, max]: 0 and *out set, or -1 (*out
 * untouched) for anything strtod would take that is not plain decimal
 * notation starting with a digit (white space, a sign, a leading '.',
 * inf, nan, hexadecimal), trailing characters, overflow or underflow
 * (ERANGE: "1e999", "1e-400", a subnormal), or a value outside [min, max].
 * With no sign, a negative value is never taken (min < 0 is allowed but
 * only [max(min, 0), max] can come out). */
int hn_parse_real(const char *s, double min, double max, double *out);

#endif
