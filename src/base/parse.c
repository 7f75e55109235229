/* hessnorm — strict number parsing. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include "base/parse.h"

int hn_parse_size(const char *s, size_t min, size_t max, size_t *out)
{
    char *e;
    errno = 0;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno || e == s || *e || s[0] == '-' || x < min || x > max)
        return -1;
    *out = (size_t)x;
    return 0;
}
