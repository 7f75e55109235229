#!/usr/bin/env python3
"""PyTorch peer of bench/bench.c: one benchmark row per invocation, on the
same networks, weights and samples (raw float64 files written by bench.c
into --data), on CPU with --threads threads.  Prints one line:

  row=<name> seconds=<t> value=<v> iters=<i> maxrss_kb=<k>

seconds is the timed part only (model construction, data loading and
warm-up excluded).  Rows:
  train_f64 / train_f32  one Adam step (lr 1e-3), batch 64, --layers L
                         (k = 3, C = 6) or --net L5_C42 / L5_C12_max4 ...
                         (bench.c's names: C channels, 2x2 max or avg
                         pooling after the given 0-based conv)
  jac_ho                 per sample: Jacobian of the 10 logits and ||H_O||
                         by the K x K form, --net, --dtype f64 or f32
                         (weights <net>.bin written by bench.c)
  loss60k                per-sample cross-entropy of 60,000 random 28x28
                         images (batches of 16, reduction='none': PyTorch's
                         fastest batch here; 1000 is 9x slower in float64)
  ho                     exact per-sample ||H_O|| = lambda_max(A^1/2 J J^T
                         A^1/2), J by torch.autograd.functional.jacobian;
                         seconds per sample
  topeig                 top eigenvalue of the mean Hessian over --n
                         samples by power iteration with double-backward
                         HVPs (PyHessian's rule: stop when the relative
                         change is < 1e-3, at most 100 iterations)
  dense                  full Hessian (torch.autograd.functional.hessian)
                         of the mean loss over --n samples + eigvalsh
  inspect                what `hessnorm inspect --matrix-free` reports on
                         --n samples (L3, P = 29,742): loss, gradient,
                         lambda_max and lambda_min of the mean H (Lanczos,
                         full reorthogonalisation, double-backward HVPs,
                         stop at residual <= 1e-10 ||H||: hessnorm's rule),
                         its trace by 16 Hutchinson probes (hessnorm's
                         default) and exactly (= trace H_O), per-sample
                         Jacobians (functorch vmap(jacrev)) and K x K Grams
                         for every ||H_O,i||, ||mean H_O|| by Lanczos on
                         J^T A J v from those Jacobians, ||H - H_O|| by
                         Lanczos on the difference of the two products:
                         everything hessnorm computes, to the same rule.
                         With --check FILE (hessnorm's JSON) it also prints
                         check_max_rel=<largest relative difference>.
"""
import argparse
import os
import re
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def parse_net(spec):
    """bench.c's arch_of: "L5", "L5_C42", "L5_C12_max4" -> (L, C, pool, pos);
    pos is the 0-based conv followed by the 2x2 pooling."""
    m = re.fullmatch(r"L(\d+)(?:_C(\d+))?(?:_(max|avg)(\d+))?", spec)
    if not m:
        raise SystemExit("peer_torch: bad --net %r" % spec)
    return int(m.group(1)), int(m.group(2) or 6), m.group(3), int(m.group(4) or 0)


def build(L, k, C, h, dtype, pool=None, pos=0):
    """hessnorm's hn_arch_model: without pooling a ReLU after every conv but
    the last; with pooling every conv is followed by ReLU or the pooling."""
    layers, c = [], 1
    for i in range(L):
        layers.append(nn.Conv2d(c, C, k, bias=False))
        c, h = C, h - k + 1
        if pool:
            if i == pos:
                layers.append(nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2))
                h //= 2
            else:
                layers.append(nn.ReLU())
        elif i + 1 < L:
            layers.append(nn.ReLU())
    layers += [nn.Flatten(), nn.Linear(C * h * h, 10, bias=False)]
    return nn.Sequential(*layers).to(dtype)


def build_net(a, dtype):
    """--net if given, else --layers (k = 3, C = 6), on 28 x 28 inputs."""
    if a.net:
        L, C, pool, pos = parse_net(a.net)
        return build(L, 3, C, 28, dtype, pool, pos)
    return build(a.layers, 3, 6, 28, dtype)


def load_theta(model, path):
    """theta = the concatenated state_dict (hessnorm's convention)."""
    th = np.fromfile(path, dtype=np.float64)
    off = 0
    with torch.no_grad():
        for p in model.parameters():
            n = p.numel()
            p.copy_(torch.from_numpy(th[off:off + n].reshape(p.shape)))
            off += n
    assert off == th.size, (off, th.size)


def load_samples(d, tag, n, h):
    x = np.fromfile(os.path.join(d, tag + "_x.bin"), dtype=np.float64)
    y = np.fromfile(os.path.join(d, tag + "_y.bin"), dtype=np.int64)
    x = torch.from_numpy(x[: n * h * h].reshape(n, 1, h, h).copy())
    return x, torch.from_numpy(y[:n].copy())


def row_train(a, dtype):
    torch.manual_seed(0)
    model = build_net(a, dtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(64 * 8, 1, 28, 28, dtype=dtype)
    y = torch.randint(0, 10, (64 * 8,))

    def step(i):
        xb, yb = x[(i % 8) * 64:(i % 8 + 1) * 64], y[(i % 8) * 64:(i % 8 + 1) * 64]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for i in range(5):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss = step(i)
    return (time.perf_counter() - t0) / a.steps, float(loss), a.steps


def row_loss60k(a):
    torch.manual_seed(0)
    model = build(3, 3, 6, 28, torch.float64).eval()
    x = torch.rand(60000, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (60000,))
    out = torch.empty(60000, dtype=torch.float64)
    with torch.no_grad():
        bs = 16
        model(x[:bs])
        t0 = time.perf_counter()
        for b in range(0, 60000, bs):
            out[b:b + bs] = F.cross_entropy(model(x[b:b + bs]), y[b:b + bs], reduction="none")
        t = time.perf_counter() - t0
    return t, float(out.mean()), 60000


def functional_net(model, h):
    """logits(params_flat, x) for the bias-free stack of model (its modules
    in order, the weights taken from flat)."""
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    mods = list(model)

    def f(flat, x):
        ws, off = [], 0
        for s, n in zip(shapes, sizes):
            ws.append(flat[off:off + n].view(s))
            off += n
        z, j = x, 0
        for mod in mods:
            if isinstance(mod, nn.Conv2d):
                z, j = F.conv2d(z, ws[j]), j + 1
            elif isinstance(mod, nn.Linear):
                z, j = F.linear(z, ws[j]), j + 1
            else:
                z = mod(z)
        return z

    return f


def ho_norm(J, z):
    """||J^T A J|| = lambda_max(A^1/2 J J^T A^1/2), A = diag(p) - p p^T of
    the logits z (K), J the K x P logit Jacobian."""
    p = torch.softmax(z, 0)
    A = torch.diag(p) - torch.outer(p, p)
    lam, V = torch.linalg.eigh(A)
    Ah = V @ torch.diag(lam.clamp(min=0).sqrt()) @ V.T
    G = J @ J.T
    return float(torch.linalg.eigvalsh(Ah @ G @ Ah)[-1])


def row_ho(a):
    model = build(3, 3, 6, 28, torch.float64)
    load_theta(model, os.path.join(a.data, "L3.bin"))
    x, y = load_samples(a.data, "hess", a.n, 28)
    f = functional_net(model, 28)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])

    def one(i):
        xi = x[i:i + 1]
        J = torch.autograd.functional.jacobian(lambda th: f(th, xi)[0], flat, vectorize=a.vectorize)
        return ho_norm(J, f(flat, xi)[0].detach())

    one(0)
    t0 = time.perf_counter()
    v = [one(i) for i in range(a.n)]
    return (time.perf_counter() - t0) / a.n, v[0], a.n


def row_jac_ho(a):
    """What hessnorm's experiment does per sample (src/experiment/measure.c):
    the Jacobian of the 10 logits (in --dtype), then ||H_O|| = lambda_max of
    the K x K form A^1/2 J J^T A^1/2.  The Jacobian by whichever of
    autograd.functional.jacobian(vectorize=True) and 10 backward passes is
    faster here (timed on 2 warm-up samples, named on stderr)."""
    dt = torch.float64 if a.dtype == "f64" else torch.float32
    model = build_net(a, torch.float64)
    load_theta(model, os.path.join(a.data, a.net + ".bin"))
    model = model.to(dt)
    x, _ = load_samples(a.data, "hess", a.n, 28)
    x = x.to(dt)
    f = functional_net(model, 28)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])

    def jac_vec(xi):
        return torch.autograd.functional.jacobian(lambda th: f(th, xi)[0], flat, vectorize=True)

    def jac_loop(xi):
        th = flat.clone().requires_grad_(True)
        z = f(th, xi)[0]
        return torch.stack([torch.autograd.grad(z[k], th, retain_graph=k < 9)[0] for k in range(10)])

    def one(i, jac):
        xi = x[i:i + 1]
        return ho_norm(jac(xi), f(flat, xi)[0].detach())

    best, name = None, None
    for nm, jac in (("vectorize", jac_vec), ("10 backward", jac_loop)):
        one(0, jac)
        t0 = time.perf_counter()
        one(1, jac)
        tj = time.perf_counter() - t0
        if best is None or tj < best[0]:
            best, name = (tj, jac), nm
    print("jac_ho: %s (%s)" % (name, a.dtype), file=sys.stderr)
    t0 = time.perf_counter()
    v = [one(i, best[1]) for i in range(a.n)]
    return (time.perf_counter() - t0) / a.n, v[0], a.n


def row_topeig(a):
    model = build(3, 3, 6, 28, torch.float64)
    load_theta(model, os.path.join(a.data, "L3.bin"))
    x, y = load_samples(a.data, "hess", a.n, 28)
    params = list(model.parameters())
    t0 = time.perf_counter()
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    g = torch.Generator().manual_seed(1)
    v = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in params]
    nv = torch.sqrt(sum((vi * vi).sum() for vi in v))
    v = [vi / nv for vi in v]
    lam, it = None, 0
    for it in range(1, 101):
        Hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        new = float(sum((h * vi).sum() for h, vi in zip(Hv, v)))
        nh = torch.sqrt(sum((h * h).sum() for h in Hv))
        v = [h / nh for h in Hv]
        if lam is not None and abs(new - lam) < 1e-3 * (abs(lam) + 1e-6):
            lam = new
            break
        lam = new
    return time.perf_counter() - t0, lam, it


def row_dense(a):
    model = build(5, 3, 6, 14, torch.float64)
    load_theta(model, os.path.join(a.data, "L5s.bin"))
    x, y = load_samples(a.data, "dense", a.n, 14)
    f = functional_net(model, 14)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    t0 = time.perf_counter()
    H = torch.autograd.functional.hessian(lambda th: F.cross_entropy(f(th, x), y), flat)
    t1 = time.perf_counter()
    ev = torch.linalg.eigvalsh(H)
    t2 = time.perf_counter()
    print("dense_parts hessian=%.6f eigvalsh=%.6f" % (t1 - t0, t2 - t1), file=sys.stderr)
    return t2 - t0, float(ev[-1]), flat.numel()


def lanczos(mv, n, rtol=1e-10, max_iter=300, seed=1):
    """Extreme eigenvalues of the symmetric mv on R^n: Lanczos with full
    reorthogonalisation (classical Gram-Schmidt twice), hessnorm's stop:
    both extreme residuals <= rtol * norm."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, generator=g, dtype=torch.float64)
    Q = torch.zeros(min(max_iter, n) + 1, n, dtype=torch.float64)
    Q[0] = q / q.norm()
    al, be = [], []
    for j in range(min(max_iter, n)):
        w = mv(Q[j])
        a_j = 0.0
        for _ in range(2):  # the projections' j-th coefficients are alpha_j (as hessnorm)
            h = Q[: j + 1] @ w
            w = w - Q[: j + 1].T @ h
            a_j += float(h[j])
        al.append(a_j)
        b = float(w.norm())
        T = torch.diag(torch.tensor(al, dtype=torch.float64))
        for i in range(j):
            T[i, i + 1] = T[i + 1, i] = be[i]
        ev, S = torch.linalg.eigh(T)
        nrm = max(abs(float(ev[0])), abs(float(ev[-1])))
        res = b * max(abs(float(S[-1, 0])), abs(float(S[-1, -1])))
        if res <= rtol * nrm or b == 0.0:
            break
        be.append(b)
        Q[j + 1] = w / b
    return float(ev[-1]), float(ev[0]), j + 1


def row_inspect(a):
    import functorch
    import json
    model = build(3, 3, 6, 28, torch.float64)
    load_theta(model, os.path.join(a.data, "L3.bin"))
    x, y = load_samples(a.data, "hess", a.n, 28)
    f = functional_net(model, 28)
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    P = flat.numel()
    t0 = time.perf_counter()
    th = flat.clone().requires_grad_(True)
    loss = F.cross_entropy(f(th, x), y)
    (grad,) = torch.autograd.grad(loss, th, create_graph=True)

    def hvp(v):
        (h,) = torch.autograd.grad(grad, th, grad_outputs=v, retain_graph=True)
        return h.detach()

    lmax, lmin, it_h = lanczos(hvp, P)
    t1 = time.perf_counter()
    # per-sample Jacobians (N x K x P), A_i, and the K x K Grams
    J = functorch.vmap(functorch.jacrev(lambda t, xi: f(t, xi[None])[0]), in_dims=(None, 0))(flat, x)
    p = torch.softmax(f(flat, x).detach(), 1)
    A = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    lam, V = torch.linalg.eigh(A)
    Ah = V @ torch.diag_embed(lam.clamp(min=0).sqrt()) @ V.transpose(1, 2)
    G = J @ J.transpose(1, 2)
    ho = torch.linalg.eigvalsh(Ah @ G @ Ah)[:, -1]
    N = x.shape[0]

    Jm = J.reshape(N * J.shape[1], P)  # a view: two GEMVs per product, no copy of J

    def gnvp(v):
        u = torch.bmm(A, (Jm @ v).view(N, -1, 1)).view(-1)
        return (Jm.T @ u) / N

    # trace H = trace H_O (diag H_F = 0), exactly from the Grams, and hessnorm's
    # Hutchinson check: 16 Rademacher probes z^T H z
    trace = float(torch.einsum("nkk->", Ah @ G @ Ah)) / N
    gz = torch.Generator().manual_seed(2)
    hut = [float(z @ hvp(z)) for z in
           (torch.randint(0, 2, (P,), generator=gz, dtype=torch.float64) * 2 - 1 for _ in range(16))]
    t2 = time.perf_counter()
    homax, _, it_o = lanczos(gnvp, P)
    t3 = time.perf_counter()
    hfmax, hfmin, it_f = lanczos(lambda v: hvp(v) - gnvp(v), P)
    t = time.perf_counter() - t0
    vals = {"loss": float(loss), "grad_norm": float(grad.detach().norm()), "lambda_max": lmax,
            "lambda_min": lmin, "ho_norm": homax, "ho_samples": [float(v) for v in ho], "trace": trace,
            "hf_norm": max(abs(hfmax), abs(hfmin))}
    print("inspect_parts lanczos_H=%d products %.2fs, jacobians+grams+hutchinson(16, mean %.6g) %.2fs, "
          "lanczos_HO=%d products %.2fs, lanczos_H-H_O=%d products %.2fs"
          % (it_h, t1 - t0, np.mean(hut), t2 - t1, it_o, t3 - t2, it_f, t0 + t - t3), file=sys.stderr)
    if a.check:
        with open(os.path.join(a.data, a.check)) as fh:
            h = json.load(fh)
        got = {"loss": h["loss"], "grad_norm": h["grad_norm"], "lambda_max": h["hessian"]["max_eigenvalue"],
               "lambda_min": h["hessian"]["min_eigenvalue"], "ho_norm": h["hessian_outer"]["norm"],
               "ho_samples": h["hessian_outer"]["sample_norms"], "trace": h["hessian"]["trace"],
               "hf_norm": h["hessian_functional_norm"]}
        worst, where = 0.0, ""
        for k, v in vals.items():
            for i, (u, w) in enumerate(zip(v if isinstance(v, list) else [v],
                                           got[k] if isinstance(v, list) else [got[k]])):
                r = abs(u - w) / max(abs(u), 1e-300)
                if r > worst:
                    worst, where = r, "%s[%d]" % (k, i)
        print("check_max_rel=%.3g at %s" % (worst, where))
    return t, lmax, it_h + it_o + it_f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--row", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--data", default="bench/.data")
    ap.add_argument("--vectorize", action="store_true")
    ap.add_argument("--check", default=None)
    ap.add_argument("--net", default=None)
    ap.add_argument("--dtype", default="f64", choices=["f64", "f32"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = {
        "train_f64": lambda: row_train(a, torch.float64),
        "train_f32": lambda: row_train(a, torch.float32),
        "loss60k": lambda: row_loss60k(a),
        "ho": lambda: row_ho(a),
        "topeig": lambda: row_topeig(a),
        "dense": lambda: row_dense(a),
        "inspect": lambda: row_inspect(a),
        "jac_ho": lambda: row_jac_ho(a),
    }
    t, v, it = rows[a.row]()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("row=%s seconds=%.9g value=%.17g iters=%d maxrss_kb=%d" % (a.row, t, v, it, rss))


if __name__ == "__main__":
    main()
