package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/expectations"
)

// JUnit layout: one <testsuite> per drill, so CI test views group a drill's
// evidence together and a drill's suite-level counts read as its verdict.
// Each expectation, the client row included, is one <testcase> with
// classname = drill and name = "<signal> <expectation>". Verdicts map as:
//
//	PASS          passed testcase
//	FAIL          <failure type="FAIL">        (evidence missing or short)
//	NOT_ENFORCED  <failure type="NOT_ENFORCED"> (the bad traffic was let through)
//	ERROR         <error type="ERROR">         (could not tell)
//	BLIND_SPOT    <skipped message="reason; fix">
//
// This keeps promtool's distinction: <error> means the check could not run,
// <failure> that it ran and did not hold.

type junitSuites struct {
	XMLName   xml.Name     `xml:"testsuites"`
	Name      string       `xml:"name,attr"`
	Tests     int          `xml:"tests,attr"`
	Failures  int          `xml:"failures,attr"`
	Errors    int          `xml:"errors,attr"`
	Skipped   int          `xml:"skipped,attr"`
	Time      string       `xml:"time,attr"`
	Timestamp string       `xml:"timestamp,attr,omitempty"`
	Suites    []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitOutcome `xml:"failure,omitempty"`
	Error     *junitOutcome `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitOutcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnit writes the report as JUnit XML: one <testsuite> per drill and one
// <testcase> per expectation (the client outcome included). FAIL and
// NOT_ENFORCED are failures whose type and message say which, ERROR is an
// error, BLIND_SPOT is skipped with "reason; fix" as its message.
func JUnit(w io.Writer, rep expectations.Report) error {
	doc := junitSuites{
		Name:      "meshdrill " + rep.Suite,
		Time:      junitSeconds(rep.Finished.Sub(rep.Started)),
		Timestamp: junitTime(rep.Started),
		Suites:    make([]junitSuite, 0, len(rep.Drills)),
	}
	for _, d := range rep.Drills {
		s := junitSuite{
			Name:      d.Name,
			Time:      junitSeconds(drillDuration(d)),
			Timestamp: junitTime(firstSent(d.Injection)),
			Properties: []junitProperty{
				{Name: "meshdrill.run_id", Value: rep.RunID},
				{Name: "meshdrill.suite", Value: rep.Suite},
				{Name: "meshdrill.kind", Value: d.Kind},
				{Name: "meshdrill.target", Value: d.Target},
				{Name: "meshdrill.verdict", Value: d.Verdict.String()},
			},
		}
		for _, r := range Ordered(d) {
			c := junitCase{Classname: d.Name, Name: r.Signal + " " + r.Name, Time: junitSeconds(r.Elapsed)}
			switch r.Verdict {
			case expectations.Pass:
			case expectations.Fail:
				s.Failures++
				c.Failure = &junitOutcome{Type: r.Verdict.String(), Message: fmt.Sprintf("FAIL: evidence missing or short: expected %s, got %s", r.Expected, r.Got), Text: junitDetails(r)}
			case expectations.NotEnforced:
				s.Failures++
				c.Failure = &junitOutcome{Type: r.Verdict.String(), Message: fmt.Sprintf("NOT_ENFORCED: the bad traffic was not blocked: expected %s, got %s", r.Expected, r.Got), Text: junitDetails(r)}
			case expectations.BlindSpot:
				s.Skipped++
				c.Skipped = &junitSkipped{Message: blindMessage(r)}
			default: // ERROR, and anything unknown: never a pass
				s.Errors++
				msg := r.Got
				if !strings.HasPrefix(msg, "could not tell") {
					msg = "could not tell: " + msg
				}
				c.Error = &junitOutcome{Type: r.Verdict.String(), Message: "ERROR: " + msg, Text: junitDetails(r)}
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	return nil
}

// junitDetails is the body of a failure or error: the evidence, as the
// console shows it. It goes out as CDATA so it stays readable; CDATA is not
// escaped, so characters XML forbids are replaced here.
func junitDetails(r expectations.Result) string {
	return strings.Map(xmlChar, junitEvidence(r))
}

// xmlChar keeps the characters XML 1.0 allows and replaces the rest.
func xmlChar(r rune) rune {
	switch {
	case r == '\t' || r == '\n' || r == '\r',
		r >= 0x20 && r <= 0xD7FF,
		r >= 0xE000 && r <= 0xFFFD,
		r >= 0x10000 && r <= 0x10FFFF:
		return r
	}
	return '\uFFFD'
}

func junitEvidence(r expectations.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict:  %s\n", r.Verdict)
	fmt.Fprintf(&b, "expected: %s\n", r.Expected)
	fmt.Fprintf(&b, "got:      %s\n", r.Got)
	if r.Query != "" {
		fmt.Fprintf(&b, "query:    %s\n", r.Query)
	}
	if r.Window != "" {
		fmt.Fprintf(&b, "window:   %s\n", r.Window)
	}
	if r.Raw != "" {
		fmt.Fprintf(&b, "raw:\n%s\n", r.Raw)
	}
	return b.String()
}

// blindMessage is "reason; fix", leaving out whichever is missing.
func blindMessage(r expectations.Result) string {
	switch {
	case r.Reason != "" && r.Fix != "":
		return r.Reason + "; " + r.Fix
	case r.Reason != "":
		return r.Reason
	}
	return r.Fix
}

func junitSeconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("%.3f", d.Seconds())
}

func junitTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// firstSent is when the drill's first request left the client.
func firstSent(inj expectations.Injection) time.Time {
	var first time.Time
	for _, q := range inj.Requests {
		if !q.Sent.IsZero() && (first.IsZero() || q.Sent.Before(first)) {
			first = q.Sent
		}
	}
	return first
}

// drillDuration approximates a drill's wall time: from its first request to
// its last response, plus the longest wait for evidence (Elapsed counts from
// the end of the injection). The evaluator does not record drill times.
func drillDuration(d expectations.DrillResult) time.Duration {
	first := firstSent(d.Injection)
	var last time.Time
	for _, q := range d.Injection.Requests {
		if q.Done.After(last) {
			last = q.Done
		}
	}
	var wait time.Duration
	for _, r := range d.Results {
		wait = max(wait, r.Elapsed)
	}
	if first.IsZero() || last.IsZero() {
		return wait
	}
	return last.Sub(first) + wait
}
