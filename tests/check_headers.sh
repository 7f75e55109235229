#!/bin/sh
# The public headers, as a user of the installed library sees them:
#  1. every include/hessnorm/*.h wraps its declarations in
#     #ifdef __cplusplus / extern "C" { ... } / #endif, opened after its
#     #includes (system headers must not get C linkage) and closed at the
#     end, so a C++ program links the unmangled hn_* names;
#  2. the umbrella include/hessnorm.h includes every one of them;
#  3. each header (and hessnorm.h) compiles alone, as C and as C++ (no
#     reliance on what another header or config.h happens to provide).
# The C++ half is skipped (with a message) when configure found no C++
# compiler; tests/test_cxx links a C++ program against libhessnorm.
set -u
S=${HN_SRCDIR:-.}
CC=${HN_CC:-cc}
CXX=${HN_CXX:-}
FLAGS="-I$S/include ${HN_DEPS_CFLAGS:-}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
n=0
bad() { echo "check_headers: FAIL: $*"; fail=1; }

# guard FILE: prints "ok" or what is wrong with FILE's extern "C" guard
guard() {
    awk '
    /^[ \t]*#[ \t]*ifdef[ \t]+__cplusplus[ \t]*$/ { cpp = NR; next }
    cpp && cpp == NR - 1 && /^[ \t]*extern[ \t]+"C"[ \t]*\{/ { if (!op) op = NR; next }
    cpp && cpp == NR - 1 && /^[ \t]*\}/ && op { cl = NR; next }
    op && !cl && /^[ \t]*#[ \t]*include/ && !inc { inc = NR }
    cl && !after && !/^[ \t]*$/ && !/^[ \t]*#[ \t]*endif/ { after = NR }
    END {
        if (!op) print "no extern \"C\" guard";
        else if (!cl) print "extern \"C\" { opened at line " op " is never closed";
        else if (inc) print "#include at line " inc " is inside extern \"C\" { (include before the guard)";
        else if (after) print "line " after " comes after the extern \"C\" block is closed";
        else print "ok";
    }' "$1"
}

GUARD_HOWTO='wrap its declarations (after the #includes) in
      #ifdef __cplusplus / extern "C" { / #endif ... #ifdef __cplusplus / } / #endif
    like include/hessnorm/error.h'
for h in "$S"/include/hessnorm/*.h; do
    rel=${h#"$S"/}
    n=$((n + 1))
    why=$(guard "$h")
    case $why in
        ok) ;;
        no*) bad "$rel: $why: $GUARD_HOWTO";;
        *) bad "$rel: $why";;
    esac
    grep -q "^#include \"hessnorm/$(basename "$h")\"" "$S/include/hessnorm.h" ||
        bad "$rel: not included by include/hessnorm.h (add it there, in layer order)"
done

# compile LANG COMPILER HEADER
compile() {
    if [ "$1" = c ]; then src=$T/h.c; std=-std=c11; else src=$T/h.cc; std=-std=c++11; fi
    printf '#include "%s"\n' "$3" > "$src"
    # shellcheck disable=SC2086
    if ! $2 $std -fsyntax-only -Wall -Wextra -Werror $FLAGS "$src" > "$T/err" 2>&1; then
        bad "include/$3 does not compile alone as $1 ($2):"
        sed 's/^/    /' "$T/err" | head -n 20
    fi
}
for h in "$S"/include/hessnorm.h "$S"/include/hessnorm/*.h; do
    name=${h#"$S"/include/}
    compile c "$CC" "$name"
    [ -n "$CXX" ] && compile c++ "$CXX" "$name"
done
[ -n "$CXX" ] || echo "check_headers: SKIP the C++ compiles: configure found no C++ compiler"
if [ $fail = 0 ]; then
    echo "check_headers: $n public headers guarded, included by hessnorm.h, compile alone as C${CXX:+ and C++}"
fi
exit $fail
