#!/usr/bin/env bash
# Installs dynhc into a temporary prefix, then builds and runs a consumer
# with find_package(dynhc) and another with pkg-config; then a project that
# embeds the source tree with add_subdirectory.
# Usage: check.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(find "$work/prefix" -name 'dynhc.pc' -printf '%h\n' | head -n 1)
export LD_LIBRARY_PATH="$(dirname "$libdir")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

cmake -S "$src/tests/install" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer" | grep -q '"_health_check":true'
echo "find_package consumer: ok"

cc -o "$work/pc-consumer" "$src/examples/resolve_payload.c" \
    $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs dynhc)
"$work/pc-consumer" | grep -q '"_health_check":true'
echo "pkg-config consumer: ok"

"$work/prefix/bin/dynhc" --version | grep -q '^dynhc '
echo "installed CLI: ok"

# Only the public API is exported from the shared library.
lib=$(find "$work/prefix" -name 'libdynhc.so.*' -type f | head -n 1)
stray=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ && $3 !~ /^dynhc_/ {print $3}')
if [ -n "$stray" ]; then
    echo "symbols exported without the dynhc_ prefix: $stray" >&2
    exit 1
fi
echo "exported symbols: $(nm -D --defined-only "$lib" | awk '$2 == "T"' | wc -l) functions, all dynhc_"

cmake -S "$src/tests/embed" -B "$work/embed" -DDYNHC_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/embed" --target embedder >/dev/null
"$work/embed/embedder" | grep -q '"_health_check":true'
echo "add_subdirectory embedder: ok"
