#!/usr/bin/env bash
# install-backends.sh - install the real telemetry backends that meshdrill's tests start.
#
#   scripts/install-backends.sh [apt|victorialogs|caddy|jaeger|all]...   (default: all)
#
# apt           Debian packages: prometheus 2.42, alertmanager, pushgateway, nginx, haproxy, caddy 2.6
# victorialogs  VictoriaLogs, built from the Go module proxy      -> .cache/bin/victoria-logs-<ver>
# caddy         Caddy 2.11 (with tracing), from the module proxy   -> .cache/bin/caddy-<ver>
# jaeger        Jaeger v2 all-in-one, from a scratch module        -> .cache/bin/jaeger-<ver>
#
# Idempotent: apt runs only for missing packages, and a Go build runs only when its versioned
# binary is missing. Nothing is started: tests start what they need on free loopback ports.
# The Go builds never touch the project's go.mod.
set -euo pipefail

VLOGS_MOD=github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs
VLOGS_VER=v1.52.2
CADDY_MOD=github.com/caddyserver/caddy/v2/cmd/caddy
CADDY_VER=v2.11.9
JAEGER_MOD=github.com/jaegertracing/jaeger
JAEGER_VER=v1.75.0
APT_PKGS=(prometheus prometheus-alertmanager prometheus-pushgateway nginx haproxy caddy ca-certificates)
# VictoriaLogs needs this Go release or newer.
MIN_GO=1.26.5

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=$ROOT/.cache
BIN=$CACHE/bin

now() { echo "${EPOCHREALTIME/./}"; }                     # microseconds
since() { local d=$(( ($(now) - $1) / 1000 )); printf '%d.%03ds' $((d / 1000)) $((d % 1000)); }
say() { printf '[install-backends] %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }

# retry CMD...: up to 3 tries, for downloads that can fail on a network hiccup.
retry() {
	local n
	for n in 1 2 3; do
		"$@" && return 0
		[ $n -eq 3 ] || { say "attempt $n failed: $*; retrying in $((n * 5))s" >&2; sleep $((n * 5)); }
	done
	return 1
}

usage() {
	echo "usage: $0 [apt|victorialogs|caddy|jaeger|all]..." >&2
	exit 2
}

# Go builds must not see the project's module or flags meant for it.
go_env() { env GOWORK=off GOFLAGS=-buildvcs=false "$@"; }

check_go() {
	command -v go >/dev/null 2>&1 || die "go not found in PATH (Go >= $MIN_GO is needed)"
	local v; v=$(go env GOVERSION); v=${v#go}
	if [ "$(printf '%s\n%s\n' "$MIN_GO" "$v" | sort -V | head -1)" != "$MIN_GO" ]; then
		die "Go $v is too old: the VictoriaLogs build needs Go >= $MIN_GO"
	fi
}

install_apt() {
	local missing=() p t0
	# VictoriaLogs links zstd through cgo: a machine without a C toolchain needs one.
	if ! command -v gcc >/dev/null 2>&1; then APT_PKGS+=(gcc libc6-dev); fi
	for p in "${APT_PKGS[@]}"; do
		if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "apt: all packages present (${APT_PKGS[*]})"
		return
	fi
	[ "$(id -u)" -eq 0 ] || die "apt: installing ${missing[*]} needs root"
	# A package install must not start services: policy-rc.d answering 101 forbids it.
	local policy=/usr/sbin/policy-rc.d created=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# created by meshdrill scripts/install-backends.sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created=1
	elif ! grep -q 'exit 101' "$policy"; then
		say "apt: warning: $policy exists and may allow services to start"
	fi
	export DEBIAN_FRONTEND=noninteractive
	t0=$(now)
	say "apt: apt-get update (missing: ${missing[*]})"
	retry apt-get update -qq
	say "apt: update took $(since "$t0")"
	t0=$(now)
	say "apt: apt-get install ${APT_PKGS[*]}"
	retry apt-get install -y -qq --no-install-recommends "${APT_PKGS[@]}" >/dev/null
	say "apt: install took $(since "$t0")"
	if [ $created -eq 1 ]; then rm -f "$policy"; fi
	# Some maintainer scripts start daemons without invoke-rc.d; check we own none of them.
	for p in prometheus prometheus-alertmanager prometheus-pushgateway nginx haproxy caddy; do
		if command -v pgrep >/dev/null && pgrep -x "$p" >/dev/null 2>&1; then
			say "apt: warning: a '$p' process is running after the install (not started by tests)"
		fi
	done
}

# go_install NAME MODULE VERSION: GOBIN=dir go install into .cache/bin/NAME-VERSION.
go_install() {
	local name=$1 mod=$2 ver=$3 out=$BIN/$1-$3 t0 tmp
	if [ -x "$out" ]; then
		say "$name: $out present"
		return
	fi
	check_go
	mkdir -p "$BIN"
	tmp=$(mktemp -d "$CACHE/gobin.XXXXXX")
	t0=$(now)
	say "$name: go install $mod@$ver"
	(cd "$tmp" && retry go_env GOBIN="$tmp" go install -trimpath -ldflags='-s -w' "$mod@$ver")
	mv "$tmp/$(basename "$mod")" "$out"
	rm -rf "$tmp"
	say "$name: built $out in $(since "$t0")"
}

install_jaeger() {
	local out=$BIN/jaeger-$JAEGER_VER t0 dir=$CACHE/build/jaeger-$JAEGER_VER
	if [ -x "$out" ]; then
		say "jaeger: $out present"
		return
	fi
	check_go
	mkdir -p "$BIN" "$dir"
	t0=$(now)
	# Jaeger's go.mod has a replace directive, so 'go install pkg@version' refuses it;
	# a scratch module that requires it as a tool builds the same code.
	if [ ! -f "$dir/go.mod" ]; then
		(cd "$dir" && go_env go mod init meshdrill.invalid/jaegerbuild >/dev/null 2>&1)
	fi
	say "jaeger: go get -tool $JAEGER_MOD/cmd/jaeger@$JAEGER_VER (in $dir)"
	(cd "$dir" && retry go_env go get -tool "$JAEGER_MOD/cmd/jaeger@$JAEGER_VER")
	say "jaeger: go build (cold: ~7 min on 2 cores, ~2.2 GB memory)"
	(cd "$dir" && go_env go build -trimpath -ldflags='-s -w' -o "$out.tmp" "$JAEGER_MOD/cmd/jaeger")
	mv "$out.tmp" "$out"
	say "jaeger: built $out in $(since "$t0")"
}

want_apt=0 want_vlogs=0 want_caddy=0 want_jaeger=0
[ $# -gt 0 ] || set -- all
for a in "$@"; do
	case $a in
		apt) want_apt=1 ;;
		victorialogs | vlogs) want_vlogs=1 ;;
		caddy) want_caddy=1 ;;
		jaeger) want_jaeger=1 ;;
		all) want_apt=1 want_vlogs=1 want_caddy=1 want_jaeger=1 ;;
		-h | --help) usage ;;
		*) say "unknown component '$a'" >&2; usage ;;
	esac
done

T0=$(now)
[ $want_apt -eq 0 ] || install_apt
[ $want_vlogs -eq 0 ] || go_install victoria-logs "$VLOGS_MOD" "$VLOGS_VER"
[ $want_caddy -eq 0 ] || go_install caddy "$CADDY_MOD" "$CADDY_VER"
# Jaeger last: it is by far the longest build.
[ $want_jaeger -eq 0 ] || install_jaeger
say "done in $(since "$T0")"
