package expectations

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock advances only when someone sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// fakeMetrics answers every query from a function of the query and the time
// since the injection ended; the backend clock is the fake clock.
type fakeMetrics struct {
	clock  *fakeClock
	answer func(q string, polls int) ([]Series, error)
	mu     sync.Mutex
	polls  map[string]int
}

func (f *fakeMetrics) Query(_ context.Context, q string, _ time.Time) ([]Series, error) {
	f.mu.Lock()
	if f.polls == nil {
		f.polls = map[string]int{}
	}
	n := f.polls[q]
	f.polls[q]++
	f.mu.Unlock()
	return f.answer(q, n)
}
func (f *fakeMetrics) Now(context.Context) (time.Time, error) { return f.clock.Now(), nil }

type fakeLogs struct {
	byID map[string]LogRecord
	err  error
}

func (f fakeLogs) ByRequestID(_ context.Context, ids []string) (map[string]LogRecord, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.byID, nil
}
func (f fakeLogs) ByRemoteAddress(context.Context, []string, time.Time, time.Time) ([]LogRecord, error) {
	return nil, f.err
}
func (fakeLogs) Describe() string { return "fake logs" }
func (f fakeLogs) Grep(_ context.Context, needles []string, _, _ time.Time) (map[string][]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := map[string][]string{}
	for _, n := range needles {
		if r, ok := f.byID[n]; ok {
			out[n] = append(out[n], fmt.Sprintf("line %s %d", n, r.Code))
		}
	}
	return out, nil
}

type fakeTraces struct{ spans map[string][]Span }

func (f fakeTraces) Trace(_ context.Context, id string) ([]Span, error) {
	s, ok := f.spans[id]
	if !ok {
		return nil, ErrTraceNotFound
	}
	return s, nil
}
func (fakeTraces) Describe() string { return "fake traces" }

type fakeInjector struct {
	match  ClientMatch
	status int
	err    error
}

func (f fakeInjector) Inject(_ context.Context, d Drill, _ string) (Injection, error) {
	if f.err != nil {
		return Injection{Expected: "HTTP 403"}, f.err
	}
	inj := Injection{Expected: "HTTP 403"}
	for i := 0; i < d.Count; i++ {
		inj.Requests = append(inj.Requests, SentRequest{
			RequestID: fmt.Sprintf("req-%d", i), TraceID: fmt.Sprintf("%032x", i+1),
			Outcome: fmt.Sprintf("HTTP %d", f.status), Status: f.status, Match: f.match,
		})
	}
	return inj, nil
}

func deniedSuite(mesh Mesh) Suite {
	mesh.Dialect = "istio"
	return Suite{
		Name:    "t",
		Mesh:    mesh,
		Targets: map[string]Target{"payments": {Address: "127.0.0.1:1", Workload: "payments", Namespace: "shop"}},
		Drills: []Drill{{Name: "deny", Kind: "forbidden-identity", Target: "payments", Count: 3,
			Identity: "spiffe://cluster.local/ns/meshdrill/sa/forbidden", Deadline: 10 * time.Second}},
	}
}

func series(v float64) []Series {
	return []Series{{Labels: map[string]string{"response_code": "403"}, Value: v}}
}

func logsFor(n, code int, details string) fakeLogs {
	m := map[string]LogRecord{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("req-%d", i)] = LogRecord{RequestID: fmt.Sprintf("req-%d", i), Code: code, Details: details}
	}
	return fakeLogs{byID: m}
}

func tracesFor(n, code int) fakeTraces {
	m := map[string][]Span{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%032x", i+1)
		m[id] = []Span{{TraceID: id, Kind: "server", Attrs: map[string]string{"http.status_code": fmt.Sprint(code)}}}
	}
	return fakeTraces{spans: m}
}

func resultFor(t *testing.T, dr DrillResult, signal string) Result {
	t.Helper()
	for _, r := range dr.Results {
		if r.Signal == signal {
			return r
		}
	}
	require.Failf(t, "no result", "signal %s in %+v", signal, dr.Results)
	return Result{}
}

func TestEvaluator(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	rbac := "rbac_access_denied_matched_policy[none]"
	tests := []struct {
		name     string
		metrics  func(q string, polls int) ([]Series, error)
		logs     fakeLogs
		traces   fakeTraces
		inj      fakeInjector
		want     map[string]Verdict
		wantGot  map[string]string
		wantExp  map[string]string
		drillWas Verdict
	}{
		{
			name: "first-ever series counts from zero and appears late",
			metrics: func(q string, polls int) ([]Series, error) {
				if polls < 3 { // baseline and two polls: absent
					return nil, nil
				}
				return series(3), nil
			},
			logs: logsFor(3, 403, rbac), traces: tracesFor(3, 403),
			inj:      fakeInjector{match: Matched, status: 403},
			want:     map[string]Verdict{SignalClient: Pass, SignalMetrics: Pass, SignalLogs: Pass, SignalTraces: Pass},
			wantGot:  map[string]string{SignalMetrics: "Δ = 3"},
			drillWas: Pass,
		},
		{
			name: "existing series: delta from the baseline, not the value",
			metrics: func(q string, polls int) ([]Series, error) {
				if polls == 0 {
					return series(40), nil
				}
				return series(43), nil
			},
			logs: logsFor(3, 403, rbac), traces: tracesFor(3, 403),
			inj:      fakeInjector{match: Matched, status: 403},
			want:     map[string]Verdict{SignalMetrics: Pass},
			drillWas: Pass,
		},
		{
			name: "counter reset between baseline and poll",
			metrics: func(q string, polls int) ([]Series, error) {
				if polls == 0 {
					return series(40), nil
				}
				return series(3), nil // restarted proxy: 3 since the reset
			},
			logs: logsFor(3, 403, rbac), traces: tracesFor(3, 403),
			inj:      fakeInjector{match: Matched, status: 403},
			want:     map[string]Verdict{SignalMetrics: Pass},
			drillWas: Pass,
		},
		{
			name:    "short count is FAIL with got",
			metrics: func(q string, polls int) ([]Series, error) { return series(float64(min(polls, 1) * 2)), nil },
			logs:    logsFor(2, 403, rbac), traces: tracesFor(3, 403),
			inj:      fakeInjector{match: Matched, status: 403},
			want:     map[string]Verdict{SignalMetrics: Fail, SignalLogs: Fail, SignalTraces: Pass},
			wantGot:  map[string]string{SignalMetrics: "Δ = 2", SignalLogs: "2/3 lines, 1 missing"},
			drillWas: Fail,
		},
		{
			name:    "too many with an isolated identity is FAIL at once",
			metrics: func(q string, polls int) ([]Series, error) { return series(float64(min(polls, 1) * 4)), nil },
			logs:    logsFor(3, 403, rbac), traces: tracesFor(3, 403),
			inj:      fakeInjector{match: Matched, status: 403},
			want:     map[string]Verdict{SignalMetrics: Fail},
			wantGot:  map[string]string{SignalMetrics: "Δ = 4 (1 more than sent)"},
			drillWas: Fail,
		},
		{
			name:    "backend down is ERROR, never PASS",
			metrics: func(q string, polls int) ([]Series, error) { return nil, errors.New("connection refused") },
			logs:    logsFor(3, 403, rbac), traces: tracesFor(3, 403),
			inj:      fakeInjector{match: Matched, status: 403},
			want:     map[string]Verdict{SignalMetrics: Error},
			drillWas: Error,
		},
		{
			name:    "an application 403 is not a policy denial",
			metrics: func(q string, polls int) ([]Series, error) { return series(float64(min(polls, 1) * 3)), nil },
			logs:    logsFor(3, 403, "via_upstream"), traces: tracesFor(3, 403),
			inj:      fakeInjector{match: Matched, status: 403},
			want:     map[string]Verdict{SignalLogs: Fail},
			drillWas: Fail,
		},
		{
			name:    "let through is NOT_ENFORCED and telemetry looked at once, not failed",
			metrics: func(q string, polls int) ([]Series, error) { return nil, nil },
			logs:    logsFor(3, 200, "via_upstream"), traces: tracesFor(3, 200),
			inj:      fakeInjector{match: LetThrough, status: 200},
			want:     map[string]Verdict{SignalClient: NotEnforced, SignalMetrics: NotEnforced, SignalLogs: NotEnforced, SignalTraces: NotEnforced},
			wantGot:  map[string]string{SignalLogs: "for the 3 let-through requests: 0/3 lines, 3 not as expected (code 200)"},
			drillWas: NotEnforced,
		},
		{
			name:     "unexpected outcome is ERROR, nothing to look for",
			metrics:  func(q string, polls int) ([]Series, error) { return nil, nil },
			inj:      fakeInjector{match: Unexpected, status: 0},
			want:     map[string]Verdict{SignalClient: Error, SignalMetrics: Error, SignalLogs: Error, SignalTraces: Error},
			wantGot:  map[string]string{SignalMetrics: "no request produced the event, nothing to look for"},
			drillWas: Error,
		},
		{
			name:     "injector failure is ERROR for every expectation",
			metrics:  func(q string, polls int) ([]Series, error) { return nil, nil },
			inj:      fakeInjector{err: errors.New("dial tcp: connection refused")},
			want:     map[string]Verdict{SignalClient: Error, SignalMetrics: Error},
			drillWas: Error,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: start}
			env := Env{
				Metrics:  &fakeMetrics{clock: clock, answer: tc.metrics},
				Logs:     tc.logs,
				Traces:   tc.traces,
				Injector: tc.inj,
				Clock:    clock,
			}
			s := deniedSuite(Mesh{Tracing: true}).WithDefaults()
			require.NoError(t, s.Validate())
			rep := Run(context.Background(), s, env, "run1")
			require.Len(t, rep.Drills, 1)
			dr := rep.Drills[0]
			for sig, want := range tc.want {
				r := dr.Client
				if sig != SignalClient {
					r = resultFor(t, dr, sig)
				}
				assert.Equal(t, want, r.Verdict, "%s: got %q", sig, r.Got)
				if e, ok := tc.wantExp[sig]; ok {
					assert.True(t, strings.HasPrefix(r.Expected, e), "%s: expected %q, want prefix %q", sig, r.Expected, e)
				}
				if g, ok := tc.wantGot[sig]; ok {
					assert.True(t, strings.HasPrefix(r.Got, g), "%s: got %q, want prefix %q", sig, r.Got, g)
				}
			}
			assert.Equal(t, tc.drillWas, dr.Verdict)
			// The deadline is on the injected clock: the run never outlives it.
			assert.LessOrEqual(t, rep.Finished.Sub(rep.Started), 11*time.Second)
		})
	}
}

func TestBlindSpotsFromMeshDeclaration(t *testing.T) {
	base := Suite{
		Targets: map[string]Target{"p": {Address: "127.0.0.1:1"}},
		Drills:  []Drill{{Name: "u", Kind: "untrusted-cert", Target: "p", Count: 1}, {Name: "pt", Kind: "plaintext", Target: "p", Count: 1}},
	}
	signals := func(m Mesh) map[string][]string {
		s := base
		s.Mesh = m
		s = s.WithDefaults()
		out := map[string][]string{}
		for _, d := range s.Drills {
			checks, blind := istioKinds[d.Kind](s, d, s.Targets[d.Target])
			for _, c := range checks {
				out[d.Name] = append(out[d.Name], c.signal()+":"+c.title())
			}
			for _, b := range blind {
				out[d.Name] = append(out[d.Name], "blind "+b.sig+":"+b.name)
			}
		}
		return out
	}
	off := signals(Mesh{})
	assert.Equal(t, []string{
		"blind metrics:envoy_listener_ssl_fail_verify_error",
		"blind logs:access log",
		"blind traces:traces",
	}, off["u"])
	assert.Equal(t, []string{
		"blind metrics:istio_requests_total / istio_tcp_*",
		"blind traces:traces",
		"blind logs:listener NR line",
	}, off["pt"])
	on := signals(Mesh{ListenerSSLStats: true, ListenerFilterChainStats: true, ListenerNRLog: true})
	assert.Equal(t, []string{
		"metrics:envoy_listener_ssl_fail_verify_error",
		"blind logs:access log",
		"blind traces:traces",
	}, on["u"])
	assert.Equal(t, []string{
		"metrics:envoy_listener_no_filter_chain_match",
		"logs:listener NR line",
		"blind metrics:istio_requests_total / istio_tcp_*",
		"blind traces:traces",
	}, on["pt"])
}

func TestVerdictOrderAndExitCodes(t *testing.T) {
	assert.Equal(t, NotEnforced, Worst(Pass, Fail, NotEnforced, Error))
	assert.Equal(t, Fail, Worst(Error, Fail, BlindSpot))
	assert.Equal(t, Error, Worst(BlindSpot, Error, Pass))
	assert.Equal(t, BlindSpot, Worst(Pass, BlindSpot))
	assert.Equal(t, Pass, Worst())
	tests := []struct {
		name   string
		strict bool
		vs     []Verdict
		want   int
	}{
		{"all pass", false, []Verdict{Pass, Pass}, 0},
		{"blind spots are not findings", false, []Verdict{Pass, BlindSpot}, 0},
		{"strict blind spot", true, []Verdict{Pass, BlindSpot}, 1},
		{"error only", false, []Verdict{Pass, Error}, 3},
		{"fail beats error", false, []Verdict{Error, Fail}, 1},
		{"not enforced", false, []Verdict{NotEnforced}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, ExitCode(tc.strict, tc.vs...)) })
	}
}

func TestBucketBelow(t *testing.T) {
	le, ok := bucketBelow(300 * time.Millisecond)
	require.True(t, ok)
	assert.Equal(t, 250.0, le)
	le, _ = bucketBelow(time.Second)
	assert.Equal(t, 1000.0, le)
	_, ok = bucketBelow(100 * time.Microsecond)
	assert.False(t, ok)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := Suite{
		Targets: map[string]Target{"p": {}},
		Drills: []Drill{
			{Name: "a", Kind: "nope", Target: "p", Count: 1},
			{Name: "a", Kind: "latency", Target: "q", Count: 1},
		},
	}.WithDefaults()
	err := s.Validate()
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`drills[0].kind: unknown drill kind "nope"`,
		`drills[1].name: duplicate drill name "a"`,
		`drills[1].target: "q" is not a listed target`,
		`drills[1].delay: a latency drill needs a delay > 0`,
	} {
		assert.Contains(t, msg, want)
	}
}

func mustRE(t *testing.T, s string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(s)
	require.NoError(t, err)
	return re
}

// Stopping a run early (Ctrl-C) never turns missing evidence into a FAIL:
// nobody waited until the deadline.
func TestInterruptedIsErrorNotFail(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := Env{
		Metrics: &fakeMetrics{clock: clock, answer: func(q string, polls int) ([]Series, error) {
			if polls == 2 {
				cancel()
			}
			return nil, nil
		}},
		Logs:     logsFor(3, 403, "rbac_access_denied_matched_policy[none]"),
		Traces:   tracesFor(3, 403),
		Injector: fakeInjector{match: Matched, status: 403},
		Clock:    clock,
	}
	s := deniedSuite(Mesh{Tracing: true}).WithDefaults()
	rep := Run(ctx, s, env, "r")
	r := resultFor(t, rep.Drills[0], SignalMetrics)
	assert.Equal(t, Error, r.Verdict, r.Got)
	assert.Contains(t, r.Got, "interrupted before the deadline")
	assert.Equal(t, Pass, resultFor(t, rep.Drills[0], SignalLogs).Verdict, "evidence found before the stop still counts")
}
