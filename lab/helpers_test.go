package lab

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

const (
	forbiddenID = "spiffe://cluster.local/ns/meshdrill/sa/forbidden-identity"
	allowedID   = "spiffe://cluster.local/ns/meshdrill/sa/allowed-control"
)

// startLab starts a lab with a short scrape interval and closes it at the end of the test.
func startLab(t *testing.T, breaks ...string) *Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := Start(ctx, Options{Breaks: breaks, ScrapeInterval: 100 * time.Millisecond, Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// forge issues a client certificate for spiffeID from the lab's CA, as
// meshdrill's injector does from CACertPEM/CAKeyPEM.
func forge(t *testing.T, l *Lab, spiffeID string) tls.Certificate {
	t.Helper()
	mesh := parseLabCA(t, l)
	return *testenv.IssueClientCert(t, mesh.cert, mesh.key, testenv.ClientCert{SPIFFEID: spiffeID})
}

// foreignCert is signed by a CA the mesh does not trust.
func foreignCert(t *testing.T, spiffeID string) tls.Certificate {
	t.Helper()
	other, err := newCA("evil.example")
	require.NoError(t, err)
	c, err := other.issue(spiffeID, nil, nil)
	require.NoError(t, err)
	return c
}

// mtlsClient always sends cert (nil: sends none), whatever CAs the server
// lists, as meshdrill's injector must.
func mtlsClient(t *testing.T, l *Lab, wl Workload, cert *tls.Certificate) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(l.CACertPEM))
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{
				RootCAs:    pool,
				ServerName: wl.Service,
				MinVersion: tls.VersionTLS12,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if cert == nil {
						return &tls.Certificate{}, nil
					}
					return cert, nil
				},
			},
		},
	}
}

type sentRequest struct {
	requestID string
	traceID   string
	status    int
	body      string
	header    http.Header
}

// send makes one tagged request (x-request-id and a sampled traceparent).
func send(t *testing.T, c *http.Client, wl Workload, path string) sentRequest {
	t.Helper()
	var tid [16]byte
	var sid [8]byte
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	s := sentRequest{requestID: newRequestID(), traceID: fmt.Sprintf("%x", tid)}
	req, err := http.NewRequest(http.MethodGet, "https://"+wl.InboundAddr+path, nil)
	require.NoError(t, err)
	req.Host = wl.Service
	req.Header.Set("X-Request-Id", s.requestID)
	req.Header.Set("Traceparent", fmt.Sprintf("00-%s-%x-01", s.traceID, sid))
	req.Header.Set("User-Agent", "meshdrill-test")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	s.status, s.body, s.header = resp.StatusCode, string(b), resp.Header
	return s
}

// poll retries f until it reports done or the budget runs out; it bounds
// waiting for asynchronous telemetry and asserts nothing about time.
func poll[T any](t *testing.T, what string, f func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, ok := f()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last value: %v", what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func promAPI(t *testing.T, l *Lab) promv1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: l.PrometheusURL})
	require.NoError(t, err)
	return promv1.NewAPI(c)
}

// instant runs an instant PromQL query at the embedded store.
func instant(t *testing.T, l *Lab, q string) model.Vector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, _, _, err := promAPI(t, l).Query(ctx, q, time.Now())
	require.NoError(t, err)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "want a vector, got %T", v)
	return vec
}

// scrapedValue reads one sample straight from a sidecar's metrics endpoint
// (absent = 0).
func scrapedValue(t *testing.T, wl Workload, series string) float64 {
	t.Helper()
	resp, err := http.Get(wl.MetricsURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			require.NoError(t, err)
			return v
		}
	}
	require.NoError(t, sc.Err())
	return 0
}

func readLog(t *testing.T, wl Workload) []string {
	t.Helper()
	b, err := os.ReadFile(wl.AccessLogPath)
	require.NoError(t, err)
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func linesWith(lines []string, sub string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

// jaegerTrace fetches a trace by id; it returns the HTTP status and the decoded body.
func jaegerTrace(t *testing.T, l *Lab, traceID string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(l.JaegerURL + "/api/traces/" + traceID)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// spanTags flattens the tags of the trace's spans: one map per span.
func spanTags(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	data, ok := body["data"].([]any)
	require.True(t, ok)
	require.Len(t, data, 1)
	spans := data[0].(map[string]any)["spans"].([]any)
	var out []map[string]any
	for _, s := range spans {
		sp := s.(map[string]any)
		tags := map[string]any{"_duration": sp["duration"], "_operationName": sp["operationName"]}
		for _, tg := range sp["tags"].([]any) {
			kv := tg.(map[string]any)
			tags[kv["key"].(string)] = kv["value"]
		}
		out = append(out, tags)
	}
	return out
}
