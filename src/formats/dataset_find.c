/* hessnorm — finding a dataset by name in its Debian location or a data
 * directory (MNIST from the OpenCV digit sheet, Fashion-MNIST and CIFAR-10
 * from their files). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "hessnorm/alloc.h"
#include "hessnorm/data.h"
#include "formats/dataset.h"

#define PER_CLASS HN_DIGITS_PER_CLASS
#define DIGITS_TRAIN_PER_CLASS 400

/* The digit sheet split: samples [lo, lo+len) of every class block. */
static int digits_split(const hn_dataset *all, size_t lo, size_t len, hn_dataset **out,
                        hn_err *err)
{
    int rc = hn_dataset_alloc(10 * len, all->c, all->h, all->w, out, err);
    if (rc)
        return rc;
    size_t per = all->c * all->h * all->w;
    for (size_t cls = 0, k = 0; cls < 10; cls++)
        for (size_t i = 0; i < len; i++, k++) {
            size_t from = cls * PER_CLASS + lo + i;
            memcpy((*out)->x + k * per, all->x + from * per, per * sizeof(double));
            (*out)->y[k] = all->y[from];
        }
    return HN_OK;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A candidate data file: 1 a regular file, 0 absent (try the next name),
 * else an error with its reason ("Is a directory", "Too many levels of
 * symbolic links", "Permission denied", not a regular file). */
static int probe(const char *path, hn_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        struct stat lst;
        if (errno == ENOENT && lstat(path, &lst) == 0)
            return hn_err_set(err, HN_EIO, "%s: cannot open: a symbolic link to a missing file", path);
        if (errno == ENOENT)
            return 0;
        return hn_err_set(err, HN_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return hn_err_set(err, HN_EIO, "%s: cannot read: %s", path, strerror(EISDIR));
    if (!S_ISREG(st.st_mode))
        return hn_err_set(err, HN_EIO, "%s: cannot read: not a regular file", path);
    return 1;
}

/* Join dir and name into buf; HN_ERANGE if it does not fit. */
static int join(char *buf, size_t size, const char *dir, const char *sub, const char *name,
                hn_err *err)
{
    int m = snprintf(buf, size, "%s%s%s%s%s", dir, sub[0] ? "/" : "", sub, "/", name);
    if (m < 0 || (size_t)m >= size)
        return hn_err_set(err, HN_ERANGE, "%s: path too long for %s", dir, name);
    return HN_OK;
}

/* Find <split>-<kind>-idx<d>-ubyte[.gz] (or the dotted variant) in dir. */
static int find_idx(const char *dir, const char *split, const char *kind, int idxdim,
                    const char *hint, char *buf, size_t size, hn_err *err)
{
    static const char *const forms[] = {"%s-%s-idx%d-ubyte", "%s-%s-idx%d-ubyte.gz",
                                        "%s-%s.idx%d-ubyte", "%s-%s.idx%d-ubyte.gz"};
    char name[64];
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(name, sizeof name, forms[i], split, kind, idxdim);
        int rc = join(buf, size, dir, "", name, err);
        if (rc)
            return rc;
        if ((rc = probe(buf, err)) != 0)
            return rc < 0 ? rc : HN_OK;
    }
    return hn_err_set(err, HN_EIO, "%s: no %s-%s-idx%d-ubyte or %s-%s-idx%d-ubyte.gz%s", dir,
                      split, kind, idxdim, split, kind, idxdim, hint);
}

/* (*out)->source = a copy of path, after a load that returned rc. */
static int with_source(int rc, const char *path, hn_dataset **out, hn_err *err)
{
    if (rc)
        return rc;
    size_t n = strlen(path) + 1;
    if (!((*out)->source = hn_malloc(n))) {
        hn_dataset_free(*out);
        *out = NULL;
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    }
    memcpy((*out)->source, path, n);
    return HN_OK;
}

static int find_cifar(const char *dir, int train, hn_dataset **out, hn_err *err)
{
    enum { MAXB = 5, PATHLEN = 4096 };
    static const char *const train_names[MAXB] = {"data_batch_1.bin", "data_batch_2.bin",
                                                  "data_batch_3.bin", "data_batch_4.bin",
                                                  "data_batch_5.bin"};
    static const char *const test_names[1] = {"test_batch.bin"};
    const char *const *names = train ? train_names : test_names;
    size_t nb = train ? MAXB : 1;
    char paths[MAXB][PATHLEN];
    const char *ptrs[MAXB];
    const char *sub = "";
    int rc;

    /* The tarball unpacks to cifar-10-batches-bin/; accept either level. */
    if ((rc = join(paths[0], PATHLEN, dir, "", names[0], err)) != HN_OK)
        return rc;
    if ((rc = probe(paths[0], err)) < 0)
        return rc;
    if (rc == 0) {
        if ((rc = join(paths[0], PATHLEN, dir, "cifar-10-batches-bin", names[0], err)) != HN_OK)
            return rc;
        if ((rc = probe(paths[0], err)) < 0)
            return rc;
        if (rc == 0)
            return hn_err_set(err, HN_EIO, "%s: no %s here or in cifar-10-batches-bin/", dir,
                              names[0]);
        sub = "cifar-10-batches-bin";
    }
    for (size_t i = 0; i < nb; i++) {
        if ((rc = join(paths[i], PATHLEN, dir, sub, names[i], err)) != HN_OK)
            return rc;
        if ((rc = probe(paths[i], err)) < 0)
            return rc;
        if (rc == 0)
            return hn_err_set(err, HN_EIO, "%s: CIFAR-10 batch file missing", paths[i]);
        ptrs[i] = paths[i];
    }
    return with_source(hn_cifar10_load(ptrs, nb, out, err), ptrs[0], out, err);
}

int hn_dataset_find(const char *name, const char *data_dir, int train, hn_dataset **out,
                    hn_err *err)
{
    char img[4096], lab[4096];
    int rc;

    if (!out)
        return hn_err_set(err, HN_EINVAL, "hn_dataset_find: out is NULL");
    *out = NULL;
    if (!name)
        return hn_err_set(err, HN_EINVAL, "hn_dataset_find: name is NULL");
    if (strcmp(name, "cifar10") == 0) {
        struct stat cst;
        if (data_dir && stat(data_dir, &cst) != 0)
            return hn_err_set(err, HN_EIO, "%s: cannot open: %s", data_dir, strerror(errno));
        if (!data_dir)
            return hn_err_set(err, HN_EINVAL,
                              "cifar10: a data directory is required (CIFAR-10 is not packaged "
                              "in Debian; unpack cifar-10-binary.tar.gz and pass its directory)");
        return find_cifar(data_dir, train, out, err);
    }
    int fashion = strcmp(name, "fashion-mnist") == 0;
    if (!fashion && strcmp(name, "mnist") != 0)
        return hn_err_set(err, HN_EINVAL,
                          "unknown dataset name '%s' (expected mnist, fashion-mnist or cifar10)",
                          name);
    struct stat dst;
    if (data_dir && stat(data_dir, &dst) != 0)
        return hn_err_set(err, HN_EIO, "%s: cannot open: %s", data_dir, strerror(errno));
    /* MNIST itself is not in Debian; its 20x20 digits ship with opencv-doc.
     * A regular file given as the data "directory" is a sheet in the same
     * layout (a user's copy of digits.png). */
    if (!fashion && (!data_dir || is_file(data_dir))) {
        const char *sheet = data_dir ? data_dir : HN_DIGITS_PNG;
        hn_dataset *all = NULL;
        if (!is_file(sheet))
            return hn_err_set(err, HN_EIO,
                              "%s: missing; pass a data directory with the MNIST IDX files or "
                              "install the Debian package opencv-doc",
                              sheet);
        if ((rc = hn_digits_png_load(sheet, &all, err)) != HN_OK)
            return rc;
        rc = train ? digits_split(all, 0, DIGITS_TRAIN_PER_CLASS, out, err)
                   : digits_split(all, DIGITS_TRAIN_PER_CLASS, PER_CLASS - DIGITS_TRAIN_PER_CLASS,
                                  out, err);
        if (rc)
            hn_err_prefix(err, sheet);
        hn_dataset_free(all);
        return with_source(rc, sheet, out, err);
    }
    const char *dir = data_dir ? data_dir : HN_FASHION_MNIST_DIR;
    const char *hint = data_dir ? "" : " (install the Debian package dataset-fashion-mnist)";
    const char *split = train ? "train" : "t10k";
    if ((rc = find_idx(dir, split, "images", 3, hint, img, sizeof img, err)) != HN_OK ||
        (rc = find_idx(dir, split, "labels", 1, hint, lab, sizeof lab, err)) != HN_OK)
        return rc;
    return with_source(hn_idx_load(img, lab, out, err), img, out, err);
}
