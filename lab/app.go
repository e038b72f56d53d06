package lab

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxAppDelay bounds /delay/<ms> so a typo cannot park a request for hours.
const maxAppDelay = 60 * time.Second

// appHandler is the workload's application behind its sidecar:
// /delay/<ms> sleeps then answers 200, /status/<code> answers that code,
// anything else answers 200 "ok".
func appHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case strings.HasPrefix(r.URL.Path, "/delay/"):
			ms, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/delay/"))
			if err != nil || ms < 0 {
				http.Error(w, "bad delay", http.StatusBadRequest)
				return
			}
			d := min(time.Duration(ms)*time.Millisecond, maxAppDelay)
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
			_, _ = w.Write([]byte("ok\n"))
		case strings.HasPrefix(r.URL.Path, "/status/"):
			code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
			if err != nil || code < 100 || code > 599 {
				http.Error(w, "bad status", http.StatusBadRequest)
				return
			}
			w.WriteHeader(code)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
	})
}
