#!/usr/bin/env bash
# Two builds of fanout-bench against one local nginx, alternately (A B A B ...): the client CPU
# per request (user + sys of the client / requests) and requests/s of each, medians, and B / A.
# For "did this change cost the hot path anything": build fanout-bench before and after it.
#
#   bench/ab.sh [--reps R] [--n N] [--c "64 256"] [--route /100b] [--pin] BIN_A BIN_B
#
# R runs of each (default 7), N requests per run (default 20000), at each C (default 64 256).
# nginx (1 worker, loopback) comes from tests/support/nginx/nginx.sh and is stopped on exit.
# --pin puts nginx on the last CPU and the clients on CPU 0 (steadier on 2 cores).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
reps=7 n=20000 cs="64 256" route=/100b pin=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --c) cs=$2; shift 2 ;;
    --route) route=$2; shift 2 ;;
    --pin) pin=1; shift ;;
    -*) echo "ab.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -eq 2 ]] || { echo "usage: ab.sh [options] BIN_A BIN_B" >&2; exit 2; }
bin_a=$1 bin_b=$2
for b in "$bin_a" "$bin_b"; do [[ -x $b ]] || { echo "ab.sh: $b is not executable" >&2; exit 2; }; done

ngx_dir=$(mktemp -d /tmp/fanout-ab-nginx.XXXXXX)
trap '"$repo/tests/support/nginx/nginx.sh" stop "$ngx_dir" || true; rm -rf "$ngx_dir"' EXIT
ngx_args=() client=()
if ((pin)); then ngx_args=(--cpu "$(($(nproc) - 1))"); client=(taskset -c 0); fi
"$repo/tests/support/nginx/nginx.sh" start "$ngx_dir" "${ngx_args[@]}" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$ngx_dir/ports.env"
url=http://127.0.0.1:$HTTP_PORT$route

# run <bin> <c>: prints "cpu_us_per_request requests_per_s"; fails on any request error.
run() {
  local out times
  out=$(mktemp)
  times=$(mktemp)
  timeout 300 "${client[@]}" /usr/bin/time -f "%U %S" -o "$times" "$1" "$url" "$n" "$2" >"$out"
  local line errors
  line=$(grep '^fanout ' "$out")
  errors=$(awk '{print $6}' <<<"$line")
  [[ $errors == 0 ]] || { echo "ab.sh: $1 reported $errors errors" >&2; exit 1; }
  awk -v n="$n" -v rps="$(awk '{print $5}' <<<"$line")" \
    '{printf "%.3f %.0f\n", ($1 + $2) * 1e6 / n, rps}' "$times"
  rm -f "$out" "$times"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for b in "$bin_a" "$bin_b"; do run "$b" 64 >/dev/null; done  # warm nginx and the page cache
echo "| C | A: CPU µs/req | B: CPU µs/req | B / A | A: req/s | B: req/s |"
echo "| --- | --- | --- | --- | --- | --- |"
for c in $cs; do
  a_cpu=() b_cpu=() a_rps=() b_rps=()
  for ((i = 0; i < reps; i++)); do
    read -r cpu rps < <(run "$bin_a" "$c"); a_cpu+=("$cpu"); a_rps+=("$rps")
    read -r cpu rps < <(run "$bin_b" "$c"); b_cpu+=("$cpu"); b_rps+=("$rps")
  done
  ma=$(printf '%s\n' "${a_cpu[@]}" | median) mb=$(printf '%s\n' "${b_cpu[@]}" | median)
  ra=$(printf '%s\n' "${a_rps[@]}" | median) rb=$(printf '%s\n' "${b_rps[@]}" | median)
  printf '| %s | %s | %s | %s | %s | %s |\n' "$c" "$ma" "$mb" \
    "$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", b / a}')" "$ra" "$rb"
done
echo
echo "A = $bin_a, B = $bin_b; N = $n per run, $reps runs each, alternating; medians." \
  "nginx 1 worker on loopback$( ((pin)) && echo ", pinned (nginx on CPU $(($(nproc) - 1)), clients on CPU 0)")."
