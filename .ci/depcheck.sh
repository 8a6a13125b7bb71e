#!/usr/bin/env bash
# Dependencies point one way: protocol and shard use only the standard
# library; engine only those two. Fails listing any other import.
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
echo "depcheck: ok"
