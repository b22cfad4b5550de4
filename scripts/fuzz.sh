#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang-14 (ASan + UBSan) and runs each for a bounded time
# on its corpus in tests/fuzz/corpus/. A crash leaves its input in build/fuzz/ and fails.
#   scripts/fuzz.sh                 60 s per harness (FANOUT_FUZZ_SECONDS to change)
#   scripts/fuzz.sh response        only the named harnesses (url, response, request, decoder)
# Needs clang-14 and libclang-rt-14-dev (apt-get install clang-14 libclang-rt-14-dev).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/build/fuzz
seconds=${FANOUT_FUZZ_SECONDS:-60}
mkdir -p "$out"

# NDEBUG as in Debian's libboost_url: Boost.URL 1.81 compiled from source (src.hpp, so that its
# parser is instrumented) asserts `nseg == 0` in detail/path.hpp on inputs such as "i:\xfd";
# the shipped library has no assertions and ASan finds no memory error on them.
flags=(-std=c++20 -g -O1 -DNDEBUG -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I"$root/include")
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(url response request decoder)
for harness in "${harnesses[@]}"; do
  echo "== fuzz: $harness (${seconds} s)"
  clang++-14 "${flags[@]}" "$root/tests/fuzz/${harness}_fuzz.cpp" -o "$out/${harness}_fuzz" \
    -lssl -lcrypto -lz
  mkdir -p "$out/corpus-$harness"
  "$out/${harness}_fuzz" -max_total_time="$seconds" -max_len=512 -artifact_prefix="$out/" \
    "$out/corpus-$harness" "$root/tests/fuzz/corpus/$harness"
done
