/* hessnorm fuzzing — shared helpers of the libFuzzer harnesses.
 *
 * Every harness is one function hn_fuzz_<name>(data, size) that feeds the
 * bytes to a parser or loader and checks the library's contract:
 *   failure: a known negative HN_E* code, a non-empty one-line message,
 *            NULL outputs (and, under ASan/LSan, nothing leaked);
 *   success: the result is self-consistent (sizes, ranges, round trips).
 * A broken contract aborts, so libFuzzer records the input as a crash.
 *
 * The same sources build two ways: with -fsanitize=fuzzer (make fuzz,
 * clang) each file defines LLVMFuzzerTestOneInput; with -DHN_FUZZ_REPLAY
 * (make check) fuzz/replay.c runs the seed corpora and the regression
 * inputs under fixtures/fuzz/ through the same functions. */
#ifndef HN_FUZZ_COMMON_H
#define HN_FUZZ_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "hessnorm.h"

#define HN_FUZZ_CHECK(c)                                                                      \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "hessnorm fuzz: contract broken: %s (%s:%d)\n", #c, __FILE__,      \
                    __LINE__);                                                                \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* The failure contract; with HN_FUZZ_VERBOSE set, print the message (the
 * README's table of hostile inputs is made this way). */
static inline void hn_fuzz_failed(const char *what, int rc, const hn_err *e)
{
    if (getenv("HN_FUZZ_VERBOSE"))
        fprintf(stderr, "%s: %s: %s\n", what, hn_strerror(rc), e->msg);
    HN_FUZZ_CHECK(rc <= HN_EINVAL && rc >= HN_EOVERFLOW);
    HN_FUZZ_CHECK(e->code == rc);
    HN_FUZZ_CHECK(e->msg[0] != '\0');
    HN_FUZZ_CHECK(strchr(e->msg, '\n') == NULL);
}

static char hn_fuzz_paths[4][128];

static inline void hn_fuzz_cleanup(void)
{
    for (int i = 0; i < 4; i++)
        if (hn_fuzz_paths[i][0])
            unlink(hn_fuzz_paths[i]);
}

/* Scratch file `slot` (0..3) holding data[0..n) (the loaders take paths).
 * On tmpfs when there is one; one set per process, rewritten in place,
 * removed at exit. */
static inline const char *hn_fuzz_file(int slot, const uint8_t *data, size_t n)
{
    char *path = hn_fuzz_paths[slot];
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof hn_fuzz_paths[slot], "%s/hn_fuzz_%ld_%d", dir, (long)getpid(), slot);
        static int registered;
        if (!registered++)
            atexit(hn_fuzz_cleanup);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    HN_FUZZ_CHECK(fd >= 0);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        HN_FUZZ_CHECK(w > 0);
        off += (size_t)w;
    }
    close(fd);
    return path;
}

/* Split data at a 16-bit little-endian length stored in its first two
 * bytes: part A = the next min(len, rest) bytes, part B = the remainder. */
static inline void hn_fuzz_split(const uint8_t *d, size_t n, const uint8_t **a, size_t *na,
                                 const uint8_t **b, size_t *nb)
{
    size_t len = n >= 2 ? (size_t)d[0] | (size_t)d[1] << 8 : 0;
    size_t rest = n >= 2 ? n - 2 : 0;
    if (len > rest)
        len = rest;
    *a = d + (n >= 2 ? 2 : n);
    *na = len;
    *b = *a + len;
    *nb = rest - len;
}

#ifdef HN_FUZZ_REPLAY
#define HN_FUZZ_ENTRY(name)
#else
#define HN_FUZZ_ENTRY(name)                                                                   \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                             \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                              \
    {                                                                                         \
        return hn_fuzz_##name(data, size);                                                    \
    }
#endif

int hn_fuzz_model_json(const uint8_t *data, size_t size);
int hn_fuzz_safetensors(const uint8_t *data, size_t size);
int hn_fuzz_weights_samples(const uint8_t *data, size_t size);
int hn_fuzz_idx(const uint8_t *data, size_t size);
int hn_fuzz_cifar10(const uint8_t *data, size_t size);
int hn_fuzz_digits_png(const uint8_t *data, size_t size);
int hn_fuzz_inspect(const uint8_t *data, size_t size);

#endif
