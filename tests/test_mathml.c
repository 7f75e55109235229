/* The ASCII-to-MathML converter of the HTML reports (base/mathml.h): the
 * constructs one by one, every formula of the claim registry well-formed
 * with no ASCII notation left in it, hostile input, allocation failures. */
#include "config.h"
#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hessnorm.h"
#include "base/mathml.h"

/* The converted text of s (static; the <math ...><mrow> wrapper removed). */
static const char *conv(const char *s)
{
    static char out[8192];
    hn_buf b;
    hn_buf_init(&b);
    hn_mathml(&b, s);
    assert_false(b.failed);
    const char *p = strstr(b.s, "><mrow>");
    assert_non_null(p);
    p += 7;
    size_t n = strlen(p) - strlen("</mrow></math>");
    assert_true(n < sizeof out);
    memcpy(out, p, n);
    out[n] = '\0';
    hn_buf_free(&b);
    return out;
}

static void expect(const char *ascii, const char *want)
{
    const char *got = conv(ascii);
    if (strcmp(got, want)) {
        fprintf(stderr, "input: %s\n  got:  %s\n  want: %s\n", ascii, got, want);
        fail();
    }
}

static void test_constructs(void **state)
{
    (void)state;
    expect("sqrt(2)", "<msqrt><mn>2</mn></msqrt>");
    expect("||x||^2", "<msup><mrow><mo fence=\"true\">\u2016</mo><mi>x</mi><mo fence=\"true\">\u2016</mo></mrow>"
                      "<mrow><mrow><mn>2</mn></mrow></mrow></msup>");
    /* a layer index keeps its parentheses, a power drops them */
    expect("T^(p)", "<msup><mi>T</mi><mrow><mrow><mrow><mo>(</mo><mi>p</mi><mo>)</mo></mrow></mrow></mrow></msup>");
    expect("w_T^(2L)", "<msubsup><mi>w</mi><mrow><mrow><mi>T</mi></mrow></mrow><mrow><mrow><mn>2</mn><mi>L</mi>"
                       "</mrow></mrow></msubsup>");
    expect("(a)^(L+1)", "<msup><mrow><mo>(</mo><mi>a</mi><mo>)</mo></mrow><mrow><mrow><mi>L</mi><mo>+</mo>"
                        "<mn>1</mn></mrow></mrow></msup>");
    /* the transpose of a layer-indexed matrix */
    expect("G^(k)T", "<msup><mi>G</mi><mrow><mrow><mrow><mo>(</mo><mi>k</mi><mo>)</mo></mrow><mi>T</mi></mrow>"
                     "</mrow></msup>");
    /* fractions: the terms beside a slash without spaces, a group's parentheses dropped */
    expect("1/(k+1)", "<mfrac><mrow><mn>1</mn></mrow><mrow><mi>k</mi><mo>+</mo><mn>1</mn></mrow></mfrac>");
    expect("a / b", "<mi>a</mi><mo>/</mo><mi>b</mi>");
    expect("2/(k+1) W_l", "<mfrac><mrow><mn>2</mn></mrow><mrow><mi>k</mi><mo>+</mo><mn>1</mn></mrow></mfrac>"
                          "<msub><mi>W</mi><mrow><mrow><mi>l</mi></mrow></mrow></msub>");
    /* Greek, tilde, star, Kronecker product against application */
    expect("theta*", "<msup><mi>\u03b8</mi><mrow><mo>*</mo></mrow></msup>");
    expect("Lambda", "<mi mathvariant=\"normal\">\u039b</mi>");
    expect("w~", "<mover accent=\"true\"><mi>w</mi><mo>~</mo></mover>");
    expect("A (x) B", "<mi>A</mi><mo>\u2297</mo><mi>B</mi>");
    expect("f(x)", "<mi>f</mi><mrow><mo>(</mo><mi>x</mi><mo>)</mo></mrow>");
    expect("a <= b ~ c ... d", "<mi>a</mi><mo>\u2264</mo><mi>b</mi><mo>\u2248</mo><mi>c</mi><mo>\u22ef</mo><mi>d</mi>");
    /* large operators with limits; words of prose as text */
    expect("sum_{p=1}^{L}", "<munderover><mo>\u2211</mo><mrow><mrow><mi>p</mi><mo>=</mo><mn>1</mn></mrow></mrow>"
                            "<mrow><mrow><mi>L</mi></mrow></mrow></munderover>");
    expect("max_i", "<munder><mo>max</mo><mrow><mrow><mi>i</mi></mrow></mrow></munder>");
    expect("x (implied)", "<mi>x</mi><mrow><mo>(</mo><mtext>\u00a0implied\u00a0</mtext><mo>)</mo></mrow>");
    expect("|a|", "<mrow><mo fence=\"true\">|</mo><mi>a</mi><mo fence=\"true\">|</mo></mrow>");
    expect("a & <b>", "<mi>a</mi><mo>&amp;</mo><mo>&lt;</mo><mi>b</mi><mo>&gt;</mo>");
}

/* Well-formed: every tag closed in order, no '<' or '&' outside a tag or
 * entity; returns the text outside the tags (static). */
static const char *check_xml(const char *s)
{
    static char text[16384];
    const char *stack[256];
    size_t depth = 0, tn = 0;
    for (const char *p = s; *p;) {
        if (*p == '<') {
            const char *e = strchr(p, '>');
            assert_non_null(e);
            if (p[1] == '/') {
                assert_true(depth > 0);
                size_t n = strcspn(stack[depth - 1] + 1, " >");
                assert_true((size_t)(e - p - 2) == n && !strncmp(p + 2, stack[depth - 1] + 1, n));
                depth--;
            } else {
                assert_true(depth < 256);
                stack[depth++] = p;
            }
            p = e + 1;
        } else {
            if (*p == '&')
                assert_true(!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) || !strncmp(p, "&gt;", 4) ||
                            !strncmp(p, "&quot;", 6));
            assert_true(*p != '>');
            if (tn + 1 < sizeof text)
                text[tn++] = *p;
            p++;
        }
    }
    assert_int_equal(depth, 0);
    text[tn] = '\0';
    return text;
}

static void test_registry(void **state)
{
    (void)state;
    for (size_t i = 0; i < hn_claims_count(); i++) {
        const hn_claim *cl = hn_claim_get(i);
        hn_buf b;
        hn_buf_init(&b);
        hn_mathml(&b, cl->printed);
        assert_false(b.failed);
        /* the ASCII is the alttext, escaped */
        assert_non_null(strstr(b.s, "<math alttext=\""));
        const char *text = check_xml(b.s);
        /* no ASCII notation left: every ^ _ || (x) <= sqrt was converted (f(x) applies f) */
        if (strchr(text, '^') || strchr(text, '_') || strstr(text, "||") || strstr(text, " (x) ") ||
            strstr(text, "<=") || strstr(text, "sqrt")) {
            fprintf(stderr, "%s: %s\n  -> %s\n", cl->id, cl->printed, text);
            fail();
        }
        hn_buf_free(&b);
    }
}

static void test_hostile(void **state)
{
    (void)state;
    static const char *in[] = {"", "(((", ")))", "||", "|", "^", "_", "a^", "a_", "a/", "/b", "sqrt(", "{[(|",
                               "||(a||)|", "(x)", "a^(b", "1/(", "\xe2\x80\x96 \xff", "a\"b'c", "~*~"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        hn_buf b;
        hn_buf_init(&b);
        hn_mathml(&b, in[i]);
        assert_false(b.failed);
        check_xml(b.s);
        hn_buf_free(&b);
    }
    /* nesting far deeper than any formula: bounded, well-formed */
    char deep[4001];
    for (size_t i = 0; i < 4000; i++)
        deep[i] = i < 2000 ? '(' : ')';
    deep[4000] = '\0';
    hn_buf b;
    hn_buf_init(&b);
    hn_mathml(&b, deep);
    assert_false(b.failed);
    check_xml(b.s);
    hn_buf_free(&b);
}

/* Every allocation failed in turn: the buffer reports it (nothing crashes,
 * nothing leaks under valgrind). */
static void test_alloc_failures(void **state)
{
    (void)state;
    const char *f = hn_claim_get(hn_claims_count() - 1)->printed;
    for (long k = 1; k < 400; k++) {
        hn_alloc_fail_after(k);
        hn_buf b;
        hn_buf_init(&b);
        hn_mathml(&b, f);
        hn_alloc_fail_after(-1);
        hn_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructs),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
