#!/usr/bin/env bash
# fanout against libcurl's multi interface and wrk, on one local nginx, in one run.
#
#   bench/compare.sh [--build-dir DIR] [--reps R] [--scale K] [--threads T] [--pin]
#                    [--wait-quiet S] [--no-install] [--no-build]
#
# 1. installs what it needs from Debian when missing (root: apt-get), 2. builds the bench
# targets (Release) in DIR (default: $FANOUT_BUILD_DIR or <repo>/build-bench; not build/bench,
# which a dev build in build/ with FANOUT_BUILD_BENCH uses for its own bench targets), 3. starts
# nginx (1 worker, loopback, tests/support/nginx/nginx.sh) and stops it on exit, 4. runs the
# peers alternately (A B C A B C ..., R = 3 repetitions) for each scenario, 5. prints a
# markdown table of medians with the ratios fanout/curl and fanout/wrk, and peak RSS
# (/usr/bin/time -f %M).
#
# Peers: fanout-bench (skipped with "not built" while it does not exist), curl-multi
# (bench/peers/curl_multi.c), and wrk -t1 -c C. wrk runs for a duration, not a count: it runs
# for the whole seconds that send about N requests at its last measured rate (at least 1 s,
# its smallest duration, which at these rates is more than N) and its requests/s is reported.
# wrk does not verify TLS certificates; curl-multi and fanout-bench do.
# --threads T adds a column for fanout-bench --threads T. --pin puts the nginx worker on the
# last CPU and every client on CPU 0 (steadier figures at C = 1, where otherwise the
# scheduler decides whether the ping-pong crosses cores: about 10,000 vs 25,000 req/s here).
# Cells show the median and, with R > 1, the range (min-max) of the runs. --scale K multiplies
# N (not the delay scenario's 300) for longer, steadier runs than the issue's N = 20,000.
# Each run also records how much CPU other processes used meanwhile; --wait-quiet S waits up
# to S seconds before each scenario until the machine is idle (< 10% busy over 1 s).
# The raw output of every run is kept in DIR/compare/. nginx shares the machine's cores with
# the client under test: the figures are for this machine only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/.." && pwd -P)
nginx_sh=$repo/tests/support/nginx/nginx.sh

build=${FANOUT_BUILD_DIR:-$repo/build-bench}
reps=3
threads=''
pin=0
scale=1
wait_quiet=0
install=1
do_build=1
while (($#)); do
  case $1 in
    --build-dir) build=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --pin) pin=1; shift ;;
    --scale) scale=$2; shift 2 ;;
    --wait-quiet) wait_quiet=$2; shift 2 ;;
    --no-install) install=0; shift ;;
    --no-build) do_build=0; shift ;;
    -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --reps must be a positive integer" >&2; exit 2; }
[[ $wait_quiet =~ ^[0-9]+$ ]] || { echo "compare.sh: --wait-quiet takes seconds" >&2; exit 2; }
[[ $scale =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --scale must be a positive integer" >&2; exit 2; }
[[ -z $threads || $threads =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: bad --threads" >&2; exit 2; }

say() { echo "compare.sh: $*" >&2; }
started_at=$SECONDS

# ---- 1. packages ------------------------------------------------------------------------
# The library's own build dependencies too, so that this runs from a fresh clone: the
# project's setup script when there is one (it also keeps Debian's nginx from starting a
# system server on port 80), then whatever this script uses beyond it.
packages=(nginx-light libnginx-mod-http-echo wrk libcurl4-openssl-dev time openssl
  coreutils util-linux procps cmake make g++ gcc pkg-config libboost1.81-dev
  libboost-url1.81-dev libssl-dev zlib1g-dev nlohmann-json3-dev)
if ((install)); then
  if [[ -x $repo/scripts/setup-debian.sh ]]; then
    "$repo/scripts/setup-debian.sh" build bench
  fi
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    ((EUID == 0)) || { say "missing packages (need root to install): ${missing[*]}"; exit 1; }
    say "installing ${missing[*]}"
    # Debian's nginx package may start a system nginx on port 80; nothing here uses it.
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
fi

# ---- 2. build ---------------------------------------------------------------------------
mkdir -p "$build"
build=$(cd "$build" && pwd -P)
out=$build/compare
mkdir -p "$out"
rm -f "$out"/*.txt

# status of each peer binary: "ok <path>" or a reason shown in the table
declare -A bin_of reason_of
build_target() { # target -> sets bin_of/reason_of
  local t=$1 log=$out/build-$1.log
  if cmake --build "$build" --target "$t" -j "$(nproc)" >"$log" 2>&1; then
    bin_of[$t]=$(find "$build" -type f -name "$t" -perm -u+x -print -quit)
  elif grep -qE "No rule to make target '?$t|unknown target|Unknown target" "$log"; then
    reason_of[$t]="not built"
  else
    reason_of[$t]="build failed"
    say "building $t failed: see $log"
  fi
}
if ((do_build)); then
  say "configuring and building in $build"
  if cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFANOUT_BUILD_BENCH=ON \
    -DFANOUT_BUILD_TESTS=OFF -DFANOUT_BUILD_EXAMPLES=OFF -DFANOUT_INSTALL=OFF \
    >"$out/configure.log" 2>&1; then
    build_target curl-multi
    build_target fanout-bench
  else
    say "configuring the project failed (see $out/configure.log): building curl-multi alone"
    reason_of[fanout-bench]="build failed"
  fi
  if [[ -z ${bin_of[curl-multi]:-} ]]; then
    # The peer needs nothing of fanout: build it directly if the project did not.
    if cc -O2 -Wall -Wextra -Werror -o "$build/curl-multi" "$repo/bench/peers/curl_multi.c" \
      -lcurl >"$out/build-curl-multi-cc.log" 2>&1; then
      bin_of[curl-multi]=$build/curl-multi
      unset 'reason_of[curl-multi]'
    else
      reason_of[curl-multi]="build failed"
    fi
  fi
else
  for t in curl-multi fanout-bench; do
    p=$(find "$build" -type f -name "$t" -perm -u+x -print -quit 2>/dev/null || true)
    if [[ -n $p ]]; then bin_of[$t]=$p; else reason_of[$t]="not built"; fi
  done
fi
if command -v wrk >/dev/null; then bin_of[wrk]=$(command -v wrk); else reason_of[wrk]="not installed"; fi
[[ -x /usr/bin/time ]] || { say "/usr/bin/time missing (apt-get install time)"; exit 1; }
for t in fanout-bench curl-multi wrk; do
  say "$t: ${bin_of[$t]:-${reason_of[$t]}}"
done

# ---- 3. nginx ---------------------------------------------------------------------------
ngx_dir=$(mktemp -d /tmp/fanout-compare-nginx.XXXXXX)
cleanup() {
  "$nginx_sh" stop "$ngx_dir" || true
  rm -rf "$ngx_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ngx_args=()
client=()
if ((pin)); then
  ngx_args=(--cpu "$(($(nproc) - 1))")
  client=(taskset -c 0)
fi
"$nginx_sh" start "$ngx_dir" "${ngx_args[@]}"
# shellcheck disable=SC1091
. "$ngx_dir/ports.env"
http=http://127.0.0.1:$HTTP_PORT
https=https://127.0.0.1:$HTTPS_PORT

# ---- 4. runs ----------------------------------------------------------------------------
# id|label|url|N|C|kind   (kind: rate = requests/s, time = seconds for all N)
nh=$((20000 * scale)) ns=$((5000 * scale))
scenarios=(
  "http-c1|HTTP 100 B, C = 1, N = $nh|$http/100b|$nh|1|rate"
  "http-c16|HTTP 100 B, C = 16, N = $nh|$http/100b|$nh|16|rate"
  "http-c64|HTTP 100 B, C = 64, N = $nh|$http/100b|$nh|64|rate"
  "http-c256|HTTP 100 B, C = 256, N = $nh|$http/100b|$nh|256|rate"
  "https-c64|HTTPS 100 B, C = 64, N = $ns, handshakes included|$https/100b|$ns|64|rate"
)
if [[ ${DELAY_ROUTE:-0} == 1 ]]; then
  scenarios+=("delay|300 x 100 ms route, C = 300 (seconds for all 300)|$http/delay|300|300|time")
else
  say "nginx has no /delay route (echo module missing): skipping that scenario"
fi

peers=(fanout curl-multi wrk)
[[ -n $threads ]] && peers=(fanout fanout-mt curl-multi wrk)
declare -A peer_bin=([fanout]=fanout-bench [fanout-mt]=fanout-bench [curl-multi]=curl-multi [wrk]=wrk)
declare -A wrk_secs  # per scenario: wrk's duration, adapted to its measured rate
declare -A runs      # scenario,peer -> lines "rps seconds rss_kib errors rc requests"

# The share of the machine's CPU that neither the client nor nginx used during a run: what
# else ran (another build, say) and so how far to trust that run's wall-clock figures.
# Ticks of user + nice + system from /proc/stat, less nginx's worker and the client.
hz=$(getconf CLK_TCK)
ngx_master=$(<"$ngx_dir/nginx.pid")
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4; exit}' /proc/stat; }
nginx_ticks() {
  local w
  for w in $(pgrep -P "$ngx_master"); do
    awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$w/stat" 2>/dev/null || true
  done | awk '{s += $1} END {print s + 0}'
}

run_once() { # scenario-id url n c peer rep
  local id=$1 url=$2 n=$3 c=$4 peer=$5 rep=$6
  local bin=${bin_of[${peer_bin[$peer]}]:-}
  [[ -n $bin ]] || return 0
  local raw=$out/$id-$peer-$rep.txt rss=$out/$id-$peer-$rep.rss rc=0
  local -a cmd tls=()
  [[ $url == https:* ]] && tls=(--cacert "$CA_FILE")
  case $peer in
    fanout) cmd=("$bin" "$url" "$n" "$c" "${tls[@]}") ;;
    fanout-mt) cmd=("$bin" "$url" "$n" "$c" --threads "$threads" "${tls[@]}") ;;
    curl-multi) cmd=("$bin" "$url" "$n" "$c" "${tls[@]}" --timeout 100) ;;
    wrk) cmd=("$bin" -t1 -c "$c" -d "${wrk_secs[$id]}s" --timeout 10s "$url") ;;
  esac
  local b0 n0 t0 b1 n1 t1 other
  b0=$(busy_ticks) n0=$(nginx_ticks) t0=$EPOCHREALTIME
  timeout -k 5 150 /usr/bin/time -f '%M %U %S' -o "$rss" "${client[@]}" "${cmd[@]}" >"$raw" 2>&1 ||
    rc=$?
  b1=$(busy_ticks) n1=$(nginx_ticks) t1=$EPOCHREALTIME
  local rss_kib rps secs errors requests cpu usage
  usage=$(grep -E '^[0-9]+ [0-9.]+ [0-9.]+$' "$rss" 2>/dev/null | tail -1 || true)
  rss_kib=$(awk '{print $1}' <<<"$usage")
  if [[ $peer == wrk ]]; then
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$raw")
    requests=$(awk '/ requests in / {print $1}' "$raw")
    secs=$(awk '/ requests in / {sub(/s,$/, "", $4); print $4}' "$raw")
    errors=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}
                  /Non-2xx or 3xx responses:/ {print $5}' "$raw" | awk '{s += $1} END {print s + 0}')
    if [[ -n $rps && -n $requests ]]; then
      # Next time, run for the whole seconds that send about N requests at this rate.
      wrk_secs[$id]=$(awk -v n="$n" -v r="$rps" 'BEGIN {d = int(n / r + 0.5); print d < 1 ? 1 : d}')
    fi
  else
    # last line: "<name> N C seconds req_per_s errors"
    local last
    last=$(grep -E "^(fanout|curl-multi) $n $c " "$raw" | tail -1 || true)
    secs=$(awk '{print $4}' <<<"$last")
    rps=$(awk '{print $5}' <<<"$last")
    errors=$(awk '{print $6}' <<<"$last")
    requests=$n
  fi
  if [[ -z $rps ]]; then
    say "$id $peer rep $rep: no result (exit $rc), see $raw"
    rps=- secs=- errors=-
  elif ((rc != 0)) || [[ $errors != 0 ]]; then
    say "$id $peer rep $rep: exit $rc, errors $errors, see $raw"
  fi
  # client CPU (user + system) per request, in microseconds
  cpu=$(awk -v r="${requests:-0}" '$2 != "" && r > 0 {printf "%.1f", ($2 + $3) * 1e6 / r}' <<<"$usage")
  # percent of all CPUs used by other processes during the run
  other=$(awk -v b="$((b1 - b0))" -v n="$((n1 - n0))" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
    -v cpus="$(nproc)" '$2 != "" {o = (b - n - ($2 + $3) * hz) / ((t1 - t0) * hz * cpus) * 100
      printf "%.0f", o < 0 ? 0 : o}' <<<"$usage")
  runs[$id,$peer]+="$rps ${secs:--} ${rss_kib:--} ${errors:--} $rc ${requests:--} ${cpu:--} ${other:--}"$'\n'
  say "$(printf '%-10s %-10s rep %d: %10s req/s %9s s %8s KiB %7s us CPU/req errors %s, other processes %s%% CPU' \
    "$id" "$peer" "$rep" "$rps" "$secs" "${rss_kib:--}" "${cpu:--}" "$errors" "${other:--}")"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Warm nginx (page cache, TLS session cache) and the CPU governor before measuring.
if [[ -n ${bin_of[curl-multi]:-} ]]; then
  "${bin_of[curl-multi]}" "$http/100b" 20000 64 >/dev/null 2>&1 || true
fi

# Waits up to $wait_quiet seconds until the CPUs were less than 10% busy over one second.
wait_for_quiet() {
  local until=$((SECONDS + wait_quiet)) b0 b1 pct
  while true; do
    b0=$(busy_ticks)
    sleep 1
    b1=$(busy_ticks)
    pct=$(((b1 - b0) * 100 / (hz * $(nproc))))
    ((pct < 10)) && return 0
    if ((SECONDS >= until)); then
      say "machine still ${pct}% busy after waiting ${wait_quiet} s: measuring anyway"
      return 0
    fi
    say "machine ${pct}% busy: waiting"
    sleep 4
  done
}

for s in "${scenarios[@]}"; do
  IFS='|' read -r id label url n c kind <<<"$s"
  ((wait_quiet == 0)) || wait_for_quiet
  wrk_secs[$id]=1
  for ((rep = 1; rep <= reps; rep++)); do
    for peer in "${peers[@]}"; do
      run_once "$id" "$url" "$n" "$c" "$peer" "$rep"
    done
  done
done

# ---- 5. table ---------------------------------------------------------------------------
# median FIELD over the runs of scenario,peer that ended without error
median() { # id peer field(1 rps, 2 secs, 3 rss, 7 cpu us/req, 8 other CPU %) -> median or nothing
  local lines=${runs[$1,$2]:-}
  [[ -n $lines ]] || return 0
  awk -v f="$3" 'NF && $1 != "-" && $4 == 0 && $5 == 0 && $f != "-" {print $f}' <<<"$lines" |
    sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}
range() { # id peer field -> "min-max" over the good runs when there are several
  local lines=${runs[$1,$2]:-}
  awk -v f="$3" 'NF && $1 != "-" && $4 == 0 && $5 == 0 && $f != "-" {print $f}' <<<"$lines" |
    sort -g | awk -v t="$4" 'NR == 1 {lo = $1} {hi = $1} END {
      if (NR > 1) printf(t == "time" ? " (%.3f-%.3f)" : " (%.0f-%.0f)", lo, hi)}'
}
failed_runs() { # id peer -> count of runs that failed or had errors
  awk 'NF && ($1 == "-" || $4 != 0 || $5 != 0)' <<<"${runs[$1,$2]:-}" | wc -l
}
cell() { # id peer kind -> table cell
  local id=$1 peer=$2 kind=$3 bin=${peer_bin[$2]} v bad
  if [[ -z ${bin_of[$bin]:-} ]]; then
    echo "${reason_of[$bin]:-not built}"
    return
  fi
  bad=$(failed_runs "$id" "$peer")
  if [[ $kind == time && $peer == wrk ]]; then
    v=$(median "$id" "$peer" 1)
    [[ -n $v ]] && echo "n/a ($(printf '%.0f' "$v") req/s over $(median "$id" "$peer" 2) s)" ||
      echo "failed"
    return
  fi
  if [[ $kind == time ]]; then v=$(median "$id" "$peer" 2); else v=$(median "$id" "$peer" 1); fi
  if [[ -z $v ]]; then
    echo "failed ($bad of $reps runs)"
  elif [[ $kind == time ]]; then
    printf '%.3f s%s%s' "$v" "$(range "$id" "$peer" 2 time)" "$( ((bad)) && echo ", $bad runs failed")"
    echo
  else
    printf '%.0f%s%s' "$v" "$(range "$id" "$peer" 1 rate)" "$( ((bad)) && echo ", $bad runs failed")"
    echo
  fi
}
ratio() { # id kind peer-a peer-b -> a/b for rates, a/b of seconds for time
  local id=$1 kind=$2 a b field=1
  [[ $kind == time ]] && field=2
  [[ $kind == time && $4 == wrk ]] && { echo "n/a"; return; }
  a=$(median "$id" "$3" "$field")
  b=$(median "$id" "$4" "$field")
  [[ -n $a && -n $b ]] || { echo "–"; return; }
  awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f\n", a / b}'
}

field_table() { # field ratio(1/0) title... -> a table of that field's medians [, fanout/curl]
  local field=$1 with_ratio=$2 peer s id label url n c kind row v a b
  shift 2
  if ((with_ratio)); then echo "$*; fanout/curl in the last column:"; else echo "$*:"; fi
  echo
  row="| scenario |"
  for peer in "${peers[@]}"; do row+=" $peer |"; done
  ((with_ratio)) && row+=" fanout/curl |"
  echo "$row"
  row="|---|"
  for peer in "${peers[@]}"; do row+="---:|"; done
  ((with_ratio)) && row+="---:|"
  echo "$row"
  for s in "${scenarios[@]}"; do
    IFS='|' read -r id label url n c kind <<<"$s"
    row="| $label |"
    for peer in "${peers[@]}"; do
      if [[ -z ${bin_of[${peer_bin[$peer]}]:-} ]]; then
        row+=" ${reason_of[${peer_bin[$peer]}]:-not built} |"
      else
        v=$(median "$id" "$peer" "$field")
        row+=" ${v:-failed} |"
      fi
    done
    if ((with_ratio)); then
      a=$(median "$id" fanout "$field")
      b=$(median "$id" curl-multi "$field")
      if [[ -n $a && -n $b ]]; then
        row+=" $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}') |"
      else
        row+=" – |"
      fi
    fi
    echo "$row"
  done
  echo
}

wrk_requests() { # id -> median requests wrk sent
  awk 'NF && $6 != "-" {print $6}' <<<"${runs[$1,wrk]:-}" | sort -n |
    awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}

{
  echo "### fanout vs libcurl multi vs wrk: medians of $reps, requests/s unless noted"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),"
  echo "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///') 1 worker on the same cores, loopback;" \
    "$( ((pin)) && echo "pinned: nginx on CPU $(($(nproc) - 1)), clients on CPU 0;" || echo "not pinned;")" \
    "$(curl-config --version 2>/dev/null || echo libcurl), wrk $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?');" \
    "fanout $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?');" \
    "load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  header="| scenario |"
  sep="|---|"
  for peer in "${peers[@]}"; do
    case $peer in
      fanout) header+=" fanout |" ;;
      fanout-mt) header+=" fanout --threads $threads |" ;;
      curl-multi) header+=" curl-multi |" ;;
      wrk) header+=" wrk -t1 |" ;;
    esac
    sep+="---:|"
  done
  header+=" fanout/curl | fanout/wrk |"
  sep+="---:|---:|"
  # what else used the CPUs during all runs
  other_all=$(for k in "${!runs[@]}"; do awk 'NF && $8 != "-" {print $8}' <<<"${runs[$k]}"; done |
    sort -n | awk '{v[NR] = $1} END {if (NR) printf "%d %d", v[int((NR + 1) / 2)], v[NR]}')
  if [[ -n $other_all ]]; then
    read -r other_med other_max <<<"$other_all"
    echo "Other processes used ${other_med}% of the CPUs during a run (median; ${other_max}% at most)."
    if ((other_med > 5)); then
      echo "**The machine was busy: wall-clock figures (requests/s) are unreliable; compare CPU per request, or rerun on a quiet machine.**"
    fi
    echo
  fi
  echo "$header"
  echo "$sep"
  for s in "${scenarios[@]}"; do
    IFS='|' read -r id label url n c kind <<<"$s"
    row="| $label |"
    for peer in "${peers[@]}"; do row+=" $(cell "$id" "$peer" "$kind") |"; done
    if [[ $kind == time ]]; then
      row+=" $(ratio "$id" "$kind" fanout curl-multi) (time) | n/a |"
    else
      row+=" $(ratio "$id" "$kind" fanout curl-multi) | $(ratio "$id" "$kind" fanout wrk) |"
    fi
    echo "$row"
  done
  echo
  field_table 3 1 "Peak RSS in KiB (median, /usr/bin/time -f %M)"
  field_table 7 1 "Client CPU time (user + system) per request in microseconds (median; GNU time" \
    "counts in 10 ms steps, coarse for the 300-request row): less sensitive than requests/s to" \
    "what else runs on the machine"
  field_table 8 0 "Share of all CPUs (%) that other processes used during the runs (median)"
  echo "wrk runs for whole seconds (at least 1 s) and sends more than N at these rates; it"
  echo "sent (median requests per run):"
  for s in "${scenarios[@]}"; do
    IFS='|' read -r id label url n c kind <<<"$s"
    echo "$id ${wrk_secs[$id]} s: $(wrk_requests "$id")"
  done | paste -sd ';' | sed 's/;/; /g'
  echo
  echo "Whole run: $((SECONDS - started_at)) s. Raw output: $out/."
} | tee "$out/table.md"
