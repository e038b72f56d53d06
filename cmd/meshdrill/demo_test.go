package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/lab"
	"github.com/meshdrill/meshdrill/report"
)

const (
	P  = "PASS"
	F  = "FAIL"
	BS = "BLIND_SPOT"
	NE = "NOT_ENFORCED"
)

// cells is drill → signal → the worst verdict of that signal's expectations.
type cells map[string]map[string]string

func cellsOf(rep expectations.Report) cells {
	out := cells{}
	for _, d := range rep.Drills {
		per := map[string][]expectations.Verdict{}
		for _, r := range report.Ordered(d) {
			per[r.Signal] = append(per[r.Signal], r.Verdict)
		}
		out[d.Name] = map[string]string{}
		for sig, vs := range per {
			out[d.Name][sig] = expectations.Worst(vs...).String()
		}
	}
	return out
}

// healthy is the demo's table from the issue: every signal of every drill.
func healthy() cells {
	return cells{
		"forbidden-identity": {"client": P, "metrics": P, "logs": P, "traces": P},
		"untrusted-cert":     {"client": P, "metrics": P, "logs": BS, "traces": BS},
		"plaintext":          {"client": P, "metrics": BS, "logs": P, "traces": BS},
		"latency":            {"client": P, "metrics": P, "logs": P, "traces": P},
	}
}

func with(c cells, changes map[string]map[string]string) cells {
	for d, m := range changes {
		for s, v := range m {
			c[d][s] = v
		}
	}
	return c
}

// runDemoSuite runs the built-in suite against a lab with the given faults.
func runDemoSuite(t *testing.T, breaks ...string) (*lab.Lab, expectations.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	l, err := lab.Start(ctx, lab.Options{Breaks: breaks})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	g := &globals{stdout: io.Discard, stderr: io.Discard, quiet: true}
	rep, err := demoRun(ctx, l, g, demoOptions{count: 5})
	require.NoError(t, err)
	return l, rep
}

func TestDemoHealthyLab(t *testing.T) {
	t.Parallel()
	_, rep := runDemoSuite(t)
	assert.Equal(t, healthy(), cellsOf(rep), "verdict table")
	assert.Equal(t, expectations.ExitOK, expectations.ExitCode(false, rep.Verdicts()...))
	assert.Equal(t, expectations.ExitFindings, expectations.ExitCode(true, rep.Verdicts()...), "--strict counts blind spots")
	// The metric deltas are exact where the drill's identity isolates it.
	for _, d := range rep.Drills {
		for _, r := range d.Results {
			if r.Verdict == expectations.Pass && r.Signal == "metrics" {
				assert.Equal(t, "Δ = 5", r.Got, "%s %s", d.Name, r.Name)
			}
		}
	}
}

// Each fault changes exactly the expectations that depend on the broken
// piece. Before the verdicts are checked, each test shows at the backend
// that the signal really is absent.
func TestDemoBreaks(t *testing.T) {
	tests := []struct {
		fault  string
		absent func(t *testing.T, l *lab.Lab, rep expectations.Report)
		want   map[string]map[string]string
	}{
		{
			fault: lab.FaultNoDenialMetrics,
			absent: func(t *testing.T, l *lab.Lab, _ expectations.Report) {
				v := promQuery(t, l, `istio_requests_total{response_code="403"}`)
				assert.Empty(t, v, "no 403 series may exist at the store")
				assert.NotEmpty(t, promQuery(t, l, `istio_requests_total{response_code="200"}`), "allowed requests still counted")
			},
			want: map[string]map[string]string{"forbidden-identity": {"metrics": F}},
		},
		{
			fault: lab.FaultNoAccessLog,
			absent: func(t *testing.T, l *lab.Lab, _ expectations.Report) {
				b, err := os.ReadFile(l.Workloads["payments"].AccessLogPath)
				require.NoError(t, err)
				assert.Empty(t, b, "the access log must stay empty")
			},
			want: map[string]map[string]string{"forbidden-identity": {"logs": F}, "plaintext": {"logs": F}, "latency": {"logs": F}},
		},
		{
			fault: lab.FaultUnsampledTraces,
			absent: func(t *testing.T, l *lab.Lab, rep expectations.Report) {
				for _, d := range rep.Drills {
					if d.Name != "forbidden-identity" && d.Name != "latency" {
						continue
					}
					for _, r := range d.Injection.Requests {
						assert.Equal(t, http.StatusNotFound, jaegerStatus(t, l, r.TraceID), "trace %s", r.TraceID)
					}
				}
			},
			want: map[string]map[string]string{"forbidden-identity": {"traces": F}, "latency": {"traces": F}},
		},
		{
			fault: lab.FaultNoEnforcement,
			absent: func(t *testing.T, l *lab.Lab, rep expectations.Report) {
				assert.Empty(t, promQuery(t, l, `istio_requests_total{response_code="403"}`), "nothing was denied")
				for _, d := range rep.Drills {
					if d.Name == "forbidden-identity" {
						for _, r := range d.Injection.Requests {
							assert.Equal(t, 200, r.Status)
						}
					}
				}
			},
			// Nothing was denied, so there is no denial to record: the
			// telemetry rows say NOT_ENFORCED, not FAIL.
			want: map[string]map[string]string{"forbidden-identity": {"client": NE, "metrics": NE, "logs": NE, "traces": NE}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			l, rep := runDemoSuite(t, tc.fault)
			tc.absent(t, l, rep)
			assert.Equal(t, with(healthy(), tc.want), cellsOf(rep), "verdict table")
			assert.Equal(t, expectations.ExitFindings, expectations.ExitCode(false, rep.Verdicts()...))
		})
	}
}

// The console names the missing signal and the exit code is 1.
func TestDemoCommandBreakOutput(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"demo", "--break", "no-access-log", "--quiet"}, &out, &errOut)
	assert.Equal(t, 1, code, "stderr: %s", errOut.String())
	s := out.String()
	assert.Contains(t, s, "FAIL          forbidden-identity")
	assert.Regexp(t, `FAIL +logs +access log RBAC denial\s+expected 5/5 lines by request id.*\s+got +0/5 lines, 5 missing`, s)
	assert.Regexp(t, `latency +latency +PASS +PASS +FAIL +PASS +FAIL`, s)
}

func TestDemoUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--break", "no-such-fault"},
		{"demo", "--count", "0"},
		{"demo", "--no-such-flag"},
		{"no-such-command"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			assert.Equal(t, expectations.ExitUsage, execute(context.Background(), args, &out, &errOut))
			assert.NotEmpty(t, errOut.String())
			assert.NotContains(t, errOut.String(), "starting the lab", "nothing may start on bad usage")
		})
	}
}

func promQuery(t *testing.T, l *lab.Lab, q string) []any {
	t.Helper()
	resp, err := http.Get(l.PrometheusURL + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []any `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status)
	return body.Data.Result
}

func jaegerStatus(t *testing.T, l *lab.Lab, traceID string) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/api/traces/%s", l.JaegerURL, traceID))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestDemoWritesOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonPath, junitPath := dir+"/r.json", dir+"/r.xml"
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"demo", "-q", "--count", "2", "--output", "json=" + jsonPath, "--output", "junit=" + junitPath}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	var doc struct {
		Schema string `json:"schema"`
		Drills []struct {
			Name    string `json:"name"`
			Verdict string `json:"verdict"`
		} `json:"drills"`
	}
	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, "meshdrill.report/v1", doc.Schema)
	require.Len(t, doc.Drills, 4)
	assert.Equal(t, "PASS", doc.Drills[0].Verdict)
	x, err := os.ReadFile(junitPath)
	require.NoError(t, err)
	assert.Contains(t, string(x), "<testsuite")
}

func TestBadOutputIsUsageErrorBeforeTraffic(t *testing.T) {
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"demo", "--output", "yaml=x.yaml"}, &out, &errOut)
	assert.Equal(t, expectations.ExitUsage, code)
	assert.Contains(t, errOut.String(), "--output")
	assert.NotContains(t, errOut.String(), "starting the lab")
}

// With an output on stdout, the console report moves to stderr, so the
// output can be redirected alone.
func TestStdoutOutputAlone(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"demo", "-q", "--count", "1", "--output", "markdown=-"}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	assert.True(t, strings.HasPrefix(out.String(), "## meshdrill"), "stdout holds the markdown alone: %.80q", out.String())
	assert.Contains(t, errOut.String(), "DRILL ")
}

func TestOutputProblemsBeforeTraffic(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"demo", "--output", "json=" + dir + "/a.json", "--output", "junit=" + dir + "/a.json"},
		{"demo", "--output", "json=" + dir + "/missing/r.json"},
		{"demo", "--output", "json=" + dir},
		{"demo", "--pushgateway", "not-a-url"},
		{"demo", "--otlp-traces", "ftp://x"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, expectations.ExitUsage, execute(context.Background(), args, &out, &errOut), strings.Join(args, " "))
		assert.NotContains(t, errOut.String(), "starting the lab", strings.Join(args, " "))
	}
}
