#!/usr/bin/env bash
# The whole test suite: set-up, release build with every test (LibTorch included), then the
# runtime tests again under AddressSanitizer + UndefinedBehaviorSanitizer (clang, which also
# builds and briefly runs the libFuzzer target of the model reader).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/setup.sh
start=$SECONDS
bash scripts/build.sh build
ctest --test-dir build -j"$(nproc)" --output-on-failure --timeout 900
echo "test: release build and tests took $((SECONDS - start)) s"

start=$SECONDS
CC=clang CXX=clang++ bash scripts/build.sh build-asan -DSTERN_SANITIZE=ON -DSTERN_BUILD_TRAIN=OFF -DSTERN_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L runtime -j"$(nproc)" --output-on-failure --timeout 900
echo "test: sanitizer build and tests took $((SECONDS - start)) s"
