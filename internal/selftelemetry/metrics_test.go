package selftelemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// scrape reads a Pushgateway's /metrics and indexes samples by name and
// their labels rendered "k=v,…" (sorted, as the text format has them).
func scrape(t *testing.T, base string) map[string]map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	out := map[string]map[string]float64{}
	for name, f := range fams {
		out[name] = map[string]float64{}
		for _, m := range f.GetMetric() {
			out[name][labelString(m.GetLabel())] = m.GetGauge().GetValue()
		}
	}
	return out
}

func labelString(ls []*dto.LabelPair) string {
	kv := make([]string, 0, 2*len(ls))
	for _, l := range ls {
		kv = append(kv, l.GetName(), l.GetValue())
	}
	return key(kv...)
}

// key renders name/value pairs as "k=v,…" sorted by name.
func key(kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+kv[i+1])
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func TestPushMetricsToPushgateway(t *testing.T) {
	pg := testenv.StartPushgateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rep := sampleReport()
	require.NoError(t, PushMetrics(ctx, pg.URL, "meshdrill-ci", rep))
	got := scrape(t, pg.URL)

	// Every series carries the grouping labels; instance is empty because
	// the Pushgateway adds it to pushed groups that lack one.
	k := func(kv ...string) string {
		return key(append(kv, "instance", "", "job", "meshdrill-ci", "suite", "payments")...)
	}
	assert.Equal(t, map[string]float64{
		k("drill", "deny-frontend", "kind", "forbidden-identity", "target", "payments", "verdict", "FAIL"): 1,
		k("drill", "leak", "kind", "forbidden-operation", "target", "payments", "verdict", "NOT_ENFORCED"): 1,
	}, got[MetricDrillVerdict])
	assert.Equal(t, map[string]float64{
		k("drill", "deny-frontend", "signal", "client", "expectation", "client outcome", "verdict", "PASS"):                  1,
		k("drill", "deny-frontend", "signal", "metrics", "expectation", "istio_requests_total 403 delta", "verdict", "PASS"): 1,
		k("drill", "deny-frontend", "signal", "traces", "expectation", "server spans by trace id", "verdict", "FAIL"):        1,
		k("drill", "leak", "signal", "client", "expectation", "client outcome", "verdict", "NOT_ENFORCED"):                   1,
		k("drill", "leak", "signal", "metrics", "expectation", "istio_requests_total", "verdict", "BLIND_SPOT"):              1,
	}, got[MetricExpectationVerdict])
	assert.Equal(t, map[string]float64{
		k("drill", "deny-frontend", "signal", "metrics", "expectation", "istio_requests_total 403 delta"): 2.5,
	}, got[MetricEvidenceSeconds], "only passing expectations that waited have an evidence time")
	assert.Equal(t, map[string]float64{
		k("drill", "deny-frontend"): 3,
		k("drill", "leak"):          2,
	}, got[MetricInjectedRequests])
	require.Contains(t, got[MetricRunTimestamp], k())
	assert.InDelta(t, float64(rep.Finished.UnixMilli())/1e3, got[MetricRunTimestamp][k()], 1e-3)
	assert.Equal(t, map[string]float64{k(): 14.25}, got[MetricRunDuration])

	// A second run replaces the first: the FAIL drill that now passes leaves
	// no stale FAIL series behind.
	rep.Drills = rep.Drills[:1]
	rep.Drills[0].Verdict = expectations.Pass
	require.NoError(t, PushMetrics(ctx, pg.URL, "meshdrill-ci", rep))
	got = scrape(t, pg.URL)
	assert.Equal(t, map[string]float64{
		k("drill", "deny-frontend", "kind", "forbidden-identity", "target", "payments", "verdict", "PASS"): 1,
	}, got[MetricDrillVerdict])
}

func TestPushMetricsErrors(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()

	var gotAuth string
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		gotAuth = user + ":" + pass
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "nope", http.StatusBadRequest)
	}))
	defer rejecting.Close()
	withAuth := strings.Replace(rejecting.URL, "http://", "http://ci:s3cret@", 1)

	tests := []struct {
		name, url, job string
		wantErr        []string
	}{
		{"no url", "", "j", []string{"no URL configured"}},
		{"not http", "ftp://host", "j", []string{"want http:// or https://"}},
		{"no job", "http://127.0.0.1:1", "", []string{"empty job name"}},
		{"refused", refusedURL, "j", []string{"push metrics to the pushgateway http://127.0.0.1:"}},
		{"rejected, secret kept out", withAuth, "j", []string{"400", "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := PushMetrics(ctx, tt.url, tt.job, sampleReport())
			require.Error(t, err)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
			t.Log(err)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
	assert.Equal(t, "ci:s3cret", gotAuth, "userinfo is sent as basic auth")
}
