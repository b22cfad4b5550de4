#!/usr/bin/env bash
# Runs clang-tidy-14 with the checked-in .clang-tidy over fanout's headers; any warning fails.
# The translation unit is the umbrella header, which includes every header (detail/ too), and
# the mock transport (not in the umbrella: tests include it). The examples, which would
# instantiate gather's templates, are not checked: clang-14 cannot compile libstdc++ 12's
# <ranges> concepts that gather's instantiations use (fixed in clang 15).
#   scripts/tidy.sh        (the generated unit goes to FANOUT_TIDY_DIR, default build/tidy)
# Needs clang-tidy-14 (apt-get install clang-tidy-14).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${FANOUT_TIDY_DIR:-$root/build/tidy}
mkdir -p "$out"
# Inside the tree, so that clang-tidy finds the .clang-tidy above it.
printf '#include <fanout/fanout.hpp>\n#include <fanout/testing/mock_transport.hpp>\n' > "$out/all_headers.cpp"

clang-tidy-14 --quiet --warnings-as-errors='*' "$out/all_headers.cpp" -- -std=c++20 \
  -I"$root/include"
echo "tidy.sh: no warnings"
