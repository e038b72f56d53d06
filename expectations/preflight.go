package expectations

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Preflight asks every backend the suite's expectations will read whether
// it answers, before any traffic is sent: sending known-bad traffic that no
// one can verify is noise at best. It returns one error per backend that
// does not answer.
func Preflight(ctx context.Context, s Suite, env Env) []error {
	need := map[string]bool{}
	var errs []error
	var queries []string // every metric query, asked once before traffic
	for _, d := range s.WithDefaults().Drills {
		checks, _ := planDrill(s, d)
		for _, c := range checks {
			switch c := c.(type) {
			case *alertCheck:
				need["alerts:"+c.a.Source] = true
			case *metricDelta:
				need[c.signal()] = true
				queries = append(queries, c.selector)
				if c.valueMode {
					if err := checkRangeWindows(c.selector, env.ScrapeInterval); err != nil {
						errs = append(errs, fmt.Errorf("%s: %s: %w", s.At("drills"), d.Name, err))
					}
				}
			default:
				need[c.signal()] = true
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	fail := func(what string, err error) { errs = append(errs, fmt.Errorf("%s: %w", what, err)) }
	if need[SignalMetrics] {
		if env.Metrics == nil {
			fail("metrics", errors.New("no metrics backend configured"))
		} else if now, err := env.Metrics.Now(ctx); err != nil {
			fail("metrics backend", err)
		} else {
			// A backend that tells the time may still refuse the queries.
			seen := map[string]bool{}
			for _, q := range queries {
				if seen[q] {
					continue
				}
				seen[q] = true
				if _, err := env.Metrics.Query(ctx, q, now); err != nil {
					fail("metrics query "+q, err)
					break
				}
			}
		}
	}
	if need[SignalLogs] {
		if env.Logs == nil {
			fail("logs", errors.New("no log backend configured"))
		} else if _, err := env.Logs.Grep(ctx, []string{"meshdrill-preflight"}, time.Now().Add(-time.Minute), time.Now()); err != nil {
			fail("log backend "+env.Logs.Describe(), err)
		}
	}
	if need[SignalTraces] {
		if env.Traces == nil {
			fail("traces", errors.New("no trace backend configured"))
		} else if _, err := env.Traces.Trace(ctx, "00000000000000000000000000000001"); err != nil && !errors.Is(err, ErrTraceNotFound) {
			fail("trace backend "+env.Traces.Describe(), err)
		}
	}
	for _, src := range []string{"alertmanager", "prometheus"} {
		if !need["alerts:"+src] {
			continue
		}
		if a := env.Alerts[src]; a == nil {
			fail("alerts", fmt.Errorf("no %s backend configured", src))
		} else if _, err := a.Alerts(ctx); err != nil {
			fail(a.Describe(), err)
		}
	}
	return errs
}

// NotRun is the report of a suite that was stopped before any traffic: every
// drill ERROR with the reason, so reports and CI still show what happened.
func NotRun(s Suite, runID, reason string) Report {
	now := time.Now()
	rep := Report{Suite: s.Name, RunID: runID, Started: now, Finished: now}
	for _, d := range s.WithDefaults().Drills {
		rep.Drills = append(rep.Drills, DrillResult{
			Name: d.Name, Kind: d.Kind, Target: d.Target, Verdict: Error,
			Client: Result{Signal: SignalClient, Name: "client outcome", Verdict: Error, Expected: "-", Got: reason},
		})
	}
	return rep
}
