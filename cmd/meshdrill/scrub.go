package main

import (
	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/redact"
)

// scrubReport masks secrets in every text of a report: a backend may echo a
// token back in an error body, and reports go to files and other systems.
func scrubReport(rep expectations.Report, s *redact.Set) expectations.Report {
	res := func(r expectations.Result) expectations.Result {
		r.Expected, r.Got, r.Query, r.Window = s.String(r.Expected), s.String(r.Got), s.String(r.Query), s.String(r.Window)
		r.Raw, r.Note, r.Reason, r.Fix = s.String(r.Raw), s.String(r.Note), s.String(r.Reason), s.String(r.Fix)
		return r
	}
	drills := make([]expectations.DrillResult, len(rep.Drills))
	for i, d := range rep.Drills {
		d.Client = res(d.Client)
		rs := make([]expectations.Result, len(d.Results))
		for j, r := range d.Results {
			rs[j] = res(r)
		}
		d.Results = rs
		reqs := make([]expectations.SentRequest, len(d.Injection.Requests))
		for j, q := range d.Injection.Requests {
			q.Outcome = s.String(q.Outcome)
			reqs[j] = q
		}
		d.Injection.Requests = reqs
		drills[i] = d
	}
	rep.Drills = drills
	return rep
}
