package selftelemetry

import (
	"fmt"
	"time"

	"github.com/meshdrill/meshdrill/expectations"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// sampleReport has a failing drill with three requests and a drill whose
// bad traffic was let through, with a blind spot.
func sampleReport() expectations.Report {
	reqs := func(drill string, n int, match expectations.ClientMatch) []expectations.SentRequest {
		out := make([]expectations.SentRequest, n)
		for i := range out {
			sent := t0.Add(time.Duration(i) * 100 * time.Millisecond)
			out[i] = expectations.SentRequest{
				RequestID: fmt.Sprintf("md-run42-%s-%d", drill, i),
				TraceID:   fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02x", 16*len(drill)+i),
				Sent:      sent, Done: sent.Add(12 * time.Millisecond), Latency: 12 * time.Millisecond,
				Outcome: `HTTP 403 "RBAC: access denied"`, Status: 403, Match: match,
			}
		}
		return out
	}
	return expectations.Report{
		Suite: "payments", RunID: "run42", Started: t0, Finished: t0.Add(14250 * time.Millisecond),
		Drills: []expectations.DrillResult{
			{
				Name: "deny-frontend", Kind: "forbidden-identity", Target: "payments", Verdict: expectations.Fail,
				Client: expectations.Result{Signal: "client", Name: "client outcome", Verdict: expectations.Pass, Expected: "3× HTTP 403", Got: "3× HTTP 403"},
				Results: []expectations.Result{
					{Signal: "metrics", Name: "istio_requests_total 403 delta", Verdict: expectations.Pass, Expected: "Δ = 3", Got: "Δ = 3",
						Query: `istio_requests_total{response_code="403"}`, Elapsed: 2500 * time.Millisecond},
					{Signal: "traces", Name: "server spans by trace id", Verdict: expectations.Fail, Expected: "3 of 3 traces", Got: "1 of 3 traces",
						Raw: "missing 2 traces", Elapsed: 10 * time.Second},
				},
				Injection: expectations.Injection{Expected: "HTTP 403", Requests: reqs("deny-frontend", 3, expectations.Matched)},
			},
			{
				Name: "leak", Kind: "forbidden-operation", Target: "payments", Verdict: expectations.NotEnforced,
				Client: expectations.Result{Signal: "client", Name: "client outcome", Verdict: expectations.NotEnforced, Expected: "2× HTTP 403", Got: "2 of 2 let through: 2× HTTP 200"},
				Results: []expectations.Result{
					{Signal: "metrics", Name: "istio_requests_total", Verdict: expectations.BlindSpot, Expected: "-", Got: "cannot be recorded",
						Reason: "not counted", Fix: "enable it"},
				},
				Injection: expectations.Injection{Expected: "HTTP 403", Requests: reqs("leak", 2, expectations.LetThrough)},
			},
		},
	}
}
