#!/usr/bin/env bash
# Dependencies point one way: protocol and shard use only the standard
# library; engine only those two. The wire format codecs are the one
# exception inside protocol: protocol/msgpackwire may use the MessagePack
# library and protocol/protobufwire the protobuf wire package, and no other
# package of the module may import either library. Fails listing any
# other import.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
check() { # package, allowed non-std packages (module-relative, or an external import path)...
	local pkg=$1; shift
	local bad
	bad=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "./$pkg" | grep -v "^$mod/$pkg\$" || true)
	for allowed in "$@"; do bad=$(grep -v -e "^$mod/$allowed\$" -e "^$allowed\$" <<<"$bad" || true); done
	if [ -n "$bad" ]; then
		echo "depcheck: $pkg imports what it must not:"; echo "$bad"; exit 1
	fi
}
check protocol
check shard
# Delta compression: the VCDIFF codec sits with the other encoders in
# protocol (standard library only); engine/delta follows the engine's rule
# plus github.com/centrifugal/fdelta, the allowed Fossil implementation
# (itself standard library only), which the engine carries through it.
check protocol/vcdiff
check engine/delta protocol protocol/vcdiff github.com/centrifugal/fdelta
check engine protocol shard engine/filter engine/delta protocol/vcdiff github.com/centrifugal/fdelta
# engine/filter stays standard-library only so the engine may import it;
# JMESPath enters through its ExprCompiler port (engine/filter/jmes).
check engine/filter

# check_lib PKG REGEX: PKG's non-module dependencies all match REGEX (the
# library it may use and that library's own dependencies).
check_lib() {
	local pkg=$1 allowed=$2 bad
	bad=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "./$pkg" |
		grep -v "^$mod/$pkg\$" | grep -v "^$mod/protocol\$" | grep -Ev "$allowed" || true)
	if [ -n "$bad" ]; then
		echo "depcheck: $pkg imports what it must not:"; echo "$bad"; exit 1
	fi
}
check_lib protocol/msgpackwire '^github\.com/vmihailenco/(msgpack/v5|tagparser/v2)(/|$)'
check_lib protocol/protobufwire '^google\.golang\.org/protobuf/(encoding/protowire|internal/(errors|detrand))$'
# Nobody else imports the codec libraries directly.
others=$(go list -f '{{.ImportPath}}: {{join .Imports " "}}' ./... |
	grep -E ' (github\.com/vmihailenco/|google\.golang\.org/protobuf)' |
	grep -Ev "^$mod/protocol/(msgpackwire|protobufwire):" || true)
if [ -n "$others" ]; then
	echo "depcheck: only protocol/msgpackwire and protocol/protobufwire may import the codec libraries:"; echo "$others"; exit 1
fi
# The top level holds only what DEVELOPERS.md lists: a stray file (a test
# binary, a notes file) committed there fails here, not in a review.
if git rev-parse --git-dir >/dev/null 2>&1; then
	stray=$(git ls-files | cut -d/ -f1 | sort -u |
		grep -Evx '\.ci|cmd|engine|shard|protocol|httpapi|expose|bench|configs|e2e|go\.mod|go\.sum|Makefile|README\.md' || true)
	if [ -n "$stray" ]; then
		echo "depcheck: only the documented folders and files belong at the top level; found:"; echo "$stray"; exit 1
	fi
	# Nothing binary is committed anywhere (a go build or go test -c
	# output left in a package folder): every tracked file is text.
	binary=$(comm -23 <(git ls-files | sort) <(git grep -I -l '' | sort) | while read -r f; do [ -s "$f" ] && echo "$f"; done || true)
	if [ -n "$binary" ]; then
		echo "depcheck: binary files are committed (build outputs?):"; echo "$binary"; exit 1
	fi
fi
echo "depcheck: ok"
