#!/bin/sh
# proofs/*.md and README.md's section between the audit-findings markers
# are generated (`make proofs`): regenerate them into a temporary folder, from the audit that `make check` ran once into the build
# tree (proofs-audit/, default seed and counts), and fail, naming the file
# and its first differing line, when a committed file differs from what
# proofs/generate/gen.py writes.  Skipped (77) without python3.
set -u
S=${HN_SRCDIR:-.}
B=${HN_BUILDDIR:-.}
PY=${HN_PYTHON3:-}
[ -n "$PY" ] || PY=$(command -v python3 2> /dev/null) || PY=""
if [ -z "$PY" ]; then
    echo "check_proofs: SKIP: python3 not found (gen.py needs it; ./bootstrap installs it)"
    exit 77
fi
A="$B/proofs-audit"
if [ ! -f "$A/audit.json" ]; then
    echo "check_proofs: FAIL: $A/audit.json is missing (make check builds it first: make proofs-audit/audit.json)"
    exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/out"
if ! "$PY" "$S/proofs/generate/gen.py" "$S/proofs/generate/tpl" "$T/out" "$A" \
        --readme "$S/README.md" "$T/README.md" > "$T/log" 2>&1; then
    echo "check_proofs: FAIL: proofs/generate/gen.py failed:"
    sed 's/^/    /' "$T/log"
    exit 1
fi

# first_diff A B: the first line at which files A and B differ (from the
# first hunk of diff: "60c60", "60,61d59", "59a60,61" = after line 59)
first_diff() {
    h=$(diff "$1" "$2" | head -n 1)
    l=${h%%[acd,]*}
    case $h in *a*) l=$((l + 1));; esac
    echo "$l"
}
fail=0
n=0
for g in "$T"/out/*.md; do
    f=$(basename "$g")
    n=$((n + 1))
    c="$S/proofs/$f"
    if [ ! -f "$c" ]; then
        echo "check_proofs: FAIL: proofs/$f is generated (template proofs/generate/tpl/$f) but not committed"
        fail=1
    elif ! cmp -s "$c" "$g"; then
        l=$(first_diff "$c" "$g")
        echo "check_proofs: FAIL: proofs/$f is not what make proofs writes; first difference at line $l:"
        echo "    committed: $(sed -n "${l}p" "$c")"
        echo "    generated: $(sed -n "${l}p" "$g")"
        fail=1
    fi
done
for c in "$S"/proofs/*.md; do
    f=$(basename "$c")
    [ -f "$T/out/$f" ] || { echo "check_proofs: FAIL: proofs/$f has no template in proofs/generate/tpl/"; fail=1; }
done
if ! cmp -s "$S/README.md" "$T/README.md"; then
    l=$(first_diff "$S/README.md" "$T/README.md")
    echo "check_proofs: FAIL: README.md's audit-findings section is not what make proofs writes"
    echo "    (template proofs/generate/readme_findings.md); first difference at line $l:"
    echo "    committed: $(sed -n "${l}p" "$S/README.md")"
    echo "    generated: $(sed -n "${l}p" "$T/README.md")"
    fail=1
fi
if [ $fail = 0 ]; then
    echo "check_proofs: the $n files of proofs/ and README.md's audit section are current (audit: $A)"
else
    echo "check_proofs: run 'make proofs' to regenerate them into the source tree (or fix the template)"
fi
exit $fail
