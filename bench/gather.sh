#!/usr/bin/env bash
# The gather-overhead question: fanout::gather vs Python's asyncio.gather, same N and caps, in
# one run. Prints a markdown table.   bench/gather.sh [N]   (default 1000000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FANOUT_BUILD_DIR:-$root/build-bench}
n=${1:-1000000}

"$root/scripts/setup-debian.sh" build >/dev/null
command -v python3 >/dev/null || "$root/scripts/setup-debian.sh" bench
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFANOUT_BUILD_TESTS=OFF \
  -DFANOUT_BUILD_EXAMPLES=OFF -DFANOUT_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target gather-bench >/dev/null

echo "| N | items | cap | fanout items/s | fanout peak RSS (MiB) | asyncio items/s | asyncio peak RSS (MiB) | speed ratio |"
echo "|---|---|---|---|---|---|---|---|"
# "inline": items complete without suspending; "suspend": each goes once through the scheduler.
for mode in inline suspend; do
  extra=()
  [[ $mode == suspend ]] && extra=(suspend)
  for cap in 256 0; do
    read -r _ _ _ _ f_rate f_rss < <("$build/bench/gather-bench" "$n" "$cap" "${extra[@]}" | tail -1)
    read -r _ _ _ _ p_rate p_rss < <(python3 "$root/bench/peers/asyncio_gather.py" "$n" "$cap" "${extra[@]}" | tail -1)
    awk -v n="$n" -v mode="$mode" -v cap="$cap" -v fr="$f_rate" -v fm="$f_rss" -v pr="$p_rate" -v pm="$p_rss" \
      'BEGIN { printf "| %d | %s | %s | %.0f | %.1f | %.0f | %.1f | %.1fx |\n", n, mode, (cap == 0 ? "none" : cap), fr, fm / 1024, pr, pm / 1024, fr / pr }'
  done
done
