#!/usr/bin/env bash
# ensure-tools.sh CMD:PACKAGE ... — installs the Debian PACKAGE when CMD is
# not on PATH. Fails when a tool is still missing afterwards: tests never skip
# a real component because it is absent.
set -euo pipefail

# have CMD: on PATH, or in an sbin directory a non-root PATH leaves out
# (runc, update-ca-certificates).
have() {
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing=()
for pair in "$@"; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	have "$cmd" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing ${missing[*]} with apt-get" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install ${missing[*]}" >&2; exit 1; }
	sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for pair in "$@"; do
	cmd=${pair%%:*}
	have "$cmd" || { echo "still missing after install: $cmd" >&2; exit 1; }
done
