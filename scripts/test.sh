#!/usr/bin/env bash
# Runs the test suite: `scripts/test.sh` (Release build in build/) or `scripts/test.sh --asan`
# (AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--asan" ]; then
  bash scripts/setup.sh > /dev/null
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERNSPEC_SANITIZE=ON -DTERNSPEC_BUILD_BENCH=OFF > /dev/null
  cmake --build build-asan -j"$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -j"$(nproc)" --output-on-failure
else
  bash scripts/setup.sh
  ctest --test-dir build -j"$(nproc)" --output-on-failure
fi
