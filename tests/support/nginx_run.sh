#!/usr/bin/env bash
# Runs a command with a local nginx serving HTTP and HTTPS on loopback ephemeral-ish ports.
#   nginx_run.sh <work-dir> <command> [args...]
# Generates a CA and a server certificate (openssl CLI) for localhost/127.0.0.1, writes an
# nginx.conf with its own prefix in <work-dir>, starts nginx as a non-daemon child, waits for
# it, exports FANOUT_NGINX_HTTP, FANOUT_NGINX_HTTPS (base URLs) and FANOUT_NGINX_CA (CA file),
# runs the command, then stops nginx. Exit status: the command's.
set -eu
dir=$1; shift
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || { echo "nginx not found (apt-get install nginx-light)"; exit 1; }
rm -rf "$dir"; mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=fanout nginx test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
  -extfile ext.cnf -out server.pem 2>/dev/null
head -c 100 /dev/zero | tr '\0' 'x' > html/100b.txt
echo '{"id": 42, "name": "widget"}' > html/item.json
# Ports derived from the pid, retried if taken.
for try in 1 2 3 4 5 6 7 8; do
  http_port=$(( 20000 + ($$ * 7 + try * 131) % 20000 ))
  https_port=$(( http_port + 1 ))
  cat > nginx.conf <<CONF
worker_processes 1;
daemon off;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  keepalive_requests 100000;
  keepalive_timeout 65;
  server { listen 127.0.0.1:$http_port; root $dir/html; }
  server {
    listen 127.0.0.1:$https_port ssl;
    ssl_certificate $dir/server.pem; ssl_certificate_key $dir/server.key;
    ssl_session_cache shared:fanout:1m;
    root $dir/html;
  }
}
CONF
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" &
  pid=$!
  ok=0
  for i in $(seq 1 50); do
    if ! kill -0 $pid 2>/dev/null; then break; fi
    if (exec 3<>/dev/tcp/127.0.0.1/$https_port) 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] && break
  kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
done
[ $ok = 1 ] || { echo "nginx did not start"; cat logs/error.log; exit 1; }
export FANOUT_NGINX_HTTP="http://127.0.0.1:$http_port"
export FANOUT_NGINX_HTTPS="https://localhost:$https_port"
export FANOUT_NGINX_CA="$dir/ca.pem"
status=0
"$@" || status=$?
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
exit $status
