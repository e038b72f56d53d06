package testenv

import "testing"

// defaultAlertmanagerYAML routes every alert to a receiver that sends nothing, grouping
// fast so an alert is visible in /api/v2/alerts about a second after Prometheus sends it.
const defaultAlertmanagerYAML = `route:
  receiver: 'null'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: 'null'
`

// AlertmanagerConfig describes the server StartAlertmanager runs.
type AlertmanagerConfig struct {
	// Config is the alertmanager.yml content; empty means a no-op receiver with 1s grouping.
	Config string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
}

// Alertmanager is a running Alertmanager.
type Alertmanager struct {
	URL     string // http://127.0.0.1:PORT; alerts at URL+"/api/v2/alerts"
	Process *Process
}

// StartAlertmanager starts Alertmanager (Debian's prometheus-alertmanager 0.25) on a free
// loopback port with clustering off, waits until /-/ready answers, and stops it when the
// test ends.
func StartAlertmanager(t testing.TB, cfg AlertmanagerConfig) *Alertmanager {
	t.Helper()
	bin := Binary(t, "prometheus-alertmanager")
	text := cfg.Config
	if text == "" {
		text = defaultAlertmanagerYAML
	}
	confPath := writeFile(t, t.TempDir(), "alertmanager.yml", text)
	var am *Alertmanager
	StartServer(t, "alertmanager", func() (*Process, string) {
		addr := FreeAddr(t)
		args := append([]string{
			"--config.file=" + confPath,
			"--storage.path=" + t.TempDir(),
			"--web.listen-address=" + addr,
			// Empty disables the gossip listener, which otherwise binds 0.0.0.0:9094.
			"--cluster.listen-address=",
		}, cfg.ExtraArgs...)
		p := Start(t, bin, args)
		am = &Alertmanager{URL: "http://" + addr, Process: p}
		return p, am.URL + "/-/ready"
	})
	return am
}
