package expectations

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The istio dialect (sidecar mode): for each drill kind, the client outcome it
// expects and where an operator would find the evidence, blind spots included
// (DESIGN.md's table, TELEMETRY-FACTS.md 1–7).

type kindPlan func(s Suite, d Drill, t Target) ([]check, []blindSpot)

var istioKinds = map[string]kindPlan{
	"forbidden-identity":  istioDenied,
	"forbidden-operation": istioDenied,
	"wrong-trust-domain":  istioDenied,
	"untrusted-cert":      istioTLSRejected("envoy_listener_ssl_fail_verify_error"),
	"expired-cert":        istioTLSRejected("envoy_listener_ssl_fail_verify_error"),
	"not-yet-valid-cert":  istioTLSRejected("envoy_listener_ssl_fail_verify_error"),
	"no-client-cert":      istioTLSRejected("envoy_listener_ssl_fail_verify_no_cert"),
	"weak-tls":            istioTLSRejected("envoy_listener_ssl_connection_error"),
	"plaintext":           istioPlaintext,
	"latency":             istioLatency,
	"error-burst":         istioErrors,
	"control":             istioControl,
	"malformed":           istioMalformed,
}

func kindList() string {
	ks := make([]string, 0, len(istioKinds))
	for k := range istioKinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// destination pins the server-side reporter and the target workload: only
// the destination knows mutual_tls, and every request between two sidecars
// is counted once per reporter (TELEMETRY-FACTS 7).
func destination(t Target, extra ...string) string {
	m := []string{`reporter="destination"`}
	if t.Workload != "" {
		m = append(m, fmt.Sprintf("destination_workload=%q", t.Workload))
	}
	if t.Namespace != "" {
		m = append(m, fmt.Sprintf("destination_workload_namespace=%q", t.Namespace))
	}
	return strings.Join(append(m, extra...), ",")
}

var (
	exactCount   = Want{Op: "==", Count: true}
	atLeastCount = Want{Op: ">=", Count: true}
)

// isolated is an exact count when the drill's own identity isolates its
// series, a lower bound otherwise.
func isolated(d Drill) Want {
	if d.Identity != "" {
		return exactCount
	}
	return atLeastCount
}

func principal(d Drill) string { return fmt.Sprintf("source_principal=%q", d.Identity) }

func istioDenied(s Suite, d Drill, t Target) ([]check, []blindSpot) {
	checks := []check{
		&metricDelta{
			name:     "istio_requests_total 403",
			selector: fmt.Sprintf("istio_requests_total{%s}", destination(t, `response_code="403"`, principal(d))),
			want:     isolated(d),
			describe: " (metrics cannot tell a policy 403 from an application 403)",
		},
		&logByID{
			name:     "access log RBAC denial",
			describe: "code 403, details rbac_access_denied_matched_policy[…]",
			want: func(r LogRecord) (bool, string) {
				if r.Code != 403 {
					return false, fmt.Sprintf("code %d", r.Code)
				}
				if !strings.HasPrefix(r.Details, "rbac_access_denied_matched_policy[") {
					return false, fmt.Sprintf("details %q: a 403 not from policy", r.Details)
				}
				return true, ""
			},
		},
	}
	if s.Mesh.Tracing {
		checks = append(checks, &traceByID{
			name:     "server span 403",
			describe: "server span with http.status_code 403 (a 4xx is not a span error)",
			want:     func(sp Span) bool { return isServer(sp) && statusCode(sp) == 403 },
		})
	}
	return checks, tracingBlindSpot(s)
}

func istioTLSRejected(counter string) kindPlan {
	return func(s Suite, d Drill, t Target) ([]check, []blindSpot) {
		var checks []check
		logReason := "Istio's listener access log keeps only NR lines; handshake failures are not logged by default (istio#29565)"
		if !s.Mesh.ListenerNRLog {
			logReason = "the mesh declares no listener access log (listener_log: none)"
		}
		blind := []blindSpot{
			{sig: SignalMetrics, name: "istio_requests_total",
				reason: "the handshake fails before any HTTP request exists: Istio's standard metrics never see it",
				fix:    "assert on the Envoy listener SSL counters instead (see the other metrics row)"},
			{sig: SignalLogs, name: "access log",
				reason: logReason,
				fix:    "remove the listener access-log filter so connection-level failures are logged with %DOWNSTREAM_TRANSPORT_FAILURE_REASON%"},
			{sig: SignalTraces, name: "traces",
				reason: "no HTTP request reaches the proxy, so no span is started",
				fix:    "none: use metrics or listener logs for TLS failures"},
		}
		if s.Mesh.ListenerSSLStats {
			// Any client can fail a handshake: a lower bound only (envoy#24775).
			checks = append(checks, &metricDelta{
				name:     counter,
				selector: fmt.Sprintf("%s{listener_address=%q}", counter, t.ListenerAddress),
				want:     atLeastCount,
			})
			blind = blind[1:]
		} else {
			blind[0].name = counter
			blind[0].reason = "the proxy stats matcher does not export listener SSL counters, and Istio's standard metrics never see a failed handshake"
			blind[0].fix = `add "listener.*ssl.*" to meshConfig.defaultConfig.proxyStatsMatcher.inclusionRegexps`
		}
		return checks, blind
	}
}

func istioPlaintext(s Suite, d Drill, t Target) ([]check, []blindSpot) {
	var checks []check
	blind := []blindSpot{
		{sig: SignalMetrics, name: "istio_requests_total / istio_tcp_*",
			reason: "plaintext to a STRICT mTLS port is dropped while Envoy picks a filter chain, before any Istio stats filter (istio#32774)",
			fix:    `export listener.*.no_filter_chain_match via proxyStatsMatcher.inclusionRegexps and assert on envoy_listener_no_filter_chain_match`},
		{sig: SignalTraces, name: "traces",
			reason: "the connection is closed before HTTP is parsed: no span",
			fix:    "none: use listener metrics or NR access-log lines"},
	}
	if s.Mesh.ListenerFilterChainStats {
		checks = append(checks, &metricDelta{
			name:     "envoy_listener_no_filter_chain_match",
			selector: fmt.Sprintf("envoy_listener_no_filter_chain_match{listener_address=%q}", t.ListenerAddress),
			want:     atLeastCount,
		})
	}
	if s.Mesh.ListenerNRLog {
		checks = append(checks, &logByConnection{
			name:     "listener NR line",
			describe: `"- - -" 0 NR filter_chain_not_found`,
			slack:    time.Second,
			want: func(r LogRecord) bool {
				return r.Code == 0 && r.Flags == "NR" && r.Details == "filter_chain_not_found"
			},
		})
	} else {
		blind = append(blind, blindSpot{sig: SignalLogs, name: "listener NR line",
			reason: "the mesh declares no listener access log",
			fix:    "enable access logging (Telemetry API accessLogging) so the listener logs NR lines"})
	}
	return checks, blind
}

// istioBuckets are the bucket bounds of istio_request_duration_milliseconds.
var istioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// bucketBelow returns the largest bucket bound ≤ the delay: every request
// slower than the delay lies above it.
func bucketBelow(delay time.Duration) (float64, bool) {
	ms := float64(delay) / float64(time.Millisecond)
	best, ok := 0.0, false
	for _, b := range istioBuckets {
		if b <= ms {
			best, ok = b, true
		}
	}
	return best, ok
}

func istioLatency(s Suite, d Drill, t Target) ([]check, []blindSpot) {
	var checks []check
	if le, ok := bucketBelow(d.Delay); ok {
		base := destination(t, principal(d))
		checks = append(checks, &metricDelta{
			name:     fmt.Sprintf("duration above %sms", fmtFloat(le)),
			selector: fmt.Sprintf("istio_request_duration_milliseconds_count{%s}", base),
			minus:    fmt.Sprintf(`istio_request_duration_milliseconds_bucket{%s,%s}`, base, leMatcher(le)),
			want:     isolated(d),
			describe: fmt.Sprintf(" requests slower than %sms (bucket below the %s delay)", fmtFloat(le), d.Delay),
		})
	}
	checks = append(checks, &logByID{
		name:     "access log duration",
		describe: fmt.Sprintf("code 200, duration ≥ %s", d.Delay),
		want: func(r LogRecord) (bool, string) {
			if r.Code != 200 {
				return false, fmt.Sprintf("code %d", r.Code)
			}
			// The log's DURATION is whole milliseconds: allow the truncation.
			if r.Duration+time.Millisecond < d.Delay {
				return false, fmt.Sprintf("duration %s", r.Duration)
			}
			return true, ""
		},
	})
	if s.Mesh.Tracing {
		checks = append(checks, &traceByID{
			name:     "server span duration",
			describe: fmt.Sprintf("server span ≥ %s", d.Delay),
			want:     func(sp Span) bool { return isServer(sp) && sp.Duration >= d.Delay },
		})
	}
	return checks, tracingBlindSpot(s)
}

func istioErrors(s Suite, d Drill, t Target) ([]check, []blindSpot) {
	checks := []check{
		&metricDelta{
			name:     "istio_requests_total 5xx",
			selector: fmt.Sprintf("istio_requests_total{%s}", destination(t, `response_code=~"5.."`, principal(d))),
			// The destination may count retries: a lower bound.
			want: atLeastCount,
		},
		&logByID{
			name:     "access log 5xx",
			describe: "code 5xx",
			want: func(r LogRecord) (bool, string) {
				return r.Code >= 500 && r.Code < 600, fmt.Sprintf("code %d", r.Code)
			},
		},
	}
	if s.Mesh.Tracing {
		checks = append(checks, &traceByID{
			name:     "server span error",
			describe: "server span with error status",
			want:     func(sp Span) bool { return isServer(sp) && (sp.Error || statusCode(sp) >= 500) },
		})
	}
	return checks, tracingBlindSpot(s)
}

func istioControl(s Suite, d Drill, t Target) ([]check, []blindSpot) {
	checks := []check{
		&metricDelta{
			name:     "istio_requests_total 200 mTLS",
			selector: fmt.Sprintf("istio_requests_total{%s}", destination(t, `response_code="200"`, `connection_security_policy="mutual_tls"`, principal(d))),
			want:     isolated(d),
		},
		&logByID{
			name:     "access log 200",
			describe: "code 200",
			want:     func(r LogRecord) (bool, string) { return r.Code == 200, fmt.Sprintf("code %d", r.Code) },
		},
	}
	if s.Mesh.Tracing {
		checks = append(checks, &traceByID{
			name:     "server span",
			describe: "server span with http.status_code 200",
			want:     func(sp Span) bool { return isServer(sp) && statusCode(sp) == 200 },
		})
	}
	return checks, tracingBlindSpot(s)
}

func tracingBlindSpot(s Suite) []blindSpot {
	if s.Mesh.Tracing {
		return nil
	}
	return []blindSpot{{sig: SignalTraces, name: "traces",
		reason: "the mesh declares no tracing",
		fix:    "enable tracing (meshConfig.enableTracing / Telemetry API) and a trace backend"}}
}

func isServer(s Span) bool { return s.Kind == "" || s.Kind == "server" }

func statusCode(s Span) int {
	for _, k := range []string{"http.status_code", "http.response.status_code"} {
		if v, ok := s.Attrs[k]; ok {
			n, err := strconv.Atoi(v)
			if err == nil {
				return n
			}
		}
	}
	return 0
}

// leMatcher matches a bucket bound however the server spells it: Prometheus
// 2 keeps the exposition's "250", Prometheus 3 normalises it to "250.0".
func leMatcher(le float64) string {
	s := strconv.FormatFloat(le, 'f', -1, 64)
	if strings.Contains(s, ".") {
		return fmt.Sprintf("le=%q", s)
	}
	return fmt.Sprintf(`le=~"%s|%s\\.0"`, s, s)
}

// istioMalformed: Envoy's codec refuses the request before the HTTP filters
// run, so neither Istio's stats filter nor the tracer sees it; the access
// log records a local reply (400/431, flag DPE) without a request id.
func istioMalformed(s Suite, d Drill, t Target) ([]check, []blindSpot) {
	blind := []blindSpot{
		{sig: SignalMetrics, name: "istio_requests_total",
			reason: "a request the HTTP codec rejects never reaches Istio's stats filter",
			fix:    "export the HTTP connection manager's downstream_rq_4xx / codec error stats via proxyStatsMatcher"},
		{sig: SignalTraces, name: "traces",
			reason: "the codec rejects the request before the tracer starts a span",
			fix:    "none: use the access log"},
	}
	return []check{&logByConnection{
		name:     "access log codec error",
		describe: "a local reply 400/431 or flag DPE",
		slack:    time.Second,
		want: func(r LogRecord) bool {
			return r.Code == 400 || r.Code == 431 || strings.Contains(r.Flags, "DPE")
		},
	}}, blind
}
