"""python/hessnorm/ with PyTorch (run by tests/python_torch.sh):
torch_check.py HESSNORM SRCDIR"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn

import hessnorm
from hessnorm import ExportError

HN, SRC = sys.argv[1], sys.argv[2]
T = tempfile.mkdtemp(prefix="hn-pyt-")
torch.manual_seed(14)
passed = failed = 0
# Both sides compute in float64 with different summation orders, so each
# value is exact to a few 1e-16 relative times a small condition number (the
# top eigenvalue of a symmetric matrix moves by at most ||dH||, Weyl): 1e-10
# leaves four orders of magnitude for that and still catches any wrong term.
RTOL = 1e-10


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


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def inspect(d, sample="sample.safetensors"):
    r = subprocess.run([HN, "inspect", "--model", os.path.join(d, "model.json"),
                        "--weights", os.path.join(d, "weights.safetensors"),
                        "--sample", os.path.join(d, sample), "--json", "--threads", "2"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return json.loads(r.stdout), ""


def reference(net, x, y, loss):
    """loss, ||grad||, top eigenvalue of the full Hessian, logits: torch
    float64 autograd on the mean loss over theta = cat of the weights."""
    names = [k for k, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for _, p in net.named_parameters()])

    def f(th):
        ps, o = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s))
            ps[n] = th[o:o + k].reshape(s)
            o += k
        z = torch.nn.utils.stateless.functional_call(net, ps, (x,)).reshape(x.shape[0], -1)
        if loss == "ce":
            return nn.functional.cross_entropy(z, y)
        return 0.5 * ((z - y) ** 2).sum(dim=1).mean()

    th = theta.clone().requires_grad_(True)
    L = f(th)
    g = torch.autograd.grad(L, th)[0]
    H = torch.autograd.functional.hessian(f, theta)
    H = 0.5 * (H + H.T)
    with torch.no_grad():
        z = net(x).reshape(x.shape[0], -1)
    return L.item(), g.norm().item(), torch.linalg.eigvalsh(H)[-1].item(), z


# 1. export -> inspect = PyTorch, on four architectures
cases = [
    ("conv-only", (1, 8, 8), "ce",
     nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.ReLU(), nn.Conv2d(3, 4, (2, 3), bias=False),
                   nn.ReLU(), nn.Conv2d(4, 5, (5, 4), bias=False))),
    ("conv + FC head", (2, 7, 7), "ce",
     nn.Sequential(nn.Conv2d(2, 3, 3, bias=False), nn.ReLU(), nn.Flatten(),
                   nn.Linear(75, 8, bias=False), nn.ReLU(), nn.Linear(8, 4, bias=False))),
    ("pooling", (1, 9, 9), "ce",
     nn.Sequential(nn.Conv2d(1, 3, 2, bias=False), nn.ReLU(), nn.MaxPool2d(2),
                   nn.Conv2d(3, 4, 2, bias=False), nn.ReLU(), nn.Flatten(),
                   nn.Linear(36, 5, bias=False))),
    ("conv1d + avgpool1d, mse", (2, 12), "mse",
     nn.Sequential(nn.Conv1d(2, 3, 3, bias=False), nn.ReLU(), nn.AvgPool1d(2),
                   nn.Conv1d(3, 2, 2, bias=False), nn.Flatten(), nn.Linear(8, 3, bias=False))),
]
for name, inp, loss, net in cases:
    net = net.double()
    N = 4
    x = torch.rand((N,) + inp, dtype=torch.float64)
    with torch.no_grad():
        K = net(x).reshape(N, -1).shape[1]
    y = torch.randint(0, K, (N,)) if loss == "ce" else torch.rand(N, K, dtype=torch.float64)
    d = os.path.join(T, name.replace(" ", "_"))
    hessnorm.export(net, d, x=x, y=y, loss=loss)
    j, err = inspect(d)
    if j is None:
        bad("%s: inspect: %s" % (name, err))
        continue
    L, gn, lmax, z = reference(net, x, y, loss)
    errs = (rel(j["loss"], L), rel(j["grad_norm"], gn), rel(j["hessian"]["max_eigenvalue"], lmax),
            float((torch.tensor(j["logits"], dtype=torch.float64) - z).abs().max() / z.abs().max()))
    check(max(errs) <= RTOL, "%s: loss, |grad|, lambda_max(H), logits = torch (rel err %.1e %.1e "
          "%.1e %.1e, P=%d)" % ((name,) + errs + (j["num_params"],)))
    # load gives back the same network: the same outputs bit for bit
    back = hessnorm.load(os.path.join(d, "model.json"), os.path.join(d, "weights.safetensors"))
    with torch.no_grad():
        check(not back.training and next(back.parameters()).dtype == torch.float64
              and torch.equal(back(x), net(x)), "%s: load(export(net)) = net" % name)

# one unbatched sample and the format's Flatten(0)
net = cases[2][3]
x1 = torch.rand(1, 9, 9, dtype=torch.float64)
d = os.path.join(T, "single")
hessnorm.export(net, d, x=x1, y=torch.tensor(2), input_shape=(1, 9, 9))
j, err = inspect(d)
one = hessnorm.load(os.path.join(d, "model.json"), os.path.join(d, "weights.safetensors"),
                    batched=False)
with torch.no_grad():
    z1 = one(x1)
check(j is not None and "A_norm" in j and max(abs(a - b) for a, b in zip(j["logits"], z1.tolist()))
      <= RTOL * z1.abs().max().item(), "unbatched sample: inspect reads it; load(batched=False) " + err)

# 2. refusals: one line naming the module's index and what to change
C = lambda *a, **k: nn.Conv2d(*a, **dict(dict(bias=False), **k))
refusals = [
    ("bias", [C(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3)], "module 2 (Conv2d): has a bias"),
    ("padding", [C(1, 2, 3), nn.ReLU(), C(2, 2, 3, padding=1)], "module 2 (Conv2d): padding=(1, 1)"),
    ("padding same", [C(1, 2, 3), nn.ReLU(), C(2, 2, 3, padding="same")], "padding='same'"),
    ("stride", [C(1, 2, 3), nn.ReLU(), C(2, 2, 3, stride=2)], "module 2 (Conv2d): stride="),
    ("dilation", [C(1, 2, 3), nn.ReLU(), C(2, 2, 3, dilation=2)], "module 2 (Conv2d): dilation="),
    ("groups", [C(1, 2, 3), nn.ReLU(), C(2, 2, 3, groups=2)], "module 2 (Conv2d): groups=2"),
    ("pool stride", [C(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, stride=1)], "module 2 (MaxPool2d): stride="),
    ("pool padding", [C(1, 2, 3), nn.ReLU(), nn.AvgPool2d(2, padding=1)], "module 2 (AvgPool2d): padding="),
    ("pool ceil_mode", [C(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)], "ceil_mode"),
    ("batchnorm", [C(1, 2, 3), nn.ReLU(), nn.BatchNorm2d(2)], "module 2 (BatchNorm2d): batch normal"),
    ("dropout", [C(1, 2, 3), nn.ReLU(), nn.Dropout(0.5)], "module 2 (Dropout): dropout"),
    ("other module", [C(1, 2, 3), nn.Tanh(), C(2, 2, 3)], "module 1 (Tanh): not in the format"),
    ("linear bias", [C(1, 2, 3), nn.Flatten(), nn.Linear(72, 3)], "module 2 (Linear): has a bias"),
    ("channels", [C(1, 2, 3), nn.ReLU(), C(3, 2, 3)], "module 2 (Conv2d): expects 3 input channels"),
    ("linear on an image", [C(1, 2, 3), nn.Linear(6, 3, bias=False)], "add a flatten layer"),
    ("last layer", [C(1, 2, 3), nn.ReLU()], "the last layer must be"),
]
for name, mods, want in refusals:
    try:
        hessnorm.export(nn.Sequential(*mods), os.path.join(T, "refused"), input_shape=(1, 8, 8))
        bad("refuses %s" % name)
    except ExportError as e:
        check(want in str(e) and "\n" not in str(e), "refuses %s: %s" % (name, e))
check(not os.path.exists(os.path.join(T, "refused")), "nothing written on a refusal")
for name, fn, want in [
    ("not a Sequential", lambda: hessnorm.export(nn.Conv2d(1, 2, 3, bias=False), T, input_shape=(1, 8, 8)),
     "needs a torch.nn.Sequential"),
    ("no input shape", lambda: hessnorm.export(nn.Sequential(C(1, 2, 3)), T), "input_shape"),
    ("x without y", lambda: hessnorm.export(nn.Sequential(C(1, 2, 6)), T, x=torch.rand(2, 1, 6, 6)),
     "both x= and y="),
    ("label out of range", lambda: hessnorm.export(nn.Sequential(C(1, 2, 6)).double(), T,
                                                   x=torch.rand(2, 1, 6, 6), y=torch.tensor([0, 2])),
     "y[1] = 2"),
]:
    try:
        fn()
        bad("refuses %s" % name)
    except ExportError as e:
        check(want in str(e) and "\n" not in str(e), "refuses %s: %s" % (name, e))

# python3 -m hessnorm export of a torch.save'd Sequential
env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "python"))
net = cases[1][3]
torch.save(net, os.path.join(T, "net.pt"))
x = torch.rand(3, 2, 7, 7, dtype=torch.float64)
np.save(os.path.join(T, "x.npy"), x.numpy())
np.save(os.path.join(T, "y.npy"), np.array([0, 1, 3]))
r = subprocess.run([sys.executable, "-m", "hessnorm", "export", os.path.join(T, "net.pt"),
                    os.path.join(T, "cli"), "--x", os.path.join(T, "x.npy"), "--y",
                    os.path.join(T, "y.npy")], capture_output=True, text=True, env=env)
j, err = inspect(os.path.join(T, "cli")) if r.returncode == 0 else (None, r.stderr)
check(j is not None and j["num_params"] == 75 * 8 + 54 + 32, "CLI export, then inspect " + err)
torch.save(nn.Sequential(nn.Conv2d(1, 2, 3)), os.path.join(T, "bias.pt"))
r = subprocess.run([sys.executable, "-m", "hessnorm", "export", os.path.join(T, "bias.pt"),
                    os.path.join(T, "cli2"), "--input", "1,8,8"], capture_output=True, text=True, env=env)
check(r.returncode == 1 and r.stderr.count("\n") == 1 and "module 0 (Conv2d): has a bias" in r.stderr,
      "CLI export refusal: one line, exit 1: %s" % r.stderr.strip())

# 3. load() of a model written by hessnorm experiment reproduces its logits
# (IDX files of 9 images of 8x8, as in tests/cli_experiment.sh, so that
# inspect's dense Hessian fits)
idx = os.path.join(T, "idx8")
os.makedirs(idx)
for s in ("train", "t10k"):
    pix = bytes((i * 37 + i // 7) % 256 for i in range(9 * 64))
    open(os.path.join(idx, s + "-images-idx3-ubyte"), "wb").write(
        bytes([0, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 8, 0, 0, 0, 8]) + pix)
    open(os.path.join(idx, s + "-labels-idx1-ubyte"), "wb").write(
        bytes([0, 0, 8, 1, 0, 0, 0, 9]) + bytes((3 * i) % 10 for i in range(9)))
r = subprocess.run([HN, "experiment", "--dataset", "fashion-mnist", "--sweep", "layers", "--preset",
                    "tiny", "--data", idx, "--out", os.path.join(T, "exp"), "--threads", "2",
                    "--no-figures"], capture_output=True, text=True)
check(r.returncode == 0, "hessnorm experiment --preset tiny on 8x8 images"
      + ("" if r.returncode == 0 else ": " + r.stderr.strip().split("\n")[-1]))
for setting in ("L2_k3_C6", "L3_k3_C6"):
    d = os.path.join(T, "exp", "models", setting)
    if not os.path.exists(os.path.join(d, "sample.safetensors")):
        bad("%s: no sample.safetensors" % setting)
        continue
    j, err = inspect(d)
    net = hessnorm.load(os.path.join(d, "model.json"), os.path.join(d, "weights.safetensors"))
    xs, ys = hessnorm.read_sample(os.path.join(d, "sample.safetensors"), os.path.join(d, "model.json"))
    with torch.no_grad():
        z = net(torch.from_numpy(xs))
    e = float((torch.tensor(j["logits"], dtype=torch.float64) - z).abs().max() / z.abs().max()) if j else float("inf")
    check(e <= RTOL and xs.shape == (9, 1, 8, 8),
          "%s: load(experiment's model) logits = hessnorm inspect's (rel err %.1e) %s" % (setting, e, err))

print("python_torch: %d passed, %d failed" % (passed, failed))
subprocess.run(["rm", "-rf", T])
sys.exit(1 if failed else 0)
