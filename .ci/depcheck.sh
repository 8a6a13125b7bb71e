#!/usr/bin/env bash
# Dependencies point one way: protocol and shard use only the standard
# library; engine only those two. Fails listing any other import.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
check() { # package, allowed non-std prefixes...
	local pkg=$1; shift
	local bad
	bad=$(go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "./$pkg" | grep -v "^$mod/$pkg\$" || true)
	for allowed in "$@"; do bad=$(grep -v "^$mod/$allowed\$" <<<"$bad" || true); done
	if [ -n "$bad" ]; then
		echo "depcheck: $pkg imports what it must not:"; echo "$bad"; exit 1
	fi
}
check protocol
check shard
check engine protocol shard engine/filter
# engine/filter stays standard-library only so the engine may import it;
# JMESPath enters through its ExprCompiler port (engine/filter/jmes).
check engine/filter
echo "depcheck: ok"
