package e2e

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/demosuite"
	"github.com/meshdrill/meshdrill/internal/testenv"
	"github.com/meshdrill/meshdrill/internal/wire"
	"github.com/meshdrill/meshdrill/lab"
)

// TestDemoSuiteAgainstRealPrometheus runs the demo's own suite with real
// Prometheus 2.42 as its metrics backend, scraping the lab's sidecars, and
// then checks that every metric selector of the suite gives the same answer
// from real Prometheus and from the lab's embedded store at one time.
func TestDemoSuiteAgainstRealPrometheus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, l.Close()) })

	var targets []string
	var path string
	for _, name := range sortedKeys(l.Workloads) {
		u, err := url.Parse(l.Workloads[name].MetricsURL)
		require.NoError(t, err)
		targets, path = append(targets, u.Host), u.Path
	}
	prom := testenv.StartPrometheus(t, testenv.PrometheusConfig{
		Targets:  []testenv.ScrapeTarget{{Job: "envoy-stats", Targets: targets, MetricsPath: path}},
		Features: []string{},
	})
	// Baselines must come from a real scrape, as they would in a cluster.
	prom.WaitScraped(t, time.Now(), 30*time.Second)

	s, err := demosuite.Load(l, t.TempDir(), 3)
	require.NoError(t, err)
	env, err := wire.FromSuite(s)
	require.NoError(t, err)
	real, err := prometheus.New(prom.URL, collectors.HTTPOptions{Timeout: 5 * time.Second})
	require.NoError(t, err)
	env.Metrics = wire.Metrics{Client: real}

	rep := expectations.Run(ctx, s, env, "realprom")
	var metricChecks int
	for _, d := range rep.Drills {
		assert.Equal(t, expectations.Pass, d.Client.Verdict, "%s client: %s", d.Name, d.Client.Got)
		for _, r := range d.Results {
			if r.Signal != expectations.SignalMetrics || r.Verdict == expectations.BlindSpot {
				continue
			}
			metricChecks++
			assert.Equal(t, expectations.Pass, r.Verdict, "%s %s against real Prometheus: got %s\n%s", d.Name, r.Name, r.Got, r.Raw)
			assert.Equal(t, "Δ = 3", r.Got, "%s %s", d.Name, r.Name)
		}
	}
	assert.Equal(t, 4, metricChecks, "metric checks of the demo suite")

	// The same selectors, at the same time, on both stores.
	done := time.Now()
	testenv.WaitScraped(t, l.PrometheusURL, done, 30*time.Second)
	prom.WaitScraped(t, done, 30*time.Second)
	at := time.Now().Truncate(time.Millisecond)
	labAPI, realAPI := promAPI(t, l.PrometheusURL), prom.API(t)
	var selectors int
	for _, pd := range expectations.PlanSuite(s) {
		for _, c := range pd.Checks {
			for _, sel := range c.Selectors {
				selectors++
				fromReal := instant(t, realAPI, sel, at)
				assert.Equal(t, fromReal, instant(t, labAPI, sel, at), "selector %s at %s: real Prometheus (expected) vs lab store", sel, at)
				assert.NotEmpty(t, fromReal, "selector %s finds series on real Prometheus", sel)
			}
		}
	}
	assert.Equal(t, 5, selectors)
}
