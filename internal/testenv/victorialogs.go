package testenv

import "testing"

// VictoriaLogs is a running VictoriaLogs, standing in for Loki on the ingest side.
type VictoriaLogs struct {
	URL string // http://127.0.0.1:PORT
	// LokiPushURL accepts Loki's push API (protobuf or JSON).
	LokiPushURL string
	// QueryURL answers LogsQL queries (?query=...) with JSON lines.
	QueryURL string
	Process  *Process
}

// StartVictoriaLogs starts VictoriaLogs (built by scripts/install-backends.sh victorialogs)
// on a free loopback port, waits until /health answers, and stops it when the test ends.
func StartVictoriaLogs(t testing.TB, extraArgs ...string) *VictoriaLogs {
	t.Helper()
	bin := Binary(t, "victoria-logs")
	var vl *VictoriaLogs
	StartServer(t, "victoria-logs", func() (*Process, string) {
		addr := FreeAddr(t)
		args := append([]string{
			"-httpListenAddr=" + addr,
			"-storageDataPath=" + t.TempDir(),
			// Recorded samples carry old timestamps; the default 7d retention would drop them.
			"-retentionPeriod=100y",
		}, extraArgs...)
		p := Start(t, bin, args)
		vl = &VictoriaLogs{
			URL:         "http://" + addr,
			LokiPushURL: "http://" + addr + "/insert/loki/api/v1/push",
			QueryURL:    "http://" + addr + "/select/logsql/query",
			Process:     p,
		}
		return p, vl.URL + "/health"
	})
	return vl
}
