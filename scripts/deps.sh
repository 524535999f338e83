#!/usr/bin/env bash
# Install the Debian packages paxcommit needs, if any is missing.  Does
# nothing (and needs no network) when all are present.
set -euo pipefail
pkgs=(build-essential libpq-dev libzmq3-dev libcmocka-dev libinih-dev libmicrohttpd-dev libsystemd-dev help2man man-db postgresql clang gnuplot-nox spin iptables iproute2 python3 libfaketime)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "deps: all present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root; run: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
