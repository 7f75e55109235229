/* hessnorm — safetensors reader (the writer is safetensors_write.c).
 *
 * The reader trusts nothing in the file: the header length is checked
 * against the file size before anything is allocated, every field of every
 * tensor entry is type-checked, and the tensors (sorted by their begin
 * offset) must tile the data buffer exactly, as the format specification
 * requires.  Every problem produces one line that names the file and the
 * field. */
#include "config.h"
#include <errno.h>
#include <limits.h>
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
#include "hessnorm/safetensors.h"
#include "base/file.h"
#include "base/json.h"

/* ------------------------------------------------------------ dtypes */

/* Element sizes in bits of the dtypes the specification lists; only F64,
 * F32, I64 and I32 can be converted, the others are checked for size and
 * otherwise carried along. */
static const struct {
    const char *name;
    unsigned bits;
    hn_st_dtype dtype;
} st_dtypes[] = {
    {"F64", 64, HN_ST_F64},       {"F32", 32, HN_ST_F32},     {"I64", 64, HN_ST_I64},
    {"I32", 32, HN_ST_I32},       {"BOOL", 8, HN_ST_OTHER},   {"U8", 8, HN_ST_OTHER},
    {"I8", 8, HN_ST_OTHER},       {"F8_E5M2", 8, HN_ST_OTHER}, {"F8_E4M3", 8, HN_ST_OTHER},
    {"F8_E8M0", 8, HN_ST_OTHER},  {"I16", 16, HN_ST_OTHER},   {"U16", 16, HN_ST_OTHER},
    {"F16", 16, HN_ST_OTHER},     {"BF16", 16, HN_ST_OTHER},  {"U32", 32, HN_ST_OTHER},
    {"U64", 64, HN_ST_OTHER},     {"C64", 64, HN_ST_OTHER},   {"F4", 4, HN_ST_OTHER},
    {"F6_E2M3", 6, HN_ST_OTHER},  {"F6_E3M2", 6, HN_ST_OTHER},
};

/* ------------------------------------------------------------ little-endian access */

static uint64_t le64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)p[i] << (8 * i);
    return u;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------ reader */

void hn_st_free(hn_st_file *f)
{
    if (!f)
        return;
    if (f->tensors)
        for (size_t i = 0; i < f->n_tensors; i++)
            hn_free(f->tensors[i].name);
    hn_free(f->tensors);
    hn_free(f->data);
    hn_free(f->path);
    hn_free(f);
}

static int cmp_offsets(const void *a, const void *b)
{
    const hn_st_tensor *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_names(const void *a, const void *b)
{
    const hn_st_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Non-negative JSON integer that fits size_t. */
static int json_size(const json_t *v, size_t *out)
{
    json_int_t i;
    if (!json_is_integer(v))
        return -1;
    i = json_integer_value(v);
    if (i < 0 || (unsigned long long)i > SIZE_MAX)
        return -1;
    *out = (size_t)i;
    return 0;
}

static int check_metadata(const json_t *meta, const char *src, hn_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(meta))
        return hn_err_set(err, HN_EFORMAT, "%s: __metadata__: must be an object of strings",
                          src);
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v))
            return hn_err_set(err, HN_EFORMAT, "%s: __metadata__.%s: must be a string", src, k);
    }
    return HN_OK;
}

/* Fill t from one header entry (t->name already set). */
static int parse_entry(const json_t *e, const char *src, size_t data_len, hn_st_tensor *t,
                       hn_err *err)
{
    const char *nm = t->name;
    const json_t *dt, *sh, *off;
    const char *ds;
    size_t nbits = 0, nbytes, i;

    if (!json_is_object(e))
        return hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": entry must be a JSON object", src,
                          nm);
    dt = json_object_get(e, "dtype");
    sh = json_object_get(e, "shape");
    off = json_object_get(e, "data_offsets");
    if (!dt)
        return hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": dtype: missing", src, nm);
    if (!json_is_string(dt))
        return hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": dtype: must be a string", src, nm);
    if (!sh)
        return hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": shape: missing", src, nm);
    if (!json_is_array(sh))
        return hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": shape: must be an array", src,
                          nm);
    if (!off)
        return hn_err_set(err, HN_EFORMAT, "%s: tensor \"%s\": data_offsets: missing", src, nm);
    if (!json_is_array(off) || json_array_size(off) != 2)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"%s\": data_offsets: must be an array [begin, end]", src,
                          nm);

    ds = json_string_value(dt);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", ds);
    t->dtype = HN_ST_OTHER;
    for (i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(ds, st_dtypes[i].name) == 0) {
            t->dtype = st_dtypes[i].dtype;
            nbits = st_dtypes[i].bits;
            break;
        }

    if (json_array_size(sh) > HN_ST_MAX_DIMS)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"%s\": shape: %zu dimensions, at most %d supported", src,
                          nm, json_array_size(sh), HN_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(sh);
    t->numel = 1;
    for (i = 0; i < json_array_size(sh); i++) {
        if (json_size(json_array_get(sh, i), &t->shape[i]) != 0)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: tensor \"%s\": shape[%zu]: must be a non-negative integer",
                              src, nm, i);
        if (hn_mul_size(t->numel, t->shape[i], &t->numel) != 0)
            return hn_err_set(err, HN_ERANGE,
                              "%s: tensor \"%s\": shape: element count overflows size_t", src,
                              nm);
    }

    if (json_size(json_array_get(off, 0), &t->begin) != 0 ||
        json_size(json_array_get(off, 1), &t->end) != 0)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"%s\": data_offsets: must be non-negative integers", src,
                          nm);
    if (t->begin > t->end)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"%s\": data_offsets: begin %zu > end %zu", src, nm,
                          t->begin, t->end);
    if (t->end > data_len)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"%s\": data_offsets: end %zu past the end of the data "
                          "buffer (%zu bytes)",
                          src, nm, t->end, data_len);
    if (nbits) {
        size_t bits;
        if (hn_mul_size(t->numel, nbits, &bits) != 0)
            return hn_err_set(err, HN_ERANGE,
                              "%s: tensor \"%s\": shape: byte size overflows size_t", src, nm);
        nbytes = bits / 8;
        if (bits % 8 != 0 || nbytes != t->end - t->begin)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: tensor \"%s\": data_offsets: [%zu, %zu] holds %zu bytes, but "
                              "%zu elements of %s need %zu bits",
                              src, nm, t->begin, t->end, t->end - t->begin, t->numel, ds, bits);
    }
    return HN_OK;
}

/* Tensors sorted by begin must cover [0, data_len) with no overlap and no gap. */
static int check_tiling(hn_st_tensor *ts, size_t n, size_t data_len, const char *src,
                        hn_err *err)
{
    size_t pos = 0;
    qsort(ts, n, sizeof *ts, cmp_offsets);
    for (size_t i = 0; i < n; i++) {
        if (ts[i].begin < pos)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: tensor \"%s\": data_offsets [%zu, %zu] overlap tensor \"%s\" "
                              "[%zu, %zu]",
                              src, ts[i].name, ts[i].begin, ts[i].end, ts[i - 1].name,
                              ts[i - 1].begin, ts[i - 1].end);
        if (ts[i].begin > pos) {
            if (i == 0)
                return hn_err_set(err, HN_EFORMAT,
                                  "%s: tensor \"%s\": data_offsets begin %zu leaves a gap: the "
                                  "data buffer must start with a tensor at offset 0",
                                  src, ts[i].name, ts[i].begin);
            return hn_err_set(err, HN_EFORMAT,
                              "%s: tensor \"%s\": data_offsets begin %zu leaves a gap after "
                              "tensor \"%s\" (ends at %zu)",
                              src, ts[i].name, ts[i].begin, ts[i - 1].name, pos);
        }
        pos = ts[i].end;
    }
    if (pos != data_len) {
        if (n == 0)
            return hn_err_set(err, HN_EFORMAT,
                              "%s: data_offsets: no tensors, but the data buffer has %zu bytes",
                              src, data_len);
        return hn_err_set(err, HN_EFORMAT,
                          "%s: data_offsets: %zu unused bytes after the last tensor \"%s\" (ends "
                          "at %zu, data buffer has %zu bytes)",
                          src, data_len - pos, ts[n - 1].name, pos, data_len);
    }
    return HN_OK;
}

/* Parse the JSON header and build the file description (data not set). */
static int st_build(const char *hdr, size_t hlen, size_t data_len, const char *src,
                    hn_st_file **out, hn_err *err)
{
    json_error_t je;
    json_t *root, *v;
    const char *key;
    hn_st_file *f = NULL;
    size_t n = 0, k = 0;
    int rc = HN_OK;

    *out = NULL;
    /* jansson stops at a NUL and reports "end of file expected": name it
     * (the format pads its header with spaces, never NULs) */
    const char *nul = memchr(hdr, '\0', hlen);
    if (nul)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: header: NUL byte at file offset %zu (the JSON header may be padded "
                          "with spaces only)",
                          src, 8 + (size_t)(nul - hdr));
    memset(&je, 0, sizeof je);
    root = json_loadb(hdr, hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (hn_json_error_is_oom(&je))
            return hn_err_set(err, HN_ENOMEM, "%s: out of memory parsing the header", src);
        return hn_err_set(err, HN_EFORMAT, "%s: header: invalid JSON at line %d column %d: %s",
                          src, je.line, je.column, je.text);
    }
    if (!json_is_object(root)) {
        rc = hn_err_set(err, HN_EFORMAT, "%s: header: must be a JSON object", src);
        goto out;
    }
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            rc = check_metadata(v, src, err);
            if (rc != HN_OK)
                goto out;
        } else {
            n++;
        }
    }
    f = hn_calloc(1, sizeof *f);
    if (!f)
        goto oom;
    f->path = hn_strdup(src);
    f->tensors = hn_calloc(n, sizeof *f->tensors);
    if (!f->path || !f->tensors)
        goto oom;
    f->data_len = data_len;
    json_object_foreach(root, key, v) {
        hn_st_tensor *t;
        if (strcmp(key, "__metadata__") == 0)
            continue;
        t = &f->tensors[k];
        t->name = hn_strdup(key);
        if (!t->name)
            goto oom;
        f->n_tensors = ++k;
        rc = parse_entry(v, src, data_len, t, err);
        if (rc != HN_OK)
            goto out;
    }
    rc = check_tiling(f->tensors, f->n_tensors, data_len, src, err);
    if (rc != HN_OK)
        goto out;
    qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_names);
    *out = f;
    f = NULL;
    goto out;
oom:
    rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory reading the header", src);
out:
    hn_st_free(f);
    json_decref(root);
    return rc;
}

/* Shared checks of the 8-byte length prefix; *hlen on success. */
static int check_prefix(const unsigned char *p8, size_t file_len, const char *src, size_t *hlen,
                        hn_err *err)
{
    uint64_t n;
    if (file_len < 8)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: header length: file is %zu bytes, shorter than the 8-byte header "
                          "length",
                          src, file_len);
    n = le64(p8);
    if (n == 0)
        return hn_err_set(err, HN_EFORMAT, "%s: header length: 0 (empty JSON header)", src);
    if (n > HN_ST_MAX_HEADER)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: header length: %llu bytes exceeds the limit of %u", src,
                          (unsigned long long)n, HN_ST_MAX_HEADER);
    if (n > file_len - 8)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: header length: %llu bytes past the end of the file (%zu bytes)",
                          src, (unsigned long long)n, file_len);
    *hlen = (size_t)n;
    return HN_OK;
}

int hn_st_parse(const unsigned char *buf, size_t len, const char *source, hn_st_file **out,
                hn_err *err)
{
    size_t hlen, dlen;
    hn_st_file *f;
    int rc;

    *out = NULL;
    if (!source)
        source = "<safetensors>";
    if (!buf && len > 0)
        return hn_err_set(err, HN_EINVAL, "%s: no buffer", source);
    rc = check_prefix(buf, len, source, &hlen, err);
    if (rc != HN_OK)
        return rc;
    dlen = len - 8 - hlen;
    rc = st_build((const char *)buf + 8, hlen, dlen, source, &f, err);
    if (rc != HN_OK)
        return rc;
    f->data = hn_malloc(dlen);
    if (!f->data) {
        hn_st_free(f);
        return hn_err_set(err, HN_ENOMEM, "%s: out of memory for %zu data bytes", source, dlen);
    }
    if (dlen)
        memcpy(f->data, buf + 8 + hlen, dlen);
    *out = f;
    return HN_OK;
}

static int read_fail(hn_err *err, const char *path)
{
    if (errno == 0)
        return hn_err_set(err, HN_EIO, "%s: unexpected end of file (file changed while read?)",
                          path);
    return hn_err_set(err, HN_EIO, "%s: read error: %s", path, strerror(errno));
}

int hn_st_read(const char *path, hn_st_file **out, hn_err *err)
{
    int fd, rc;
    struct stat st;
    unsigned char p8[8] = {0};
    size_t fsize, hlen, dlen;
    char *hdr = NULL;
    hn_st_file *f = NULL;

    *out = NULL;
    rc = hn_open_read(path, &fd, &st, err);
    if (rc)
        return rc;
    if (!S_ISREG(st.st_mode)) {
        /* Pipes and devices have no size up front: read it all, then parse. */
        char *buf;
        size_t len;
        close(fd);
        fd = -1;
        rc = hn_read_file(path, &buf, &len, err);
        if (rc != HN_OK)
            return rc;
        rc = hn_st_parse((unsigned char *)buf, len, path, out, err);
        hn_free(buf);
        return rc;
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        rc = hn_err_set(err, HN_ERANGE, "%s: file too large", path);
        goto out;
    }
    fsize = (size_t)st.st_size;
    if (fsize >= 8 && hn_read_exact(fd, p8, 8) != 0) {
        rc = read_fail(err, path);
        goto out;
    }
    rc = check_prefix(p8, fsize, path, &hlen, err);
    if (rc != HN_OK)
        goto out;
    hdr = hn_malloc(hlen);
    if (!hdr) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory for a %zu-byte header", path, hlen);
        goto out;
    }
    if (hn_read_exact(fd, hdr, hlen) != 0) {
        rc = read_fail(err, path);
        goto out;
    }
    dlen = fsize - 8 - hlen;
    rc = st_build(hdr, hlen, dlen, path, &f, err);
    if (rc != HN_OK)
        goto out;
    f->data = hn_malloc(dlen);
    if (!f->data) {
        rc = hn_err_set(err, HN_ENOMEM, "%s: out of memory for %zu data bytes", path, dlen);
        goto out;
    }
    if (hn_read_exact(fd, f->data, dlen) != 0) {
        rc = read_fail(err, path);
        goto out;
    }
    *out = f;
    f = NULL;
out:
    hn_free(hdr);
    hn_st_free(f);
    if (fd >= 0)
        close(fd);
    return rc;
}

const hn_st_tensor *hn_st_find(const hn_st_file *f, const char *name)
{
    if (!f || !name)
        return NULL;
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

static int check_tensor(const hn_st_file *f, const hn_st_tensor *t, hn_err *err)
{
    if (!f || !t)
        return hn_err_set(err, HN_EINVAL, "%s: no tensor given", f && f->path ? f->path : "?");
    if (t->end > f->data_len || t->begin > t->end)
        return hn_err_set(err, HN_EINVAL, "%s: tensor \"%s\" does not belong to this file",
                          f->path, t->name);
    return HN_OK;
}

int hn_st_to_f64(const hn_st_file *f, const hn_st_tensor *t, double *out, hn_err *err)
{
    const unsigned char *p;
    int rc = check_tensor(f, t, err);
    if (rc != HN_OK)
        return rc;
    if (t->dtype != HN_ST_F64 && t->dtype != HN_ST_F32)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"%s\": dtype %s is not a float type (F64 or F32 needed)",
                          f->path, t->name, t->dtype_name);
    p = f->data + t->begin;
    for (size_t i = 0; i < t->numel; i++) {
        double x;
        if (t->dtype == HN_ST_F64) {
            uint64_t u = le64(p + 8 * i);
            memcpy(&x, &u, sizeof x);
        } else {
            uint32_t u = le32(p + 4 * i);
            float fl;
            memcpy(&fl, &u, sizeof fl);
            x = fl;
        }
        if (!isfinite(x))
            return hn_err_set(err, HN_EINVAL,
                              "%s: tensor \"%s\": element %zu (flat index) is %s", f->path,
                              t->name, i, isnan(x) ? "NaN" : "infinite");
        out[i] = x;
    }
    return HN_OK;
}

int hn_st_to_i64(const hn_st_file *f, const hn_st_tensor *t, long *out, hn_err *err)
{
    const unsigned char *p;
    int rc = check_tensor(f, t, err);
    if (rc != HN_OK)
        return rc;
    if (t->dtype != HN_ST_I64 && t->dtype != HN_ST_I32)
        return hn_err_set(err, HN_EFORMAT,
                          "%s: tensor \"%s\": dtype %s is not an integer type (I64 or I32 "
                          "needed)",
                          f->path, t->name, t->dtype_name);
    p = f->data + t->begin;
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == HN_ST_I64) {
            int64_t v;
            uint64_t u = le64(p + 8 * i);
            memcpy(&v, &u, sizeof v);
#if LONG_MAX < INT64_MAX
            if (v > LONG_MAX || v < LONG_MIN)
                return hn_err_set(err, HN_ERANGE,
                                  "%s: tensor \"%s\": element %zu does not fit a long", f->path,
                                  t->name, i);
#endif
            out[i] = (long)v;
        } else {
            int32_t v;
            uint32_t u = le32(p + 4 * i);
            memcpy(&v, &u, sizeof v);
            out[i] = v;
        }
    }
    return HN_OK;
}
