package collectors

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the transcript's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echo answers with everything a careless backend could reflect: the
// Authorization header, the raw credential, the query string.
func echo(t *testing.T, status int, raw string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"you_sent":"`+r.Header.Get("Authorization")+`","raw":"`+raw+`","query":"`+r.URL.RawQuery+`"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTranscriptNeverWritesSecrets(t *testing.T) {
	const token, password = "tok-3f9a1c77e2", "pa55-w0rd-Zq"
	basic64 := base64.StdEncoding.EncodeToString([]byte("drill:" + password))
	tests := []struct {
		name string
		opts HTTPOptions
		raw  string // the credential as the backend echoes it
	}{
		{"bearer token", HTTPOptions{BearerToken: token}, token},
		{"basic password", HTTPOptions{BasicUser: "drill", BasicPassword: password}, password},
		{"basic, base64 echoed", HTTPOptions{BasicUser: "drill", BasicPassword: password}, basic64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := echo(t, 200, tt.raw)
			var tr syncBuffer
			tt.opts.Transcript = &tr
			e, err := NewEndpoint("test", srv.URL, tt.opts)
			require.NoError(t, err)
			body, err := e.Get(context.Background(), "/api/v1/query", url.Values{"query": {"up"}, "access_token": {token}})
			require.NoError(t, err)
			require.Contains(t, string(body), tt.raw, "the backend did echo the secret")

			out := tr.String()
			for _, secret := range []string{token, password, basic64} {
				assert.NotContains(t, out, secret)
			}
			assert.Contains(t, out, "http GET "+srv.URL+"/api/v1/query?access_token=REDACTED&query=up -> 200 OK, ")
			assert.Contains(t, out, `body: "{\"you_sent\":\"`)
			assert.Contains(t, out, "REDACTED")
		})
	}
}

func TestTranscriptURLPasswordAndCutSecrets(t *testing.T) {
	const password = "url-secret-991"
	// The secret straddles the excerpt's end: no prefix of it may remain.
	pad := strings.Repeat("x", 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, pad+password+pad)
	}))
	defer srv.Close()
	var tr syncBuffer
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("drill", password)
	e, err := NewEndpoint("test", u.String(), HTTPOptions{Transcript: &tr, BasicPassword: password, TranscriptBody: 25})
	require.NoError(t, err)
	_, err = e.Get(context.Background(), "/x", nil)
	require.NoError(t, err)
	out := tr.String()
	assert.NotContains(t, out, "url-s")
	assert.NotContains(t, out, "drill:")
	assert.Contains(t, out, `body: "`+pad+`REDACTED"…`)
	assert.Contains(t, out, "54 bytes in ")
}

func TestTranscriptRecordsStatusRetriesAndErrors(t *testing.T) {
	url, _ := scripted(t, status(503, "overloaded"), status(200, `{"status":"success"}`))
	var tr syncBuffer
	var waits []time.Duration
	e, err := NewEndpoint("loki", url, HTTPOptions{Transcript: &tr, Retry: fast(&waits)})
	require.NoError(t, err)
	_, err = e.Get(context.Background(), "/loki/api/v1/query_range", nil)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(tr.String()), "\n")
	require.Len(t, lines, 5, tr.String())
	assert.Regexp(t, `^http GET http://127\.0\.0\.1:\d+/loki/api/v1/query_range -> 503 Service Unavailable, 10 bytes in \S+$`, lines[0])
	assert.Equal(t, `  body: "overloaded"`, lines[1])
	assert.Regexp(t, `^loki: attempt 1 failed, retrying in \S+: loki GET .* http 503 service unavailable`, lines[2])
	assert.Contains(t, lines[3], "-> 200 OK, 20 bytes in ")
	assert.Equal(t, `  body: "{\"status\":\"success\"}"`, lines[4])

	// A backend that is not there: the failure is recorded too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	var tr2 syncBuffer
	e, err = NewEndpoint("test", "http://"+addr, HTTPOptions{Transcript: &tr2, Retry: NoRetry})
	require.NoError(t, err)
	_, err = e.Get(context.Background(), "/x", nil)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Regexp(t, `^http GET http://`+addr+`/x -> error after \S+: .*connection refused\n$`, tr2.String())
}

func TestTranscriptOffByDefault(t *testing.T) {
	c, err := NewHTTPClient(HTTPOptions{})
	require.NoError(t, err)
	_, isTranscriber := c.Transport.(*transcriber)
	assert.False(t, isTranscriber)
}
