#!/bin/sh
# The Python package python/hessnorm/ with numpy only: its safetensors bytes
# equal the C writer's, the C reader reads what it writes, its reader
# refuses broken files with one line, python3 -m hessnorm (read,
# write-sample).  Skipped (77) without a python3 that has numpy.
B=${HN_BUILDDIR:-.}
S=${HN_SRCDIR:-.}
PY=""
for p in "${HN_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$p" ] && [ "$p" != : ] || continue
    if "$p" -c 'import numpy' 2> /dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "python_roundtrip: SKIP: no python3 with numpy (apt-get install python3-numpy)"
    exit 77
fi
PYTHONPATH="$S/python" exec "$PY" "$S/tests/python/roundtrip.py" "$B/hessnorm" "$S"
