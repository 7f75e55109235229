/* hessnorm — internal: the one wall clock (progress lines, timings in the
 * reports, the audit's budget).  Not installed. */
#ifndef HN_BASE_CLOCK_H
#define HN_BASE_CLOCK_H

/* Seconds on CLOCK_MONOTONIC: only differences mean anything. */
double hn_clock_s(void);

#endif
