#!/usr/bin/env bash
# dynhc developer commands. Usage: scripts/dev.sh demo | test | deps | bench | bench-peers | soak | fuzz
#   demo   installs what is missing, builds, and shows the resolver at work
#   test   installs what is missing, builds, runs every test plain, under valgrind (unit
#          tests), under ThreadSanitizer and under ASan+UBSan
#   deps   only installs the Debian packages dynhc needs
#   bench  builds in release mode and runs the benchmarks
#   bench-peers  dynhc watch beside HAProxy and blackbox_exporter on the same
#          targets (a few minutes; options go to bench/bench_peers.py)
#   soak   builds in release mode and runs the scheduler soak (10 min; options
#          after it go to bench/soak_sched, e.g. --seconds 60)
#   fuzz   builds the libFuzzer harnesses with clang and runs each for FUZZ_SECONDS (60)
#   abi-update  records the built library's interface as the new baseline
#          (tests/abi/): only with an intended change, see docs/abi.md
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make gcc libc6-dev pkg-config libcjson-dev libyaml-dev libcmocka-dev
          libmicrohttpd-dev libcurl4-openssl-dev libuv1-dev python3 valgrind locales
          cmark-gfm abigail-tools prometheus openssl mypy libc-ares-dev dnsmasq)
jobs=$(nproc 2>/dev/null || echo 2)

deps() {
    local missing=()
    for p in "${packages[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "dev.sh: installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # A locale whose decimal point is ',' lets the tests prove that number
    # parsing ignores the host's locale.
    if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo localedef -i de_DE -f UTF-8 de_DE.UTF-8 || echo "dev.sh: no de_DE.UTF-8 locale; the locale tests will skip"
    fi
}

configure_and_build() {
    local dir=$1; shift
    echo "dev.sh: building in $dir/ ($jobs jobs)"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    # One line per finished target, so that a long build shows it is alive.
    cmake --build "$dir" -j "$jobs" | sed -n 's/^\[ *\([0-9]*%\)\] Built target \(.*\)/  [\1] \2/p'
}

demo() {
    deps
    # The demo shows the defaults and then each source in turn: settings
    # exported in this shell (the guide has people export some) would hide
    # what each step means, so it runs without them and says so.
    local inherited
    inherited=$(env | grep -o '^DYN_[A-Z_]*' | sort | tr '\n' ' ' || true)
    if [ -n "$inherited" ]; then
        echo "dev.sh: the demo ignores these variables of your shell: $inherited"
        for v in $inherited; do unset "$v"; done
    fi
    configure_and_build build -DDYNHC_BUILD_TESTS=OFF
    local dynhc=build/dynhc
    for type in generate chat embedding tokens; do
        echo "== dynhc resolve --model-type $type --compact"
        "$dynhc" resolve --model-type "$type" --compact
    done
    echo
    echo "== environment override: DYN_HEALTH_CHECK_PAYLOAD='{\"prompt\":\"ping\",\"max_tokens\":2}'"
    DYN_HEALTH_CHECK_PAYLOAD='{"prompt":"ping","max_tokens":2}' "$dynhc" resolve --explain
    echo
    echo "== config-file override: dynhc resolve --config examples/config.yaml --explain"
    cat examples/config.yaml
    "$dynhc" resolve --config examples/config.yaml --explain
    echo
    echo "== a miniature serving runtime embedding resolver, scheduler and status server,"
    echo "   with the same config file: build/examples/embedded_runtime examples/config.yaml"
    build/examples/embedded_runtime examples/config.yaml
    echo
    echo "The tool is build/dynhc; README.md says how to install it on your PATH."
}

run_tests() {
    deps
    local werror=()
    [ "${CI:-}" = "true" ] && werror=(-DDYNHC_WERROR=ON)
    echo "== plain build"
    configure_and_build build-test -DDYNHC_BUILD_BENCH=ON "${werror[@]}"
    (cd build-test && ctest --output-on-failure -j "$jobs")
    echo "== valgrind (unit tests)"
    for t in build-test/tests/test_*; do
        # test_cli checks the runner's children, not the runner: skip it here.
        # *_shared are the same tests against the shared library.
        [ -x "$t" ] && [ "${t##*/}" != test_cli ] && [ "${t%_shared}" = "$t" ] || continue
        # valgrind runs threads one at a time: the thread stress tests run shorter,
        # and the hostile-client test holds a tenth of its connections.
        # The allocation-failure torture tries every 7th N there (every N elsewhere).
        DYNHC_TEST_STRESS_TICKS=200 DYNHC_TEST_SERVER_REQUESTS=100 DYNHC_TEST_ALLOC_FAIL_STEP=7 \
            DYNHC_TEST_IDLE_CONNECTIONS=200 DYNHC_TEST_SLOW_CONNECTIONS=30 \
            valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,possible "$t" >/dev/null
    done
    echo "valgrind: clean"
    echo "== ThreadSanitizer build (every test and example)"
    configure_and_build build-tsan -DDYNHC_SANITIZE=thread "${werror[@]}"
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j "$jobs")
    echo "== ASan+UBSan build"
    configure_and_build build-asan -DDYNHC_SANITIZE=address,undefined "${werror[@]}"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j "$jobs")
}

bench() {
    deps
    configure_and_build build-bench -DCMAKE_BUILD_TYPE=Release -DDYNHC_BUILD_TESTS=OFF -DDYNHC_BUILD_BENCH=ON
    for b in build-bench/bench/bench_*; do
        [ -x "$b" ] && "$b"
    done
    # The Python package on the same release library (docs/python.md).
    DYNHC_LIBRARY=build-bench/libdynhc.so PYTHONPATH=python PYTHONDONTWRITEBYTECODE=1 \
        python3 bench/bench_python.py
}

# The checkers an operator would run instead of dynhc watch, and the target.
peer_packages=(nginx-light haproxy prometheus-blackbox-exporter)

bench_peers() {
    deps "${peer_packages[@]}"
    configure_and_build build-bench -DCMAKE_BUILD_TYPE=Release -DDYNHC_BUILD_TESTS=OFF -DDYNHC_BUILD_BENCH=ON
    python3 bench/bench_peers.py --dynhc build-bench/dynhc "$@"
}

soak() {
    deps
    configure_and_build build-bench -DCMAKE_BUILD_TYPE=Release -DDYNHC_BUILD_TESTS=OFF -DDYNHC_BUILD_BENCH=ON
    build-bench/bench/soak_sched "$@"
}

abi_update() {
    deps
    configure_and_build build -DDYNHC_BUILD_TESTS=OFF
    local lib
    lib=$(readlink -f build/libdynhc.so)
    nm -D --defined-only "$lib" | awk '{print $3}' | sort > tests/abi/symbols.txt
    abidw --headers-dir include/dynhc --no-corpus-path --out-file tests/abi/libdynhc.abi "$lib"
    echo "dev.sh: tests/abi/ now describes $(basename "$lib"); bump the version as docs/abi.md says"
}

fuzz() {
    deps clang libclang-rt-14-dev
    CC=clang cmake -S . -B build-fuzz -DDYNHC_FUZZ=ON -DDYNHC_BUILD_TESTS=OFF \
        -DDYNHC_BUILD_SHARED=OFF -DDYNHC_BUILD_BENCH=OFF -DDYNHC_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build build-fuzz -j "$jobs" >/dev/null
    for name in env_payload config sched answer json_scan; do
        mkdir -p "build-fuzz/corpus-$name"
        "build-fuzz/fuzz/fuzz_$name" -max_total_time="${FUZZ_SECONDS:-60}" \
            "build-fuzz/corpus-$name" "fuzz/corpus/$name"
    done
}

case "${1:-}" in
    demo) demo ;;
    test) run_tests ;;
    deps) deps ;;
    bench) bench ;;
    bench-peers) shift; bench_peers "$@" ;;
    soak) shift; soak "$@" ;;
    fuzz) fuzz ;;
    abi-update) abi_update ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
