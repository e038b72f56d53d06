package e2e

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/dashboards"
	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/demosuite"
	"github.com/meshdrill/meshdrill/internal/selftelemetry"
	"github.com/meshdrill/meshdrill/internal/testenv"
	"github.com/meshdrill/meshdrill/internal/wire"
	"github.com/meshdrill/meshdrill/lab"
)

// Every panel query of the embedded dashboards returns data after a demo:
// the mesh security dashboard against the lab's metrics store, the drill
// results dashboard against real Prometheus scraping a real Pushgateway the
// run pushed to.
func TestDashboardQueriesReturnDataAfterDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	pg := testenv.StartPushgateway(t)
	pgURL, err := url.Parse(pg.URL)
	require.NoError(t, err)
	prom := testenv.StartPrometheus(t, testenv.PrometheusConfig{
		Targets: []testenv.ScrapeTarget{{Job: "pushgateway", Targets: []string{pgURL.Host}, HonorLabels: true}},
	})

	s, err := demosuite.Load(l, t.TempDir(), 3)
	require.NoError(t, err)
	env, err := wire.FromSuite(s)
	require.NoError(t, err)
	rep := expectations.Run(ctx, s, env, "dashboards")
	for _, d := range rep.Drills {
		require.NotEqual(t, expectations.Error, d.Verdict, d.Name)
	}
	// The demo has no error drill; the 5xx panel needs one.
	errs := s
	errs.Drills = []expectations.Drill{{Name: "errors", Kind: "error-burst", Target: "payments", Count: 3, Status: 503,
		Identity: "spiffe://cluster.local/ns/meshdrill/sa/allowed-errors"}}
	errRep := expectations.Run(ctx, errs.WithDefaults(), env, "dashboards-errors")
	require.Equal(t, expectations.Pass, errRep.Drills[0].Verdict, "%+v", errRep.Drills[0])
	rep.Drills = append(rep.Drills, errRep.Drills...)
	require.NoError(t, selftelemetry.PushMetrics(ctx, pg.URL, "meshdrill", rep))
	done := time.Now()
	testenv.WaitScraped(t, l.PrometheusURL, done, 30*time.Second)
	prom.WaitScraped(t, done, 30*time.Second)
	// rate() needs two samples after the traffic.
	time.Sleep(2 * time.Second)

	queries, err := dashboards.Queries()
	require.NoError(t, err)
	require.NotEmpty(t, queries)
	backends := map[string]string{
		"mesh-security.json": l.PrometheusURL,
		"drill-results.json": prom.URL,
	}
	for _, q := range queries {
		base, ok := backends[q.Dashboard]
		require.True(t, ok, "no backend for dashboard %s", q.Dashboard)
		t.Run(q.Dashboard+"/"+q.Panel+"/"+q.RefID, func(t *testing.T) {
			api := promAPI(t, base)
			expr := dashboards.Expand(q.Expr)
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			v, _, _, err := api.Query(qctx, expr, time.Now())
			require.NoError(t, err, expr)
			vec, ok := v.(model.Vector)
			if ok {
				assert.NotEmpty(t, vec, "no data for %s", expr)
				return
			}
			assert.NotEqual(t, model.ValNone, v.Type(), expr)
		})
	}
}
