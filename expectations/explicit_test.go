package expectations

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadGeneric(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "good", "generic.yaml"), LoadOptions{Vars: noVars})
	require.NoError(t, err)
	require.Len(t, s.Drills, 2)
	deny := s.Drills[0]
	assert.Equal(t, "http 403", deny.ExpectClient)
	require.Len(t, deny.Expect, 5)
	assert.Equal(t, Want{Op: ">=", Count: true}, deny.Expect[0].Metric.Want)
	assert.Equal(t, "denial logged", deny.Expect[1].Name)
	assert.Equal(t, "request_id", deny.Expect[1].Logs.By)
	assert.Equal(t, map[string]string{"http.status_code": "403"}, deny.Expect[2].Trace.Attributes)
	assert.Equal(t, "alertmanager", deny.Expect[3].Alert.Source)
	assert.Equal(t, 60*time.Second, deny.Expect[3].Alert.Within)
	assert.Equal(t, "traces", deny.Expect[4].BlindSpot.Signal)
	un := s.Drills[1]
	assert.Equal(t, "value", un.Expect[1].Metric.Mode)
	assert.Equal(t, 5*time.Second, un.Expect[2].Absent.Within)

	plans := PlanSuite(s)
	var sigs []string
	for _, c := range plans[0].Checks {
		sigs = append(sigs, c.Signal)
	}
	assert.Equal(t, []string{"metrics", "logs", "traces", "alerts", "traces"}, sigs)
	assert.True(t, plans[0].Checks[4].Blind)
}

func TestParseWant(t *testing.T) {
	for in, want := range map[string]Want{
		"count":    {Op: "==", Count: true},
		">= count": {Op: ">=", Count: true},
		"3":        {Op: "==", Value: 3},
		"< 2.5":    {Op: "<", Value: 2.5},
		"= 0":      {Op: "==", Value: 0},
	} {
		got, err := ParseWant(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "about 5", ">= -1", "== counts"} {
		_, err := ParseWant(bad)
		assert.Error(t, err, bad)
	}
}

type fakeAlerts struct {
	seq     []([]Alert) // answer per poll; the last repeats
	n       int
	err     error
	errFrom int // polls from this one on fail (0 = never)
}

func (f *fakeAlerts) Alerts(context.Context) ([]Alert, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.errFrom > 0 && f.n >= f.errFrom {
		f.n++
		return nil, errors.New("503 service unavailable")
	}
	a := f.seq[min(f.n, len(f.seq)-1)]
	f.n++
	return a, nil
}
func (*fakeAlerts) Describe() string { return "fake alertmanager" }

func genericSuite(expects ...Expect) Suite {
	return Suite{
		Mesh:    Mesh{Dialect: "generic"},
		Targets: map[string]Target{"edge": {Address: "127.0.0.1:1"}},
		Drills:  []Drill{{Name: "d", Kind: "forbidden-identity", Target: "edge", Count: 3, Deadline: 10 * time.Second, Expect: expects}},
	}.WithDefaults()
}

func TestExplicitChecks(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	firing := []Alert{{Name: "EdgeDenials", Labels: map[string]string{"severity": "page"}, State: "firing"}}
	pending := []Alert{{Name: "EdgeDenials", Labels: map[string]string{"severity": "page"}, State: "pending"}}
	tests := []struct {
		name    string
		expect  Expect
		metrics func(q string, polls int) ([]Series, error)
		alerts  *fakeAlerts
		logs    fakeLogs
		want    Verdict
		gotHas  string
	}{
		{
			name:   "alert fires",
			expect: Expect{Alert: &AlertExpect{Name: "EdgeDenials", Labels: map[string]string{"severity": "page"}, Source: "alertmanager"}},
			alerts: &fakeAlerts{seq: [][]Alert{nil, pending, firing}},
			want:   Pass, gotHas: "firing",
		},
		{
			name:   "alert with other labels does not count",
			expect: Expect{Alert: &AlertExpect{Name: "EdgeDenials", Labels: map[string]string{"severity": "ticket"}, Source: "alertmanager"}},
			alerts: &fakeAlerts{seq: [][]Alert{firing}},
			want:   Fail, gotHas: "never pending or firing",
		},
		{
			name:   "pending then reset is told apart from never pending",
			expect: Expect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}},
			alerts: &fakeAlerts{seq: [][]Alert{pending, pending, nil}},
			want:   Fail, gotHas: "it was pending, then reset",
		},
		{
			name:   "alert backend down is ERROR",
			expect: Expect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}},
			alerts: &fakeAlerts{err: errors.New("connection refused")},
			want:   Error, gotHas: "could not tell",
		},
		{
			name:   "absent alert that fires is FAIL",
			expect: Expect{Absent: &AbsentExpect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}, Within: 5 * time.Second}},
			alerts: &fakeAlerts{seq: [][]Alert{nil, firing}},
			want:   Fail, gotHas: "firing",
		},
		{
			name:   "absent alert that stays quiet for the window is PASS",
			expect: Expect{Absent: &AbsentExpect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}, Within: 5 * time.Second}},
			alerts: &fakeAlerts{seq: [][]Alert{nil}},
			want:   Pass,
		},
		{
			name:   "an absence whose backend stopped answering is ERROR, not PASS",
			expect: Expect{Absent: &AbsentExpect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}, Within: 6 * time.Second}},
			alerts: &fakeAlerts{seq: [][]Alert{nil}, errFrom: 1},
			want:   Error, gotHas: "polls failed",
		},
		{
			name:   "a silenced alert fired, and nobody was told",
			expect: Expect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}},
			alerts: &fakeAlerts{seq: [][]Alert{{{Name: "EdgeDenials", State: "suppressed"}}}},
			want:   Fail, gotHas: "suppressed",
		},
		{
			name:   "a silenced alert breaks an absence",
			expect: Expect{Absent: &AbsentExpect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}}},
			alerts: &fakeAlerts{seq: [][]Alert{{{Name: "EdgeDenials", State: "suppressed"}}}},
			want:   Fail, gotHas: "suppressed",
		},
		{
			name:    "NaN counters are ERROR, not a finding",
			expect:  Expect{Metric: &MetricExpect{Query: "x_total", Want: Want{Op: ">=", Count: true}}},
			metrics: func(q string, polls int) ([]Series, error) { return series(math.NaN()), nil },
			want:    Error, gotHas: "not numbers",
		},
		{
			name:    "absent metric that moves is FAIL",
			expect:  Expect{Absent: &AbsentExpect{Metric: &MetricExpect{Query: "denied_total", Want: Want{Op: "==", Value: 0}}}},
			metrics: func(q string, polls int) ([]Series, error) { return series(float64(min(polls, 1))), nil },
			want:    Fail, gotHas: "Δ = 1",
		},
		{
			name:    "value mode within tolerance",
			expect:  Expect{Metric: &MetricExpect{Query: "sum(increase(x[1m]))", Mode: "value", Want: Want{Op: "==", Count: true}, Tolerance: 0.5}},
			metrics: func(q string, polls int) ([]Series, error) { return series(3.4), nil },
			want:    Pass, gotHas: "value 3.4",
		},
		{
			name:    "value mode empty result is data, not a pass",
			expect:  Expect{Metric: &MetricExpect{Query: "sum(increase(x[1m]))", Mode: "value", Want: Want{Op: ">=", Value: 0}}},
			metrics: func(q string, polls int) ([]Series, error) { return nil, nil },
			want:    Fail, gotHas: "no series",
		},
		{
			name:   "raw log lines by request id",
			expect: Expect{Logs: &LogExpect{By: "request_id", Want: Want{Op: "==", Count: true}}},
			logs:   logsFor(3, 403, ""),
			want:   Pass, gotHas: "3/3 requests",
		},
		{
			name:   "raw log lines that do not match the regex",
			expect: Expect{Logs: &LogExpect{By: "request_id", LineRegex: mustRE(t, ` 401$`), Want: Want{Op: "==", Count: true}}},
			logs:   logsFor(3, 403, ""),
			want:   Fail, gotHas: "0/3 requests, 3 with lines that do not match",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: start}
			s := genericSuite(tc.expect)
			metrics := tc.metrics
			if metrics == nil {
				metrics = func(string, int) ([]Series, error) { return nil, nil }
			}
			env := Env{
				Metrics:  &fakeMetrics{clock: clock, answer: metrics},
				Logs:     tc.logs,
				Injector: fakeInjector{match: Matched, status: 403},
				Clock:    clock,
			}
			if tc.alerts != nil {
				env.Alerts = map[string]AlertSource{"alertmanager": tc.alerts}
			}
			rep := Run(context.Background(), s, env, "r")
			require.Len(t, rep.Drills[0].Results, 1)
			r := rep.Drills[0].Results[0]
			assert.Equal(t, tc.want, r.Verdict, "got %q", r.Got)
			assert.Contains(t, r.Got, tc.gotHas)
		})
	}
}

func TestWindowsFollowTheScrapeInterval(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	run := func(e Expect, scrape time.Duration) Result {
		clock := &fakeClock{now: start}
		s := genericSuite(e)
		s.Drills[0].Deadline = 5 * time.Second
		env := Env{
			Metrics:        &fakeMetrics{clock: clock, answer: func(string, int) ([]Series, error) { return nil, nil }},
			Injector:       fakeInjector{match: Matched, status: 403},
			Clock:          clock,
			ScrapeInterval: scrape,
		}
		return Run(context.Background(), s, env, "r").Drills[0].Results[0]
	}
	r := run(Expect{Metric: &MetricExpect{Query: "denied_total", Want: Want{Op: ">=", Count: true}}}, 30*time.Second)
	assert.Equal(t, Fail, r.Verdict)
	assert.Contains(t, r.Note, "window widened from 5s to 1m1s")
	assert.Contains(t, r.Got, "by the deadline (1m1s)")

	r = run(Expect{Metric: &MetricExpect{Query: "sum(rate(x_total[1m]))", Mode: "value", Want: Want{Op: ">", Value: 0}}}, 30*time.Second)
	assert.Equal(t, Error, r.Verdict)
	assert.Contains(t, r.Got, "the range [1m] is shorter than four scrape intervals (30s each) and can be empty; use [2m] or more")

	r = run(Expect{Metric: &MetricExpect{Query: "denied_total", Want: Want{Op: ">=", Count: true}}}, time.Second)
	assert.Empty(t, r.Note, "a 5s window is enough for a 1s scrape")
}

func TestPreflight(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	down := &fakeMetrics{clock: clock, answer: func(string, int) ([]Series, error) { return nil, nil }}
	s := deniedSuite(Mesh{Tracing: true}).WithDefaults()
	env := Env{Metrics: down, Logs: fakeLogs{err: errors.New("no log file matches x.log")}, Traces: tracesFor(1, 403)}
	errs := Preflight(context.Background(), s, env)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "no log file matches")

	env.Logs, env.Traces = logsFor(1, 403, ""), nil
	errs = Preflight(context.Background(), s, env)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "no trace backend configured")

	// Signals a suite does not read are not asked.
	g := genericSuite(Expect{Metric: &MetricExpect{Query: "x", Want: Want{Op: ">=", Count: true}}})
	assert.Empty(t, Preflight(context.Background(), g, Env{Metrics: down}))
}

func TestInterruptedAbsenceIsNotPass(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := &fakeAlerts{seq: [][]Alert{nil}}
	s := genericSuite(Expect{Absent: &AbsentExpect{Alert: &AlertExpect{Name: "X", Source: "alertmanager"}, Within: time.Minute}})
	env := Env{
		Alerts:   map[string]AlertSource{"alertmanager": cancelAfter{quiet, 2, cancel}},
		Injector: fakeInjector{match: Matched, status: 403},
		Clock:    clock,
	}
	r := Run(ctx, s, env, "r").Drills[0].Results[0]
	assert.Equal(t, Error, r.Verdict, r.Got)
	assert.Contains(t, r.Got, "interrupted before the deadline")
}

type cancelAfter struct {
	*fakeAlerts
	n      int
	cancel func()
}

func (c cancelAfter) Alerts(ctx context.Context) ([]Alert, error) {
	if c.fakeAlerts.n >= c.n {
		c.cancel()
	}
	return c.fakeAlerts.Alerts(ctx)
}

type sentAt struct{ at time.Time }

func (s sentAt) Inject(_ context.Context, d Drill, _ string) (Injection, error) {
	inj := Injection{Expected: "HTTP 403"}
	for i := 0; i < d.Count; i++ {
		inj.Requests = append(inj.Requests, SentRequest{RequestID: fmt.Sprintf("req-%d", i), TraceID: fmt.Sprintf("%032x", i+1),
			Sent: s.at, Done: s.at, Outcome: "HTTP 403", Status: 403, Match: Matched})
	}
	return inj, nil
}

type halfTraces struct{ fakeTraces }

func (h halfTraces) Trace(ctx context.Context, id string) ([]Span, error) {
	if id[len(id)-1]%2 == 0 {
		return nil, errors.New("http 500")
	}
	return h.fakeTraces.Trace(ctx, id)
}

// Evidence that cannot be attributed or read is ERROR, never PASS or FAIL.
func TestNoVerdictWithoutEvidence(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	run := func(e Expect, env Env) Result {
		clock := &fakeClock{now: start}
		env.Clock = clock
		if env.Metrics == nil {
			env.Metrics = &fakeMetrics{clock: clock, answer: func(string, int) ([]Series, error) { return nil, nil }}
		}
		if env.Injector == nil {
			env.Injector = sentAt{at: start}
		}
		return Run(context.Background(), genericSuite(e), env, "r").Drills[0].Results[0]
	}
	old := []Alert{{Name: "EdgeDenials", State: "active", Since: start.Add(-24 * time.Hour)}}
	r := run(Expect{Alert: &AlertExpect{Name: "EdgeDenials", Source: "alertmanager"}}, Env{Alerts: map[string]AlertSource{"alertmanager": &fakeAlerts{seq: [][]Alert{old}}}})
	assert.Equal(t, Error, r.Verdict, r.Got)
	assert.Contains(t, r.Got, "before the drill began")

	r = run(Expect{Trace: &TraceExpect{Kind: "server"}}, Env{Traces: halfTraces{tracesFor(3, 403)}})
	assert.Equal(t, Error, r.Verdict, r.Got)
	assert.Contains(t, r.Got, "trace lookups failed")

	clock := &fakeClock{now: start}
	shrinking := &fakeMetrics{clock: clock, answer: func(q string, polls int) ([]Series, error) {
		if polls == 0 {
			return series(1000), nil
		}
		return series(600), nil // a pod's series vanished from the sum
	}}
	r = run(Expect{Metric: &MetricExpect{Query: "sum(my_counter)", Want: Want{Op: ">=", Count: true}}}, Env{Metrics: shrinking})
	assert.Equal(t, Error, r.Verdict, r.Got)
	assert.Contains(t, r.Got, "went down")
}
