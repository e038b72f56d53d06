package promstore

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testRules = `
groups:
- name: g
  labels: {team: mesh}
  rules:
  - record: job:c:sum
    expr: sum by (job) (c_total)
  - alert: CounterUp
    expr: job:c:sum > 0
    for: 2s
    labels: {severity: page}
    annotations:
      summary: '{{ $labels.job }} at {{ $value }}'
`

func newRulesFixture(t *testing.T) (*fixture, *Store) {
	t.Helper()
	f := newFixture(t, "c_total 1\n")
	s, err := New(Options{Targets: []string{"http://" + f.inst + "/metrics"}, Interval: time.Second, Rules: []byte(testRules), RulesFile: "test.yml"})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	require.NoError(t, err)
	f.store, f.srv, f.api = s, srv, promv1.NewAPI(c)
	return f, s
}

func TestAlertGoesPendingThenFiringThenResolves(t *testing.T) {
	f, s := newRulesFixture(t)
	ctx := context.Background()
	f.scrape(t)
	t0 := time.Now().Truncate(time.Millisecond)

	s.EvalRulesNow(ctx, t0)
	alerts, err := f.api.Alerts(ctx)
	require.NoError(t, err)
	require.Len(t, alerts.Alerts, 1)
	a := alerts.Alerts[0]
	assert.Equal(t, promv1.AlertStatePending, a.State)
	assert.True(t, a.ActiveAt.Equal(t0), "activeAt %s, want %s", a.ActiveAt, t0)
	assert.Equal(t, model.LabelSet{"alertname": "CounterUp", "job": "envoy-stats", "severity": "page", "team": "mesh"}, a.Labels)
	assert.Equal(t, model.LabelValue("envoy-stats at 1"), a.Annotations["summary"])
	assert.Equal(t, "1e+00", a.Value)

	s.EvalRulesNow(ctx, t0.Add(time.Second))
	alerts, err = f.api.Alerts(ctx)
	require.NoError(t, err)
	require.Equal(t, promv1.AlertStatePending, alerts.Alerts[0].State, "for: 2s has not passed")

	s.EvalRulesNow(ctx, t0.Add(2*time.Second))
	alerts, err = f.api.Alerts(ctx)
	require.NoError(t, err)
	require.Equal(t, promv1.AlertStateFiring, alerts.Alerts[0].State)
	firing := f.instant(t, `ALERTS{alertname="CounterUp",alertstate="firing"}`, t0.Add(2*time.Second))
	assert.Len(t, firing, 1)
	assert.Len(t, f.instant(t, `ALERTS{alertstate="pending"}`, t0.Add(2*time.Second)), 0, "the pending series went stale")
	assert.Len(t, f.instant(t, `job:c:sum{team="mesh"}`, t0.Add(2*time.Second)), 1, "recorded series")

	rules, err := f.api.Rules(ctx, nil)
	require.NoError(t, err)
	require.Len(t, rules.Groups, 1)
	assert.Equal(t, "test.yml", rules.Groups[0].File)
	require.Len(t, rules.Groups[0].Rules, 2)
	rec, ok := rules.Groups[0].Rules[0].(promv1.RecordingRule)
	require.True(t, ok)
	assert.Equal(t, "job:c:sum", rec.Name)
	al, ok := rules.Groups[0].Rules[1].(promv1.AlertingRule)
	require.True(t, ok)
	assert.Equal(t, "firing", al.State)
	assert.Equal(t, 2.0, al.Duration)
	assert.Equal(t, promv1.RuleHealth(promv1.RuleHealthGood), al.Health)

	f.exp.set(200, "c_total 0\n")
	f.scrape(t)
	s.EvalRulesNow(ctx, time.Now().Add(3*time.Second))
	alerts, err = f.api.Alerts(ctx)
	require.NoError(t, err)
	assert.Empty(t, alerts.Alerts, "resolved alerts leave /api/v1/alerts")
}

func TestBadRulesRejected(t *testing.T) {
	tests := map[string]string{
		"unknown key": "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    fro: 1m\n",
		"bad expr":    "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum((\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(Options{Rules: []byte(src)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "parse rules")
		})
	}
}

func TestRuleEvaluationErrorIsReported(t *testing.T) {
	s, err := New(Options{Rules: []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: 'label_replace(vector(1), \"x\", \"$1\", \"y\", \"(\")'\n")})
	require.NoError(t, err)
	s.EvalRulesNow(context.Background(), time.Now())
	r := s.rulesAPI()["groups"].([]map[string]any)[0]["rules"].([]map[string]any)[0]
	assert.Equal(t, "err", r["health"])
	assert.Contains(t, r["lastError"], "invalid regular expression")
}
