#!/usr/bin/env python3
"""Expand the proof templates (and the README's audit section) with the
evidence of one `hessnorm audit` run, so that no number is typed by hand.

usage: gen.py TEMPLATES OUT_DIR [AUDIT_DIR] [--readme SRC OUT] [--draft]

  TEMPLATES  proofs/generate/tpl: every *.md there becomes OUT_DIR/*.md
  AUDIT_DIR  a `hessnorm audit` output (audit.json, counterexamples/);
             default audit-out
  --readme SRC OUT
             copy the README SRC to OUT with the text between
             '<!-- audit-findings:begin -->' and '<!-- audit-findings:end -->'
             replaced by the expansion of proofs/generate/readme_findings.md
  --draft    write the files even when an expectation fails, with a visible
             '[audit disagrees: ...]' marker where the text and the data part
             (exit 0); without it a failed expectation writes nothing, exits 1

Macros (ID a registry id; every one fails loudly on an unknown id):
  line '@@claim:ID@@'      the tag '[claim: ID]' and a blockquote with the evidence
  line '@@assert:ID:C@@'   C = zero | some (violations) | a verdict; no output
  @@expect:ID=V1|V2@@      inline, no output: the verdict of ID must be one of
                           V1, V2 (a verdict, or zero / some), else the run fails
  @@v:ID@@ verdict   @@basis:ID@@ its basis   @@n:ID@@ samples
  @@viol:ID@@ violations   @@rate:ID@@ violation rate   @@worst:ID@@ best ratio
  @@med:ID@@ median ratio   @@sup:ID@@ supremum ('1/(2√2) = 0.3536', '∞', '—')
  @@supkind:ID@@ exact | upper bound | none known
  @@ratio-of-sup:ID@@ best found / supremum   @@factor:ID@@ 1 / supremum
  @@cx:ID@@ the counterexample folder   @@cx-ratio:ID@@ its measured / bound
  @@count:VERDICT@@ claims with that verdict   @@nclaims@@ registry size
  @@ntypo@@ @@nuntested@@   @@list:VERDICT@@ the ids (CE/any claims) with it
  @@nfind:KIND@@ findings of that kind   @@meta:KEY@@ a top-level audit.json value
  line '@@index@@'          the table of every id, its files and verdict
"""
import json, re, os, sys

args = sys.argv[1:]
DRAFT = '--draft' in args
if DRAFT:
    args.remove('--draft')
README = None
if '--readme' in args:
    i = args.index('--readme')
    README = (args[i + 1], args[i + 2])
    del args[i:i + 3]
if len(args) < 2:
    sys.exit(__doc__)
src, dst = args[0], args[1]
AUD = args[2] if len(args) > 2 else 'audit-out'
d = json.load(open(f'{AUD}/audit.json'))
C = {c['id']: c for c in d['claims']}
corrected_by = {}
for c in d['claims']:
    if c['corrects']:
        corrected_by.setdefault(c['corrects'], []).append(c['id'])
BAD = []          # failed expectations (messages)


def soft_fail(msg):
    """A macro that the data cannot fill: recorded (the run fails at the end
    unless --draft), and marked in the text."""
    BAD.append(msg)
    return f'**[audit disagrees: {msg}]**'


def claim(cid):
    if cid not in C:
        sys.exit(f'gen.py: unknown claim id {cid!r} in a macro')
    return C[cid]


def g(x):
    if x is None: return '∞'
    if x == 0: return '0'
    if abs(x - 1) < 1e-12: return '1'
    return f'{x:.4g}'


def sup_text(c):
    s = c.get('supremum')
    if not s or s['kind'] == 'none known':
        return '—'
    if s.get('infinite'):
        return '∞'
    return s['text']


def factor(c):
    s = c['supremum']
    if s['kind'] == 'none known' or s.get('infinite') or not s['value']:
        return soft_fail(f"macro factor:{c['id']}: no finite supremum ({s['kind']}{', infinite' if s.get('infinite') else ''})")
    return g(1 / s['value'])


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


def cx_ratio(cid):
    p = f'{AUD}/counterexamples/{cid}/claim.json'
    if not os.path.exists(p):
        return soft_fail(f'macro cx-ratio:{cid}: no counterexample in this run')
    r = json.load(open(p))['ratio']
    return g(r)


def sup_part(c):
    """' · supremum exact 1/(2√2) = 0.3536, found/sup 1 · verdict by the exact supremum'"""
    if c['relation'] != '<=' or c['verdict'] == 'typo':
        return ''    # identities, approximations (judged on their failure rate) and typos
    s = c['supremum']
    if s['kind'] == 'none known':
        out = ' · supremum not known'
    else:
        out = f" · supremum {'exact' if s['kind'] == 'exact' else '≤'} {sup_text(c)}"
        if c['found_over_supremum'] is not None:
            out += f", found / supremum {g(c['found_over_supremum'])}"
    if c['supremum_contradicted']:
        out += ' · **the ratio found contradicts the supremum**'
    return out + f" · verdict by: {c['verdict_basis']}"


def ev(cid):
    c = C[cid]; v = c['verdict']; n = c['samples']
    if v == 'typo':
        s = f"> **typo** — not well-formed as printed ({c['reading']}), so not evaluated (0 samples)"
        if cid in corrected_by: s += f"; corrected by {', '.join(f'`{x}`' for x in corrected_by[cid])}"
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
    s = '> ' + ' · '.join(parts) + sup_part(c)
    x = cx(cid) if c['counterexample'] else None
    if x: s += ' · ' + x
    if c['corrects']: s += f" · corrects `{c['corrects']}`"
    if cid in corrected_by: s += f" · corrected by {', '.join(f'`{x}`' for x in corrected_by[cid])}"
    return s


def check(cid, conds, where):
    """True when claim cid satisfies one of conds (verdicts, or zero / some)."""
    c = claim(cid)
    for cond in conds:
        if {'zero': c['violations'] == 0, 'some': c['violations'] > 0}.get(cond, c['verdict'] == cond):
            return True
    BAD.append(f"{where}: {cid} expected {'|'.join(conds)}, got {c['verdict']} "
               f"({c['violations']} violations, basis: {c.get('verdict_basis')})")
    return False


if any(c['verdict'] == 'untested' or (c['samples'] == 0 and c['verdict'] != 'typo') for c in d['claims']):
    BAD.append('untested claims present')

SIMPLE = {
    'v': lambda c: c['verdict'],
    'basis': lambda c: c['verdict_basis'],
    'n': lambda c: str(c['samples']),
    'viol': lambda c: str(c['violations']),
    'rate': lambda c: f"{100*c['violation_rate']:.3g} %",
    'worst': lambda c: g(c['worst_ratio']),
    'med': lambda c: g(c['median_ratio']),
    'sup': sup_text,
    'supkind': lambda c: c['supremum']['kind'],
    'ratio-of-sup': lambda c: g(c['found_over_supremum']) if c['found_over_supremum'] is not None else '—',
    'factor': factor,
    'cx': lambda c: c['counterexample'] or soft_fail(f"macro cx:{c['id']}: no counterexample in this run"),
}


def ids_with(verdict):
    ids = [c['id'] for c in d['claims'] if c['verdict'] == verdict and c.get('loss') != 'mse']
    return ', '.join(f'`{i}`' for i in ids) or 'none'


def expand(text, name):
    out = []
    for ln, line in enumerate(text.split('\n'), 1):
        where = f'{name}:{ln}'
        a = re.fullmatch(r'\s*@@assert:([^:@]+):([^@]+)@@\s*', line)
        if a:
            if not check(a.group(1), [a.group(2)], where):
                out.append(f'**[audit disagrees: {BAD[-1]}]**')
            continue
        m = re.fullmatch(r'\s*@@claim:([^@]+)@@\s*', line)
        if m:
            cid = m.group(1)
            claim(cid)
            out.append(f'[claim: {cid}]'); out.append(ev(cid)); out.append('')
            continue
        if line.strip() == '@@index@@':
            out.append(index_table())
            continue
        if line.strip() == '@@suprema@@':
            out.append(suprema_table())
            continue

        def expect(m):
            ok = check(m.group(1), m.group(2).split('|'), where)
            return '' if ok else f' **[audit disagrees: {BAD[-1]}]**'
        line = re.sub(r'@@expect:([^=@]+)=([^@]+)@@', expect, line)
        line = re.sub(r'@@(' + '|'.join(map(re.escape, SIMPLE)) + r'):([^@]+)@@',
                      lambda m: SIMPLE[m.group(1)](claim(m.group(2))), line)
        line = re.sub(r'@@cx-ratio:([^@]+)@@', lambda m: (claim(m.group(1)), cx_ratio(m.group(1)))[1], line)
        line = re.sub(r'@@count:([a-z]+)@@', lambda m: str(sum(c['verdict'] == m.group(1) for c in d['claims'])), line)
        line = re.sub(r'@@list:([a-z]+)@@', lambda m: ids_with(m.group(1)), line)
        line = re.sub(r'@@nfind:([a-z ]+)@@',
                      lambda m: str(sum(f['kind'] == m.group(1) for f in d['findings'])), line)
        line = line.replace('@@nclaims@@', str(len(d['claims'])))
        line = line.replace('@@ntypo@@', str(sum(c['verdict'] == 'typo' for c in d['claims'])))
        line = line.replace('@@nuntested@@', str(sum(c['verdict'] == 'untested' for c in d['claims'])))
        line = re.sub(r'@@meta:([a-z_]+)@@', lambda m: str(d[m.group(1)]).lower() if isinstance(d[m.group(1)], bool) else str(d[m.group(1)]), line)
        if '@@' in line:
            sys.exit(f'gen.py: {where}: unknown macro in: {line}')
        out.append(line)
    return re.sub(r'\n{3,}', '\n\n', '\n'.join(out))


def index_table():
    where = {}
    for f, text in sorted(results.items()):
        if f != 'README.md':
            for t in re.findall(r'\[claim: ([^\]]+)\]', text):
                where.setdefault(t, [])
                if f not in where[t]: where[t].append(f)
    rows = ['| id | location | relation | loss | verdict | basis | supremum | tagged in |',
            '|---|---|---|---|---|---|---|---|']
    for c in d['claims']:
        fs = ', '.join(f'[{f}]({f})' for f in where.get(c['id'], [])) or '**missing**'
        rel = {'<=': '≤', '=': '=', '~': '≈'}.get(c['relation'], c['relation'])
        loss = {'cross_entropy': 'CE', 'mse': 'MSE', 'any': 'any'}[c['loss']]
        sk = c['supremum']['kind']
        sup = '—' if sk == 'none known' else f"{'exact' if sk == 'exact' else '≤'} {sup_text(c)}"
        rows.append(f"| `{c['id']}` | {c['location']} | {rel} | {loss} | {c['verdict']} | {c['verdict_basis']} | {sup} | {fs} |")
    return '\n'.join(rows)


def suprema_table():
    rows = ['| id | loss | supremum | best found | found / supremum | verdict (basis) | why |',
            '|---|---|---|---|---|---|---|']
    for c in d['claims']:
        if c['relation'] == '=' or c['verdict'] == 'typo':
            continue
        sk = c['supremum']['kind']
        sup = 'not known' if sk == 'none known' else f"{'exact' if sk == 'exact' else '≤'} {sup_text(c)}"
        fo = g(c['found_over_supremum']) if c['found_over_supremum'] is not None else '—'
        if c['supremum_contradicted']:
            fo += ' **(contradiction)**'
        loss = {'cross_entropy': 'CE', 'mse': 'MSE', 'any': 'any'}[c['loss']]
        why = c['supremum']['why'].replace('|', '\\|')
        rows.append(f"| `{c['id']}` | {loss} | {sup} | {g(c['worst_ratio'])} | {fo} | "
                    f"{c['verdict']} ({c['verdict_basis']}) | {why} |")
    return '\n'.join(rows)


results = {}
files = sorted(f for f in os.listdir(src) if f.endswith('.md'))
files = [f for f in files if f != 'README.md'] + (['README.md'] if 'README.md' in files else [])
for f in files:
    results[f] = expand(open(os.path.join(src, f)).read(), f'tpl/{f}')

readme_out = None
BEGIN, END = '<!-- audit-findings:begin -->', '<!-- audit-findings:end -->'
if README:
    tpl = os.path.join(os.path.dirname(os.path.abspath(src)), 'readme_findings.md')
    body = expand(open(tpl).read(), 'readme_findings.md').strip('\n')
    text = open(README[0]).read()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        sys.exit(f'gen.py: {README[0]}: needs one {BEGIN} ... {END} pair')
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    readme_out = f'{head}{BEGIN}\n{body}\n{END}{tail}'

if BAD:
    for b in BAD:
        print(f'gen.py: EXPECTATION FAILED: {b}', file=sys.stderr)
    if not DRAFT:
        print('gen.py: the text around these macros says otherwise than the data: nothing written '
              '(fix the template, or the audit; --draft writes with visible markers)', file=sys.stderr)
        sys.exit(1)
for f in files:
    open(os.path.join(dst, f), 'w').write(results[f])
    print('wrote', f)
if readme_out is not None:
    open(README[1], 'w').write(readme_out)
    print('wrote', README[1])
