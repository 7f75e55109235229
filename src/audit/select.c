/* hessnorm — claim selection: the comma-separated id lists of `hessnorm
 * audit --claims` and of hn_audit_one.  Two parsers, because the two entry
 * points document different errors (audit: "--claims: unknown claim id",
 * the whole item quoted, an empty list selects nothing; hn_audit_one:
 * "claims: ...", a bounded printable quote, an empty list is an error). */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "audit/report.h"

/* The audit's list: strtok items (empty ones skipped) of at most 4095
 * bytes of the list. */
int hn_audit_select_claims(const char *list, int *selected, hn_err *err)
{
    const size_t n = hn_claims_count();
    for (size_t i = 0; i < n; i++)
        selected[i] = list == NULL;
    if (!list)
        return HN_OK;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const hn_claim *c = hn_claim_find(tok);
        if (!c)
            return hn_err_set(err, HN_EINVAL, "--claims: unknown claim id '%s'", tok);
        selected[c - hn_claim_get(0)] = 1;
    }
    return HN_OK;
}

/* Registry index of the id s[0..len), or -1. */
static long find_id(const char *s, size_t len)
{
    for (size_t i = 0; i < hn_claims_count(); i++) {
        const char *id = hn_claim_get(i)->id;
        if (strlen(id) == len && !strncmp(id, s, len))
            return (long)i;
    }
    return -1;
}

/* hn_audit_one's list (audit.h): empty items are skipped, an unknown id
 * (quoted in at most 64 printable bytes) or a list with no id is an
 * error. */
int hn_audit_one_select(const char *list, unsigned char *sel, size_t *n_sel, hn_err *err)
{
    const size_t n = hn_claims_count();
    *n_sel = 0;
    for (size_t i = 0; i < n; i++)
        sel[i] = list == NULL;
    if (!list) {
        *n_sel = n;
        return HN_OK;
    }
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len) {
            long i = find_id(p, len);
            if (i < 0) {
                /* quote at most 64 bytes, printable ones only: one line */
                char q[65];
                size_t k = 0;
                for (; k < len && k < 64; k++)
                    q[k] = isprint((unsigned char)p[k]) ? p[k] : '?';
                q[k] = '\0';
                return hn_err_set(err, HN_EINVAL, "claims: unknown claim id '%s%s'", q,
                                  len > 64 ? "..." : "");
            }
            if (!sel[i]) {
                sel[i] = 1;
                (*n_sel)++;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (!*n_sel)
        return hn_err_set(err, HN_EINVAL, "claims: no claim id in the list");
    return HN_OK;
}
