#!/bin/sh
# The two HTML reports (audit's index.html, experiment's index.html) as a
# reader sees them: every <img> names a PNG that exists, every in-page link
# has its anchor, the audit's formulas are MathML; then, when Chromium is
# installed, both pages load in headless Chromium and every image decodes
# (naturalWidth > 0) and every <math> is laid out as MathML.  Without
# Chromium the static checks still run and the test is skipped (77).
set -u
. "${HN_SRCDIR:-.}/tests/cli_lib.sh"
hn_test_setup

"$HN" audit --random 6 --adversarial 2 --nm-iterations 2 --out "$T/audit" 2> "$T/err" ||
    { echo "audit failed: $(tail -n 1 "$T/err")"; exit 1; }
"$HN" experiment --dataset fashion-mnist --sweep layers --preset tiny --data "$S/fixtures/data/idx" \
    --threads 1 --out "$T/exp" > /dev/null 2> "$T/err" ||
    { echo "experiment failed: $(tail -n 1 "$T/err")"; exit 1; }

# ------------------------------------------------------------ static: files and anchors
for page in "$T/audit/index.html" "$T/exp/index.html"; do
    dir=$(dirname "$page")
    name=${page#"$T/"}
    srcs=$(grep -o "<img src=[\"'][^\"']*[\"']" "$page" | sed "s/^<img src=[\"']//; s/[\"']\$//")
    n=0; missing=""
    for f in $srcs; do
        n=$((n + 1))
        if [ ! -s "$dir/$f" ] || [ "$(head -c 8 "$dir/$f" | od -An -c | tr -d ' \n')" != '211PNG\r\n032\n' ]; then
            missing="$missing $f"
        fi
    done
    [ -z "$missing" ] && ok "$name: $n images, each a PNG on disk" || bad "$name: missing or not PNG:$missing"
    links=$(grep -o "href=[\"']#[^\"']*[\"']" "$page" | sed "s/^href=[\"']#//; s/[\"']\$//" | sort -u)
    nolink=""
    for a in $links; do
        grep -q "id=[\"']$a[\"']" "$page" || nolink="$nolink $a"
    done
    [ -z "$nolink" ] && ok "$name: every in-page link has its anchor" || bad "$name: links without an anchor:$nolink"
    grep -q '()' "$page" && bad "$name: empty parentheses: $(grep -o '.\{30\}()' "$page" | head -n 1)" ||
        ok "$name: no empty parentheses"
done
nclaims=$("$HN" audit --list | wc -l)
nmath=$(grep -o '<math ' "$T/audit/index.html" | wc -l)
[ "$nmath" -eq "$nclaims" ] && ok "audit: $nmath formulas as MathML (one per claim)" ||
    bad "audit: $nmath <math> elements for $nclaims claims"
grep -q "<a href='#contents'>" "$T/audit/index.html" && grep -q "<nav><h2 id='contents'>" "$T/audit/index.html" &&
    ok "audit: table of contents" || bad "audit: no table of contents"
first=$(grep -o "<h2[^>]*>[^<]*" "$T/audit/index.html" | head -n 1)
[ "$first" = "<h2 id='findings'>Findings" ] && ok "audit: the findings come first" || bad "audit: first section: $first"

# ------------------------------------------------------------ Chromium
CHROME=""
for c in chromium chromium-browser google-chrome; do
    if command -v $c > /dev/null 2>&1; then CHROME=$c; break; fi
done
if [ -z "$CHROME" ]; then
    echo "report_render: $pass passed, $fail failed; SKIP the rendering (no chromium; bootstrap with HN_WITH_CHROMIUM=1)"
    [ $fail -eq 0 ] && exit 77
    exit 1
fi
# a copy of each page beside it (same folder: the images resolve alike)
# with a script that, once loaded, writes what it saw into the DOM
probe="<script>window.addEventListener('load',function(){var b=[],i,m=document.querySelectorAll('math'),z=0;
for(i=0;i<document.images.length;i++){var g=document.images[i];if(!g.complete||g.naturalWidth===0)b.push(g.getAttribute('src'));}
for(i=0;i<m.length;i++){if(getComputedStyle(m[i]).display.indexOf('math')<0||m[i].getBoundingClientRect().width===0)z++;}
document.body.setAttribute('data-render','images='+document.images.length+' broken='+b.length+' math='+m.length+' notmath='+z+' ['+b.join(' ')+']');});</script>"
for page in "$T/audit/index.html" "$T/exp/index.html"; do
    name=${page#"$T/"}
    probed="$(dirname "$page")/render_probe.html"
    sed "s|</body>|$(printf '%s' "$probe" | tr '\n' ' ' | sed 's/[&|]/\\&/g')</body>|" "$page" > "$probed"
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --user-data-dir="$T/profile" \
        --virtual-time-budget=5000 --dump-dom "file://$probed" > "$T/dom" 2> "$T/chrome.err"
    r=$(grep -o 'data-render="[^"]*"' "$T/dom" | head -n 1)
    n=$(grep -o '<img src=' "$page" | wc -l)
    case $r in
    *"images=$n broken=0 "*"notmath=0 "*) ok "$name in $CHROME: $r" ;;
    *) bad "$name in $CHROME: ${r:-no result} $(tail -n 1 "$T/chrome.err")" ;;
    esac
done

hn_test_end report_render
