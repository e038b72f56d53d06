package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/meshdrill/meshdrill/expectations"
)

// SchemaV1 names the JSON report format written by JSON. A consumer checks it
// before reading anything else; a change that could break a consumer gets a
// new name (docs/report-json.md, report/schema/report-v1.json).
const SchemaV1 = "meshdrill.report/v1"

//go:embed schema/report-v1.json
var schemaV1 []byte

// SchemaV1JSON returns the JSON Schema (draft 2020-12) that every document
// JSON writes conforms to, for tools that validate reports they receive.
func SchemaV1JSON() []byte { return bytes.Clone(schemaV1) }

// jsonReport is the top level of a meshdrill.report/v1 document. Field order
// here is the order in the output, so keep it readable: identity, outcome,
// then the drills.
type jsonReport struct {
	Schema          string      `json:"schema"`
	Suite           string      `json:"suite"`
	RunID           string      `json:"run_id"`
	Started         *string     `json:"started"`
	Finished        *string     `json:"finished"`
	DurationSeconds float64     `json:"duration_seconds"`
	Verdict         string      `json:"verdict"`
	Summary         jsonSummary `json:"summary"`
	Drills          []jsonDrill `json:"drills"`
}

// jsonSummary counts verdicts; every verdict name is always present so a
// consumer can read .summary.drills.FAIL without a default.
type jsonSummary struct {
	Drills       map[string]int `json:"drills"`
	Expectations map[string]int `json:"expectations"`
}

type jsonDrill struct {
	Name         string            `json:"name"`
	Kind         string            `json:"kind"`
	Target       string            `json:"target"`
	Verdict      string            `json:"verdict"`
	Client       jsonExpectation   `json:"client"`
	Requests     jsonRequests      `json:"requests"`
	Expectations []jsonExpectation `json:"expectations"`
}

// jsonRequests summarises the client's ground truth: counts rather than one
// object per request, but the ids, which are what a person greps for.
type jsonRequests struct {
	Expected          string        `json:"expected_outcome"`
	Total             int           `json:"total"`
	Matched           int           `json:"matched"`
	LetThrough        int           `json:"let_through"`
	Unexpected        int           `json:"unexpected"`
	Outcomes          []jsonOutcome `json:"outcomes"`
	FirstSent         *string       `json:"first_sent"`
	LastDone          *string       `json:"last_done"`
	MaxLatencySeconds float64       `json:"max_latency_seconds"`
	RequestIDs        []string      `json:"request_ids"`
	TraceIDs          []string      `json:"trace_ids"`
}

type jsonOutcome struct {
	Outcome string `json:"outcome"`
	Match   string `json:"match"`
	Count   int    `json:"count"`
}

type jsonExpectation struct {
	Signal   string `json:"signal"`
	Name     string `json:"name"`
	Verdict  string `json:"verdict"`
	Expected string `json:"expected"`
	Got      string `json:"got"`
	Query    string `json:"query"`
	Window   string `json:"window"`
	Reason   string `json:"reason"`
	Fix      string `json:"fix"`
	Raw      string `json:"raw"`
	Polls    int    `json:"polls"`
	// ElapsedSeconds is null when nothing was awaited (blind spots, the
	// client row, expectations that never polled).
	ElapsedSeconds *float64 `json:"elapsed_seconds"`
}

// JSON writes the report as one indented meshdrill.report/v1 document (see
// docs/report-json.md): verdicts by name, times in RFC 3339 (UTC, with
// fractional seconds when present), durations in seconds.
func JSON(w io.Writer, rep expectations.Report) error {
	doc := jsonReport{
		Schema:          SchemaV1,
		Suite:           rep.Suite,
		RunID:           rep.RunID,
		Started:         optTime(rep.Started),
		Finished:        optTime(rep.Finished),
		DurationSeconds: seconds(rep.Finished.Sub(rep.Started)),
		Verdict:         expectations.Worst(rep.Verdicts()...).String(),
		Summary:         jsonSummary{Drills: verdictCounts(), Expectations: verdictCounts()},
		Drills:          make([]jsonDrill, 0, len(rep.Drills)),
	}
	for _, d := range rep.Drills {
		doc.Summary.Drills[d.Verdict.String()]++
		jd := jsonDrill{
			Name:         d.Name,
			Kind:         d.Kind,
			Target:       d.Target,
			Verdict:      d.Verdict.String(),
			Client:       toJSONExpectation(d.Client),
			Requests:     toJSONRequests(d.Injection),
			Expectations: make([]jsonExpectation, 0, len(d.Results)),
		}
		doc.Summary.Expectations[d.Client.Verdict.String()]++
		for _, r := range d.Results {
			doc.Summary.Expectations[r.Verdict.String()]++
			jd.Expectations = append(jd.Expectations, toJSONExpectation(r))
		}
		doc.Drills = append(doc.Drills, jd)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json report: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

func toJSONExpectation(r expectations.Result) jsonExpectation {
	je := jsonExpectation{
		Signal: r.Signal, Name: r.Name, Verdict: r.Verdict.String(),
		Expected: r.Expected, Got: r.Got, Query: r.Query, Window: r.Window,
		Reason: r.Reason, Fix: r.Fix, Raw: r.Raw, Polls: r.Polls,
	}
	if r.Elapsed > 0 {
		s := seconds(r.Elapsed)
		je.ElapsedSeconds = &s
	}
	return je
}

func toJSONRequests(inj expectations.Injection) jsonRequests {
	jr := jsonRequests{
		Expected:   inj.Expected,
		Total:      len(inj.Requests),
		Outcomes:   []jsonOutcome{},
		RequestIDs: []string{},
		TraceIDs:   []string{},
	}
	index := map[jsonOutcome]int{} // outcome+match (count zero) → position
	var first, last time.Time
	var maxLatency time.Duration
	for _, q := range inj.Requests {
		switch q.Match {
		case expectations.Matched:
			jr.Matched++
		case expectations.LetThrough:
			jr.LetThrough++
		default:
			jr.Unexpected++
		}
		key := jsonOutcome{Outcome: q.Outcome, Match: string(q.Match)}
		if i, ok := index[key]; ok {
			jr.Outcomes[i].Count++
		} else {
			index[key] = len(jr.Outcomes)
			key.Count = 1
			jr.Outcomes = append(jr.Outcomes, key)
		}
		if q.RequestID != "" {
			jr.RequestIDs = append(jr.RequestIDs, q.RequestID)
		}
		if q.TraceID != "" {
			jr.TraceIDs = append(jr.TraceIDs, q.TraceID)
		}
		if !q.Sent.IsZero() && (first.IsZero() || q.Sent.Before(first)) {
			first = q.Sent
		}
		if q.Done.After(last) {
			last = q.Done
		}
		maxLatency = max(maxLatency, q.Latency)
	}
	jr.FirstSent, jr.LastDone = optTime(first), optTime(last)
	jr.MaxLatencySeconds = seconds(maxLatency)
	return jr
}

// verdictCounts returns a zero count for every verdict name.
func verdictCounts() map[string]int {
	m := map[string]int{}
	for v := expectations.Pass; v <= expectations.NotEnforced; v++ {
		m[v.String()] = 0
	}
	return m
}

// rfc3339 renders t in UTC, with fractional seconds only when present.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// optTime is null for the zero time, which means "never set", not 1 Jan 0001.
func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc3339(t)
	return &s
}

// seconds renders a duration as float seconds, rounded to the microsecond so
// the output does not carry float noise like 2.5000000000000004.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Second)
}
