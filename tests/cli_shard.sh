#!/bin/sh
# Sharding: the tiny Fashion-MNIST grid (--sweep all: 4 sweeps, 8 models)
# as 3 shards in 3 concurrent processes into one --out (shard 3 from a
# Slurm job array's variables), then --report-only, is byte-identical to
# one unsharded run: every file but timing.json (wall times; the only
# legitimate difference).  A partial folder's report names what is
# missing; a bad --shard is a usage error (one line and the hint, exit 2),
# a bad Slurm task or a folder of no experiment one line, exit 1.
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup
GRID="--dataset fashion-mnist --sweep all --preset tiny --data $S/fixtures/data/idx --threads 1"

# shellcheck disable=SC2086
"$HN" experiment $GRID --out "$T/one" > "$T/one.out" 2> "$T/one.err" \
    && [ "$(grep -c 'report.md$' "$T/one.out")" -eq 4 ] && ok "unsharded grid: 4 reports" \
    || bad "unsharded grid: $(tail -n 2 "$T/one.err")"
for sw in layers kernel channels pooling; do
    [ -s "$T/one/fashion-mnist-$sw/report.md" ] && [ -s "$T/one/fashion-mnist-$sw/sweep.json" ] \
        || bad "grid layout: no fashion-mnist-$sw/report.md"
done

# shellcheck disable=SC2086
{
    "$HN" experiment $GRID --out "$T/sh" --shard 1/3 > "$T/s1.out" 2> "$T/s1.err" & p1=$!
    "$HN" experiment $GRID --out "$T/sh" --shard 2/3 > "$T/s2.out" 2> "$T/s2.err" & p2=$!
    env SLURM_ARRAY_TASK_ID=7 SLURM_ARRAY_TASK_MIN=5 SLURM_ARRAY_TASK_COUNT=3 \
        "$HN" experiment $GRID --out "$T/sh" > "$T/s3.out" 2> "$T/s3.err" & p3=$!
}
for i in 1 2 3; do
    eval "wait \$p$i" && ok "shard $i/3" || bad "shard $i/3: $(tail -n 2 "$T/s$i.err")"
done
grep -q "shard 3/3" "$T/s3.err" && ok "Slurm task 7 of 5..7 is shard 3/3" || bad "Slurm shard: $(head -n 3 "$T/s3.err")"
n=$(cat "$T"/s?.err | grep -c "model [0-9]*/[0-9]* .*: done in")
[ "$n" -eq 8 ] && ok "every model trained once over the shards" || bad "$n models trained over the shards (want 8)"
[ ! -e "$T/sh/fashion-mnist-layers/report.md" ] && ok "shards write no report" || bad "a shard wrote a report"
"$HN" experiment --report-only --out "$T/sh" > "$T/r.out" 2> "$T/r.err" \
    && [ "$(grep -c 'report.md$' "$T/r.out")" -eq 4 ] && [ ! -s "$T/r.err" ] \
    && ok "--report-only: 4 reports, nothing missing" || bad "--report-only: $(cat "$T/r.err")"
if diff -r -x timing.json "$T/one" "$T/sh" > "$T/diff" 2>&1; then
    ok "sharded + --report-only byte-identical to the unsharded run (timing.json aside)"
else
    bad "sharded output differs: $(head -n 5 "$T/diff")"
fi
t=$(find "$T/sh" -name timing.json | wc -l)
[ "$t" -eq 8 ] && ok "timing.json per model ($t)" || bad "timing.json: $t"

# a partial folder: the report leaves the missing model out and names it
rm "$T/sh/fashion-mnist-kernel/models/L4_k3_C6/metrics.json"
if "$HN" experiment --report-only --out "$T/sh/fashion-mnist-kernel" > "$T/r.out" 2> "$T/r.err" \
   && grep -q "1 of 2 models not finished: L4_k3_C6" "$T/r.err" \
   && grep -q "^Incomplete: .*L4_k3_C6" "$T/sh/fashion-mnist-kernel/report.md" \
   && ! grep -q "^| L4_k3_C6 |" "$T/sh/fashion-mnist-kernel/report.md"; then
    ok "--report-only on a partial sweep names the missing model"
else
    bad "partial report: $(cat "$T/r.err")"
fi
# the missing one is trained by its shard again (resume), the rest skipped
# (a single sweep's --out is its folder: the grid's subfolder here)
# shellcheck disable=SC2086
s=$("$HN" experiment $GRID --sweep kernel --out "$T/sh/fashion-mnist-kernel" 2>&1 > /dev/null \
    | grep -c "done already")
[ "$s" -eq 1 ] && cmp -s "$T/one/fashion-mnist-kernel/report.md" "$T/sh/fashion-mnist-kernel/report.md" \
    && ok "rerun resumes the finished model, trains the missing one: the same report" || bad "rerun: $s resumed"

# two unsharded runs of one sweep into one folder at once: each model is
# trained once (models/NAME.lock: the other run waits, then resumes it),
# both exit 0, and the folder is byte-identical to a solo run's; no lock
# file is left
# shellcheck disable=SC2086
{
    "$HN" experiment $GRID --sweep layers --out "$T/two" > /dev/null 2> "$T/two1.err" & q1=$!
    "$HN" experiment $GRID --sweep layers --out "$T/two" > /dev/null 2> "$T/two2.err" & q2=$!
}
wait $q1; r1=$?
wait $q2; r2=$?
n=$(cat "$T/two1.err" "$T/two2.err" | grep -c "model [0-9]*/[0-9]* .*: done in")
w=$(cat "$T/two1.err" "$T/two2.err" | grep -c "waiting for another run on it")
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$n" -eq 2 ] && diff -r -x timing.json "$T/one/fashion-mnist-layers" "$T/two" > "$T/diff" 2>&1 &&
        [ -z "$(find "$T" -name '*.lock')" ]; then
    ok "two unsharded runs at once: both rc 0, 2 models trained in all ($w waits), the solo run's files"
else
    bad "two runs at once: rc $r1 $r2, $n trainings, $(head -n 3 "$T/diff") $(find "$T" -name '*.lock') $(tail -n 1 "$T/two1.err" "$T/two2.err")"
fi
# a run of other settings (seed 2) started while seed 1 trains: refused at
# the model seed 1 made; seed 1's run is untouched
# shellcheck disable=SC2086
"$HN" experiment $GRID --sweep layers --out "$T/three" > /dev/null 2> "$T/three1.err" & q1=$!
i=0
while [ $i -lt 200 ] && [ -z "$(find "$T/three" -name '*.lock' 2> /dev/null)" ]; do sleep 0.05; i=$((i + 1)); done
# shellcheck disable=SC2086
"$HN" experiment $GRID --sweep layers --seed 2 --out "$T/three" > /dev/null 2> "$T/three2.err"; r2=$?
wait $q1; r1=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 1 ] && [ "$(wc -l < "$T/three2.err" | tr -d ' ')" -ge 1 ] &&
        tail -n 1 "$T/three2.err" | grep -q "made with other settings" &&
        diff -r -x timing.json "$T/one/fashion-mnist-layers" "$T/three" > "$T/diff" 2>&1; then
    ok "seed 2 beside a running seed 1: refused ($(tail -n 1 "$T/three2.err" | cut -c1-80)...), seed 1 as solo"
else
    bad "seed 2 beside seed 1: rc $r1 $r2, $(tail -n 1 "$T/three2.err") $(head -n 3 "$T/diff")"
fi

# a symbolic link planted as a model's lock file: refused naming it, never
# followed to create a file outside the folder
mkdir -p "$T/four/models" && ln -s "$T/away" "$T/four/models/L2_k3_C6.lock"
# shellcheck disable=SC2086
"$HN" experiment $GRID --sweep layers --out "$T/four" > /dev/null 2> "$T/four.err"; rc=$?
if [ $rc -eq 1 ] && tail -n 1 "$T/four.err" | grep -q "L2_k3_C6.lock: cannot create the lock file" && [ ! -e "$T/away" ]; then
    ok "a symbolic link as a model's lock file: refused ($(tail -n 1 "$T/four.err" | sed 's/.*: cannot/cannot/'))"
else
    bad "symlinked model lock: rc=$rc $(tail -n 1 "$T/four.err"); away: $(ls "$T/away" 2>&1)"
fi

# check NAME RC WANT ARGS...: exit RC with one line on stderr naming WANT;
# RC 2 (a usage error: a --shard value not of the form i/n) adds the hint
check() {
    name=$1; want_rc=$2; want=$3; shift 3
    "$HN" experiment "$@" > /dev/null 2> "$T/err"
    rc=$?
    lines=1; [ "$want_rc" -eq 2 ] && lines=2
    if [ $rc -eq "$want_rc" ] && [ "$(wc -l < "$T/err")" -eq $lines ] && head -n 1 "$T/err" | grep -q -- "$want" &&
        { [ $lines -eq 1 ] || [ "$(tail -n 1 "$T/err")" = "try 'hessnorm experiment --help'" ]; }; then ok "$name"
    else bad "$name: rc=$rc $(cat "$T/err")"; fi
}
# shellcheck disable=SC2086
{
    check "shard 0/3" 2 "--shard" $GRID --out "$T/x" --shard 0/3
    check "shard 4/3" 2 "--shard" $GRID --out "$T/x" --shard 4/3
    check "shard a/b" 2 "--shard" $GRID --out "$T/x" --shard a/b
    check "shard 1" 2 "--shard" $GRID --out "$T/x" --shard 1
    SLURM_ARRAY_TASK_ID=9 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 \
        check "Slurm task outside the array" 1 "SLURM_ARRAY_TASK_ID=9" $GRID --out "$T/x"
}
check "report-only without sweep.json" 1 "no sweep.json" --report-only --out "$T"
[ ! -e "$T/x" ] && ok "bad shards write nothing" || bad "bad shards wrote $T/x"

hn_test_end cli_shard
