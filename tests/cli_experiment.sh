#!/bin/sh
# hessnorm experiment end to end on the dataset fixtures (tiny preset):
# the report, CSV, figures and models exist; a rerun resumes every model and
# rewrites the same report; bad options give one error line and exit 1.
set -u
B=${HN_BUILDDIR:-.}
S=${HN_SRCDIR:-.}
HN="$B/hessnorm"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

run() { # run NAME ARGS...: must succeed
    name=$1; shift
    if "$HN" experiment "$@" > "$T/stdout" 2> "$T/stderr"; then ok "$name"
    else bad "$name: $(tail -n 3 "$T/stderr")"; fi
}

# Fashion-MNIST format (IDX fixtures: 7 training, 3 test images), layers sweep
FM="$T/fm"
run "fashion-mnist layers" --dataset fashion-mnist --sweep layers --preset tiny \
    --data "$S/fixtures/data/idx" --out "$FM" --threads 2
grep -q "report.md" "$T/stdout" || bad "stdout names the report"
for f in report.md index.html curves.csv summary.csv corollary2.csv hessnorm_quantiles.csv \
         models/L2_k3_C6/model.json models/L2_k3_C6/weights.safetensors \
         models/L2_k3_C6/metrics.json models/L2_k3_C6/curve.csv models/L2_k3_C6/hess_norms.csv \
         models/L3_k3_C6/metrics.json; do
    if [ -s "$FM/$f" ]; then ok "exists $f"; else bad "missing $f"; fi
done
if gnuplot -e 'set terminal png' </dev/null >/dev/null 2>&1; then
    for f in fashion_mnist_change_layers.png fashion_mnist_change_layers_from1.png \
             fashion_mnist_change_layers_hessnorm.png; do
        if head -c 8 "$FM/$f" 2>/dev/null | od -c | grep -q "P   N   G"; then ok "figure $f"
        else bad "figure $f"; fi
    done
fi
grep -q "^| L2_k3_C6 |" "$FM/report.md" && ok "report table" || bad "report table"
grep -q "progress\|epoch 1/1" "$T/stderr" && ok "progress on stderr" || bad "progress on stderr"
# a rerun resumes both models and writes the same report
cp "$FM/report.md" "$T/report1.md"
cp "$FM/curves.csv" "$T/curves1.csv"
run "resume" --dataset fashion-mnist --sweep layers --preset tiny \
    --data "$S/fixtures/data/idx" --out "$FM" --threads 1
[ "$(grep -c "done already" "$T/stderr")" -eq 2 ] && ok "both models resumed" || bad "resume count"
cmp -s "$FM/report.md" "$T/report1.md" && cmp -s "$FM/curves.csv" "$T/curves1.csv" \
    && ok "resumed report identical" || bad "resumed report differs"

# CIFAR-10 binary fixtures (3 images per batch file, 3x32x32), pooling sweep;
# the loader wants data_batch_1..5: the two fixture batches stand in for all
mkdir "$T/cifar"
cp "$S/fixtures/data/cifar/test_batch.bin" "$T/cifar/"
for i in 1 3 5; do cp "$S/fixtures/data/cifar/data_batch_1.bin" "$T/cifar/data_batch_$i.bin"; done
for i in 2 4; do cp "$S/fixtures/data/cifar/data_batch_2.bin" "$T/cifar/data_batch_$i.bin"; done
run "cifar10 pooling" --dataset cifar10 --sweep pooling --preset tiny \
    --data "$T/cifar" --out "$T/cf" --no-figures
for f in models/L5_k3_C12_maxpool1/metrics.json models/L5_k3_C12_avgpool1/metrics.json report.md; do
    if [ -s "$T/cf/$f" ]; then ok "exists cifar $f"; else bad "missing cifar $f"; fi
done

# bad input: exactly one line on stderr, exit 1, nothing written
check() { # check NAME WANT ARGS...
    name=$1; want=$2; shift 2
    "$HN" experiment "$@" --out "$T/none" > "$T/stdout" 2> "$T/stderr"
    rc=$?
    lines=$(wc -l < "$T/stderr")
    if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -q -- "$want" "$T/stderr" && [ ! -e "$T/none" ]; then
        ok "$name: $(cat "$T/stderr")"
    else
        bad "$name: rc=$rc lines=$lines: $(cat "$T/stderr")"
    fi
}
check "bad dataset" "--dataset" --dataset imagenet --sweep layers
check "bad sweep" "--sweep" --dataset mnist --sweep depth
check "bad preset" "--preset" --dataset mnist --sweep layers --preset huge
check "bad threads" "--threads" --dataset mnist --sweep layers --threads zero
check "too many threads" "more than 1024" --dataset mnist --sweep layers --threads 4294967297
check "negative limit" "--limit" --dataset mnist --sweep layers --limit -5
check "cifar10 needs --data" "cifar10" --dataset cifar10 --sweep layers
check "missing files" "$T/nowhere" --dataset fashion-mnist --sweep layers --data "$T/nowhere"

echo "cli_experiment: $pass passed, $fail failed"
[ $fail -eq 0 ]
