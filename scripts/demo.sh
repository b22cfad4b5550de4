#!/usr/bin/env bash
# The main job: builds the demo and runs it against an embedded local server, installing what
# is missing on Debian 12 first.
#   scripts/demo.sh [demo arguments]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FANOUT_BUILD_DIR:-$root/build/demo}

"$root/scripts/setup-debian.sh" build

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFANOUT_BUILD_TESTS=OFF -DFANOUT_BUILD_TOOLS=OFF \
  -DFANOUT_BUILD_EXAMPLES=ON -DFANOUT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target fanout-demo >/dev/null
exec "$build/examples/fanout-demo" "$@"
