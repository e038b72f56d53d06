#!/usr/bin/env bash
# bench-suite.sh - wall time of a 20-drill suite against the lab vs its slowest drill alone.
#
#   scripts/bench-suite.sh [extra test-binary flags]
#
# Runs e2e/bench's BenchmarkSuite20 (the twenty drills of e2e/bench/suite20.yaml at the
# suite's defaults: concurrency 4, 100 requests/s to the target) and BenchmarkSlowestAlone
# (the drill that is slowest on its own, found by timing each drill alone first; set
# MESHDRILL_BENCH_SLOWEST=<drill> to skip that), each with -benchtime=3x, and prints the
# ratio. Goal: the suite takes less than 2x its slowest drill alone.
#
# Each benchmark starts its own lab on free loopback ports. Besides ns/op, the benchmarks
# report where the drills spent their time, summed over drills: waiting for a drill slot
# (slotwait-s/op), then holding it while sending traffic (inject-s/op) and while waiting
# for evidence (await-s/op). To see which limit sets the suite's time:
#   go test ./e2e/bench/ -run '^$' -bench '^BenchmarkSuite20Limits$' -benchtime 3x
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cd "$ROOT"
go test -c -o "$TMP/bench.test" ./e2e/bench/
cd "$ROOT/e2e/bench"
"$TMP/bench.test" -test.run '^$' -test.bench '^(BenchmarkSuite20|BenchmarkSlowestAlone)$' \
	-test.benchtime 3x -test.count 1 -test.v "$@" | tee "$TMP/out" | grep -E '^(Benchmark|\s+suite_bench_test.go)' >&2 || true

awk '
	/^BenchmarkSuite20(-[0-9]+)?[ \t]/      { suite = $3 }
	/^BenchmarkSlowestAlone(-[0-9]+)?[ \t]/ { alone = $3 }
	/slowest drill:/                         { sub(/.*slowest drill: /, ""); sub(/;.*/, ""); drill = $0 }
	END {
		if (suite == "" || alone == "") { print "bench-suite: missing results" > "/dev/stderr"; exit 1 }
		ratio = suite / alone
		printf "20 drills:      %6.2f s per run\n", suite / 1e9
		printf "slowest drill alone (%s): %6.2f s per run\n", drill, alone / 1e9
		printf "ratio: %.2f (goal < 2: %s)\n", ratio, (ratio < 2 ? "met" : "missed")
	}' "$TMP/out"
