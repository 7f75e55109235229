/* hessnorm — NumPy .npy files (float64, C order, 1-D or 2-D). */
#include "config.h"
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/npy.h"
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
