/* hessnorm — the memory room left to this process (see base/mem.h). */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "base/mem.h"

/* VmSize and VmData in bytes from /proc/self/statm (fields 1 and 6, in
 * pages); 0 when unknown. */
static void vm_use(double *vsize, double *vdata)
{
    unsigned long long sz = 0, res, shr, txt, lib, dat = 0;
    *vsize = *vdata = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return;
    if (fscanf(f, "%llu %llu %llu %llu %llu %llu", &sz, &res, &shr, &txt, &lib, &dat) == 6) {
        double pg = (double)sysconf(_SC_PAGESIZE);
        *vsize = (double)sz * pg;
        *vdata = (double)dat * pg;
    }
    fclose(f);
}

/* MemAvailable in bytes, or -1 when /proc/meminfo does not say. */
static double mem_available(void)
{
    char line[256];
    double v = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            v = (double)kb * 1024.0;
            break;
        }
    }
    fclose(f);
    return v;
}

static void consider(double limit, double used, const char *what, double *room, const char **bound)
{
    double left = limit > used ? limit - used : 0;
    if (left < *room) {
        *room = left;
        *bound = what;
    }
}

void hn_mem_room_get(hn_mem_room *r, int as_only)
{
    double room = (double)SIZE_MAX, vsize, vdata;
    const char *bound = NULL;
    struct rlimit rl;
    vm_use(&vsize, &vdata);
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        consider((double)rl.rlim_cur, vsize, "the address-space limit (ulimit -v)", &room, &bound);
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        consider((double)rl.rlim_cur, vdata, "the data-size limit (ulimit -d)", &room, &bound);
    double av = as_only ? -1 : mem_available();
    if (av >= 0)
        consider(av, 0, "the available memory (MemAvailable)", &room, &bound);
    r->room = room >= (double)SIZE_MAX ? SIZE_MAX : (size_t)room;
    r->bound = bound;
}

const char *hn_mem_str(char *buf, size_t n, double b)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (b >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0]) {
        b /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f B", b);
    else
        snprintf(buf, n, b < 10 ? "%.1f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

int hn_mem_check(double need, const char *what, const char *hint, hn_err *err)
{
    hn_mem_room r;
    hn_mem_room_get(&r, 0);
    if (need <= (double)r.room)
        return HN_OK;
    char a[32], b[32];
    return hn_err_set(err, HN_ENOMEM, "%s need %s, more than the %s left under %s%s%s", what,
                      hn_mem_str(a, sizeof a, need), hn_mem_str(b, sizeof b, (double)r.room),
                      r.bound ? r.bound : "the memory limit", hint && hint[0] ? "; " : "",
                      hint ? hint : "");
}
