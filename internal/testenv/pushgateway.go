package testenv

import (
	"path/filepath"
	"testing"
)

// Pushgateway is a running Pushgateway. Scrape it with HonorLabels so pushed job and
// instance labels survive.
type Pushgateway struct {
	URL     string // http://127.0.0.1:PORT
	Addr    string // 127.0.0.1:PORT, for a ScrapeTarget
	Process *Process
}

// StartPushgateway starts Pushgateway (Debian's prometheus-pushgateway 1.5) on a free
// loopback port, waits until /-/ready answers, and stops it when the test ends.
func StartPushgateway(t testing.TB, extraArgs ...string) *Pushgateway {
	t.Helper()
	bin := Binary(t, "prometheus-pushgateway")
	var pg *Pushgateway
	StartServer(t, "pushgateway", func() (*Process, string) {
		addr := FreeAddr(t)
		// Debian's build persists to a shared file under /var/lib by
		// default: every test gets its own, or pushes leak between tests.
		persist := "--persistence.file=" + filepath.Join(t.TempDir(), "pushgateway.data")
		p := Start(t, bin, append([]string{"--web.listen-address=" + addr, persist}, extraArgs...))
		pg = &Pushgateway{URL: "http://" + addr, Addr: addr, Process: p}
		return p, pg.URL + "/-/ready"
	})
	return pg
}
