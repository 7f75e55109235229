/* hessnorm — internal: how much memory this process may still take, so
 * that large work is refused up front with one line instead of failing
 * half-way (or, inside OpenBLAS, retrying an mmap forever).  Not
 * installed. */
#ifndef HN_BASE_MEM_H
#define HN_BASE_MEM_H
#include <stddef.h>
#include "hessnorm/error.h"

/* The room left: the smallest of RLIMIT_AS minus the address space in use
 * (VmSize), RLIMIT_DATA minus the data in use (VmData) and MemAvailable.
 * bound names the one that binds ("the address-space limit (ulimit -v)",
 * "the data-size limit (ulimit -d)", "the available memory
 * (MemAvailable)"); with none known, room is SIZE_MAX and bound NULL.
 * as_only: only the two limits (address space that is mapped but not
 * touched, such as OpenBLAS's buffers, needs no physical memory). */
typedef struct {
    size_t room;
    const char *bound;
} hn_mem_room;
void hn_mem_room_get(hn_mem_room *r, int as_only);

/* bytes as "512 B", "12.0 KiB", "350 MiB", "1.2 GiB" into buf (n >= 16). */
const char *hn_mem_str(char *buf, size_t n, double bytes);

/* need fits the room (hn_mem_room_get(.., 0)): HN_OK.  Otherwise HN_ENOMEM
 * with "<what> need <need>, more than the <room> left under <bound>;
 * <hint>" (what and hint are the caller's: the input and count that set
 * the size, and the flag or change that lowers it). */
int hn_mem_check(double need, const char *what, const char *hint, hn_err *err);

#endif
