#!/usr/bin/env bash
# What fanout costs to compile, in a user's file: bench/build_cost/user.cpp (a gather of GETs
# over one session) header-only and in the compiled mode, beside bench/build_cost/bare.cpp
# (fanout's dependencies alone, Asio + Beast + SSL + Boost.URL + nlohmann/json, doing one
# HTTPS request), in the same run, alternately; medians of wall time and peak compiler memory.
#
#   bench/build_cost.sh [--reps R] [--cxx g++] [--flags "-O2"]
#
# The compiled mode is what the CMake target fanout::compiled gives a user's files:
# FANOUT_SEPARATE_COMPILATION, BOOST_ASIO_SEPARATE_COMPILATION and
# BOOST_BEAST_SEPARATE_COMPILATION defined, the definitions compiled once in the library.
# Targets (issue 15): compiled <= 0.25 x bare, header-only <= 1.2 x bare.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
reps=3 cxx=${CXX:-g++} flags="-O2"
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --flags) flags=$2; shift 2 ;;
    *) echo "usage: build_cost.sh [--reps R] [--cxx g++] [--flags \"-O2\"]" >&2; exit 2 ;;
  esac
done
src=$repo/bench/build_cost
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

declare -A cmd=(
  [bare]="$cxx -std=c++20 $flags -c $src/bare.cpp"
  [header-only]="$cxx -std=c++20 $flags -I$repo/include -c $src/user.cpp"
  [compiled]="$cxx -std=c++20 $flags -I$repo/include -DFANOUT_SEPARATE_COMPILATION -DBOOST_ASIO_SEPARATE_COMPILATION -DBOOST_BEAST_SEPARATE_COMPILATION -c $src/user.cpp"
)
order=(bare header-only compiled)
declare -A secs mem
for ((i = 0; i < reps; i++)); do
  for tu in "${order[@]}"; do
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %M" -o "$out/time" ${cmd[$tu]} -o "$out/$tu.o"
    read -r s m <"$out/time"
    secs[$tu]+="$s "
    mem[$tu]+="$m "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
bare_s=$(median <<<"${secs[bare]}")
echo "| translation unit | seconds | peak MiB | x bare | target |"
echo "| --- | --- | --- | --- | --- |"
for tu in "${order[@]}"; do
  s=$(median <<<"${secs[$tu]}") m=$(median <<<"${mem[$tu]}")
  target=""
  [[ $tu == header-only ]] && target="<= 1.2"
  [[ $tu == compiled ]] && target="<= 0.25"
  printf '| %s | %s | %.0f | %s | %s |\n' "$tu" "$s" "$(awk -v m="$m" 'BEGIN {print m / 1024}')" \
    "$(awk -v a="$s" -v b="$bare_s" 'BEGIN {printf "%.2f", a / b}')" "$target"
done
echo
echo "$($cxx --version | head -1), $flags, $reps runs each, alternating; medians."
