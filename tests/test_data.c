/* hessnorm — tests of the dataset loaders (IDX, CIFAR-10, digit sheet).
 * Expected pixel values and labels come from fixtures/data/make_fixtures.py
 * (its formulas and the numbers it printed), not from the loaders.  Bad
 * files are written into a temporary directory by the tests themselves. */
#define _GNU_SOURCE
#include "testutil.h"
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "hessnorm/alloc.h"
#include "hessnorm/data.h"
#include "hessnorm/error.h"

/* Pixels are k/255 for a byte k computed the same way on both sides; the
 * only error is the rounding of one division. */
#define PIX_TOL 1e-15

static char tmpdir[256];

/* ------------------------------------------------------------ helpers */

static const char *fx(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "%s", hn_test_path(rel));
    return buf;
}

static const char *tmp(char *buf, const char *name)
{
    snprintf(buf, PATH_MAX, "%s/%s", tmpdir, name);
    return buf;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void spit_gz(const char *path, const void *b, size_t n)
{
    gzFile g = gzopen(path, "wb9");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, b, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* rc is `code`, the message is one line, mentions `needle` and (if given)
 * the file name. */
#define assert_fails(rc, code, e, needle, path) \
    check_failure((rc), (code), &(e), (needle), (path), __FILE__, __LINE__)
static void check_failure(int rc, int code, const hn_err *e, const char *needle,
                          const char *path, const char *file, int line)
{
    if (rc != code || !e->msg[0] || strchr(e->msg, '\n') || (needle && !strstr(e->msg, needle)) ||
        (path && !strstr(e->msg, path))) {
        print_error("status %d (expected %d), message \"%s\" (expected to contain \"%s\" and "
                    "\"%s\")\n",
                    rc, code, e->msg, needle ? needle : "", path ? path : "");
        _fail(file, line);
    }
}

static void class_counts(const hn_dataset *d, size_t counts[10])
{
    memset(counts, 0, 10 * sizeof counts[0]);
    for (size_t i = 0; i < d->n; i++) {
        assert_true(d->y[i] <= 9);
        counts[d->y[i]]++;
    }
}

static void assert_unit_range(const hn_dataset *d)
{
    double lo = 1, hi = 0;
    size_t tot = d->n * d->c * d->h * d->w;
    for (size_t i = 0; i < tot; i++) {
        lo = d->x[i] < lo ? d->x[i] : lo;
        hi = d->x[i] > hi ? d->x[i] : hi;
    }
    assert_true(lo >= 0.0 && hi <= 1.0);
    assert_true(hi > lo);
}

static double px(const hn_dataset *d, size_t k, size_t c, size_t i, size_t j)
{
    return d->x[((k * d->c + c) * d->h + i) * d->w + j];
}

static int same_data(const hn_dataset *a, const hn_dataset *b)
{
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w &&
           memcmp(a->x, b->x, a->n * a->c * a->h * a->w * sizeof(double)) == 0 &&
           memcmp(a->y, b->y, a->n) == 0;
}

/* Fail the k-th allocation for k = 0, 1, 2, ... until the call succeeds;
 * every failure must be a clean HN_ENOMEM with *out NULL and a message
 * naming one of the files involved (valgrind checks that nothing leaks). */
typedef int (*loader)(const void *arg, hn_dataset **out, hn_err *err);
static void fault_sweep(loader f, const void *arg, const char *file_a, const char *file_b)
{
    long k;
    for (k = 0; k < 10000; k++) {
        hn_err e;
        hn_dataset *d = (hn_dataset *)&e; /* poison: must be reset to NULL */
        hn_err_clear(&e);
        hn_alloc_fail_after(k);
        int rc = f(arg, &d, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK) {
            assert_non_null(d);
            hn_dataset_free(d);
            break;
        }
        assert_null(d);
        assert_fails(rc, HN_ENOMEM, e, "out of memory", NULL);
        if (!strstr(e.msg, file_a) && !(file_b && strstr(e.msg, file_b)))
            fail_msg("k = %ld: \"%s\" names neither %s nor %s", k, e.msg, file_a,
                     file_b ? file_b : "-");
    }
    assert_true(k > 0 && k < 10000); /* at least one allocation was failed */
}

/* ------------------------------------------------------------ fixtures */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int group_setup(void **state)
{
    (void)state;
    hn_gsl_quiet();
    snprintf(tmpdir, sizeof tmpdir, "%s", hn_test_tmpdir());
    return strcmp(tmpdir, "/tmp") == 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------ IDX */

/* make_fixtures.py: train pixel(k,i,j) = (k*31 + i*7 + j) % 256, label (3k) % 10. */
static void check_idx_train(const hn_dataset *d)
{
    static const unsigned char labels[7] = {0, 3, 6, 9, 2, 5, 8};
    assert_int_equal(d->n, 7);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, 28);
    assert_int_equal(d->w, 28);
    assert_memory_equal(d->y, labels, 7);
    assert_close(px(d, 3, 0, 5, 11), 139 / 255.0, 0, PIX_TOL);  /* printed by the script */
    assert_close(px(d, 6, 0, 27, 27), 146 / 255.0, 0, PIX_TOL); /* wraps mod 256 */
    assert_close(px(d, 0, 0, 0, 0), 0.0, 0, 0);
    for (size_t k = 0; k < 7; k++)
        for (size_t i = 0; i < 28; i++)
            for (size_t j = 0; j < 28; j++)
                assert_close(px(d, k, 0, i, j), ((k * 31 + i * 7 + j) % 256) / 255.0, 0, PIX_TOL);
}

static void test_idx_raw_and_gz(void **state)
{
    (void)state;
    char pi[PATH_MAX], pl[PATH_MAX], gi[PATH_MAX], gl[PATH_MAX];
    hn_dataset *raw = NULL, *gz = NULL, *mixed = NULL;
    hn_err e;
    fx(pi, "fixtures/data/idx/train-images-idx3-ubyte");
    fx(pl, "fixtures/data/idx/train-labels-idx1-ubyte");
    fx(gi, "fixtures/data/idx/train-images-idx3-ubyte.gz");
    fx(gl, "fixtures/data/idx/train-labels-idx1-ubyte.gz");
    assert_int_equal(hn_idx_load(pi, pl, &raw, &e), HN_OK);
    check_idx_train(raw);
    assert_int_equal(hn_idx_load(gi, gl, &gz, &e), HN_OK);
    check_idx_train(gz);
    assert_int_equal(hn_idx_load(gi, pl, &mixed, &e), HN_OK);
    assert_true(same_data(raw, gz));
    assert_true(same_data(raw, mixed));
    hn_dataset_free(raw);
    hn_dataset_free(gz);
    hn_dataset_free(mixed);

    /* t10k (gz only): pixel (k*17 + i*5 + 2j + 100) % 256, label (7k + 4) % 10. */
    static const unsigned char tlab[3] = {4, 1, 8};
    fx(gi, "fixtures/data/idx/t10k-images-idx3-ubyte.gz");
    fx(gl, "fixtures/data/idx/t10k-labels-idx1-ubyte.gz");
    assert_int_equal(hn_idx_load(gi, gl, &gz, &e), HN_OK);
    assert_int_equal(gz->n, 3);
    assert_memory_equal(gz->y, tlab, 3);
    assert_close(px(gz, 2, 0, 10, 20), 224 / 255.0, 0, PIX_TOL); /* printed by the script */
    assert_close(px(gz, 0, 0, 0, 0), 100 / 255.0, 0, PIX_TOL);
    hn_dataset_free(gz);
}

/* An IDX image file of n x rows x cols with header fields as given and
 * `body` bytes of the train pattern. */
static void write_idx_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows,
                             uint32_t cols, size_t body)
{
    unsigned char *b = calloc(16 + body, 1);
    assert_non_null(b);
    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t i = 0; i < body; i++)
        b[16 + i] = (unsigned char)(i % 251);
    spit(path, b, 16 + body);
    free(b);
}

static void write_idx_labels(const char *path, uint32_t magic, uint32_t n, size_t body,
                             unsigned char bad_at, unsigned char bad_value)
{
    unsigned char *b = calloc(8 + body, 1);
    assert_non_null(b);
    put_be32(b, magic);
    put_be32(b + 4, n);
    for (size_t i = 0; i < body; i++)
        b[8 + i] = (unsigned char)(i % 10);
    if (bad_at < body)
        b[8 + bad_at] = bad_value;
    spit(path, b, 8 + body);
    free(b);
}

static void test_idx_bad_files(void **state)
{
    (void)state;
    char img[PATH_MAX], lab[PATH_MAX], good_img[PATH_MAX], good_lab[PATH_MAX], p[PATH_MAX];
    hn_dataset *d = NULL;
    hn_err e;
    const size_t body = 7 * 28 * 28;
    fx(good_img, "fixtures/data/idx/train-images-idx3-ubyte");
    fx(good_lab, "fixtures/data/idx/train-labels-idx1-ubyte");
    tmp(img, "bad-images");
    tmp(lab, "bad-labels");

    /* Missing file, directory. */
    assert_fails(hn_idx_load(tmp(p, "no-such-file"), good_lab, &d, &e), HN_EIO, e,
                 "cannot open", p);
    assert_null(d);
    assert_fails(hn_idx_load(tmpdir, good_lab, &d, &e), HN_EIO, e, "Is a directory",
                 tmpdir);

    /* Wrong magic: unsigned-byte 2-dim, and files swapped. */
    write_idx_images(img, 0x00000802, 7, 28, 28, body);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "field magic is 0x00000802",
                 img);
    assert_fails(hn_idx_load(good_lab, good_img, &d, &e), HN_EFORMAT, e,
                 "magic is 0x00000801, expected 0x00000803", good_lab);
    assert_fails(hn_idx_load(good_img, good_img, &d, &e), HN_EFORMAT, e,
                 "magic is 0x00000803, expected 0x00000801", good_img);

    /* Truncated header. */
    write_idx_images(img, 0x00000803, 7, 28, 28, body);
    size_t len;
    unsigned char *raw = slurp(img, &len);
    spit(img, raw, 10);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "truncated IDX header", img);
    spit(lab, raw, 0);
    assert_fails(hn_idx_load(good_img, lab, &d, &e), HN_EFORMAT, e, "0 of 8 bytes", lab);

    /* Truncated pixels, detected before any allocation: with every
     * allocation failing the answer is still the format error. */
    spit(img, raw, len - 100);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "truncated: 5388 bytes",
                 img);
    hn_alloc_fail_after(0);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "truncated", img);
    hn_alloc_fail_after(-1);
    /* ... and in a gzip file whose stream is complete but short. */
    tmp(p, "short.gz");
    spit_gz(p, raw, len - 100);
    assert_fails(hn_idx_load(p, good_lab, &d, &e), HN_EFORMAT, e, "truncated: 5388 bytes", p);

    /* A gzip stream cut off in the middle, and one with a flipped byte. */
    size_t glen;
    unsigned char *gz = slurp(fx(p, "fixtures/data/idx/train-images-idx3-ubyte.gz"), &glen);
    tmp(p, "cut.gz");
    spit(p, gz, glen / 2);
    assert_fails(hn_idx_load(p, good_lab, &d, &e), HN_EFORMAT, e, "truncated", p);
    gz[glen / 2] ^= 0x55;
    tmp(p, "flipped.gz");
    spit(p, gz, glen);
    assert_fails(hn_idx_load(p, good_lab, &d, &e), HN_EFORMAT, e, NULL, p);
    gz[glen / 2] ^= 0x55;
    /* a complete stream followed by garbage, and by a second member */
    unsigned char *gz2 = malloc(2 * glen);
    assert_non_null(gz2);
    memcpy(gz2, gz, glen);
    memcpy(gz2 + glen, "garbage", 7);
    tmp(p, "garbage.gz");
    spit(p, gz2, glen + 7);
    assert_fails(hn_idx_load(p, good_lab, &d, &e), HN_EFORMAT, e, "trailing garbage after the gzip stream", p);
    memcpy(gz2 + glen, gz, glen);
    tmp(p, "twice.gz");
    spit(p, gz2, 2 * glen);
    assert_fails(hn_idx_load(p, good_lab, &d, &e), HN_EFORMAT, e, "a second gzip member", p);
    free(gz2);
    free(gz);

    /* Trailing bytes. */
    unsigned char *longer = calloc(len + 1, 1);
    assert_non_null(longer);
    memcpy(longer, raw, len);
    spit(img, longer, len + 1);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "trailing bytes", img);
    free(longer);
    free(raw);

    /* Counts disagree. */
    write_idx_labels(lab, 0x00000801, 6, 6, 99, 0);
    assert_fails(hn_idx_load(good_img, lab, &d, &e), HN_EFORMAT, e, "count is 6", lab);

    /* Zero dims. */
    write_idx_images(img, 0x00000803, 7, 0, 28, 0);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "field rows is 0", img);
    write_idx_images(img, 0x00000803, 7, 28, 0, 0);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "field cols is 0", img);
    write_idx_images(img, 0x00000803, 0, 28, 28, 0);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_EFORMAT, e, "field count is 0", img);

    /* Absurd dims: products that overflow size_t (or its byte count). */
    write_idx_images(img, 0x00000803, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 16);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_ERANGE, e, "overflow", img);
    write_idx_images(img, 0x00000803, 0xFFFFFFFFu, 0xFFFFFFFFu, 1, 16);
    assert_fails(hn_idx_load(img, good_lab, &d, &e), HN_ERANGE, e, "overflow", img);
    /* Large but representable: the file is far too short, and nothing is
     * allocated from the header (every allocation would fail). */
    write_idx_images(img, 0x00000803, 0x7FFFFFFFu, 28, 28, body);
    write_idx_labels(lab, 0x00000801, 0x7FFFFFFFu, 7, 99, 0);
    hn_alloc_fail_after(0);
    assert_fails(hn_idx_load(img, lab, &d, &e), HN_EFORMAT, e, "truncated", img);
    hn_alloc_fail_after(-1);
    assert_null(d);

    /* Label out of range. */
    write_idx_labels(lab, 0x00000801, 7, 7, 4, 10);
    assert_fails(hn_idx_load(good_img, lab, &d, &e), HN_ERANGE, e, "label[4] is 10", lab);

    /* NULL arguments. */
    assert_fails(hn_idx_load(NULL, good_lab, &d, &e), HN_EINVAL, e, "images path", NULL);
    assert_int_equal(hn_idx_load(good_img, good_lab, NULL, NULL), HN_EINVAL);
}

struct idx_args {
    const char *img, *lab;
};
static int idx_loader(const void *arg, hn_dataset **out, hn_err *err)
{
    const struct idx_args *a = arg;
    return hn_idx_load(a->img, a->lab, out, err);
}

static void test_idx_fault_injection(void **state)
{
    (void)state;
    char pi[PATH_MAX], pl[PATH_MAX];
    struct idx_args a = {fx(pi, "fixtures/data/idx/train-images-idx3-ubyte"),
                         fx(pl, "fixtures/data/idx/train-labels-idx1-ubyte")};
    fault_sweep(idx_loader, &a, pi, pl);
    fx(pi, "fixtures/data/idx/train-images-idx3-ubyte.gz");
    fx(pl, "fixtures/data/idx/train-labels-idx1-ubyte.gz");
    fault_sweep(idx_loader, &a, pi, pl);

    /* A gzip payload larger than the loader's first 64 KiB buffer, so the
     * growth (realloc) path runs and is failed too.  Same pixel formula as
     * the fixture, written here. */
    enum { N = 120, PIX = N * 28 * 28 };
    unsigned char *b = malloc(16 + PIX);
    assert_non_null(b);
    put_be32(b, 0x00000803);
    put_be32(b + 4, N);
    put_be32(b + 8, 28);
    put_be32(b + 12, 28);
    for (size_t k = 0; k < N; k++)
        for (size_t i = 0; i < 28; i++)
            for (size_t j = 0; j < 28; j++)
                b[16 + (k * 28 + i) * 28 + j] = (unsigned char)((k * 31 + i * 7 + j) % 256);
    spit_gz(tmp(pi, "big-images.gz"), b, 16 + PIX);
    free(b);
    write_idx_labels(tmp(pl, "big-labels"), 0x00000801, N, N, 255, 0);
    hn_dataset *d = NULL;
    hn_err e;
    assert_int_equal(hn_idx_load(pi, pl, &d, &e), HN_OK);
    assert_int_equal(d->n, N);
    assert_close(px(d, 119, 0, 27, 27), ((119 * 31 + 27 * 7 + 27) % 256) / 255.0, 0, PIX_TOL);
    assert_int_equal(d->y[119], 119 % 10);
    hn_dataset_free(d);
    fault_sweep(idx_loader, &a, pi, pl);
}

/* ------------------------------------------------------------ CIFAR-10 */

/* make_fixtures.py: record r (global over batches 1, 2) pixel (c,i,j) =
 * (r*13 + c*50 + i*3 + j) % 256, label (7r + 1) % 10. */
static void check_cifar_batches(const hn_dataset *d, size_t nrec)
{
    static const unsigned char labels[6] = {1, 8, 5, 2, 9, 6};
    assert_int_equal(d->n, nrec);
    assert_int_equal(d->c, 3);
    assert_int_equal(d->h, 32);
    assert_int_equal(d->w, 32);
    assert_memory_equal(d->y, labels, nrec);
    if (nrec == 6) {
        assert_close(px(d, 4, 2, 31, 31), 20 / 255.0, 0, PIX_TOL); /* printed by the script */
        assert_close(px(d, 5, 1, 7, 3), 139 / 255.0, 0, PIX_TOL);
    }
    for (size_t r = 0; r < nrec; r++)
        for (size_t c = 0; c < 3; c++)
            for (size_t i = 0; i < 32; i++)
                for (size_t j = 0; j < 32; j++)
                    assert_close(px(d, r, c, i, j), ((r * 13 + c * 50 + i * 3 + j) % 256) / 255.0,
                                 0, PIX_TOL);
}

static void test_cifar_load(void **state)
{
    (void)state;
    char b1[PATH_MAX], b2[PATH_MAX], t[PATH_MAX], g[PATH_MAX];
    hn_dataset *d = NULL, *dz = NULL;
    hn_err e;
    const char *both[2] = {fx(b1, "fixtures/data/cifar/data_batch_1.bin"),
                           fx(b2, "fixtures/data/cifar/data_batch_2.bin")};
    assert_int_equal(hn_cifar10_load(both, 2, &d, &e), HN_OK);
    check_cifar_batches(d, 6);

    /* A gzip copy of batch 1 then raw batch 2 gives the same data. */
    size_t len;
    unsigned char *raw = slurp(b1, &len);
    spit_gz(tmp(g, "data_batch_1.bin.gz"), raw, len);
    free(raw);
    const char *mixed[2] = {g, b2};
    assert_int_equal(hn_cifar10_load(mixed, 2, &dz, &e), HN_OK);
    assert_true(same_data(d, dz));
    hn_dataset_free(d);
    hn_dataset_free(dz);

    const char *one[1] = {b1};
    assert_int_equal(hn_cifar10_load(one, 1, &d, &e), HN_OK);
    check_cifar_batches(d, 3);
    hn_dataset_free(d);

    /* test_batch: pixel (t*29 + c*11 + i + 5j + 7) % 256, label (3t + 8) % 10. */
    const char *test[1] = {fx(t, "fixtures/data/cifar/test_batch.bin")};
    assert_int_equal(hn_cifar10_load(test, 1, &d, &e), HN_OK);
    assert_int_equal(d->n, 2);
    assert_int_equal(d->y[0], 8);
    assert_int_equal(d->y[1], 1);
    assert_close(px(d, 1, 2, 30, 31), 243 / 255.0, 0, PIX_TOL); /* printed by the script */
    assert_close(px(d, 0, 0, 0, 0), 7 / 255.0, 0, PIX_TOL);
    hn_dataset_free(d);
}

static void test_cifar_bad_files(void **state)
{
    (void)state;
    char b1[PATH_MAX], p[PATH_MAX];
    hn_dataset *d = NULL;
    hn_err e;
    size_t len;
    unsigned char *raw = slurp(fx(b1, "fixtures/data/cifar/data_batch_1.bin"), &len);
    unsigned char *longer = calloc(len + 1, 1);
    assert_non_null(longer);
    memcpy(longer, raw, len);

    const char *paths[2] = {b1, tmp(p, "cifar-bad.bin")};
    /* One byte too many: not a multiple of 3073, found from the size alone. */
    spit(p, longer, len + 1);
    assert_fails(hn_cifar10_load(paths, 2, &d, &e), HN_EFORMAT, e,
                 "9220 bytes is not a multiple of the 3073-byte record", p);
    assert_null(d);
    hn_alloc_fail_after(2); /* the two batch-list arrays only: the check needs no buffer */
    assert_fails(hn_cifar10_load(paths + 1, 1, &d, &e), HN_EFORMAT, e, "not a multiple", p);
    hn_alloc_fail_after(-1);
    spit(p, longer, len - 1);
    assert_fails(hn_cifar10_load(paths, 2, &d, &e), HN_EFORMAT, e, "9218 bytes", p);
    /* The same in a gzip file (size known only after decompressing). */
    tmp(p, "cifar-bad.bin.gz");
    spit_gz(p, longer, len + 1);
    assert_fails(hn_cifar10_load(paths, 2, &d, &e), HN_EFORMAT, e, "not a multiple", p);
    spit_gz(p, longer, 0);
    assert_fails(hn_cifar10_load(paths, 2, &d, &e), HN_EFORMAT, e, "empty", p);

    /* Empty file. */
    spit(tmp(p, "cifar-bad.bin"), raw, 0);
    assert_fails(hn_cifar10_load(paths, 2, &d, &e), HN_EFORMAT, e, "empty file", p);

    /* Label > 9 in record 1. */
    raw[3073] = 10;
    spit(p, raw, len);
    assert_fails(hn_cifar10_load(paths, 2, &d, &e), HN_ERANGE, e, "record 1: label 10", p);

    /* Missing second file, no files, NULL entries. */
    tmp(p, "missing.bin");
    assert_fails(hn_cifar10_load(paths, 2, &d, &e), HN_EIO, e, "cannot open", p);
    assert_fails(hn_cifar10_load(paths, 0, &d, &e), HN_EINVAL, e, "no batch files", NULL);
    const char *nul[2] = {b1, NULL};
    assert_fails(hn_cifar10_load(nul, 2, &d, &e), HN_EINVAL, e, "batch path 1 is NULL", NULL);
    assert_null(d);
    free(raw);
    free(longer);
}

struct cifar_args {
    const char *const *paths;
    size_t n;
};
static int cifar_loader(const void *arg, hn_dataset **out, hn_err *err)
{
    const struct cifar_args *a = arg;
    return hn_cifar10_load(a->paths, a->n, out, err);
}

static void test_cifar_fault_injection(void **state)
{
    (void)state;
    char b1[PATH_MAX], b2[PATH_MAX], g[PATH_MAX];
    size_t len;
    fx(b1, "fixtures/data/cifar/data_batch_1.bin");
    unsigned char *raw = slurp(fx(b2, "fixtures/data/cifar/data_batch_2.bin"), &len);
    spit_gz(tmp(g, "fault_batch_2.bin.gz"), raw, len);
    free(raw);
    const char *paths[2] = {b1, g};
    struct cifar_args a = {paths, 2};
    fault_sweep(cifar_loader, &a, b1, g);
}

/* ------------------------------------------------------------ digit sheet */

/* make_fixtures.py: cell (r, col), pixel (i, j): v = (r/5)*20 + (col + 3*(r%5) + i + j) % 16;
 * sample k = r*100 + col, label r/5, padded by 4 zeros on every side. */
static void check_sheet_fixture(const hn_dataset *d)
{
    assert_int_equal(d->n, 5000);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, 28);
    assert_int_equal(d->w, 28);
    assert_close(px(d, 4999, 0, 4 + 19, 4 + 19), 185 / 255.0, 0, PIX_TOL); /* printed */
    assert_close(px(d, 1234, 0, 4 + 7, 4 + 13), 52 / 255.0, 0, PIX_TOL);
    assert_close(px(d, 2705, 0, 4 + 0, 4 + 19), 114 / 255.0, 0, PIX_TOL);
    assert_int_equal(d->y[4999], 9);
    assert_int_equal(d->y[1234], 2);
    assert_int_equal(d->y[2705], 5);
    size_t counts[10];
    class_counts(d, counts);
    for (size_t k = 0; k < 5000; k++) {
        size_t r = k / 100, col = k % 100;
        assert_int_equal(d->y[k], r / 5);
        for (size_t i = 0; i < 28; i++)
            for (size_t j = 0; j < 28; j++) {
                int inside = i >= 4 && i < 24 && j >= 4 && j < 24;
                double v = inside ? ((r / 5) * 20 + (col + 3 * (r % 5) + (i - 4) + (j - 4)) % 16)
                                  : 0;
                assert_close(px(d, k, 0, i, j), v / 255.0, 0, PIX_TOL);
            }
    }
    for (int c = 0; c < 10; c++)
        assert_int_equal(counts[c], 500);
}

static void test_digits_png(void **state)
{
    (void)state;
    char p[PATH_MAX];
    hn_dataset *grey = NULL, *d = NULL;
    hn_err e;
    assert_int_equal(hn_digits_png_load(fx(p, "fixtures/data/digits/digits.png"), &grey, &e),
                     HN_OK);
    check_sheet_fixture(grey);
    /* RGB (R=G=B), 16-bit (v*257) and palette sheets convert to the same grey. */
    static const char *const variants[] = {"fixtures/data/digits/digits-rgb.png",
                                           "fixtures/data/digits/digits-16.png",
                                           "fixtures/data/digits/digits-palette.png"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(hn_digits_png_load(fx(p, variants[i]), &d, &e), HN_OK);
        if (!same_data(grey, d))
            fail_msg("%s differs from the grey sheet", variants[i]);
        hn_dataset_free(d);
    }
    hn_dataset_free(grey);
}

static void test_digits_bad_files(void **state)
{
    (void)state;
    char good[PATH_MAX], p[PATH_MAX];
    hn_dataset *d = NULL;
    hn_err e;
    size_t len;
    unsigned char *png = slurp(fx(good, "fixtures/data/digits/digits.png"), &len);

    assert_fails(hn_digits_png_load(tmp(p, "missing.png"), &d, &e), HN_EIO, e, "cannot open", p);
    spit(tmp(p, "text.png"), "hello, not a png\n", 17);
    assert_fails(hn_digits_png_load(p, &d, &e), HN_EFORMAT, e, "not a PNG", p);
    spit(p, png, 4);
    assert_fails(hn_digits_png_load(p, &d, &e), HN_EFORMAT, e, "not a PNG", p);

    assert_fails(hn_digits_png_load(fx(p, "fixtures/data/digits/small-8x8.png"), &d, &e),
                 HN_EFORMAT, e, "width 8 and height 8, expected width 2000 and height 1000", p);

    /* Truncated: signature only, inside IHDR, inside IDAT, IEND missing. */
    static const size_t cuts[] = {8, 20, 5000};
    for (size_t i = 0; i < 3; i++) {
        spit(tmp(p, "cut.png"), png, cuts[i]);
        assert_fails(hn_digits_png_load(p, &d, &e), HN_EFORMAT, e, "truncated PNG", p);
        assert_null(d);
    }
    spit(p, png, len - 12);
    assert_fails(hn_digits_png_load(p, &d, &e), HN_EFORMAT, e, "truncated PNG", p);

    /* A flipped byte in the IDAT CRC (the 4 bytes before the 12-byte IEND). */
    png[len - 13] ^= 0x01;
    spit(tmp(p, "crc.png"), png, len);
    assert_fails(hn_digits_png_load(p, &d, &e), HN_EFORMAT, e, "IDAT: CRC error", p);
    png[len - 13] ^= 0x01;
    /* A flipped byte early in the IDAT data (which starts at 8 + 25 + 8 = 41):
     * decoding fails before the CRC is reached. */
    png[41 + 100] ^= 0x01;
    spit(p, png, len);
    assert_fails(hn_digits_png_load(p, &d, &e), HN_EFORMAT, e, "corrupt PNG", p);
    assert_null(d);
    assert_int_equal(hn_digits_png_load(NULL, &d, &e), HN_EINVAL);
    free(png);
}

static int png_loader(const void *arg, hn_dataset **out, hn_err *err)
{
    return hn_digits_png_load(arg, out, err);
}

static void test_digits_fault_injection(void **state)
{
    (void)state;
    char p[PATH_MAX];
    fault_sweep(png_loader, fx(p, "fixtures/data/digits/digits.png"), p, NULL);
    fault_sweep(png_loader, fx(p, "fixtures/data/digits/digits-palette.png"), p, NULL);
}

/* ------------------------------------------------------------ subset, find */

static void test_subset(void **state)
{
    (void)state;
    char pi[PATH_MAX], pl[PATH_MAX];
    hn_dataset *d = NULL, *s = NULL;
    hn_err e;
    assert_int_equal(hn_idx_load(fx(pi, "fixtures/data/idx/train-images-idx3-ubyte"),
                                 fx(pl, "fixtures/data/idx/train-labels-idx1-ubyte"), &d, &e),
                     HN_OK);
    assert_int_equal(hn_dataset_subset(d, 2, 3, &s, &e), HN_OK);
    assert_int_equal(s->n, 3);
    assert_int_equal(s->h, 28);
    assert_int_equal(s->y[0], 6); /* labels (3k) % 10 at k = 2, 3, 4 */
    assert_int_equal(s->y[2], 2);
    assert_close(px(s, 1, 0, 5, 11), 139 / 255.0, 0, PIX_TOL); /* sample 3 of the fixture */
    hn_dataset_free(s);
    assert_int_equal(hn_dataset_subset(d, 6, 1, &s, &e), HN_OK);
    assert_close(px(s, 0, 0, 27, 27), 146 / 255.0, 0, PIX_TOL);
    hn_dataset_free(s);

    assert_fails(hn_dataset_subset(d, 0, 0, &s, &e), HN_ERANGE, e, "outside", NULL);
    assert_fails(hn_dataset_subset(d, 5, 3, &s, &e), HN_ERANGE, e, "outside", NULL);
    assert_fails(hn_dataset_subset(d, 8, 1, &s, &e), HN_ERANGE, e, "outside", NULL);
    assert_fails(hn_dataset_subset(d, SIZE_MAX, 2, &s, &e), HN_ERANGE, e, "outside", NULL);
    assert_fails(hn_dataset_subset(d, 2, SIZE_MAX, &s, &e), HN_ERANGE, e, "outside", NULL);
    assert_null(s);
    assert_fails(hn_dataset_subset(NULL, 0, 1, &s, &e), HN_EINVAL, e, "NULL", NULL);

    for (long k = 0;; k++) {
        hn_alloc_fail_after(k);
        int rc = hn_dataset_subset(d, 1, 4, &s, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK)
            break;
        assert_fails(rc, HN_ENOMEM, e, "out of memory", NULL);
        assert_null(s);
    }
    hn_dataset_free(s);
    hn_dataset_free(d);
    hn_dataset_free(NULL);
}

static void test_alloc_shape(void **state)
{
    (void)state;
    hn_dataset *d = NULL;
    hn_err e;
    assert_fails(hn_dataset_alloc(0, 1, 28, 28, &d, &e), HN_EINVAL, e, "zero", NULL);
    assert_fails(hn_dataset_alloc(SIZE_MAX / 2, 3, 32, 32, &d, &e), HN_ERANGE, e, "overflow",
                 NULL);
    assert_null(d);
}

struct find_args {
    const char *name, *dir;
    int train;
};
static int find_loader(const void *arg, hn_dataset **out, hn_err *err)
{
    const struct find_args *a = arg;
    return hn_dataset_find(a->name, a->dir, a->train, out, err);
}

/* dir + "/" + formatted name into buf (PATH_MAX), checked. */
static const char *pjoin(char *buf, const char *dir, const char *fmt, int arg)
{
    char name[256];
    snprintf(name, sizeof name, fmt, arg);
    int m = snprintf(buf, PATH_MAX, "%s/%s", dir, name);
    assert_true(m > 0 && m < PATH_MAX);
    return buf;
}

static void copy_file(const char *from, const char *to)
{
    size_t len;
    unsigned char *b = slurp(from, &len);
    spit(to, b, len);
    free(b);
}

static void test_find_in_dir(void **state)
{
    (void)state;
    char dir[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    hn_dataset *d = NULL, *ref = NULL;
    hn_err e;
    fx(dir, "fixtures/data/idx");

    /* IDX names: train raw (preferred over .gz), t10k only as .gz. */
    assert_int_equal(hn_dataset_find("fashion-mnist", dir, 1, &d, &e), HN_OK);
    check_idx_train(d);
    hn_dataset_free(d);
    assert_int_equal(hn_dataset_find("mnist", dir, 0, &d, &e), HN_OK);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->y[2], 8);
    hn_dataset_free(d);

    /* Dotted names of some MNIST mirrors. */
    char sub[PATH_MAX];
    tmp(sub, "dotted");
    assert_int_equal(mkdir(sub, 0700), 0);
    pjoin(q, sub, "train-images.idx3-ubyte", 0);
    copy_file(fx(p, "fixtures/data/idx/train-images-idx3-ubyte"), q);
    pjoin(q, sub, "train-labels.idx1-ubyte.gz", 0);
    copy_file(fx(p, "fixtures/data/idx/train-labels-idx1-ubyte.gz"), q);
    assert_int_equal(hn_dataset_find("mnist", sub, 1, &d, &e), HN_OK);
    check_idx_train(d);
    hn_dataset_free(d);
    assert_fails(hn_dataset_find("mnist", sub, 0, &d, &e), HN_EIO, e,
                 "no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz", sub);

    /* CIFAR-10: test split flat in the fixture dir; train needs all five
     * batches, here inside cifar-10-batches-bin/ (copies of batches 1, 2). */
    fx(dir, "fixtures/data/cifar");
    assert_int_equal(hn_dataset_find("cifar10", dir, 0, &d, &e), HN_OK);
    assert_int_equal(d->n, 2);
    assert_int_equal(d->y[0], 8);
    hn_dataset_free(d);
    assert_fails(hn_dataset_find("cifar10", dir, 1, &d, &e), HN_EIO, e, "data_batch_3.bin", dir);
    char top[PATH_MAX];
    tmp(top, "cifar");
    assert_int_equal(mkdir(top, 0700), 0);
    pjoin(sub, top, "cifar-10-batches-bin", 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    for (int b = 1; b <= 5; b++) {
        snprintf(p, sizeof p, "fixtures/data/cifar/data_batch_%d.bin", 2 - b % 2);
        char from[PATH_MAX];
        pjoin(q, sub, "data_batch_%d.bin", b);
        copy_file(fx(from, p), q);
    }
    assert_int_equal(hn_dataset_find("cifar10", top, 1, &d, &e), HN_OK);
    assert_int_equal(d->n, 15);
    const char *b12[2] = {fx(p, "fixtures/data/cifar/data_batch_1.bin"),
                          fx(q, "fixtures/data/cifar/data_batch_2.bin")};
    assert_int_equal(hn_cifar10_load(b12, 2, &ref, &e), HN_OK);
    size_t per = 3 * 32 * 32;
    assert_memory_equal(d->x, ref->x, 6 * per * sizeof(double));
    assert_memory_equal(d->x + 12 * per, ref->x, 3 * per * sizeof(double));
    assert_memory_equal(d->y + 6, ref->y, 6);
    hn_dataset_free(ref);
    hn_dataset_free(d);
    struct find_args fa = {"cifar10", top, 1};
    fault_sweep(find_loader, &fa, top, NULL);
    pjoin(p, sub, "data_batch_4.bin", 0);
    assert_int_equal(unlink(p), 0);
    assert_fails(hn_dataset_find("cifar10", top, 1, &d, &e), HN_EIO, e, "data_batch_4.bin", p);

    /* Errors. */
    assert_fails(hn_dataset_find("cifar10", NULL, 1, &d, &e), HN_EINVAL, e,
                 "not packaged in Debian", NULL);
    assert_fails(hn_dataset_find("imagenet", NULL, 1, &d, &e), HN_EINVAL, e, "imagenet", NULL);
    assert_fails(hn_dataset_find("cifar10", tmpdir, 0, &d, &e), HN_EIO, e, "test_batch.bin",
                 tmpdir);
    assert_fails(hn_dataset_find("fashion-mnist", tmpdir, 1, &d, &e), HN_EIO, e,
                 "train-images-idx3-ubyte", tmpdir);
    assert_fails(hn_dataset_find(NULL, NULL, 1, &d, &e), HN_EINVAL, e, "name", NULL);
    assert_null(d);

    struct find_args fm = {"mnist", fx(dir, "fixtures/data/idx"), 0};
    fault_sweep(find_loader, &fm, dir, NULL);
}

/* ------------------------------------------------------------ Debian data */

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* hn_dataset_find("mnist", data) against the sheet all, loaded directly:
 * train = the first 400 of each class block, test = the last 100. */
static void check_digits_split(const char *data, const hn_dataset *all)
{
    hn_dataset *tr = NULL, *te = NULL;
    hn_err e;
    size_t counts[10];
    assert_int_equal(hn_dataset_find("mnist", data, 1, &tr, &e), HN_OK);
    assert_int_equal(hn_dataset_find("mnist", data, 0, &te, &e), HN_OK);
    assert_int_equal(tr->n, 4000);
    assert_int_equal(te->n, 1000);
    class_counts(tr, counts);
    for (int c = 0; c < 10; c++)
        assert_int_equal(counts[c], 400);
    class_counts(te, counts);
    for (int c = 0; c < 10; c++)
        assert_int_equal(counts[c], 100);
    size_t per = 28 * 28;
    for (size_t c = 0; c < 10; c++) {
        assert_memory_equal(tr->x + c * 400 * per, all->x + c * 500 * per,
                            400 * per * sizeof(double));
        assert_memory_equal(te->x + c * 100 * per, all->x + (c * 500 + 400) * per,
                            100 * per * sizeof(double));
    }
    hn_dataset_free(tr);
    hn_dataset_free(te);
}

/* A sheet given as --data FILE (here the committed fixture, so this runs
 * without opencv-doc); a file that is no sheet fails naming the file. */
static void test_digits_sheet_file(void **state)
{
    (void)state;
    char p[4096], q[4096];
    hn_dataset *all = NULL, *d = NULL;
    hn_err e;
    assert_int_equal(hn_digits_png_load(fx(p, "fixtures/data/digits/digits.png"), &all, &e), HN_OK);
    check_digits_split(p, all);
    hn_dataset_free(all);
    assert_fails(hn_dataset_find("mnist", fx(q, "fixtures/data/digits/small-8x8.png"), 1, &d, &e),
                 HN_EFORMAT, e, "expected width 2000 and height 1000", q);
    assert_null(d);
}

/* Debian opencv-doc: the real sheet, and the deterministic split. */
static void test_default_digits(void **state)
{
    (void)state;
    if (!exists(HN_DIGITS_PNG))
        skip();
    hn_dataset *all = NULL;
    hn_err e;
    size_t counts[10];
    assert_int_equal(hn_digits_png_load(HN_DIGITS_PNG, &all, &e), HN_OK);
    assert_int_equal(all->n, 5000);
    assert_int_equal(all->h, 28);
    class_counts(all, counts);
    for (int c = 0; c < 10; c++)
        assert_int_equal(counts[c], 500);
    assert_unit_range(all);
    /* Padding is zero: row 0 and column 27 of every sample. */
    for (size_t k = 0; k < all->n; k++)
        for (size_t t = 0; t < 28; t++)
            assert_true(px(all, k, 0, 0, t) == 0 && px(all, k, 0, t, 27) == 0);

    check_digits_split(NULL, all);
    hn_dataset_free(all);
    struct find_args fa = {"mnist", NULL, 0};
    fault_sweep(find_loader, &fa, HN_DIGITS_PNG, NULL);
}

/* Debian dataset-fashion-mnist: 60000 + 10000, balanced classes. */
static void test_default_fashion(void **state)
{
    (void)state;
    if (!exists(HN_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz") ||
        !exists(HN_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz"))
        skip();
    static const struct {
        int train;
        size_t n;
    } splits[2] = {{1, 60000}, {0, 10000}};
    for (int s = 0; s < 2; s++) {
        hn_dataset *d = NULL;
        hn_err e;
        size_t counts[10];
        assert_int_equal(hn_dataset_find("fashion-mnist", NULL, splits[s].train, &d, &e), HN_OK);
        assert_int_equal(d->n, splits[s].n);
        assert_int_equal(d->c, 1);
        assert_int_equal(d->h, 28);
        assert_int_equal(d->w, 28);
        class_counts(d, counts);
        for (int c = 0; c < 10; c++)
            assert_int_equal(counts[c], splits[s].n / 10);
        assert_unit_range(d);
        hn_dataset_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_raw_and_gz),
        cmocka_unit_test(test_idx_bad_files),
        cmocka_unit_test(test_idx_fault_injection),
        cmocka_unit_test(test_cifar_load),
        cmocka_unit_test(test_cifar_bad_files),
        cmocka_unit_test(test_cifar_fault_injection),
        cmocka_unit_test(test_digits_png),
        cmocka_unit_test(test_digits_bad_files),
        cmocka_unit_test(test_digits_fault_injection),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_alloc_shape),
        cmocka_unit_test(test_find_in_dir),
        cmocka_unit_test(test_digits_sheet_file),
        cmocka_unit_test(test_default_digits),
        cmocka_unit_test(test_default_fashion),
    };
    return cmocka_run_group_tests_name("data", tests, group_setup, group_teardown);
}
