#!/usr/bin/python3
"""Collect a paper-preset run of `hessnorm experiment` into docs/results/ and
hold it against the paper's figures (issue 15, items 4 and 5).

    /usr/bin/python3 docs/results/collect.py RUN_DIR LOG docs/results

RUN_DIR holds one output folder per (data set, sweep), named DATASET-SWEEP
(e.g. fashion-mnist-layers), as docs/results/README.md's commands write them;
LOG is the run's log of begin/end lines.  Runs of earlier sittings that
are no longer in RUN_DIR (another machine, a lost folder) keep what DEST
already holds: their folders, their sections of comparison.md and their
rows of timing.md.  Copied: the figures, the small
CSVs, report.md, index.html, sweep.json and per model metrics.json,
timing.json and model.json -- never weights or samples.  curves.csv (a row
per k, up to 16 MB at 60,000 images) is copied thinned to curves_k.csv: the
k of the comparison, every 500th k and the last.  comparison.md: per
figure of the paper that exists for the data set, hessnorm's smoothed curve
(EMA 0.995 of the mean over 500 orders: the `_ema` columns) at the paper's
k against the value read off the published figure (paper_figures.csv, made
by read_figures.py), and the order of the curves on both sides.
Standard library only; deterministic output.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

SMALL = ("summary.csv", "corollary2.csv", "hessnorm_quantiles.csv", "tightness.csv",
         "report.md", "index.html", "sweep.json")
MODEL_FILES = ("metrics.json", "timing.json", "model.json")
PAPER_K = (10000, 30000, 60000)
# the paper's figure per (data set, sweep); pooling has none for these data sets
FIGURE = {("mnist", "layers"): "mnist_change_layers", ("mnist", "kernel"): "mnist_change_kers",
          ("mnist", "channels"): "mnist_change_channels",
          ("fashion-mnist", "layers"): "fashion_mnist_change_layers",
          ("fashion-mnist", "kernel"): "fashion_mnist_change_kers",
          ("fashion-mnist", "channels"): "fashion_mnist_change_channels"}
# relative difference of two values read within which the order is "≈" (the
# figures' reading uncertainty is 0.3-5.6 %, paper_figures.md)
TIE = 0.03


def setting_key(sweep, name):
    """hessnorm's setting name (L3_k3_C6, L5_k3_C12_max2) -> the paper's legend label."""
    m = re.match(r"L(\d+)_k(\d+)_C(\d+)", name)
    if not m:
        return name
    L, k, C = m.groups()
    return {"layers": "L=" + L, "kernel": "k=" + k, "channels": "C=" + C}.get(sweep, name)


def read_curves(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        head = next(r)
        rows = [row for row in r]
    return head, rows


def thin(head, rows, out, keep_k):
    last = int(rows[-1][0])
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(head)
        for row in rows:
            k = int(row[0])
            if k in keep_k or k % 500 == 0 or k == last:
                w.writerow(row)


def ema_at(head, rows, k):
    """{setting: ema value at k} (None past the curve's end)."""
    if k > len(rows):
        return None
    row = rows[k - 1]
    assert int(row[0]) == k, "curves.csv: k not consecutive"
    return {h[:-4]: float(v) for h, v in zip(head, row) if h.endswith("_ema")}


def order(vals):
    """'a>b≈c' from {label: value}, largest first."""
    items = sorted(vals.items(), key=lambda kv: -kv[1])
    s = items[0][0]
    for (a, va), (b, vb) in zip(items, items[1:]):
        s += ("≈" if abs(va - vb) <= TIE * max(va, vb) else ">") + b
    return s


def kendall(a, b):
    """Kendall's tau between two {label: value} on their common labels."""
    keys = sorted(set(a) & set(b))
    n = c = d = 0
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            x = (a[keys[i]] - a[keys[j]]) * (b[keys[i]] - b[keys[j]])
            n += 1
            c += x > 0
            d += x < 0
    return (c - d) / n if n else float("nan")


def paper_values(path):
    vals = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            vals.setdefault(row["figure"], {}).setdefault(int(row["k"]), {})[row["setting"].replace(" ", "")] = (
                float(row["value"]), float(row["rel_uncertainty"]))
    return vals


def walls(log):
    """{(dataset, sweep): [seconds of each run that ended]} from the log's end lines."""
    out = {}
    with open(log) as f:
        for line in f:
            m = re.match(r"\S+ end (\S+) (\S+) rc=(\d+) wall=(\d+)s(?: shard=(\S+))?", line)
            if m:
                out.setdefault((m.group(1), m.group(2)), []).append((int(m.group(4)), int(m.group(3)),
                                                                     m.group(5)))
    return out


def gp_str(s):
    """a gnuplot double-quoted string (paths here are the script's own: no control bytes)"""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bounds(src, out, ds, sweep, md):
    """Beyond the paper: per setting, the measured |L_{k+1} - L_k|, eq. (1)'s Hessian term and
    Corollary 2's right side at the largest k of corollary2.csv, and ||H_O|| of the first tightness
    sample against the paper's bound on it (Lemma 5, else Lemma 2), as a table in md and a
    log-scale figure."""
    with open(os.path.join(src, "corollary2.csv"), newline="") as f:
        cor = [r for r in csv.DictReader(f) if r["computed"] == "1"]
    # the printed bound on ||H_O|| that applies: Lemma 5 (conv + FC head), else Lemma 2
    tight = {}
    with open(os.path.join(src, "tightness.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["claim"] in ("lemma5", "lemma2") and r["status"] != "n/a" and (
                    r["setting"] not in tight or r["claim"] == "lemma5"):
                tight[r["setting"]] = r
    if not cor:
        return
    kmax = max(int(r["k"]) for r in cor)
    rows = [r for r in cor if int(r["k"]) == kmax]
    md.append("\n### Beyond the paper: %s %s, measured against the bounds (k = %d)\n" % (ds, sweep, kmax))
    md.append("| setting | mean abs(L_{k+1} - L_k) | eq. (1) Hessian term | Corollary 2 right side | "
              "||H_O|| (sample 1) | its bound (sample 1) | largest ratio, 8 samples |")
    md.append("|---|---|---|---|---|---|---|")
    dat = []
    for i, r in enumerate(rows):
        t = tight.get(r["setting"])
        ho = float(t["measured"]) if t else float("nan")
        lb = float(t["bound"]) if t else float("nan")
        md.append("| %s | %.3g | %.3g | %.3g | %.3g | %s | %s |" % (
            r["setting"], float(r["loss_diff_mean"]), float(r["eq1_hessian_term"]), float(r["rhs"]), ho,
            "%.3g (%s)" % (lb, t["claim"]) if t else "n/a", "%.2g" % float(t["batch_max"]) if t else "n/a"))
        dat.append("%d %s %s %s %s %r %r" % (i, r["setting"], r["loss_diff_mean"], r["eq1_hessian_term"], r["rhs"],
                                             ho, lb))
    datf = os.path.join(out, "bounds.dat")
    with open(datf, "w") as f:
        f.write("# index setting loss_diff eq1_hessian_term corollary2_rhs HO_sample1 HO_bound_sample1\n" + "\n".join(dat) + "\n")
    png = os.path.join(out, "%s_%s_bounds.png" % (ds.replace("-", "_"), sweep))
    gp = "\n".join([
        "set terminal pngcairo size 900,560 noenhanced", "set output " + gp_str(png), "set logscale y",
        "set format y '1e%T'", "set grid", "set key below maxrows 2",
        "set title " + gp_str("%s, %s sweep, paper preset: measured (solid) and the paper's bounds (dashed), k = %d"
                              % (ds, sweep, kmax)),
        "set xtics rotate by -30", "set xlabel 'setting'",
        "plot %s using 1:3:xtic(2) with linespoints lw 2 title 'mean |L_{k+1} - L_k|', "
        "'' using 1:4 with linespoints lw 2 title 'eq. (1) Hessian term', "
        "'' using 1:5 with linespoints dt 2 lw 2 title 'Corollary 2 right side', "
        "'' using 1:6 with linespoints lw 2 title '||H_O|| (sample 1)', "
        "'' using 1:7 with linespoints dt 2 lw 2 title 'its bound (Lemma 5, or 2 with pooling)'" % gp_str(datf), ""])
    subprocess.run(["gnuplot"], input=gp.encode(), check=True)
    md.append("\n![%s %s: measured against the bounds](%s/%s)\n" % (ds, sweep, os.path.basename(out),
                                                                  os.path.basename(png)))


def kept_sections(dest, rebuilt):
    """{folder: text} of comparison.md's sections of the runs not rebuilt now, and timing.md's rows"""
    secs, rows = {}, {}
    path = os.path.join(dest, "comparison.md")
    if os.path.isfile(path):
        text = open(path).read()
        for part in text.split("\n## ")[1:]:
            m = re.match(r"\S+ \((\S+), (\S+) sweep", part) or re.match(r"(\S+) (\S+) \(no figure", part)
            if m and "%s-%s" % (m.group(1), m.group(2)) not in rebuilt:
                # the join of the lines adds back the newline that ends the part
                secs["%s-%s" % (m.group(1), m.group(2))] = "\n## " + (part[:-1] if part.endswith("\n") else part)
    path = os.path.join(dest, "timing.md")
    if os.path.isfile(path):
        for line in open(path):
            m = re.match(r"\| (\S+) \| \d+ \|", line)
            if m and m.group(1) not in rebuilt:
                rows[m.group(1)] = line.rstrip("\n")
    return secs, rows


def main(run, log, dest):
    paper = paper_values(os.path.join(dest, "paper_figures.csv"))
    wall = walls(log)
    runs = sorted(d for d in os.listdir(run) if os.path.isfile(os.path.join(run, d, "sweep.json")))
    cmp_md = ["# hessnorm against the paper's figures\n",
              "Made by `collect.py` from the run described in README.md.  hessnorm: the EMA-0.995 "
              "curve of the mean |L_{k+1} - L_k| over 500 orders at the trained weights (bias-free "
              "networks); paper: the value read off the published figure (paper_figures.md, with "
              "its reading uncertainty).  Order: largest first, '≈' within %d %%.  tau: Kendall's "
              "tau between the two orders (1 = the same order).\n" % round(TIE * 100)]
    timing_md = ["| run | models | wall (s) | sum of the models' total_seconds | threads |", "|---|---|---|---|---|"]
    old_secs, old_rows = kept_sections(dest, set(runs))
    for d in sorted(set(runs) | set(old_secs) | set(old_rows)):
        if d not in runs:
            if d in old_secs:
                cmp_md.append(old_secs[d])
            if d in old_rows:
                timing_md.append(old_rows[d])
            continue
        src, out = os.path.join(run, d), os.path.join(dest, d)
        sw = json.load(open(os.path.join(src, "sweep.json")))
        ds, sweep = sw["dataset"], sw["sweep"]
        os.makedirs(out, exist_ok=True)
        for name in sorted(os.listdir(src)):
            if name.endswith(".png") or name in SMALL:
                shutil.copyfile(os.path.join(src, name), os.path.join(out, name))
        tot, n, threads = 0.0, 0, set()
        for m in sorted(os.listdir(os.path.join(src, "models"))):
            md = os.path.join(src, "models", m)
            if not os.path.isfile(os.path.join(md, "metrics.json")):
                continue  # not finished
            os.makedirs(os.path.join(out, "models", m), exist_ok=True)
            for name in MODEL_FILES:
                shutil.copyfile(os.path.join(md, name), os.path.join(out, "models", m, name))
            t = json.load(open(os.path.join(md, "timing.json")))
            tot += t["total_seconds"]
            threads.add(t["threads"])
            n += 1
        w = wall.get((ds, sweep), [])
        timing_md.append("| %s | %d | %s | %.0f | %s |" % (
            d, n, " + ".join("%d%s%s" % (s, "" if rc == 0 else " (rc %d)" % rc, " (shard %s)" % sh if sh else "")
                       for s, rc, sh in w) or "n/a",
            tot, ",".join(str(x) for x in sorted(threads))))
        head, rows = read_curves(os.path.join(src, "curves.csv"))
        thin(head, rows, os.path.join(out, "curves_k.csv"), set(PAPER_K))
        fig = FIGURE.get((ds, sweep))
        beyond = []
        bounds(src, out, ds, sweep, beyond)
        if not fig:
            cmp_md.append("\n## %s %s (no figure of the paper for this data set)\n" % (ds, sweep))
            cmp_md.extend(beyond)
            continue
        n_train = len(rows)
        cmp_md.append("\n## %s (%s, %s sweep; %d training images)\n" % (fig, ds, sweep, n_train + 1))
        # the curves end at k = n - 1 (L_{k+1} needs k + 1 samples): the paper's k = 60000 is the last k
        ks = [k for k in PAPER_K if k <= n_train + 1]
        if not ks:
            ours_k = [k for k in (n_train // 6, n_train // 2, n_train) if k >= 1]
            cmp_md.append("The curves end at k = %d, before the paper's first k = 10000: magnitudes are not "
                          "comparable (|L_{k+1} - L_k| falls like 1/k); the orders are compared, hessnorm at "
                          "k = %s against the paper at k = 10000 and 60000.\n" % (n_train, ", ".join(map(str, ours_k))))
            p10, p60 = paper[fig][10000], paper[fig][60000]
            pv10 = {s: v for s, (v, _) in p10.items()}
            pv60 = {s: v for s, (v, _) in p60.items()}
            cmp_md.append("| | order | tau vs paper k=10000 | tau vs paper k=60000 |\n|---|---|---|---|")
            cmp_md.append("| paper, k = 10000 | %s | | |" % order(pv10))
            cmp_md.append("| paper, k = 60000 | %s | | |" % order(pv60))
            for k in ours_k:
                ov = {setting_key(sweep, s): v for s, v in ema_at(head, rows, k).items()}
                cmp_md.append("| hessnorm, k = %d | %s | %.2f | %.2f |" % (k, order(ov), kendall(ov, pv10),
                                                                          kendall(ov, pv60)))
            cmp_md.extend(beyond)
            continue
        cmp_md.append("| setting | " + " | ".join("hessnorm k=%d | paper k=%d | ratio" % (min(k, n_train), k)
                                                for k in ks) + " |")
        cmp_md.append("|---" * (1 + 3 * len(ks)) + "|")
        ours = {k: {setting_key(sweep, s): v for s, v in ema_at(head, rows, min(k, n_train)).items()} for k in ks}
        labels = sorted(ours[ks[0]], key=lambda s: float(s.split("=")[1]) if "=" in s else 0)
        for s in labels:
            cells = []
            for k in ks:
                o = ours[k][s]
                p = paper[fig].get(k, {}).get(s)
                cells.append("%.3g | %s | %s" % (o, "%.3g ± %.0f%%" % (p[0], 100 * p[1]) if p else "n/a",
                                                 "%.2f" % (o / p[0]) if p else "n/a"))
            cmp_md.append("| %s | %s |" % (s, " | ".join(cells)))
        cmp_md.append("")
        for k in ks:
            pv = {s: v for s, (v, _) in paper[fig].get(k, {}).items()}
            cmp_md.append("- k = %d: hessnorm %s; paper %s; tau %.2f" % (k, order(ours[k]), order(pv),
                                                                       kendall(ours[k], pv)))
        cmp_md.extend(beyond)
    with open(os.path.join(dest, "comparison.md"), "w") as f:
        f.write("\n".join(cmp_md) + "\n")
    with open(os.path.join(dest, "timing.md"), "w") as f:
        f.write("# Wall time of each run\n\nFrom the run's log (a run killed and resumed has one entry per "
                "sitting; a run split into shards one per shard, shards may have run at the same time, "
                "one process per core) and the models' timing.json.\n\n" + "\n".join(timing_md) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: collect.py RUN_DIR LOG DEST")
    main(*sys.argv[1:])
