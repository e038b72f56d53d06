package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// eventually polls cond every 100ms until it returns "" or timeout passes, then fails
// with cond's last complaint.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// metricsServer serves a registry with testenv_smoke_total = 42.
func metricsServer(t *testing.T) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "testenv_smoke_total", Help: "Smoke-test counter."})
	c.Add(42)
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestStartPrometheus(t *testing.T) {
	t.Parallel()
	target := metricsServer(t)
	prom := StartPrometheus(t, PrometheusConfig{
		Targets: []ScrapeTarget{{Job: "smoke", Targets: []string{target}}},
		Rules: []string{`groups:
  - name: smoke
    rules:
      - record: testenv:smoke:doubled
        expr: testenv_smoke_total * 2
`},
	})
	start := time.Now()
	prom.WaitScraped(t, start, 30*time.Second)
	api := prom.API(t)
	eventually(t, 30*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		v, _, _, err := api.Query(ctx, `testenv:smoke:doubled{job="smoke"}`, time.Now())
		if err != nil {
			return err.Error()
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 1 {
			return fmt.Sprintf("want one sample, got %v", v)
		}
		if vec[0].Value != 84 {
			return fmt.Sprintf("want 84, got %v", vec[0].Value)
		}
		return ""
	})
	buildinfo, err := api.Buildinfo(context.Background())
	require.NoError(t, err)
	t.Logf("prometheus %s", buildinfo.Version)
}

func TestStartAlertmanager(t *testing.T) {
	t.Parallel()
	am := StartAlertmanager(t, AlertmanagerConfig{})
	alert := `[{"labels":{"alertname":"TestenvSmoke","severity":"test"},"annotations":{"summary":"posted by a test"}}]`
	resp, err := httpClient.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(alert))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	code, body := httpGet(t, am.URL+"/api/v2/alerts")
	require.Equal(t, http.StatusOK, code)
	var got []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	require.Len(t, got, 1)
	assert.Equal(t, "TestenvSmoke", got[0].Labels["alertname"])
	assert.Equal(t, "active", got[0].Status.State)
}

// TestPrometheusSendsToAlertmanager checks the AlertmanagerURL wiring end to end: a rule
// fires in Prometheus and the alert appears in Alertmanager.
func TestPrometheusSendsToAlertmanager(t *testing.T) {
	t.Parallel()
	am := StartAlertmanager(t, AlertmanagerConfig{})
	StartPrometheus(t, PrometheusConfig{
		Targets: []ScrapeTarget{{Job: "smoke", Targets: []string{metricsServer(t)}}},
		Rules: []string{`groups:
  - name: smoke
    rules:
      - alert: TestenvCounterSeen
        expr: testenv_smoke_total > 0
        labels: {severity: test}
`},
		AlertmanagerURL: am.URL,
	})
	eventually(t, 30*time.Second, func() string {
		_, body := httpGet(t, am.URL+"/api/v2/alerts?filter=alertname%3D%22TestenvCounterSeen%22")
		if !strings.Contains(body, `"alertname":"TestenvCounterSeen"`) {
			return "alert not in alertmanager yet: " + body
		}
		return ""
	})
}

func TestStartPushgateway(t *testing.T) {
	t.Parallel()
	pg := StartPushgateway(t)
	req, err := http.NewRequest(http.MethodPut, pg.URL+"/metrics/job/testenv", strings.NewReader("testenv_pushed 7\n"))
	require.NoError(t, err)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	code, body := httpGet(t, pg.URL+"/metrics")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `testenv_pushed{instance="",job="testenv"} 7`)
}

func TestStartVictoriaLogs(t *testing.T) {
	t.Parallel()
	vl := StartVictoriaLogs(t)
	marker := fmt.Sprintf("testenvmarker%d", time.Now().UnixNano())
	push := fmt.Sprintf(`{"streams":[{"stream":{"app":"testenv"},"values":[["%d","hello %s"]]}]}`, time.Now().UnixNano(), marker)
	resp, err := httpClient.Post(vl.LokiPushURL, "application/json", strings.NewReader(push))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	var line map[string]string
	eventually(t, 30*time.Second, func() string {
		_, body := httpGet(t, vl.QueryURL+"?query="+url.QueryEscape(marker))
		body = strings.TrimSpace(body)
		if body == "" {
			return "no log line yet"
		}
		if err := json.Unmarshal([]byte(strings.SplitN(body, "\n", 2)[0]), &line); err != nil {
			return "bad answer: " + body
		}
		return ""
	})
	assert.Equal(t, "hello "+marker, line["_msg"])
	assert.Equal(t, `{app="testenv"}`, line["_stream"])
}

func TestStartJaeger(t *testing.T) {
	t.Parallel()
	j := StartJaeger(t)
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(j.OTLPHTTPURL+"/v1/traces"), otlptracehttp.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("testenv").Start(context.Background(), "smoke-span")
	traceID := span.SpanContext().TraceID().String()
	span.End()
	require.NoError(t, tp.Shutdown(context.Background()))

	var got struct {
		Data []struct {
			TraceID string `json:"traceID"`
			Spans   []struct {
				OperationName string `json:"operationName"`
			} `json:"spans"`
		} `json:"data"`
	}
	eventually(t, 30*time.Second, func() string {
		code, body := httpGet(t, j.QueryURL+"/api/traces/"+traceID)
		if code != http.StatusOK {
			return fmt.Sprintf("HTTP %d: %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			return "bad answer: " + body
		}
		return ""
	})
	require.Len(t, got.Data, 1)
	assert.Equal(t, traceID, got.Data[0].TraceID)
	require.Len(t, got.Data[0].Spans, 1)
	assert.Equal(t, "smoke-span", got.Data[0].Spans[0].OperationName)
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"numeric minor", "v1.2.9", "v1.10.0", true},
		{"numeric reverse", "v1.10.0", "v1.2.9", false},
		{"equal", "v2.11.9", "v2.11.9", false},
		{"without v", "1.2.0", "v1.3.0", true},
		{"prerelease part", "v1.2.0", "v1.2.0-rc1", true},
		{"patch", "v1.75.0", "v1.75.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, versionLess(tt.a, tt.b))
		})
	}
}

func TestLookBinary(t *testing.T) {
	t.Parallel()
	dir1, dir2 := t.TempDir(), t.TempDir()
	mk := func(dir, name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), mode))
		return p
	}
	mk(dir1, "jaeger-v1.9.0", 0o755)
	newest := mk(dir1, "jaeger-v1.10.0", 0o755)
	mk(dir1, "jaeger-v1.11.0", 0o644)     // not executable
	mk(dir1, "jaeger-v1.12.0.tmp", 0o755) // half-built
	mk(dir1, "jaeger-query-v9.0.0", 0o755)
	later := mk(dir2, "jaeger-v9.0.0", 0o755)
	mk(dir2, "prometheus-alertmanager-v0.25.0", 0o755)

	tests := []struct {
		name    string
		bin     string
		dirs    []string
		want    string
		wantErr bool
	}{
		{"newest in first dir", "jaeger", []string{dir1, dir2}, newest, false},
		{"first dir wins over newer later dir", "jaeger", []string{dir1, dir2}, newest, false},
		{"second dir", "jaeger", []string{t.TempDir(), dir2}, later, false},
		{"prefix of another name is not a version", "prometheus", []string{dir2}, "", false},
		{"falls back to PATH", "sh", []string{dir1}, "", false},
		{"missing everywhere", "meshdrill-no-such-backend", []string{dir1, dir2}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookBinary(tt.bin, tt.dirs)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			if tt.want != "" {
				assert.Equal(t, tt.want, got)
				return
			}
			if err == nil {
				assert.NotContains(t, got, dir2, "must not pick another backend's binary")
				assert.True(t, filepath.IsAbs(got))
			}
		})
	}
}

// recorder stands in for testing.TB to observe skipOrFail without ending the real test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runRecorded(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestMissingBinarySkipsOrFailsUnderCI(t *testing.T) {
	for _, tt := range []struct {
		ci         string
		wantFailed bool
	}{{"", false}, {"false", false}, {"true", true}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := runRecorded(t, func(tb testing.TB) { Binary(tb, "meshdrill-no-such-backend") })
			assert.Equal(t, tt.wantFailed, r.failed)
			assert.Equal(t, !tt.wantFailed, r.skipped)
			assert.Contains(t, r.msg, "scripts/install-backends.sh")
		})
	}
}

func TestCorpusDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(CorpusEnv, dir)
	assert.Equal(t, dir, CorpusDir(t))

	t.Setenv(CorpusEnv, filepath.Join(dir, "absent"))
	t.Setenv("CI", "true")
	r := runRecorded(t, func(tb testing.TB) { CorpusDir(tb) })
	assert.True(t, r.failed, "a missing corpus fails under CI")
	t.Setenv("CI", "")
	r = runRecorded(t, func(tb testing.TB) { CorpusDir(tb) })
	assert.True(t, r.skipped, "a missing corpus skips outside CI")
}

func TestRepoRoot(t *testing.T) {
	t.Parallel()
	root := RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	assert.Contains(t, string(data), "module github.com/meshdrill/meshdrill")
}

func TestFreeAddrs(t *testing.T) {
	t.Parallel()
	addrs := FreeAddrs(t, 8)
	seen := map[string]bool{}
	for _, a := range addrs {
		assert.False(t, seen[a], "duplicate %s", a)
		seen[a] = true
		assert.True(t, strings.HasPrefix(a, "127.0.0.1:"), a)
	}
	port := FreePort(t)
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err, "the port FreePort returned can be bound")
	l.Close()
}

func TestStartCapturesOutputAndStops(t *testing.T) {
	t.Parallel()
	p := Start(t, "/bin/sh", []string{"-c", "echo to-stdout; echo to-stderr >&2; exec sleep 300"}, WithGrace(2*time.Second))
	require.NotZero(t, p.PID)
	eventually(t, 10*time.Second, func() string {
		if out := p.Output(); !strings.Contains(out, "to-stdout") || !strings.Contains(out, "to-stderr") {
			return "output so far: " + out
		}
		return ""
	})
	assert.Contains(t, p.LogTail(1), "to-stderr")
	assert.False(t, p.Exited())
	p.Stop()
	assert.True(t, p.Exited())
	assert.ErrorIs(t, syscall.Kill(p.PID, 0), syscall.ESRCH, "process is gone")
	p.Stop() // idempotent
}

func TestStopKillsAfterGrace(t *testing.T) {
	t.Parallel()
	// The shell ignores SIGTERM, so only the SIGKILL after the grace period ends it.
	p := Start(t, "/bin/sh", []string{"-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"}, WithGrace(200*time.Millisecond))
	eventually(t, 10*time.Second, func() string {
		if !strings.Contains(p.Output(), "ready") {
			return "shell not ready"
		}
		return ""
	})
	p.Stop()
	assert.True(t, p.Exited())
	var ws syscall.WaitStatus
	if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		ws = st
	}
	assert.True(t, ws.Signaled())
	assert.Equal(t, syscall.SIGKILL, ws.Signal())
}

func TestWaitHTTP(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	WaitHTTP(t, srv.URL, 10*time.Second)
	assert.GreaterOrEqual(t, calls.Load(), int32(3))

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "never ready", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	err := waitHTTP(down.URL, 300*time.Millisecond, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 503 never ready")
}

func TestWaitHTTPNoticesExit(t *testing.T) {
	t.Parallel()
	p := Start(t, "/bin/sh", []string{"-c", "echo 'listen tcp: bind: address already in use' >&2; exit 3"})
	err := waitHTTP("http://"+FreeAddr(t)+"/", time.Minute, p)
	require.ErrorIs(t, err, errExited)
	assert.Contains(t, err.Error(), "exit status 3")
	assert.True(t, portTaken(p.Output()))
	assert.ErrorIs(t, p.WaitReady("http://"+FreeAddr(t)+"/", time.Minute), errExited)
}

func TestPortTaken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, output string
		want         bool
	}{
		{"go", "listen tcp 127.0.0.1:9090: bind: address already in use", true},
		{"nginx", `nginx: [emerg] bind() to 127.0.0.1:8443 failed (98: Address already in use)`, true},
		{"other failure", "error loading config", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, portTaken(tt.output))
		})
	}
}

func TestStartServerRetriesOnTakenPort(t *testing.T) {
	t.Parallel()
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ready.Close()
	attempts := 0
	p := StartServer(t, "flaky", func() (*Process, string) {
		attempts++
		if attempts == 1 {
			// Stands in for a server that lost the race for its port.
			return Start(t, "/bin/sh", []string{"-c", "echo 'bind() failed (98: Address already in use)' >&2; exit 1"}), "http://" + FreeAddr(t)
		}
		return Start(t, "/bin/sh", []string{"-c", "exec sleep 300"}), ready.URL
	})
	assert.Equal(t, 2, attempts)
	assert.False(t, p.Exited())
}

func TestPrometheusYAML(t *testing.T) {
	t.Parallel()
	text, err := prometheusYAML(PrometheusConfig{
		Targets: []ScrapeTarget{
			{Job: "envoy-stats", Targets: []string{"127.0.0.1:1", "127.0.0.1:2"}, MetricsPath: "/stats/prometheus"},
			{Job: "pushgateway", Targets: []string{"127.0.0.1:3"}, HonorLabels: true},
		},
		AlertmanagerURL: "http://127.0.0.1:4/am/",
	}, []string{"/r/rules-0.yml"})
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &got), text)
	assert.Equal(t, map[string]any{"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}, got["global"])
	assert.Equal(t, []any{"/r/rules-0.yml"}, got["rule_files"])
	scrapes := got["scrape_configs"].([]any)
	require.Len(t, scrapes, 2)
	assert.Equal(t, "/stats/prometheus", scrapes[0].(map[string]any)["metrics_path"])
	assert.Equal(t, true, scrapes[1].(map[string]any)["honor_labels"])
	am := got["alerting"].(map[string]any)["alertmanagers"].([]any)[0].(map[string]any)
	assert.Equal(t, "/am", am["path_prefix"])
	assert.Equal(t, []any{map[string]any{"targets": []any{"127.0.0.1:4"}}}, am["static_configs"])

	_, err = prometheusYAML(PrometheusConfig{Targets: []ScrapeTarget{{Targets: []string{"x:1"}}}}, nil)
	assert.ErrorContains(t, err, "no job name")
}
