#!/usr/bin/env bash
# Installs dynhc into a temporary prefix, then builds and runs consumers
# with find_package(dynhc) and with pkg-config (shared, static, and the
# optional dynhc/cjson.h), checks that the core headers compile without
# cJSON's, and builds a project that embeds the source tree with
# add_subdirectory.
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
if [ -x "$work/cmake/static_consumer" ]; then
    "$work/cmake/static_consumer" | grep -q '"_health_check":true'
    if readelf -d "$work/cmake/static_consumer" | grep -q 'libdynhc'; then
        echo "static_consumer links the shared libdynhc" >&2
        exit 1
    fi
    echo "find_package consumer of the static library: ok"
fi
"$work/cmake/cjson_consumer" | grep -qx 'prompt=tree'
echo "find_package consumer of dynhc::cjson: ok"

pc() { PKG_CONFIG_PATH="$libdir" pkg-config "$@"; }
cc -o "$work/pc-consumer" "$src/examples/resolve_payload.c" $(pc --cflags --libs dynhc)
"$work/pc-consumer" | grep -q '"_health_check":true'
echo "pkg-config consumer: ok"
if [ -f "$(dirname "$libdir")/libdynhc.a" ]; then
    # Requires.private and Libs.private name what the static libdynhc needs
    # (linked against those libraries' shared builds: `pkg-config --static`
    # would want static builds of their own dependencies too).
    cc -o "$work/pc-static-consumer" "$src/examples/resolve_payload.c" $(pc --cflags dynhc) \
        "$(dirname "$libdir")/libdynhc.a" $(pc --libs $(pc --print-requires-private dynhc)) \
        $(sed -n 's/^Libs.private: //p' "$libdir/dynhc.pc")
    "$work/pc-static-consumer" | grep -q '"_health_check":true'
    echo "pkg-config consumer of the static library: ok"
fi
cc -o "$work/pc-cjson-consumer" "$src/tests/install/cjson_consumer.c" $(pc --cflags --libs dynhc libcjson)
"$work/pc-cjson-consumer" | grep -qx 'prompt=tree'
echo "pkg-config consumer of dynhc/cjson.h: ok"

# The core headers need no cJSON headers: a cjson/cJSON.h that fails comes
# first on the include path (the system's would otherwise be found), and
# nothing but the installed headers follows. Each header alone and the
# umbrella, as C11 with dynhc's warnings, and as C++ when there is a compiler.
shadow="$work/no-cjson"
mkdir -p "$shadow/cjson"
echo '#error "a core dynhc header includes cJSON"' >"$shadow/cjson/cJSON.h"
cp "$shadow/cjson/cJSON.h" "$shadow/cJSON.h"
warnings=(-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Wmissing-prototypes -Werror)
cc -std=c11 "${warnings[@]}" -I"$shadow" -I"$work/prefix/include" -c \
    "$src/tests/install/core_headers.c" -o "$work/core_headers.o"
for header in "$work"/prefix/include/dynhc/*.h; do
    name=${header##*/}
    [ "$name" = cjson.h ] && continue
    printf '#include <dynhc/%s>\ntypedef int not_empty;\n' "$name" |
        cc -std=c11 "${warnings[@]}" -I"$shadow" -I"$work/prefix/include" -x c -fsyntax-only -
done
if command -v c++ >/dev/null; then
    c++ -std=c++11 -Wall -Wextra -Werror -I"$shadow" -I"$work/prefix/include" -x c++ \
        -fsyntax-only "$src/tests/install/core_headers.c"
fi
echo "core headers without cJSON: ok"
# And the optional header with cJSON's flags, alone.
printf '#include <dynhc/cjson.h>\ntypedef int not_empty;\n' |
    cc -std=c11 "${warnings[@]}" -I"$work/prefix/include" $(pc --cflags libcjson) -x c -fsyntax-only -
echo "dynhc/cjson.h with cJSON: ok"

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
