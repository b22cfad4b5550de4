#!/usr/bin/env bash
# Downloads against a real nginx: starts one on loopback (a free ephemeral port, everything
# under <work-dir>), serving 0 B, 1 B, 64 KiB and 64 MiB files of random bytes (and 1 GiB with
# FANOUT_DL_1G=1) and an 8 MiB text file (also pre-gzipped), then runs the test binary with FANOUT_DL_BASE (the base
# URL), FANOUT_DL_CONTENT (the served directory, for the reference bytes) and FANOUT_DL_UPLOADS
# (where a PUT to /upload/<name> lands); stops nginx.
#   download_run.sh <test-binary> <work-dir> [test args...]
# Environment: NGINX_BIN (default /usr/sbin/nginx), FANOUT_DL_1G (1: the 1 GiB file too; the
# test then downloads it). Exit status: the test's.
set -euo pipefail
umask 022
(($# >= 2)) || { echo "usage: download_run.sh <test-binary> <work-dir> [args...]" >&2; exit 2; }
test_bin=$(realpath "$1")
shift
mkdir -p "$1"
dir=$(cd "$1" && pwd -P)
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=tests/support/free_port.sh
source "$here/../../support/free_port.sh"
nginx_bin=${NGINX_BIN:-/usr/sbin/nginx}
unset NGINX  # nginx reads it (sockets inherited across an upgrade): never pass one down
content=$dir/content

die() { echo "download_run.sh: $*" >&2; exit 1; }

# The files, made once per work dir (1 GiB of random bytes takes a few seconds).
make_file() {  # make_file <name> <bytes>
  local f=$content/$1
  [[ -f $f && $(stat -c %s "$f") == "$2" ]] && return 0
  head -c "$2" /dev/urandom >"$f.tmp"
  mv "$f.tmp" "$f"
}
mkdir -p "$content" "$dir/tmp"
make_file empty 0
make_file 1b 1
make_file 64k 65536
make_file 64m $((64 << 20))
# 1 GiB only when asked (the bench, a soak): CI downloads up to 64 MiB.
if [[ ${FANOUT_DL_1G:-0} == 1 ]]; then make_file 1g $((1 << 30)); fi
if [[ ! -f $content/text.txt.gz ]]; then
  { yes 'fanout downloads text, compressible, line after line' || true; } | head -c $((8 << 20)) >"$content/text.txt"
  gzip -9 -n -c "$content/text.txt" >"$content/text.txt.gz"
fi

user_root='' temps=''
if ((EUID == 0)); then user_root='user root;'; fi
for m in client_body proxy fastcgi uwsgi scgi; do
  if [[ $m == client_body ]] || ! "$nginx_bin" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
    temps+="    ${m}_temp_path \"$dir/tmp/$m\";\\n"
  fi
done

pid=
stop() {
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
trap stop EXIT
for attempt in 1 2 3; do
  port=$(pick_port)
  sed -e "s|@WORK@|$dir|g" -e "s|@CONTENT@|$content|g" -e "s|@PORT@|$port|g" \
    -e "s|@USER_ROOT@|$user_root|g" -e "s|@TEMP_PATHS@|$temps|g" "$here/nginx.conf" >"$dir/nginx.conf"
  "$nginx_bin" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
  pid=$!
  if wait_listening "$port" "$pid"; then break; fi
  stop
  pid=
done
[[ -n $pid ]] || die "nginx did not start: $(tail -5 "$dir/error.log" 2>/dev/null)"

export FANOUT_DL_BASE="http://127.0.0.1:$port"
export FANOUT_DL_CONTENT=$content
export FANOUT_DL_SCRATCH=$dir/out
export FANOUT_DL_UPLOADS=$dir/upload  # where nginx stores /upload/<name>
rm -rf "$FANOUT_DL_UPLOADS"
rm -rf "$FANOUT_DL_SCRATCH"
mkdir -p "$FANOUT_DL_SCRATCH"
status=0
"$test_bin" "$@" || status=$?
rm -rf "$FANOUT_DL_SCRATCH"
exit "$status"
