#!/usr/bin/env bash
# build-coova-chilli.sh — builds CoovaChilli, the real access point of the
# network-namespace tests (issue 12 §4), once into a cache directory outside
# the checkout. It is a test tool only: never linked into roamgate, never
# committed.
#
#   ROAMGATE_COOVA_TARBALL  the source snapshot (default: the one in
#                           ../shared/third_party/coova-chilli/)
#   ROAMGATE_CHILLI_PREFIX  where it is installed (default:
#                           ${XDG_CACHE_HOME:-~/.cache}/roamgate/<tarball name>;
#                           internal/chillitest looks there too)
#
# Prints the prefix. Does nothing when $PREFIX/.built exists; a failed or
# interrupted build leaves no marker, so the next run starts again. A lock
# keeps parallel make test runs from building into one directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tarball=${ROAMGATE_COOVA_TARBALL:-}
if [ -z "$tarball" ]; then
	tarball=$(ls "$root"/../shared/third_party/coova-chilli/coova-chilli-*.tar.gz 2>/dev/null | head -n1 || true)
fi
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
	echo "build-coova-chilli: no CoovaChilli source tarball (set ROAMGATE_COOVA_TARBALL)" >&2
	exit 1
fi
name=$(basename "$tarball" .tar.gz)
prefix=${ROAMGATE_CHILLI_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/roamgate/$name}

# Build dependencies and what the tests run besides chilli (dhclient in the
# phone namespace, iptables for chilli's up.sh, ip for the namespaces,
# ethtool for the phones' checksum offload).
"$root"/scripts/ensure-tools.sh autoconf:autoconf automake:automake libtoolize:libtool \
	gengetopt:gengetopt make:make gcc:gcc pkg-config:pkg-config \
	/usr/include/json-c/json.h:libjson-c-dev /usr/include/openssl/ssl.h:libssl-dev \
	iptables:iptables dhclient:isc-dhcp-client ip:iproute2 ethtool:ethtool

if [ -f "$prefix/.built" ]; then
	echo "$prefix"
	exit 0
fi

mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
flock 9
if [ -f "$prefix/.built" ]; then # built by the run we waited for
	echo "$prefix"
	exit 0
fi

echo "build-coova-chilli: building $name into $prefix (1-2 minutes)" >&2
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
rm -rf "$prefix"
tar -xzf "$tarball" -C "$build"
src=$(find "$build" -mindepth 1 -maxdepth 1 -type d | head -n1)
log=$build/build.log
(
	cd "$src"
	sh ./bootstrap
	./configure --prefix="$prefix" --sysconfdir="$prefix/etc" --localstatedir="$prefix/var" \
		--enable-json --enable-libjson --enable-sessionid --enable-chilliredir
	make -j"$(nproc)"
	make install
) >"$log" 2>&1 || {
	tail -n 40 "$log" >&2
	echo "build-coova-chilli: build failed (log above)" >&2
	exit 1
}
mkdir -p "$prefix/var/run"
touch "$prefix/.built"
echo "$prefix"
