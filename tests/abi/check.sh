#!/usr/bin/env bash
# The library's binary interface against what is committed (docs/abi.md):
#   1. the shared library exports exactly the symbols of tests/abi/symbols.txt;
#   2. the static library defines no global symbol outside that list but the
#      internal prefix, so it cannot clash with a host's names;
#   3. abidiff finds no change against tests/abi/libdynhc.abi (types and
#      functions as the public headers declare them).
# After an intended change: scripts/dev.sh abi-update, and bump the version
# as docs/abi.md says. Usage: check.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
internal_prefix=dynhcp_
passed=0 failed=0
verdict() { # name status [details...]
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok: $1"
    else failed=$((failed + 1)); echo "FAILED: $1"; fi
}

shared=$(readlink -f "$build/libdynhc.so")
exported=$(nm -D --defined-only "$shared" | awk '{print $3}' | sort)
listed=$(sort "$src/tests/abi/symbols.txt")
if [ "$exported" = "$listed" ]; then verdict "exported symbols" 0; else
    diff <(echo "$listed") <(echo "$exported") | sed 's/^</  listed, not exported:/; s/^>/  exported, not listed:/' | grep '^ '
    verdict "exported symbols" 1
fi

stray=$(nm -g --defined-only "$build/libdynhc.a" | awk 'NF == 3 {print $3}' |
        grep -v "^$internal_prefix" | sort -u | comm -23 - <(echo "$listed"))
if [ -z "$stray" ]; then verdict "static library namespace" 0; else
    echo "$stray" | sed 's/^/  neither public nor internal: /'
    verdict "static library namespace" 1
fi

if command -v abidiff >/dev/null; then
    abidiff --headers-dir1 "$src/include/dynhc" --headers-dir2 "$src/include/dynhc" \
        "$src/tests/abi/libdynhc.abi" "$shared"
    verdict "abidiff against tests/abi/libdynhc.abi" $?
else
    echo "skipped: abidiff (Debian: abigail-tools)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
