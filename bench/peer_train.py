#!/usr/bin/env python3
"""PyTorch peer of bench/bench_train.c: the same section-VI networks
(bias-free convs, ReLU after every conv but the last, or after every conv
with the pooling replacing one ReLU; flatten; linear 10), float64 on CPU,
the same thread count, Adam lr 1e-3 with batch 64 for one epoch over n
random 28x28 images, then the per-sample-loss pass, two ways: batched
(reduction='none', batches of 1024) and one sample at a time (the authors'
loop).  Prints one line per network:
  pytorch <setting> threads=T train_img_per_s=X eval_img_per_s=Y eval_loop_img_per_s=Z
"""
import argparse
import time

import torch
import torch.nn.functional as F

from peer_torch import build  # the same networks as bench/bench.c (bench/ is on sys.path)


def bench(L, k, C, pool, pos, n, threads):
    torch.manual_seed(1)
    x = torch.rand(n, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (n,))
    model = build(L, k, C, 28, torch.float64, pool, pos)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    perm = torch.randperm(n)
    for s in range(0, n, 64):
        idx = perm[s:s + 64]
        opt.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    train = n / (time.perf_counter() - t0)
    with torch.no_grad():
        t0 = time.perf_counter()
        for s in range(0, n, 1024):
            F.cross_entropy(model(x[s:s + 1024]), y[s:s + 1024], reduction="none")
        ev = n / (time.perf_counter() - t0)
        m = min(n, 512)
        t0 = time.perf_counter()
        for i in range(m):
            F.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
        loop = m / (time.perf_counter() - t0)
    name = "L%d_k%d_C%d" % (L, k, C) + ("_%spool%d" % (pool, pos) if pool else "")
    print("pytorch %s threads=%d train_img_per_s=%.1f eval_img_per_s=%.1f eval_loop_img_per_s=%.1f"
          % (name, threads, train, ev, loop), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--n", type=int, default=2048)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for L, k, C, pool, pos in [(2, 3, 6, None, 0), (7, 3, 6, None, 0), (4, 5, 6, None, 0),
                               (5, 3, 24, None, 0), (5, 3, 12, "max", 2)]:
        bench(L, k, C, pool, pos, a.n, a.threads)


if __name__ == "__main__":
    main()
