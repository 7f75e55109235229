/* hessnorm tests — safetensors reader/writer and the io helpers
 * (atomic writes, .npy) they are built on. */
#include "config.h"
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/npy.h"
#include "hessnorm/safetensors.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    char *buf;
    hn_err e;
    assert_int_equal(hn_read_file(path, &buf, n, &e), HN_OK);
    return (unsigned char *)buf;
}

/* A safetensors file: 8-byte little-endian length, header verbatim, then
 * dlen data bytes (0x00, or `data` if given). */
static const char *write_st(const char *name, const char *header, const void *data, size_t dlen)
{
    const char *path = tpath(name);
    size_t hl = strlen(header), n = 8 + hl + dlen;
    unsigned char *b = calloc(1, n);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    if (data)
        memcpy(b + 8 + hl, data, dlen);
    write_bytes(path, b, n);
    free(b);
    return path;
}

static int count_tmp_leftovers(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s", hn_test_tmpdir());
    hn_alloc_fail_after(-1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d))) {
            char p[800];
            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
            if (rmdir(p) != 0)
                unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

/* ================================================================ io */

static void test_io_read_write(void **state)
{
    (void)state;
    hn_err e;
    char *buf;
    size_t n;
    const char *p = tpath("plain.txt");

    assert_int_equal(hn_write_file_atomic(p, "hello, world", 12, &e), HN_OK);
    assert_int_equal(hn_read_file(p, &buf, &n, &e), HN_OK);
    assert_int_equal(n, 12);
    assert_string_equal(buf, "hello, world"); /* NUL-terminated copy */
    hn_free(buf);

    /* overwrite with something shorter: the old content must be gone */
    assert_int_equal(hn_write_file_atomic(p, "bye", 3, &e), HN_OK);
    assert_int_equal(hn_read_file(p, &buf, &n, &e), HN_OK);
    assert_int_equal(n, 3);
    assert_string_equal(buf, "bye");
    hn_free(buf);

    /* empty file */
    assert_int_equal(hn_write_file_atomic(p, "", 0, &e), HN_OK);
    assert_int_equal(hn_read_file(p, &buf, &n, &e), HN_OK);
    assert_int_equal(n, 0);
    assert_string_equal(buf, "");
    hn_free(buf);

    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(count_tmp_leftovers(), 0);
}

static void test_io_errors(void **state)
{
    (void)state;
    hn_err e;
    char *buf = (char *)1;
    size_t n;
    const char *missing = tpath("no/such/dir/file.bin");

    assert_int_equal(hn_read_file(tpath("missing.txt"), &buf, &n, &e), HN_EIO);
    assert_null(buf);
    assert_non_null(strstr(e.msg, "missing.txt"));
    assert_non_null(strstr(e.msg, strerror(ENOENT)));

    assert_int_equal(hn_read_file(tmpdir, &buf, &n, &e), HN_EIO);
    assert_non_null(strstr(e.msg, tmpdir));

    assert_int_equal(hn_write_file_atomic(missing, "x", 1, &e), HN_EIO);
    assert_non_null(strstr(e.msg, missing));
    assert_non_null(strstr(e.msg, strerror(ENOENT)));

    /* rename onto a directory fails after the data was written: the
     * temporary file must be removed */
    const char *dir = tpath("adir");
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(hn_write_file_atomic(dir, "abc", 3, &e), HN_EIO);
    assert_non_null(strstr(e.msg, dir));
    assert_non_null(strstr(e.msg, strerror(EISDIR)));
    assert_int_equal(count_tmp_leftovers(), 0);

    /* out of memory for the temporary name */
    hn_alloc_fail_after(0);
    assert_int_equal(hn_write_file_atomic(tpath("oom.txt"), "x", 1, &e), HN_ENOMEM);
    assert_int_equal(hn_read_file(tpath("plain.txt"), &buf, &n, &e), HN_ENOMEM);
    hn_alloc_fail_after(-1);
    assert_int_equal(count_tmp_leftovers(), 0);
}

static void check_npy_header(const unsigned char *b, size_t len, const char *shape_text,
                             size_t nvals)
{
    assert_true(len >= 10);
    assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
    size_t hl = (size_t)b[8] | (size_t)b[9] << 8;
    assert_int_equal((10 + hl) % 64, 0);          /* data 64-byte aligned */
    assert_int_equal(len, 10 + hl + 8 * nvals);
    assert_int_equal(b[10 + hl - 1], '\n');
    char *h = strndup((const char *)b + 10, hl);
    assert_non_null(strstr(h, "'descr': '<f8'"));
    assert_non_null(strstr(h, "'fortran_order': False"));
    assert_non_null(strstr(h, shape_text));
    free(h);
}

static void test_npy_roundtrip(void **state)
{
    (void)state;
    hn_err e;
    gsl_matrix *m = gsl_matrix_alloc(3, 5), *back;
    gsl_rng *r = hn_test_rng(11);
    hn_test_fill_uniform(r, m->data, 15, -1e3, 1e3);
    gsl_matrix_set(m, 2, 4, -0.0);
    gsl_matrix_set(m, 0, 0, 5e-324); /* denormal survives */
    const char *p = tpath("m.npy");
    assert_int_equal(hn_npy_save(p, m, &e), HN_OK);
    size_t len;
    unsigned char *b = slurp(p, &len);
    check_npy_header(b, len, "'shape': (3, 5)", 15);
    hn_free(b);
    assert_int_equal(hn_npy_load(p, &back, &e), HN_OK);
    assert_mat_close(back, m, 0.0); /* bit-exact: no arithmetic in between */
    gsl_matrix_free(back);

    /* a submatrix view (tda != size2) is written densely */
    gsl_matrix_view v = gsl_matrix_submatrix(m, 1, 1, 2, 3);
    assert_int_equal(hn_npy_save(p, &v.matrix, &e), HN_OK);
    assert_int_equal(hn_npy_load(p, &back, &e), HN_OK);
    assert_mat_close(back, &v.matrix, 0.0); /* bit-exact copy */
    gsl_matrix_free(back);

    double vec[4] = {1, -2, 3.5, 1e-300};
    assert_int_equal(hn_npy_save_vec(p, vec, 4, &e), HN_OK);
    b = slurp(p, &len);
    check_npy_header(b, len, "'shape': (4,)", 4);
    hn_free(b);
    assert_int_equal(hn_npy_load(p, &back, &e), HN_OK);
    assert_int_equal(back->size1, 1);
    assert_int_equal(back->size2, 4);
    assert_vec_close(back->data, vec, 4, 0.0); /* bit-exact copy */
    gsl_matrix_free(back);

    gsl_matrix_free(m);
    gsl_rng_free(r);
}

/* A .npy written the way numpy 1.x does it (dict, spaces, newline), by hand. */
static void test_npy_handmade_and_bad(void **state)
{
    (void)state;
    hn_err e;
    gsl_matrix *m = (gsl_matrix *)1;
    unsigned char b[128 + 16];
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    size_t dl = strlen(dict);
    memset(b, ' ', sizeof b);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = 118; /* 10 + 118 = 128 */
    b[9] = 0;
    memcpy(b + 10, dict, dl);
    b[127] = '\n';
    /* 1.0 and -2.5 little-endian */
    const unsigned char d[16] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0x04, 0xc0};
    memcpy(b + 128, d, 16);
    const char *p = tpath("hand.npy");
    write_bytes(p, b, sizeof b);
    assert_int_equal(hn_npy_load(p, &m, &e), HN_OK);
    assert_int_equal(m->size2, 2);
    assert_true(gsl_matrix_get(m, 0, 0) == 1.0 && gsl_matrix_get(m, 0, 1) == -2.5);
    gsl_matrix_free(m);

    /* truncated data */
    write_bytes(p, b, sizeof b - 1);
    assert_int_equal(hn_npy_load(p, &m, &e), HN_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(e.msg, p));

    /* wrong dtype, Fortran order, bad magic */
    const char *bad[] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                         "{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }",
                         "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 2), }"};
    const char *field[] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; i++) {
        memset(b + 10, ' ', 117);
        memcpy(b + 10, bad[i], strlen(bad[i]));
        write_bytes(p, b, sizeof b);
        assert_int_equal(hn_npy_load(p, &m, &e), HN_EFORMAT);
        assert_non_null(strstr(e.msg, p));
        assert_non_null(strstr(e.msg, field[i]));
    }
    b[1] = 'X';
    write_bytes(p, b, sizeof b);
    assert_int_equal(hn_npy_load(p, &m, &e), HN_EFORMAT);
    assert_non_null(strstr(e.msg, "magic"));
}

/* ================================================================ round trip */

static void test_roundtrip(void **state)
{
    (void)state;
    hn_err e;
    hn_st_writer *w = hn_st_writer_new();
    assert_non_null(w);
    double scalar = -3.25, v5[5] = {1, 2, 3, 4, 5}, m23[6], t4[12];
    int64_t i4[4] = {0, -1, INT64_MAX, INT64_MIN}, iscalar = 7;
    float f3[3] = {0.5f, -1.5f, 1e30f};
    int32_t i2[2] = {-5, INT32_MAX};
    gsl_rng *r = hn_test_rng(3);
    hn_test_fill_uniform(r, m23, 6, -1, 1);
    hn_test_fill_uniform(r, t4, 12, -10, 10);
    gsl_rng_free(r);
    size_t s5[1] = {5}, s23[2] = {2, 3}, s4d[4] = {2, 1, 3, 2}, s4[1] = {4}, s3[1] = {3},
           s2[1] = {2}, s0[1] = {0};

    /* added out of name order on purpose */
    assert_int_equal(hn_st_writer_add(w, "z.scalar", HN_ST_F64, 0, NULL, &scalar, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "m23", HN_ST_F64, 2, s23, m23, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "v5", HN_ST_F64, 1, s5, v5, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "t4", HN_ST_F64, 4, s4d, t4, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "i4", HN_ST_I64, 1, s4, i4, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "iscalar", HN_ST_I64, 0, NULL, &iscalar, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "f3", HN_ST_F32, 1, s3, f3, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "i2", HN_ST_I32, 1, s2, i2, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "empty", HN_ST_F64, 1, s0, NULL, &e), HN_OK);
    /* refusals */
    assert_int_equal(hn_st_writer_add(w, "v5", HN_ST_F64, 1, s5, v5, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "v5"));
    assert_int_equal(hn_st_writer_add(w, "__metadata__", HN_ST_F64, 1, s5, v5, &e), HN_EINVAL);
    assert_int_equal(hn_st_writer_add(w, "", HN_ST_F64, 1, s5, v5, &e), HN_EINVAL);
    assert_int_equal(hn_st_writer_add(w, "bad\xff", HN_ST_F64, 1, s5, v5, &e), HN_EINVAL);
    assert_int_equal(hn_st_writer_add(w, "bf", HN_ST_OTHER, 1, s5, v5, &e), HN_EINVAL);
    assert_int_equal(hn_st_writer_add(w, "nd", HN_ST_F64, 9, s4d, t4, &e), HN_EINVAL);
    size_t huge[2] = {SIZE_MAX / 2, 4};
    assert_int_equal(hn_st_writer_add(w, "huge", HN_ST_F64, 2, huge, t4, &e), HN_ERANGE);

    const char *p = tpath("rt.safetensors");
    assert_int_equal(hn_st_writer_save(w, p, &e), HN_OK);
    hn_st_writer_free(w);

    /* the raw layout: header padded with spaces to a multiple of 8, names sorted */
    size_t len;
    unsigned char *b = slurp(p, &len);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)b[i] << (8 * i);
    assert_int_equal(hl % 8, 0);
    char *hdr = strndup((const char *)b + 8, hl);
    const char *order[] = {"\"empty\"", "\"f3\"", "\"i2\"", "\"i4\"", "\"iscalar\"",
                           "\"m23\"", "\"t4\"", "\"v5\"", "\"z.scalar\""};
    const char *prev = hdr;
    for (int i = 0; i < 9; i++) {
        const char *q = strstr(hdr, order[i]);
        assert_non_null(q);
        assert_true(q >= prev);
        prev = q;
    }
    assert_null(strstr(hdr, "__metadata__"));
    free(hdr);
    hn_free(b);

    hn_st_file *f;
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    assert_int_equal(f->n_tensors, 9);
    assert_string_equal(f->path, p);
    /* data laid out in name order too */
    for (size_t i = 1; i < f->n_tensors; i++) {
        assert_true(strcmp(f->tensors[i - 1].name, f->tensors[i].name) < 0);
        assert_true(f->tensors[i - 1].end == f->tensors[i].begin);
    }

    double out[12];
    long lout[4];
    const hn_st_tensor *t = hn_st_find(f, "z.scalar");
    assert_non_null(t);
    assert_int_equal(t->dtype, HN_ST_F64);
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_OK);
    assert_true(out[0] == scalar);

    t = hn_st_find(f, "m23");
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_OK);
    assert_vec_close(out, m23, 6, 0.0); /* F64 stored verbatim: bit-exact */

    t = hn_st_find(f, "t4");
    assert_int_equal(t->ndim, 4);
    assert_memory_equal(t->shape, s4d, sizeof s4d);
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_OK);
    assert_vec_close(out, t4, 12, 0.0); /* bit-exact */

    t = hn_st_find(f, "v5");
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_OK);
    assert_vec_close(out, v5, 5, 0.0); /* bit-exact */

    t = hn_st_find(f, "f3");
    assert_int_equal(t->dtype, HN_ST_F32);
    assert_string_equal(t->dtype_name, "F32");
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_OK);
    for (int i = 0; i < 3; i++)
        assert_true(out[i] == (double)f3[i]); /* float -> double is exact */

    t = hn_st_find(f, "i4");
    assert_int_equal(t->dtype, HN_ST_I64);
    assert_int_equal(hn_st_to_i64(f, t, lout, &e), HN_OK);
    for (int i = 0; i < 4; i++)
        assert_true(lout[i] == i4[i]);
    /* an integer tensor is not a float tensor, and vice versa */
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_EFORMAT);
    assert_non_null(strstr(e.msg, "\"i4\""));
    assert_non_null(strstr(e.msg, "I64"));
    assert_int_equal(hn_st_to_i64(f, hn_st_find(f, "v5"), lout, &e), HN_EFORMAT);
    assert_non_null(strstr(e.msg, "\"v5\""));

    t = hn_st_find(f, "iscalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(hn_st_to_i64(f, t, lout, &e), HN_OK);
    assert_int_equal(lout[0], 7);

    t = hn_st_find(f, "i2");
    assert_int_equal(hn_st_to_i64(f, t, lout, &e), HN_OK);
    assert_int_equal(lout[0], -5);
    assert_int_equal(lout[1], INT32_MAX);

    t = hn_st_find(f, "empty");
    assert_int_equal(t->numel, 0);
    assert_int_equal(t->begin, t->end);
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_OK);

    assert_null(hn_st_find(f, "nope"));
    hn_st_free(f);

    /* an empty writer gives a valid file with no tensors */
    w = hn_st_writer_new();
    assert_int_equal(hn_st_writer_save(w, p, &e), HN_OK);
    hn_st_writer_free(w);
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    assert_int_equal(f->n_tensors, 0);
    assert_int_equal(f->data_len, 0);
    hn_st_free(f);
}

/* ================================================================ Python-made file */

/* What safetensors.torch.save_file({"weight": W, "bias": b}, path,
 * metadata={"format": "pt"}) writes for float32 tensors
 * W = [[1.5, -2], [0.25, 3]], b = [0.5, -1]: the header is compact JSON
 * (metadata first, then tensors by name), padded with spaces to a multiple
 * of 8; the data is little-endian float32 in the same order.  Every byte is
 * spelled out here. */
static void test_python_layout(void **state)
{
    (void)state;
    static const char header[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}"
        "   ";
    static const unsigned char len8[8] = {0x98, 0, 0, 0, 0, 0, 0, 0}; /* 152 */
    static const unsigned char data[24] = {
        0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0xbf,                         /* 0.5, -1 */
        0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0,                         /* 1.5, -2 */
        0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x40, 0x40};                        /* 0.25, 3 */
    unsigned char file[8 + 152 + 24];
    assert_int_equal(strlen(header), 152);
    memcpy(file, len8, 8);
    memcpy(file + 8, header, 152);
    memcpy(file + 160, data, 24);
    const char *p = tpath("torch.safetensors");
    write_bytes(p, file, sizeof file);

    hn_err e;
    hn_st_file *f;
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    assert_int_equal(f->n_tensors, 2); /* __metadata__ is not a tensor */
    assert_int_equal(f->data_len, 24);
    const hn_st_tensor *w = hn_st_find(f, "weight"), *b = hn_st_find(f, "bias");
    assert_non_null(w);
    assert_non_null(b);
    assert_int_equal(w->dtype, HN_ST_F32);
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[0], 2);
    assert_int_equal(w->shape[1], 2);
    assert_int_equal(w->begin, 8);
    assert_int_equal(w->end, 24);
    double wv[4], bv[2];
    const double wexp[4] = {1.5, -2, 0.25, 3}, bexp[2] = {0.5, -1};
    assert_int_equal(hn_st_to_f64(f, w, wv, &e), HN_OK);
    assert_int_equal(hn_st_to_f64(f, b, bv, &e), HN_OK);
    assert_vec_close(wv, wexp, 4, 0.0); /* these floats are exact in F32 */
    assert_vec_close(bv, bexp, 2, 0.0); /* exact in F32 */
    hn_st_free(f);

    /* the in-memory parser gives the same answer */
    assert_int_equal(hn_st_parse(file, sizeof file, "mem", &f, &e), HN_OK);
    assert_string_equal(f->path, "mem");
    assert_int_equal(f->n_tensors, 2);
    hn_st_free(f);
}

/* ================================================================ bad headers */

static void expect_bad_bytes(const char *name, const unsigned char *bytes, size_t n, int code,
                             const char *field)
{
    const char *p = tpath(name);
    hn_err e;
    hn_st_file *f = (hn_st_file *)1;
    write_bytes(p, bytes, n);
    hn_err_clear(&e);
    int rc = hn_st_read(p, &f, &e);
    if (rc != code || !strstr(e.msg, field))
        print_error("%s: rc %d (want %d), message: %s\n", name, rc, code, e.msg);
    assert_int_equal(rc, code);
    assert_null(f);
    assert_int_equal(strncmp(e.msg, p, strlen(p)), 0); /* message starts with the file */
    assert_non_null(strstr(e.msg, field));
    assert_null(strchr(e.msg, '\n'));                 /* one line */
    /* same verdict from the in-memory parser, naming its source */
    f = (hn_st_file *)1;
    assert_int_equal(hn_st_parse(bytes, n, "buffer.st", &f, &e), code);
    assert_null(f);
    assert_int_equal(strncmp(e.msg, "buffer.st: ", 11), 0);
    assert_non_null(strstr(e.msg, field));
}

static void expect_bad(const char *name, const char *header, size_t dlen, int code,
                       const char *field)
{
    size_t hl = strlen(header), n = 8 + hl + dlen;
    unsigned char *b = calloc(1, n);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    expect_bad_bytes(name, b, n, code, field);
    free(b);
}

#define ENT(name, dt, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_bad_length_prefix(void **state)
{
    (void)state;
    unsigned char b[32] = {0};

    /* shorter than 8 bytes */
    expect_bad_bytes("short.st", (const unsigned char *)"\x02\0\0\0\0", 5, HN_EFORMAT,
                     "header length");
    expect_bad_bytes("empty.st", b, 0, HN_EFORMAT, "header length");
    /* header length 0 */
    expect_bad_bytes("zero.st", b, 16, HN_EFORMAT, "header length");
    /* header length past the end of the file */
    b[0] = 100;
    memcpy(b + 8, "{}", 2);
    expect_bad_bytes("past.st", b, 10, HN_EFORMAT, "header length");
    /* one byte too long */
    b[0] = 3;
    expect_bad_bytes("past1.st", b, 10, HN_EFORMAT, "header length");

    /* over the limit: refused before any allocation */
    uint64_t big = (uint64_t)HN_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(big >> (8 * i));
    expect_bad_bytes("big.st", b, 32, HN_EFORMAT, "header length");
    hn_alloc_fail_after(-1);
    hn_st_file *f;
    hn_err e;
    assert_int_equal(hn_st_read(tpath("big.st"), &f, &e), HN_EFORMAT);
    assert_int_equal(hn_alloc_count(), 0);
    /* 2^64 - 1: must not wrap around in 8 + N */
    memset(b, 0xff, 8);
    expect_bad_bytes("max.st", b, 32, HN_EFORMAT, "header length");
    hn_alloc_fail_after(-1);
    assert_int_equal(hn_st_read(tpath("max.st"), &f, &e), HN_EFORMAT);
    assert_int_equal(hn_alloc_count(), 0);

    /* unreadable file */
    assert_int_equal(hn_st_read(tpath("does-not-exist.st"), &f, &e), HN_EIO);
    assert_non_null(strstr(e.msg, "does-not-exist.st"));
}

static void test_bad_json(void **state)
{
    (void)state;
    expect_bad("notjson.st", "{\"a\": ", 0, HN_EFORMAT, "header");
    expect_bad("garbage.st", "\x01\x02\x03\x04", 0, HN_EFORMAT, "header");
    expect_bad("array.st", "[1, 2]  ", 0, HN_EFORMAT, "header");
    expect_bad("string.st", "\"hello\" ", 0, HN_EFORMAT, "header");
    expect_bad("trail.st", "{} xx", 0, HN_EFORMAT, "header");
    expect_bad("utf8.st", "{\"\xc3\x28\":1}", 0, HN_EFORMAT, "header");
    expect_bad("dup.st", "{" ENT("a", "F64", "[1]", 0, 8) "," ENT("a", "F64", "[1]", 8, 16) "}",
               16, HN_EFORMAT, "duplicate");
}

static void test_bad_entries(void **state)
{
    (void)state;
    expect_bad("entry.st", "{\"a\":5}", 0, HN_EFORMAT, "\"a\"");
    expect_bad("nodtype.st", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,8]}}", 8, HN_EFORMAT,
               "\"a\": dtype");
    expect_bad("noshape.st", "{\"a\":{\"dtype\":\"F64\",\"data_offsets\":[0,8]}}", 8, HN_EFORMAT,
               "\"a\": shape");
    expect_bad("nooff.st", "{\"a\":{\"dtype\":\"F64\",\"shape\":[1]}}", 8, HN_EFORMAT,
               "\"a\": data_offsets");
    expect_bad("dtype_int.st", "{\"a\":{\"dtype\":64,\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
               HN_EFORMAT, "\"a\": dtype");
    expect_bad("shape_str.st", "{\"a\":{\"dtype\":\"F64\",\"shape\":\"1\",\"data_offsets\":[0,8]}}",
               8, HN_EFORMAT, "\"a\": shape");
    expect_bad("shape_neg.st", "{" ENT("a", "F64", "[-1]", 0, 8) "}", 8, HN_EFORMAT,
               "\"a\": shape[0]");
    expect_bad("shape_real.st", "{" ENT("a", "F64", "[1.0]", 0, 8) "}", 8, HN_EFORMAT,
               "\"a\": shape[0]");
    expect_bad("shape_mixed.st", "{" ENT("a", "F64", "[1,\"2\"]", 0, 16) "}", 16, HN_EFORMAT,
               "\"a\": shape[1]");
    expect_bad("shape_9d.st", "{" ENT("a", "F64", "[1,1,1,1,1,1,1,1,1]", 0, 8) "}", 8, HN_EFORMAT,
               "\"a\": shape");
    expect_bad("shape_ovf.st", "{" ENT("a", "F64", "[4294967296,4294967296,2]", 0, 8) "}", 8,
               HN_ERANGE, "\"a\": shape");
    /* bytes = numel * 8 overflows although numel does not */
    expect_bad("bytes_ovf.st", "{" ENT("a", "F64", "[4294967296,1073741824]", 0, 8) "}", 8,
               HN_ERANGE, "\"a\": shape");
    expect_bad("off_short.st", "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0]}}", 8,
               HN_EFORMAT, "\"a\": data_offsets");
    expect_bad("off_long.st",
               "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8,16]}}", 8,
               HN_EFORMAT, "\"a\": data_offsets");
    expect_bad("off_obj.st", "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":{}}}", 8,
               HN_EFORMAT, "\"a\": data_offsets");
    expect_bad("off_str.st",
               "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,\"8\"]}}", 8,
               HN_EFORMAT, "\"a\": data_offsets");
    expect_bad("off_neg.st", "{" ENT("a", "F64", "[1]", -8, 0) "}", 8, HN_EFORMAT,
               "\"a\": data_offsets");
    expect_bad("off_rev.st", "{" ENT("a", "F64", "[1]", 8, 0) "}", 8, HN_EFORMAT,
               "\"a\": data_offsets");
    expect_bad("off_past.st", "{" ENT("a", "F64", "[2]", 0, 16) "}", 8, HN_EFORMAT,
               "\"a\": data_offsets");
    expect_bad("size.st", "{" ENT("a", "F64", "[2]", 0, 8) "}", 8, HN_EFORMAT,
               "\"a\": data_offsets");
    expect_bad("size32.st", "{" ENT("a", "F32", "[2,2]", 0, 8) "}", 8, HN_EFORMAT,
               "\"a\": data_offsets");
    /* a known 16-bit dtype is size-checked too */
    expect_bad("sizebf.st", "{" ENT("a", "BF16", "[3]", 0, 8) "}", 8, HN_EFORMAT,
               "\"a\": data_offsets");
    expect_bad("meta.st", "{\"__metadata__\":5," ENT("a", "F64", "[1]", 0, 8) "}", 8, HN_EFORMAT,
               "__metadata__");
    expect_bad("meta_val.st", "{\"__metadata__\":{\"format\":1}," ENT("a", "F64", "[1]", 0, 8) "}",
               8, HN_EFORMAT, "__metadata__.format");
}

static void test_bad_tiling(void **state)
{
    (void)state;
    expect_bad("overlap.st", "{" ENT("a", "F64", "[2]", 0, 16) "," ENT("b", "F64", "[2]", 8, 24) "}",
               24, HN_EFORMAT, "data_offsets");
    expect_bad("overlap2.st", "{" ENT("a", "F64", "[2]", 0, 16) "," ENT("b", "F64", "[2]", 8, 24) "}",
               24, HN_EFORMAT, "overlap");
    expect_bad("same.st", "{" ENT("a", "F64", "[1]", 0, 8) "," ENT("b", "F64", "[1]", 0, 8) "}",
               8, HN_EFORMAT, "overlap");
    expect_bad("gap.st", "{" ENT("a", "F64", "[1]", 0, 8) "," ENT("b", "F64", "[1]", 16, 24) "}",
               24, HN_EFORMAT, "\"b\": data_offsets");
    expect_bad("gap0.st", "{" ENT("a", "F64", "[1]", 8, 16) "}", 16, HN_EFORMAT,
               "\"a\": data_offsets");
    expect_bad("trailing.st", "{" ENT("a", "F64", "[1]", 0, 8) "}", 16, HN_EFORMAT,
               "data_offsets");
    expect_bad("nodata.st", "{}", 8, HN_EFORMAT, "data_offsets");
}

static void test_tolerated(void **state)
{
    (void)state;
    hn_err e;
    hn_st_file *f;
    double out[4];
    const unsigned char d[24] = {0};

    /* header order need not follow data order; result is sorted by name */
    const char *p = write_st("order.st",
                             "{" ENT("b", "F64", "[1]", 0, 8) "," ENT("a", "F64", "[2]", 8, 24) "}",
                             d, 24);
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    assert_string_equal(f->tensors[0].name, "a");
    assert_int_equal(f->tensors[0].begin, 8);
    assert_string_equal(f->tensors[1].name, "b");
    hn_st_free(f);

    /* zero-size tensors may share an offset */
    p = write_st("zero.st",
                 "{" ENT("e1", "F64", "[0]", 8, 8) "," ENT("a", "F64", "[1]", 0, 8) ","
                 ENT("e2", "F32", "[3,0]", 8, 8) "}",
                 d, 8);
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    assert_int_equal(f->n_tensors, 3);
    hn_st_free(f);

    /* unknown or unsupported dtypes parse but do not convert */
    p = write_st("other.st",
                 "{" ENT("h", "BF16", "[2]", 0, 4) "," ENT("q", "Q7_WEIRD_DTYPE_NAME", "[3]", 4, 9)
                 "}   ",
                 d, 9);
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    const hn_st_tensor *t = hn_st_find(f, "h");
    assert_int_equal(t->dtype, HN_ST_OTHER);
    assert_string_equal(t->dtype_name, "BF16");
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_EFORMAT);
    assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    assert_non_null(strstr(e.msg, "\"h\""));
    assert_non_null(strstr(e.msg, "BF16"));
    t = hn_st_find(f, "q");
    assert_int_equal(t->dtype, HN_ST_OTHER);
    assert_int_equal(hn_st_to_f64(f, t, out, &e), HN_EFORMAT);
    assert_non_null(strstr(e.msg, "\"q\""));
    assert_int_equal(hn_st_to_i64(f, t, (long *)out, &e), HN_EFORMAT);
    hn_st_free(f);

    /* extra fields in an entry are ignored, as the reference reader does */
    p = write_st("extra.st",
                 "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8],\"x\":1}}", d, 8);
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    hn_st_free(f);
}

static void test_nonfinite(void **state)
{
    (void)state;
    hn_err e;
    hn_st_file *f;
    double d[4] = {1, 2, NAN, 4}, out[4];
    float fl[2] = {1.0f, -INFINITY};
    size_t s4[1] = {4}, s2[1] = {2};
    hn_st_writer *w = hn_st_writer_new();
    assert_int_equal(hn_st_writer_add(w, "w", HN_ST_F64, 1, s4, d, &e), HN_OK);
    assert_int_equal(hn_st_writer_add(w, "g", HN_ST_F32, 1, s2, fl, &e), HN_OK);
    const char *p = tpath("nan.st");
    assert_int_equal(hn_st_writer_save(w, p, &e), HN_OK);
    hn_st_writer_free(w);
    assert_int_equal(hn_st_read(p, &f, &e), HN_OK);
    assert_int_equal(hn_st_to_f64(f, hn_st_find(f, "w"), out, &e), HN_EINVAL);
    assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    assert_non_null(strstr(e.msg, "\"w\""));
    assert_non_null(strstr(e.msg, "element 2"));
    assert_non_null(strstr(e.msg, "NaN"));
    assert_int_equal(hn_st_to_f64(f, hn_st_find(f, "g"), out, &e), HN_EINVAL);
    assert_non_null(strstr(e.msg, "\"g\""));
    assert_non_null(strstr(e.msg, "element 1"));
    assert_non_null(strstr(e.msg, "infinite"));
    hn_st_free(f);
}

/* ================================================================ fault injection */

static void test_fault_injection(void **state)
{
    (void)state;
    hn_err e;
    double v[6] = {1, 2, 3, 4, 5, 6};
    int64_t iv[2] = {3, 4};
    size_t s23[2] = {2, 3}, s2[1] = {2};
    const char *p = tpath("fi.st");
    long k;

    /* writer: fail the k-th allocation of new/add/save until it all works */
    for (k = 0;; k++) {
        hn_alloc_fail_after(k);
        hn_st_writer *w = hn_st_writer_new();
        int rc = w ? HN_OK : HN_ENOMEM;
        if (rc == HN_OK)
            rc = hn_st_writer_add(w, "a.weight", HN_ST_F64, 2, s23, v, &e);
        if (rc == HN_OK)
            rc = hn_st_writer_add(w, "b", HN_ST_I64, 1, s2, iv, &e);
        if (rc == HN_OK)
            rc = hn_st_writer_add(w, "c", HN_ST_F64, 0, NULL, v, &e);
        if (rc == HN_OK)
            rc = hn_st_writer_save(w, p, &e);
        hn_st_writer_free(w);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK)
            break;
        assert_int_equal(rc, HN_ENOMEM);
        assert_int_equal(count_tmp_leftovers(), 0);
    }
    assert_true(k >= 5);

    /* reader: every failure of our own allocations is a clean HN_ENOMEM */
    size_t len;
    unsigned char *bytes = slurp(p, &len);
    for (k = 0;; k++) {
        hn_st_file *f = (hn_st_file *)1;
        hn_err_clear(&e);
        hn_alloc_fail_after(k);
        int rc = hn_st_read(p, &f, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK) {
            assert_int_equal(f->n_tensors, 3);
            hn_st_free(f);
            break;
        }
        if (rc != HN_ENOMEM)
            print_error("k=%ld: %s\n", k, e.msg);
        assert_int_equal(rc, HN_ENOMEM);
        assert_null(f);
        assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    }
    assert_true(k >= 5);
    for (k = 0;; k++) {
        hn_st_file *f = (hn_st_file *)1;
        hn_alloc_fail_after(k);
        int rc = hn_st_parse(bytes, len, "mem", &f, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK) {
            hn_st_free(f);
            break;
        }
        assert_int_equal(rc, HN_ENOMEM);
        assert_null(f);
        assert_int_equal(strncmp(e.msg, "mem: ", 5), 0);
    }

    /* jansson's allocations through the hook too: no leak, no crash, a
     * clean error.  jansson reports a failed allocation inside its string
     * lexer as a syntax error, so "invalid JSON" is accepted here. */
    json_set_alloc_funcs(hn_malloc, hn_free);
    for (k = 0;; k++) {
        hn_st_file *f = (hn_st_file *)1;
        hn_err_clear(&e);
        hn_alloc_fail_after(k);
        int rc = hn_st_read(p, &f, &e);
        hn_alloc_fail_after(-1);
        if (rc == HN_OK) {
            hn_st_free(f);
            break;
        }
        assert_true(rc == HN_ENOMEM || (rc == HN_EFORMAT && strstr(e.msg, "invalid JSON")));
        assert_null(f);
        assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
    }
    json_set_alloc_funcs(malloc, free);
    assert_true(k >= 10);
    hn_free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io_read_write),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_handmade_and_bad),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_python_layout),
        cmocka_unit_test(test_bad_length_prefix),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_bad_tiling),
        cmocka_unit_test(test_tolerated),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_fault_injection),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
