#!/usr/bin/env bash
# Builds fanout and runs every test (ctest), installing what is missing on Debian 12 first.
#   scripts/test.sh            build dir: build/test (override with FANOUT_BUILD_DIR)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FANOUT_BUILD_DIR:-$root/build/test}

"$root/scripts/setup-debian.sh" build test

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DFANOUT_BUILD_TESTS=ON \
  -DFANOUT_BUILD_EXAMPLES=ON -DFANOUT_BUILD_BENCH=OFF
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600
