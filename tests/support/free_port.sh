# shellcheck shell=bash
# Loopback port helpers for the test scripts that start real servers (source this file).
#   port_in_use PORT           exit 0 when any TCP socket, in any state, has local port PORT
#   pick_port [EXCEPT...]      print a random port of the kernel's ephemeral range that nothing
#                              uses now (and is none of EXCEPT); racy by nature, so a caller
#                              retries when its server cannot bind it
#   process_alive PID          exit 0 when PID exists and is no zombie
#   wait_listening PORT [PID]  wait up to 5 s until 127.0.0.1:PORT accepts; fail at once when
#                              PID (the server starting) has exited
# Reads /proc only: no iproute2 or netcat needed.

port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h="$hex" 'FNR > 1 {split($2, a, ":"); if (a[2] == h) found = 1} END {exit !found}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

pick_port() {
  local lo hi p i taken except
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  for ((i = 0; i < 200; i++)); do
    p=$((lo + SRANDOM % (hi - lo + 1)))
    taken=0
    for except in "$@"; do [[ $p == "$except" ]] && taken=1; done
    if ((!taken)) && ! port_in_use "$p"; then
      echo "$p"
      return 0
    fi
  done
  echo "pick_port: no free port found in $lo-$hi" >&2
  return 1
}

# A process that exists and is not a zombie.
process_alive() {
  local state
  state=$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

wait_listening() {
  local port=$1 pid=${2:-} i
  for ((i = 0; i < 100; i++)); do
    if [[ -n $pid ]] && ! process_alive "$pid"; then return 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
