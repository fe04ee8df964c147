#!/usr/bin/env bash
# build-image.sh [TAG] — builds the roamgate container image from
# deploy/Containerfile without a registry: Go builds the static binary here,
# the host's ca-certificates supplies the CA bundle, and podman assembles a
# FROM scratch image from a prepared build context (nothing is pulled).
# TAG defaults to localhost/roamgate:local (what deploy/compose.yaml runs).
set -euo pipefail

tag=${1:-localhost/roamgate:local}
root=$(cd "$(dirname "$0")/.." && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$bundle" ] || { echo "build-image: $bundle is missing (Debian package ca-certificates)" >&2; exit 1; }

version=$(git -C "$root" describe --always --dirty 2>/dev/null || echo devel)
# modernc.org/sqlite is pure Go: CGO stays off and the binary is static.
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X roamgate/gateway.version=$version" \
	-o "$ctx/roamgate" ./cmd/roamgate)
cp "$bundle" "$ctx/ca-certificates.crt"
# The unprivileged user the image runs as; no login shell exists to give it.
printf 'root:x:0:0:root:/root:/nonexistent\nnonroot:x:65532:65532:roamgate:/var/lib/roamgate:/nonexistent\n' >"$ctx/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/group"
# Mount points, owned by nonroot in the image so fresh named volumes
# inherit it; and an empty /tmp.
mkdir -p "$ctx/state/roamgate" "$ctx/state/roamgate-keys" "$ctx/tmp"

podman build --pull=never --layers=false --build-arg "VERSION=$version" -f "$root/deploy/Containerfile" -t "$tag" "$ctx"
