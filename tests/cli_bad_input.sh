#!/bin/sh
# Bad input to `hessnorm inspect`: each case must give exactly one line on
# stderr naming the file and the field, a non-zero exit, no crash and no
# output written.
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup
EX="$S/fixtures/example"
. "$S/tests/readme_rows.sh"

# check NAME EXPECT-IN-MESSAGE MODEL WEIGHTS SAMPLE
check() {
    name=$1; want=$2
    rm -rf "$T/out"
    "$HN" inspect --model "$3" --weights "$4" --sample "$5" --dump "$T/out" \
        > "$T/stdout" 2> "$T/stderr"
    rc=$?
    lines=$(wc -l < "$T/stderr")
    if [ $rc -ne 1 ] || [ "$lines" -ne 1 ] || ! grep -q -- "$want" "$T/stderr" \
       || [ -e "$T/out" ] || [ -s "$T/stdout" ]; then
        echo "FAIL $name: rc=$rc lines=$lines; stderr: $(cat "$T/stderr")"
        fail=$((fail + 1))
    else
        echo "ok   $name: $(cat "$T/stderr")"
        row "$name" "$(cat "$T/stderr")"
        pass=$((pass + 1))
    fi
}

W="$EX/weights.safetensors"
X="$EX/sample.safetensors"
M="$EX/model.json"
model() { printf '%s' "$2" > "$T/$1"; }
HEAD='"format":"hessnorm-model/1","input":[1,8,8],"classes":4,"loss":"cross_entropy"'

model bad1.json '{"format": "hessnorm-model/1", "input": [1,8,8'
check "malformed JSON" "bad1.json" "$T/bad1.json" "$W" "$X"
model bad2.json "{$HEAD,\"layers\":[{\"type\":\"conv3d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
check "unknown layer type" "layers\[0\]" "$T/bad2.json" "$W" "$X"
model bad3.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":[9,3]},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
check "kernel larger than input" "layers\[0\].kernel" "$T/bad3.json" "$W" "$X"
model bad4.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"linear\",\"out_features\":4}]}"
check "shapes do not chain" "layers\[1\]" "$T/bad4.json" "$W" "$X"
model bad5.json "{$HEAD,\"layers\":[{\"type\":\"relu\"},{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
check "first layer not linear" "layers\[0\]" "$T/bad5.json" "$W" "$X"
model bad6.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":5}]}"
check "last layer size != classes" "classes" "$T/bad6.json" "$W" "$X"
model bad7.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":2,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4},{\"type\":\"relu\"}]}"
check "last layer not linear" "layers\[3\]" "$T/bad7.json" "$W" "$X"
model bad8.json '{"format":"hessnorm-model/1","input":[4294967296,4294967296,4294967296],"classes":4,"loss":"cross_entropy","layers":[{"type":"conv2d","out_channels":2,"kernel":3},{"type":"flatten"},{"type":"linear","out_features":4}]}'
check "sizes overflow" "input" "$T/bad8.json" "$W" "$X"
model bad9.json "{$HEAD,\"layers\":[{\"type\":\"conv2d\",\"out_channels\":-2,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out_features\":4}]}"
check "negative size" "out_channels" "$T/bad9.json" "$W" "$X"

# safetensors
head -c 5 "$W" > "$T/trunc.safetensors"
check "truncated weights file" "trunc.safetensors" "$M" "$T/trunc.safetensors" "$X"
{ le64 1000000; printf '{}'; } > "$T/hdrlong.safetensors"
check "header length past end of file" "hdrlong.safetensors" "$M" "$T/hdrlong.safetensors" "$X"
printf '\377\377\377\377\377\377\377\377{}' > "$T/hdrhuge.safetensors"
check "absurd header length" "hdrhuge.safetensors" "$M" "$T/hdrhuge.safetensors" "$X"
H0='"0.weight":{"dtype":"F64","shape":[2,1,3,3],"data_offsets":[0,144]}'
H3='"3.weight":{"dtype":"F64","shape":[3,2,2,2],"data_offsets":[144,336]}'
H6='"6.weight":{"dtype":"F64","shape":[4,12],"data_offsets":[336,720]}'
st "$T/dtype.safetensors" "{\"0.weight\":{\"dtype\":\"I8\",\"shape\":[2,1,3,3],\"data_offsets\":[0,18]},$(echo "$H3" | sed 's/144,336/18,210/'),$(echo "$H6" | sed 's/336,720/210,594/')}" 594
check "wrong dtype" "0.weight" "$M" "$T/dtype.safetensors" "$X"
st "$T/missing.safetensors" "{$H0,$H3}" 336
check "missing tensor" "6.weight" "$M" "$T/missing.safetensors" "$X"
st "$T/bias.safetensors" "{$H0,$H3,$H6,\"6.bias\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[720,752]}}" 752
check "extra .bias tensor" "6.bias" "$M" "$T/bias.safetensors" "$X"
st "$T/shape.safetensors" "{$H0,$H3,\"6.weight\":{\"dtype\":\"F64\",\"shape\":[12,4],\"data_offsets\":[336,720]}}" 720
check "misshaped tensor" "6.weight" "$M" "$T/shape.safetensors" "$X"
st "$T/overlap.safetensors" "{$H0,$(echo "$H3" | sed 's/144,336/100,292/'),$H6}" 720
check "overlapping offsets" "overlap.safetensors" "$M" "$T/overlap.safetensors" "$X"
# NaN: F64 NaN is 00 00 00 00 00 00 f8 7f
{ le64 $(( ${#H0} + ${#H3} + ${#H6} + 4 )); printf '{%s,%s,%s}' "$H0" "$H3" "$H6";
  printf '\000\000\000\000\000\000\370\177'; head -c 712 /dev/zero; } > "$T/nan.safetensors"
check "NaN weight" "0.weight" "$M" "$T/nan.safetensors" "$X"
{ le64 $(( ${#H0} + ${#H3} + ${#H6} + 4 )); printf '{%s,%s,%s}' "$H0" "$H3" "$H6";
  head -c 712 /dev/zero; printf '\000\000\000\000\000\000\360\177'; } > "$T/inf.safetensors"
check "Inf weight" "6.weight" "$M" "$T/inf.safetensors" "$X"
# samples
XH='"x":{"dtype":"F64","shape":[1,8,8],"data_offsets":[0,512]}'
LH="{$XH,\"y\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[512,520]}}"
st "$T/label.safetensors" "$LH" 520
printf '\011' | dd of="$T/label.safetensors" bs=1 seek=$(( 8 + ${#LH} + 512 )) conv=notrunc 2>/dev/null
check "label out of range" "y" "$M" "$W" "$T/label.safetensors"
st "$T/xshape.safetensors" "{\"x\":{\"dtype\":\"F64\",\"shape\":[1,7,8],\"data_offsets\":[0,448]},\"y\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[448,456]}}" 456
check "sample of the wrong shape" "x" "$M" "$W" "$T/xshape.safetensors"
check "missing file" "nosuch.json" "$T/nosuch.json" "$W" "$X"
# issue 13: files that are not files, a NUL in a header, overflowing inputs
check "model is /dev/zero (endless device)" "read limit for pipes and devices" /dev/zero "$W" "$X"
check "weights are /dev/zero" "read limit for pipes and devices" "$M" /dev/zero "$X"
mkdir "$T/adir.json"
check "model is a directory" "Is a directory" "$T/adir.json" "$W" "$X"
ln -s "$T/loop2.json" "$T/loop1.json"; ln -s "$T/loop1.json" "$T/loop2.json"
check "model is a symlink loop" "Too many levels of symbolic links" "$T/loop1.json" "$W" "$X"
{ le64 $(( ${#H0} + ${#H3} + ${#H6} + 4 + 6 )); printf '{%s,%s,%s}' "$H0" "$H3" "$H6";
  head -c 6 /dev/zero; head -c 720 /dev/zero; } > "$T/nulpad.safetensors"
check "NUL-padded safetensors header" "NUL byte at file offset" "$M" "$T/nulpad.safetensors" "$X"
# F64 1e300 is 0x7e37e43c8800759c; every pixel of the sample
big() { i=0; while [ $i -lt "$1" ]; do printf '\234\165\000\210\074\344\067\176'; i=$((i + 1)); done; }
{ le64 ${#LH}; printf '%s' "$LH"; big 64;
  printf '\001\000\000\000\000\000\000\000'; } > "$T/x1e300.safetensors"
check "sample of 1e300 (overflow)" 'tensor "x": magnitude up to 1e+300' "$M" "$W" "$T/x1e300.safetensors"
{ le64 $(( ${#H0} + ${#H3} + ${#H6} + 4 )); printf '{%s,%s,%s}' "$H0" "$H3" "$H6";
  big 90; } > "$T/w1e300.safetensors"
check "weights of 1e300 (overflow)" 'w1e300.safetensors: tensor' "$M" "$T/w1e300.safetensors" "$X"

check_rows || fail=$((fail + 1))
hn_test_end cli_bad_input
