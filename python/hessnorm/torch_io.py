"""torch.nn.Sequential <-> the hessnorm format.  Imports torch (only this
module of the package does, and only when one of its functions runs)."""
import os

import numpy as np

from .errors import ExportError, FormatError
from .model import (LOSSES, check_model, check_weights, read_model, sample_arrays,
                    write_model, layer_output)
from .safetensors import read_safetensors, write_safetensors


def _torch():
    try:
        import torch
    except ImportError:
        raise ExportError("hessnorm: this needs PyTorch (Debian: apt-get install python3-torch)") from None
    return torch


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _layer_of(i, mod, nn):
    """The format's layer dict for module i, or ExportError saying what to change."""
    name = type(mod).__name__

    def refuse(what):
        raise ExportError("hessnorm.export: module %d (%s): %s" % (i, name, what))

    if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
        two = isinstance(mod, nn.Conv2d)
        norm = _pair if two else _single
        one, zero = norm(1), norm(0)
        if mod.bias is not None:
            refuse("has a bias; the format has none (build it with bias=False)")
        if isinstance(mod.padding, str):
            if mod.padding != "valid":
                refuse("padding='%s'; the format has no padding (use padding=0)" % mod.padding)
        elif norm(mod.padding) != zero:
            refuse("padding=%s; the format has no padding (use padding=0)" % (mod.padding,))
        if norm(mod.stride) != one:
            refuse("stride=%s; the format has stride 1 only (use stride=1)" % (mod.stride,))
        if norm(mod.dilation) != one:
            refuse("dilation=%s; the format has no dilation (use dilation=1)" % (mod.dilation,))
        if mod.groups != 1:
            refuse("groups=%d; the format has dense convolutions only (use groups=1)" % mod.groups)
        if getattr(mod, "output_padding", zero) not in (zero, 0) or getattr(mod, "transposed", False):
            refuse("a transposed convolution is not in the format")
        k = norm(mod.kernel_size)
        ly = {"type": "conv2d" if two else "conv1d", "out_channels": mod.out_channels,
              "kernel": list(k) if two else k[0]}
        return ly, mod.in_channels
    if isinstance(mod, nn.Linear):
        if mod.bias is not None:
            refuse("has a bias; the format has none (build it with bias=False)")
        return {"type": "linear", "out_features": mod.out_features}, mod.in_features
    if isinstance(mod, nn.ReLU):
        return {"type": "relu"}, None
    if isinstance(mod, nn.Flatten):
        if mod.end_dim != -1 or mod.start_dim not in (0, 1):
            refuse("start_dim=%d, end_dim=%d; the format flattens a whole sample "
                   "(use nn.Flatten() on batches or nn.Flatten(0) on one sample)"
                   % (mod.start_dim, mod.end_dim))
        return {"type": "flatten"}, None
    pools = {nn.MaxPool1d: "maxpool1d", nn.MaxPool2d: "maxpool2d",
             nn.AvgPool1d: "avgpool1d", nn.AvgPool2d: "avgpool2d"}
    for cls, t in pools.items():
        if type(mod) is cls:
            norm = _pair if t.endswith("2d") else _single
            k = norm(mod.kernel_size)
            if len(set(k)) != 1:
                refuse("kernel_size=%s; the format pools with a square kernel (use one integer)"
                       % (mod.kernel_size,))
            if mod.stride is not None and norm(mod.stride) != k:
                refuse("stride=%s with kernel_size=%s; the format pools with stride = kernel "
                       "(leave stride unset)" % (mod.stride, mod.kernel_size))
            if norm(mod.padding) != norm(0):
                refuse("padding=%s; the format has no padding (use padding=0)" % (mod.padding,))
            if mod.ceil_mode:
                refuse("ceil_mode=True; the format floors the output size (use ceil_mode=False)")
            if t.startswith("max"):
                if norm(mod.dilation) != norm(1):
                    refuse("dilation=%s; the format has no dilation (use dilation=1)" % (mod.dilation,))
                if mod.return_indices:
                    refuse("return_indices=True; use return_indices=False")
            elif getattr(mod, "divisor_override", None) is not None:
                refuse("divisor_override=%s; the format divides by the kernel's size (leave it "
                       "unset)" % mod.divisor_override)
            return {"type": t, "kernel": k[0]}, None
    if "BatchNorm" in name:
        refuse("batch normalisation is not in the format (fold it into the next conv "
               "and remove it, or train without it)")
    if "Dropout" in name:
        refuse("dropout is not in the format (it is the identity in eval mode: rebuild the "
               "Sequential without it and copy the weights)")
    if isinstance(mod, nn.Sequential):
        refuse("a nested Sequential; flatten it into one nn.Sequential")
    refuse("not in the format (it has Conv1d, Conv2d, Linear without bias, ReLU, "
           "MaxPool1d/2d, AvgPool1d/2d, Flatten)")


def describe(model, input_shape, loss="ce"):
    """The format's description (dict) of an nn.Sequential on samples of
    input_shape, or ExportError naming the first module it cannot hold."""
    torch = _torch()
    nn = torch.nn
    if not isinstance(model, nn.Sequential):
        raise ExportError("hessnorm.export: the model is a %s; export needs a torch.nn.Sequential"
                          % type(model).__name__)
    if len(model) == 0:
        raise ExportError("hessnorm.export: the Sequential is empty")
    lossname = LOSSES.get(loss)
    if lossname is None:
        raise ExportError('hessnorm.export: loss="%s"; use "ce" (cross entropy) or "mse"' % loss)
    keys = list(model._modules.keys())
    if keys != [str(i) for i in range(len(keys))]:
        raise ExportError("hessnorm.export: the Sequential's modules are named %s; the weights "
                          "are named by position (build it from a list, not an OrderedDict)"
                          % ", ".join(keys[:4]))
    shape = [int(d) for d in input_shape]
    layers = []
    for i, mod in enumerate(model):
        ly, fan_in = _layer_of(i, mod, nn)
        try:
            out = layer_output(ly, shape, "hessnorm.export: module %d (%s)" % (i, type(mod).__name__))
        except FormatError as e:
            raise ExportError(str(e)) from None
        if fan_in is not None and shape[0] != fan_in:
            raise ExportError("hessnorm.export: module %d (%s): expects %d input %s, but its input "
                              "is %s" % (i, type(mod).__name__, fan_in,
                                         "features" if ly["type"] == "linear" else "channels",
                                         list(shape)))
        shape = out
        layers.append(ly)
    classes = int(np.prod(shape))
    m = {"format": "hessnorm-model/1", "input": [int(d) for d in input_shape],
         "classes": classes, "loss": lossname, "layers": layers}
    try:
        m, _ = check_model(m, "hessnorm.export")
    except FormatError as e:
        raise ExportError(str(e)) from None
    return m


def _numpy(t):
    torch = _torch()
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t)


def export(model, out_dir, x=None, y=None, input_shape=None, loss="ce"):
    """Write model.json, weights.safetensors (F64) and, with x and y,
    sample.safetensors (x F64; y I64 class indices for "ce", F64 targets for
    "mse") into out_dir.  input_shape is one sample's shape; without it, x
    is taken as a batch [N, ...] (or, for a first Linear, [in_features]).
    Returns the description dict.  Nothing is written when the model, x or y
    is refused."""
    torch = _torch()
    if x is not None:
        x = _numpy(x)
    if input_shape is None:
        first = model[0] if isinstance(model, torch.nn.Sequential) and len(model) else None
        if x is not None:
            input_shape = x.shape[1:]
        elif isinstance(first, torch.nn.Linear):
            input_shape = (first.in_features,)
        else:
            raise ExportError("hessnorm.export: give input_shape= (one sample's shape, e.g. "
                              "(1, 28, 28)) or a batch x=")
    m = describe(model, input_shape, loss)
    _, shapes = check_model(m)
    sd = {k: _numpy(v) for k, v in model.state_dict().items()}
    try:
        weights = check_weights(m, shapes, sd, "hessnorm.export: state_dict")
    except FormatError as e:
        raise ExportError(str(e)) from None
    sample = None
    if x is not None or y is not None:
        if x is None or y is None:
            raise ExportError("hessnorm.export: a sample needs both x= and y=")
        try:
            sample = sample_arrays(x, _numpy(y), m["input"], m["classes"], m["loss"],
                                   "hessnorm.export: sample")
        except FormatError as e:
            raise ExportError(str(e)) from None
    os.makedirs(out_dir, exist_ok=True)
    write_model(os.path.join(out_dir, "model.json"), m)
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), weights)
    if sample is not None:
        write_safetensors(os.path.join(out_dir, "sample.safetensors"),
                          {"x": sample[0], "y": sample[1]})
    return m


def build(m, batched=True):
    """An nn.Sequential (float64, eval mode, untrained weights) for a checked
    description.  batched: Flatten() for inputs [N, ...input] (the default);
    False: Flatten(0) for one unbatched sample, as the format's table says."""
    torch = _torch()
    nn = torch.nn
    m, shapes = check_model(m)
    mods = []
    for i, ly in enumerate(m["layers"]):
        t, cin = ly["type"], shapes[i][0]
        if t == "conv2d":
            mods.append(nn.Conv2d(cin, ly["out_channels"], tuple(ly["kernel"]), bias=False))
        elif t == "conv1d":
            mods.append(nn.Conv1d(cin, ly["out_channels"], ly["kernel"], bias=False))
        elif t == "linear":
            mods.append(nn.Linear(cin, ly["out_features"], bias=False))
        elif t == "relu":
            mods.append(nn.ReLU())
        elif t == "flatten":
            mods.append(nn.Flatten() if batched else nn.Flatten(0))
        else:
            cls = {"maxpool1d": nn.MaxPool1d, "maxpool2d": nn.MaxPool2d,
                   "avgpool1d": nn.AvgPool1d, "avgpool2d": nn.AvgPool2d}[t]
            mods.append(cls(ly["kernel"]))
    return nn.Sequential(*mods).double().eval()


def load(model_json, weights_safetensors, batched=True):
    """The nn.Sequential of model.json with the weights of a safetensors
    file, in float64 and eval mode.  Its input is a batch [N, ...input]
    (batched=False: one sample, the format's nn.Flatten(0))."""
    torch = _torch()
    m, shapes = read_model(model_json)
    w = check_weights(m, shapes, read_safetensors(weights_safetensors), weights_safetensors)
    net = build(m, batched)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()}, strict=True)
    return net
