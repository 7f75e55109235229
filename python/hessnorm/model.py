"""The architecture file (model.json, "hessnorm-model/1") and the sample
file, without torch.

`parse_model` applies the rules of docs/format.md section 1 (exact keys,
JSON types, the layer table, shapes that chain, first and last layer a
linear operator, the last output of `classes` elements) and returns the
description in normal form (conv2d kernels as [kh, kw]).  `model_json`
writes it in the layout of hessnorm's own writer (hn_model_to_json): one
key per line, one layer per line, so a file read and written again is
byte-identical.  The C reader stays the authority on what hessnorm
accepts; these checks exist so that `load` and `export` fail early with a
line naming the field.
"""
import json

import numpy as np

from .errors import FormatError
from .safetensors import write_safetensors, read_safetensors

FORMAT = "hessnorm-model/1"
LINEAR_OPS = ("conv1d", "conv2d", "linear")
# fields of each layer type, in the order hn_model_to_json writes them
LAYER_FIELDS = {
    "conv1d": ("out_channels", "kernel"),
    "conv2d": ("out_channels", "kernel"),
    "linear": ("out_features",),
    "relu": (),
    "maxpool1d": ("kernel",), "avgpool1d": ("kernel",),
    "maxpool2d": ("kernel",), "avgpool2d": ("kernel",),
    "flatten": (),
}
MAX_DIM = 1 << 31   # HN_MODEL_MAX_DIM of src/formats/model_json.c
LOSSES = {"ce": "cross_entropy", "cross_entropy": "cross_entropy", "mse": "mse"}


def _pos_int(v, where):
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise FormatError("%s: must be a positive integer" % where)
    if v > MAX_DIM:
        raise FormatError("%s: %d exceeds 2^31" % (where, v))
    return v


def _dup_check(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise FormatError("duplicate object key %s" % json.dumps(k))
        d[k] = v
    return d


def _keys(obj, want, where):
    if not isinstance(obj, dict):
        raise FormatError("%s: must be an object" % where)
    for k in obj:
        if k not in want:
            raise FormatError("%s.%s: unknown field" % (where, k) if where else "%s: unknown field" % k)
    for k in want:
        if k not in obj:
            raise FormatError("%s: missing field %s" % (where or "model", k))


def _shape(s):
    return "[" + ", ".join(str(d) for d in s) + "]"


def layer_output(ly, shape, where):
    """The output shape of layer ly (normal form) on an input of `shape`."""
    t = ly["type"]
    if t == "relu":
        return shape
    if t == "flatten":
        return [int(np.prod(shape))]
    need = {"linear": 1, "conv1d": 2, "maxpool1d": 2, "avgpool1d": 2}.get(t, 3)
    if len(shape) != need:
        form = {1: "a flat [N]", 2: "a [C, L]", 3: "a [C, H, W]"}[need]
        hint = " (add a flatten layer)" if t == "linear" else ""
        raise FormatError("%s: %s needs %s input, got %s%s" % (where, t, form, _shape(shape), hint))
    if t == "linear":
        return [ly["out_features"]]
    if t in ("conv1d", "conv2d"):
        k = [ly["kernel"]] if t == "conv1d" else ly["kernel"]
        for kk, dim, what in zip(k, shape[1:], ("height", "width") if need == 3 else ("length",)):
            if kk > dim:
                raise FormatError("%s.kernel: %d larger than input %d (%s)" % (where, kk, dim, what))
        return [ly["out_channels"]] + [dim - kk + 1 for dim, kk in zip(shape[1:], k)]
    k = ly["kernel"]
    for dim, what in zip(shape[1:], ("height", "width") if need == 3 else ("length",)):
        if k > dim:
            raise FormatError("%s.kernel: %d larger than input %d (%s): the pooled output "
                              "would be empty" % (where, k, dim, what))
    return [shape[0]] + [dim // k for dim in shape[1:]]


def check_model(m, source="model"):
    """Validate a description dict (as parsed from JSON); return it in normal
    form plus the list of activation shapes (input first)."""
    _keys(m, ("format", "input", "classes", "loss", "layers"), "")
    if m["format"] != FORMAT:
        raise FormatError("%s: format: must be \"%s\"" % (source, FORMAT))
    inp = m["input"]
    if not isinstance(inp, list) or not 1 <= len(inp) <= 3:
        raise FormatError("%s: input: must be an array of 1-3 positive integers" % source)
    inp = [_pos_int(v, "%s: input[%d]" % (source, i)) for i, v in enumerate(inp)]
    classes = _pos_int(m["classes"], "%s: classes" % source)
    if m["loss"] not in ("cross_entropy", "mse"):
        raise FormatError('%s: loss: must be "cross_entropy" or "mse"' % source)
    if not isinstance(m["layers"], list) or not m["layers"]:
        raise FormatError("%s: layers: must be a non-empty array" % source)
    layers, shapes = [], [inp]
    for i, ly in enumerate(m["layers"]):
        where = "%s: layers[%d]" % (source, i)
        if not isinstance(ly, dict) or not isinstance(ly.get("type"), str):
            raise FormatError("%s: must be an object with a string \"type\"" % where)
        t = ly["type"]
        if t not in LAYER_FIELDS:
            raise FormatError("%s.type: unknown layer type \"%s\"" % (where, t))
        try:
            _keys(ly, ("type",) + LAYER_FIELDS[t], "layers[%d]" % i)
        except FormatError as e:
            raise FormatError("%s: %s" % (source, e)) from None
        n = {"type": t}
        for f in LAYER_FIELDS[t]:
            v = ly[f]
            if t == "conv2d" and f == "kernel":
                if isinstance(v, list):
                    if len(v) != 2:
                        raise FormatError("%s.kernel: must be an integer or [kh, kw]" % where)
                    v = [_pos_int(x, "%s.kernel" % where) for x in v]
                else:
                    v = [_pos_int(v, "%s.kernel" % where)] * 2
            else:
                v = _pos_int(v, "%s.%s" % (where, f))
            n[f] = v
        shapes.append(layer_output(n, shapes[-1], where))
        layers.append(n)
    if layers[0]["type"] not in LINEAR_OPS or layers[-1]["type"] not in LINEAR_OPS:
        raise FormatError("%s: layers: the first and the last layer must be conv1d, conv2d or "
                          "linear" % source)
    if int(np.prod(shapes[-1])) != classes:
        raise FormatError("%s: classes: %d, but the last layer's output is %s"
                          % (source, classes, _shape(shapes[-1])))
    out = {"format": FORMAT, "input": inp, "classes": classes, "loss": m["loss"], "layers": layers}
    return out, shapes


def parse_model(text, source="model.json"):
    """(description in normal form, activation shapes) of model.json text."""
    try:
        m = json.loads(text, object_pairs_hook=_dup_check)
    except FormatError as e:
        raise FormatError("%s: invalid JSON: %s" % (source, e)) from None
    except ValueError as e:
        raise FormatError("%s: invalid JSON: %s" % (source, e)) from None
    if not isinstance(m, dict):
        raise FormatError("%s: must be a JSON object" % source)
    return check_model(m, source)


def read_model(path):
    """(description, activation shapes) of a model.json file."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("%s: not valid UTF-8" % path) from None
    return parse_model(text, path)


def model_json(m):
    """model.json text in hn_model_to_json's layout (m is checked first)."""
    m, _ = check_model(m)
    head = ",\n".join("  %s: %s" % (json.dumps(k), json.dumps(m[k]))
                      for k in ("format", "input", "classes", "loss"))
    lays = ",\n".join("    " + json.dumps(ly) for ly in m["layers"])
    return "{\n%s,\n  \"layers\": [\n%s\n  ]\n}\n" % (head, lays)


def write_model(path, m):
    """Write model.json (hessnorm's layout, atomically)."""
    from .safetensors import write_bytes_atomic
    write_bytes_atomic(path, model_json(m).encode("utf-8"))


def linear_positions(m):
    """Indices in m["layers"] of the conv1d/conv2d/linear layers."""
    return [i for i, ly in enumerate(m["layers"]) if ly["type"] in LINEAR_OPS]


def weight_shapes(m, shapes):
    """{"<i>.weight": PyTorch shape} of a checked description."""
    out = {}
    for i in linear_positions(m):
        ly, cin = m["layers"][i], shapes[i][0]
        if ly["type"] == "linear":
            out["%d.weight" % i] = (ly["out_features"], cin)
        elif ly["type"] == "conv1d":
            out["%d.weight" % i] = (ly["out_channels"], cin, ly["kernel"])
        else:
            out["%d.weight" % i] = (ly["out_channels"], cin) + tuple(ly["kernel"])
    return out


def check_weights(m, shapes, tensors, source="weights"):
    """Names, dtypes, shapes and finiteness of {name: array} against the
    model; returns them as float64 arrays."""
    want = weight_shapes(m, shapes)
    for name in sorted(tensors):
        if name not in want:
            raise FormatError('%s: tensor "%s": unexpected (the model has no bias and expects '
                              "only %s)" % (source, name, ", ".join(sorted(want))))
    out = {}
    for name, shp in want.items():
        if name not in tensors:
            raise FormatError('%s: tensor "%s": missing' % (source, name))
        a = np.asarray(tensors[name])
        if a.dtype not in (np.float64, np.float32):
            raise FormatError('%s: tensor "%s": dtype %s, must be F64 or F32' % (source, name, a.dtype))
        if tuple(a.shape) != shp:
            raise FormatError('%s: tensor "%s": shape %s, expected %s'
                              % (source, name, _shape(a.shape), _shape(shp)))
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise FormatError('%s: tensor "%s": element %d (flat index) is %s'
                              % (source, name, bad[0], a.reshape(-1)[bad[0]]))
        out[name] = a.astype(np.float64)
    return out


def sample_arrays(x, y, input_shape, classes, loss, source="sample"):
    """x (float64) and y (int64 class indices or float64 targets) checked
    against the input shape and the loss as docs/format.md section 3 says;
    unbatched when x has the input's shape, batched when it has one more
    leading dimension."""
    loss = LOSSES.get(loss)
    if loss is None:
        raise FormatError('%s: loss: must be "ce" (cross_entropy) or "mse"' % source)
    x = np.asarray(x)
    inp = tuple(input_shape)
    if x.shape == inp:
        batched, n = False, 1
    elif x.ndim == len(inp) + 1 and x.shape[1:] == inp and x.shape[0] >= 1:
        batched, n = True, x.shape[0]
    else:
        raise FormatError("%s: x: shape %s, expected %s or [N, %s]"
                          % (source, _shape(x.shape), _shape(inp), ", ".join(map(str, inp))))
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise FormatError("%s: x: dtype %s is not numeric" % (source, x.dtype))
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise FormatError("%s: x: element %d (flat index) is not finite"
                          % (source, np.flatnonzero(~np.isfinite(x))[0]))
    y = np.asarray(y)
    if loss == "cross_entropy":
        want = (n,) if batched else ()
        if y.shape != want:
            raise FormatError("%s: y: shape %s, expected %s (class indices)"
                              % (source, _shape(y.shape), _shape(want)))
        if not np.issubdtype(y.dtype, np.integer):
            if not (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y))):
                raise FormatError("%s: y: dtype %s: class indices must be integers" % (source, y.dtype))
        y = y.astype(np.int64)
        bad = np.flatnonzero((y.reshape(-1) < 0) | (y.reshape(-1) >= classes))
        if bad.size:
            i = bad[0]
            raise FormatError("%s: y%s = %d: class index outside [0, %d)"
                              % (source, "[%d]" % i if batched else "", y.reshape(-1)[i], classes))
    else:
        want = (n, classes) if batched else (classes,)
        if y.shape != want:
            raise FormatError("%s: y: shape %s, expected %s (mse targets)"
                              % (source, _shape(y.shape), _shape(want)))
        y = y.astype(np.float64)
        if not np.isfinite(y).all():
            raise FormatError("%s: y: a target is not finite" % source)
    return x, y


def write_sample(path, x, y, input_shape=None, classes=None, loss="ce", model=None):
    """Write sample.safetensors ("x" F64, "y" I64 or F64).  Give the model
    description (a dict or a model.json path) or input_shape and classes;
    x is one sample (the input shape) or a batch [N, ...input]."""
    if model is not None:
        m = read_model(model)[0] if isinstance(model, str) else check_model(model)[0]
        input_shape, classes, loss = m["input"], m["classes"], m["loss"]
    if input_shape is None or classes is None:
        raise FormatError("%s: write_sample needs model= or input_shape= and classes=" % path)
    x, y = sample_arrays(x, y, input_shape, classes, loss, source=path)
    write_safetensors(path, {"x": x, "y": y})


def read_sample(path, model=None):
    """(x, y) of a sample file; with a model description (dict or path),
    checked against it."""
    t = read_safetensors(path)
    if sorted(t) != ["x", "y"]:
        extra = [k for k in sorted(t) if k not in ("x", "y")]
        raise FormatError('%s: tensor "%s": %s' % (
            path, extra[0] if extra else ("y" if "x" in t else "x"),
            "unexpected (a sample file holds x and y only)" if extra else "missing"))
    if model is None:
        return t["x"], t["y"]
    m = read_model(model)[0] if isinstance(model, str) else check_model(model)[0]
    return sample_arrays(t["x"], t["y"], m["input"], m["classes"], m["loss"], source=path)
