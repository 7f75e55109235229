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
