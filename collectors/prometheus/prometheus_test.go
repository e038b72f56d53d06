package prometheus_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
)

// The corpus answers were recorded at this instant (docs/querying/api.md).
var docTime = time.UnixMilli(1435781451781)

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func newClient(t *testing.T, f *collectorstest.Fake, o collectors.HTTPOptions) *prometheus.Client {
	t.Helper()
	c, err := prometheus.New(f.URL(), o)
	require.NoError(t, err)
	return c
}

func TestQueryInstantVectorFromCorpus(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "prometheus_api/query_instant_vector_up.json")
	f := collectorstest.NewFake(t, collectorstest.Mock{
		Method: "POST", Path: "/api/v1/query", Form: form("query", "up", "time", "1435781451.781"), Body: body,
	})
	vec, warn, err := newClient(t, f, collectors.HTTPOptions{}).Query(context.Background(), "up", docTime)
	require.NoError(t, err)
	assert.Empty(t, warn)
	require.Len(t, vec, 2)
	assert.Equal(t, model.LabelValue("prometheus"), vec[0].Metric["job"])
	assert.Equal(t, model.SampleValue(1), vec[0].Value)
	assert.Equal(t, model.LabelValue("localhost:9100"), vec[1].Metric["instance"])
	assert.Equal(t, model.SampleValue(0), vec[1].Value)
	assert.Equal(t, model.TimeFromUnixNano(docTime.UnixNano()), vec[1].Timestamp)
}

func TestQueryRangeMatrixFromCorpus(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "prometheus_api/query_range_matrix_up.json")
	f := collectorstest.NewFake(t, collectorstest.Mock{
		Method: "POST", Path: "/api/v1/query_range",
		Form: form("query", "up", "start", "1435781430.781", "end", "1435781460.781", "step", "15"), Body: body,
	})
	r := v1.Range{Start: time.UnixMilli(1435781430781), End: time.UnixMilli(1435781460781), Step: 15 * time.Second}
	m, _, err := newClient(t, f, collectors.HTTPOptions{}).QueryRange(context.Background(), "up", r)
	require.NoError(t, err)
	require.Len(t, m, 2)
	require.Len(t, m[1].Values, 3)
	assert.Equal(t, model.LabelValue("localhost:9091"), m[1].Metric["instance"])
	assert.Equal(t, []model.SampleValue{0, 0, 1}, []model.SampleValue{m[1].Values[0].Value, m[1].Values[1].Value, m[1].Values[2].Value})
}

func TestQueryErrors(t *testing.T) {
	const badData = `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`
	const execTimeout = `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`
	const scalar = `{"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"1"]}}`
	vector := collectorstest.ReadCorpus(t, "prometheus_api/query_instant_vector_up.json")
	tests := []struct {
		name      string
		query     string
		mock      collectorstest.Mock
		wantIs    error
		wantText  string
		retryable bool
	}{
		{"bad query", "sum(", collectorstest.Mock{Status: 400, Body: []byte(badData)}, prometheus.ErrBadQuery, "unclosed left parenthesis", false},
		{"server query timeout", "up", collectorstest.Mock{Status: 503, Body: []byte(execTimeout)}, prometheus.ErrTimeout, "server's query timeout ran out", false},
		{"not ready", "up", collectorstest.Mock{Status: 503, Body: []byte(`{"status":"error","errorType":"unavailable","error":"TSDB not ready"}`)}, prometheus.ErrUnavailable, "TSDB not ready", true},
		{"execution error", "a / on() b", collectorstest.Mock{Status: 422, Body: []byte(`{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}`)}, nil, "execution: many-to-many", false},
		{"5xx from a proxy", "up", collectorstest.Mock{Status: 502, Body: []byte("<html>bad gateway</html>")}, prometheus.ErrUnavailable, "http 502 bad gateway", true},
		{"429", "up", collectorstest.Mock{Status: 429, Body: []byte("slow down")}, nil, "http 429", true},
		{"401", "up", collectorstest.Mock{Status: 401, Body: []byte("Unauthorized")}, nil, "http 401", false},
		{"scalar is not a vector", "1", collectorstest.Mock{Body: []byte(scalar)}, nil, "result is a scalar, not a vector", false},
		{"truncated body", "up", collectorstest.Mock{Body: vector[:40]}, nil, "bad_response", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mock.Path = "/api/v1/query"
			f := collectorstest.NewFake(t, tt.mock)
			_, _, err := newClient(t, f, collectors.HTTPOptions{Retry: quickRetry}).Query(context.Background(), tt.query, docTime)
			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantText)
			assert.Contains(t, err.Error(), `prometheus query "`+tt.query+`" at `+f.URL())
			assert.Equal(t, tt.retryable, collectors.IsRetryable(err))
			calls := 1
			if tt.retryable {
				calls = quickRetry.Attempts
			}
			assert.Equal(t, []int{calls}, f.Requests(), "retried exactly when retryable")
		})
	}
}

// quickRetry keeps retrying tests fast.
var quickRetry = collectors.RetryPolicy{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond}

func TestQueryRetriesUntilPrometheusAnswers(t *testing.T) {
	vector := collectorstest.ReadCorpus(t, "prometheus_api/query_instant_vector_up.json")
	var calls atomic.Int32
	f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/api/v1/query", Handler: func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"unavailable","error":"TSDB not ready"}`))
			return
		}
		_, _ = w.Write(vector)
	}})
	vec, _, err := newClient(t, f, collectors.HTTPOptions{Retry: quickRetry}).Query(context.Background(), "up", docTime)
	require.NoError(t, err)
	assert.Len(t, vec, 2)
	assert.Equal(t, int32(3), calls.Load())
}

func TestQueryNeedsExplicitTime(t *testing.T) {
	f := collectorstest.NewFake(t)
	_, _, err := newClient(t, f, collectors.HTTPOptions{}).Query(context.Background(), "up", time.Time{})
	require.ErrorContains(t, err, "explicit evaluation time")
}

func TestQueryWarningsAndInfos(t *testing.T) {
	const body = `{"status":"success","data":{"resultType":"vector","result":[]},
	 "warnings":["PromQL warning: bucket label \"le\" is missing or has a malformed value"],
	 "infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"istio_request_duration_milliseconds\""]}`
	f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/api/v1/query", Body: []byte(body)})
	vec, warn, err := newClient(t, f, collectors.HTTPOptions{}).Query(context.Background(), "rate(istio_request_duration_milliseconds[1m])", docTime)
	require.NoError(t, err)
	assert.Empty(t, vec, "an empty vector is data, not an error")
	require.Len(t, warn, 2)
	assert.Contains(t, warn[0], "PromQL warning:")
	assert.Contains(t, warn[1], "PromQL info: metric might not be a counter")
}

func TestQueryFallsBackToGET(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "prometheus_api/query_instant_vector_up.json")
	f := collectorstest.NewFake(t,
		collectorstest.Mock{Method: "POST", Path: "/api/v1/query", Status: 405},
		collectorstest.Mock{Method: "GET", Path: "/api/v1/query", Form: form("query", "up"), Body: body},
	)
	vec, _, err := newClient(t, f, collectors.HTTPOptions{}).Query(context.Background(), "up", docTime)
	require.NoError(t, err)
	assert.Len(t, vec, 2)
}

func TestAuthReachesPrometheus(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "prometheus_api/query_instant_vector_up.json")
	f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/prom/api/v1/query", Handler: func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Scope-OrgID") != "t1" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(body)
	}})
	c, err := prometheus.New(f.URL()+"/prom/", collectors.HTTPOptions{BearerToken: "tok", Headers: map[string]string{"X-Scope-OrgID": "t1"}})
	require.NoError(t, err)
	_, _, err = c.Query(context.Background(), "up", docTime)
	require.NoError(t, err)
}

func TestTimeoutNamesURLAndBudget(t *testing.T) {
	f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/api/v1/query", Handler: func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}})
	c, err := prometheus.New("http://user:pw@"+f.URL()[len("http://"):], collectors.HTTPOptions{Timeout: 30 * time.Millisecond})
	require.NoError(t, err)
	_, _, err = c.Query(context.Background(), "up", docTime)
	require.ErrorIs(t, err, prometheus.ErrTimeout)
	assert.Contains(t, err.Error(), "request timeout of 30ms ran out")
	assert.Contains(t, err.Error(), f.URL())
	assert.NotContains(t, err.Error(), "pw")

	ctx, cancel := context.WithTimeoutCause(context.Background(), 20*time.Millisecond, errTest("evidence deadline"))
	defer cancel()
	c2, err := prometheus.New(f.URL(), collectors.HTTPOptions{Timeout: time.Minute})
	require.NoError(t, err)
	_, _, err = c2.Query(ctx, "up", docTime)
	require.ErrorIs(t, err, prometheus.ErrTimeout)
	assert.Contains(t, err.Error(), "caller's deadline (evidence deadline) ran out")
}

type errTest string

func (e errTest) Error() string { return string(e) }

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := prometheus.New("http://"+addr, collectors.HTTPOptions{})
	require.NoError(t, err)
	_, _, err = c.Query(context.Background(), "up", docTime)
	require.ErrorIs(t, err, prometheus.ErrUnavailable)
	assert.True(t, collectors.IsRetryable(err))
}

func TestServerTime(t *testing.T) {
	t.Run("time()", func(t *testing.T) {
		f := collectorstest.NewFake(t, collectorstest.Mock{
			Path: "/api/v1/query", Form: form("query", "time()"),
			Handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Form.Has("time") {
					http.Error(w, "time() must be evaluated at the server's now", 400)
					return
				}
				_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"1700000000.123"]}}`))
			},
		})
		st, err := newClient(t, f, collectors.HTTPOptions{}).ServerTime(context.Background())
		require.NoError(t, err)
		assert.Equal(t, time.UnixMilli(1700000000123), st)
	})
	t.Run("Date header fallback", func(t *testing.T) {
		f := collectorstest.NewFake(t,
			collectorstest.Mock{Path: "/api/v1/query", Status: 400, Body: []byte(`{"status":"error","errorType":"bad_data","error":"unknown function time"}`)},
			collectorstest.Mock{Path: "/api/v1/status/buildinfo", Header: http.Header{"Date": {"Tue, 14 Nov 2023 22:13:20 GMT"}}, Body: []byte(`{}`)},
		)
		st, err := newClient(t, f, collectors.HTTPOptions{}).ServerTime(context.Background())
		require.NoError(t, err)
		assert.Equal(t, time.Unix(1700000000, 0).UTC(), st.UTC())
	})
	t.Run("down", func(t *testing.T) {
		f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/api/v1/query", Status: 503})
		_, err := newClient(t, f, collectors.HTTPOptions{}).ServerTime(context.Background())
		require.ErrorIs(t, err, prometheus.ErrUnavailable)
	})
}

func TestClockOffset(t *testing.T) {
	f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/api/v1/query", Handler: func(w http.ResponseWriter, r *http.Request) {
		ahead := float64(time.Now().Add(time.Hour).UnixMilli()) / 1000
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[0,"` + model.SampleValue(ahead).String() + `"]}}`))
	}})
	off, rtt, err := newClient(t, f, collectors.HTTPOptions{}).ClockOffset(context.Background())
	require.NoError(t, err)
	assert.InDelta(t, time.Hour.Seconds(), off.Seconds(), (rtt + 2*time.Millisecond).Seconds())
}

func TestScrapeInterval(t *testing.T) {
	const cfg = `{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\n  evaluation_interval: 1m\nscrape_configs:\n- job_name: prometheus\n  scrape_interval: 5s\n"}}`
	const upMatrix = `{"status":"success","data":{"resultType":"matrix","result":[
	  {"metric":{"__name__":"up","job":"a"},"values":[[1000,"1"],[1002,"1"],[1004,"1"],[1006.001,"1"]]},
	  {"metric":{"__name__":"up","job":"b"},"values":[[1001,"1"],[1003,"1"]]}]}}`
	tests := []struct {
		name    string
		mocks   []collectorstest.Mock
		want    time.Duration
		wantErr string
	}{
		{"from config", []collectorstest.Mock{{Path: "/api/v1/status/config", Body: []byte(cfg)}}, 15 * time.Second, ""},
		{"fallback to samples of up", []collectorstest.Mock{
			{Path: "/api/v1/status/config", Status: 404, Body: []byte("404 page not found")},
			{Path: "/api/v1/query", Form: form("query", "up[1m]"), Body: []byte(upMatrix)},
		}, 2 * time.Second, ""},
		{"config without interval", []collectorstest.Mock{
			{Path: "/api/v1/status/config", Body: []byte(`{"status":"success","data":{"yaml":"scrape_configs: []\n"}}`)},
			{Path: "/api/v1/query", Body: []byte(upMatrix)},
		}, 2 * time.Second, ""},
		{"neither works", []collectorstest.Mock{
			{Path: "/api/v1/status/config", Status: 404},
			{Path: "/api/v1/query", Body: []byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`)},
		}, 0, "neither source worked: config: GET /api/v1/status/config: http 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := collectorstest.NewFake(t, tt.mocks...)
			d, err := newClient(t, f, collectors.HTTPOptions{}).ScrapeInterval(context.Background())
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.ErrorContains(t, err, "too few samples")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, d)
		})
	}
}

func TestBuildInfo(t *testing.T) {
	f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/api/v1/status/buildinfo",
		Body: []byte(`{"status":"success","data":{"version":"2.42.0","revision":"225c61122d88b01d1f0eaaee0e05b6f3e0567ac0","branch":"HEAD","buildUser":"root@x","buildDate":"20230201-10:24:02","goVersion":"go1.19.5"}}`)})
	b, err := newClient(t, f, collectors.HTTPOptions{}).BuildInfo(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "2.42.0", b.Version)
}

func TestNewRejectsBadURL(t *testing.T) {
	_, err := prometheus.New("localhost:9090", collectors.HTTPOptions{})
	require.ErrorContains(t, err, "scheme must be http or https")
}

func TestAlertsFromCorpus(t *testing.T) {
	f := collectorstest.NewFake(t, collectorstest.Mock{Method: "GET", Path: "/api/v1/alerts",
		Body: collectorstest.ReadCorpus(t, "prometheus_api/alerts_v1_firing.json")})
	alerts, err := newClient(t, f, collectors.HTTPOptions{}).Alerts(context.Background())
	require.NoError(t, err)
	require.Len(t, alerts, 1)
	assert.Equal(t, v1.AlertStateFiring, alerts[0].State)
	assert.Equal(t, model.LabelValue("my-alert"), alerts[0].Labels["alertname"])
	assert.Equal(t, 2018, alerts[0].ActiveAt.Year())
}
