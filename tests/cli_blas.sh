#!/bin/sh
# The BLAS kernel: plain --version is one line; --version --verbose names
# the BLAS, its kernel and a measured DGEMM rate; with OPENBLAS_CORETYPE
# unset hessnorm never runs a kernel below this CPU's features; a value
# set in the environment is kept; and the results are the same to
# rounding on the generic Prescott kernel and on the selected one.
#
# Why 1e-12 relative: the kernels compute the same products with another
# blocking, summation order and FMA use, so each entry of a GEMM moves by
# a few units of the last place times the inner dimension (a few hundred
# here: ~1e-14); what hessnorm derives from them is well conditioned
# (eigenvalues move by at most the perturbation's norm, Weyl; a first Adam
# step is lr * g / (|g| + eps)), so the largest difference seen is ~2e-13,
# on a Lanczos residual, itself ~1e-11 of the norm.  A wrong kernel (a
# bug, a bad selection) gives O(1) differences.  Every array of numbers is
# compared at the scale of its largest entry (tests/python/same_numbers.py).
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup

"$HN" --version > "$T/v" 2>&1
[ "$(wc -l < "$T/v")" -eq 1 ] && grep -q '^hessnorm [0-9]' "$T/v" && ok "--version: one line" \
    || bad "--version: $(cat "$T/v")"
"$HN" --version --verbose > "$T/vv" 2> "$T/err"
if [ "$(head -n 1 "$T/vv")" = "$(cat "$T/v")" ] && grep -q '^BLAS: ' "$T/vv" \
   && grep -q '^BLAS core: ' "$T/vv" && grep -q '^CPU: .*family' "$T/vv" \
   && grep -Eq '^DGEMM: [0-9]+\.[0-9] GFLOP/s \(n = 384, 1 BLAS thread, best of 5\)$' "$T/vv" \
   && [ ! -s "$T/err" ]; then
    ok "--version --verbose: BLAS, core, CPU, DGEMM rate"
else
    bad "--version --verbose: $(cat "$T/vv" "$T/err")"
fi
if ! grep -q '^BLAS: OpenBLAS' "$T/vv"; then
    echo "cli_blas: not OpenBLAS: the kernel checks are skipped"
    echo "cli_blas: $pass passed, $fail failed"
    [ $fail -eq 0 ]; exit
fi

# the environment's own OPENBLAS_CORETYPE (if any) is the user's: unset it
# to see hessnorm's choice, with and without the threads re-exec
for nt in 1 unset; do
    if [ $nt = unset ]; then E="env -u OPENBLAS_CORETYPE -u OPENBLAS_NUM_THREADS"
    else E="env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1"; fi
    $E "$HN" --version --verbose > "$T/own" 2>&1
    core=$(sed -n 's/^BLAS core: \([^ ]*\) .*/\1/p' "$T/own")
    if grep -q '^BLAS core: .*this CPU supports' "$T/own" || [ -z "$core" ]; then
        bad "OPENBLAS_CORETYPE unset (OPENBLAS_NUM_THREADS $nt): a slower kernel: $(cat "$T/own")"
    else
        ok "OPENBLAS_CORETYPE unset (OPENBLAS_NUM_THREADS $nt): $(grep '^BLAS core' "$T/own")"
    fi
done
# a value set outside is kept, also when the threads re-exec happens
for nt in 1 unset; do
    if [ $nt = unset ]; then E="env -u OPENBLAS_NUM_THREADS OPENBLAS_CORETYPE=Prescott"
    else E="env OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Prescott"; fi
    $E "$HN" --version --verbose > "$T/env" 2>&1
    if grep -q '^BLAS core: Prescott (OPENBLAS_CORETYPE set in the environment, kept' "$T/env"; then
        ok "OPENBLAS_CORETYPE=Prescott kept (OPENBLAS_NUM_THREADS $nt)"
    else
        bad "OPENBLAS_CORETYPE=Prescott (OPENBLAS_NUM_THREADS $nt): $(cat "$T/env")"
    fi
done
# re-executed already: never again, whatever OpenBLAS chose
env -u OPENBLAS_CORETYPE -u OPENBLAS_NUM_THREADS HESSNORM_BLAS_REEXEC=- "$HN" --version --verbose \
    > "$T/once" 2>&1
grep -q '^BLAS core: .*OpenBLAS.s own choice' "$T/once" && ok "no second re-exec" \
    || bad "HESSNORM_BLAS_REEXEC set: $(cat "$T/once")"

# the same numbers on the generic kernel and on hessnorm's
PY=""
for p in "${HN_PYTHON3:-}" "${HN_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$p" ] && [ "$p" != : ] || continue
    if "$p" -c 'import json, csv' 2> /dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "cli_blas: no python3: the numbers are not compared"
else
    for c in Prescott own; do
        if [ $c = own ]; then E="env -u OPENBLAS_CORETYPE"; else E="env OPENBLAS_CORETYPE=$c"; fi
        $E "$HN" inspect --example --json > "$T/inspect-$c.json" 2> "$T/err" || bad "inspect ($c): $(cat "$T/err")"
        $E "$HN" experiment --dataset fashion-mnist --sweep layers --preset tiny \
            --data "$S/fixtures/data/idx" --out "$T/exp-$c" --no-figures --threads 2 > /dev/null 2> "$T/err" \
            || bad "experiment ($c): $(tail -n 2 "$T/err")"
        # the structured draws only (~4 s): many reach their supremum
        # exactly, so ratios tie up to rounding (the kernel's)
        $E "$HN" audit --random 0 --adversarial 0 --trained 0 --sweep-draws 0 --no-figures --budget 100000 \
            --out "$T/aud-$c" > /dev/null 2> "$T/err" || bad "audit ($c): $(tail -n 2 "$T/err")"
    done
    # the audit's every count and verdict, and where its searches ran, do
    # not depend on the kernel's rounding (they did: a tie at the supremum
    # moved the worst instance, a 1e-16 "gain" recorded an ascent)
    if "$PY" -c '
import json, sys
def key(p):
    return {c["id"]: (c["samples"], c["violations"], c["verdict"], c["local_search_ratio"] is None)
            for c in json.load(open(p))["claims"]}
a, b = key(sys.argv[1]), key(sys.argv[2])
d = [k for k in a if a[k] != b.get(k)]
print("%d claims, differing: %s" % (len(a), ", ".join("%s %s / %s" % (k, a[k], b.get(k)) for k in d) or "none"))
sys.exit(1 if d else 0)' "$T/aud-Prescott/audit.json" "$T/aud-own/audit.json" > "$T/acmp" 2>&1; then
        ok "Prescott and the selected kernel: the audit's counts, verdicts and searches equal ($(cat "$T/acmp"))"
    else
        bad "the audit on Prescott against the selected kernel: $(cat "$T/acmp")"
    fi
    set -- "$T/inspect-Prescott.json" "$T/inspect-own.json"
    for f in summary.csv corollary2.csv curves.csv hessnorm_quantiles.csv \
             models/L2_k3_C6/metrics.json models/L3_k3_C6/metrics.json \
             models/L2_k3_C6/hess_norms.csv models/L3_k3_C6/hess_norms.csv; do
        set -- "$@" "$T/exp-Prescott/$f" "$T/exp-own/$f"
    done
    if "$PY" "$S/tests/python/same_numbers.py" 1e-12 "$@" > "$T/cmp" 2>&1; then
        ok "Prescott and $(sed -n 's/^BLAS core: \([^ ]*\) .*/\1/p' "$T/own"): inspect and a tiny training run agree to 1e-12: $(tail -n 1 "$T/cmp")"
    else
        bad "Prescott against the selected kernel: $(cat "$T/cmp")"
    fi
fi

# the direct convolutions' instruction set: named by --version --verbose
# as the CPU line's features imply; HESSNORM_CONV_ISA picks one; each one
# this machine runs gives the same bytes (inspect, a tiny training run)
cpu=$(grep '^CPU: ' "$T/vv")
case $cpu in
    *AVX-512F*) best=AVX-512F ;;
    *" AVX2"*) best=AVX2 ;;
    *) best=baseline ;;
esac
grep -qx "Direct convolutions: $best (the best this CPU runs)" "$T/vv" \
    && ok "--version --verbose: direct convolutions in $best ($cpu)" \
    || bad "direct convolutions: expected $best for '$cpu': $(grep '^Direct' "$T/vv")"
HESSNORM_CONV_ISA=baseline "$HN" --version --verbose 2>&1 | grep -qx "Direct convolutions: baseline (HESSNORM_CONV_ISA; the best here: $best)" \
    && ok "HESSNORM_CONV_ISA=baseline named as chosen" || bad "HESSNORM_CONV_ISA=baseline not named"
HESSNORM_CONV_ISA=sse4 "$HN" --version > "$T/o" 2> "$T/e"; rc=$?
[ $rc -eq 1 ] && [ ! -s "$T/o" ] && [ "$(wc -l < "$T/e")" -eq 1 ] \
    && grep -q "^hessnorm: HESSNORM_CONV_ISA: expected baseline, AVX2, AVX-512F or auto, got 'sse4'$" "$T/e" \
    && ok "HESSNORM_CONV_ISA=sse4: one line, exit 1" || bad "HESSNORM_CONV_ISA=sse4: rc=$rc $(cat "$T/o" "$T/e")"
HESSNORM_CONV_ISA="$(printf 'avx\n2\033')" "$HN" --version > "$T/o" 2> "$T/e"; rc=$?
[ $rc -eq 1 ] && [ ! -s "$T/o" ] && [ "$(wc -l < "$T/e")" -eq 1 ] \
    && grep -q "got 'avx?2?'$" "$T/e" \
    && ok "HESSNORM_CONV_ISA with control characters: one line, each as '?'" \
    || bad "HESSNORM_CONV_ISA with control characters: rc=$rc $(od -c "$T/e" | head -3)"
if [ $best != AVX-512F ]; then
    HESSNORM_CONV_ISA=avx-512f "$HN" --version > "$T/o" 2> "$T/e"; rc=$?
    [ $rc -eq 1 ] && grep -q "does not run AVX-512F (the best here: $best)" "$T/e" \
        && ok "HESSNORM_CONV_ISA=AVX-512F on a CPU without it: refused" || bad "AVX-512F refused: rc=$rc $(cat "$T/e")"
fi
isas=baseline
[ $best = baseline ] || isas="$isas AVX2"
[ $best = AVX-512F ] && isas="$isas AVX-512F"
for i in $isas; do
    HESSNORM_CONV_ISA=$i "$HN" inspect --example --json > "$T/isa-$i.json" 2> "$T/err" || bad "inspect ($i): $(cat "$T/err")"
    HESSNORM_CONV_ISA=$i "$HN" experiment --dataset fashion-mnist --sweep layers --preset tiny \
        --data "$S/fixtures/data/idx" --out "$T/isa-$i" --no-figures --threads 2 > /dev/null 2> "$T/err" \
        || bad "experiment ($i): $(tail -n 2 "$T/err")"
done
same=0 differ=""
for i in $isas; do
    [ $i = baseline ] && continue
    cmp -s "$T/isa-baseline.json" "$T/isa-$i.json" || differ="$differ inspect($i)"
    for f in summary.csv corollary2.csv curves.csv hessnorm_quantiles.csv \
             models/L2_k3_C6/metrics.json models/L3_k3_C6/metrics.json \
             models/L2_k3_C6/hess_norms.csv models/L3_k3_C6/hess_norms.csv \
             models/L2_k3_C6/weights.safetensors; do
        if cmp -s "$T/isa-baseline/$f" "$T/isa-$i/$f"; then same=$((same + 1)); else differ="$differ $f($i)"; fi
    done
done
if [ -n "$differ" ]; then
    bad "direct convolutions: bytes differ from the baseline's:$differ"
elif [ "$isas" = baseline ]; then
    ok "direct convolutions: only the baseline on this CPU, nothing to compare"
else
    ok "direct convolutions in $isas: inspect and a tiny training run byte-identical ($same files)"
fi

hn_test_end cli_blas
