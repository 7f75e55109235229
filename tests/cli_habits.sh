#!/bin/sh
# The command line's habits, for every command: -h/--help and `hessnorm
# help [CMD]` (stdout, exit 0); a usage error is one line and "try 'hessnorm
# CMD --help'" (exit 2); bad input is one line (exit 1); the exit-status rule
# (a value not of its option's syntax: 2, a well-formed value naming nothing
# that exists: 1) stated in every --help and the man page; --json gives JSON
# wherever it is accepted; --version; the bash completion offers exactly the
# options of each --help, and the man page names them all.
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup
PY=${HN_PYTHON3:-python3}
EX="$S/fixtures/example"
M="$EX/model.json"
W="$EX/weights.safetensors"
X="$EX/sample.safetensors"

# ------------------------------------------------------------ help
for cmd in audit inspect experiment; do
    for h in -h --help; do
        "$HN" $cmd $h > "$T/out" 2> "$T/err"; rc=$?
        if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && head -n 1 "$T/out" | grep -q "^usage: hessnorm $cmd " &&
            grep -q '^Exit status: 0 success; 1 bad input' "$T/out" && grep -q -- '-h, --help' "$T/out"; then
            ok "$cmd $h"
        else bad "$cmd $h: rc=$rc $(head -n 2 "$T/err")"; fi
    done
    "$HN" help $cmd > "$T/out2" 2> "$T/err"
    cmp -s "$T/out" "$T/out2" && ok "help $cmd = $cmd --help" || bad "help $cmd differs from $cmd --help"
done
"$HN" --help > "$T/top" 2> "$T/err"; rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && grep -q -- '--version' "$T/top" && grep -q 'hessnorm help \[COMMAND\]' "$T/top" &&
    grep -q '^Exit status:' "$T/top"; then ok "--help (lists help, --version, the exit status)"
else bad "--help: rc=$rc"; fi
for h in -h help; do
    "$HN" $h > "$T/out" 2> /dev/null
    cmp -s "$T/top" "$T/out" && ok "hessnorm $h = hessnorm --help" || bad "hessnorm $h differs from --help"
done
v=$("$HN" --version 2> "$T/err"); rc=$?
want=$(sed -n 's/^AC_INIT(\[\([^]]*\)\], *\[\([^]]*\)\].*/\1 \2/p' "$S/configure.ac")
[ $rc -eq 0 ] && [ "$v" = "$want" ] && ok "--version: $v" || bad "--version: rc=$rc '$v' (configure.ac: '$want')"
"$HN" --version --verbose > "$T/vv" 2> "$T/err"; rc=$?
[ $rc -eq 0 ] && [ "$(head -n 1 "$T/vv")" = "$want" ] && [ "$(wc -l < "$T/vv")" -gt 1 ] &&
    ok "--version --verbose: the version, then more" || bad "--version --verbose: rc=$rc $(head -n 2 "$T/err")"

# ------------------------------------------------------------ usage errors: exit 2, one line + the hint
# usage CMD WANT ARGS...: CMD is the command named in the hint ("" = top level)
usage() {
    cmd=$1; want=$2; shift 2
    "$HN" "$@" > "$T/out" 2> "$T/err"; rc=$?
    hint="try 'hessnorm${cmd:+ $cmd} --help'"
    first=$(head -n 1 "$T/err")
    if [ $rc -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 2 ] && [ "$(tail -n 1 "$T/err")" = "$hint" ] &&
        [ ! -s "$T/out" ] && [ "$first" = "$want" ] && [ ! -e "$T/none" ]; then
        ok "usage: $*: $first"
    else bad "usage: $*: rc=$rc: $(cat "$T/err") (want: $want)"; fi
}
usage "" "hessnorm: missing command (audit, inspect or experiment)"
usage "" "hessnorm: unknown command 'frobnicate' (expected audit, inspect, experiment or help)" frobnicate
usage "" "hessnorm: unknown option '--bogus' (options come after the command)" --bogus
usage "" "hessnorm: help: unknown command 'nope' (expected audit, inspect or experiment)" help nope
usage "" "hessnorm: help: unexpected argument 'more'" help audit more
usage "" "hessnorm: --version: unexpected argument '--bogus' (only --verbose)" --version --bogus
usage "" "hessnorm: --version: unexpected argument 'x' (only --verbose)" --version --verbose x
for cmd in audit inspect experiment; do
    usage $cmd "hessnorm $cmd: unknown option '--bogus'" $cmd --bogus
    usage $cmd "hessnorm $cmd: unknown option '-x'" $cmd -x
    usage $cmd "hessnorm $cmd: option '--threads' needs a value" $cmd --threads
    usage $cmd "hessnorm $cmd: unexpected argument 'extra'" $cmd extra
done
usage audit "hessnorm audit: --threads: expected a non-negative integer, got 'abc'" audit --threads abc --out "$T/none"
usage inspect "hessnorm inspect: --threads: expected a non-negative integer, got 'abc'" inspect --threads abc --example
usage experiment "hessnorm experiment: --threads: expected a non-negative integer, got 'abc'" \
    experiment --threads abc --dataset mnist --sweep layers --out "$T/none"
usage inspect "hessnorm inspect: option '--json' takes no value" inspect --json=yes --example
usage audit "hessnorm audit: option '--weights' needs a value" audit --model "$M" --weights
usage audit "hessnorm audit: option '--w' is ambiguous" audit --w "$W"
# which of the required options is missing
usage experiment "hessnorm experiment: missing --dataset and --sweep" experiment
usage experiment "hessnorm experiment: missing --dataset" experiment --sweep layers
usage experiment "hessnorm experiment: missing --sweep" experiment --dataset mnist
usage inspect "hessnorm inspect: missing --model, --weights and --sample (give --model, --weights and --sample, or --example)" inspect
usage inspect "hessnorm inspect: missing --weights and --sample (give --model, --weights and --sample, or --example)" inspect --model "$M"
usage inspect "hessnorm inspect: missing --sample (give --model, --weights and --sample, or --example)" inspect --model "$M" --weights "$W"
usage audit "hessnorm audit: --model, --weights and --sample go together (missing --sample)" audit --model "$M" --weights "$W"
usage audit "hessnorm audit: --json needs --model, --weights and --sample (or --list)" audit --json
# an option value not of its syntax (a number that does not parse, out of range)
usage audit "hessnorm audit: --seed: 'abc' is not a number" audit --seed abc --out "$T/none"
usage audit "hessnorm audit: --budget: '-1' is not a positive number of seconds" audit --budget -1 --out "$T/none"
# control characters in a quoted value stay out of the terminal: '?' each
usage audit "hessnorm audit: --budget: '1?x?[2J' is not a positive number of seconds" \
    audit --budget "$(printf '1\nx\033[2J')" --out "$T/none"
usage inspect "hessnorm inspect: --threads: expected a non-negative integer, got '2?'" \
    inspect --threads "$(printf '2\t')" --example
usage audit "hessnorm audit: --random: 'x' is not a count" audit --random x --out "$T/none"
usage audit "hessnorm audit: --sweep-draws: '6' is more than 5" audit --sweep-draws 6 --out "$T/none"
usage audit "hessnorm audit: --trained: '-2' is not a count" audit --trained -2 --out "$T/none"
usage audit "hessnorm audit: --claims: no claim id in the list" audit --claims ,, --out "$T/none"
usage experiment "hessnorm experiment: --seed: expected a non-negative integer, got 'abc'" \
    experiment --dataset mnist --sweep layers --seed abc --out "$T/none"
usage experiment "hessnorm experiment: --mem-limit: expected a positive number of GiB, got '0x10'" \
    experiment --dataset mnist --sweep layers --preset tiny --mem-limit 0x10 --out "$T/none"
usage experiment "hessnorm experiment: --epochs: expected a positive integer, got '1.5'" \
    experiment --dataset mnist --sweep layers --epochs 1.5 --out "$T/none"
usage inspect "hessnorm inspect: --threads: 5000 is more than 512" inspect --example --threads 5000
# the options of the routes, the shards and the report: conflicts and values
usage inspect "hessnorm inspect: --dense and --matrix-free exclude each other" inspect --example --dense --matrix-free
usage inspect "hessnorm inspect: --dump writes the dense matrices: it needs the dense route, not --matrix-free" \
    inspect --example --matrix-free --dump "$T/none"
usage audit "hessnorm audit: --dense and --matrix-free exclude each other" \
    audit --model "$M" --weights "$W" --sample "$X" --matrix-free --dense
usage audit "hessnorm audit: --matrix-free needs --model, --weights and --sample" audit --matrix-free --out "$T/none"
usage audit "hessnorm audit: --weights-star needs --model, --weights and --sample" audit --weights-star "$W" --out "$T/none"
usage audit "hessnorm audit: --seed is an option of the full audit, not of --model" \
    audit --model "$M" --weights "$W" --sample "$X" --seed 3
usage experiment "hessnorm experiment: --shard: expected i/n (1 <= i <= n <= 1000000), got '0/3'" \
    experiment --dataset mnist --sweep layers --shard 0/3 --out "$T/none"
usage experiment "hessnorm experiment: --shard: expected i/n (1 <= i <= n), got '2'" \
    experiment --dataset all --sweep all --shard 2 --out "$T/none"
usage experiment "hessnorm experiment: --report-only needs --out DIR" experiment --report-only
usage experiment "hessnorm experiment: --report-only takes only --out DIR and --no-figures" \
    experiment --report-only --out "$T/none" --dataset mnist
usage experiment "hessnorm experiment: --threads: 5000 is more than 512" \
    experiment --dataset all --sweep all --threads 5000 --out "$T/none"

# ------------------------------------------------------------ bad input: exit 1, one line
badin() { # badin WANT ARGS...
    want=$1; shift
    "$HN" "$@" > "$T/out" 2> "$T/err"; rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && [ "$(cat "$T/err")" = "$want" ] && [ ! -s "$T/out" ] &&
        [ ! -e "$T/none" ]; then
        ok "bad input: $*: $want"
    else bad "bad input: $*: rc=$rc: $(cat "$T/err") (want: $want)"; fi
}
badin "hessnorm: --dataset: unknown dataset 'imagenet' (expected mnist, fashion-mnist, cifar10 or all)" \
    experiment --dataset imagenet --sweep layers --seed abc --out "$T/none"
badin "hessnorm: --claims: unknown claim id 'lemma9'" audit --claims lemma9 --out "$T/none"
badin "hessnorm: --claims: unknown claim id 'lemma9'" audit --claims lemma9 --model "$M" --weights "$W" --sample "$X"
badin "hessnorm: $T/nosuch.json: cannot open: No such file or directory" \
    inspect --model "$T/nosuch.json" --weights "$W" --sample "$X"
badin "hessnorm: $T/none: no sweep.json in it or in its <dataset>-<sweep> folders (not the --out of a hessnorm experiment)" \
    experiment --report-only --out "$T/none"
export SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_COUNT=2 # (a function's prefix assignments may outlive it)
badin "hessnorm: SLURM_ARRAY_TASK_ID=5 (COUNT=2, MIN=unset, STEP=unset) is not one of a contiguous job array's tasks; use --array=1-N or give --shard i/n" \
    experiment --dataset mnist --sweep layers --out "$T/none"
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT
# a default thread count over the cap: refused before any thread starts
# (libgomp crashed making 100,000), and --threads N decides over it
omp="hessnorm: OMP_NUM_THREADS: 100000 threads are more than 512; give --threads N"
export OMP_NUM_THREADS=100000
badin "$omp" inspect --example
badin "$omp" audit --out "$T/none" --no-figures --claims lemma2
badin "$omp" audit --model "$M" --weights "$W" --sample "$X" --claims lemma2
badin "$omp" experiment --dataset fashion-mnist --sweep layers --preset tiny --out "$T/none"
"$HN" inspect --example --threads 1 > "$T/out" 2> "$T/err" && [ -s "$T/out" ] &&
    ok "OMP_NUM_THREADS=100000 with --threads 1: runs" || bad "--threads 1 over OMP_NUM_THREADS: $(cat "$T/err")"
"$HN" audit --model "$M" --weights "$W" --sample "$X" --claims lemma2 --threads 1 > "$T/out" 2> "$T/err" &&
    [ -s "$T/out" ] && ok "audit --model with --threads 1 over OMP_NUM_THREADS=100000: runs" ||
    bad "audit --threads 1 over OMP_NUM_THREADS: $(cat "$T/err")"
unset OMP_NUM_THREADS
"$HN" experiment --dataset mnist --sweep depth --out "$T/none" > "$T/out" 2> "$T/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && ok "bad input: --sweep depth: $(cat "$T/err")" ||
    bad "--sweep depth: rc=$rc $(cat "$T/err")"
"$HN" experiment --dataset mnist --sweep layers --preset huge --out "$T/none" > "$T/out" 2> "$T/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$T/err")" -eq 1 ] && ok "bad input: --preset huge: $(cat "$T/err")" ||
    bad "--preset huge: rc=$rc $(cat "$T/err")"

# ------------------------------------------------------------ --json wherever accepted
isjson() { # isjson NAME FILE
    if command -v "$PY" > /dev/null 2>&1; then
        "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$2" 2> "$T/jerr" && ok "$1: JSON" ||
            bad "$1: not JSON: $(tail -n 1 "$T/jerr")"
    else
        c=$(head -c 1 "$2"); { [ "$c" = "{" ] || [ "$c" = "[" ]; } && ok "$1: starts as JSON" || bad "$1: not JSON"
    fi
}
"$HN" audit --list --json > "$T/list.json" 2> "$T/err" || bad "audit --list --json: $(cat "$T/err")"
isjson "audit --list --json" "$T/list.json"
n_text=$("$HN" audit --list | wc -l)
n_json=$(grep -c '"id":' "$T/list.json")
[ "$n_text" -eq "$n_json" ] && grep -q '"printed":' "$T/list.json" && ok "audit --list --json: $n_json claims, as --list" ||
    bad "audit --list --json: $n_json ids, --list has $n_text lines"
"$HN" inspect --example --json > "$T/i.json" 2> "$T/err" || bad "inspect --json: $(cat "$T/err")"
isjson "inspect --example --json" "$T/i.json"
"$HN" audit --model "$M" --weights "$W" --sample "$X" --json --claims lemma2 > "$T/a.json" 2> "$T/err" ||
    bad "audit --model --json: $(cat "$T/err")"
isjson "audit --model --json" "$T/a.json"

# ------------------------------------------------------------ the options of --help: completion and man page
# Every command's options (and the top level's: the "options:" lines of
# hessnorm --help) against the completion and against the man page's part
# for that command: its SYNOPSIS forms, its section under DESCRIPTION and
# OPTIONS (the options all commands share).
COMP="$S/data/hessnorm.bash"
MAN="$S/man/hessnorm.1"
CMDS="audit inspect experiment"
for cmd in $CMDS; do
    "$HN" $cmd --help | grep -o -- '--[a-z][a-z-]*' | sort -u > "$T/help_$cmd"
done
"$HN" --help | sed -n '/^options:/,/^$/p' | grep -o -- '--[a-z][a-z-]*' | sort -u > "$T/help_top"
[ -s "$T/help_top" ] && [ "$(tr '\n' ' ' < "$T/help_top")" = "--help --verbose --version " ] &&
    ok "hessnorm --help: the top-level options" || bad "hessnorm --help's options: $(tr '\n' ' ' < "$T/help_top")"
# man_part CMD: the man page's text for CMD (top: the "hessnorm help" forms)
man_part() {
    sed 's/\\-/-/g' "$MAN" | awk -v c="$1" '
        /^\.SH/ { sh = $2; ss = ""; form = 0 }
        /^\.SS/ { ss = $2 }
        sh == "SYNOPSIS" && $0 ~ ("^\\.B hessnorm " c "( |$)") { form = 1 }
        sh == "SYNOPSIS" && /^\.br/ { form = 0 }
        form || (sh == "DESCRIPTION" && ss == c) || sh == "OPTIONS"'
}
for cmd in $CMDS top; do
    man_part "$([ $cmd = top ] && echo help || echo $cmd)" > "$T/man_$cmd"
    missing=""
    for o in $(cat "$T/help_$cmd"); do
        grep -q -- "$o\([^a-z-]\|\$\)" "$T/man_$cmd" || missing="$missing $o"
    done
    name="hessnorm $cmd --help"; [ $cmd = top ] && name="hessnorm --help"
    [ -s "$T/man_$cmd" ] && [ -z "$missing" ] && ok "man page ($cmd's part) names every option of $name" ||
        bad "man page lacks$missing in $cmd's part"
done
if command -v bash > /dev/null 2>&1; then
    # comp WORDS...: what the completion offers for the last word
    comp() {
        bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hessnorm; printf "%s\n" "${COMPREPLY[@]}"' \
            sh "$COMP" "$@"
    }
    for cmd in $CMDS; do
        comp hessnorm $cmd -- | sort -u > "$T/comp_$cmd"
        if cmp -s "$T/help_$cmd" "$T/comp_$cmd"; then ok "completion of '$cmd --' = the options of $cmd --help"
        else bad "completion of $cmd differs from --help: $(diff "$T/help_$cmd" "$T/comp_$cmd" | grep '^[<>]' | tr '\n' ' ')"; fi
    done
    { comp hessnorm -- ; comp hessnorm --version --; } | grep -- '^--' | sort -u > "$T/comp_top"
    cmp -s "$T/help_top" "$T/comp_top" && ok "completion of 'hessnorm --' and 'hessnorm --version --' = the top-level options" ||
        bad "top-level completion differs from --help: $(diff "$T/help_top" "$T/comp_top" | grep '^[<>]' | tr '\n' ' ')"
    r=$(comp hessnorm "" | tr '\n' ' ')
    [ "$r" = "audit inspect experiment help --help -h --version " ] && ok "completion of the commands" ||
        bad "completion of the commands: $r"
    r=$(comp hessnorm help "" | tr '\n' ' ')
    [ "$r" = "$CMDS " ] && ok "completion of 'help ': the commands" || bad "completion of 'help ': $r"
    r=$(comp hessnorm experiment --dataset f | tr '\n' ' ')
    [ "$r" = "fashion-mnist " ] && ok "completion of --dataset f" || bad "completion of --dataset f: $r"
    r=$(comp hessnorm experiment --sweep "" | tr '\n' ' ')
    [ "$r" = "layers kernel channels pooling all " ] && ok "completion of --sweep: the sweeps and all" || bad "completion of --sweep: $r"
    r=$(comp hessnorm experiment --dataset a | tr '\n' ' ')
    [ "$r" = "all " ] && ok "completion of --dataset a" || bad "completion of --dataset a: $r"
    r=$(comp "$HN" audit --claims lemma1,lemma2.c | tr '\n' ' ')
    [ "$r" = "lemma1,lemma2.corrected lemma1,lemma2.corrected.mse " ] && ok "completion of --claims lemma1,lemma2.c (from audit --list)" ||
        bad "completion of --claims: '$r'"
else
    echo "skip the completion checks (no bash)"
fi

hn_test_end cli_habits
