package promstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

// exporter is a scrape target whose exposition the test changes.
type exporter struct {
	mu     sync.Mutex
	body   string
	status int
}

func (e *exporter) set(status int, body string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status, e.body = status, body
}

func (e *exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, e.body)
}

type fixture struct {
	store *Store
	exp   *exporter
	srv   *httptest.Server
	api   promv1.API
	inst  string
}

// newFixture builds a store over one fake target; scrapes happen only when
// the test calls ScrapeNow, so every step is deterministic.
func newFixture(t *testing.T, body string) *fixture {
	t.Helper()
	exp := &exporter{status: 200, body: body}
	target := httptest.NewServer(exp)
	t.Cleanup(target.Close)
	s, err := New(Options{Targets: []string{target.URL + "/stats/prometheus"}, Interval: time.Second})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	require.NoError(t, err)
	u, err := url.Parse(target.URL)
	require.NoError(t, err)
	return &fixture{store: s, exp: exp, srv: srv, api: promv1.NewAPI(c), inst: u.Host}
}

func (f *fixture) scrape(t *testing.T) time.Time {
	t.Helper()
	// Samples are kept per millisecond, as in Prometheus; real scrapes are
	// an interval apart, test scrapes must at least not share a millisecond.
	time.Sleep(3 * time.Millisecond)
	f.store.ScrapeNow(context.Background())
	return time.Now()
}

func (f *fixture) instant(t *testing.T, q string, at time.Time) model.Vector {
	t.Helper()
	v, _, _, err := f.api.Query(context.Background(), q, at)
	require.NoError(t, err)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "got %T", v)
	return vec
}

const exposition = `# HELP istio_requests_total Requests.
# TYPE istio_requests_total counter
istio_requests_total{response_code="403",reporter="destination",job="app-job"} 1
# TYPE envoy_listener_ssl_handshake counter
envoy_listener_ssl_handshake{listener_address="0.0.0.0_15006"} 7
# TYPE istio_request_duration_milliseconds histogram
istio_request_duration_milliseconds_bucket{le="250"} 0
istio_request_duration_milliseconds_bucket{le="2500"} 1
istio_request_duration_milliseconds_bucket{le="+Inf"} 1
istio_request_duration_milliseconds_sum 301
istio_request_duration_milliseconds_count 1
`

func TestScrapeAddsTargetLabelsAndUp(t *testing.T) {
	f := newFixture(t, exposition)
	at := f.scrape(t)

	up := f.instant(t, "up", at)
	require.Len(t, up, 1)
	assert.Equal(t, model.Metric{"__name__": "up", "job": "envoy-stats", "instance": model.LabelValue(f.inst)}, up[0].Metric)
	assert.Equal(t, 1.0, float64(up[0].Value))

	req := f.instant(t, "istio_requests_total", at)
	require.Len(t, req, 1)
	m := req[0].Metric
	assert.Equal(t, "envoy-stats", string(m["job"]))
	assert.Equal(t, "app-job", string(m["exported_job"]), "honor_labels: false keeps the scraped job as exported_job")
	assert.Equal(t, f.inst, string(m["instance"]))

	ssl := f.instant(t, `envoy_listener_ssl_handshake{listener_address="0.0.0.0_15006"}`, at)
	require.Len(t, ssl, 1)
	assert.Equal(t, 7.0, float64(ssl[0].Value))
}

// Prometheus 3's parser writes classic-histogram le values in float form
// ("2500.0"), where Prometheus 2.x keeps the exposition's text ("2500"). The
// store answers as 2.42 does; a portable query matches both spellings.
func TestBucketLabelsKeepExpositionTextAsPrometheus2(t *testing.T) {
	f := newFixture(t, exposition+"# TYPE rpc_seconds summary\nrpc_seconds{quantile=\"0.5\"} 1\nrpc_seconds_sum 1\nrpc_seconds_count 1\n")
	at := f.scrape(t)
	assert.Len(t, f.instant(t, `istio_request_duration_milliseconds_bucket{le="2500"}`, at), 1)
	assert.Empty(t, f.instant(t, `istio_request_duration_milliseconds_bucket{le="2500.0"}`, at))
	assert.Len(t, f.instant(t, `istio_request_duration_milliseconds_bucket{le=~"2500|2500\\.0"}`, at), 1)
	assert.Len(t, f.instant(t, `rpc_seconds{quantile="0.5"}`, at), 1)
	q := f.instant(t, `histogram_quantile(0.5, istio_request_duration_milliseconds_bucket)`, at)
	require.Len(t, q, 1)
	assert.InDelta(t, 1375.0, float64(q[0].Value), 0.001)
}

func TestUntypeHistograms(t *testing.T) {
	in := "# HELP h x\n# TYPE h histogram\r\nh_bucket{le=\"1\"} 1\n# TYPE s summary\n# TYPE c counter\n# TYPE histogram_thing gauge\n"
	want := "# HELP h x\n# TYPE h untyped\r\nh_bucket{le=\"1\"} 1\n# TYPE s untyped\n# TYPE c counter\n# TYPE histogram_thing gauge\n"
	assert.Equal(t, want, string(untypeHistograms([]byte(in))))
}

func TestVanishedSeriesAndDownTargetGoStale(t *testing.T) {
	f := newFixture(t, exposition)
	f.scrape(t)
	f.exp.set(200, "envoy_listener_ssl_handshake{listener_address=\"0.0.0.0_15006\"} 8\n")
	at := f.scrape(t)
	assert.Empty(t, f.instant(t, "istio_requests_total", at), "a series missing from a scrape is stale at once, not after 5m")
	assert.Len(t, f.instant(t, "envoy_listener_ssl_handshake", at), 1)

	f.exp.set(http.StatusInternalServerError, "boom")
	at = f.scrape(t)
	assert.Empty(t, f.instant(t, "envoy_listener_ssl_handshake", at))
	up := f.instant(t, "up", at)
	require.Len(t, up, 1)
	assert.Equal(t, 0.0, float64(up[0].Value))

	targets, err := f.api.Targets(context.Background())
	require.NoError(t, err)
	require.Len(t, targets.Active, 1)
	assert.Equal(t, promv1.HealthBad, targets.Active[0].Health)
	assert.Contains(t, targets.Active[0].LastError, "500")
	assert.Equal(t, "envoy-stats", targets.Active[0].ScrapePool)
}

func TestRawCounterSamplesOverARange(t *testing.T) {
	f := newFixture(t, "c_total 1\n")
	start := f.scrape(t)
	f.exp.set(200, "c_total 3\n")
	end := f.scrape(t)

	v, _, _, err := f.api.Query(context.Background(), `c_total[1m]`, end)
	require.NoError(t, err)
	mat, ok := v.(model.Matrix)
	require.True(t, ok)
	require.Len(t, mat, 1)
	require.Len(t, mat[0].Values, 2)
	assert.Equal(t, 1.0, float64(mat[0].Values[0].Value))
	assert.Equal(t, 3.0, float64(mat[0].Values[1].Value))

	rng, _, _, err := f.api.QueryRange(context.Background(), "c_total", promv1.Range{Start: start.Add(-time.Second), End: end.Add(time.Second), Step: time.Second})
	require.NoError(t, err)
	require.IsType(t, model.Matrix{}, rng)
}

func TestMetadataEndpoints(t *testing.T) {
	f := newFixture(t, exposition)
	at := f.scrape(t)
	ctx := context.Background()

	names, _, _, err := f.api.LabelNames(ctx, nil, at.Add(-time.Minute), at.Add(time.Minute))
	require.NoError(t, err)
	assert.Contains(t, names, model.LabelName("listener_address"))
	assert.Contains(t, names, model.LabelName("instance"))

	vals, _, _, err := f.api.LabelValues(ctx, "__name__", nil, at.Add(-time.Minute), at.Add(time.Minute))
	require.NoError(t, err)
	assert.Contains(t, vals, model.LabelValue("envoy_listener_ssl_handshake"))

	series, _, _, err := f.api.Series(ctx, []string{`{__name__=~"istio_requests_total|up"}`}, at.Add(-time.Minute), at.Add(time.Minute))
	require.NoError(t, err)
	assert.Len(t, series, 2)

	bi, err := f.api.Buildinfo(ctx)
	require.NoError(t, err)
	assert.Equal(t, Version, bi.Version)

	cfg, err := f.api.Config(ctx)
	require.NoError(t, err)
	assert.Contains(t, cfg.YAML, "scrape_interval: 1s")
	assert.Contains(t, cfg.YAML, "metrics_path: /stats/prometheus")
}

func TestErrorsAsPrometheus(t *testing.T) {
	f := newFixture(t, exposition)
	tests := []struct {
		name, path string
		form       url.Values
		wantType   string
		wantCode   int
		wantMsg    string
	}{
		{"bad query", "/api/v1/query", url.Values{"query": {"sum(("}}, "bad_data", 400, `invalid parameter "query": `},
		{"bad time", "/api/v1/query", url.Values{"query": {"up"}, "time": {"yesterday"}}, "bad_data", 400, `invalid parameter "time": cannot parse "yesterday" to a valid timestamp`},
		{"end before start", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"10"}, "end": {"5"}, "step": {"1"}}, "bad_data", 400, "end timestamp must not be before start time"},
		{"zero step", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"1"}, "end": {"5"}, "step": {"0"}}, "bad_data", 400, "zero or negative query resolution step"},
		{"too many points", "/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}, "bad_data", 400, "exceeded maximum resolution of 11,000 points"},
		{"series without match", "/api/v1/series", url.Values{}, "bad_data", 400, "no match[] parameter provided"},
		{"execution error", "/api/v1/query", url.Values{"query": {`label_replace(up, "x", "$1", "instance", "(")`}}, "execution", 422, "invalid regular expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.PostForm(f.srv.URL+tt.path, tt.form)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.wantCode, resp.StatusCode)
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, "error", body["status"])
			assert.Equal(t, tt.wantType, body["errorType"])
			assert.Contains(t, body["error"], tt.wantMsg)
		})
	}

	_, _, _, err := f.api.Query(context.Background(), "sum((", time.Now())
	var perr *promv1.Error
	require.True(t, errors.As(err, &perr), "client_golang decodes the error: %v", err)
	assert.Equal(t, promv1.ErrBadData, perr.Type)
}

// TestResponseShapeMatchesPrometheus compares the keys and JSON types of our
// answer with Prometheus' documented one.
func TestResponseShapeMatchesPrometheus(t *testing.T) {
	corpus := testenv.CorpusDir(t)
	f := newFixture(t, exposition)
	at := f.scrape(t)
	for _, c := range []struct{ file, path string }{
		{"query_instant_vector_up.json", "/api/v1/query?query=up&time=" + url.QueryEscape(at.Format(time.RFC3339Nano))},
		{"query_range_matrix_up.json", "/api/v1/query_range?query=up&step=1&start=" + url.QueryEscape(at.Add(-2*time.Second).Format(time.RFC3339Nano)) + "&end=" + url.QueryEscape(at.Format(time.RFC3339Nano))},
	} {
		t.Run(c.file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(corpus, "prometheus_api", c.file))
			require.NoError(t, err)
			resp, err := http.Get(f.srv.URL + c.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, shape(t, want), shape(t, got), string(got))
		})
	}
}

// shape reduces a JSON document to its structure: object keys (minus label
// names inside "metric"), array element shapes (first element), scalar types.
func shape(t *testing.T, doc []byte) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(doc, &v))
	var walk func(v any, key string) string
	walk = func(v any, key string) string {
		switch x := v.(type) {
		case map[string]any:
			if key == "metric" {
				return "{labels}"
			}
			var parts []string
			for _, k := range sortedKeys(x) {
				parts = append(parts, k+":"+walk(x[k], k))
			}
			return "{" + strings.Join(parts, ",") + "}"
		case []any:
			if len(x) == 0 {
				return "[]"
			}
			if key == "value" || key == "" {
				var parts []string
				for _, e := range x {
					parts = append(parts, walk(e, ""))
				}
				return "(" + strings.Join(parts, ",") + ")"
			}
			return "[" + walk(x[0], "") + "]"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "bool"
		default:
			return "null"
		}
	}
	return walk(v, "root")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

func FuzzParseExposition(f *testing.F) {
	f.Add([]byte(exposition))
	f.Add([]byte("# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1\n"))
	f.Add([]byte("up 1 1700000000000\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		samples, err := parseExposition(body, "text/plain; version=0.0.4")
		if err == nil {
			for _, s := range samples {
				if s.lset.IsEmpty() {
					t.Fatalf("sample without labels from %q", body)
				}
			}
		}
	})
}
