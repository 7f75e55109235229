#!/bin/sh
# python/hessnorm/ with PyTorch: export -> hessnorm inspect gives PyTorch's
# float64 loss, gradient norm and top Hessian eigenvalue; every refusal is
# one line naming the module; load() of an experiment's model gives its
# logits.  Skipped (77) without a python3 that has numpy and torch.
B=${HN_BUILDDIR:-.}
S=${HN_SRCDIR:-.}
PY=""
for p in "${HN_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$p" ] && [ "$p" != : ] || continue
    if "$p" -c 'import numpy, torch' 2> /dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "python_torch: SKIP: no python3 with numpy and torch (HN_WITH_TORCH=1 ./bootstrap)"
    exit 77
fi
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONPATH="$S/python" \
    exec "$PY" "$S/tests/python/torch_check.py" "$B/hessnorm" "$S"
