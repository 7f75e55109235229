#!/bin/sh
# hessnorm audit --model: the claims on one given network, end to end.
#  - every committed counterexample (fixtures/counterexamples/<claim>/)
#    violates its claim again, with the measured side and the bound of its
#    claim.json to a relative 1e-9: the same facts code (dense products and
#    LAPACK eigensolvers) on the same network, weights and sample, so only
#    the last bits may differ.  The claims about theta*, theta and k+1
#    samples (equation (1), Section III, Corollaries 1-2: is_landscape below)
#    come out n/a: one network gives no theta*, theta and k+1 samples (a
#    counterexample of another claim found on a landscape-family instance
#    has "k" in its claim.json too, and is checked like the others);
#  - on fixtures/example, the measured side of lemma2 (||H_O||, from the
#    facts' J^T A J by backprop and dsyevd) equals `inspect --json`'s
#    hessian_outer.norm (hn_inspect's own H_O and eigensolver): to 1e-9,
#    two eigensolvers on matrices equal to rounding agree to ~1e-13;
#  - bad input: one line on stderr, nothing on stdout, exit 1 (2 for usage, with
#    the line "try 'hessnorm audit --help'").
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup
EX="$S/fixtures/example"
# the claims whose statement needs theta*, theta and k+1 samples (the paper's
# equation (1), Section III's identity, Corollaries 1-2 and their steps)
is_landscape() {
    case $1 in eq1|eq1.*|sec3.*|corollary1|corollary1.*|corollary2|corollary2.*|corollary.*|assumption1) return 0;; esac
    return 1
}

# claim FILE ID: "status measured bound" of claim ID in an `audit --json` output
claim() {
    awk -v want="$2" '
        function val(l) { sub(/^[^:]*: /, "", l); sub(/,$/, "", l); gsub(/"/, "", l); return l }
        /^      "id": / { id = val($0) }
        id == want && /^      "measured": / { me = val($0) }
        id == want && /^      "bound": / { bo = val($0) }
        id == want && /^      "status": / { st = val($0) }
        END { if (st != "") print st, me, bo }' "$1"
}
# top FILE KEY: a top-level number or string of a JSON object (2-space indent)
top() {
    awk -v k="\"$2\": " 'index($0, "  " k) == 1 { l = substr($0, length(k) + 3); sub(/,$/, "", l);
        gsub(/"/, "", l); print l; exit }' "$1"
}
# close A B: |A - B| <= 1e-9 max(|A|, |B|) (both null also counts as equal)
close() {
    if [ "$1" = null ] || [ "$2" = null ]; then [ "$1" = "$2" ]; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
        n = b < 0 ? -b : b; if (n > m) m = n; exit !(d <= 1e-9 * m) }'
}

# Lemma 5 on an FC head of zeros (the committed lemma5.mse network with its
# FC weight 1e-4 set to 0): J = [w_fc x, relu(w x)] = [0, 1], so ||H_O|| = 1;
# the printed bound has the factor (h^2 w~^2)^P = 0: VIOLATED; the corrected
# one is a^P c^L (L+1 + P c/a) at a = 0, L = 0: P c = 1 times sqrt(2) q^2
# = sqrt(2) (the supremum construction: ratio 1/sqrt(2)).  It evaluated
# 0 x infinity = NaN before, and a NaN bound counted as a violation.
L5="$S/fixtures/counterexamples/lemma5.mse"
hl=$(od -An -t u8 -N8 "$L5/weights.safetensors" | tr -d ' ')
{ head -c $((8 + hl)) "$L5/weights.safetensors"; printf '\000\000\000\000\000\000\360\077\000\000\000\000\000\000\000\000'; } \
    > "$T/w_fc0.safetensors"
"$HN" audit --model "$L5/model.json" --weights "$T/w_fc0.safetensors" --sample "$L5/sample.safetensors" \
    --claims lemma5.mse,lemma5.corrected.mse --json > "$T/fc0.json" 2> "$T/err" || bad "FC head of zeros: $(cat "$T/err")"
set -- $(claim "$T/fc0.json" lemma5.mse)
p_st=${1:-} p_me=${2:-} p_bo=${3:-}
set -- $(claim "$T/fc0.json" lemma5.corrected.mse)
if [ "$p_st" = VIOLATED ] && close "$p_me" 1 && [ "$p_bo" = 0.0 ] && [ "${1:-}" = holds ] && close "${2:-}" 1 &&
        close "${3:-}" 1.4142135623730951; then
    ok "Lemma 5 on an FC head of zeros: printed VIOLATED (bound 0), corrected holds at its limit sqrt(2)"
else
    bad "Lemma 5 on an FC head of zeros: printed $p_st $p_me $p_bo, corrected ${1:-} ${2:-} ${3:-}"
fi

# ---------------------------------------------------------------- counterexamples
n_cx=0
for d in "$S"/fixtures/counterexamples/*/; do
    d=${d%/}
    id=$(basename "$d")
    [ -f "$d/claim.json" ] || continue
    n_cx=$((n_cx + 1))
    if [ "$(top "$d/claim.json" claim)" != "$id" ]; then
        bad "$id: claim.json names $(top "$d/claim.json" claim)"
        continue
    fi
    if ! "$HN" audit --model "$d/model.json" --weights "$d/weights.safetensors" \
            --sample "$d/sample.safetensors" --json > "$T/out.json" 2> "$T/err"; then
        bad "$id: hessnorm audit --model failed: $(cat "$T/err")"
        continue
    fi
    set -- $(claim "$T/out.json" "$id")
    st=${1:-missing}; me=${2:-}; bo=${3:-}
    if is_landscape "$id"; then
        # an equation-(1) instance: theta* and the k+1 samples are not used
        if [ "$st" = n/a ] && grep -q 'equation-(1) facts' "$T/out.json"; then
            ok "$id: n/a on one network (needs theta*, theta and k+1 samples)"
        else
            bad "$id: status $st, expected n/a (equation-(1) facts)"
        fi
        continue
    fi
    wme=$(top "$d/claim.json" measured)
    wbo=$(top "$d/claim.json" bound)
    if [ "$st" != VIOLATED ]; then
        bad "$id: status $st, expected VIOLATED"
    elif ! close "$me" "$wme" || ! close "$bo" "$wbo"; then
        bad "$id: measured $me bound $bo, claim.json has $wme and $wbo"
    else
        ok "$id: VIOLATED, measured $me bound $bo as in claim.json"
    fi
done
[ $n_cx -ge 10 ] || bad "only $n_cx counterexamples found under $S/fixtures/counterexamples"

# a sample file of k+1 samples: only the first is used, and the output says so
d="$S/fixtures/counterexamples/eq1"
nk=$(( $(top "$d/claim.json" k) + 1 ))
if "$HN" audit --model "$d/model.json" --weights "$d/weights.safetensors" --sample "$d/sample.safetensors" \
        --json --claims lemma2 > "$T/multi.json" 2> "$T/err" \
        && [ "$(top "$T/multi.json" samples_in_file)" = "$nk" ] && [ "$(top "$T/multi.json" sample_used)" = 0 ]; then
    ok "$nk-sample file: samples_in_file $nk, sample_used 0"
else
    bad "$nk-sample file: $(cat "$T/err")"
fi

# ---------------------------------------------------------------- the example
"$HN" audit --model "$EX/model.json" --weights "$EX/weights.safetensors" --sample "$EX/sample.safetensors" \
    --json > "$T/ex.json" 2> "$T/err" || bad "example: audit --json failed: $(cat "$T/err")"
"$HN" inspect --model "$EX/model.json" --weights "$EX/weights.safetensors" --sample "$EX/sample.safetensors" \
    --json > "$T/inspect.json" 2> "$T/err" || bad "example: inspect --json failed: $(cat "$T/err")"
ho=$(awk '/"hessian_outer": \{/ { f = 1 } f && /"norm": / { l = $0; sub(/^[^:]*: /, "", l); sub(/,$/, "", l);
    print l; exit }' "$T/inspect.json")
set -- $(claim "$T/ex.json" lemma2)
if [ -n "$ho" ] && [ "${2:-}" ] && close "$2" "$ho"; then
    ok "example: lemma2 measured ||H_O|| = $2, inspect's hessian_outer.norm = $ho"
else
    bad "example: lemma2 measured ${2:-missing}, inspect's hessian_outer.norm ${ho:-missing}"
fi
# every claim has one of the three statuses, and all 71 are listed
n=$(grep -c '^      "status": "\(holds\|VIOLATED\|n/a\)"' "$T/ex.json")
total=$("$HN" audit --list | wc -l)
if [ "$n" -eq "$total" ] && [ "$(grep -c '^      "id": ' "$T/ex.json")" -eq "$total" ]; then
    ok "example: $n claims, each holds / VIOLATED / n/a"
else
    bad "example: $n statuses for $total claims"
fi
# --claims selects, in registry order, each id once
"$HN" audit --model "$EX/model.json" --weights "$EX/weights.safetensors" --sample "$EX/sample.safetensors" \
    --json --claims eq2,lemma2,eq2 > "$T/sel.json" 2> "$T/err"
ids=$(awk '/^      "id": / { l = $0; sub(/^[^:]*: /, "", l); gsub(/[",]/, "", l); printf "%s ", l }' "$T/sel.json")
if [ "$ids" = "lemma2 eq2 " ]; then ok "--claims eq2,lemma2,eq2: $ids"; else bad "--claims: got '$ids'"; fi
# the text table
"$HN" audit --model "$EX/model.json" --weights "$EX/weights.safetensors" --sample "$EX/sample.safetensors" \
    > "$T/table.txt" 2> "$T/err"
if grep -q '^lemma2  *Lemma 2  *<= .* holds' "$T/table.txt" && grep -q '^eq2 .* VIOLATED' "$T/table.txt" \
   && grep -q '^eq1 .* n/a' "$T/table.txt" && [ ! -s "$T/err" ]; then
    ok "example: text table"
else
    bad "example: text table"; cat "$T/table.txt"
fi

# ---------------------------------------------------------------- --weights-star
# at_star DIR ID: `audit --model --weights-star` on counterexample folder DIR
# reports ID VIOLATED with claim.json's two sides (to 1e-9, as above)
at_star() {
    if ! "$HN" audit --model "$1/model.json" --weights "$1/weights.safetensors" \
            --weights-star "$1/weights_star.safetensors" --sample "$1/sample.safetensors" --json \
            > "$T/star.json" 2> "$T/err"; then
        bad "$2 --weights-star: $(cat "$T/err")"
        return
    fi
    set -- "$2" $(claim "$T/star.json" "$2")
    if [ "${2:-}" = VIOLATED ] && close "${3:-x}" "$(top "$D/claim.json" measured)" \
            && close "${4:-x}" "$(top "$D/claim.json" bound)" && ! grep -q 'equation-(1) facts' "$T/star.json"; then
        ok "$1 --weights-star ($(top "$D/claim.json" family), k = $(top "$T/star.json" k)): VIOLATED, measured $3 bound $4 as in claim.json"
    else
        bad "$1 --weights-star: status ${2:-missing} measured ${3:-} bound ${4:-}"
    fi
}
# the committed equation-(1) counterexamples, theta* given
for D in "$S"/fixtures/counterexamples/*/; do
    D=${D%/}
    [ -f "$D/weights_star.safetensors" ] && [ -f "$D/claim.json" ] || continue
    id=$(basename "$D")
    is_landscape "$id" && at_star "$D" "$id"
done
# the audit's trained counterexamples (theta* a minimum of L_k): equation (1),
# its dropped first-order term and Assumption 1 itself
if "$HN" audit --random 0 --adversarial 0 --nm-iterations 0 --no-figures \
        --claims eq1,eq1.first_order,assumption1 --out "$T/tr" > /dev/null 2> "$T/err"; then
    for id in eq1 eq1.first_order assumption1; do
        D="$T/tr/counterexamples/$id"
        case $(top "$D/claim.json" family) in
        trained*) at_star "$D" "$id" ;;
        *) bad "$id: the counterexample is not at a trained theta* ($(top "$D/claim.json" family))" ;;
        esac
    done
else
    bad "audit on the trained networks: $(tail -n 1 "$T/err")"
fi

# ---------------------------------------------------------------- bad input
# fails NAME STATUS EXPECT-IN-MESSAGE ARGS...: exit STATUS, one line on stderr holding
# the expected text, nothing on stdout
fails() {
    name=$1; want_rc=$2; want=$3; shift 3
    "$HN" audit "$@" > "$T/stdout" 2> "$T/stderr"
    rc=$?
    lines=$(wc -l < "$T/stderr")
    # a usage error (2) is one line and the hint "try 'hessnorm audit --help'"
    want_lines=1
    [ "$want_rc" -eq 2 ] && want_lines=2
    if [ $rc -ne "$want_rc" ] || [ "$lines" -ne $want_lines ] || ! grep -qF -- "$want" "$T/stderr" || [ -s "$T/stdout" ] ||
        { [ "$want_rc" -eq 2 ] && [ "$(tail -n 1 "$T/stderr")" != "try 'hessnorm audit --help'" ]; }; then
        bad "$name: rc=$rc lines=$lines; stderr: $(cat "$T/stderr")"
    else
        ok "$name: $(cat "$T/stderr")"
        # ROW=1: the case is a row of the README's "Hostile input" table (its message: the
        # first line; the hint of a usage error is checked above)
        if [ -n "${ROW:-}" ]; then row "$name" "$(head -n 1 "$T/stderr")"; fi
    fi
}
. "$S/tests/readme_rows.sh"
M="$EX/model.json"
W="$EX/weights.safetensors"
X="$EX/sample.safetensors"
fails "missing --weights" 2 "missing --weights" --model "$M" --sample "$X"
fails "--sample alone" 2 "missing --model" --sample "$X" --json
fails "--json without --model" 2 "--json needs --model" --json
fails "--out with --model" 2 "--out is an option of the full audit" --model "$M" --weights "$W" --sample "$X" \
    --out "$T/a"
# corollary1.mse/: the counterexample folder that stays fixed (fixtures/counterexamples/README.md)
D="$S/fixtures/counterexamples/corollary1.mse"
fails "--weights-star without --model" 2 "--weights-star needs --model" --weights-star "$D/weights_star.safetensors"
fails "theta* of another network" 1 "$W: tensor \"0.weight\": shape" --model "$D/model.json" \
    --weights "$D/weights.safetensors" --weights-star "$W" --sample "$D/sample.safetensors"
st "$T/one.safetensors" '{"x":{"dtype":"F64","shape":[1,3,8],"data_offsets":[0,192]},"y":{"dtype":"F64","shape":[1,2],"data_offsets":[192,208]}}' 208
fails "--weights-star with one sample" 1 "$T/one.safetensors: x: the equation-(1) claims need k+1 >= 2 samples" \
    --model "$D/model.json" --weights "$D/weights.safetensors" --weights-star "$D/weights_star.safetensors" \
    --sample "$T/one.safetensors"
fails "nonexistent model" 1 "$T/nosuch.json: cannot open" --model "$T/nosuch.json" --weights "$W" --sample "$X"
fails "nonexistent weights" 1 "$T/nosuch.safetensors: cannot open" --model "$M" --weights "$T/nosuch.safetensors" \
    --sample "$X"
# --seed: one strict parser (a sign or an overflow used to wrap silently to ULONG_MAX)
fails "--seed -1" 2 "hessnorm audit: --seed: '-1' is not a number" --seed -1 --out "$T/s1"
fails "--seed 2^100" 2 "hessnorm audit: --seed: '1267650600228229401496703205376' is not a number" \
    --seed 1267650600228229401496703205376 --out "$T/s2"
fails "--seed ' 5'" 2 "hessnorm audit: --seed: ' 5' is not a number" --seed ' 5' --out "$T/s3"
[ ! -e "$T/s1" ] && [ ! -e "$T/s2" ] && [ ! -e "$T/s3" ] && ok "--seed refusals write nothing" \
    || bad "a refused --seed left an output folder"
# --budget: the strict real parser (strtod took white space, a sign, hex,
# inf and an underflow to 0); usage errors like --seed's: exit 2, one line
for b in '' ' 5' '+5' '-1' 0 0.0 5x 0x10 inf nan 1e400 1e-400 2e9 .5; do
    ROW=$(case $b in inf|0x10|1e-400) echo 1;; esac) fails "--budget '$b'" 2 "hessnorm audit: --budget: '$b' is not a positive number of seconds" --budget "$b" --out "$T/b1"
done
[ ! -e "$T/b1" ] && ok "--budget refusals write nothing" || bad "a refused --budget left an output folder"
if "$HN" audit --budget 2.5e1 --random 1 --adversarial 0 --nm-iterations 0 --no-figures --claims lemma2 \
        --out "$T/b2" > /dev/null 2> "$T/err" && [ -s "$T/b2/audit.json" ]; then
    ok "--budget 2.5e1 taken"
else
    bad "--budget 2.5e1: $(tail -n 1 "$T/err")"
fi
fails "unknown claim id" 1 "hessnorm: --claims: unknown claim id 'lemma9'" --model "$M" --weights "$W" \
    --sample "$X" --claims lemma2,lemma9
# audited NAME MODEL WEIGHTS ERE...: audit --model succeeds, silent on stderr,
# every ERE matching a line of its stdout (kept in $T/stdout)
audited() {
    local name=$1 model=$2 weights=$3 re; shift 3
    if ! "$HN" audit --model "$model" --weights "$weights" --sample "$X" > "$T/stdout" 2> "$T/stderr" \
        || [ -s "$T/stderr" ]; then
        bad "audit --model, $name: $(head -c 600 "$T/stderr" "$T/stdout")"
        return
    fi
    for re in "$@"; do
        if ! grep -Eq "$re" "$T/stdout"; then
            bad "audit --model, $name: no line matches '$re': $(head -c 600 "$T/stdout")"
            return
        fi
    done
    ok "$name: audited, $# lines as expected"
}
HEAD='"format":"hessnorm-model/1","input":[1,8,8],"classes":4,"loss":"cross_entropy"'
# two FC layers with no ReLU between them: Lambda = I there, audited (every claim either
# measured or n/a with the reason of its setting)
printf '%s' "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"relu\"},
{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":5},{\"type\":\"linear\",\"out_features\":4}]}" \
    > "$T/fc2.json"
# every weight 0.5 (zeros would make Lemma 5's bound 0/0: n/a, not a number)
fc2h='{"0.weight":{"dtype":"F64","shape":[2,1,3,3],"data_offsets":[0,144]},
"3.weight":{"dtype":"F64","shape":[5,72],"data_offsets":[144,3024]},
"4.weight":{"dtype":"F64","shape":[4,5],"data_offsets":[3024,3184]}}'
{
    le64 ${#fc2h}
    printf '%s' "$fc2h"
    i=0
    while [ $i -lt 398 ]; do printf '\000\000\000\000\000\000\340\077'; i=$((i + 1)); done
} > "$T/fc2.safetensors"
if "$HN" inspect --model "$T/fc2.json" --weights "$T/fc2.safetensors" --sample "$X" > /dev/null 2>&1; then
    audited "no ReLU between the FC layers" "$T/fc2.json" "$T/fc2.safetensors" \
        '^lemma5 .* (holds|VIOLATED|undecided) ' \
        '^theorem2 .*n/a .*needs a 2-D conv-only network .*no ReLU after T\^2: see lemma5'
else
    bad "the linear-linear model is not a valid network: $("$HN" inspect --model "$T/fc2.json" \
        --weights "$T/fc2.safetensors" --sample "$X" 2>&1)"
fi
# a bound that is not a number is no measurement: Lemma 5 on the network of
# all-zero weights below is 0/0 (a = c = 0 with two FC layers) -- n/a with
# the reason, where it used to be "holds" (a NaN bound counted as 0)
fc2z='{"0.weight":{"dtype":"F64","shape":[2,1,3,3],"data_offsets":[0,144]},"3.weight":{"dtype":"F64","shape":[5,72],"data_offsets":[144,3024]},"4.weight":{"dtype":"F64","shape":[4,5],"data_offsets":[3024,3184]}}'
printf '%s' "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"relu\"},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":5},{\"type\":\"linear\",\"out_features\":4}]}" \
    > "$T/fc2z.json"
st "$T/fc2z.safetensors" "$fc2z" 3184
"$HN" audit --model "$T/fc2z.json" --weights "$T/fc2z.safetensors" --sample "$X" --claims lemma5 > "$T/z.out" 2> "$T/err"
if grep -Eq '^lemma5 .*n/a .*not measured on this network: the bound is not a number here' "$T/z.out"; then
    ok "a NaN bound (Lemma 5, all-zero weights): n/a with the reason"
else
    bad "a NaN bound: $(cat "$T/z.out" "$T/err" | head -c 400)"
fi

# networks outside the paper's settings: two pooling layers (LeNet's
# conv-ReLU-pool twice), a ReLU after a pooling (PyTorch's classic
# relu(max_pool2d(conv(x)))): audited, the claims about every matricized
# network measured (lemma1, lemma2), every claim tied to a setting n/a with
# the reason
# stv FILE HEADER NBYTES: st with the weights 0.1, -0.05, 0.2 repeated (not a degenerate zero network)
stv() {
    { le64 ${#2}; printf '%s' "$2"; i=0
      while [ $i -le $(($3 / 24)) ]; do
          printf '\232\231\231\231\231\231\271\077\232\231\231\231\231\231\251\277\232\231\231\231\231\231\311\077'
          i=$((i + 1))
      done | head -c "$3"; } > "$1"
}
outside() { # name model.json weights.safetensors reason
    audited "$1" "$2" "$3" '^lemma1 .* holds( |$)' '^lemma2 .* (holds|VIOLATED|undecided)( |$)' \
        "^lemma3 .*n/a .*outside the paper's settings \\($4\\)" \
        "^lemma5 .*n/a .*outside the paper's settings \\($4\\)" \
        "^theorem2 .*n/a .*outside the paper's settings \\($4\\)"
}
printf '%s' "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"maxpool2d\",
\"kernel\":2},{\"type\":\"avgpool2d\",\"kernel\":1},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}" \
    > "$T/pool2.json"
stv "$T/pool2.safetensors" '{"0.weight":{"dtype":"F64","shape":[2,1,3,3],"data_offsets":[0,144]},
"4.weight":{"dtype":"F64","shape":[4,18],"data_offsets":[144,720]}}' 720
outside "two poolings" "$T/pool2.json" "$T/pool2.safetensors" "more than one pooling layer"
if grep -q '^appE.M_norm .*n/a .*needs one max pooling layer' "$T/stdout"; then
    ok "two poolings: the one-pooling-layer claim of Appendix E n/a"
else
    bad "two poolings: appE.M_norm: $(grep '^appE.M_norm' "$T/stdout")"
fi
printf '%s' "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"relu\"},
{\"type\":\"maxpool2d\",\"kernel\":2},{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":2},{\"type\":\"relu\"},
{\"type\":\"maxpool2d\",\"kernel\":2},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}" > "$T/lenet.json"
stv "$T/lenet.safetensors" '{"0.weight":{"dtype":"F64","shape":[2,1,3,3],"data_offsets":[0,144]},
"3.weight":{"dtype":"F64","shape":[2,2,2,2],"data_offsets":[144,272]},
"7.weight":{"dtype":"F64","shape":[4,2],"data_offsets":[272,336]}}' 336
outside "LeNet's order (conv, ReLU, pool twice)" "$T/lenet.json" "$T/lenet.safetensors" "more than one pooling layer"
printf '%s' "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"maxpool2d\",
\"kernel\":2},{\"type\":\"relu\"},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}" > "$T/poolrelu.json"
outside "a ReLU after the pooling" "$T/poolrelu.json" "$T/pool2.safetensors" "a layer order the paper does not treat"
if grep -Eq '^appE.M_norm .* holds( |$)' "$T/stdout"; then
    ok "a ReLU after the pooling: the pooling layer's own claim (Appendix E) still measured"
else
    bad "a ReLU after the pooling: appE.M_norm: $(grep '^appE.M_norm' "$T/stdout")"
fi
head -c 5 "$W" > "$T/trunc.safetensors"
fails "truncated weights" 1 "$T/trunc.safetensors: header length" --model "$M" --weights "$T/trunc.safetensors" \
    --sample "$X"
# declared shapes whose product overflows size_t (each dimension under the
# per-dimension limit): the model file is named
printf '%s' '{"format":"hessnorm-model/1","input":[2147483648,2147483648,2147483648],"classes":4,"loss":"cross_entropy",
"layers":[{"type":"conv2d","out_channels":2,"kernel":3},{"type":"flatten"},{"type":"linear","out_features":4}]}' \
    > "$T/ovfshape.json"
ROW=1 fails "declared shapes overflow" 1 "hessnorm: $T/ovfshape.json: input: size overflows size_t" --model "$T/ovfshape.json" \
    --weights "$W" --sample "$X"
# results that overflow on finite input (HN_EOVERFLOW) name the input with
# the largest magnitude, not model.json: every pixel 1e300 (a non-finite
# H_O), 1e160 (gradient), every weight 1e300
f64() { i=0; while [ $i -lt "$2" ]; do printf "$1"; i=$((i + 1)); done; }
E300='\234\165\000\210\074\344\067\176'; E160='\303\374\157\045\324\302\046\141'
XH='{"x":{"dtype":"F64","shape":[1,8,8],"data_offsets":[0,512]},"y":{"dtype":"I64","shape":[],"data_offsets":[512,520]}}'
for e in 300 160; do
    eval "v=\$E$e"
    { le64 ${#XH}; printf '%s' "$XH"; f64 "$v" 64; printf '\001\000\000\000\000\000\000\000'; } > "$T/x1e$e.safetensors"
    ROW=1 fails "sample of 1e$e (overflow)" 1 "hessnorm: $T/x1e$e.safetensors: tensor \"x\": magnitude up to 1e+$e: " \
        --model "$M" --weights "$W" --sample "$T/x1e$e.safetensors"
done
WH='{"0.weight":{"dtype":"F64","shape":[2,1,3,3],"data_offsets":[0,144]},"3.weight":{"dtype":"F64","shape":[3,2,2,2],"data_offsets":[144,336]},"6.weight":{"dtype":"F64","shape":[4,12],"data_offsets":[336,720]}}'
{ le64 ${#WH}; printf '%s' "$WH"; f64 "$E300" 90; } > "$T/w1e300.safetensors"
ROW=1 fails "weights of 1e300 (overflow)" 1 "hessnorm: $T/w1e300.safetensors: tensor \"0.weight\": magnitude up to 1e+300: " \
    --model "$M" --weights "$T/w1e300.safetensors" --sample "$X"

# ---------------------------------------------------------------- a quantity that was not measured
# fixtures/paper10 (the paper's architecture at 10x10, P = 1,662): its block-
# diagonal Q is over the dense limit, so ||Q|| is not measured and the two
# claims that read it are n/a with that reason, never a verdict on a 0.
P10="$S/fixtures/paper10"
if "$HN" audit --model "$P10/model.json" --weights "$P10/weights.safetensors" \
        --sample "$P10/sample.safetensors" --json > "$T/p10.json" 2> "$T/err"; then
    for id in appB.submult appB.Q_blockdiag; do
        set -- $(claim "$T/p10.json" "$id")
        if [ "${1:-}" = n/a ] && grep -q '"detail": "||Q|| not measured' "$T/p10.json"; then
            ok "paper10: $id n/a (||Q|| not measured), not VIOLATED"
        else
            bad "paper10: $id is '${1:-}'"
        fi
    done
else
    bad "paper10: $(tail -n 1 "$T/err")"
fi

# ---------------------------------------------------------------- two routes, and real size
# paper10 on both routes: every claim applicable on both has the same measured
# side and bound to 1e-8 relative (matrix-free Lanczos at rtol 1e-10: the
# eigenvalue error is far below that; the K x K forms agree to rounding)
"$HN" audit --model "$P10/model.json" --weights "$P10/weights.safetensors" --sample "$P10/sample.safetensors" \
    --json --matrix-free > "$T/p10mf.json" 2> "$T/err" || bad "paper10 --matrix-free: $(cat "$T/err")"
grep -q '"route": "matrix-free"' "$T/p10mf.json" && grep -q '"route": "dense"' "$T/p10.json" &&
    ok "paper10: route dense by default, matrix-free when forced" || bad "paper10: routes not reported"
nsame=0; ndiff=0
for id in $(awk -F'"' '/^      "id": /{print $4}' "$T/p10.json"); do
    set -- $(claim "$T/p10.json" "$id"); a_st=${1:-}; a_me=${2:-}; a_bo=${3:-}
    set -- $(claim "$T/p10mf.json" "$id"); b_st=${1:-}; b_me=${2:-}; b_bo=${3:-}
    [ "$a_st" = n/a ] || [ "$b_st" = n/a ] || [ "$a_me" = null ] || [ -z "$a_me" ] && continue
    if awk -v a="$a_me" -v b="$b_me" -v c="$a_bo" -v d="$b_bo" 'function rd(x, y) { return (x > y ? x - y : y - x) / (x > 0 ? x : -x) }
        BEGIN { exit !(rd(a, b) <= 1e-8 && rd(c, d) <= 1e-8) }'; then nsame=$((nsame + 1)); else ndiff=$((ndiff + 1)); echo "  $id: $a_me $a_bo vs $b_me $b_bo"; fi
done
[ $ndiff -eq 0 ] && [ $nsame -ge 15 ] && ok "paper10: $nsame claims equal on the dense and matrix-free routes" ||
    bad "paper10: $ndiff claims differ between the routes ($nsame equal)"
# the paper's architecture at 28x28 (P = 29,742, two samples): past the dense
# limit, matrix-free by default, in seconds
P28="$S/fixtures/paper28"
if "$HN" audit --model "$P28/model.json" --weights "$P28/weights.safetensors" --sample "$P28/sample.safetensors" \
        --json > "$T/p28.json" 2> "$T/err"; then
    set -- $(claim "$T/p28.json" lemma2); l2=${1:-}
    set -- $(claim "$T/p28.json" appG.T_fc); tfc=${1:-}
    set -- $(claim "$T/p28.json" appB.submult); sm=${1:-}
    if grep -q '"route": "matrix-free"' "$T/p28.json" && [ "$l2" = holds ] && [ "$tfc" = VIOLATED ] && [ "$sm" = n/a ] &&
            grep -q '"measured_upper"' "$T/p28.json"; then
        ok "paper28 (P = 29,742): matrix-free, lemma2 holds, appG.T_fc VIOLATED, appB.submult n/a, brackets printed"
    else
        bad "paper28: route/status wrong (lemma2 $l2, appG.T_fc $tfc, appB.submult $sm)"
    fi
else
    bad "paper28: $(tail -n 1 "$T/err")"
fi
# samples run in parallel, each by one thread: the same bytes on 1 and 2
# threads (six samples: fixtures/paper28/gen_sample6.py)
for t in 1 2; do
    "$HN" audit --model "$P28/model.json" --weights "$P28/weights.safetensors" --sample "$P28/sample6.safetensors" \
        --json --threads $t > "$T/p28t$t.json" 2> "$T/err" || bad "paper28 --threads $t: $(tail -n 1 "$T/err")"
done
cmp -s "$T/p28t1.json" "$T/p28t2.json" && grep -q '"samples": 6' "$T/p28t1.json" &&
    ok "paper28, 6 samples: the same bytes on 1 and 2 threads" || bad "paper28: 1 and 2 threads differ"
fails "paper28 --dense" 1 "hessnorm: $P28/model.json: dense route: Q would be a 14017536x324 matrix" \
    --model "$P28/model.json" --weights "$P28/weights.safetensors" --sample "$P28/sample.safetensors" --dense

# ---------------------------------------------------------------- the full audit is unchanged
if "$HN" audit --random 1 --adversarial 0 --nm-iterations 0 --no-figures --claims lemma2 --out "$T/full" \
        > "$T/stdout" 2> "$T/err" && [ -s "$T/full/audit.json" ] && [ ! -s "$T/stdout" ]; then
    ok "full audit (--out --random --claims) still writes its report"
else
    bad "full audit: $(tail -n 1 "$T/err")"
fi

# the best network of an inequality (DIR/best/<id>/, saved when there is no
# counterexample) gives claim.json's ratio again through audit --model (the
# same facts code on the saved files: 1e-9)
if "$HN" audit --random 20 --adversarial 0 --nm-iterations 0 --no-figures --claims theorem2,lemma2.corrected \
        --out "$T/best" > /dev/null 2> "$T/err"; then
    for id in theorem2 lemma2.corrected; do
        Bd="$T/best/best/$id"
        want=$(awk -F': ' '/"ratio"/ { gsub(/,/, "", $2); print $2 }' "$Bd/claim.json")
        "$HN" audit --model "$Bd/model.json" --weights "$Bd/weights.safetensors" --sample "$Bd/sample.safetensors" \
            --claims "$id" --json > "$T/b.json" 2> "$T/err"
        got=$(awk -F': ' '/"ratio"/ { gsub(/,/, "", $2); print $2; exit }' "$T/b.json")
        if awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-9 * a) }'; then
            ok "best/$id: audit --model reproduces ratio $got"
        else
            bad "best/$id: claim.json ratio '$want', audit --model '$got'"
        fi
    done
else
    bad "audit for best networks: $(tail -n 1 "$T/err")"
fi

check_rows || fail=$((fail + 1))
hn_test_end cli_audit_model
