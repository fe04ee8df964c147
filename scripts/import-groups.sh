#!/usr/bin/env bash
# import-groups.sh FILE... — the import grouping of goimports -local
# roamgate, which goimports itself does not check (it adds a missing import
# in a group of its own, anywhere): each group of one kind, standard
# library, then third party, then roamgate. Several groups of one kind may
# follow each other (dns/server.go keeps its blank plugin imports apart).
# Prints the files that break it; fails if there are any.
set -euo pipefail
awk '
function kind(path) {
	if (path == "roamgate" || path ~ /^roamgate\//) return 2
	split(path, parts, "/")
	return (parts[1] ~ /\./) ? 1 : 0
}
FNR == 1 { inblock = 0 }
/^import \($/ { inblock = 1; top = -1; group = -1; next }
inblock && /^\)/ { inblock = 0; next }
inblock && /^[[:space:]]*$/ { group = -1; next }
inblock && /"/ {
	match($0, /"[^"]+"/)
	k = kind(substr($0, RSTART + 1, RLENGTH - 2))
	if ((group >= 0 && k != group) || k < top) { print FILENAME ": " $0; bad = 1 }
	group = k
	if (k > top) top = k
}
END { exit bad }
' "$@"
