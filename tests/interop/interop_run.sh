#!/usr/bin/env bash
# Interop: fanout-fetch and the system curl against real servers nobody here wrote.
#   interop_run.sh <fanout-fetch> <work-dir>
#
# Starts Apache (apache2), lighttpd, nginx and a Node.js `http` server on loopback, on free
# ephemeral ports, as the current user, with every file they write under <work-dir>; each serves
# 0 B, 100 B, 64 KiB and 10 MiB files, gzip-encoded and chunked responses (nginx's and Node's with a
# trailer, Node's also after 100/102/103 informational responses), 301/302/307 with relative
# "../" Locations (some climbing above the root, which RFC 3986 §5.2.4 drops), 204, 304 and
# 404. Per server three runs, in each of which every URL is listed twice so the second round
# goes over the connections the first one left open (fanout-fetch: one run, -c 2; curl: one
# invocation, which reuses its connection): GET, HEAD, and a conditional GET
# (If-Modified-Since after the files' time: 304).
#
# Asserts, per URL: curl's final status and decoded body size are what the server is set up
# to send (else the setup is wrong), and fanout-fetch's status and decoded byte count
# ("status"/"bytes" of its JSON lines) equal curl's. Prints a diff and exits 1 when not.
#
# Environment: FANOUT_INTEROP_SERVERS (default "apache lighttpd nginx node"), APACHE2_BIN,
# LIGHTTPD_BIN, NGINX_BIN, NODE_BIN, CURL_BIN (defaults: Debian's paths, then $PATH).
set -euo pipefail
umask 022

(($# == 2)) || { echo "usage: interop_run.sh <fanout-fetch> <work-dir>" >&2; exit 2; }
fetch=$(realpath "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=tests/support/free_port.sh
source "$here/../support/free_port.sh"

apache2_bin=${APACHE2_BIN:-/usr/sbin/apache2}
lighttpd_bin=${LIGHTTPD_BIN:-/usr/sbin/lighttpd}
nginx_bin=${NGINX_BIN:-/usr/sbin/nginx}
node_bin=${NODE_BIN:-$(command -v node || echo /usr/bin/node)}
curl_bin=${CURL_BIN:-$(command -v curl || echo /usr/bin/curl)}
read -r -a servers <<<"${FANOUT_INTEROP_SERVERS:-apache lighttpd nginx node}"
unset NGINX  # nginx reads it (sockets inherited across an upgrade): never pass one down

die() { echo "interop_run.sh: $*" >&2; exit 1; }
log() { echo "interop_run.sh: $*" >&2; }

[[ -x $fetch ]] || die "$fetch is not executable"
mkdir -p "$2"
work=$(cd "$2" && pwd -P)
content=$work/content

# --- the servers' lifetimes: started in the foreground as our children, stopped on exit ---
# Each server runs in a session of its own, led by the pid kept here: a signal to that process
# group reaches timeout(1), the server and every worker it forked.
server_pids=()
stop_servers() {
  local pid i
  for pid in "${server_pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do
    for ((i = 0; i < 100; i++)); do
      process_alive "$pid" || break
      sleep 0.05
    done
    if process_alive "$pid"; then
      log "pid $pid ignored TERM for 5 s: killing its process group"
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true  # stragglers of a group whose leader is gone
  done
  wait 2>/dev/null || true
  server_pids=()
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

# --- the content every server serves, generated once ---
# repeat <text> <bytes>: <text> lines, cut at <bytes> (yes stops on SIGPIPE: not a failure).
repeat() { { yes "$1" || true; } | head -c "$2"; }

make_content() {
  rm -rf "$content"
  mkdir -p "$content/files"
  : >"$content/files/empty"
  printf 'x%.0s' {1..100} >"$content/files/100b"
  repeat 'fanout interop 64k' 65536 >"$content/files/64k"
  repeat 'fanout interop ten mebibytes' 10485760 >"$content/files/10m"
  repeat 'compressible text for the gzip rows' 20000 >"$content/files/text.txt"
  gzip -9 -n -c "$content/files/text.txt" >"$content/files/text.txt.gz"
  # A time well before If-Modified-Since below, so the conditional run gets 304s.
  touch -d '2020-01-01 00:00:00 UTC' "$content/files/"*
}

# fill <template> <out> <port>: the template with its @...@ placeholders replaced.
fill() {
  local user_root='' temps='' m
  if ((EUID == 0)); then user_root='user root;'; fi
  # nginx's temporary files: one directive per module compiled in (an unknown one is an error).
  if [[ $1 == */nginx.conf ]]; then
    for m in client_body proxy fastcgi uwsgi scgi; do
      if [[ $m == client_body ]] || ! "$nginx_bin" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
        temps+="    ${m}_temp_path \"$dir/tmp/$m\";\\n"
      fi
    done
  fi
  sed -e "s|@WORK@|$dir|g" -e "s|@CONTENT@|$content|g" -e "s|@PORT@|$3|g" \
    -e "s|@USER_ROOT@|$user_root|g" -e "s|@TEMP_PATHS@|$temps|g" "$1" >"$2"
}

# The command line that runs server $1 in the foreground on port $2 (config written first).
server_command() {
  case $1 in
    apache)
      fill "$here/apache2.conf" "$dir/apache2.conf" "$2"
      cmd=("$apache2_bin" -f "$dir/apache2.conf" -DFOREGROUND)
      if ((EUID == 0)); then cmd+=(-DFANOUT_AS_ROOT); fi
      ;;
    lighttpd)
      fill "$here/lighttpd.conf" "$dir/lighttpd.conf" "$2"
      cmd=("$lighttpd_bin" -D -f "$dir/lighttpd.conf")
      ;;
    nginx)
      fill "$here/nginx.conf" "$dir/nginx.conf" "$2"
      cmd=("$nginx_bin" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log")
      ;;
    node) cmd=("$node_bin" "$here/node_server.js" "$2" "$content") ;;
  esac
}

# Per-server files: the asis redirects, 204 and 304 for Apache, the CGI for Apache and lighttpd.
prepare_dir() {
  rm -rf "$dir"
  mkdir -p "$dir/htdocs/redir" "$dir/cgi-bin" "$dir/tmp"
  cp "$here/interop.cgi" "$dir/cgi-bin/interop.cgi"
  chmod 755 "$dir/cgi-bin/interop.cgi"
  if [[ $1 == apache ]]; then
    local code target
    for code in 301 302 307; do
      case $code in 301) target=../files/100b ;; 302) target=../files/64k ;; 307) target=../files/empty ;; esac
      printf 'Status: %s Redirect\nLocation: %s\n\n' "$code" "$target" >"$dir/htdocs/redir/$code"
      printf 'Status: %s Redirect\nLocation: ../files/100b\n\n' "$code" >"$dir/htdocs/up$code"
    done
    printf 'Status: 204 No Content\n\n' >"$dir/htdocs/204"
    printf 'Status: 304 Not Modified\n\n' >"$dir/htdocs/304"
  fi
}

# start_server <name>: sets port; retried on a fresh port when the server cannot start (a port
# picked free may be taken meanwhile).
start_server() {
  local name=$1 attempt pid
  dir=$work/$name
  for ((attempt = 1; attempt <= 5; attempt++)); do
    prepare_dir "$name"
    # shellcheck disable=SC2119 # no ports to avoid
    port=$(pick_port) || die "no free port"
    server_command "$name" "$port"
    # A session of its own: Apache's prefork master signals its whole process group on stop.
    # Under timeout(1), which passes our TERM on: a server outlives a killed script by 5 min
    # at most.
    setsid timeout -k 5 300 "${cmd[@]}" </dev/null >"$dir/stdout.log" 2>&1 &
    pid=$!
    server_pids+=("$pid")
    if wait_listening "$port" "$pid"; then
      log "$name pid $pid on http://127.0.0.1:$port ($dir)"
      return 0
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'server_pids[-1]'
    log "$name did not start on port $port (attempt $attempt):"
    cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null | tail -n 5 >&2 || true
  done
  die "$name failed to start; config and logs in $dir"
}

# --- what each server is set up to send: "path status bytes" ("*": any size) ---
get_table() {
  cat <<'EOF'
/files/empty 200 0
/files/100b 200 100
/files/64k 200 65536
/files/10m 200 10485760
/redir/301 200 100
/redir/302 200 65536
/redir/307 200 0
/up301 200 100
/up302 200 100
/up307 200 100
/missing 404 *
EOF
  case $1 in
    apache)
      cat <<'EOF'
/files/text.txt.gz 200 20000
/deflate/text.txt 200 20000
/cgi-bin/interop.cgi?chunked 200 200000
/204 204 0
/304 304 0
EOF
      ;;
    lighttpd)
      cat <<'EOF'
/files/text.txt.gz 200 20000
/cgi-bin/interop.cgi?chunked 200 200000
/cgi-bin/interop.cgi?204 204 0
/cgi-bin/interop.cgi?304 304 0
EOF
      ;;
    nginx)
      cat <<'EOF'
/gzs/text.txt 200 20000
/deflate/text.txt 200 20000
/trailer/text.txt 200 20000
/204 204 0
/304 304 0
EOF
      ;;
    node)
      cat <<'EOF'
/gz 200 20000
/chunked 200 5000
/info/100 200 100
/info/102 200 65536
/info/103 200 0
/info/all 200 10485760
/204 204 0
/304 304 0
EOF
      ;;
  esac
}

head_table() {
  printf '%s 200 0\n' /files/empty /files/100b /files/10m /redir/301 /up302
  echo '/missing 404 0'
  case $1 in
    apache | lighttpd) echo '/files/text.txt.gz 200 0' ;;
    nginx) echo '/gzs/text.txt 200 0' ;;
    node) printf '%s 200 0\n' /gz /chunked /info/103 /info/all ;;
  esac
}

conditional_table() {
  printf '%s 304 0\n' /files/100b /files/64k /files/10m
  if [[ $1 == node ]]; then echo '/info/102 304 0'; fi
}

since='If-Modified-Since: Sat, 01 Jan 2022 00:00:00 GMT'

# Each curl or fanout-fetch run: 30 s at most, and all of them together 120 s (CTest's limit is
# 180), so a client that hangs fails the test instead of stalling it.
deadline=$((SECONDS + 120))
time_left() {
  local left=$((deadline - SECONDS))
  ((left > 30)) && left=30
  ((left < 1)) && left=1
  echo "$left"
}

# run_case <server> <run> <table function> [curl and fanout-fetch options...]: the head run
# asks for HEAD (curl -I, fanout-fetch -X HEAD).
failures=0
run_case() {
  local name=$1 run=$2 table=$3
  shift 3
  local out=$dir/$run
  mkdir -p "$out"
  rm -f "$out"/*
  "$table" "$name" >"$out/table"
  # Every URL twice, the second round after the first: over the connections it left open.
  local -a urls=() expect=()
  local path status bytes
  for _ in 1 2; do
    while read -r path status bytes; do
      urls+=("http://127.0.0.1:$port$path")
      expect+=("$status $bytes")
    done <"$out/table"
  done
  printf '%s\n' "${urls[@]}" >"$out/urls"

  # curl: one invocation, so its connection is reused from URL to URL.
  # Every response's header, redirects and 1xx included, for whoever reads a failure.
  local -a curl_args=(-s --compressed -L --max-redirs 10 --max-time 10 -D "$out/curl.headers")
  local i
  if [[ $run == head ]]; then
    curl_args+=(-I -w '%{http_code} %{size_download} %{num_connects}\n')
    for i in "${!urls[@]}"; do curl_args+=(-o /dev/null "${urls[i]}"); done
  else
    curl_args+=(-w '%{http_code} - %{num_connects}\n')
    for i in "${!urls[@]}"; do curl_args+=(-o "$out/curl.$i" "${urls[i]}"); done
  fi
  timeout -k 5 "$(time_left)" "$curl_bin" "$@" "${curl_args[@]}" >"$out/curl.w" 2>"$out/curl.err" || true
  local code size connects n=0 connections=0
  : >"$out/curl.txt"
  while read -r code size connects; do
    # Its decoded size: what it wrote (curl's size_download counts the bytes before decoding).
    if [[ $size == - ]]; then
      size=0
      if [[ -f $out/curl.$n ]]; then size=$(stat -c %s "$out/curl.$n"); fi
    fi
    echo "$n ${urls[n]} $code $size" >>"$out/curl.txt"
    connections=$((connections + connects))
    n=$((n + 1))
  done <"$out/curl.w"

  # What the server was set up to send, as curl saw it: else the comparison proves nothing.
  local setup_ok=1 line
  for i in "${!urls[@]}"; do
    read -r status bytes <<<"${expect[i]}"
    line=$(sed -n "$((i + 1))p" "$out/curl.txt")
    read -r _ _ code size <<<"$line"
    if [[ $code != "$status" || ($bytes != '*' && $size != "$bytes") ]]; then
      echo "SETUP: $name $run ${urls[i]}: curl got '${code:-nothing} ${size:-}', the server should send '$status $bytes'" >&2
      setup_ok=0
    fi
  done

  # fanout-fetch: one run, two connections at most, results in input order.
  local -a fetch_args=(--format jsonl --no-progress -c 2 --timeout 5)
  if [[ $run == head ]]; then fetch_args+=(-X HEAD); fi
  local fetch_status=0
  timeout -k 5 "$(time_left)" "$fetch" "${fetch_args[@]}" "$@" -i "$out/urls" \
    >"$out/fanout.jsonl" 2>"$out/fanout.err" || fetch_status=$?
  # {"index":0,"url":"...","status":200,"bytes":123,"ms":1.2,"error":null} -> "0 url 200 123";
  # an error -> "0 url error:<code>".
  sed -E \
    -e 's/^\{"index":([0-9]+),"url":"([^"]*)","status":([0-9]+),"bytes":([0-9]+),.*$/\1 \2 \3 \4/' \
    -e 's/^\{"index":([0-9]+),"url":"([^"]*)","status":null,.*"error":\{"code":"([^"]*)".*$/\1 \2 error:\3/' \
    "$out/fanout.jsonl" >"$out/fanout.txt"

  if diff -u --label "curl ($name $run)" --label "fanout-fetch ($name $run)" \
    "$out/curl.txt" "$out/fanout.txt" >"$out/diff"; then
    echo "ok   $name $run: ${#urls[@]} fetches agree (curl opened $connections connections)"
  else
    echo "FAIL $name $run: fanout-fetch differs from curl (lines: index url status bytes)"
    cat "$out/diff"
    ((fetch_status < 124)) || echo "fanout-fetch was stopped by timeout(1) (exit status $fetch_status)"
    if [[ -s $out/fanout.err ]]; then
      echo "fanout-fetch stderr:"
      head -n 20 "$out/fanout.err"
    fi
    failures=$((failures + 1))
  fi
  ((setup_ok)) || { echo "FAIL $name $run: the server or curl is not set up as the test expects"; failures=$((failures + 1)); }
}

started=$SECONDS
make_content
for name in "${servers[@]}"; do
  case $name in apache | lighttpd | nginx | node) ;; *) die "unknown server '$name'" ;; esac
  start_server "$name"
  run_case "$name" get get_table
  run_case "$name" head head_table
  run_case "$name" conditional conditional_table -H "$since"
  stop_servers
done
echo "interop: ${#servers[@]} servers, $failures failing runs, $((SECONDS - started)) s"
((failures == 0))
