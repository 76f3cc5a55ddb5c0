#!/usr/bin/env bash
# dynhc developer commands. Usage: scripts/dev.sh demo | test | deps | bench | fuzz
#   demo   installs what is missing, builds, and shows the resolver at work
#   test   installs what is missing, builds, runs every test plain and under ASan+UBSan
#   deps   only installs the Debian packages dynhc needs
#   bench  builds in release mode and runs the benchmarks
#   fuzz   builds the libFuzzer harnesses with clang and runs each for FUZZ_SECONDS (60)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make gcc pkg-config libcjson-dev libyaml-dev libcmocka-dev
          libmicrohttpd-dev libcurl4-openssl-dev libuv1-dev python3 valgrind locales)
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
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$jobs" >/dev/null
}

demo() {
    deps
    configure_and_build build -DDYNHC_BUILD_TESTS=OFF
    local dynhc=build/dynhc
    for type in generate chat embedding tokens; do
        echo "== dynhc resolve --model-type $type"
        "$dynhc" resolve --model-type "$type" --compact
    done
    echo
    echo "== environment override: DYN_HEALTH_CHECK_PAYLOAD='{\"prompt\":\"ping\",\"max_tokens\":2}'"
    DYN_HEALTH_CHECK_PAYLOAD='{"prompt":"ping","max_tokens":2}' "$dynhc" resolve --explain
    echo
    echo "== config-file override: examples/config.yaml"
    cat examples/config.yaml
    "$dynhc" resolve --config examples/config.yaml --explain
    echo
    echo "== a miniature serving runtime embedding resolver, scheduler and status server"
    build/examples/embedded_runtime
}

run_tests() {
    deps
    local werror=()
    [ "${CI:-}" = "true" ] && werror=(-DDYNHC_WERROR=ON)
    echo "== plain build"
    configure_and_build build-test "${werror[@]}"
    (cd build-test && ctest --output-on-failure -j "$jobs")
    echo "== valgrind (unit tests)"
    for t in build-test/tests/test_*; do
        # test_cli checks the runner's children, not the runner: skip it here.
        [ -x "$t" ] && [ "${t##*/}" != test_cli ] || continue
        # valgrind runs threads one at a time: the thread stress tests run shorter.
        DYNHC_TEST_STRESS_TICKS=200 DYNHC_TEST_SERVER_REQUESTS=100 \
            valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,possible "$t" >/dev/null
    done
    echo "valgrind: clean"
    echo "== ThreadSanitizer build (the scheduler's cross-thread calls)"
    configure_and_build build-tsan -DDYNHC_SANITIZE=thread -DDYNHC_BUILD_BENCH=OFF \
        -DDYNHC_BUILD_EXAMPLES=OFF "${werror[@]}"
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'sched')
    echo "== ASan+UBSan build"
    configure_and_build build-asan -DDYNHC_SANITIZE=address,undefined -DDYNHC_BUILD_BENCH=OFF "${werror[@]}"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j "$jobs")
}

bench() {
    deps
    configure_and_build build-bench -DCMAKE_BUILD_TYPE=Release -DDYNHC_BUILD_TESTS=OFF
    for b in build-bench/bench/bench_*; do
        [ -x "$b" ] && "$b"
    done
}

fuzz() {
    deps clang libclang-rt-14-dev
    CC=clang cmake -S . -B build-fuzz -DDYNHC_FUZZ=ON -DDYNHC_BUILD_TESTS=OFF \
        -DDYNHC_BUILD_SHARED=OFF -DDYNHC_BUILD_BENCH=OFF -DDYNHC_BUILD_EXAMPLES=OFF >/dev/null
    cmake --build build-fuzz -j "$jobs" >/dev/null
    for name in env_payload config sched; do
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
    fuzz) fuzz ;;
    *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
