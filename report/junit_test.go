package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	junit "github.com/joshdk/go-junit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
)

// attrCounts is what a CI system reads from the suite attributes, without
// looking at the testcases.
type attrCounts struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
}

func TestJUnitReadBack(t *testing.T) {
	rep := sampleReport()
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, rep))

	suites, err := junit.Ingest(buf.Bytes())
	require.NoError(t, err)
	require.Len(t, suites, len(rep.Drills), "one testsuite per drill")

	var root struct {
		attrCounts
		Suites []attrCounts `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &root))
	require.Len(t, root.Suites, len(rep.Drills))

	wantStatus := map[expectations.Verdict]junit.Status{
		expectations.Pass:        junit.StatusPassed,
		expectations.Fail:        junit.StatusFailed,
		expectations.NotEnforced: junit.StatusFailed,
		expectations.Error:       junit.StatusError,
		expectations.BlindSpot:   junit.StatusSkipped,
	}
	var total attrCounts
	for i, d := range rep.Drills {
		s := suites[i]
		assert.Equal(t, d.Name, s.Name)
		results := Ordered(d)
		require.Len(t, s.Tests, len(results))
		var want attrCounts
		for j, r := range results {
			tc := s.Tests[j]
			assert.Equal(t, d.Name, tc.Classname)
			assert.Equal(t, r.Signal+" "+r.Name, tc.Name)
			assert.Equal(t, wantStatus[r.Verdict], tc.Status, "%s / %s (%s)", d.Name, tc.Name, r.Verdict)
			switch r.Verdict {
			case expectations.Fail, expectations.NotEnforced:
				want.Failures++
				require.NotNil(t, tc.Error)
				assert.True(t, strings.HasPrefix(tc.Message, r.Verdict.String()+": "), "message %q says which verdict", tc.Message)
				assert.Equal(t, r.Verdict.String(), tc.Error.(junit.Error).Type)
				if r.Raw != "" {
					assert.Contains(t, tc.Error.(junit.Error).Body, r.Raw, "the raw answer survives XML")
				}
			case expectations.Error:
				want.Errors++
				assert.True(t, strings.HasPrefix(tc.Message, "ERROR: "), tc.Message)
			case expectations.BlindSpot:
				want.Skipped++
				assert.Equal(t, r.Reason+"; "+r.Fix, tc.Message)
			}
		}
		want.Tests, want.Name = len(results), d.Name
		// The attributes agree with the testcases, as read by go-junit.
		assert.Equal(t, want, root.Suites[i])
		assert.Equal(t, s.Totals.Tests, root.Suites[i].Tests)
		assert.Equal(t, s.Totals.Failed, root.Suites[i].Failures)
		assert.Equal(t, s.Totals.Error, root.Suites[i].Errors)
		assert.Equal(t, s.Totals.Skipped, root.Suites[i].Skipped)
		total.Tests += want.Tests
		total.Failures += want.Failures
		total.Errors += want.Errors
		total.Skipped += want.Skipped
	}
	total.Name = "meshdrill " + rep.Suite
	assert.Equal(t, total, root.attrCounts)
	assert.Equal(t, attrCounts{Name: "meshdrill payments-after-deploy", Tests: 16, Failures: 2, Errors: 3, Skipped: 2}, root.attrCounts)
}

func TestJUnitSanitisesBody(t *testing.T) {
	rep := expectations.Report{Suite: "s", Drills: []expectations.DrillResult{{
		Name: "d", Verdict: expectations.Fail,
		Results: []expectations.Result{{Signal: "logs", Name: "n", Verdict: expectations.Fail,
			Raw: "bell\x07 and ]]> end of cdata, invalid \xff byte"}},
	}}}
	var buf bytes.Buffer
	require.NoError(t, JUnit(&buf, rep))
	suites, err := junit.Ingest(buf.Bytes())
	require.NoError(t, err, buf.String())
	body := suites[0].Tests[1].Error.(junit.Error).Body
	assert.Contains(t, body, "bell\uFFFD and ]]> end of cdata, invalid \uFFFD byte")
}
