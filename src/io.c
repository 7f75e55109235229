/* hessnorm — whole-file reads, atomic writes, NumPy .npy files. */
#include "config.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <gsl/gsl_errno.h>
#include "hessnorm/alloc.h"
#include "hessnorm/io.h"

/* ------------------------------------------------------------ reading */

int hn_read_file(const char *path, char **buf, size_t *len, hn_err *err)
{
    int fd, rc = HN_OK;
    struct stat st;
    size_t cap, n = 0;
    char *b = NULL;

    *buf = NULL;
    if (len)
        *len = 0;
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return hn_err_set(err, HN_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = hn_err_set(err, HN_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = hn_err_set(err, HN_EIO, "%s: cannot read: %s", path, strerror(EISDIR));
        goto out;
    }
    /* The size is only a hint (pipes and /proc report 0); read until EOF. */
    cap = (S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size < SIZE_MAX - 1)
              ? (size_t)st.st_size + 1
              : 4096;
    b = hn_malloc(cap);
    if (!b) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory reading the file", path);
        goto out;
    }
    for (;;) {
        ssize_t r;
        if (n + 1 >= cap) {
            char *nb;
            if (cap > SIZE_MAX / 2) {
                rc = hn_err_set(err, HN_ERANGE, "%s: file too large", path);
                goto out;
            }
            nb = hn_realloc(b, cap * 2);
            if (!nb) {
                rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory reading the file", path);
                goto out;
            }
            b = nb;
            cap *= 2;
        }
        r = read(fd, b + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = hn_err_set(err, HN_EIO, "%s: read error: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    b[n] = '\0';
    *buf = b;
    b = NULL;
    if (len)
        *len = n;
out:
    hn_free(b);
    close(fd);
    return rc;
}

/* ------------------------------------------------------------ writing */

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        size_t chunk = len > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Make the rename itself durable; failure here does not undo the write,
 * so it is not reported. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;
    size_t n;

    if (!slash) {
        fd = open(".", O_RDONLY);
    } else {
        n = (slash == path) ? 1 : (size_t)(slash - path);
        dir = hn_malloc(n + 1);
        if (!dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
        fd = open(dir, O_RDONLY);
        hn_free(dir);
    }
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* After path is in place: remove the temporaries path.tmp.XXXXXX (the
 * exact mkstemp pattern below) that a writer killed between mkstemp and
 * rename left beside it, so that a rerun after a SIGKILL leaves the
 * folder as an uninterrupted run does.  Best effort: nothing is reported,
 * nothing is allocated through the hook. */
static void remove_stale_temporaries(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base), dlen;
    DIR *d;
    struct dirent *de;

    if (!slash) {
        dir[0] = '.';
        dlen = 1;
    } else {
        dlen = (slash == path) ? 1 : (size_t)(slash - path);
        if (dlen >= sizeof dir)
            return;
        memcpy(dir, path, dlen);
    }
    dir[dlen] = '\0';
    if (!(d = opendir(dir)))
        return;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        int match = strlen(n) == blen + 11 && memcmp(n, base, blen) == 0 &&
                    memcmp(n + blen, ".tmp.", 5) == 0;
        for (size_t i = blen + 5; match && i < blen + 11; i++)
            match = isalnum((unsigned char)n[i]) != 0;
        if (match)
            (void)unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

int hn_write_file_atomic(const char *path, const void *buf, size_t len, hn_err *err)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp;
    int fd, e;
    const char *what;

    if (plen > SIZE_MAX - sizeof suffix)
        return hn_err_set(err, HN_EINVAL, "%s: path too long", path);
    tmp = hn_malloc(plen + sizeof suffix);
    if (!tmp)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    fd = mkstemp(tmp);
    if (fd < 0) {
        e = errno;
        hn_free(tmp);
        return hn_err_set(err, HN_EIO, "%s: cannot create a temporary file: %s", path,
                          strerror(e));
    }
    /* mkstemp creates 0600; a saved result should be readable like any file. */
    what = "cannot set permissions";
    if (fchmod(fd, 0644) != 0)
        goto fail;
    what = "write error";
    if (write_all(fd, buf, len) != 0)
        goto fail;
    what = "fsync failed";
    if (fsync(fd) != 0)
        goto fail;
    what = "close failed";
    e = close(fd);
    fd = -1;
    if (e != 0)
        goto fail;
    what = "cannot rename the temporary file into place";
    if (rename(tmp, path) != 0)
        goto fail;
    hn_free(tmp);
    remove_stale_temporaries(path);
    sync_parent_dir(path);
    return HN_OK;
fail:
    e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    hn_free(tmp);
    return hn_err_set(err, HN_EIO, "%s: %s: %s", path, what, strerror(e));
}

/* ------------------------------------------------------------ .npy */

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64

static void put_le64(unsigned char *p, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

static double get_le64(const unsigned char *p)
{
    uint64_t u = 0;
    double x;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)p[i] << (8 * i);
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Build the whole file in memory: magic, version 1.0, header length,
 * the dict padded with spaces and a final newline so the data starts at a
 * multiple of 64 (as NumPy does), then the data row by row. */
static int npy_write(const char *path, int ndim, size_t rows, size_t cols,
                     const double *data, size_t tda, hn_err *err)
{
    char dict[160];
    int dlen;
    size_t hlen, total, nbytes, numel, off;
    unsigned char *buf;
    int rc;

    if (ndim == 1)
        dlen = snprintf(dict, sizeof dict,
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu,), }", cols);
    else
        dlen = snprintf(dict, sizeof dict,
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }",
                        rows, cols);
    if (dlen < 0 || (size_t)dlen >= sizeof dict)
        return hn_err_set(err, HN_EINVAL, "%s: cannot format the .npy header", path);
    /* header = dict + spaces + '\n'; 10 + hlen is a multiple of 64 */
    hlen = (size_t)dlen + 1;
    hlen += (NPY_ALIGN - (10 + hlen) % NPY_ALIGN) % NPY_ALIGN;
    if (hn_mul_size(rows, cols, &numel) != 0 || hn_mul_size(numel, 8, &nbytes) != 0 ||
        nbytes > SIZE_MAX - 10 - hlen)
        return hn_err_set(err, HN_ERANGE, "%s: array of %zu x %zu is too large", path, rows,
                          cols);
    total = 10 + hlen + nbytes;
    buf = hn_malloc(total);
    if (!buf)
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
    memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)dlen);
    memset(buf + 10 + dlen, ' ', hlen - (size_t)dlen - 1);
    buf[10 + hlen - 1] = '\n';
    off = 10 + hlen;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++, off += 8)
            put_le64(buf + off, data[i * tda + j]);
    rc = hn_write_file_atomic(path, buf, total, err);
    hn_free(buf);
    return rc;
}

int hn_npy_save(const char *path, const gsl_matrix *m, hn_err *err)
{
    if (!m)
        return hn_err_set(err, HN_EINVAL, "%s: no matrix to save", path);
    return npy_write(path, 2, m->size1, m->size2, m->data, m->tda, err);
}

int hn_npy_save_vec(const char *path, const double *v, size_t n, hn_err *err)
{
    if (!v && n > 0)
        return hn_err_set(err, HN_EINVAL, "%s: no vector to save", path);
    return npy_write(path, 1, 1, n, v, n, err);
}

/* A minimal reader for the Python-literal dict NumPy writes:
 * {'descr': '<f8', 'fortran_order': False, 'shape': (r, c), } */
typedef struct {
    const char *p, *end;
} npy_lex;

static void lex_ws(npy_lex *l)
{
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
        l->p++;
}

static int lex_char(npy_lex *l, char c)
{
    lex_ws(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return 1;
    }
    return 0;
}

/* Quoted string into out (NUL-terminated, truncated to cap). */
static int lex_string(npy_lex *l, char *out, size_t cap)
{
    char q;
    size_t n = 0;
    lex_ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
        return -1;
    q = *l->p++;
    while (l->p < l->end && *l->p != q) {
        if (n + 1 < cap)
            out[n++] = *l->p;
        l->p++;
    }
    if (l->p >= l->end)
        return -1;
    l->p++;
    out[n] = '\0';
    return 0;
}

static int lex_word(npy_lex *l, const char *w)
{
    size_t n = strlen(w);
    lex_ws(l);
    if ((size_t)(l->end - l->p) >= n && memcmp(l->p, w, n) == 0) {
        l->p += n;
        return 1;
    }
    return 0;
}

static int lex_size(npy_lex *l, size_t *out)
{
    size_t v = 0;
    int any = 0;
    lex_ws(l);
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
        size_t d = (size_t)(*l->p - '0');
        if (v > (SIZE_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        l->p++;
        any = 1;
    }
    if (!any)
        return -1;
    *out = v;
    return 0;
}

static int npy_parse_header(const char *h, size_t n, int *ndim, size_t dims[2])
{
    npy_lex l = {h, h + n};
    int have_descr = 0, have_order = 0, have_shape = 0;
    char key[32], val[32];

    if (!lex_char(&l, '{'))
        return -1;
    for (;;) {
        if (lex_char(&l, '}'))
            break;
        if (lex_string(&l, key, sizeof key) != 0 || !lex_char(&l, ':'))
            return -1;
        if (strcmp(key, "descr") == 0) {
            if (lex_string(&l, val, sizeof val) != 0 || strcmp(val, "<f8") != 0)
                return -2;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (!lex_word(&l, "False"))
                return -3;
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            int k = 0;
            if (!lex_char(&l, '('))
                return -1;
            while (!lex_char(&l, ')')) {
                size_t d;
                if (k >= 2 || lex_size(&l, &d) != 0)
                    return -4;
                dims[k++] = d;
                if (!lex_char(&l, ',')) {
                    if (!lex_char(&l, ')'))
                        return -1;
                    break;
                }
            }
            if (k == 0)
                return -4;
            *ndim = k;
            have_shape = 1;
        } else {
            return -1;
        }
        if (!lex_char(&l, ',')) {
            if (!lex_char(&l, '}'))
                return -1;
            break;
        }
    }
    lex_ws(&l);
    if (l.p != l.end || !have_descr || !have_order || !have_shape)
        return -1;
    return 0;
}

int hn_npy_load(const char *path, gsl_matrix **out, hn_err *err)
{
    char *buf = NULL;
    size_t len, hlen, off, rows, cols, numel, nbytes;
    int rc, ndim = 0;
    size_t dims[2] = {0, 0};
    const unsigned char *u;
    gsl_matrix *m;

    *out = NULL;
    hn_gsl_quiet();
    rc = hn_read_file(path, &buf, &len, err);
    if (rc != HN_OK)
        return rc;
    u = (const unsigned char *)buf;
    if (len < 10 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: not a .npy file (bad magic)", path);
        goto out;
    }
    if (u[6] == 1 && u[7] == 0) {
        hlen = (size_t)u[8] | (size_t)u[9] << 8;
        off = 10;
    } else if ((u[6] == 2 || u[6] == 3) && u[7] == 0 && len >= 12) {
        hlen = (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
        off = 12;
    } else {
        rc = hn_err_set(err, HN_EFORMAT, "%s: unsupported .npy version %d.%d", path, u[6], u[7]);
        goto out;
    }
    if (hlen > len - off) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: .npy header length %zu past the end of the file",
                        path, hlen);
        goto out;
    }
    switch (npy_parse_header(buf + off, hlen, &ndim, dims)) {
    case 0:
        break;
    case -2:
        rc = hn_err_set(err, HN_EFORMAT, "%s: .npy descr: only '<f8' is supported", path);
        goto out;
    case -3:
        rc = hn_err_set(err, HN_EFORMAT, "%s: .npy fortran_order: only False is supported", path);
        goto out;
    case -4:
        rc = hn_err_set(err, HN_EFORMAT, "%s: .npy shape: only 1-D or 2-D arrays are supported",
                        path);
        goto out;
    default:
        rc = hn_err_set(err, HN_EFORMAT, "%s: malformed .npy header", path);
        goto out;
    }
    rows = ndim == 1 ? 1 : dims[0];
    cols = ndim == 1 ? dims[0] : dims[1];
    if (rows == 0 || cols == 0) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: .npy shape: empty arrays are not supported", path);
        goto out;
    }
    off += hlen;
    if (hn_mul_size(rows, cols, &numel) != 0 || hn_mul_size(numel, 8, &nbytes) != 0 ||
        nbytes != len - off) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: .npy data has %zu bytes, shape needs %zu x %zu x 8",
                        path, len - off, rows, cols);
        goto out;
    }
    m = gsl_matrix_alloc(rows, cols);
    if (!m) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++, off += 8)
            gsl_matrix_set(m, i, j, get_le64(u + off));
    *out = m;
out:
    hn_free(buf);
    return rc;
}
