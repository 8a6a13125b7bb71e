#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (CI: a short smoke; make fuzz: longer).
#
# A failing target never fails silently:
#   - a crasher (the fuzzer wrote a failing input) fails the run at once,
#     printing the fuzzer's output, the input's path and its contents: CI's
#     clone is thrown away afterwards, so the input must be copied from the
#     log. Once the bug is fixed, commit it under the package's
#     testdata/fuzz/<Target>/ as a regression case.
#   - a failing seed-corpus entry (a test failure without a new input) fails
#     at once too: it is a regression in the code, not in the fuzzer.
#   - anything else (no input written: a worker that hung or was killed on a
#     loaded machine, the engine's own "context deadline exceeded" at the
#     end of the run, which also prints --- FAIL) is retried up to twice;
#     a third such failure fails the run, saying that the fuzzing engine
#     failed. The deadline error is a race in Go 1.26's fuzzing coordinator
#     (golang/go#75804, fixed in Go 1.27) on the wall-clock -fuzztime path
#     only, so a retry runs the number of executions the failed attempt
#     reached (-fuzztime=Nx), which has no deadline to race. It was seen on
#     most fresh-clone CI runs here, once twice in a row on one target.
# GO picks the go command (the self-test substitutes one); PKGS limits the
# packages (default: every package of the module).
set -euo pipefail
cd "${FUZZ_DIR:-$(dirname "$0")/..}"
GO=${GO:-go}
t=${FUZZTIME:-10s}
# One worker: on CI's 2 loaded cores more workers only add the coordinator
# time-outs the engine-failure retry exists for.
par=${FUZZPARALLEL:-1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_target PKG DIR TARGET BUDGET: 0 ok, 1 real failure, 2 engine failure.
run_target() {
	local pkg=$1 dir=$2 f=$3 budget=$4
	if "$GO" test -run='^$' -fuzz="^$f\$" -fuzztime="$budget" -parallel="$par" "$pkg" >"$log" 2>&1; then
		return 0
	fi
	local input
	input=$(sed -n 's/.*Failing input written to \([^ ]*\).*/\1/p' "$log" | tail -n 1)
	if [ -n "$input" ]; then
		cat "$log"
		echo "fuzz: $pkg $f found a crashing input: $dir/$input"
		if [ -f "$dir/$input" ]; then
			echo "fuzz: its contents (commit it under $dir/testdata/fuzz/$f/ once fixed):"
			cat "$dir/$input"
		fi
		return 1
	fi
	if grep -q 'failure while testing seed corpus entry' "$log"; then
		cat "$log"
		echo "fuzz: $pkg $f failed on its seed corpus (no new input was written)"
		return 1
	fi
	return 2
}

pkgs=${PKGS:-$("$GO" list ./...)}
for pkg in $pkgs; do
	dir=$("$GO" list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
		echo "fuzz $pkg $f ($t)"
		rc=0
		run_target "$pkg" "$dir" "$f" "$t" || rc=$?
		attempt=1
		while [ "$rc" -eq 2 ] && [ "$attempt" -lt 3 ]; do
			cat "$log"
			# The executions the failed attempt reached, as a count.
			budget=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
			if [ -n "$budget" ] && [ "$budget" -gt 0 ]; then budget="${budget}x"; else budget=$t; fi
			echo "fuzz: $pkg $f: the fuzzing engine failed without writing a crashing input; retrying with -fuzztime=$budget (attempt $((attempt + 1)) of 3)"
			attempt=$((attempt + 1))
			rc=0
			run_target "$pkg" "$dir" "$f" "$budget" || rc=$?
		done
		if [ "$rc" -eq 2 ]; then
			cat "$log"
			echo "fuzz: $pkg $f: the fuzzing engine failed 3 times without a crashing input (not a bug found in the code; see the output above)"
		fi
		[ "$rc" -eq 0 ] || exit 1
	done
done
echo "fuzz: ok"
