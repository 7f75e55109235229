/* hessnorm — ASCII formulas to MathML (base/mathml.h): a tokenizer and a
 * small recursive-descent reader of sequences, terms (an atom with its
 * scripts), fractions and fences.  Nothing is ever rejected: what is not
 * understood is written as an operator or as text. */
#include "config.h"
#include <ctype.h>
#include <string.h>
#include "hessnorm/alloc.h"
#include "base/mathml.h"

typedef enum {
    TK_END, TK_ID, TK_NUM, TK_OP, TK_TEXT, TK_NORM, TK_BAR, TK_LP, TK_RP, TK_LB, TK_RB, TK_LC, TK_RC,
    TK_SUP, TK_SUB, TK_SLASH
} tk_kind;

typedef struct {
    tk_kind k;
    const char *s;  /* the token's bytes in the input */
    size_t n;
    int sp;         /* whitespace before it */
    int tilde, star; /* an identifier written w~ or theta* */
    const char *mo; /* TK_OP: the operator as written out (NULL: its bytes) */
} tk;

typedef struct {
    const tk *t;
    size_t i;
    int depth;
} rd;

/* deeper nesting than this is written flat (no formula of the registry
 * comes near it) */
#define MATHML_MAX_DEPTH 24

static void put_esc(hn_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<': hn_buf_puts(b, "&lt;"); break;
        case '>': hn_buf_puts(b, "&gt;"); break;
        case '&': hn_buf_puts(b, "&amp;"); break;
        case '"': hn_buf_puts(b, "&quot;"); break;
        default: hn_buf_printf(b, "%c", s[i]);
        }
    }
}

/* A failed inner buffer fails the outer one (hn_buf_save reports it). */
static void absorb(hn_buf *b, const hn_buf *inner)
{
    if (inner->failed)
        b->failed = 1;
}

static int word_is(const tk *t, const char *w)
{
    return t->k == TK_ID && t->n == strlen(w) && !strncmp(t->s, w, t->n);
}

/* ------------------------------------------------------------ tokens */

static const struct {
    const char *ascii, *mo;
} ops[] = {{"<=", "\u2264"}, {">=", "\u2265"}, {"...", "\u22ef"}, {"~", "\u2248"}, {"-", "\u2212"},
           {"+", "+"},       {"=", "="},       {",", ","},        {"*", "*"},      {":", ":"},
           {";", ";"},       {"<", "&lt;"},    {">", "&gt;"},     {"!", "!"},      {"'", "\u2032"}};

/* One token at p (not whitespace) into *t; returns the bytes it took.
 * prev: the token before (NULL at the start). */
static size_t lex_one(const char *p, const tk *prev, tk *t)
{
    const char c = *p;
    if (isalpha((unsigned char)c)) {
        if (!strncmp(p, "i.e.", 4)) {
            *t = (tk){TK_TEXT, p, 4, t->sp, 0, 0, NULL};
            return 4;
        }
        size_t n = 1;
        while (isalnum((unsigned char)p[n]))
            n++;
        *t = (tk){TK_ID, p, n, t->sp, p[n] == '~', p[n] == '*', NULL};
        return n + (size_t)(p[n] == '~' || p[n] == '*');
    }
    if (isdigit((unsigned char)c)) {
        size_t n = 1;
        while (isdigit((unsigned char)p[n]) || (p[n] == '.' && isdigit((unsigned char)p[n + 1])))
            n++;
        *t = (tk){TK_NUM, p, n, t->sp, 0, 0, NULL};
        return n;
    }
    /* (x) after a space or an operator is the Kronecker product; f(x) applies f */
    if (!strncmp(p, "(x)", 3) && (!prev || t->sp || prev->k == TK_OP)) {
        *t = (tk){TK_OP, p, 3, t->sp, 0, 0, "\u2297"};
        return 3;
    }
    static const struct {
        char c;
        tk_kind k;
    } single[] = {{'(', TK_LP}, {')', TK_RP}, {'[', TK_LB}, {']', TK_RB}, {'{', TK_LC},
                  {'}', TK_RC}, {'^', TK_SUP}, {'_', TK_SUB}, {'/', TK_SLASH}};
    if (c == '|') {
        *t = (tk){p[1] == '|' ? TK_NORM : TK_BAR, p, p[1] == '|' ? 2u : 1u, t->sp, 0, 0, NULL};
        return t->n;
    }
    for (size_t i = 0; i < sizeof single / sizeof single[0]; i++)
        if (c == single[i].c) {
            *t = (tk){single[i].k, p, 1, t->sp, 0, 0, NULL};
            return 1;
        }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strncmp(p, ops[i].ascii, strlen(ops[i].ascii))) {
            *t = (tk){TK_OP, p, strlen(ops[i].ascii), t->sp, 0, 0, ops[i].mo};
            return t->n;
        }
    /* anything else (a UTF-8 sequence whole): an operator of its own bytes */
    size_t n = 1;
    while ((unsigned char)c >= 0x80 && ((unsigned char)p[n] & 0xc0) == 0x80)
        n++;
    *t = (tk){TK_OP, p, n, t->sp, 0, 0, NULL};
    return n;
}

/* The tokens of s, ending with TK_END (NULL when out of memory). */
static tk *lex(const char *s)
{
    tk *t = hn_malloc((strlen(s) + 1) * sizeof *t);
    if (!t)
        return NULL;
    size_t n = 0;
    for (const char *p = s;;) {
        int sp = 0;
        while (isspace((unsigned char)*p)) {
            sp = 1;
            p++;
        }
        if (!*p)
            break;
        t[n].sp = sp;
        p += lex_one(p, n ? &t[n - 1] : NULL, &t[n]);
        n++;
    }
    t[n] = (tk){TK_END, "", 0, 0, 0, 0, NULL};
    return t;
}

/* ------------------------------------------------------------ words */

static const char *const greek[] = {
    "alpha", "\u03b1", "beta", "\u03b2", "gamma", "\u03b3", "delta", "\u03b4", "epsilon", "\u03b5",
    "zeta", "\u03b6", "eta", "\u03b7", "theta", "\u03b8", "iota", "\u03b9", "kappa", "\u03ba",
    "lambda", "\u03bb", "mu", "\u03bc", "nu", "\u03bd", "xi", "\u03be", "pi", "\u03c0",
    "rho", "\u03c1", "sigma", "\u03c3", "tau", "\u03c4", "phi", "\u03c6", "chi", "\u03c7",
    "psi", "\u03c8", "omega", "\u03c9", "Gamma", "\u0393", "Delta", "\u0394", "Theta", "\u0398",
    "Lambda", "\u039b", "Xi", "\u039e", "Pi", "\u03a0", "Sigma", "\u03a3", "Phi", "\u03a6",
    "Psi", "\u03a8", "Omega", "\u03a9", NULL};

/* Names written as identifiers although longer than one letter. */
static const char *const math_words[] = {"vec", "dz", "dW", "dT", "dx", "kl", "ij", "log", "exp", "tr",
                                         "diag", "vec_r", NULL};

static const char *greek_of(const tk *t)
{
    for (size_t i = 0; greek[i]; i += 2)
        if (word_is(t, greek[i]))
            return greek[i + 1];
    return NULL;
}

static int is_large_op(const tk *t)
{
    return word_is(t, "sum") || word_is(t, "prod") || word_is(t, "max") || word_is(t, "min");
}

/* A word of prose (written as text): two letters or more, not a name of
 * the formulas. */
static int is_prose(const tk *t, int in_script)
{
    if (t->k != TK_ID || t->n < 2 || in_script || greek_of(t) || is_large_op(t) || word_is(t, "grad") ||
        word_is(t, "sqrt") || word_is(t, "in"))
        return 0;
    for (size_t i = 0; math_words[i]; i++)
        if (word_is(t, math_words[i]))
            return 0;
    for (size_t i = 0; i < t->n; i++)
        if (!isalpha((unsigned char)t->s[i]))
            return 0; /* c1, k2: indices */
    return 1;
}

/* One identifier (its tilde included; its star is a script). */
static void put_id(hn_buf *b, const tk *t, int in_script)
{
    const char *g = greek_of(t);
    if (t->tilde)
        hn_buf_puts(b, "<mover accent=\"true\">");
    if (word_is(t, "sum") || word_is(t, "prod"))
        hn_buf_puts(b, word_is(t, "sum") ? "<mo>\u2211</mo>" : "<mo>\u220f</mo>");
    else if (word_is(t, "max") || word_is(t, "min"))
        hn_buf_printf(b, "<mo>%.3s</mo>", t->s);
    else if (word_is(t, "grad"))
        hn_buf_puts(b, "<mo>\u2207</mo>");
    else if (word_is(t, "in"))
        hn_buf_puts(b, "<mo>\u2208</mo>");
    else if (g)
        hn_buf_printf(b, "<mi%s>%s</mi>", isupper((unsigned char)t->s[0]) ? " mathvariant=\"normal\"" : "", g);
    else if (is_prose(t, in_script)) {
        hn_buf_puts(b, "<mtext>\u00a0");
        put_esc(b, t->s, t->n);
        hn_buf_puts(b, "\u00a0</mtext>");
    } else {
        hn_buf_puts(b, "<mi>");
        put_esc(b, t->s, t->n);
        hn_buf_puts(b, "</mi>");
    }
    if (t->tilde)
        hn_buf_puts(b, "<mo>~</mo></mover>");
}

/* ------------------------------------------------------------ the reader */

static void read_seq(rd *r, hn_buf *b, tk_kind stop, int in_script);

static const tk *peek(const rd *r) { return &r->t[r->i]; }

/* A fence: the sequence up to `close` between the operators l and r. */
static void read_fence(rd *r, hn_buf *b, tk_kind close, const char *l, const char *rr, int in_script)
{
    hn_buf_printf(b, "<mrow><mo fence=\"true\">%s</mo>", l);
    read_seq(r, b, close, in_script);
    if (peek(r)->k == close)
        r->i++;
    hn_buf_printf(b, "<mo fence=\"true\">%s</mo></mrow>", rr);
}

/* One atom at r->i: a name, a number, sqrt(..), a fence or a group.
 * A parenthesised group's content also goes to *inner (when not NULL),
 * for a fraction or an exponent that drops the parentheses; *group says
 * it was one. */
static void read_atom(rd *r, hn_buf *b, hn_buf *inner, int *group, int in_script)
{
    const tk *t = peek(r);
    *group = 0;
    if (r->depth > MATHML_MAX_DEPTH && t->k != TK_ID && t->k != TK_NUM) {
        hn_buf_puts(b, "<mo>");
        put_esc(b, t->s, t->n);
        hn_buf_puts(b, "</mo>");
        r->i++;
        return;
    }
    r->depth++;
    r->i++;
    switch (t->k) {
    case TK_ID:
        if (word_is(t, "sqrt") && peek(r)->k == TK_LP && !peek(r)->sp) {
            r->i++;
            hn_buf_puts(b, "<msqrt>");
            read_seq(r, b, TK_RP, in_script);
            if (peek(r)->k == TK_RP)
                r->i++;
            hn_buf_puts(b, "</msqrt>");
        } else {
            put_id(b, t, in_script);
        }
        break;
    case TK_NUM:
        hn_buf_puts(b, "<mn>");
        put_esc(b, t->s, t->n);
        hn_buf_puts(b, "</mn>");
        break;
    case TK_LP: {
        hn_buf in;
        hn_buf_init(&in);
        read_seq(r, &in, TK_RP, in_script);
        if (peek(r)->k == TK_RP)
            r->i++;
        hn_buf_printf(b, "<mrow><mo>(</mo>%s<mo>)</mo></mrow>", in.s ? in.s : "");
        if (inner) {
            hn_buf_puts(inner, in.s ? in.s : "");
            absorb(inner, &in);
        }
        *group = 1;
        absorb(b, &in);
        hn_buf_free(&in);
        break;
    }
    case TK_LB: read_fence(r, b, TK_RB, "[", "]", in_script); break;
    case TK_LC: read_fence(r, b, TK_RC, "{", "}", in_script); break;
    case TK_NORM: read_fence(r, b, TK_NORM, "\u2016", "\u2016", in_script); break;
    case TK_BAR: read_fence(r, b, TK_BAR, "|", "|", in_script); break;
    case TK_TEXT:
        hn_buf_puts(b, "<mtext>\u00a0");
        put_esc(b, t->s, t->n);
        hn_buf_puts(b, "\u00a0</mtext>");
        break;
    default:
        hn_buf_puts(b, "<mo>");
        put_esc(b, t->s, t->n);
        hn_buf_puts(b, "</mo>");
    }
    r->depth--;
}

/* The script after ^ or _ (r->i past it): {..} (the braces dropped), (..)
 * (its parentheses kept for a layer index: after a name, starting with a
 * letter or a number alone, as (p-1) or (1); dropped for a power, as (2L)), a name or a number; a superscript (k)
 * followed by T is the transpose of ^(k). */
static void read_script(rd *r, hn_buf *b, int sup, int base_group)
{
    const tk *t = peek(r);
    hn_buf_puts(b, "<mrow>");
    if (t->k == TK_LC) {
        r->i++;
        read_seq(r, b, TK_RC, 1);
        if (peek(r)->k == TK_RC)
            r->i++;
    } else if (t->k == TK_LP && !t->sp) {
        const tk *first = &r->t[r->i + 1];
        const int index = !base_group && (first->k == TK_ID || (first->k == TK_NUM && first[1].k == TK_RP));
        hn_buf in;
        hn_buf_init(&in);
        int g;
        read_atom(r, index ? b : &in, index ? NULL : b, &g, 1);
        hn_buf_free(&in);
        if (sup && word_is(peek(r), "T") && !peek(r)->sp) {
            r->i++;
            hn_buf_puts(b, "<mi>T</mi>");
        }
    } else if ((t->k == TK_ID || t->k == TK_NUM || t->k == TK_OP) && !t->sp) {
        r->i++;
        if (t->k == TK_ID)
            put_id(b, t, 1);
        else
            hn_buf_printf(b, "<m%c>%.*s</m%c>", t->k == TK_NUM ? 'n' : 'o', (int)t->n, t->mo ? t->mo : t->s,
                          t->k == TK_NUM ? 'n' : 'o');
    }
    hn_buf_puts(b, "</mrow>");
}

/* One term: an atom and its scripts.  *inner and *bare: a group without
 * scripts, its content (see read_atom). */
static void read_term(rd *r, hn_buf *b, hn_buf *inner, int *bare, int in_script)
{
    const tk *head = peek(r);
    hn_buf base, sub, sup;
    hn_buf_init(&base);
    hn_buf_init(&sub);
    hn_buf_init(&sup);
    int group;
    read_atom(r, &base, inner, &group, in_script);
    if (head->k == TK_ID && head->star)
        hn_buf_puts(&sup, "<mo>*</mo>");
    for (;;) {
        const tk *t = peek(r);
        if ((t->k != TK_SUP && t->k != TK_SUB) || t->sp)
            break;
        r->i++;
        read_script(r, t->k == TK_SUP ? &sup : &sub, t->k == TK_SUP, group);
    }
    const int large = head->k == TK_ID && is_large_op(head) && !in_script;
    const char *bs = base.s ? base.s : "";
    *bare = group && !sub.len && !sup.len;
    if (sub.len && sup.len)
        hn_buf_printf(b, "<%s>%s<mrow>%s</mrow><mrow>%s</mrow></%s>", large ? "munderover" : "msubsup", bs, sub.s,
                      sup.s, large ? "munderover" : "msubsup");
    else if (sub.len)
        hn_buf_printf(b, "<%s>%s<mrow>%s</mrow></%s>", large ? "munder" : "msub", bs, sub.s,
                      large ? "munder" : "msub");
    else if (sup.len)
        hn_buf_printf(b, "<%s>%s<mrow>%s</mrow></%s>", large ? "mover" : "msup", bs, sup.s,
                      large ? "mover" : "msup");
    else
        hn_buf_puts(b, bs);
    absorb(b, &base);
    absorb(b, &sub);
    absorb(b, &sup);
    hn_buf_free(&base);
    hn_buf_free(&sub);
    hn_buf_free(&sup);
}

/* A term, and a fraction when a slash without spaces follows it. */
static void read_fraction(rd *r, hn_buf *b, int in_script)
{
    hn_buf num, in;
    hn_buf_init(&num);
    hn_buf_init(&in);
    int bare;
    read_term(r, &num, &in, &bare, in_script);
    while (peek(r)->k == TK_SLASH && !peek(r)->sp && !r->t[r->i + 1].sp &&
           (r->t[r->i + 1].k == TK_ID || r->t[r->i + 1].k == TK_NUM || r->t[r->i + 1].k == TK_LP ||
            r->t[r->i + 1].k == TK_NORM)) {
        r->i++;
        hn_buf den, din, f;
        hn_buf_init(&den);
        hn_buf_init(&din);
        hn_buf_init(&f);
        int dbare;
        read_term(r, &den, &din, &dbare, in_script);
        hn_buf_printf(&f, "<mfrac><mrow>%s</mrow><mrow>%s</mrow></mfrac>",
                      (bare ? in.s : num.s) ? (bare ? in.s : num.s) : "",
                      (dbare ? din.s : den.s) ? (dbare ? din.s : den.s) : "");
        absorb(&f, &num);
        absorb(&f, &in);
        absorb(&f, &den);
        absorb(&f, &din);
        hn_buf_free(&num);
        hn_buf_free(&den);
        hn_buf_free(&din);
        num = f;
        bare = 0;
    }
    hn_buf_puts(b, num.s ? num.s : "");
    absorb(b, &num);
    hn_buf_free(&num);
    hn_buf_free(&in);
}

/* Tokens up to `stop` (not taken) or the end. */
static void read_seq(rd *r, hn_buf *b, tk_kind stop, int in_script)
{
    for (;;) {
        const tk *t = peek(r);
        if (t->k == TK_END || t->k == stop)
            return;
        switch (t->k) {
        case TK_ID:
        case TK_NUM:
        case TK_LP:
        case TK_LB:
        case TK_LC:
        case TK_NORM:
        case TK_BAR:
        case TK_TEXT: read_fraction(r, b, in_script); break;
        default:
            /* an operator, an unmatched closer, a slash between spaced terms */
            hn_buf_puts(b, "<mo>");
            if (t->mo)
                hn_buf_puts(b, t->mo);
            else
                put_esc(b, t->s, t->n);
            hn_buf_puts(b, "</mo>");
            r->i++;
        }
    }
}

void hn_mathml(hn_buf *b, const char *ascii)
{
    hn_buf_puts(b, "<math alttext=\"");
    put_esc(b, ascii, strlen(ascii));
    hn_buf_puts(b, "\"><mrow>");
    tk *t = lex(ascii);
    if (t) {
        rd r = {t, 0, 0};
        read_seq(&r, b, TK_END, 0);
        hn_free(t);
    } else {
        b->failed = 1; /* out of memory: the buffer reports it */
    }
    hn_buf_puts(b, "</mrow></math>");
}
