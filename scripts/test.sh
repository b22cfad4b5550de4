#!/usr/bin/env bash
# Builds fanout and runs every test (ctest), installing what is missing on Debian 12 first:
#   1. g++ 12, Release (CMake's -O3, as users build): everything, every test;
#   2. clang-16 with libstdc++, Debug, AddressSanitizer + UndefinedBehaviorSanitizer: every test
#      binary (so the library and its tests build warning-free with clang too);
#   3. g++ 12, Debug, ThreadSanitizer: the core's tests and the HTTP tests on thread pools (their
#      own small binary, so that TSan compiles only them);
#   4. clang-16 with libc++, Debug: the core's tests (they need no compiled Boost library, and
#      Debian's Boost.URL is built against libstdc++);
#   5. each libFuzzer harness for a bounded time (scripts/fuzz.sh), clang-tidy on the headers
#      (scripts/tidy.sh, zero warnings).
# Any sanitizer report fails the run. Every build is warning-free under -Werror.
#   scripts/test.sh            build dirs: build/test (override with FANOUT_BUILD_DIR),
#                              build/test-asan, build/test-tsan, build/test-libcxx, build/fuzz,
#                              build/tidy
#   FANOUT_SANITIZERS=0 scripts/test.sh    skips the two sanitizer stages (quick local runs)
#   FANOUT_FUZZ=0, FANOUT_TIDY=0           skip the fuzzing and clang-tidy stages
#   FANOUT_FUZZ_SECONDS=N                  fuzzing time per harness (default 30)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FANOUT_BUILD_DIR:-$root/build/test}
sanitizers=${FANOUT_SANITIZERS:-1}
fuzz=${FANOUT_FUZZ:-1}
tidy=${FANOUT_TIDY:-1}

"$root/scripts/setup-debian.sh" build test

jobs=$(nproc 2>/dev/null || echo 2)
stage_start=$SECONDS
stage() {  # stage <name>: prints how long the previous stage took
  echo "test.sh: ${1} (previous stage: $((SECONDS - stage_start)) s)" >&2
  stage_start=$SECONDS
}

stage "g++ Release: build and every test"
# FANOUT_UNITY_TESTS: each test binary compiles as two units, not one per file (a third of the
# time; tests/CMakeLists.txt).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFANOUT_BUILD_TESTS=ON \
  -DFANOUT_BUILD_EXAMPLES=ON -DFANOUT_BUILD_BENCH=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DFANOUT_UNITY_TESTS=ON
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600

# test_build <dir> <c compiler> <c++ compiler> <flags> <targets...>: a Debug build of only the
# test binaries. The C compiler is named too: the link flags (-stdlib=libc++, sanitizers) also
# reach CMake's C compiler check.
test_build() {
  local dir=$1 cc=$2 cxx=$3 flags=$4
  shift 4
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DFANOUT_BUILD_TESTS=ON \
    -DFANOUT_BUILD_EXAMPLES=OFF -DFANOUT_BUILD_TOOLS=OFF -DFANOUT_BUILD_BENCH=OFF \
    -DFANOUT_UNITY_TESTS=ON \
    "-DCMAKE_C_COMPILER=$cc" \
    "-DCMAKE_CXX_COMPILER=$cxx" \
    "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=$flags"
  cmake --build "$dir" -j "$jobs" --target "$@"
}

# A report ends the process with a failure (and so the test): no recovering, no second report.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

if [[ $sanitizers != 0 ]]; then
stage "clang-16 AddressSanitizer + UndefinedBehaviorSanitizer: build"
test_build "$root/build/test-asan" clang-16 clang++-16 \
  "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  fanout_all_tests
stage "clang-16 AddressSanitizer + UndefinedBehaviorSanitizer: tests"
# The consumer tests build other projects with the system compiler: nothing to sanitize. The
# test that uses up every file descriptor on purpose runs in the Release stage only: the
# sanitizers' own runtime needs descriptors (ASan's CHECK on pthread_getattr_np, UBSan's vptr
# check through a pipe) and fails there, not fanout.
ctest --test-dir "$root/build/test-asan" --output-on-failure -j "$jobs" --timeout 600 \
  -E "consumer|out of descriptors with no connection of its own"

stage "g++ ThreadSanitizer: build"
# GCC warns that TSan does not instrument std::atomic_thread_fence; -Werror would stop there.
test_build "$root/build/test-tsan" gcc g++ "-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan" \
  fanout_core_tests fanout_http_threads_tests
stage "g++ ThreadSanitizer: tests"
# The core's tests (gather, semaphores, run on thread pools) and the HTTP tests on thread pools.
"$root/build/test-tsan/tests/core/fanout_core_tests"
"$root/build/test-tsan/tests/http/fanout_http_threads_tests"
else
  stage "sanitizers skipped (FANOUT_SANITIZERS=0)"
fi

stage "clang-16 with libc++: build the core's tests"
test_build "$root/build/test-libcxx" clang-16 clang++-16 -stdlib=libc++ fanout_core_tests
stage "clang-16 with libc++: the core's tests"
"$root/build/test-libcxx/tests/core/fanout_core_tests"

if [[ $fuzz != 0 ]]; then
  stage "fuzzing (${FANOUT_FUZZ_SECONDS:-30} s per harness)"
  FANOUT_FUZZ_SECONDS=${FANOUT_FUZZ_SECONDS:-30} "$root/scripts/fuzz.sh"
fi

if [[ $tidy != 0 ]]; then
  stage "clang-tidy"
  "$root/scripts/tidy.sh"
fi
stage "done"
