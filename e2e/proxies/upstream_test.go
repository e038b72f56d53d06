package proxies_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startUpstream is the application behind the edges: /delay/<ms> answers 200
// after the delay, /status/<code> answers that code, anything else 200.
func startUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}
