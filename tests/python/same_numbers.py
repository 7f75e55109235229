"""Compare the numbers of two JSON or CSV files to a relative tolerance.

    same_numbers.py RTOL A B [A2 B2 ...]

JSON: the same structure; every string, boolean and null equal; every
number within RTOL of its scale: |a - b| <= RTOL * s, where s is the
largest magnitude in the enclosing array of numbers (an eigenvalue list:
a small eigenvalue is only as accurate as the largest) or max(|a|, |b|)
elsewhere.  CSV: the same header and cells, numeric cells compared the
same way with s the column's largest magnitude.  Prints the largest
relative difference found; exit 1 on the first mismatch."""
import csv
import json
import sys

worst = [0.0, ""]


def close(a, b, scale, rtol, where):
    if a == b:
        return True
    s = max(abs(scale), abs(a), abs(b))
    d = abs(a - b) / s if s > 0 else abs(a - b)
    if d > worst[0]:
        worst[:] = [d, where]
    return d <= rtol


def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def walk(a, b, rtol, where, scale=None):
    if num(a) and num(b):
        return close(a, b, scale if scale is not None else 0.0, rtol, where)
    if type(a) is not type(b):
        print(f"{where}: {a!r} against {b!r}")
        return False
    if isinstance(a, dict):
        if sorted(a) != sorted(b):
            print(f"{where}: keys {sorted(a)} against {sorted(b)}")
            return False
        return all(walk(a[k], b[k], rtol, f"{where}.{k}") for k in a)
    if isinstance(a, list):
        if len(a) != len(b):
            print(f"{where}: {len(a)} entries against {len(b)}")
            return False
        nums = [abs(x) for x in a + b if num(x)]
        s = max(nums) if nums else None
        return all(walk(x, y, rtol, f"{where}[{i}]", s) for i, (x, y) in enumerate(zip(a, b)))
    if a != b:
        print(f"{where}: {a!r} against {b!r}")
        return False
    return True


def cell(v):
    try:
        return float(v)
    except ValueError:
        return None


def compare_csv(pa, pb, rtol):
    ra = list(csv.reader(open(pa)))
    rb = list(csv.reader(open(pb)))
    if len(ra) != len(rb) or ra[:1] != rb[:1]:
        print(f"{pa}: rows or header differ from {pb}")
        return False
    cols = max(len(r) for r in ra)
    scale = [0.0] * cols
    for r in ra[1:] + rb[1:]:
        for j, v in enumerate(r):
            x = cell(v)
            if x is not None:
                scale[j] = max(scale[j], abs(x))
    for i, (x, y) in enumerate(zip(ra[1:], rb[1:])):
        if len(x) != len(y):
            print(f"{pa}:{i + 2}: {len(x)} cells against {len(y)}")
            return False
        for j, (u, v) in enumerate(zip(x, y)):
            fu, fv = cell(u), cell(v)
            if fu is None or fv is None:
                if u != v:
                    print(f"{pa}:{i + 2}: {u!r} against {v!r}")
                    return False
            elif not close(fu, fv, scale[j], rtol, f"{pa}:{i + 2}:{ra[0][j]}"):
                print(f"{pa}:{i + 2}: column {ra[0][j]}: {u} against {v}")
                return False
    return True


def main():
    rtol = float(sys.argv[1])
    files = sys.argv[2:]
    ok = True
    for pa, pb in zip(files[::2], files[1::2]):
        if pa.endswith(".csv"):
            ok = compare_csv(pa, pb, rtol) and ok
        else:
            ok = walk(json.load(open(pa)), json.load(open(pb)), rtol, pa) and ok
    print(f"largest relative difference {worst[0]:.3g} ({worst[1] or 'none'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
