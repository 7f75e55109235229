#!/bin/sh
# hessnorm inspect end to end: the built-in example, the same example read
# back from the files it writes, --json keys, --dump .npy files.
set -eu
B=${HN_BUILDDIR:-.}
S=${HN_SRCDIR:-.}
HN="$B/hessnorm"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$HN" inspect --example --json --write-example "$T/ex" > "$T/a.json"
"$HN" inspect --model "$T/ex/model.json" --weights "$T/ex/weights.safetensors" \
    --sample "$T/ex/sample.safetensors" --json > "$T/b.json"
# the files written are the example: identical output, byte for byte
cmp "$T/a.json" "$T/b.json"
# the shipped copy of the example is the same network
"$HN" inspect --model "$S/fixtures/example/model.json" --weights "$S/fixtures/example/weights.safetensors" \
    --sample "$S/fixtures/example/sample.safetensors" --json > "$T/c.json"
cmp "$T/a.json" "$T/c.json"
for k in num_params loss logits grad_norm hessian hessian_outer hessian_functional_norm \
         A_norm F_norm linear_layers max_eigenvalue min_eigenvalue eigenvalues T_norm T_fro \
         Q_norm G_norm R_norm Rx_norm; do
    grep -q "\"$k\"" "$T/a.json" || { echo "missing key $k"; exit 1; }
done
"$HN" inspect --example > "$T/table.txt"
grep -q "||H_O||" "$T/table.txt"
"$HN" inspect --example --dump "$T/dump" > /dev/null
for f in H H_O H_F F A J T_1 Q_1 G_1 R_0 Rx_0 Lambda_1 H_O_lemma1; do
    test -s "$T/dump/$f.npy" || { echo "missing dump $f.npy"; exit 1; }
    head -c 6 "$T/dump/$f.npy" | od -c | grep -q "N   U   M   P   Y" || { echo "bad npy $f"; exit 1; }
done
# a sample file holding a batch of one ([1, C, H, W] and y of shape [1]) keeps
# the per-sample keys (the paper's F, A and per-layer matrices are for one sample)
le64() { n=$1; i=0; while [ $i -lt 8 ]; do printf "\\$(printf %03o $((n % 256)))"; n=$((n / 256)); i=$((i + 1)); done; }
H1='{"x":{"dtype":"F64","shape":[1,1,8,8],"data_offsets":[0,512]},"y":{"dtype":"I64","shape":[1],"data_offsets":[512,520]}}'
{ le64 ${#H1}; printf '%s' "$H1"; tail -c 520 "$S/fixtures/example/sample.safetensors"; } > "$T/batch1.safetensors"
"$HN" inspect --model "$S/fixtures/example/model.json" --weights "$S/fixtures/example/weights.safetensors" \
    --sample "$T/batch1.safetensors" --json > "$T/b1.json"
for k in A_norm F_norm linear_layers T_norm; do
    grep -q "\"$k\"" "$T/b1.json" || { echo "batch of one: missing key $k"; exit 1; }
done
# ... with the same values as the unbatched file
a=$(grep '"A_norm"' "$T/a.json"); b=$(grep '"A_norm"' "$T/b1.json")
[ "$a" = "$b" ] || { echo "batch of one: A_norm $b, unbatched $a"; exit 1; }
# --threads: the same bytes for 1 and 2 threads on a batch (the OpenMP loops
# run over its samples); a count outside 0..1024 is refused with one line
G="$S/fixtures/golden/batch3_ce"
for t in 1 2; do
    "$HN" inspect --model "$G/model.json" --weights "$G/weights.safetensors" --sample "$G/sample.safetensors" \
        --json --threads $t > "$T/t$t.json"
done
cmp -s "$T/t1.json" "$T/t2.json" || { echo "--threads 1 and 2 differ"; exit 1; }
# a value out of the option's range: a usage error (exit 2, the hint line)
rc=0
"$HN" inspect --example --threads 5000 > "$T/out" 2> "$T/err" || rc=$?
[ $rc -eq 2 ] && [ "$(cat "$T/err")" = "hessnorm inspect: --threads: 5000 is more than 512
try 'hessnorm inspect --help'" ] && [ ! -s "$T/out" ] ||
    { echo "--threads 5000: rc=$rc: $(cat "$T/err")"; exit 1; }
# the route: automatic (dense for the example, matrix-free past
# HN_INSPECT_AUTO_DENSE_MAX_P parameters), named in the text and the JSON
grep -q '"route": "dense"' "$T/a.json" || { echo "example: route not dense"; exit 1; }
grep -q '^route  *dense$' "$T/table.txt" || { echo "example: text route not dense"; exit 1; }
"$HN" inspect --example --json --matrix-free > "$T/mf.json" 2> "$T/mf.err"
grep -q '"route": "matrix-free"' "$T/mf.json" || { echo "--matrix-free: route"; exit 1; }
grep -q '"norm_bracket"' "$T/mf.json" && grep -q '"paper_bound"' "$T/mf.json" || { echo "--matrix-free: keys"; exit 1; }
grep -q '^inspect: route matrix-free (asked for): needs about ' "$T/mf.err" || { echo "--matrix-free: stderr $(cat "$T/mf.err")"; exit 1; }
# --dump needs the dense route, and one route at a time: usage errors (exit 2)
for args in "--matrix-free --dump $T/d2" "--dense --matrix-free" "--matrix-free --dense"; do
    rc=0
    "$HN" inspect --example $args > "$T/out" 2> "$T/err" || rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l < "$T/err")" -eq 2 ] && [ "$(tail -n 1 "$T/err")" = "try 'hessnorm inspect --help'" ] &&
        [ ! -s "$T/out" ] && [ ! -e "$T/d2" ] || { echo "$args: rc=$rc: $(cat "$T/err")"; exit 1; }
done
P="$S/fixtures/paper28"
for t in 1 2; do
    "$HN" inspect --model "$P/model.json" --weights "$P/weights.safetensors" --sample "$P/sample.safetensors" \
        --json --threads $t > "$T/p$t.json" 2> "$T/p$t.err"
done
cmp -s "$T/p1.json" "$T/p2.json" || { echo "paper28 matrix-free: --threads 1 and 2 differ"; exit 1; }
grep -q '"route": "matrix-free"' "$T/p1.json" || { echo "paper28: route not matrix-free"; exit 1; }
grep -q '"sample_table"' "$T/p1.json" && ! grep -q '"eigenvalues_na"' "$T/p1.json" || { echo "paper28: keys (the mean H_O's spectrum from its Gram expected)"; exit 1; }
grep -q '^inspect: route matrix-free (29742 parameters > 500' "$T/p1.err" || { echo "paper28: stderr $(cat "$T/p1.err")"; exit 1; }
# --dense past the dense limit: one line, exit 1, nothing on stdout
if "$HN" inspect --model "$P/model.json" --weights "$P/weights.safetensors" --sample "$P/sample.safetensors" \
    --dense > "$T/out" 2> "$T/err"; then echo "paper28 --dense accepted"; exit 1; fi
[ "$(wc -l < "$T/err")" -eq 1 ] && [ ! -s "$T/out" ] || { echo "paper28 --dense: $(cat "$T/err")"; exit 1; }
echo "cli_inspect: 1 passed, 0 failed"
