#!/bin/sh
# The programs of examples/ built against the tree: the C one prints the
# example network's ||H_O|| (equal to `hessnorm inspect`'s, the same
# library call) and the claims that apply; the C++ one (when a C++
# compiler was found) the verdicts of three claims.  Usage errors exit 2.
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup
EX="$S/fixtures/example"

if "$B/examples/tightness" "$EX/model.json" "$EX/weights.safetensors" "$EX/sample.safetensors" > "$T/c.txt" 2> "$T/err"; then
    ho=$(awk '/^[0-9]+ parameters/ { for (i = 1; i <= NF; i++) if ($i == "||H_O||") print $(i + 1) }' "$T/c.txt")
    want=$("$B/hessnorm" inspect --example --json | awk -F': ' '/"hessian_outer"/ { f = 1 } f && /"norm"/ { gsub(/,/, "", $2); print $2; exit }')
    # 1e-5: the example prints %.6g
    if awk -v a="$ho" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 1e-5 * b) }' &&
            grep -q "lemma2.corrected" "$T/c.txt"; then
        ok "examples/tightness: ||H_O|| $ho (inspect: $want), claims listed"
    else
        bad "examples/tightness: ||H_O|| '$ho' vs inspect '$want'"
    fi
else
    bad "examples/tightness: $(cat "$T/err")"
fi
"$B/examples/tightness" > /dev/null 2>&1
[ $? -eq 2 ] && ok "examples/tightness without arguments: exit 2" || bad "examples/tightness usage exit"
if [ -x "$B/examples/tightness_cxx" ]; then
    if "$B/examples/tightness_cxx" "$EX/model.json" "$EX/weights.safetensors" "$EX/sample.safetensors" > "$T/cc.txt" 2> "$T/err" &&
            grep -q "^lemma2.corrected *holds" "$T/cc.txt"; then
        ok "examples/tightness_cxx: $(tr '\n' ';' < "$T/cc.txt")"
    else
        bad "examples/tightness_cxx: $(cat "$T/err" "$T/cc.txt")"
    fi
fi
hn_test_end examples
