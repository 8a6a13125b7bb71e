#!/usr/bin/env bash
# Proves .ci/fuzz.sh reports what it finds: a crasher fails with the
# fuzzer's output and the input's path and contents, a failing seed corpus
# fails, and an engine failure without an input is retried twice, by
# execution count, and then reported. Runs on a throw-away module so the project's corpus is untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "fuzz-selftest: $*"; echo "--- output:"; cat "$tmp/out"; exit 1; }

mkmod() { # dir, test source
	mkdir -p "$1"
	printf 'module example.com/fz\n\ngo 1.26\n' >"$1/go.mod"
	printf '%s\n' "$2" >"$1/fz_test.go"
}
mkmod "$tmp/crash" 'package fz
import "testing"
func FuzzBoom(f *testing.F) {
	f.Add([]byte("a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 2 && b[0] == 0x7a {
			panic("boom")
		}
	})
}'
mkmod "$tmp/seed" 'package fz
import "testing"
func FuzzSeed(f *testing.F) {
	f.Add("fail")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "fail" {
			t.Fatal("seed corpus regression")
		}
	})
}'
mkmod "$tmp/fine" 'package fz
import "testing"
func FuzzFine(f *testing.F) {
	f.Add(1)
	f.Fuzz(func(t *testing.T, n int) {})
}'

# 1. A crasher: exit 1, fuzzer output, path and contents printed.
if FUZZ_DIR="$tmp/crash" FUZZTIME=60s bash "$here/fuzz.sh" >"$tmp/out" 2>&1; then fail "a crasher passed"; fi
grep -q 'panic: boom' "$tmp/out" || fail "the fuzzer's output was not printed"
grep -q "found a crashing input: $tmp/crash/testdata/fuzz/FuzzBoom/" "$tmp/out" || fail "the crashing input's path was not printed"
grep -q 'go test fuzz v1' "$tmp/out" || fail "the crashing input's contents were not printed"

# 2. A failing seed corpus: exit 1 without a retry.
if FUZZ_DIR="$tmp/seed" FUZZTIME=2s bash "$here/fuzz.sh" >"$tmp/out" 2>&1; then fail "a failing seed corpus passed"; fi
grep -q 'seed corpus regression' "$tmp/out" || fail "the seed failure was not printed"
grep -q 'retrying' "$tmp/out" && fail "a seed failure was retried"

# 3. The engine failing without an input: retried twice, then reported.
cat >"$tmp/go" <<'SH'
#!/usr/bin/env bash
# A go command whose fuzzing fails without writing an input the first
# $FAILS times, as a hung worker does.
if [ "$1" = test ] && [[ " $* " == *" -fuzz="* ]]; then
	n=$(cat "$COUNTER" 2>/dev/null || echo 0)
	echo $((n + 1)) >"$COUNTER"
	echo "$*" >>"$COUNTER.args"
	if [ "$n" -lt "$FAILS" ]; then
		# What the engine printed when its deadline passed under load.
		printf -- 'fuzz: elapsed: 1s, execs: 1234 (1234/sec), new interesting: 0 (total: 1)\n'
		printf -- '--- FAIL: FuzzFine (10.12s)\n    context deadline exceeded (simulated)\nFAIL\n'
		exit 1
	fi
fi
exec go "$@"
SH
chmod +x "$tmp/go"
if ! GO="$tmp/go" FAILS=2 COUNTER="$tmp/n1" FUZZ_DIR="$tmp/fine" FUZZTIME=1s bash "$here/fuzz.sh" >"$tmp/out" 2>&1; then
	fail "two engine failures were not retried"
fi
grep -q 'retrying with -fuzztime=1234x (attempt 3 of 3)' "$tmp/out" || fail "the retry was not reported"
# The retries run the failed attempt's executions as a count (no deadline).
[ "$(grep -c -- '-fuzztime=1234x' "$tmp/n1.args")" -eq 2 ] || fail "the retries did not run by count: $(cat "$tmp/n1.args")"
grep -q 'simulated' "$tmp/out" || fail "the engine's output was not printed"
if GO="$tmp/go" FAILS=3 COUNTER="$tmp/n2" FUZZ_DIR="$tmp/fine" FUZZTIME=1s bash "$here/fuzz.sh" >"$tmp/out" 2>&1; then
	fail "three engine failures passed"
fi
grep -q 'fuzzing engine failed 3 times' "$tmp/out" || fail "the repeated engine failure was not reported"
echo "fuzz-selftest: ok"
