#!/bin/sh
# hessnorm experiment end to end on the dataset fixtures (tiny preset):
# the report, CSV, figures and models exist; a rerun resumes every model and
# rewrites the same report; a run stopped mid-training (--time-limit) goes
# on from its checkpoint to the same bytes; bad options give one error
# line and exit 1.
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup

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
for f in report.md index.html curves.csv summary.csv corollary2.csv hessnorm_quantiles.csv tightness.csv \
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
# the tightness table at theta-hat: 28x28 models are past the dense limit (matrix-free, brackets)
if grep -q '^## How tight the paper' "$FM/report.md" && grep -q '^| lemma5 | Lemma 5 | <= |' "$FM/report.md" \
        && grep -q '"route": "matrix-free"' "$FM/models/L2_k3_C6/metrics.json" \
        && grep -q '^L2_k3_C6,lemma5,le,' "$FM/tightness.csv"; then
    ok "tightness table in report.md, metrics.json, tightness.csv (matrix-free)"
else
    bad "tightness table missing: $(grep -c lemma5 "$FM/report.md" "$FM/tightness.csv")"
fi
grep -q "progress\|epoch 1/1" "$T/stderr" && ok "progress on stderr" || bad "progress on stderr"
# a rerun resumes both models and writes the same report
cp "$FM/report.md" "$T/report1.md"
cp "$FM/curves.csv" "$T/curves1.csv"
run "resume" --dataset fashion-mnist --sweep layers --preset tiny \
    --data "$S/fixtures/data/idx" --out "$FM" --threads 1
[ "$(grep -c "done already" "$T/stderr")" -eq 2 ] && ok "both models resumed" || bad "resume count"
cmp -s "$FM/report.md" "$T/report1.md" && cmp -s "$FM/curves.csv" "$T/curves1.csv" \
    && ok "resumed report identical" || bad "resumed report differs"

# sample.safetensors beside every model: a seeded batch of the training
# images (all 7 here, at most 64) with labels, the same on a fresh run
for f in models/L2_k3_C6/sample.safetensors models/L3_k3_C6/sample.safetensors; do
    if [ -s "$FM/$f" ]; then ok "exists $f"; else bad "missing $f"; fi
done
run "fresh run, same seed" --dataset fashion-mnist --sweep layers --preset tiny \
    --data "$S/fixtures/data/idx" --out "$T/fm2" --threads 2 --no-figures
cmp -s "$FM/models/L2_k3_C6/sample.safetensors" "$T/fm2/models/L2_k3_C6/sample.safetensors" \
    && ok "sample reproducible" || bad "sample differs between runs of one seed"
# inspect runs on the saved files exactly as written.  28x28 models are
# over inspect's dense-Hessian limit, so IDX files of 9 images of 8x8
# (train and t10k) give a model of 1,338 parameters.
idx8() { # idx8 DIR: deterministic pixels, labels 3i mod 10
    mkdir -p "$1"
    for set in train t10k; do
        LC_ALL=C awk 'BEGIN { printf "%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c%c", 0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 8, 0, 0, 0, 8
            for (i = 0; i < 9 * 64; i++) printf "%c", (i * 37 + int(i / 7)) % 256 }' > "$1/$set-images-idx3-ubyte"
        LC_ALL=C awk 'BEGIN { printf "%c%c%c%c%c%c%c%c", 0, 0, 8, 1, 0, 0, 0, 9
            for (i = 0; i < 9; i++) printf "%c", (3 * i) % 10 }' > "$1/$set-labels-idx1-ubyte"
    done
}
idx8 "$T/idx8"
# 3 epochs: also the uninterrupted run the stopped one below is held against
E3="--dataset fashion-mnist --sweep layers --preset tiny --data $T/idx8 --epochs 3 --no-figures --threads 2"
run "8x8 images" $E3 --out "$T/e8"
M8="$T/e8/models/L2_k3_C6"
if "$HN" inspect --model "$M8/model.json" --weights "$M8/weights.safetensors" \
        --sample "$M8/sample.safetensors" --json --threads 2 > "$T/insp.json" 2> "$T/stderr" \
   && grep -q '"num_params": 1338' "$T/insp.json" && grep -q '"hessian"' "$T/insp.json"; then
    ok "inspect runs on the experiment's model.json, weights and sample"
else
    bad "inspect on the experiment's files: $(head -n 2 "$T/stderr")"
fi
# audit --model reads the same files: the layers sweep's architecture (no
# ReLU after the last conv: Lambda = I there) is audited, Lemma 5 measured
"$HN" audit --model "$M8/model.json" --weights "$M8/weights.safetensors" \
    --sample "$M8/sample.safetensors" > "$T/stdout" 2> "$T/stderr"
rc=$?
if [ $rc -eq 0 ] && [ ! -s "$T/stderr" ] && grep -Eq '^lemma5 .* (holds|VIOLATED|undecided) ' "$T/stdout" \
        && grep -q '^theorem2 .*n/a .*see lemma5' "$T/stdout"; then
    ok "audit --model on the experiment's files: lemma5 measured, theorem2 n/a pointing to lemma5"
else
    bad "audit --model on the experiment's files: rc=$rc $(head -n 2 "$T/stderr")"
fi
# the experiment's tightness table is audit --model on its first samples: the
# same first-sample ratio (dense route at 8x8) from metrics.json and from the CLI
after_id() { # after_id FILE ID KEY: the value of KEY in the first object with "id": "ID"
    awk -v id="\"id\": \"$2\"" -v key="\"$3\":" 'index($0, id) { f = 1 }
        f && index($0, key) { sub(/^[^:]*: /, ""); sub(/,$/, ""); print; exit }' "$1"
}
"$HN" audit --model "$M8/model.json" --weights "$M8/weights.safetensors" --sample "$M8/sample.safetensors" \
    --json > "$T/a8.json" 2> "$T/stderr"
r_exp=$(after_id "$M8/metrics.json" lemma5 ratio)
r_cli=$(after_id "$T/a8.json" lemma5 ratio)
if [ -n "$r_exp" ] && [ "$r_exp" = "$r_cli" ] && grep -q '"route": "dense"' "$M8/metrics.json"; then
    ok "tightness table = audit --model on the saved files (lemma5 ratio $r_exp, dense)"
else
    bad "tightness table vs audit --model: lemma5 ratio '$r_exp' vs '$r_cli' $(head -n 2 "$T/stderr")"
fi

# a run stopped mid-training: --time-limit 0 stops at the first epoch's end
# (exit 3, one line, the state in train_checkpoint.safetensors, no
# metrics.json); each rerun goes on from the last finished epoch, or stops
# before the next model once one has finished; the finished sweep is
# byte-identical to the one run at once ($T/e8)
stopped() { # stopped NAME WANT ARGS...: exit 3, one stderr line (after the progress) matching WANT
    name=$1; want=$2; shift 2
    "$HN" experiment "$@" > "$T/stdout" 2> "$T/stderr"
    rc=$?
    if [ $rc -eq 3 ] && [ "$(grep -c '^hessnorm: ' "$T/stderr")" -eq 1 ] \
        && grep '^hessnorm: ' "$T/stderr" | grep -q -- "$want" && [ ! -s "$T/stdout" ]; then
        ok "$name: $(grep '^hessnorm: ' "$T/stderr")"
    else
        bad "$name: rc=$rc: $(tail -n 2 "$T/stderr")"
    fi
}
CK="$T/ck/models/L2_k3_C6/train_checkpoint.safetensors"
stopped "stopped after epoch 1" "after epoch 1/3 of L2_k3_C6 (state in $CK)" $E3 --out "$T/ck" --time-limit 0
[ -s "$CK" ] && [ ! -e "$T/ck/models/L2_k3_C6/metrics.json" ] && [ ! -e "$T/ck/report.md" ] \
    && ok "the checkpoint kept, no metrics.json, no report" || bad "after the stop: $(ls -R "$T/ck")"
cp "$CK" "$T/ck_epoch1"
stopped "resumed, stopped after epoch 2" "after epoch 2/3 of L2_k3_C6" $E3 --out "$T/ck" --time-limit 0 --threads 1
grep -q "L2_k3_C6: resuming at epoch 2/3 from $CK" "$T/stderr" && ok "resumed at epoch 2" \
    || bad "no resume line: $(grep L2_k3_C6 "$T/stderr" | head -n 3)"
stopped "resumed, stopped before model 2" "before model 2/2 L3_k3_C6" $E3 --out "$T/ck" --time-limit 0
grep -q "L2_k3_C6: resuming at epoch 3/3" "$T/stderr" && [ -s "$T/ck/models/L2_k3_C6/metrics.json" ] \
    && [ ! -e "$CK" ] && [ ! -e "$T/ck/models/L3_k3_C6" ] \
    && ok "model 1 finished from epoch 3, its checkpoint removed; model 2 not started" \
    || bad "stop before model 2: $(ls -R "$T/ck")"
run "resumed to the end" $E3 --out "$T/ck"
[ ! -e "$T/ck/models/L3_k3_C6/train_checkpoint.safetensors" ] && grep -q "L2_k3_C6: done already" "$T/stderr" \
    && ok "model 1 done already, model 2 trained, no checkpoint left" || bad "last rerun: $(tail -n 2 "$T/stderr")"
same=1
for f in report.md curves.csv summary.csv corollary2.csv models/L2_k3_C6/weights.safetensors \
         models/L2_k3_C6/metrics.json models/L3_k3_C6/weights.safetensors; do
    cmp -s "$T/ck/$f" "$T/e8/$f" || { same=0; bad "stopped three times and resumed: $f differs"; }
done
[ $same -eq 1 ] && ok "stopped three times and resumed: report, CSVs, weights, metrics byte-identical"
# a checkpoint that is not this run's, or damaged: one line naming the file, exit 1
mkdir -p "$T/ck2/models/L2_k3_C6" "$T/ck3/models/L2_k3_C6"
cp "$T/ck_epoch1" "$T/ck2/models/L2_k3_C6/train_checkpoint.safetensors"
"$HN" experiment $E3 --out "$T/ck2" --seed 7 > /dev/null 2> "$T/stderr"
rc=$?
[ $rc -eq 1 ] && grep -q "^hessnorm: $T/ck2/models/L2_k3_C6/train_checkpoint.safetensors: tensor \"tag\": the checkpoint was made with other settings" "$T/stderr" \
    && ok "another seed's checkpoint refused" || bad "other seed's checkpoint: rc=$rc $(tail -n 1 "$T/stderr")"
head -c 100 "$T/ck_epoch1" > "$T/ck3/models/L2_k3_C6/train_checkpoint.safetensors"
"$HN" experiment $E3 --out "$T/ck3" > /dev/null 2> "$T/stderr"
rc=$?
[ $rc -eq 1 ] && [ "$(grep -c '^hessnorm: ' "$T/stderr")" -eq 1 ] \
    && grep -q "^hessnorm: $T/ck3/models/L2_k3_C6/train_checkpoint.safetensors: " "$T/stderr" \
    && ok "a truncated checkpoint: $(tail -n 1 "$T/stderr")" || bad "truncated checkpoint: rc=$rc $(tail -n 1 "$T/stderr")"

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
# an option value not of its syntax: a usage error, exit 2 and the hint
usage() { # usage NAME WANT ARGS...
    name=$1; want=$2; shift 2
    "$HN" experiment "$@" --out "$T/none" > "$T/stdout" 2> "$T/stderr"
    rc=$?
    lines=$(wc -l < "$T/stderr")
    if [ $rc -eq 2 ] && [ "$lines" -eq 2 ] && head -n 1 "$T/stderr" | grep -q -- "$want" &&
        [ "$(tail -n 1 "$T/stderr")" = "try 'hessnorm experiment --help'" ] && [ ! -e "$T/none" ]; then
        ok "$name: $(head -n 1 "$T/stderr")"
    else
        bad "$name: rc=$rc lines=$lines: $(cat "$T/stderr")"
    fi
}
usage "bad threads" "--threads" --dataset mnist --sweep layers --threads zero
usage "too many threads" "more than 512" --dataset mnist --sweep layers --threads 4294967297
usage "negative limit" "--limit" --dataset mnist --sweep layers --limit -5
usage "negative time limit" "--time-limit" --dataset mnist --sweep layers --time-limit -1
check "cifar10 needs --data" "cifar10" --dataset cifar10 --sweep layers
check "missing files" "$T/nowhere" --dataset fashion-mnist --sweep layers --data "$T/nowhere"

hn_test_end cli_experiment
