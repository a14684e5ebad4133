#!/bin/sh
# govulncheck without vuln.go.dev, which this machine cannot reach.
#
# The Go vulnerability database is published as the golang.org/x/vulndb
# module, whose zip (from the module proxy) holds every entry as OSV JSON
# in data/osv. Its own cmd/indexdb turns that folder into the v1 database
# layout govulncheck reads with -db file://. The database is built once per
# vulndb version and cached.
#
# Usage: .ci/govulncheck.sh [govulncheck args, default ./...]
# Environment: VULNDB_VERSION (default latest), GOVULNCHECK_VERSION
# (default v1.9.0), VULNDB_CACHE (default ~/.cache/wsraise-vulndb).
# The standard library is checked at the version of the go command that
# runs: set GOTOOLCHAIN=go1.x.y to check another.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
vulndb_version=${VULNDB_VERSION:-latest}
govulncheck_version=${GOVULNCHECK_VERSION:-v1.9.0}
cache=${VULNDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wsraise-vulndb}

# Outside the main module, so that its go.mod is neither read nor changed.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

info=$(GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$vulndb_version")
field() { printf '%s\n' "$info" | sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}$/\1/p"; }
version=$(field Version)
dir=$(field Dir)
if [ -z "$version" ] || [ ! -d "$dir/data/osv" ]; then
	echo "govulncheck.sh: golang.org/x/vulndb@$vulndb_version has no data/osv folder" >&2
	exit 1
fi

db=$cache/$version
if [ ! -f "$db/index/db.json" ]; then
	echo "govulncheck.sh: building the database from golang.org/x/vulndb@$version ($(ls "$dir/data/osv" | wc -l) entries)" >&2
	rm -rf "$db.tmp"
	mkdir -p "$cache"
	GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$version" -vulns "$dir/data/osv" -out "$db.tmp"
	mv "$db.tmp" "$db"
fi

if ! command -v govulncheck >/dev/null 2>&1; then
	GOFLAGS=-mod=mod go install "golang.org/x/vuln/cmd/govulncheck@$govulncheck_version"
	PATH=$(go env GOPATH)/bin:$PATH
fi

cd "$root"
echo "govulncheck.sh: database golang.org/x/vulndb@$version, $(go version)" >&2
if [ $# -eq 0 ]; then
	set -- ./...
fi
exec govulncheck -db "file://$db" "$@"
