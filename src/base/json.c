/* hessnorm — JSON helpers on jansson. */
#include "config.h"
#include <limits.h>
#include <math.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "hessnorm/buf.h"
#include "base/json.h"

json_t *hn_json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

void hn_json_put(json_t *o, const char *key, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, key, v) != 0)
        *bad = 1;
}

static int dump_to_buf(const char *buf, size_t size, void *data)
{
    hn_buf *b = data;
    if (size > INT_MAX)
        b->failed = 1;
    else
        hn_buf_printf(b, "%.*s", (int)size, buf);
    return b->failed ? -1 : 0;
}

/* j's text appended to b; b->failed on any failure. */
static void dump(const json_t *j, size_t flags, hn_buf *b)
{
    if (json_dump_callback(j, dump_to_buf, b, flags) != 0)
        b->failed = 1;
}

char *hn_json_dumps(const json_t *j, size_t flags)
{
    hn_buf b;
    hn_buf_init(&b);
    dump(j, flags, &b);
    if (b.failed || !b.s) {
        hn_buf_free(&b);
        return NULL;
    }
    return b.s; /* allocated by hn_realloc: the caller frees with hn_free */
}

int hn_json_save(const json_t *j, const char *path, size_t flags, int newline, hn_err *err)
{
    hn_buf b;
    hn_buf_init(&b);
    dump(j, flags, &b);
    if (newline)
        hn_buf_puts(&b, "\n");
    int rc = hn_buf_save(&b, path, err);
    hn_buf_free(&b);
    return rc;
}

int hn_json_error_is_oom(const json_error_t *je)
{
#if JANSSON_VERSION_HEX >= 0x020b00
    if (json_error_code(je) == json_error_out_of_memory)
        return 1;
#endif
    /* jansson leaves the text empty when its very first allocation fails */
    return je->text[0] == '\0' || strstr(je->text, "out of memory") != NULL;
}
