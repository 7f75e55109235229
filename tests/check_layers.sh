#!/bin/sh
# Includes run one way only: a file of layer N may include headers of
# layers <= N (docs/dev.md, "Layers").  Reads every #include "..." of src/
# and include/; a public header's layer is given by the table below, an
# internal header's by its folder.  An unknown header fails too, so a new
# header must be placed in a layer here.
set -u
S=${HN_SRCDIR:-.}
if [ "${1:-}" != --inner ]; then
    # the check must be able to fail: plant an upward include in a copy
    T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
    cp -R "$S/src" "$S/include" "$T/"
    printf '#include "hessnorm/audit.h"\n' >> "$T/src/base/buf.c"
    if HN_SRCDIR=$T sh "$0" --inner > "$T/out" 2>&1; then
        echo "check_layers: FAIL: a planted upward include (base -> audit) was not found"; exit 1
    fi
    grep -q 'src/base/buf.c (base) includes "hessnorm/audit.h" (audit): upward' "$T/out" ||
        { echo "check_layers: FAIL: the planted include was not named"; cat "$T/out"; exit 1; }
    HN_SRCDIR=$S exec sh "$0" --inner
fi
rank() { # rank LAYER
    case $1 in
        base) echo 1;; formats) echo 2;; linalg) echo 3;; net) echo 4;; paper) echo 5;;
        audit) echo 6;; experiment) echo 7;; cli) echo 9;; umbrella) echo 8;; *) echo "";;
    esac
}
header_layer() { # header_layer NAME: the layer of an included "NAME"
    case $1 in
        config.h) echo base;;
        hessnorm.h) echo umbrella;;
        hessnorm/error.h|hessnorm/alloc.h|hessnorm/file.h|hessnorm/outdir.h|hessnorm/buf.h|hessnorm/progress.h|hessnorm/seed.h) echo base;;
        hessnorm/safetensors.h|hessnorm/npy.h|hessnorm/model.h|hessnorm/data.h|hessnorm/gnuplot.h) echo formats;;
        hessnorm/spectra.h|hessnorm/eigsmall.h|hessnorm/dense.h|hessnorm/lanczos.h|hessnorm/kron.h|hessnorm/convbound.h|hessnorm/blas.h) echo linalg;;
        hessnorm/layers.h|hessnorm/fastconv.h|hessnorm/train.h) echo net;;
        hessnorm/matrices.h|hessnorm/hessian.h|hessnorm/outer.h|hessnorm/inspect.h|hessnorm/matfree.h) echo paper;;
        hessnorm/audit.h) echo audit;;
        hessnorm/experiment.h) echo experiment;;
        */*) d=${1%%/*}; test -n "$(rank "$d")" && echo "$d" || echo "";;
        *) echo "";;
    esac
}
fail=0
n=0
for f in $(cd "$S" && find src include -name '*.[ch]' | sort); do
    case $f in
        src/*/*) own=${f#src/}; own=${own%%/*};;
        include/hessnorm.h) own=umbrella;;
        include/hessnorm/*) own=$(header_layer "${f#include/}");;
        *) echo "check_layers: $f: not inside a layer folder"; fail=1; continue;;
    esac
    orank=$(rank "$own")
    if [ -z "$orank" ]; then echo "check_layers: $f: no layer"; fail=1; continue; fi
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$S/$f"); do
        n=$((n + 1))
        case $f in src/*/*) d=$(dirname "$f"); test -f "$S/$d/$inc" && case $inc in */*) ;; *) inc="${d#src/}/$inc";; esac;; esac
        il=$(header_layer "$inc")
        if [ -z "$il" ]; then echo "check_layers: $f: #include \"$inc\": header in no layer"; fail=1; continue; fi
        irank=$(rank "$il")
        # audit and experiment are siblings: neither may include the other
        if [ "$irank" -gt "$orank" ] || { [ "$own" != "$il" ] && [ "$irank" = "$orank" ] && [ "$irank" = 6 ]; }; then
            echo "check_layers: $f ($own) includes \"$inc\" ($il): upward"
            fail=1
        fi
    done
done
[ $fail = 0 ] && echo "check_layers: $n includes, none upward"
exit $fail
