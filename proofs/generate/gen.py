#!/usr/bin/env python3
"""Expand proof templates: a line '@@claim:ID@@' becomes the tag line
'[claim: ID]' followed by a blockquote with the audit evidence; '@@v:ID@@'
inline becomes the verdict word."""
import json, re, os, sys, math
# usage: gen.py TEMPLATES OUT_DIR [AUDIT_DIR]  (AUDIT_DIR: a 'hessnorm audit' output, default audit-out)
AUD = sys.argv[3] if len(sys.argv) > 3 else 'audit-out'
d = json.load(open(f'{AUD}/audit.json'))
C = {c['id']: c for c in d['claims']}
corrected_by = {c['corrects']: c['id'] for c in d['claims'] if c['corrects']}

def g(x):
    if x is None: return '∞'
    if x == 0: return '0'
    if abs(x - 1) < 1e-12: return '1'
    return f'{x:.4g}'

def cx(cid):
    p = f'{AUD}/counterexamples/{cid}/claim.json'
    if not os.path.exists(p): return None
    j = json.load(open(p)); n = j['network']
    net = (f"{n['dim']}-D, {n['conv_layers']} conv + {n['fc_layers']} FC, input "
           f"{n['in_channels']}×{n['in_h']}×{n['in_w']}, {'MSE' if n['mse'] else 'CE'}, K={n['classes']}")
    if n['pooling'] != 'none':
        net += f", {n['pooling']}-pool at l={n['pool_l']}"
    det = f"; {j['detail']}" if j.get('detail') else ''
    r = j['ratio']
    return (f"counterexample `counterexamples/{cid}/` (measured {g(j['measured'])} vs bound {g(j['bound'])}, "
            f"ratio {g(r) if r is not None else '∞'}; family {j['family']}; {net}; {j['num_params']} parameters{det})")

def ev(cid):
    c = C[cid]; v = c['verdict']; n = c['samples']
    if v == 'typo':
        s = f"> **typo** — not well-formed as printed ({c['reading']}), so not evaluated (0 samples)"
        if cid in corrected_by: s += f"; corrected by `{corrected_by[cid]}`"
        return s + '.'
    if n == 0:
        return f"> **{v}** — 0 samples: the audit never evaluated this claim."
    parts = [f"**{v}**", f"{n} samples", f"{c['violations']} violations ({100*c['violation_rate']:.3g} %)"]
    if c['relation'] == '=':
        parts.append(f"worst relative discrepancy {c['worst_discrepancy']:.3g}")
        if c['worst_ratio'] is not None and abs(c['worst_ratio'] - 1) > 1e-9:
            parts.append(f"ratio of the two sides {g(c['worst_ratio'])} (median {g(c['median_ratio'])})")
    else:
        w = c['worst_ratio']
        parts.append(f"worst ratio {g(w)}" + (" (bound 0, measured > 0)" if w is None else ''))
        parts.append(f"median {g(c['median_ratio'])}")
        if c['local_search_ratio'] is not None:
            parts.append(f"Nelder–Mead end ratio {g(c['local_search_ratio'])}")
    s = '> ' + ' · '.join(parts)
    x = cx(cid) if c['counterexample'] else None
    if x: s += ' · ' + x
    if c['corrects']: s += f" · corrects `{c['corrects']}`"
    if cid in corrected_by: s += f" · corrected by `{corrected_by[cid]}`"
    return s

BAD = []
if any(c['verdict'] == 'untested' or (c['samples'] == 0 and c['verdict'] != 'typo') for c in d['claims']):
    print('ASSERTION FAILED: untested claims present', file=sys.stderr); BAD.append('untested')
def expand(text):
    out = []
    for line in text.split('\n'):
        a = re.fullmatch(r'\s*@@assert:([^:@]+):([^@]+)@@\s*', line)
        if a:
            cid, cond = a.group(1), a.group(2)
            c = C[cid]
            ok = {'zero': c['violations'] == 0, 'some': c['violations'] > 0}.get(cond, c['verdict'] == cond)
            if not ok: print(f'ASSERTION FAILED: {cid} expected {cond}, got {c["verdict"]} with {c["violations"]} violations', file=sys.stderr); BAD.append(cid)
            continue
        m = re.fullmatch(r'\s*@@claim:([^@]+)@@\s*', line)
        if m:
            cid = m.group(1)
            assert cid in C, cid
            out.append(f'[claim: {cid}]'); out.append(ev(cid)); out.append('')
        else:
            line = re.sub(r'@@v:([^@]+)@@', lambda m: C[m.group(1)]['verdict'], line)
            line = re.sub(r'@@n:([^@]+)@@', lambda m: str(C[m.group(1)]['samples']), line)
            line = re.sub(r'@@viol:([^@]+)@@', lambda m: str(C[m.group(1)]['violations']), line)
            line = re.sub(r'@@rate:([^@]+)@@', lambda m: f"{100*C[m.group(1)]['violation_rate']:.3g} %", line)
            line = re.sub(r'@@worst:([^@]+)@@', lambda m: g(C[m.group(1)]['worst_ratio']), line)
            line = re.sub(r'@@med:([^@]+)@@', lambda m: g(C[m.group(1)]['median_ratio']), line)
            line = line.replace('@@ntypo@@', str(sum(c['verdict'] == 'typo' for c in d['claims'])))
            line = line.replace('@@nuntested@@', str(sum(c['verdict'] == 'untested' for c in d['claims'])))
            line = re.sub(r'@@meta:([a-z_]+)@@', lambda m: str(d[m.group(1)]).lower() if isinstance(d[m.group(1)], bool) else str(d[m.group(1)]), line)
            if line.strip() == '@@index@@':
                line = index_table()
            assert '@@' not in line, line
            out.append(line)
    return re.sub(r'\n{3,}', '\n\n', '\n'.join(out))

src, dst = sys.argv[1], sys.argv[2]
def index_table():
    where = {}
    for f in sorted(os.listdir(dst)):
        if f.endswith('.md') and f != 'README.md':
            for t in re.findall(r'\[claim: ([^\]]+)\]', open(os.path.join(dst, f)).read()):
                where.setdefault(t, [])
                if f not in where[t]: where[t].append(f)
    rows = ['| id | location | relation | verdict | tagged in |', '|---|---|---|---|---|']
    for c in d['claims']:
        fs = ', '.join(f'[{f}]({f})' for f in where.get(c['id'], [])) or '**missing**'
        rel = {'<=': '≤', '=': '=', '~': '≈'}.get(c['relation'], c['relation'])
        rows.append(f"| `{c['id']}` | {c['location']} | {rel} | {c['verdict']} | {fs} |")
    return '\n'.join(rows)
files = sorted(f for f in os.listdir(src) if f.endswith('.md'))
files = [f for f in files if f != 'README.md'] + (['README.md'] if 'README.md' in files else [])
for f in files:
    if True:
        open(os.path.join(dst, f), 'w').write(expand(open(os.path.join(src, f)).read()))
        print('wrote', f)

if BAD: sys.exit(1)
