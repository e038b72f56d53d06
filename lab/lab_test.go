package lab

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

func TestDeniedRequestRecordedEverywhere(t *testing.T) {
	l := startLab(t)
	pay := l.Workloads["payments"]
	cert := forge(t, l, forbiddenID)
	r := send(t, mtlsClient(t, l, pay, &cert), pay, "/api/charge")

	require.Equal(t, 403, r.status)
	assert.Equal(t, "RBAC: access denied", r.body)
	assert.Equal(t, "19", r.header.Get("Content-Length"))
	assert.Equal(t, "envoy", r.header.Get("Server"))

	// Metrics, through the embedded store's HTTP API.
	q := `istio_requests_total{source_principal="` + forbiddenID + `"}`
	vec := poll(t, "the denial in the metrics store", func() (int, bool) {
		v := instant(t, l, q)
		return len(v), len(v) > 0
	})
	require.Equal(t, 1, vec)
	got := instant(t, l, q)[0]
	assert.Equal(t, 1.0, float64(got.Value))
	m := got.Metric
	assert.Equal(t, "403", string(m["response_code"]))
	assert.Equal(t, "destination", string(m["reporter"]))
	assert.Equal(t, "unknown", string(m["source_workload"]))
	assert.Equal(t, "unknown", string(m["source_workload_namespace"]))
	assert.Equal(t, "mutual_tls", string(m["connection_security_policy"]))
	assert.Equal(t, "payments", string(m["destination_workload"]))
	assert.Equal(t, pay.SPIFFEID, string(m["destination_principal"]))
	assert.Equal(t, "-", string(m["response_flags"]))
	assert.Equal(t, "envoy-stats", string(m["job"]))
	assert.NotEmpty(t, string(m["instance"]))
	assert.Equal(t, 1.0, scrapedValue(t, pay, "envoy_http_inbound_0_0_0_0_8080_rbac_denied"))
	tcp := `{connection_security_policy="mutual_tls",destination_app="payments",destination_canonical_revision="v1",destination_canonical_service="payments",destination_cluster="Kubernetes",destination_principal="spiffe://cluster.local/ns/shop/sa/payments",destination_service="payments.shop.svc.cluster.local",destination_service_name="payments",destination_service_namespace="shop",destination_version="v1",destination_workload="payments",destination_workload_namespace="shop",reporter="destination",request_protocol="tcp",response_flags="-",source_app="unknown",source_canonical_revision="latest",source_canonical_service="unknown",source_cluster="unknown",source_principal="` + forbiddenID + `",source_version="unknown",source_workload="unknown",source_workload_namespace="unknown"}`
	assert.Equal(t, 1.0, scrapedValue(t, pay, "istio_tcp_connections_opened_total"+tcp))
	poll(t, "the connection counted closed", func() (float64, bool) {
		v := scrapedValue(t, pay, "istio_tcp_connections_closed_total"+tcp)
		return v, v == 1
	})

	// Access log, by request id.
	lines := linesWith(readLog(t, pay), r.requestID)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"GET /api/charge HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 `)
	assert.Contains(t, lines[0], ` inbound|8080|| - `+pay.InboundAddr+` 127.0.0.1:`)

	// Trace, by id, case- and zero-insensitively.
	require.NoError(t, l.Flush(context.Background()))
	for _, id := range []string{r.traceID, strings.ToUpper(r.traceID)} {
		code, body := poll(t, "the trace in the trace store", func() (traceAnswer, bool) {
			c, b := jaegerTrace(t, l, id)
			return traceAnswer{c, b}, c == 200
		}).unpack()
		require.Equal(t, 200, code)
		tags := spanTags(t, body)
		require.Len(t, tags, 1)
		sp := tags[0]
		assert.Equal(t, 403.0, sp["http.status_code"])
		assert.Equal(t, "server", sp["span.kind"])
		assert.Equal(t, r.requestID, sp["guid:x-request-id"])
		assert.Equal(t, "payments.shop.svc.cluster.local:8080/*", sp["_operationName"])
		assert.NotContains(t, sp, "error", "a 403 server span is not an error")
		assert.NotEqual(t, "ERROR", sp["otel.status_code"])
	}
}

type traceAnswer struct {
	code int
	body map[string]any
}

func (a traceAnswer) unpack() (int, map[string]any) { return a.code, a.body }

func TestAllowedAndDenyPolicyRequests(t *testing.T) {
	l := startLab(t)
	pay := l.Workloads["payments"]
	cert := forge(t, l, allowedID)
	c := mtlsClient(t, l, pay, &cert)

	ok := send(t, c, pay, "/delay/300")
	require.Equal(t, 200, ok.status)
	assert.NotEmpty(t, ok.header.Get("X-Envoy-Upstream-Service-Time"))
	admin := send(t, c, pay, "/admin/users")
	require.Equal(t, 403, admin.status)
	teapot := send(t, c, pay, "/status/503")
	require.Equal(t, 503, teapot.status)

	lines := readLog(t, pay)
	okLine := linesWith(lines, ok.requestID)
	require.Len(t, okLine, 1)
	assert.Contains(t, okLine[0], `"GET /delay/300 HTTP/1.1" 200 - via_upstream - "-" 0 3 `)
	adminLine := linesWith(lines, admin.requestID)
	require.Len(t, adminLine, 1)
	assert.Contains(t, adminLine[0], " 403 - rbac_access_denied_matched_policy[ns[shop]-policy[payments-deny-admin]-rule[0]] - ")

	require.NoError(t, l.Flush(context.Background()))
	_, body := poll(t, "the delayed trace", func() (traceAnswer, bool) {
		c, b := jaegerTrace(t, l, ok.traceID)
		return traceAnswer{c, b}, c == 200
	}).unpack()
	sp := spanTags(t, body)[0]
	// The span's recorded duration covers the app's 300 ms sleep (µs).
	assert.GreaterOrEqual(t, sp["_duration"].(float64), 300000.0)
	_, body = poll(t, "the 503 trace", func() (traceAnswer, bool) {
		c, b := jaegerTrace(t, l, teapot.traceID)
		return traceAnswer{c, b}, c == 200
	}).unpack()
	sp = spanTags(t, body)[0]
	assert.Equal(t, "ERROR", sp["otel.status_code"])
	assert.Equal(t, true, sp["error"])

	slow := poll(t, "the latency histogram", func() (float64, bool) {
		v := instant(t, l, `sum(istio_request_duration_milliseconds_count{reporter="destination",source_principal="`+allowedID+`"}) - sum(istio_request_duration_milliseconds_bucket{reporter="destination",source_principal="`+allowedID+`",le=~"250(\\.0)?"})`)
		if len(v) == 0 {
			return 0, false
		}
		return float64(v[0].Value), true
	})
	assert.Equal(t, 1.0, slow, "one request above 250 ms")
}

func TestRequestWithoutTraceparentIsNotTraced(t *testing.T) {
	l := startLab(t)
	fe := l.Workloads["frontend"]
	cert := forge(t, l, forbiddenID) // frontend has no policy: any mesh identity is admitted
	c := mtlsClient(t, l, fe, &cert)
	resp, err := c.Get("https://" + fe.InboundAddr + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, l.Flush(context.Background()))
	assert.Equal(t, 0, l.traces.SpanCount())
	assert.Equal(t, 0.0, scrapedValue(t, fe, "envoy_http_inbound_0_0_0_0_8080_rbac_denied"), "no RBAC filter without a policy")
}

// plaintext sends an HTTP request without TLS and returns what came back
// and the client's own address.
func plaintext(t *testing.T, wl Workload) (string, []byte, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", wl.InboundAddr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: " + wl.Service + "\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, readErr := io.ReadAll(conn)
	return conn.LocalAddr().String(), got, readErr
}

func TestPlaintextIsClosedWithoutAnswer(t *testing.T) {
	l := startLab(t)
	pay := l.Workloads["payments"]
	client, got, err := plaintext(t, pay)
	assert.Empty(t, got, "no HTTP answer to plaintext")
	if err != nil {
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the connection must be closed, not left open")
	}

	nr := linesWith(readLog(t, pay), " "+client+" ")
	require.Len(t, nr, 1)
	assert.Regexp(t, `^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "- - -" 0 NR filter_chain_not_found - "-" 0 0 \d+ - "-" "-" "-" "-" "-" - - `+
		strings.ReplaceAll(pay.InboundAddr, ".", `\.`)+` `+strings.ReplaceAll(client, ".", `\.`)+` - -$`, nr[0])
	assert.Equal(t, 1.0, scrapedValue(t, pay, `envoy_listener_no_filter_chain_match{listener_address="0.0.0.0_15006"}`))
	assert.Equal(t, 1.0, scrapedValue(t, pay, `envoy_tls_inspector_tls_not_found`))

	// Istio's standard metrics never see it (istio#32774).
	v := poll(t, "a scrape after the plaintext attempt", func() (float64, bool) {
		v := instant(t, l, `envoy_listener_no_filter_chain_match`)
		s := 0.0
		for _, x := range v {
			s += float64(x.Value)
		}
		return s, s >= 1
	})
	require.Equal(t, 1.0, v)
	assert.Empty(t, instant(t, l, `istio_requests_total`))
	assert.Empty(t, instant(t, l, `istio_tcp_connections_opened_total`))
}

func TestHandshakeFailuresCountedNotLogged(t *testing.T) {
	verifyError := "envoy_listener_ssl_fail_verify_error"
	noCert := "envoy_listener_ssl_fail_verify_no_cert"
	tests := []struct {
		name    string
		cert    func(t *testing.T, l *Lab) *tls.Certificate
		tweak   func(*tls.Config)
		counter string // the specific counter, "" when only connection_error moves
	}{
		{"untrusted CA", func(t *testing.T, l *Lab) *tls.Certificate {
			c := foreignCert(t, forbiddenID)
			return &c
		}, nil, verifyError},
		{"no client cert", func(*testing.T, *Lab) *tls.Certificate { return nil }, nil, noCert},
		{"expired cert", func(t *testing.T, l *Lab) *tls.Certificate {
			c := forgeWindow(t, l, allowedID, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
			return &c
		}, nil, verifyError},
		{"not yet valid cert", func(t *testing.T, l *Lab) *tls.Certificate {
			c := forgeWindow(t, l, allowedID, time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour))
			return &c
		}, nil, verifyError},
		{"TLS 1.1 client", func(t *testing.T, l *Lab) *tls.Certificate {
			c := forge(t, l, allowedID)
			return &c
		}, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLab(t)
			pay := l.Workloads["payments"]
			c := mtlsClient(t, l, pay, tt.cert(t, l))
			if tt.tweak != nil {
				tt.tweak(c.Transport.(*http.Transport).TLSClientConfig)
			}
			resp, err := c.Get("https://" + pay.InboundAddr + "/")
			if resp != nil {
				_ = resp.Body.Close()
			}
			require.Error(t, err, "the handshake must fail")
			sel := `{listener_address="0.0.0.0_15006"}`
			// The server counts after its side of the handshake; the client
			// may see the alert first.
			poll(t, "connection_error", func() (float64, bool) {
				v := scrapedValue(t, pay, "envoy_listener_ssl_connection_error"+sel)
				return v, v == 1
			})
			for _, name := range []string{verifyError, noCert} {
				want := 0.0
				if name == tt.counter {
					want = 1
				}
				assert.Equal(t, want, scrapedValue(t, pay, name+sel), name)
			}
			assert.Equal(t, 0.0, scrapedValue(t, pay, "envoy_listener_ssl_handshake"+sel))
			assert.Empty(t, readLog(t, pay), "Istio's listener log keeps only NR lines")
		})
	}
}

func forgeWindow(t *testing.T, l *Lab, id string, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	mesh := parseLabCA(t, l)
	return *testenv.IssueClientCert(t, mesh.cert, mesh.key, testenv.ClientCert{SPIFFEID: id, NotBefore: notBefore, NotAfter: notAfter})
}

func parseLabCA(t *testing.T, l *Lab) *ca {
	t.Helper()
	caBlock, _ := pem.Decode(l.CACertPEM)
	require.NotNil(t, caBlock)
	cert, err := x509.ParseCertificate(caBlock.Bytes)
	require.NoError(t, err)
	keyBlock, _ := pem.Decode(l.CAKeyPEM)
	require.NotNil(t, keyBlock)
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	require.NoError(t, err)
	return &ca{cert: cert, key: key.(*ecdsa.PrivateKey)}
}

func TestUnknownFault(t *testing.T) {
	_, err := Start(context.Background(), Options{Breaks: []string{"no-access-log", "bogus"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"bogus"`)
	for name := range Faults() {
		assert.Contains(t, err.Error(), name)
	}
}

func TestCloseRemovesTempDir(t *testing.T) {
	l, err := Start(context.Background(), Options{})
	require.NoError(t, err)
	dir := l.dir
	_, err = os.Stat(dir)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err))
}

func TestMalformedRequestLoggedAsCodecError(t *testing.T) {
	tests := []struct {
		name    string
		request string
		code    int
		details string
	}{
		{"bad header line", "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "http1.codec_error"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n", 431, "http1.headers_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLab(t)
			pay := l.Workloads["payments"]
			cert := forge(t, l, allowedID)
			tc := mtlsClient(t, l, pay, &cert).Transport.(*http.Transport).TLSClientConfig
			conn, err := tls.Dial("tcp", pay.InboundAddr, tc)
			require.NoError(t, err)
			defer conn.Close()
			go func() { _, _ = conn.Write([]byte(tt.request)) }()
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tt.code, resp.StatusCode)

			lines := poll(t, "the codec error line", func() ([]string, bool) {
				ls := linesWith(readLog(t, pay), " DPE ")
				return ls, len(ls) == 1
			})
			assert.Regexp(t, `^\[[^\]]+\] "- - HTTP/1\.1" `+strconv.Itoa(tt.code)+` DPE `+regexp.QuoteMeta(tt.details)+
				` - "-" 0 \d+ \d+ - "-" "-" "-" "-" "-" - - `+regexp.QuoteMeta(pay.InboundAddr)+` `+regexp.QuoteMeta(conn.LocalAddr().String())+
				` payments\.shop\.svc\.cluster\.local -$`, lines[0])
			assert.Equal(t, 0.0, scrapedValue(t, pay, "envoy_http_inbound_0_0_0_0_8080_rbac_allowed"), "never reached the HTTP filters")
		})
	}
}

func TestRequestBodyIsForwardedAndCounted(t *testing.T) {
	l := startLab(t)
	pay := l.Workloads["payments"]
	cert := forge(t, l, allowedID)
	c := mtlsClient(t, l, pay, &cert)
	req, err := http.NewRequest(http.MethodPost, "https://"+pay.InboundAddr+"/orders", strings.NewReader("hello"))
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "body-test-1")
	req.Host = pay.Service
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	lines := linesWith(readLog(t, pay), `"body-test-1"`)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"POST /orders HTTP/1.1" 200 - via_upstream - "-" 5 3 `)
	assert.Contains(t, lines[0], ` "`+pay.Service+`" "127.0.0.1:`)
	assert.Regexp(t, ` inbound\|8080\|\| 127\.0\.0\.1:\d+ `, lines[0], "upstream local address of the app connection")
}
