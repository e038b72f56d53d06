package report

import (
	"fmt"
	"time"

	"github.com/meshdrill/meshdrill/expectations"
)

// t0 is the fixed start of the sample run; golden files depend on it.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// requests makes n ground-truth requests, the first bad of them with
// outcome badOutcome and match badMatch.
func requests(drill string, n int, outcome string, status int, bad int, badOutcome string, badStatus int, badMatch expectations.ClientMatch) []expectations.SentRequest {
	out := make([]expectations.SentRequest, n)
	for i := range out {
		sent := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		r := expectations.SentRequest{
			RequestID:  fmt.Sprintf("md-run42-%s-%d", drill, i),
			TraceID:    fmt.Sprintf("%030x%02x", len(drill), i),
			SourceAddr: fmt.Sprintf("127.0.0.1:%d", 40000+i),
			Sent:       sent,
			Done:       sent.Add(12 * time.Millisecond),
			Latency:    12 * time.Millisecond,
			Outcome:    outcome,
			Status:     status,
			Match:      expectations.Matched,
		}
		if i < bad {
			r.Outcome, r.Status, r.Match = badOutcome, badStatus, badMatch
		}
		out[i] = r
	}
	return out
}

// sampleReport covers every verdict, on the client row and on expectations,
// with text that needs escaping in every format (pipes, angle brackets,
// ampersands, quotes, backticks, newlines).
func sampleReport() expectations.Report {
	denied := `HTTP 403 "RBAC: access denied"`
	return expectations.Report{
		Suite:    "payments-after-deploy",
		RunID:    "run42",
		Started:  t0,
		Finished: t0.Add(14*time.Second + 250*time.Millisecond),
		Drills: []expectations.DrillResult{
			{
				Name: "deny-frontend", Kind: "forbidden-identity", Target: "payments", Verdict: expectations.Fail,
				Client: expectations.Result{Signal: expectations.SignalClient, Name: "client outcome", Verdict: expectations.Pass,
					Expected: `3× HTTP 403 "RBAC: access denied"`, Got: `3× HTTP 403 "RBAC: access denied"`},
				Results: []expectations.Result{
					{Signal: expectations.SignalMetrics, Name: "istio_requests_total 403 delta", Verdict: expectations.Pass,
						Expected: "Δ = 3", Got: "Δ = 3",
						Query:  `istio_requests_total{reporter="destination",response_code="403",source_principal="spiffe://cluster.local/ns/md/sa/frontend"}`,
						Window: "09:26:53–09:26:56", Polls: 3, Elapsed: 2500 * time.Millisecond},
					{Signal: expectations.SignalLogs, Name: "access log lines by request id", Verdict: expectations.Pass,
						Expected: "3 of 3 lines", Got: "3 of 3 lines", Query: "x-request-id ∈ injected ids", Polls: 2, Elapsed: 1200 * time.Millisecond},
					{Signal: expectations.SignalTraces, Name: "server spans by trace id", Verdict: expectations.Fail,
						Expected: "3 of 3 traces", Got: "1 of 3 traces by the deadline (10s)", Query: "trace id ∈ injected traceparents",
						Raw:   "trace 0000000000000000000000000000000d00 span a1b2 \"inbound|8080||\" kind=server duration=3ms attrs=map[http.status_code:403] error=false\nmissing: 0000000000000000000000000000000d01 | 0000000000000000000000000000000d02 <no span> & `nothing`",
						Polls: 12, Elapsed: 10 * time.Second},
				},
				Injection: expectations.Injection{Expected: denied, Requests: requests("deny-frontend", 3, denied, 403, 0, "", 0, "")},
			},
			{
				Name: "allowed-by-mistake", Kind: "forbidden-operation", Target: "payments", Verdict: expectations.NotEnforced,
				Client: expectations.Result{Signal: expectations.SignalClient, Name: "client outcome", Verdict: expectations.NotEnforced,
					Expected: "2× " + denied, Got: `1 of 2 let through: 1× HTTP 200, 1× HTTP 403 "RBAC: access denied"`},
				Results: []expectations.Result{
					{Signal: expectations.SignalMetrics, Name: "istio_requests_total 403 delta", Verdict: expectations.Pass,
						Expected: "Δ = 1", Got: "Δ = 1", Query: `istio_requests_total{response_code="403"}`, Polls: 1, Elapsed: 900 * time.Millisecond},
				},
				Injection: expectations.Injection{Expected: denied, Requests: requests("allowed-by-mistake", 2, denied, 403, 1, "HTTP 200", 200, expectations.LetThrough)},
			},
			{
				Name: "plaintext-to-strict", Kind: "plaintext", Target: "payments", Verdict: expectations.BlindSpot,
				Client: expectations.Result{Signal: expectations.SignalClient, Name: "client outcome", Verdict: expectations.Pass,
					Expected: "2× connection closed, no HTTP response", Got: "2× connection closed, no HTTP response"},
				Results: []expectations.Result{
					{Signal: expectations.SignalMetrics, Name: "istio_requests_total", Verdict: expectations.BlindSpot, Expected: "-", Got: "cannot be recorded",
						Reason: "Istio never counts plaintext-to-STRICT in istio_requests_total: the connection is closed before the HTTP filters",
						Fix:    `watch envoy_listener_no_filter_chain_match instead (proxyStatsMatcher: inclusionRegexps: ["listener.*no_filter_chain_match"])`},
					{Signal: expectations.SignalLogs, Name: "listener NR line", Verdict: expectations.Pass,
						Expected: "2 lines from the client address", Got: "2 lines", Query: `"- - -" 0 NR filter_chain_not_found`, Polls: 2, Elapsed: 1500 * time.Millisecond},
					{Signal: expectations.SignalTraces, Name: "server span", Verdict: expectations.BlindSpot, Expected: "-", Got: "cannot be recorded",
						Reason: "no HTTP request reaches the sidecar, so no span exists", Fix: "none: use the listener log or metrics"},
				},
				Injection: expectations.Injection{Expected: "connection closed, no HTTP response",
					Requests: requests("plaintext-to-strict", 2, "connection closed, no HTTP response", 0, 0, "", 0, "")},
			},
			{
				Name: "slow-checkout", Kind: "latency", Target: "checkout", Verdict: expectations.Error,
				Client: expectations.Result{Signal: expectations.SignalClient, Name: "client outcome", Verdict: expectations.Pass,
					Expected: "2× HTTP 200 after ≥ 500ms", Got: "2× HTTP 200 after ≥ 500ms"},
				Results: []expectations.Result{
					{Signal: expectations.SignalMetrics, Name: "istio_request_duration_milliseconds above 500ms", Verdict: expectations.Error,
						Expected: "2 requests above 500ms", Got: `could not tell: query "histogram_quantile(0.99, …)": backend unavailable: dial tcp 127.0.0.1:9: connection refused`,
						Query: `istio_request_duration_milliseconds_bucket{reporter="destination",le="500"}`, Polls: 8, Elapsed: 10 * time.Second},
				},
				Injection: expectations.Injection{Expected: "HTTP 200 after ≥ 500ms", Requests: requests("slow-checkout", 2, "HTTP 200", 200, 0, "", 0, "")},
			},
			{
				Name: "control", Kind: "control", Target: "payments", Verdict: expectations.Pass,
				Client: expectations.Result{Signal: expectations.SignalClient, Name: "client outcome", Verdict: expectations.Pass,
					Expected: "1× HTTP 200", Got: "1× HTTP 200"},
				Results: []expectations.Result{
					{Signal: expectations.SignalMetrics, Name: "istio_requests_total 200 mTLS delta", Verdict: expectations.Pass,
						Expected: "Δ = 1", Got: "Δ = 1", Query: `istio_requests_total{response_code="200",connection_security_policy="mutual_tls"}`, Polls: 1, Elapsed: 1100 * time.Millisecond},
				},
				Injection: expectations.Injection{Expected: "HTTP 200", Requests: requests("control", 1, "HTTP 200", 200, 0, "", 0, "")},
			},
			{
				Name: "untrusted-no-traffic", Kind: "untrusted-cert", Target: "ledger", Verdict: expectations.Error,
				Client: expectations.Result{Signal: expectations.SignalClient, Name: "client outcome", Verdict: expectations.Error,
					Expected: "TLS alert", Got: "dial tcp 127.0.0.1:9: connect: connection refused"},
				Results: []expectations.Result{
					{Signal: expectations.SignalMetrics, Name: "envoy_listener_ssl_fail_verify_error delta", Verdict: expectations.Error,
						Query: "envoy_listener_ssl_fail_verify_error", Got: "no traffic was sent: dial tcp 127.0.0.1:9: connect: connection refused"},
				},
				Injection: expectations.Injection{Expected: "TLS alert"},
			},
		},
	}
}
