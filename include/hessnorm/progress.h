/* hessnorm — progress reporting from the library. */
#ifndef HESSNORM_PROGRESS_H
#define HESSNORM_PROGRESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: the library reports through this callback (the CLI prints it
 * on stderr).  NULL = silent. */
typedef void (*hn_progress_fn)(void *ctx, const char *msg);

/* Throttled progress reporting through hn_progress_fn: step messages at
 * most every `every` seconds (<= 0: every call). */
typedef struct {
    hn_progress_fn fn;   /* NULL = silent */
    void *ctx;
    double every;
    const char *label;   /* prefix of every message, e.g. "model 2/6 L3_k3_C6" */
} hn_progress_cfg;

#ifdef __cplusplus
}
#endif
#endif
