package testenv

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartUpstreamApp serves the application that the tests' proxies stand in front of,
// on a free loopback port, until the test ends: /delay/<ms> answers 200 after the
// delay (at most 10s), /status/<code> answers that code, anything else 200 "ok".
// It returns the "127.0.0.1:PORT" it listens on.
func StartUpstreamApp(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: upstream app: %v", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(serveUpstream)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func serveUpstream(w http.ResponseWriter, r *http.Request) {
	if ms, ok := strings.CutPrefix(r.URL.Path, "/delay/"); ok {
		n, err := strconv.Atoi(ms)
		if err != nil || n < 0 || n > 10_000 {
			http.Error(w, "bad delay", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(n) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	if code, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
		n, err := strconv.Atoi(code)
		if err != nil || n < 200 || n > 599 {
			http.Error(w, "bad status", http.StatusBadRequest)
			return
		}
		w.WriteHeader(n)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}
