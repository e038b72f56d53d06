#!/usr/bin/env bash
# bench-demo.sh - wall time of `meshdrill demo` once built: N runs (default 5), min/median/max.
#
#   scripts/bench-demo.sh [RUNS]
#
# Builds the binary into .cache/ first, so the figures exclude compilation. Each run starts and
# stops its own lab on free loopback ports; a run that does not exit 0 is reported and fails the script.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-5}
BIN=$ROOT/.cache/meshdrill-bench
mkdir -p "$ROOT/.cache"
(cd "$ROOT" && go build -o "$BIN" ./cmd/meshdrill)
times=()
for i in $(seq 1 "$RUNS"); do
	t0=$(date +%s%N)
	if ! "$BIN" demo --quiet >/dev/null; then
		echo "run $i: meshdrill demo did not exit 0" >&2
		exit 1
	fi
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	times+=("$ms")
	echo "run $i: ${ms} ms"
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
echo "meshdrill demo, $n runs on $(nproc) cores: min ${sorted[0]} ms, median ${sorted[$((n / 2))]} ms, max ${sorted[$((n - 1))]} ms"
