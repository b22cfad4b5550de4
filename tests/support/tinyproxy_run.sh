#!/usr/bin/env bash
# Runs a command beside two throwaway tinyproxy instances on loopback, then stops them.
#   tinyproxy_run.sh <work-dir> <command> [args...]
# Both listen on 127.0.0.1 on free ports, in the foreground (-d: no daemon, no pid file to
# trust), with a generated config and a log file in <work-dir>; CONNECT is allowed to any port
# (no ConnectPort line, tinyproxy 1.11's default), only 127.0.0.1 may connect. The second one
# requires Basic authentication (user "fanout", password "s3cret.pass-1").
# Exports:
#   FANOUT_TINYPROXY, FANOUT_TINYPROXY_LOG            the open proxy's URL and log file
#   FANOUT_TINYPROXY_AUTH, FANOUT_TINYPROXY_AUTH_LOG  the authenticating one (URL without
#                                                      credentials) and its log file
#   FANOUT_TINYPROXY_USER, FANOUT_TINYPROXY_PASSWORD  its credentials
# Exit status: the command's (1 when a proxy could not start). Never touches /etc/tinyproxy or
# the system service (scripts/setup-debian.sh installs the package without starting it).
set -euo pipefail
dir=$1
shift
mkdir -p "$dir"
tinyproxy_bin=${FANOUT_TINYPROXY_BIN:-$(command -v tinyproxy || echo /usr/bin/tinyproxy)}
user=fanout
password='s3cret.pass-1'  # tinyproxy's config accepts no '@', ':' or spaces here

die() { echo "tinyproxy_run.sh: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=tests/support/free_port.sh
source "$here/free_port.sh"  # port_in_use, pick_port, wait_listening

pids=()
stop_all() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_all EXIT

# start <name> [BasicAuth line]: prints the port; appends the pid to pids (not in a subshell).
started_port=''
start() {
  local name=$1 auth=${2:-} port attempt pid
  for attempt in 1 2 3 4 5; do
    port=$(pick_port)
    rm -f "$dir/$name.log"
    {
      echo "Port $port"
      echo "Listen 127.0.0.1"
      echo "Timeout 60"
      echo "MaxClients 256"
      echo "Allow 127.0.0.1"
      echo "LogFile \"$dir/$name.log\""
      echo "LogLevel Info"
      [[ -n $auth ]] && echo "$auth"
    } >"$dir/$name.conf"
    "$tinyproxy_bin" -d -c "$dir/$name.conf" >"$dir/$name.out" 2>&1 &
    pid=$!
    if wait_listening "$port" "$pid"; then
      pids+=("$pid")
      started_port=$port
      echo "tinyproxy_run.sh: $name tinyproxy pid $pid on 127.0.0.1:$port ($dir/$name.log)" >&2
      return 0
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  cat "$dir/$name.out" "$dir/$name.log" >&2 2>/dev/null || true
  die "$name tinyproxy did not start"
}

start open
export FANOUT_TINYPROXY="http://127.0.0.1:$started_port"
export FANOUT_TINYPROXY_LOG="$dir/open.log"
start auth "BasicAuth $user $password"
export FANOUT_TINYPROXY_AUTH="http://127.0.0.1:$started_port"
export FANOUT_TINYPROXY_AUTH_LOG="$dir/auth.log"
export FANOUT_TINYPROXY_USER=$user
export FANOUT_TINYPROXY_PASSWORD=$password

status=0
"$@" || status=$?
exit "$status"
