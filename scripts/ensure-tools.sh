#!/usr/bin/env bash
# ensure-tools.sh CMD:PACKAGE ... — installs the Debian PACKAGE when CMD is
# not on PATH. A CMD starting with / is a file instead (a header of a -dev
# package, which has no command): installed when the file is missing. Fails
# when a tool is still missing afterwards: tests never skip a real component
# because it is absent.
set -euo pipefail

# present CMD: a file for a CMD starting with /, else on PATH or in an sbin
# directory a non-root PATH leaves out (runc, update-ca-certificates).
present() {
	case $1 in
	/*) [ -e "$1" ] ;;
	*) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] ;;
	esac
}

missing=()
for pair in "$@"; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	present "$cmd" || missing+=("$pkg")
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
	present "$cmd" || { echo "still missing after install: $cmd" >&2; exit 1; }
done
