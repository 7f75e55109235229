/* hessnorm — progress reporting from the library. */
#ifndef HESSNORM_PROGRESS_H
#define HESSNORM_PROGRESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: the library reports through this callback (the CLI prints it
 * on stderr).  NULL = silent. */
typedef void (*hn_progress_fn)(void *ctx, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
