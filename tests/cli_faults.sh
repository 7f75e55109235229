#!/bin/sh
# Faults at the command line (issue 6):
#  1. output failures of `inspect --dump DIR` and `audit --out DIR`: a path
#     under a regular file (fails for root too), a file-size limit (ulimit -f,
#     SIGXFSZ ignored so write() fails with EFBIG) and a full tmpfs (skipped
#     when mount is not permitted);
#  2. hostile inputs not already in cli_bad_input.sh (deep JSON, numbers out
#     of range, duplicate keys, zero sizes, control characters, safetensors
#     offsets out of order / out of range / with gaps, dtype-shape mismatch,
#     overflowing shapes, NaN/Inf and bad labels in samples, IDX and CIFAR-10
#     files through `experiment --data`);
#  3. an audit killed with SIGKILL at pseudo-random moments, then rerun.
# Every failure must be one line "hessnorm: ..." on stderr (the audit's
# progress lines come before it), exit status 1, and no partial file: no
# "*.tmp*" left by a failed write, and every file present byte-identical to
# the same file of a complete run.  A failed dump or audit may leave the
# directory and the complete files written before the failing one.
set -u
B=${HN_BUILDDIR:-.}
S=${HN_SRCDIR:-.}
HN="$B/hessnorm"
EX="$S/fixtures/example"
T=$(mktemp -d)
MNT=""
cleanup() {
    if [ -n "$MNT" ]; then umount "$MNT" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
skip=0

# printf, not echo: dash's echo would expand backslashes in the messages
ok() { printf 'ok   %s: %s\n' "$1" "$2"; pass=$((pass + 1)); }
bad() { printf 'FAIL %s: %s\n' "$1" "$2"; fail=$((fail + 1)); }
# okrow: ok, and the case is a row of the README's "Hostile input" table
. "$S/tests/readme_rows.sh"
okrow() { ok "$1" "$2"; row "$1" "$2"; }

# Every regular file under $1 must be identical to the same path under $2
# (when $2 is given) and no temporary file may remain.  Prints the reason.
tree_ok() {
    tmp=$(find "$1" -name '*.tmp*' 2>/dev/null | head -1)
    if [ -n "$tmp" ]; then echo "temporary file left: $tmp"; return 1; fi
    [ -z "${2:-}" ] && return 0
    for f in $(cd "$1" 2>/dev/null && find . -type f); do
        if ! cmp -s "$1/$f" "$2/$f"; then echo "$f differs from the complete run's"; return 1; fi
    done
    return 0
}

# expect_fail NAME WANT OUTDIR REFDIR: judge the run whose status is in $rc
# and whose output is in $T/stdout, $T/stderr
expect_fail() {
    name=$1; want=$2
    last=$(tail -n 1 "$T/stderr")
    nerr=$(grep -c '^hessnorm:' "$T/stderr")
    why=$(tree_ok "$3" "${4:-}")
    if [ "$rc" -ne 1 ] || [ "$nerr" -ne 1 ] || ! echo "$last" | grep -q '^hessnorm: ' \
       || ! echo "$last" | grep -q -- "$want" || [ -s "$T/stdout" ] || [ -n "$why" ]; then
        bad "$name" "rc=$rc, $nerr error lines, last: $last ${why:+; $why}"
    elif [ -n "${NOROW:-}" ]; then
        ok "$name" "$last"  # a message with figures of this machine: not a README row
    else
        okrow "$name" "$last"
    fi
}

# --budget 100000: outputs are compared byte for byte, and the default
# 110 s budget could cut a slow (sanitizer, loaded) run short, which
# changes them; the counts, not the clock, fix these runs
AUDIT="--random 3 --adversarial 1 --nm-iterations 2 --trained 3 --sweep-draws 1 --no-figures --budget 100000"

# ------------------------------------------------------------ complete runs
"$HN" inspect --example --dump "$T/ref_dump" > /dev/null || { echo "reference dump failed"; exit 1; }
t0=$(date +%s.%N)
"$HN" audit $AUDIT --seed 1 --out "$T/ref_audit" 2> /dev/null || { echo "reference audit failed"; exit 1; }
t_audit=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.2f", $2 - $1 }')
echo "reference audit: $t_audit s"
: > "$T/file"

# ------------------------------------------------------------ 1. output failures
"$HN" inspect --example --dump "$T/file/sub" > "$T/stdout" 2> "$T/stderr"; rc=$?
expect_fail "dump under a regular file" "Not a directory" "$T/file"
"$HN" inspect --example --write-example "$T/file/ex" > "$T/stdout" 2> "$T/stderr"; rc=$?
expect_fail "write-example under a regular file" "Not a directory" "$T/file"
"$HN" audit $AUDIT --out "$T/file/sub" > "$T/stdout" 2> "$T/stderr"; rc=$?
expect_fail "audit under a regular file" "Not a directory" "$T/file"
# a result on standard output that cannot be written (stdio reports it only
# at the final flush)
if [ -w /dev/full ]; then
    : > "$T/stdout"
    "$HN" inspect --example --json > /dev/full 2> "$T/stderr"; rc=$?
    expect_fail "inspect --json to a full device" "standard output: write error" "$T/file"
    "$HN" audit --model "$EX/model.json" --weights "$EX/weights.safetensors" \
        --sample "$EX/sample.safetensors" > /dev/full 2> "$T/stderr"; rc=$?
    expect_fail "audit --model to a full device" "standard output: write error" "$T/file"
else
    echo "skip /dev/full cases: no writable /dev/full"
    skip=$((skip + 2))
fi

# ulimit -f counts 512-byte blocks in dash (1024 in bash): both limits below
# pass the first files and stop a later, larger one (the dump's Q_1.npy is
# 650 KiB, the audit's audit.json ~48 KiB; counterexample files < 4 KiB)
( trap '' XFSZ; ulimit -f 200; exec "$HN" inspect --example --dump "$T/fsz_dump" ) \
    > "$T/stdout" 2> "$T/stderr"; rc=$?
expect_fail "dump past the file-size limit" "File too large" "$T/fsz_dump" "$T/ref_dump"
( trap '' XFSZ; ulimit -f 40; exec "$HN" audit $AUDIT --out "$T/fsz_audit" ) \
    > "$T/stdout" 2> "$T/stderr"; rc=$?
expect_fail "audit past the file-size limit" "File too large" "$T/fsz_audit" "$T/ref_audit"

mkdir "$T/mnt"
if mount -t tmpfs -o size=256k tmpfs "$T/mnt" 2> /dev/null; then
    MNT="$T/mnt"
    "$HN" inspect --example --dump "$MNT/dump" > "$T/stdout" 2> "$T/stderr"; rc=$?
    expect_fail "dump on a full disk (256 KiB tmpfs)" "No space left on device" "$MNT/dump" "$T/ref_dump"
    rm -rf "$MNT/dump"
    # the audit needs ~96 KiB of counterexamples, then 48 KiB of audit.json
    mount -o remount,size=128k "$MNT" 2> /dev/null
    "$HN" audit $AUDIT --out "$MNT/audit" > "$T/stdout" 2> "$T/stderr"; rc=$?
    expect_fail "audit on a full disk (128 KiB tmpfs)" "No space left on device" "$MNT/audit" "$T/ref_audit"
    umount "$MNT" && MNT=""
else
    echo "skip full-disk cases: mount -t tmpfs not permitted here"
    skip=$((skip + 2))
fi

# ------------------------------------------------------------ 2. hostile inputs
. "$S/tests/cli_lib.sh"
# cli_lib.sh's ok / bad print the name only: this script's, with the
# details (rc, the last line), again -- a failure in CI is read off them
ok() { printf 'ok   %s: %s\n' "$1" "$2"; pass=$((pass + 1)); }
bad() { printf 'FAIL %s: %s\n' "$1" "$2"; fail=$((fail + 1)); }
W="$EX/weights.safetensors"
X="$EX/sample.safetensors"
M="$EX/model.json"

# hostile NAME WANT MODEL WEIGHTS SAMPLE: inspect must refuse, one line, no dump
hostile() {
    rm -rf "$T/out"
    "$HN" inspect --model "$3" --weights "$4" --sample "$5" --dump "$T/out" \
        > "$T/stdout" 2> "$T/stderr"; rc=$?
    lines=$(wc -l < "$T/stderr")
    if [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$2" "$T/stderr" \
       || [ -e "$T/out" ] || [ -s "$T/stdout" ]; then
        bad "$1" "rc=$rc lines=$lines; stderr: $(cat "$T/stderr")"
    else
        okrow "$1" "$(cat "$T/stderr")"
    fi
}
model() { printf '%s' "$2" > "$T/$1"; }
HEAD='"format":"hessnorm-model/1","input":[1,8,8],"classes":4,"loss":"cross_entropy"'
TAIL='{"type":"conv2d","out_channels":2,"kernel":3},{"type":"flatten"},{"type":"linear","out_features":4}'

awk 'BEGIN { for (i = 0; i < 5000; i++) printf "["; for (i = 0; i < 5000; i++) printf "]" }' > "$T/deep.json"
hostile "JSON nested 5000 deep" "maximum parsing depth" "$T/deep.json" "$W" "$X"
model big.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":1e400,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "number 1e400" "real number overflow" "$T/big.json" "$W" "$X"
model u64.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":18446744073709551616,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "number 2^64" "too big integer" "$T/u64.json" "$W" "$X"
model u63.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":9223372036854775807,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "number 2^63-1" "out_channels" "$T/u63.json" "$W" "$X"
model real.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2.5,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "non-integer size" "out_channels" "$T/real.json" "$W" "$X"
model dup.json "{$HEAD,\"classes\":4,\"layers\":[$TAIL]}"
hostile "duplicate key" "duplicate object key" "$T/dup.json" "$W" "$X"
model dup2.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"out_channels\":2,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "duplicate key in a layer" "duplicate object key" "$T/dup2.json" "$W" "$X"
model zin.json '{"format":"hessnorm-model/1","input":[1,0,8],"classes":4,"loss":"cross_entropy","layers":[{"type":"conv2d","out_channels":2,"kernel":3},{"type":"flatten"},{"type":"linear","out_features":4}]}'
hostile "zero input size" "input\[1\]" "$T/zin.json" "$W" "$X"
model zk.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":0},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "zero kernel" "kernel" "$T/zk.json" "$W" "$X"
model zc.json '{"format":"hessnorm-model/1","input":[1,8,8],"classes":0,"loss":"cross_entropy","layers":[{"type":"conv2d","out_channels":2,"kernel":3},{"type":"flatten"},{"type":"linear","out_features":4}]}'
hostile "zero classes" "classes" "$T/zc.json" "$W" "$X"
model xkey.json "{$HEAD,\"bias\":true,\"layers\":[$TAIL]}"
hostile "unknown top-level key" "bias: unknown field" "$T/xkey.json" "$W" "$X"
model xlkey.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3,\"padding\":1},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "unknown layer key" "layers\\[0\\].padding" "$T/xlkey.json" "$W" "$X"
# the JSON escape \n decodes to a newline inside the quoted name
model nl.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\\n\",\"out_channels\":2,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
hostile "control character in a name (fuzz find)" "layers\[0\].type" "$T/nl.json" "$W" "$X"
printf '\357\273\277' > "$T/empty.json"
hostile "empty model file (BOM only)" "invalid JSON" "$T/empty.json" "$W" "$X"

H0='"0.weight":{"dtype":"F64","shape":[2,1,3,3],"data_offsets":[0,144]}'
H3='"3.weight":{"dtype":"F64","shape":[3,2,2,2],"data_offsets":[144,336]}'
H6='"6.weight":{"dtype":"F64","shape":[4,12],"data_offsets":[336,720]}'
st "$T/order.st" "{$H0,$H3,\"6.weight\":{\"dtype\":\"F64\",\"shape\":[4,12],\"data_offsets\":[720,336]}}" 720
hostile "data_offsets out of order (begin > end)" "begin 720 > end 336" "$M" "$T/order.st" "$X"
st "$T/range.st" "{$H0,$H3,$H6}" 700
hostile "data_offsets past the buffer" "past the end of the data buffer" "$M" "$T/range.st" "$X"
st "$T/gap.st" "{$H0,\"3.weight\":{\"dtype\":\"F64\",\"shape\":[3,2,2,2],\"data_offsets\":[152,344]},\"6.weight\":{\"dtype\":\"F64\",\"shape\":[4,12],\"data_offsets\":[344,728]}}" 728
hostile "data_offsets with a gap" "leaves a gap" "$M" "$T/gap.st" "$X"
st "$T/mism.st" "{$H0,$H3,\"6.weight\":{\"dtype\":\"F64\",\"shape\":[4,12],\"data_offsets\":[336,344]}}" 344
hostile "dtype/shape vs byte count" "holds 8 bytes" "$M" "$T/mism.st" "$X"
st "$T/ovf.st" "{$H0,$H3,$H6,\"x\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[720,720]}}" 720
hostile "shape product overflows size_t" "overflows size_t" "$M" "$T/ovf.st" "$X"
st "$T/negshape.st" "{$H0,$H3,\"6.weight\":{\"dtype\":\"F64\",\"shape\":[4,-12],\"data_offsets\":[336,720]}}" 720
hostile "negative dimension" "shape\[1\]" "$M" "$T/negshape.st" "$X"
st "$T/zshape.st" "{$H0,$H3,\"6.weight\":{\"dtype\":\"F64\",\"shape\":[4,0],\"data_offsets\":[336,336]}}" 336
hostile "zero dimension" "shape \[4, 0\]" "$M" "$T/zshape.st" "$X"
HJ='{"0.weight":'
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "[" }' > "$T/deephdr"
{ le64 $(( ${#HJ} + 3000 )); printf '%s' "$HJ"; cat "$T/deephdr"; } > "$T/deephdr.st"
hostile "safetensors header nested 3000 deep" "deephdr.st" "$M" "$T/deephdr.st" "$X"
XH='"x":{"dtype":"F64","shape":[1,8,8],"data_offsets":[0,512]}'
YH='"y":{"dtype":"I64","shape":[],"data_offsets":[512,520]}'
{ le64 $(( ${#XH} + ${#YH} + 3 )); printf '{%s,%s}' "$XH" "$YH"; head -c 80 /dev/zero;
  printf '\000\000\000\000\000\000\370\177'; head -c 432 /dev/zero; } > "$T/xnan.st"
hostile "NaN in the input" "\"x\": element 10" "$M" "$W" "$T/xnan.st"
{ le64 $(( ${#XH} + ${#YH} + 3 )); printf '{%s,%s}' "$XH" "$YH"; head -c 504 /dev/zero;
  printf '\000\000\000\000\000\000\360\377'; head -c 8 /dev/zero; } > "$T/xinf.st"
hostile "-Inf in the input" "\"x\": element 63" "$M" "$W" "$T/xinf.st"
{ le64 $(( ${#XH} + ${#YH} + 3 )); printf '{%s,%s}' "$XH" "$YH"; head -c 512 /dev/zero;
  printf '\377\377\377\377\377\377\377\377'; } > "$T/yneg.st"
hostile "label -1" "\"y\"" "$M" "$W" "$T/yneg.st"

# datasets, through `experiment --data DIR` (loaded before any output)
# data NAME WANT DATASET DIR
data() {
    rm -rf "$T/xout"
    "$HN" experiment --dataset "$3" --sweep layers --preset tiny --data "$4" --out "$T/xout" \
        > "$T/stdout" 2> "$T/stderr"; rc=$?
    lines=$(wc -l < "$T/stderr")
    if [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$2" "$T/stderr" || [ -e "$T/xout" ]; then
        bad "$1" "rc=$rc lines=$lines; stderr: $(cat "$T/stderr")"
    else
        okrow "$1" "$(cat "$T/stderr")"
    fi
}
IDX="$S/fixtures/data/idx"
newidx() { rm -rf "$T/idx"; mkdir "$T/idx"; cp "$IDX/train-images-idx3-ubyte" "$IDX/train-labels-idx1-ubyte" \
    "$IDX/t10k-images-idx3-ubyte.gz" "$IDX/t10k-labels-idx1-ubyte.gz" "$T/idx/"; chmod u+w "$T/idx/"*; }
newidx; printf '\000\000\010\002' | dd of="$T/idx/train-images-idx3-ubyte" bs=1 conv=notrunc 2> /dev/null
data "IDX wrong magic" "magic is 0x00000802" mnist "$T/idx"
newidx; printf '\000\000\000\010' | dd of="$T/idx/train-labels-idx1-ubyte" bs=1 seek=4 conv=notrunc 2> /dev/null
data "IDX image/label count mismatch" "count is 8" mnist "$T/idx"
newidx; printf '\377\377\377\377\377\377\377\377\377\377\377\377' | dd of="$T/idx/train-images-idx3-ubyte" bs=1 seek=4 conv=notrunc 2> /dev/null
data "IDX dims overflow" "overflow" mnist "$T/idx"
newidx; head -c 1000 "$IDX/train-images-idx3-ubyte" > "$T/idx/train-images-idx3-ubyte"
data "IDX truncated" "truncated" mnist "$T/idx"
newidx; printf '\000\000\000\000' | dd of="$T/idx/train-images-idx3-ubyte" bs=1 seek=4 conv=notrunc 2> /dev/null
data "IDX zero images" "train-images" mnist "$T/idx"
CF="$S/fixtures/data/cifar"
newcifar() { rm -rf "$T/cifar"; mkdir "$T/cifar"; for i in 1 2 3 4 5; do cp "$CF/data_batch_1.bin" "$T/cifar/data_batch_$i.bin"; done
    cp "$CF/test_batch.bin" "$T/cifar/"; chmod u+w "$T/cifar/"*; }
newcifar; head -c 5000 "$CF/data_batch_1.bin" > "$T/cifar/data_batch_3.bin"
data "CIFAR-10 truncated record" "not a multiple of the 3073-byte record" cifar10 "$T/cifar"
newcifar; printf '\012' | dd of="$T/cifar/data_batch_2.bin" bs=1 seek=3073 conv=notrunc 2> /dev/null
data "CIFAR-10 label 10" "label 10 is outside 0..9" cifar10 "$T/cifar"
newcifar; : > "$T/cifar/data_batch_5.bin"
data "CIFAR-10 empty batch" "empty file" cifar10 "$T/cifar"
# the MNIST digits sheet, through `experiment --dataset mnist --data FILE.png`
DG="$S/fixtures/data/digits"
cp "$DG/small-8x8.png" "$T/small.png"
data "PNG of the wrong size (8x8)" "expected width 2000 and height 1000" mnist "$T/small.png"
printf 'P5 2000 1000 255\n' > "$T/sheet.png"
data "PNG: not a PNG (a PGM)" "not a PNG" mnist "$T/sheet.png"
head -c 5000 "$DG/digits.png" > "$T/cut.png"
data "PNG truncated inside IDAT" "truncated PNG" mnist "$T/cut.png"

# ------------------------------------------------------------ 4. round 2 (issue 13)
# gzip members, data files that are directories or symlink loops, images
# too small for the sweep (checked before anything is trained or written)
newidx; { cat "$IDX/t10k-images-idx3-ubyte.gz"; printf 'garbage'; } > "$T/idx/t10k-images-idx3-ubyte.gz"
data "IDX gzip with trailing garbage" "trailing garbage after the gzip stream" mnist "$T/idx"
newidx; cat "$IDX/t10k-labels-idx1-ubyte.gz" "$IDX/t10k-labels-idx1-ubyte.gz" > "$T/idx/t10k-labels-idx1-ubyte.gz"
data "IDX gzip with a second member" "a second gzip member" mnist "$T/idx"
newidx; rm "$T/idx/train-images-idx3-ubyte"; mkdir "$T/idx/train-images-idx3-ubyte"
data "IDX images file is a directory" "Is a directory" mnist "$T/idx"
newidx; rm "$T/idx/train-labels-idx1-ubyte"; ln -s loop "$T/idx/train-labels-idx1-ubyte"; ln -s train-labels-idx1-ubyte "$T/idx/loop"
data "IDX labels file is a symlink loop" "Too many levels of symbolic links" mnist "$T/idx"
# valid IDX files of 8 images of 5x5
rm -rf "$T/idx"; mkdir "$T/idx"
for sp in train t10k; do
    { printf '\000\000\010\003\000\000\000\010\000\000\000\005\000\000\000\005'; head -c 200 /dev/zero; } > "$T/idx/$sp-images-idx3-ubyte"
    { printf '\000\000\010\001\000\000\000\010'; printf '\000\001\002\003\004\005\006\007'; } > "$T/idx/$sp-labels-idx1-ubyte"
done
data "IDX images 5x5, too small for the sweep" "needs at least 7x7" mnist "$T/idx"
# (--mem-limit 0x10, a value not of the option's syntax, is a usage error:
# tests/cli_habits.sh)

# a FIFO fed without end as --weights: read up to the cap, refused
mkfifo "$T/fifo"
( cat /dev/zero > "$T/fifo" 2> /dev/null & )
rm -rf "$T/out"
timeout 60 "$HN" inspect --model "$M" --weights "$T/fifo" --sample "$X" > "$T/stdout" 2> "$T/stderr"; rc=$?
expect_fail "weights from an endless FIFO" "read limit for pipes and devices" "$T/out"

# a path of ~600 characters: shortened in the middle, the reason kept
long="$T/$(awk 'BEGIN { for (i = 0; i < 60; i++) printf "directory%d/", i }')"
"$HN" inspect --model "${long}model.json" --weights "$W" --sample "$X" > "$T/stdout" 2> "$T/stderr"; rc=$?
last=$(tail -n 1 "$T/stderr")
if [ $rc -eq 1 ] && echo "$last" | grep -q '\.\.\..*/model.json: cannot open: No such file or directory$'; then
    ok "path of ${#long} characters" "$last"
else bad "path of ${#long} characters" "rc=$rc: $last"; fi

# An AddressSanitizer build reserves terabytes of shadow address space at
# startup, so any ulimit -v kills it before main: the memory-limit cases
# run on normal builds only (they are in the README's test command).
asan=0
for f in "$B/.libs/hessnorm" "$B/.libs/libhessnorm.so"; do
    [ -e "$f" ] && ldd "$f" 2> /dev/null | grep -q libasan && asan=1
done
if [ $asan -eq 1 ]; then
    echo "skip memory-limit cases: AddressSanitizer build"
else
# memory limits: a clean refusal or a result, never a hang or a signal
# (OpenBLAS's buffers are mapped at startup or refused; the estimate of
# inspect's dense matrices is checked before the work)
for kb in 100000 200000 300000 400000 800000; do
    ( ulimit -v $kb; exec timeout 120 "$HN" inspect --example ) > "$T/stdout" 2> "$T/stderr"; rc=$?
    n=$(wc -l < "$T/stderr")
    if [ $rc -eq 0 ] && [ -s "$T/stdout" ] && [ "$n" -eq 0 ] || { [ $rc -eq 1 ] && [ "$n" -eq 1 ] && [ ! -s "$T/stdout" ] && grep -q '^hessnorm: ' "$T/stderr"; }; then
        ok "inspect --example under ulimit -v $kb" "rc=$rc $(cat "$T/stderr")"
    else bad "inspect --example under ulimit -v $kb" "rc=$rc, $n lines: $(head -c 300 "$T/stderr")"; fi
done
for kb in 200000 300000 400000 800000; do
    rm -rf "$T/xout"
    ( ulimit -v $kb; exec timeout 300 "$HN" experiment --dataset mnist --sweep layers --preset tiny \
        --data "$IDX" --out "$T/xout" --no-figures ) > "$T/stdout" 2> "$T/stderr"; rc=$?
    last=$(tail -n 1 "$T/stderr")
    if [ $rc -eq 0 ] || { [ $rc -eq 1 ] && echo "$last" | grep -q '^hessnorm: ' && [ "$(grep -c '^hessnorm: ' "$T/stderr")" -eq 1 ] && [ -z "$(tree_ok "$T/xout")" ]; }; then
        ok "experiment --preset tiny under ulimit -v $kb" "rc=$rc $last"
    else bad "experiment --preset tiny under ulimit -v $kb" "rc=$rc: $last"; fi
done
# a model whose dense Hessians (P = 4800: 6 x 176 MiB) do not fit under
# 600 MB of address space: refused before the work, naming file and count
model m40.json '{"format":"hessnorm-model/1","input":[1600],"classes":3,"loss":"cross_entropy","layers":[{"type":"linear","out_features":3}]}'
st "$T/w40.st" '{"0.weight":{"dtype":"F64","shape":[3,1600],"data_offsets":[0,38400]}}' 38400
st "$T/x40.st" '{"x":{"dtype":"F64","shape":[1600],"data_offsets":[0,12800]},"y":{"dtype":"I64","shape":[],"data_offsets":[12800,12808]}}' 12808
rm -rf "$T/out"
( ulimit -v 600000; exec timeout 120 "$HN" inspect --model "$T/m40.json" --weights "$T/w40.st" --sample "$T/x40.st" --threads 1 --dump "$T/out" ) \
    > "$T/stdout" 2> "$T/stderr"; rc=$?
NOROW=1 expect_fail "inspect of 4800 parameters under ulimit -v 600000" "x40.st: 1 sample x 3 classes: the 4800x4800 Hessians" "$T/out"
# the matrix-free route's estimate (fixtures/paper28, P = 29,742, with 4,000
# samples: their stored passes alone are ~1.4 GB) is checked before the work
P28="$S/fixtures/paper28"
st "$T/x4000.st" '{"x":{"dtype":"F64","shape":[4000,1,28,28],"data_offsets":[0,25088000]},"y":{"dtype":"I64","shape":[4000],"data_offsets":[25088000,25120000]}}' 25120000
( ulimit -v 800000; exec timeout 120 "$HN" inspect --model "$P28/model.json" --weights "$P28/weights.safetensors" \
    --sample "$T/x4000.st" --matrix-free --threads 1 ) > "$T/stdout" 2> "$T/stderr"; rc=$?
NOROW=1 expect_fail "inspect --matrix-free of 4000 samples x 29742 parameters under ulimit -v 800000" \
    "x4000.st: matrix-free, 4000 samples x 29742 parameters need .* raise the limit or inspect fewer samples at once" "$T/out"
# audit --model on fixtures/paper10 (P = 1,662, dense by default: the
# paper's matrices and H_O, ~480 MiB estimated): under 700 MB of address
# space the automatic route is matrix-free, said in one line naming the
# sample file, and gives the same result as --matrix-free; --dense is
# refused before the work, naming the flag; at every limit a clean refusal
# or a result (the dense run takes ~4 s: 120 s is a hang)
P10="$S/fixtures/paper10"
a10() { ( ulimit -v "$1"; shift; exec timeout 120 "$HN" audit --model "$P10/model.json" --weights "$P10/weights.safetensors" \
    --sample "$P10/sample.safetensors" "$@" ) > "$T/stdout" 2> "$T/stderr"; }
a10 700000; rc=$?
cp "$T/stdout" "$T/auto.out"
if [ $rc -eq 0 ] && [ "$(wc -l < "$T/stderr")" -eq 1 ] &&
    grep -q "^hessnorm audit: route matrix-free: .*paper10/sample.safetensors: 1 sample x 10 classes: the 1662x1662 Hessians.*; so the automatic route is the matrix-free one" "$T/stderr"; then
    ok "audit --model paper10 under ulimit -v 700000" "$(cat "$T/stderr")"
else bad "audit --model paper10 under ulimit -v 700000" "rc=$rc: $(head -c 300 "$T/stderr")"; fi
a10 700000 --matrix-free; rc=$?
if [ $rc -eq 0 ] && grep -q '^route   matrix-free' "$T/stdout" && cmp -s "$T/stdout" "$T/auto.out"; then
    ok "audit --model paper10 --matrix-free under ulimit -v 700000" "rc=0, the automatic route's output"
else bad "audit --model paper10 --matrix-free under ulimit -v 700000" "rc=$rc: $(tail -n 1 "$T/stderr")"; fi
a10 700000 --dense; rc=$?
NOROW=1 expect_fail "audit --model paper10 --dense under ulimit -v 700000" "raise the limit or drop --dense" "$T/none"
for kb in 300000 500000 800000 1000000 1500000; do
    a10 $kb; rc=$?
    n=$(wc -l < "$T/stderr")
    if [ $rc -eq 0 ] && [ -s "$T/stdout" ] && { [ "$n" -eq 0 ] || { [ "$n" -eq 1 ] && grep -q '^hessnorm audit: route matrix-free: ' "$T/stderr"; }; } || { [ $rc -eq 1 ] && [ "$n" -eq 1 ] && [ ! -s "$T/stdout" ] && grep -q '^hessnorm: ' "$T/stderr"; }; then
        ok "audit --model paper10 under ulimit -v $kb" "rc=$rc $(cat "$T/stderr")"
    else bad "audit --model paper10 under ulimit -v $kb" "rc=$rc, $n lines: $(head -c 300 "$T/stderr")"; fi
done
fi

# ------------------------------------------------------------ 3. killed audits
# SIGKILL at moments drawn from a seeded awk rand() over (0, 1.1 x the
# reference duration); HN_KILL_SEED picks another sequence.  Between kills
# the directory keeps what the killed run left; after the kills a full run
# must give files byte-identical to the reference.  A kill can leave at most
# one NAME.tmp.XXXXXX (the file being written; mkstemp's name, never the
# final one): counted and reported; the rerun's write of NAME removes it.
kseed=${HN_KILL_SEED:-6}
times=$(awk -v s="$kseed" -v t="$t_audit" 'BEGIN { srand(s); for (i = 0; i < 3; i++) printf "%.2f ", 1.1 * t * rand() }')
echo "kill times (seed $kseed): $times"
kill_once() {
    "$HN" audit $AUDIT --seed "$2" --out "$1" > /dev/null 2>&1 &
    pid=$!
    sleep "$3"
    kill -KILL $pid 2> /dev/null
    wait $pid 2> /dev/null
}
# only files that are complete copies of $2 or $3 (or absent); temporaries counted
after_kill() {
    for f in $(cd "$1" && find . -type f ! -name '*.tmp*'); do
        cmp -s "$1/$f" "$2/$f" || cmp -s "$1/$f" "${3:-/nonexistent}/$f" || { echo "$f is partial"; return 1; }
    done
    return 0
}
n=0
for t in $times; do
    n=$((n + 1))
    kill_once "$T/kill" 1 "$t"
    why=$(after_kill "$T/kill" "$T/ref_audit")
    if [ -n "$why" ]; then bad "audit killed at $t s (#$n)" "$why"; else
        ok "audit killed at $t s (#$n)" "$(cd "$T/kill" 2>/dev/null && find . -type f ! -name '*.tmp*' | wc -l) complete files, $(find "$T/kill" -name '*.tmp*' 2>/dev/null | wc -l) temporaries"; fi
done
# whatever the kills left, plant the temporaries a kill inside a write
# leaves (NAME.tmp.XXXXXX beside a report file and a counterexample file)
# and a file that only looks similar: the rerun replaces the whole folder
mkdir -p "$T/kill/counterexamples/lemma2"
echo partial > "$T/kill/report.md.tmp.Xy12Zw"
echo partial > "$T/kill/counterexamples/lemma2/model.json.tmp.ab34CD"
echo mine > "$T/kill/report.md.tmp.notes"
"$HN" audit $AUDIT --seed 1 --out "$T/kill" 2> /dev/null; rc=$?
tmpn=$(find "$T/kill" -name '*.tmp.??????' | wc -l)
miss=""
for f in $(cd "$T/ref_audit" && find . -type f); do cmp -s "$T/ref_audit/$f" "$T/kill/$f" || miss="$miss $f"; done
# the folder holds exactly the new run (include/hessnorm/outdir.h): the
# planted files inside it are gone with the previous output
extra=$(cd "$T/kill" && find . -type f | while read -r f; do [ -f "$T/ref_audit/$f" ] || echo "$f"; done)
if [ $rc -ne 0 ] || [ -n "$miss" ] || [ "$tmpn" -ne 0 ] || [ -n "$extra" ] || ls -d "$T"/kill.tmp.* > /dev/null 2>&1; then
    bad "rerun after the kills" "rc=$rc, differs:$miss; $tmpn temporaries left; extra files:$extra"
else ok "rerun after the kills" "every file byte-identical to the reference, nothing else in the folder, no temporary left"; fi
rm -f "$T/kill/report.md.tmp.notes"
# a directory holding a complete run of another seed: a kill late in the
# run leaves each file either the old complete one or the new complete one
"$HN" audit $AUDIT --seed 2 --out "$T/ref2" 2> /dev/null || bad "seed 2 audit" "failed"
cp -r "$T/ref2" "$T/kill2"
late=$(awk -v t="$t_audit" 'BEGIN { printf "%.2f", 0.97 * t }')
kill_once "$T/kill2" 1 "$late"
why=$(after_kill "$T/kill2" "$T/ref_audit" "$T/ref2")
if [ -n "$why" ]; then bad "audit over a previous run killed at $late s" "$why"; else
    ok "audit over a previous run killed at $late s" "each file the previous or the new complete one"; fi
"$HN" audit $AUDIT --seed 1 --out "$T/kill2" 2> /dev/null; rc=$?
miss=""
for f in $(cd "$T/ref_audit" && find . -type f); do cmp -s "$T/ref_audit/$f" "$T/kill2/$f" || miss="$miss $f"; done
if [ $rc -ne 0 ] || [ -n "$miss" ]; then bad "rerun over the previous run" "rc=$rc, differs:$miss"
else ok "rerun over the previous run" "every file of the new run byte-identical to the reference"; fi

check_rows || fail=$((fail + 1))
echo "cli_faults: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
