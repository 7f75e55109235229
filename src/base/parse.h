/* hessnorm — internal: strict number parsing for option values.  Not
 * installed. */
#ifndef HN_BASE_PARSE_H
#define HN_BASE_PARSE_H
#include <stddef.h>

/* s as a decimal count in [min, max] (max <= SIZE_MAX): 0 and *out set,
 * or -1 (*out untouched) when s is empty, starts with '-', has anything
 * after the digits, overflows, or is outside [min, max].  As strtoull:
 * leading white space and one '+' are accepted. */
int hn_parse_size(const char *s, size_t min, size_t max, size_t *out);

#endif
