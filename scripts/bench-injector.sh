#!/usr/bin/env bash
# bench-injector.sh - mTLS requests per second on loopback: meshdrill's injector vs vegeta.
#
#   scripts/bench-injector.sh [extra test-binary flags, e.g. -test.benchmem]
#
# Env: REQUESTS (per benchmark and round, default 2000), ROUNDS (default 9).
# To profile the injector alone:
#   go test ./fixtures/ -run '^$' -bench 'MTLSRequests/meshdrill' -benchtime 4000x -cpuprofile /tmp/cpu.out
#
# Runs fixtures' BenchmarkMTLSRequests: the same Go mTLS server, the same concurrency
# and request count for meshdrill (a new connection and full handshake per request, as
# drills need), vegeta with keepalive off (the fair comparison) and vegeta with keepalive
# on (for context). The rounds are interleaved so that load from elsewhere on the machine
# hits all three alike; the figures are medians over the rounds.
set -euo pipefail

REQUESTS=${REQUESTS:-2000}
ROUNDS=${ROUNDS:-9}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cd "$ROOT"
go test -c -o "$TMP/fixtures.test" ./fixtures/
cd "$ROOT/fixtures"
for r in $(seq 1 "$ROUNDS"); do
	"$TMP/fixtures.test" -test.run '^$' -test.bench '^BenchmarkMTLSRequests$' \
		-test.benchtime "${REQUESTS}x" -test.count 1 "$@" | tee -a "$TMP/out" | grep '^Benchmark' >&2 || true
	echo "round $r/$ROUNDS done" >&2
done

awk -v n="$REQUESTS" -v rounds="$ROUNDS" '
	function median(s,    a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		if (k == 0) return 0
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	/^BenchmarkMTLSRequests\// {
		name = $1; sub(/^BenchmarkMTLSRequests\//, "", name); sub(/-[0-9]+$/, "", name)
		cur = 0
		for (i = 2; i < NF; i++) {
			if ($(i + 1) == "req/s") { rate[name] = rate[name] " " $i; cur = $i }
			if ($(i + 1) == "cpu-µs/req") cpu[name] = cpu[name] " " $i
		}
		# Rounds are paired: the vegeta run right after a meshdrill run saw much the same load.
		if (name == "meshdrill") last = cur
		if (name == "vegeta/keepalive=off" && last > 0 && cur > 0) { ratios = ratios " " last / cur; last = 0 }
	}
	END {
		md = median(rate["meshdrill"]); off = median(rate["vegeta/keepalive=off"]); on = median(rate["vegeta/keepalive=on"])
		if (md == 0 || off == 0) { print "bench-injector: missing results" > "/dev/stderr"; exit 1 }
		printf "mTLS GET on loopback, %d requests per run, median of %d rounds\n", n, rounds
		printf "  %-36s %10s %14s\n", "", "req/s", "CPU µs/req"
		printf "  %-36s %10.0f %14.0f\n", "meshdrill (a connection per request)", md, median(cpu["meshdrill"])
		printf "  %-36s %10.0f %14.0f\n", "vegeta, keepalive off", off, median(cpu["vegeta/keepalive=off"])
		printf "  %-36s %10.0f %14.0f   (connection reuse, for context)\n", "vegeta, keepalive on", on, median(cpu["vegeta/keepalive=on"])
		printf "ratio meshdrill / vegeta (keepalive off), req/s: %.2f (median of per-round ratios: %.2f)\n", md / off, median(ratios)
		printf "CPU is the whole process (injector and server); both injectors pay the same server cost.\n"
	}' "$TMP/out"
