package prometheus_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// TestAgainstRealPrometheus runs the client against the real server (Debian's
// Prometheus 2.42) scraping a target of our own every second.
func TestAgainstRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	reg := promclient.NewRegistry()
	denied := promclient.NewCounterVec(promclient.CounterOpts{Name: "drill_denied_total", Help: "test"}, []string{"code"})
	reg.MustRegister(denied)
	denied.WithLabelValues("403").Add(7)
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()

	prom := testenv.StartPrometheus(t, testenv.PrometheusConfig{
		Targets: []testenv.ScrapeTarget{{Job: "drill", Targets: []string{strings.TrimPrefix(target.URL, "http://")}}},
		Rules: []string{`groups:
- name: drill
  rules:
  - alert: DrillDenied
    expr: drill_denied_total > 0
    for: 1h
`},
	})
	prom.WaitScraped(t, time.Now(), 30*time.Second)

	c, err := prometheus.New(prom.URL, collectors.HTTPOptions{Timeout: 10 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()

	info, err := c.BuildInfo(ctx)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(info.Version, "2."), info.Version)

	interval, err := c.ScrapeInterval(ctx)
	require.NoError(t, err)
	assert.Equal(t, time.Second, interval, "testenv configures scrape_interval: 1s")

	offset, rtt, err := c.ClockOffset(ctx)
	require.NoError(t, err)
	assert.InDelta(t, 0, offset.Seconds(), (rtt + 10*time.Millisecond).Seconds(), "same machine, same clock")

	now, err := c.ServerTime(ctx)
	require.NoError(t, err)
	vec, warn, err := c.Query(ctx, `drill_denied_total{code="403"}`, now)
	require.NoError(t, err)
	assert.Empty(t, warn)
	require.Len(t, vec, 1)
	assert.Equal(t, model.SampleValue(7), vec[0].Value)
	assert.Equal(t, model.LabelValue("drill"), vec[0].Metric["job"])

	absent, _, err := c.Query(ctx, `drill_denied_total{code="500"}`, now)
	require.NoError(t, err)
	assert.Empty(t, absent, "a series that never happened is an empty vector, not an error")

	m, _, err := c.QueryRange(ctx, `drill_denied_total`, v1.Range{Start: now.Add(-3 * time.Second), End: now, Step: time.Second})
	require.NoError(t, err)
	require.Len(t, m, 1)
	assert.NotEmpty(t, m[0].Values)

	_, _, err = c.Query(ctx, `sum(drill_denied_total`, now)
	require.ErrorIs(t, err, prometheus.ErrBadQuery)
	assert.Contains(t, err.Error(), "parse error")

	_, _, err = c.Query(ctx, `scalar(drill_denied_total)`, now)
	require.ErrorContains(t, err, "result is a scalar, not a vector")

	alerts, err := pollAlerts(t, c)
	require.NoError(t, err)
	assert.Equal(t, v1.AlertStatePending, alerts[0].State, "for: 1h keeps it pending")
}

func pollAlerts(t *testing.T, c *prometheus.Client) ([]v1.Alert, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		alerts, err := c.Alerts(ctx)
		if err != nil || len(alerts) > 0 {
			return alerts, err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no alert from the rule: %v", context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
