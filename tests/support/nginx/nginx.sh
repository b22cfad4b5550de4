#!/usr/bin/env bash
# A throwaway nginx on loopback for fanout's integration tests and benchmarks.
#
#   nginx.sh start <dir> [--access-log] [--ipv6] [--cpu N]
#                                         generate certs + config into <dir>, start nginx;
#                                         --ipv6 also listens on [::1] on the same ports;
#                                         --cpu N pins the worker to CPU N
#   nginx.sh stop <dir>                   stop the nginx started on <dir> and wait for it
#   nginx.sh status <dir>                 exit 0 when it runs
#
# Installs nothing (the caller's setup step runs apt-get: nginx-light or nginx,
# libnginx-mod-http-echo, openssl). Never touches /etc/nginx, /var/log/nginx or port 80:
# everything lives in <dir>. Listens on 127.0.0.1 only (and [::1] with --ipv6), on two free
# ports it picks.
#
# What start writes into <dir>:
#   ports.env          HTTP_PORT=, HTTPS_PORT=, CA_FILE=, DELAY_ROUTE=, IPV6= (source it)
#   ca.pem             the throwaway CA: the bundle clients verify against (--cacert)
#   ca.key server.key server.crt openssl.cnf   the CA key and the server certificate for
#                      localhost, 127.0.0.1 and ::1 (ECDSA P-256, 30 days; kept across
#                      restarts while valid for another day)
#   nginx.conf nginx.pid error.log start.log [access.log] html/ tmp/
# Routes, over HTTP and HTTPS: /100b (100 bytes), /4k.json (4096 bytes of JSON),
# /delay (answers after 100 ms; needs the echo module, see DELAY_ROUTE).
#
# Environment: FANOUT_NGINX_BIN (default /usr/sbin/nginx), NGINX_ECHO_MODULE (default Debian's
# /usr/lib/nginx/modules/ngx_http_echo_module.so from libnginx-mod-http-echo).
set -euo pipefail

nginx_bin=${FANOUT_NGINX_BIN:-/usr/sbin/nginx}
# nginx itself reads $NGINX (sockets inherited across a binary upgrade): never pass one down.
unset NGINX
NGINX_ECHO_MODULE=${NGINX_ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}

die() { echo "nginx.sh: $*" >&2; exit 1; }
log() { echo "nginx.sh: $*" >&2; }

usage() {
  echo "usage: nginx.sh start <dir> [--access-log] [--ipv6] [--cpu N] | stop <dir> | status <dir>" >&2
  exit 2
}

# The pid in <dir>/nginx.pid when it is a live nginx master started with <dir>'s config.
running_pid() {
  local dir=$1 pid
  [[ -s $dir/nginx.pid ]] || return 1
  pid=$(<"$dir/nginx.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Our binary, and its master (the title nginx sets keeps our command line or says so).
  [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$(readlink -f "$nginx_bin")" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -e "master process" -e "$dir/nginx.conf" || return 1
  echo "$pid"
}

# shellcheck source=tests/support/free_port.sh
source "$(dirname "${BASH_SOURCE[0]}")/../free_port.sh"  # port_in_use, pick_port, wait_listening, process_alive

gen_certs() {
  local dir=$1
  if [[ -s $dir/ca.pem && -s $dir/server.crt && -s $dir/server.key ]] &&
    openssl x509 -in "$dir/server.crt" -noout -checkend 86400 >/dev/null 2>&1 &&
    openssl verify -CAfile "$dir/ca.pem" "$dir/server.crt" >/dev/null 2>&1; then
    return 0
  fi
  cat >"$dir/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = fanout throwaway test CA
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  (
    umask 077
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.key"
  ) 2>/dev/null || die "openssl genpkey failed"
  openssl req -x509 -new -key "$dir/ca.key" -config "$dir/openssl.cnf" -extensions ca_ext \
    -days 30 -out "$dir/ca.pem" 2>/dev/null || die "openssl: creating the CA failed"
  openssl req -new -key "$dir/server.key" -subj "/CN=localhost" -out "$dir/server.csr" \
    2>/dev/null || die "openssl: creating the server CSR failed"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 30 \
    -extfile "$dir/openssl.cnf" -extensions server_ext -out "$dir/server.crt" \
    2>/dev/null || die "openssl: signing the server certificate failed"
  rm -f "$dir/server.csr"
  chmod 644 "$dir/ca.pem" "$dir/server.crt"
  openssl verify -CAfile "$dir/ca.pem" "$dir/server.crt" >/dev/null ||
    die "generated server certificate does not verify"
}

gen_content() {
  local html=$1/html
  mkdir -p "$html"
  # 99 x's and a newline: exactly 100 bytes.
  printf 'x%.0s' {1..99} >"$html/100b"
  printf '\n' >>"$html/100b"
  # An array of small objects, padded to exactly 4096 bytes of valid JSON.
  local json='{"items":[' i item
  for ((i = 0; ; i++)); do
    item=$(printf '{"id":%d,"name":"item-%04d","price":%d.%02d,"in_stock":%s}' \
      "$i" "$i" $((i * 7 % 100)) $((i * 13 % 100)) "$([[ $((i % 3)) == 0 ]] && echo false || echo true)")
    ((${#json} + ${#item} + 1 + 40 < 4096)) || break
    ((i == 0)) || json+=,
    json+=$item
  done
  json+='],"pad":"'
  local tail='"}'
  local pad=$((4096 - ${#json} - ${#tail} - 1))
  json+=$(printf 'p%.0s' $(seq 1 "$pad"))$tail
  printf '%s\n' "$json" >"$html/4k.json"
  [[ $(stat -c %s "$html/100b") == 100 && $(stat -c %s "$html/4k.json") == 4096 ]] ||
    die "generated content has the wrong size"
}

write_conf() {
  local dir=$1 http_port=$2 https_port=$3 access_log=$4 echo_module=$5 ipv6=$6 cpu=$7
  local temps='' m listen6='' affinity=''
  if [[ -n $cpu ]]; then
    # a bit mask, CPU 0 rightmost: CPU 2 -> 100
    local mask=1 i
    for ((i = 0; i < cpu; i++)); do mask+=0; done
    affinity="worker_cpu_affinity $mask;"
  fi
  if ((ipv6)); then
    listen6="        listen [::1]:$http_port;"$'\n'"        listen [::1]:$https_port ssl;"
  fi
  for m in client_body proxy fastcgi uwsgi scgi; do
    if [[ $m == client_body ]] || ! "$nginx_bin" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
      mkdir -p "$dir/tmp/$m"
      temps+="    ${m}_temp_path \"$dir/tmp/$m\";"$'\n'
    fi
  done
  {
    [[ -n $echo_module ]] && echo "load_module \"$echo_module\";"
    # As root the workers would drop to 'nobody', who may not read a mktemp -d <dir>.
    ((EUID == 0)) && echo "user root;"
    cat <<EOF
worker_processes 1;
$affinity
worker_rlimit_nofile 8192;
pid "$dir/nginx.pid";
error_log "$dir/error.log" warn;
lock_file "$dir/nginx.lock";

events {
    worker_connections 4096;
}

http {
    default_type application/octet-stream;
    types {
        application/json json;
        text/plain txt;
    }
$temps
    access_log $access_log;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    server_tokens off;
    keepalive_requests 1000000;
    keepalive_timeout 65;

    ssl_certificate "$dir/server.crt";
    ssl_certificate_key "$dir/server.key";
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:fanout_tls:10m;
    ssl_session_timeout 1h;

    server {
        listen 127.0.0.1:$http_port;
        listen 127.0.0.1:$https_port ssl;
$listen6
        server_name localhost;
        root "$dir/html";

        location = /100b { default_type text/plain; }
        location = /4k.json { }
EOF
    if [[ -n $echo_module ]]; then
      cat <<'EOF'
        location = /delay {
            default_type text/plain;
            echo_sleep 0.1;
            echo "delayed 100 ms";
        }
EOF
    fi
    cat <<'EOF'
        location / { return 404; }
    }
}
EOF
  } >"$dir/nginx.conf"
}

cmd_start() {
  local dir=$1 access_log_flag=$2 ipv6=$3 cpu=$4 pid
  [[ -x $nginx_bin ]] || die "$nginx_bin not found (apt-get install nginx-light)"
  command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  if pid=$(running_pid "$dir"); then
    die "nginx already runs on $dir (pid $pid); run: nginx.sh stop $dir"
  fi
  rm -f "$dir/nginx.pid" "$dir/ports.env"

  local echo_module='' delay=0
  if [[ -f $NGINX_ECHO_MODULE ]]; then
    echo_module=$NGINX_ECHO_MODULE
    delay=1
  else
    log "warning: $NGINX_ECHO_MODULE missing (apt-get install libnginx-mod-http-echo): no /delay route"
  fi
  local access_log=off
  [[ $access_log_flag == 1 ]] && access_log="\"$dir/access.log\""

  gen_certs "$dir"
  gen_content "$dir"

  local attempt http_port https_port
  for ((attempt = 1; attempt <= 5; attempt++)); do
    http_port=$(pick_port)
    https_port=$(pick_port "$http_port")
    write_conf "$dir" "$http_port" "$https_port" "$access_log" "$echo_module" "$ipv6" "$cpu"
    : >"$dir/error.log"
    # Daemonises: returns once the listening sockets are bound (or failed).
    if "$nginx_bin" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/start.log"; then
      local i
      pid=''
      for ((i = 0; i < 100; i++)); do
        pid=$(running_pid "$dir") && break
        sleep 0.05
      done
      [[ -n $pid ]] || die "nginx started but wrote no pid file; see $dir/error.log"
      if ! wait_listening "$http_port" || ! wait_listening "$https_port"; then
        cmd_stop "$dir"
        die "nginx does not accept on its ports; see $dir/error.log"
      fi
      cat >"$dir/ports.env" <<EOF
HTTP_PORT=$http_port
HTTPS_PORT=$https_port
CA_FILE=$(printf '%q' "$dir/ca.pem")
DELAY_ROUTE=$delay
IPV6=$ipv6
EOF
      log "nginx pid $pid on http://127.0.0.1:$http_port https://127.0.0.1:$https_port ($dir)"
      return 0
    fi
    if grep -q 'Address already in use' "$dir/start.log" "$dir/error.log"; then
      log "port taken meanwhile, retrying ($attempt)"
      continue
    fi
    cat "$dir/start.log" "$dir/error.log" >&2
    die "nginx failed to start; config: $dir/nginx.conf"
  done
  die "could not bind free ports after 5 attempts"
}

cmd_stop() {
  local dir=$1 pid i
  [[ -d $dir ]] || { log "no such directory $dir: nothing to stop"; return 0; }
  dir=$(cd "$dir" && pwd -P)
  if ! pid=$(running_pid "$dir"); then
    rm -f "$dir/nginx.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    process_alive "$pid" || break
    sleep 0.05
  done
  if process_alive "$pid"; then
    log "nginx $pid ignored TERM for 5 s: killing its process group"
    # The daemonised master leads its own process group (setsid); its workers are in it.
    if [[ $(awk '{sub(/^.*\) /, ""); print $3}' "/proc/$pid/stat" 2>/dev/null) == "$pid" ]]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
    else
      kill -KILL "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 100; i++)); do
      process_alive "$pid" || break
      sleep 0.05
    done
  fi
  ! process_alive "$pid" || die "nginx $pid is still alive"
  rm -f "$dir/nginx.pid"
}

cmd_status() {
  local dir=$1 pid
  dir=$(cd "$dir" 2>/dev/null && pwd -P) || exit 1
  pid=$(running_pid "$dir") || exit 1
  echo "nginx pid $pid"
  [[ -s $dir/ports.env ]] && cat "$dir/ports.env"
}

(($# >= 2)) || usage
cmd=$1 dir=$2
shift 2
case $cmd in
  start)
    access_log=0 ipv6=0 cpu=''
    while (($#)); do
      case $1 in
        --access-log) access_log=1 ;;
        --ipv6) ipv6=1 ;;
        --cpu)
          if (($# < 2)) || ! [[ $2 =~ ^[0-9]+$ ]] || (($2 >= $(nproc --all))); then usage; fi
          cpu=$2
          shift
          ;;
        *) usage ;;
      esac
      shift
    done
    cmd_start "$dir" "$access_log" "$ipv6" "$cpu"
    ;;
  stop) (($# == 0)) || usage; cmd_stop "$dir" ;;
  status) (($# == 0)) || usage; cmd_status "$dir" ;;
  *) usage ;;
esac
