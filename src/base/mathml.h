/* hessnorm — internal: the claim registry's ASCII formulas as MathML, for
 * the HTML reports (rendered natively by the browser, nothing loaded). */
#ifndef HN_BASE_MATHML_H
#define HN_BASE_MATHML_H
#include "hessnorm/buf.h"

/* Append <math alttext="ASCII">...</math> for the formula `ascii`:
 *   ||x|| and |x|             norms and absolute values (fences)
 *   sqrt(x)                   a square root
 *   a^b, a^(b), a^{b}, a_b, a_{b}   scripts; a^(p) after a name keeps its
 *                             parentheses (the paper's layer index T^(p),
 *                             T^(p-1), T^(1)),
 *                             a power such as w^(2L) or (...)^(L+1) drops them;
 *                             a^(k)T is the transpose of a^(k)
 *   a/b (no spaces)           a fraction of the terms beside the slash
 *                             (a group's parentheses dropped); "a / b" stays
 *                             a slash (the term beside it is ambiguous)
 *   sum_ prod_ max_           large operators with limits; grad is nabla
 *   Greek names (theta, Lambda, ...), w~ (tilde), theta* (star), (x) after
 *   a space (Kronecker product), <= >= ~ ... in
 *   other words (the, at, ...) as text
 * Anything else is kept as an operator or text: the result is always
 * well-formed, whatever the input.  Out of memory: b->failed is set. */
void hn_mathml(hn_buf *b, const char *ascii);

#endif
