#!/bin/sh
# Output paths that a shell or gnuplot would re-parse: every command that
# writes files (audit, experiment, inspect --dump, --write-example) runs
# with a folder name holding ', ", $(...), backquotes, spaces, a newline
# and a leading '-' (and, for gnuplot, a leading '|' or '<', which make
# gnuplot run a command).  Each run must exit 0 with a clean stderr, write
# its files at exactly that path (figures too when gnuplot is installed)
# and nothing beside it, leave no temporary, and run no injected command
# (no file named PWNED* appears anywhere under the test's folder).
set -u
B=${HN_BUILDDIR:-.}
S=${HN_SRCDIR:-.}
HN="$(cd "$B" && pwd)/hessnorm"
S=$(cd "$S" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$S/tests/cli_lib.sh"
pass=0 fail=0

NL='
'
# one name with every character a shell would act on, starting with '-'
HOSTILE="-x';touch PWNED;' \"q\" \$(touch PWNED) \`touch PWNED\` sp${NL}nl"
# leading characters gnuplot acts on: '|name' pipes the output into a
# command, '<name' reads data from one
PIPE_OUT='|touch PWNED;x'
PIPE_IN='<touch PWNED;x'
GNUPLOT=0
gnuplot -e 'set terminal png' </dev/null >/dev/null 2>&1 && GNUPLOT=1

# count DIR: the number of entries directly in DIR (names may hold newlines)
count() { find "$1" -mindepth 1 -maxdepth 1 -exec printf x \; | wc -c | tr -d ' '; }

n=0
# run NAME OUT CHECK CMD...: run CMD in a fresh folder (cwd), where OUT is
# the output folder CMD was given (relative to that cwd, or absolute under
# it); then CHECK OUT lists what must exist (one relative path a line).
run() {
    name=$1; out=$2; check=$3; shift 3
    n=$((n + 1))
    W="$T/run$n"
    mkdir "$W"
    (cd "$W" && "$HN" "$@" > "$T/stdout" 2> "$T/stderr")
    rc=$?
    case $out in /*) D=$out;; *) D="$W/$out";; esac
    why=""
    [ $rc -eq 0 ] || why="exit $rc"
    if grep -qi "gnuplot\|not drawn\|sh: \|not found\|error\|failed" "$T/stderr" "$T/stdout"; then
        why="$why; stderr/stdout: $(grep -i "gnuplot\|not drawn\|sh: \|not found\|error\|failed" "$T/stderr" "$T/stdout" | head -n 2)"
    fi
    [ -d "$D" ] || why="$why; no folder at the exact path"
    if [ -f "$D/report.md" ] && grep -q "not drawn" "$D/report.md"; then
        why="$why; report.md: $(grep "not drawn" "$D/report.md" | head -n 1)"
    fi
    # nothing beside the output folder: one entry in the run's folder, the
    # path's first component
    [ "$(count "$W")" = 1 ] || why="$why; $(count "$W") entries in the run folder"
    for f in $($check); do
        if [ "${f%.png}" != "$f" ]; then
            [ $GNUPLOT = 1 ] || continue
            head -c 8 "$D/$f" 2>/dev/null | od -c | grep -q "P   N   G" || why="$why; no figure $f"
        else
            [ -s "$D/$f" ] || why="$why; missing $f"
        fi
    done
    if [ -n "$(find "$W" -name '*.tmp*' -print)" ]; then why="$why; temporaries left"; fi
    if [ -n "$(find "$T" -name 'PWNED*' -print)" ]; then why="$why; an injected command ran"; fi
    if [ -z "$why" ]; then ok "$name"; else bad "$name:$why"; fi
    find "$T" -name 'PWNED*' -exec rm -rf {} + 2>/dev/null
}

audit_files() {
    echo report.md index.html audit.json figures/ratio_lemma2.dat figures/sweep_depth.dat \
        counterexamples/lemma2/claim.json figures/ratio_lemma2.png figures/sweep_depth.png
}
exp_files() {
    echo report.md index.html curves.csv summary.csv models/L2_k3_C6/model.json \
        fashion_mnist_change_layers.png fashion_mnist_change_layers_from1.png \
        fashion_mnist_change_layers_hessnorm.png
}
dump_files() { echo H.npy H_O.npy F.npy A.npy Q_1.npy; }
example_files() { echo model.json weights.safetensors sample.safetensors; }

AUDIT="audit --seed 1 --random 2 --adversarial 1 --nm-iterations 1 --trained 0 --sweep-draws 1 --claims lemma2,appD.HO_bound"
EXP="experiment --dataset fashion-mnist --sweep layers --preset tiny --data $S/fixtures/data/idx --threads 1"

# $AUDIT and $EXP are split on blanks on purpose (no blank in their words
# but $S, which a source tree path with blanks would break: checked here)
case $S in *[[:space:]]*) echo "cli_paths: the source path holds a blank"; exit 77;; esac

run "audit --out hostile name" "$HOSTILE" audit_files $AUDIT --out "$HOSTILE"
run "audit --out |command" "$PIPE_OUT" audit_files $AUDIT --out "$PIPE_OUT"
run "audit --out absolute hostile path" "$T/run3/a b/$HOSTILE" audit_files $AUDIT --out "$T/run3/a b/$HOSTILE"
run "experiment --out hostile name" "$HOSTILE" exp_files $EXP --out "$HOSTILE"
run "experiment --out <command" "$PIPE_IN" exp_files $EXP --out "$PIPE_IN"
run "experiment --out |command" "$PIPE_OUT" exp_files $EXP --out "$PIPE_OUT"
run "inspect --dump hostile name" "$HOSTILE" dump_files inspect --example --dump "$HOSTILE"
run "inspect --dump absolute hostile path" "$T/run8/$HOSTILE" dump_files inspect --example --dump "$T/run8/$HOSTILE"
run "inspect --write-example hostile name" "$HOSTILE" example_files inspect --example --write-example "$HOSTILE"
run "inspect --write-example |command" "$PIPE_OUT" example_files inspect --example --write-example "$PIPE_OUT"

# the example written under the hostile name reads back
W="$T/run9"
if (cd "$W" && "$HN" inspect --model "$HOSTILE/model.json" --weights "$HOSTILE/weights.safetensors" \
        --sample "$HOSTILE/sample.safetensors" --json > "$T/b.json" 2> "$T/stderr") &&
   "$HN" inspect --example --json > "$T/a.json" 2>> "$T/stderr" && cmp -s "$T/a.json" "$T/b.json"; then
    ok "the example read back from the hostile name"
else
    bad "the example read back from the hostile name: $(head -n 2 "$T/stderr")"
fi

echo "cli_paths: $pass passed, $fail failed"
[ $fail -eq 0 ]
