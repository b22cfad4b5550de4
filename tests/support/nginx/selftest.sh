#!/usr/bin/env bash
# Checks nginx.sh end to end with curl: start, every route over HTTP and HTTPS (verified
# against the generated CA, by IP and by the name localhost), stop, nothing left running.
#   tests/support/nginx/selftest.sh        (needs nginx, libnginx-mod-http-echo, openssl, curl)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
dir=$(mktemp -d /tmp/fanout-nginx-selftest.XXXXXX)
trap '"$here/nginx.sh" stop "$dir" || true; rm -rf "$dir"' EXIT

passed=0 failed=0
check() { # description, then a command that must succeed
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $what" >&2
  fi
}
# url expected-status expected-size [curl args...]
get() {
  local url=$1 status=$2 size=$3 out
  shift 3
  out=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' "$@" "$url") || return 1
  [[ $size == any ]] && out="${out%% *} any"
  [[ $out == "$status $size" ]] || { echo "$url: got '$out', want '$status $size'" >&2; return 1; }
}

"$here/nginx.sh" start "$dir" --ipv6
# shellcheck disable=SC1091
. "$dir/ports.env"
pid=$(<"$dir/nginx.pid")
h=http://127.0.0.1:$HTTP_PORT s=https://127.0.0.1:$HTTPS_PORT

check "http /100b" get "$h/100b" 200 100
check "http /4k.json" get "$h/4k.json" 200 4096
check "http /delay" get "$h/delay" 200 15
check "http 404" get "$h/missing" 404 any
check "https /100b by IP" get "$s/100b" 200 100 --cacert "$CA_FILE"
check "https /4k.json by name" get "https://localhost:$HTTPS_PORT/4k.json" 200 4096 --cacert "$CA_FILE"
check "https over ::1" get "https://[::1]:$HTTPS_PORT/100b" 200 100 --cacert "$CA_FILE"
check "https without the CA fails" bash -c "! curl -sS --max-time 5 -o /dev/null '$s/100b' 2>/dev/null"
check "4k.json is JSON" bash -c "curl -sS --max-time 5 '$h/4k.json' | python3 -c 'import json,sys; json.load(sys.stdin)'"
check "/delay takes 100 ms" bash -c "t=\$(curl -sS --max-time 5 -o /dev/null -w '%{time_total}' '$h/delay');
  awk -v t=\"\$t\" 'BEGIN {exit !(t >= 0.1 && t < 0.5)}'"
check "keep-alive: 100 requests on 1 connection" bash -c \
  "[[ \$(curl -sS --max-time 10 -o /dev/null -w '%{num_connects}\n' $(printf "$h/100b %.0s" {1..100}) | awk '{s += \$1} END {print s}') == 1 ]]"
check "second start refused" bash -c "! '$here/nginx.sh' start '$dir' 2>/dev/null"
"$here/nginx.sh" stop "$dir"
check "stopped" bash -c "! '$here/nginx.sh' status '$dir' >/dev/null"
check "master gone" bash -c "! grep -qs '^State:.*[RSD]' /proc/$pid/status"
check "port closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT) 2>/dev/null"

echo "$passed passed, $failed failed"
((failed == 0))
