#!/usr/bin/env bash
# Runs a command beside the project's throwaway nginx (tests/support/nginx/nginx.sh: loopback,
# generated CA and certificate, /100b and /4k.json over HTTP and HTTPS), then stops nginx.
#   nginx_run.sh <work-dir> <command> [args...]
# Exports FANOUT_NGINX_HTTP, FANOUT_NGINX_HTTPS (base URLs) and FANOUT_NGINX_CA (the CA file).
# Exit status: the command's.
set -euo pipefail
dir=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/nginx/nginx.sh" start "$dir"
trap '"$here/nginx/nginx.sh" stop "$dir" || true' EXIT
# shellcheck disable=SC1091
source "$dir/ports.env"
export FANOUT_NGINX_HTTP="http://127.0.0.1:$HTTP_PORT"
export FANOUT_NGINX_HTTPS="https://localhost:$HTTPS_PORT"  # a name: SNI and host-name checks
export FANOUT_NGINX_CA="$CA_FILE"
"$@"
