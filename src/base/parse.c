/* hessnorm — strict number parsing. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include "base/parse.h"

int hn_parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    /* digits only: strtoull would skip white space and take a sign, and
     * "-1" or " -1" would wrap to ULLONG_MAX */
    if (!s || s[0] < '0' || s[0] > '9')
        return -1;
    char *e;
    errno = 0;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno || *e || x < min || x > max)
        return -1;
    *out = (size_t)x;
    return 0;
}

int hn_parse_real(const char *s, double min, double max, double *out)
{
    /* a decimal number: digits first (no white space, sign, "inf", "nan"
     * or hexadecimal, which strtod would take) */
    if (!s || s[0] < '0' || s[0] > '9' || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return -1;
    char *e;
    errno = 0;
    double x = strtod(s, &e);
    if (errno || *e || !(x >= min && x <= max))
        return -1;
    *out = x;
    return 0;
}
