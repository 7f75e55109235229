"""python3 -m hessnorm COMMAND ...  (docs/python.md)

  read FILE.safetensors [--json]       names, dtypes and shapes
  write-sample OUT.safetensors --x X.npy --y Y.npy (--model M.json | --input C,H,W --classes K [--loss ce|mse])
  export NET.pt OUT_DIR [--input C,H,W] [--x X.npy --y Y.npy] [--loss ce|mse]
                                       NET.pt: torch.save(nn.Sequential)

A refused input prints one line (file or module, field, what is wrong) on
stderr and exits 1; a usage error exits 2."""
import argparse
import json
import sys

from .errors import HessnormError


def _ints(s):
    try:
        v = [int(p) for p in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%r: expected comma-separated integers, e.g. 1,28,28" % s)
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError("%r: expected positive integers" % s)
    return v


def _npy(path, what):
    import numpy as np
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise HessnormError("%s: %s: not a readable .npy file (%s)" % (path, what,
                                                                       str(e).splitlines()[0]))


def cmd_read(a):
    from .safetensors import describe_safetensors
    rows = describe_safetensors(a.file)
    if a.json:
        print(json.dumps([{"name": n, "dtype": d, "shape": list(s)} for n, d, s in rows]))
    else:
        for n, d, s in rows:
            print("%s\t%s\t[%s]" % (n, d, ", ".join(map(str, s))))


def cmd_write_sample(a):
    from .model import write_sample
    x, y = _npy(a.x, "--x"), _npy(a.y, "--y")
    if a.model:
        write_sample(a.out, x, y, model=a.model)
    else:
        if a.input is None or a.classes is None:
            raise HessnormError("write-sample: give --model M.json, or --input and --classes")
        write_sample(a.out, x, y, input_shape=a.input, classes=a.classes, loss=a.loss)


def cmd_export(a):
    from .torch_io import _torch, export
    torch = _torch()
    try:
        net = torch.load(a.net, map_location="cpu")
    except Exception as e:  # torch.load raises many kinds; report the first line
        raise HessnormError("%s: cannot be loaded with torch.load (%s: %s)"
                            % (a.net, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    x = _npy(a.x, "--x") if a.x else None
    y = _npy(a.y, "--y") if a.y else None
    m = export(net, a.out, x=x, y=y, input_shape=a.input, loss=a.loss)
    print("%s: model.json, weights.safetensors%s (%d layers, input %s, %d classes)"
          % (a.out, ", sample.safetensors" if x is not None else "", len(m["layers"]),
             m["input"], m["classes"]))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m hessnorm",
                                description="hessnorm's files from Python (docs/python.md)")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    r = sub.add_parser("read", help="names, dtypes and shapes of a safetensors file")
    r.add_argument("file")
    r.add_argument("--json", action="store_true", help="one JSON array instead of lines")
    r.set_defaults(fn=cmd_read)
    w = sub.add_parser("write-sample", help="sample.safetensors from .npy arrays")
    w.add_argument("out")
    w.add_argument("--x", required=True, help=".npy: one sample or a batch [N, ...input]")
    w.add_argument("--y", required=True, help=".npy: class indices (ce) or targets (mse)")
    w.add_argument("--model", help="model.json to check against (input, classes, loss)")
    w.add_argument("--input", type=_ints, help="one sample's shape, e.g. 1,28,28")
    w.add_argument("--classes", type=int)
    w.add_argument("--loss", default="ce", choices=["ce", "cross_entropy", "mse"])
    w.set_defaults(fn=cmd_write_sample)
    e = sub.add_parser("export", help="model.json + weights (+ sample) of a torch.save'd Sequential")
    e.add_argument("net", help="file of torch.save(nn.Sequential(...))")
    e.add_argument("out", help="output folder")
    e.add_argument("--input", type=_ints, help="one sample's shape, e.g. 1,28,28")
    e.add_argument("--x", help=".npy batch [N, ...input]")
    e.add_argument("--y", help=".npy labels [N] (ce) or targets [N, K] (mse)")
    e.add_argument("--loss", default="ce", choices=["ce", "cross_entropy", "mse"])
    e.set_defaults(fn=cmd_export)
    a = p.parse_args(argv)
    if not a.cmd:
        p.print_usage(sys.stderr)
        return 2
    try:
        a.fn(a)
    except (HessnormError, OSError) as ex:
        msg = str(ex) if isinstance(ex, HessnormError) else \
            "%s: %s" % (ex.filename or "", ex.strerror or ex)
        print("hessnorm: " + " ".join(msg.split("\n")), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
