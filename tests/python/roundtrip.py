"""numpy-only checks of python/hessnorm/ against the C side (run by
tests/python_roundtrip.sh):  roundtrip.py HESSNORM SRCDIR"""
import glob
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

import hessnorm
from hessnorm import FormatError

HN, SRC = sys.argv[1], sys.argv[2]
T = tempfile.mkdtemp(prefix="hn-py-")
passed = failed = 0


def ok(name):
    global passed
    passed += 1
    print("ok   " + name)


def bad(name):
    global failed
    failed += 1
    print("FAIL " + name)


def check(cond, name):
    ok(name) if cond else bad(name)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def inspect_json(model, weights, sample):
    r = run([HN, "inspect", "--model", model, "--weights", weights, "--sample", sample,
             "--json", "--threads", "1"])
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), ""


def py_cli(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "python"))
    return run([sys.executable, "-m", "hessnorm"] + list(args), env=env)


def one_line_error(r, want, name):
    lines = r.stderr.strip("\n").split("\n") if r.stderr else []
    check(r.returncode == 1 and len(lines) == 1 and want in lines[0],
          "%s: rc=%d: %s" % (name, r.returncode, r.stderr.strip()))


# 1. the C writer's files: read with Python, written back byte for byte
ex = os.path.join(T, "ex")
r = run([HN, "inspect", "--example", "--write-example", ex])
check(r.returncode == 0, "hessnorm inspect --example --write-example")
for f in ("weights.safetensors", "sample.safetensors"):
    p = os.path.join(ex, f)
    t = hessnorm.read_safetensors(p)
    q = os.path.join(T, "back-" + f)
    hessnorm.write_safetensors(q, t)
    check(open(p, "rb").read() == open(q, "rb").read(), "C %s: Python rewrite is byte-identical" % f)
m, shapes = hessnorm.read_model(os.path.join(ex, "model.json"))
check(hessnorm.model_json(m) == open(os.path.join(ex, "model.json")).read(),
      "C model.json: Python rewrite is byte-identical")

# every committed safetensors fixture (written by C, gen_golden.py, gen.py)
# re-encodes to its bytes
n_fix = 0
for p in sorted(glob.glob(os.path.join(SRC, "fixtures", "**", "*.safetensors"), recursive=True)):
    if os.sep + "fuzz" + os.sep in p:
        continue  # the fuzz seeds are odd on purpose (metadata, order, gaps)
    raw = open(p, "rb").read()
    try:
        t = hessnorm.decode_safetensors(raw, p)
    except FormatError:
        continue  # the hostile-input fixtures are meant to be refused
    n_fix += 1
    if hessnorm.encode_safetensors(t) != raw:
        bad("fixture %s: re-encoded bytes differ" % os.path.relpath(p, SRC))
check(n_fix >= 10, "%d readable fixtures re-encode to the same bytes" % n_fix)

# 2. the C reader reads what Python writes: the example net with new weights
rng = np.random.default_rng(14)
W = {k: rng.uniform(-0.5, 0.5, s) for k, s in hessnorm.weight_shapes(m, shapes).items()}
x = rng.uniform(0, 1, (3,) + tuple(m["input"]))
y = np.array([0, 3, 1])
d = os.path.join(T, "py")
os.makedirs(d)
hessnorm.write_model(os.path.join(d, "model.json"), m)
hessnorm.write_safetensors(os.path.join(d, "w64.safetensors"), W)
hessnorm.write_safetensors(os.path.join(d, "w32.safetensors"),
                           {k: v.astype(np.float32) for k, v in W.items()})
hessnorm.write_safetensors(os.path.join(d, "w32as64.safetensors"),
                           {k: v.astype(np.float32).astype(np.float64) for k, v in W.items()})
hessnorm.write_sample(os.path.join(d, "s.safetensors"), x, y, model=m)
j64, err = inspect_json(os.path.join(d, "model.json"), os.path.join(d, "w64.safetensors"),
                        os.path.join(d, "s.safetensors"))
check(j64 is not None and j64["num_params"] == sum(v.size for v in W.values())
      and len(j64["logits"]) == 3, "C inspect reads Python's model, F64 weights, batched sample " + err)
j32, err = inspect_json(os.path.join(d, "model.json"), os.path.join(d, "w32.safetensors"),
                        os.path.join(d, "s.safetensors"))
j32b, _ = inspect_json(os.path.join(d, "model.json"), os.path.join(d, "w32as64.safetensors"),
                       os.path.join(d, "s.safetensors"))
# F32 is widened to double exactly (docs/format.md): identical output, no tolerance
check(j32 is not None and j32 == j32b, "C reads Python's F32 weights = the same values as F64 " + err)

# mse sample, unbatched
mm = dict(m, loss="mse")
hessnorm.write_model(os.path.join(d, "mse.json"), mm)
hessnorm.write_sample(os.path.join(d, "mse.safetensors"), x[0], rng.uniform(0, 1, 4), model=mm)
jm, err = inspect_json(os.path.join(d, "mse.json"), os.path.join(d, "w64.safetensors"),
                       os.path.join(d, "mse.safetensors"))
check(jm is not None and "A_norm" in jm, "C inspect reads Python's unbatched mse sample " + err)

# names the C writer escapes: '"', '\\', control characters; UTF-8 kept
odd = {'a"b': np.zeros(1), "c\\d": np.ones(2, np.int64), "e\tf": np.zeros((0, 3)),
       "é": np.float32(1.5) * np.ones(()), "z": np.arange(3, dtype=np.int32)}
raw = hessnorm.encode_safetensors(odd)
hl = struct.unpack("<Q", raw[:8])[0]
check(hl % 8 == 0 and b'"a\\"b"' in raw and b'"e\\u0009f"' in raw and "é".encode() in raw,
      "header escapes as the C writer, padded to 8 bytes")
back = hessnorm.decode_safetensors(raw)
check(sorted(back) == sorted(odd) and all(back[k].dtype == np.asarray(odd[k]).dtype
                                          and np.array_equal(back[k], odd[k]) for k in odd),
      "odd names, F64/F32/I64/I32, empty and scalar tensors round-trip")

# 3. the reader refuses broken files with one line naming the file and field
good = open(os.path.join(ex, "weights.safetensors"), "rb").read()
hlen = struct.unpack("<Q", good[:8])[0]
hdr = json.loads(good[8:8 + hlen])


def with_header(h, data=None, pad=True):
    b = json.dumps(h).encode()
    if pad:
        b += b" " * ((-len(b)) % 8)
    return struct.pack("<Q", len(b)) + b + (good[8 + hlen:] if data is None else data)


e0 = dict(hdr["0.weight"])
cases = [
    ("short file", good[:5], "too short"),
    ("header length 0", struct.pack("<Q", 0) + good[8:], "header length"),
    ("huge header length", struct.pack("<Q", 1 << 32) + good[8:], "exceeds the limit"),
    ("header past the end", struct.pack("<Q", len(good)) + good[8:], "header length"),
    ("not JSON", struct.pack("<Q", 8) + b"{nope   " + b"", "invalid JSON"),
    ("duplicate key", struct.pack("<Q", 16) + b'{"a":1,"a":2}   ', "duplicate key"),
    ("trailing bytes", good + b"\0" * 8, "after the last tensor"),
    ("gap", with_header(dict(hdr, **{"0.weight": dict(e0, data_offsets=[8, 152])}),
                        good[8 + hlen:] + b"\0" * 8), "gap"),
    ("size mismatch", with_header(dict(hdr, **{"0.weight": dict(e0, shape=[2, 1, 3, 4])})),
     "data_offsets"),
    ("negative shape", with_header(dict(hdr, **{"0.weight": dict(e0, shape=[-1])})), "shape"),
    ("missing dtype", with_header(dict(hdr, **{"0.weight": {k: v for k, v in e0.items() if k != "dtype"}})),
     "missing dtype"),
    ("BF16", with_header(dict(hdr, **{"0.weight": dict(e0, dtype="BF16", shape=[72])})),
     "cannot be read"),
]
for name, raw, want in cases:
    p = os.path.join(T, "bad.safetensors")
    open(p, "wb").write(raw)
    try:
        hessnorm.read_safetensors(p)
        bad("reader refuses %s" % name)
    except FormatError as e:
        msg = str(e)
        check("\n" not in msg and msg.startswith(p + ": ") and want in msg,
              "reader refuses %s: %s" % (name, msg))

# model.json, weights and samples checked against each other
for name, fn, want in [
    ("unknown layer field", lambda: hessnorm.check_model(
        dict(m, layers=[dict(m["layers"][0], stride=2)] + m["layers"][1:])), "layers[0].stride: unknown"),
    ("bias tensor", lambda: hessnorm.model.check_weights(m, shapes, dict(W, **{"0.bias": np.zeros(2)})),
     '"0.bias": unexpected'),
    ("NaN weight", lambda: hessnorm.model.check_weights(
        m, shapes, dict(W, **{"3.weight": np.full((3, 2, 2, 2), np.nan)})), "element 0"),
    ("class out of range", lambda: hessnorm.write_sample(os.path.join(T, "s.safetensors"), x,
                                                         np.array([0, 4, 1]), model=m), "y[1] = 4"),
    ("x shape", lambda: hessnorm.write_sample(os.path.join(T, "s.safetensors"), x[:, :, :4],
                                              y, model=m), "x: shape"),
]:
    try:
        fn()
        bad("refuses %s" % name)
    except FormatError as e:
        check(want in str(e) and "\n" not in str(e), "refuses %s: %s" % (name, e))

# 4. python3 -m hessnorm
r = py_cli("read", os.path.join(ex, "weights.safetensors"))
check(r.returncode == 0 and r.stdout == "0.weight\tF64\t[2, 1, 3, 3]\n3.weight\tF64\t[3, 2, 2, 2]\n"
      "6.weight\tF64\t[4, 12]\n", "read: names, dtypes, shapes")
r = py_cli("read", "--json", os.path.join(ex, "sample.safetensors"))
check(r.returncode == 0 and json.loads(r.stdout) == [{"name": "x", "dtype": "F64", "shape": [1, 8, 8]},
                                                     {"name": "y", "dtype": "I64", "shape": []}],
      "read --json")
one_line_error(py_cli("read", os.path.join(ex, "model.json")), "header length", "read of a JSON file")
one_line_error(py_cli("read", os.path.join(T, "nowhere")), "No such file", "read of a missing file")
r = py_cli("nonsense")
check(r.returncode == 2, "unknown command: exit 2")
np.save(os.path.join(T, "x.npy"), x)
np.save(os.path.join(T, "y.npy"), y)
np.save(os.path.join(T, "ybad.npy"), np.array([0, -1, 2]))
r = py_cli("write-sample", os.path.join(T, "cli.safetensors"), "--x", os.path.join(T, "x.npy"),
           "--y", os.path.join(T, "y.npy"), "--model", os.path.join(d, "model.json"))
check(r.returncode == 0 and open(os.path.join(T, "cli.safetensors"), "rb").read()
      == open(os.path.join(d, "s.safetensors"), "rb").read(), "write-sample = write_sample " + r.stderr)
r = py_cli("write-sample", os.path.join(T, "cli2.safetensors"), "--x", os.path.join(T, "x.npy"),
           "--y", os.path.join(T, "y.npy"), "--input", "1,8,8", "--classes", "4")
check(r.returncode == 0 and open(os.path.join(T, "cli2.safetensors"), "rb").read()
      == open(os.path.join(d, "s.safetensors"), "rb").read(), "write-sample --input --classes " + r.stderr)
one_line_error(py_cli("write-sample", os.path.join(T, "c3.safetensors"), "--x", os.path.join(T, "x.npy"),
                      "--y", os.path.join(T, "ybad.npy"), "--model", os.path.join(d, "model.json")),
               "y[1] = -1", "write-sample with a bad label")
check(not os.path.exists(os.path.join(T, "c3.safetensors")), "nothing written on a refusal")
one_line_error(py_cli("write-sample", os.path.join(T, "c4.safetensors"), "--x", os.path.join(T, "y.npy"),
                      "--y", os.path.join(T, "y.npy"), "--model", os.path.join(d, "model.json")),
               "x: shape", "write-sample with a wrong x")

print("python_roundtrip: %d passed, %d failed" % (passed, failed))
subprocess.run(["rm", "-rf", T])
sys.exit(1 if failed else 0)
