#!/usr/bin/env bash
# Sets up ictal and runs every test: the release build, the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, and a short run of each fuzz target.
# Ends with one line "N passed, N failed" counting ctest tests over the three builds.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/setup.sh || exit 1

total_pass=0
total_fail=0
# run_ctest DIR: runs ctest in DIR, adds its counts to the totals.
run_ctest() {
  local dir=$1 log
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure -j"$jobs") 2>&1 | tee "$log"
  local line failed total
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "test: no ctest summary from $dir" >&2
    total_fail=$((total_fail + 1))
  else
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    total_pass=$((total_pass + total - failed))
    total_fail=$((total_fail + failed))
  fi
  rm -f "$log"
}

echo "== release build: tests"
run_ctest build

echo "== sanitizer build (ASan + UBSan): tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DICTAL_SANITIZE=ON -DICTAL_BUILD_BENCH=OFF >/dev/null &&
  cmake --build build-asan -j"$jobs" >/dev/null || { echo "test: sanitizer build failed" >&2; total_fail=$((total_fail + 1)); }
[ -d build-asan ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build-asan

echo "== fuzz targets (libFuzzer, ${ICTAL_FUZZ_SECONDS:-10} s each)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DICTAL_FUZZ=ON -DICTAL_SANITIZE=ON \
  -DICTAL_FUZZ_SECONDS="${ICTAL_FUZZ_SECONDS:-10}" >/dev/null &&
  cmake --build build-fuzz -j"$jobs" >/dev/null || { echo "test: fuzz build failed" >&2; total_fail=$((total_fail + 1)); }
if [ -d build-fuzz ] && ls fuzz/fuzz_*.c >/dev/null 2>&1; then
  run_ctest build-fuzz
fi

echo
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
