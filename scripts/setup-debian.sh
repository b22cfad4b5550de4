#!/usr/bin/env bash
# Installs what fanout needs on Debian 12, skipping what is already there.
#   scripts/setup-debian.sh [build|test|bench]...   (default: build)
# build: compiler, CMake and the library's dependencies; test: + Catch2, nginx, tinyproxy, openssl,
# and for the interop test (tests/interop) apache2, lighttpd, curl and nodejs;
# bench: + libcurl, wrk, GNU time. Runs apt-get only when something is missing.
set -euo pipefail

profiles=("$@")
[[ ${#profiles[@]} -eq 0 ]] && profiles=(build)

packages=(g++ make cmake pkg-config libboost1.81-dev libboost-url1.81-dev libssl-dev
          nlohmann-json3-dev zlib1g-dev ca-certificates)
for profile in "${profiles[@]}"; do
  case "$profile" in
    build) ;;
    test) packages+=(catch2 nginx-light openssl procps tinyproxy clang-14 libclang-rt-14-dev clang-tidy-14
                        clang-16 libclang-rt-16-dev libc++-16-dev libc++abi-16-dev
                        apache2 lighttpd curl nodejs) ;;
    bench) packages+=(catch2 nginx-light openssl libnginx-mod-http-echo libcurl4-openssl-dev wrk time python3) ;;
    *) echo "setup-debian.sh: unknown profile '$profile' (build, test or bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup-debian.sh: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup-debian.sh: run as root or install sudo" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# A package's post-install step may try to start its service (nginx, apache2 and lighttpd on
# port 80, tinyproxy on 8888): forbid it, as the tests start their own servers on loopback.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && "${sudo[@]}" rm -f "$policy"' EXIT
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
