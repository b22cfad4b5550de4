#!/usr/bin/env bash
# Downloads at scale, fanout beside curl and aria2c in the same run, alternating: N files of
# SIZE from a local nginx (tests/http/download/download_run.sh starts it) at concurrency C,
# to files on disk and to /dev/null. Per client and target, the medians of REPS runs:
# wall seconds, MiB/s, client CPU (user+sys) per GiB, peak RSS.
#
#   bench/download.sh [--build DIR] [--files N] [--size 64m|1g] [--concurrency C] [--reps R]
#
# fanout is build/rel/bench/download-bench (a Release build: cmake -DFANOUT_BUILD_BENCH=ON);
# curl is `curl --parallel --parallel-max C` (-o per file), aria2c `aria2c -j C -x 1` (one
# connection per file, as the others). Disk files go to a scratch directory, removed after
# each run. Installs aria2 from Debian when missing. Targets (issue 16): throughput >= 1.0 x
# the faster peer, CPU per GiB <= 0.8 x curl's, peak RSS <= 64 MiB.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build/rel files=64 size=64m conc=16 reps=3
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --concurrency) conc=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "usage: download.sh [--build DIR] [--files N] [--size 64m|1g] [--concurrency C] [--reps R]" >&2; exit 2 ;;
  esac
done
[[ $size == 64m || $size == 1g ]] || { echo "download.sh: --size is 64m or 1g" >&2; exit 2; }
bench=$build/bench/download-bench
[[ -x $bench ]] || { echo "download.sh: $bench not built (cmake -DFANOUT_BUILD_BENCH=ON, make download-bench)" >&2; exit 1; }
command -v aria2c >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q aria2 >/dev/null
command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl >/dev/null
work=$(mktemp -d /tmp/fanout-download-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

export FANOUT_DL_1G=$([[ $size == 1g ]] && echo 1 || echo 0)
export BENCH_FILES=$files BENCH_SIZE=$size BENCH_CONC=$conc BENCH_REPS=$reps BENCH_FANOUT=$bench
export BENCH_WORK=$work
"$repo/tests/http/download/download_run.sh" /bin/bash "$work/nginx" -c '
set -euo pipefail
cd "$FANOUT_DL_CONTENT"
for ((i = 0; i < BENCH_FILES; i++)); do ln -sf "$BENCH_SIZE" "f$i"; done
base=$FANOUT_DL_BASE/files
urls=()
for ((i = 0; i < BENCH_FILES; i++)); do urls+=("$base/f$i"); done
printf "%s\n" "${urls[@]}" >"$BENCH_WORK/urls.txt"
bytes=$(( $(stat -L -c %s "$FANOUT_DL_CONTENT/$BENCH_SIZE") * BENCH_FILES ))
out=$BENCH_WORK/out
# run <client> <target>: one timed run; appends "client target seconds cpu rss_kib" to results.
run() {
  local client=$1 target=$2 dest t0 t1 cmd
  rm -rf "$out"
  mkdir -p "$out"
  case $client in
    fanout)
      [[ $target == disk ]] && dest=$out || dest=-
      cmd=("$BENCH_FANOUT" "$base" "$BENCH_FILES" "$BENCH_CONC" "$dest") ;;
    curl)
      cmd=(curl -s -f --parallel --parallel-max "$BENCH_CONC")
      for ((i = 0; i < BENCH_FILES; i++)); do
        [[ $target == disk ]] && dest=$out/f$i || dest=/dev/null
        cmd+=("$base/f$i" -o "$dest")
      done ;;
    aria2c)
      # aria2c writes files only: measured to disk.
      cmd=(aria2c -q -j "$BENCH_CONC" -x 1 -s 1 --file-allocation=none --auto-file-renaming=false
           --allow-overwrite=true --console-log-level=error -d "$out" -i "$BENCH_WORK/urls.txt") ;;
  esac
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$BENCH_WORK/time" "${cmd[@]}" >/dev/null 2>"$BENCH_WORK/stderr" ||
    { cat "$BENCH_WORK/stderr" >&2; exit 1; }
  t1=$(date +%s.%N)
  read -r user sys rss <"$BENCH_WORK/time"
  if [[ $target == disk ]]; then
    got=$(du -b -c -L "$out"/* 2>/dev/null | tail -1 | cut -f1)
    [[ $got == "$bytes" ]] || { echo "download.sh: $client wrote $got bytes, not $bytes" >&2; exit 1; }
  fi
  awk -v c="$client" -v t="$target" -v a="$t0" -v b="$t1" -v u="$user" -v s="$sys" -v m="$rss" \
    "BEGIN { printf \"%s %s %.3f %.3f %s\n\", c, t, b - a, u + s, m }" >>"$BENCH_WORK/results"
  rm -rf "$out"
}
: >"$BENCH_WORK/results"
for ((r = 0; r < BENCH_REPS; r++)); do
  for target in disk null; do
    for client in fanout curl aria2c; do
      [[ $client == aria2c && $target == null ]] && continue
      run "$client" "$target"
    done
  done
done
gib=$(awk -v b="$bytes" "BEGIN { printf \"%.6f\", b / 1073741824 }")
echo "$BENCH_FILES files of $BENCH_SIZE at concurrency $BENCH_CONC from a local nginx (1 worker), $BENCH_REPS runs each, alternating; medians"
echo
echo "| target | client | seconds | MiB/s | CPU s per GiB | peak RSS MiB |"
echo "| --- | --- | --- | --- | --- | --- |"
for target in disk null; do
  for client in fanout curl aria2c; do
    awk -v c="$client" -v t="$target" -v gib="$gib" "
      \$1 == c && \$2 == t { s[n] = \$3; cpu[n] = \$4; rss[n] = \$5; n++ }
      function median(a, n,   i, j, x) {
        for (i = 1; i < n; i++) { x = a[i]; for (j = i - 1; j >= 0 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x }
        return n % 2 ? a[int(n/2)] : (a[n/2-1] + a[n/2]) / 2
      }
      END { if (n) printf \"| %s | %s | %.3f | %.0f | %.3f | %.1f |\n\", t, c, median(s, n), gib * 1024 / median(s, n), median(cpu, n) / gib, median(rss, n) / 1024 }
    " "$BENCH_WORK/results"
  done
done
'
