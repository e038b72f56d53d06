#!/usr/bin/env bash
# bench-accesslog.sh - meshdrill's access-log reader vs grep on a generated Istio access log.
#
#   scripts/bench-accesslog.sh
#
# Env: SIZE (bytes of log, default 1 GiB), IDS (request ids to find, default 1000),
#      ROUNDS (default 3).
#
# Generates, once, an Istio default-format TEXT log under .cache/bench/ (reused while the
# generator version and SIZE/IDS stay the same) plus IDS of its request ids spread over the
# file. Each round then runs, on the same file with a warm page cache:
#   grep       LC_ALL=C grep -c -F -f ids.txt FILE  (fixed strings, C locale: grep's fast path)
#   prefilter  accesslog.Scan for the ids: only lines whose tokens match an id are parsed
#   parse-all  accesslog.Scan with ParseAll: every line is fully parsed
# and reports the median wall time as MB/s, MB/s per CPU-second (steadier on a busy
# machine), peak RSS, and the ratio of each mode to grep. Both modes must find every id.
set -euo pipefail

SIZE=${SIZE:-1073741824}
NIDS=${IDS:-1000}
ROUNDS=${ROUNDS:-3}
GEN_VERSION=v1 # bump when benchcmd's generator changes, so the cached log is rebuilt
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$ROOT/.cache/bench
LOG=$DIR/istio-$GEN_VERSION-$SIZE.log
IDSF=$DIR/ids-$GEN_VERSION-$SIZE-$NIDS.txt
BIN=$DIR/benchcmd
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

say() { printf '[bench-accesslog] %s\n' "$*" >&2; }

TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		say "installing GNU time for peak RSS"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
	else
		say "error: /usr/bin/time missing (apt-get install time)"
		exit 1
	fi
fi

mkdir -p "$DIR"
cd "$ROOT"
go build -o "$BIN" ./collectors/accesslog/internal/benchcmd
if [ ! -s "$LOG" ] || [ ! -s "$IDSF" ]; then
	say "generating $LOG ($SIZE bytes, once)"
	"$BIN" gen -out "$LOG.tmp" -ids "$IDSF.tmp" -size "$SIZE" -n "$NIDS" >&2
	mv "$LOG.tmp" "$LOG"
	mv "$IDSF.tmp" "$IDSF"
fi
BYTES=$(stat -c %s "$LOG")
cat "$LOG" >/dev/null # warm the page cache: we measure parsing, not the disk

# run NAME CMD...: one timed run; appends "NAME wall user sys rss" to $OUT/times, output to $OUT/NAME.out.
run() {
	local name=$1
	shift
	"$TIME" -f '%e %U %S %M' -o "$OUT/time" "$@" >"$OUT/$name.out"
	echo "$name $(cat "$OUT/time")" >>"$OUT/times"
}

for r in $(seq 1 "$ROUNDS"); do
	run grep env LC_ALL=C grep -c -F -f "$IDSF" "$LOG"
	run prefilter "$BIN" scan -ids "$IDSF" "$LOG"
	run parse-all "$BIN" scan -ids "$IDSF" -parse-all "$LOG"
	[ "$(cat "$OUT/grep.out")" -eq "$NIDS" ] || { say "error: grep counted $(cat "$OUT/grep.out") lines, want $NIDS"; exit 1; }
	for m in prefilter parse-all; do
		grep -q " found=$NIDS " "$OUT/$m.out" || { say "error: $m: $(cat "$OUT/$m.out")"; exit 1; }
	done
	say "round $r/$ROUNDS: $(tail -3 "$OUT/times" | awk '{printf "%s %ss  ", $1, $2}')"
done

echo "Istio access log: $BYTES bytes, $(grep -o 'lines=[0-9]*' "$OUT/prefilter.out" | cut -d= -f2) lines; $NIDS request ids to find; median of $ROUNDS rounds"
awk -v bytes="$BYTES" '
	function median(s,    a, k, i, j, t) {
		k = split(s, a, " ")
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	{ wall[$1] = wall[$1] " " $2; cpu[$1] = cpu[$1] " " ($3 + $4); if ($5 > rss[$1]) rss[$1] = $5 }
	END {
		printf "  %-10s %8s %8s %14s %12s %14s\n", "", "wall s", "MB/s", "MB/CPU-second", "peak RSS", "vs grep (MB/s)"
		g = bytes / 1e6 / median(wall["grep"])
		n = split("grep prefilter parse-all", modes, " ")
		for (i = 1; i <= n; i++) {
			m = modes[i]; w = median(wall[m]); c = median(cpu[m])
			printf "  %-10s %8.2f %8.0f %14.0f %9.1f MB %13.2fx\n", m, w, bytes / 1e6 / w, bytes / 1e6 / c, rss[m] / 1024, bytes / 1e6 / w / g
		}
	}' "$OUT/times"
echo "commands (from the repository root):"
echo "  LC_ALL=C grep -c -F -f ${IDSF#"$ROOT"/} ${LOG#"$ROOT"/}"
echo "  ${BIN#"$ROOT"/} scan -ids ${IDSF#"$ROOT"/} [-parse-all] ${LOG#"$ROOT"/}"
