/* hessnorm — internal: the JSON helpers of the library and the command
 * (numbers, building objects, text, files, parse errors), on jansson.
 * Not installed. */
#ifndef HN_BASE_JSON_H
#define HN_BASE_JSON_H
#include <stddef.h>
#include <jansson.h>
#include "hessnorm/error.h"

/* The project's JSON text: 2-space indent, doubles with 17 digits (they
 * read back to the same bits). */
#define HN_JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(17))

/* v as a JSON number, or null when v is NaN or infinite (jansson has no
 * NaN/Inf: json_real returns NULL for them), so a NULL from here means out
 * of memory. */
json_t *hn_json_num(double v);

/* o[key] = v, stealing v; a NULL v (jansson out of memory) or a failed
 * insertion sets *bad, so a partial object is never taken as complete. */
void hn_json_put(json_t *o, const char *key, json_t *v, int *bad);

/* The text of j dumped with jansson's `flags` (NUL-terminated, freed with
 * hn_free), or NULL when out of memory.  Dumped through a callback into an
 * hn_buf whose first failure sticks: jansson 2.14 ignores a failed write
 * of an object key (dump.c, do_dump), so json_dumps can return a text with
 * a key's characters missing after one failed allocation. */
char *hn_json_dumps(const json_t *j, size_t flags);

/* Write j's text (jansson `flags`, then "\n" when `newline`) to path
 * atomically (hn_write_file_atomic).  Out of memory anywhere in the dump
 * is HN_ENOMEM ("<path>: out of memory while building the file") and
 * writes nothing. */
int hn_json_save(const json_t *j, const char *path, size_t flags, int newline, hn_err *err);

/* 1 when a jansson load error (json_loadb ...) is an out-of-memory one. */
int hn_json_error_is_oom(const json_error_t *je);

#endif
