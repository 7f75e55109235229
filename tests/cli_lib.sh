# Sourced by the CLI test scripts: byte-level builders of hostile files.
# le64 N: N as 8 little-endian bytes
le64() {
    n=$1; i=0
    while [ $i -lt 8 ]; do
        printf "\\$(printf %03o $((n % 256)))"
        n=$((n / 256)); i=$((i + 1))
    done
}
# st FILE HEADER NBYTES: a safetensors file with NBYTES zero data bytes
st() { { le64 ${#2}; printf '%s' "$2"; head -c "$3" /dev/zero; } > "$1"; }
# ok NAME / bad NAME: one result line, counted in $pass and $fail (which
# the sourcing script sets to 0 first)
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
# hn_test_setup: what every CLI test starts with: B (build tree), S
# (source tree), HN (the command), T (a temporary folder removed on exit),
# the counters of ok / bad at 0
hn_test_setup() {
    B=${HN_BUILDDIR:-.}
    S=${HN_SRCDIR:-.}
    HN="$B/hessnorm"
    T=$(mktemp -d)
    trap 'rm -rf "$T"' EXIT
    pass=0
    fail=0
}
# hn_test_end NAME: the summary line; the status is the verdict
hn_test_end() {
    echo "$1: $pass passed, $fail failed"
    [ $fail -eq 0 ]
}
