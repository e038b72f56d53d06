// Package proxies_test drills real proxies that nobody on this project wrote
// (Debian's nginx and HAProxy, Caddy 2.11), each configured as an mTLS edge
// with an authorization rule in front of a small application, and proves the
// example suites in examples/edge against the telemetry they ship themselves:
// access-log files, syslog into VictoriaLogs, metrics scraped by Prometheus,
// an alert routed to Alertmanager, spans exported to Jaeger. No code of
// meshdrill's writes any of that evidence.
//
// Each proxy runs three times: enforcing (the verdicts an operator wants),
// open (its rule removed: NOT_ENFORCED) and dark (its telemetry switched
// off: FAIL).
package proxies_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// stack is the backends every edge reports to.
type stack struct {
	pki      *pki
	upstream string
	vlogs    *testenv.VictoriaLogs
	syslog   string // VictoriaLogs' syslog listener, UDP
	am       *testenv.Alertmanager
	jaeger   *testenv.Jaeger
	prom     *testenv.Prometheus
}

func TestEdgeProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx, HAProxy, Caddy, Prometheus, Alertmanager, Jaeger and VictoriaLogs")
	}
	st := &stack{pki: newPKI(t), upstream: testenv.StartUpstreamApp(t)}
	st.syslog = freeUDPAddr(t)
	st.vlogs = testenv.StartVictoriaLogs(t, "-syslog.listenAddr.udp="+st.syslog)
	st.am = testenv.StartAlertmanager(t, testenv.AlertmanagerConfig{})
	st.jaeger = testenv.StartJaeger(t)

	// A missing Caddy 2.11 skips its part only (fails under CI).
	haveCaddy := false
	t.Run("caddy 2.11 present", func(t *testing.T) {
		needCaddyTracing(t, testenv.Binary(t, "caddy"))
		haveCaddy = true
	})
	base := baseConfig(st.pki, st.upstream, st.syslog)
	proxies := []proxy{nginxProxy, haproxyProxy}
	if haveCaddy {
		proxies = append(proxies, caddyProxy(st.jaeger.OTLPGRPCAddr))
	}
	edges := map[string]*edge{}
	for _, p := range proxies {
		for _, v := range []variant{enforcing, open, dark} {
			e := startEdge(t, p, v, base)
			edges[e.name] = e
		}
	}

	var scrape []testenv.ScrapeTarget
	for _, e := range edges {
		if e.metrics != "" {
			scrape = append(scrape, testenv.ScrapeTarget{Job: e.name, Targets: []string{e.metrics}})
		}
	}
	rules, err := os.ReadFile(examplePath(t, "edge/alerts.rules.yml"))
	require.NoError(t, err)
	st.prom = testenv.StartPrometheus(t, testenv.PrometheusConfig{
		Targets: scrape, Rules: []string{string(rules)}, AlertmanagerURL: st.am.URL,
	})
	// Every baseline must come from a scrape: an exporter not yet scraped
	// reads as absent, which the evaluator takes for 0.
	st.prom.WaitScraped(t, time.Now(), 30*time.Second)

	t.Run("nginx", func(t *testing.T) {
		t.Parallel()
		testNginx(t, st, edges)
	})
	t.Run("haproxy", func(t *testing.T) {
		t.Parallel()
		testHAProxy(t, st, edges)
	})
	t.Run("caddy", func(t *testing.T) {
		if !haveCaddy {
			t.Skip("no Caddy 2.11: see the subtest above")
		}
		t.Parallel()
		testCaddy(t, st, edges)
	})
	t.Run("cli", func(t *testing.T) {
		t.Parallel()
		testCLI(t, st, edges["nginx-enforcing"])
	})
}

func (st *stack) vars(e *edge, prefix string) map[string]string {
	return map[string]string{
		prefix + "_ADDR":       e.addr,
		prefix + "_METRICS":    orUnscraped(e.metrics),
		prefix + "_ACCESS_LOG": e.accessLog,
		"EDGE_CA_CERT":         st.pki.CAFile,
		"EDGE_CA_KEY":          st.pki.caKey,
		"EDGE_ALLOWED_CERT":    st.pki.allowedCert,
		"EDGE_ALLOWED_KEY":     st.pki.allowedKey,
		"EDGE_FORBIDDEN_CERT":  st.pki.forbiddenCert,
		"EDGE_FORBIDDEN_KEY":   st.pki.forbiddenKey,
		"PROMETHEUS_URL":       st.prom.URL,
		"ALERTMANAGER_URL":     st.am.URL,
		"VICTORIALOGS_URL":     st.vlogs.URL,
		"JAEGER_URL":           st.jaeger.QueryURL,
	}
}

// orUnscraped names an instance nobody scrapes, for an edge whose metrics
// are off: its queries find nothing, as they would in production.
func orUnscraped(addr string) string {
	if addr == "" {
		return net.JoinHostPort("127.0.0.1", "1")
	}
	return addr
}

// Verdicts the tables below repeat. Evidence for a let-through request is
// reported NOT_ENFORCED as well: there was no denial to record.
const (
	bs = "BLIND_SPOT"
	ne = "NOT_ENFORCED"
)

func testNginx(t *testing.T, st *stack, edges map[string]*edge) {
	suite := examplePath(t, "edge/nginx.yaml")
	t.Run("enforcing", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["nginx-enforcing"], "NGINX"), runOptions{})
		logged := row{Client: "PASS", Metrics: "-", Logs: "PASS", Traces: "-", Alerts: "-", Drill: "PASS"}
		assertRows(t, map[string]row{
			"forbidden-identity":  {Client: "PASS", Metrics: bs, Logs: "PASS", Traces: bs, Alerts: "-", Drill: bs},
			"forbidden-operation": logged,
			"plaintext":           logged,
			"no-client-cert":      logged,
			"untrusted-cert":      {Client: "PASS", Metrics: bs, Logs: "PASS", Traces: "-", Alerts: "-", Drill: bs},
			"expired-cert":        logged,
			"weak-tls":            {Client: "PASS", Metrics: "-", Logs: bs, Traces: "-", Alerts: "-", Drill: bs},
			"latency":             logged,
			"error-burst":         logged,
			"control":             logged,
		}, rep)
		// The same lines went over syslog to VictoriaLogs.
		vl, err := newVictoriaLogs(&expectations.HTTPBackend{URL: st.vlogs.URL, Selector: "app_name:nginx"})
		require.NoError(t, err)
		ids := requestIDs(rep, "forbidden-identity")
		require.NotEmpty(t, ids)
		var got map[string][]string
		assert.Eventually(t, func() bool {
			got, err = vl.Grep(context.Background(), ids, rep.Started, rep.Finished)
			return err == nil && len(got) == len(ids)
		}, 10*time.Second, 200*time.Millisecond, "nginx's syslog lines in VictoriaLogs: %v %v", got, err)
		for _, lines := range got {
			assert.Contains(t, lines[0], `"GET /api/orders HTTP/1.1" 403 `)
		}
	})
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["nginx-open"], "NGINX"), runOptions{selectRE: "^(forbidden-identity|forbidden-operation)$", deadline: 5 * time.Second})
		assertRows(t, map[string]row{
			"forbidden-identity":  {Client: ne, Metrics: bs, Logs: ne, Traces: bs, Alerts: "-", Drill: ne},
			"forbidden-operation": {Client: ne, Metrics: "-", Logs: ne, Traces: "-", Alerts: "-", Drill: ne},
		}, rep)
	})
	t.Run("dark", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["nginx-dark"], "NGINX"), runOptions{selectRE: "^(forbidden-operation|untrusted-cert)$", deadline: 5 * time.Second})
		assertRows(t, map[string]row{
			"forbidden-operation": {Client: "PASS", Metrics: "-", Logs: "FAIL", Traces: "-", Alerts: "-", Drill: "FAIL"},
			"untrusted-cert":      {Client: "PASS", Metrics: bs, Logs: "FAIL", Traces: "-", Alerts: "-", Drill: "FAIL"},
		}, rep)
	})
}

func testHAProxy(t *testing.T, st *stack, edges map[string]*edge) {
	suite := examplePath(t, "edge/haproxy.yaml")
	t.Run("enforcing", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["haproxy-enforcing"], "HAPROXY"), runOptions{})
		logged := row{Client: "PASS", Metrics: "-", Logs: "PASS", Traces: "-", Alerts: "-", Drill: "PASS"}
		counted := row{Client: "PASS", Metrics: "PASS", Logs: "PASS", Traces: "-", Alerts: "-", Drill: "PASS"}
		assertRows(t, map[string]row{
			"forbidden-identity":  {Client: "PASS", Metrics: "PASS", Logs: "PASS", Traces: bs, Alerts: "PASS", Drill: bs},
			"forbidden-operation": counted,
			"wrong-trust-domain":  logged,
			"untrusted-cert":      {Client: "PASS", Metrics: bs, Logs: "PASS", Traces: "-", Alerts: "-", Drill: bs},
			"expired-cert":        logged,
			"no-client-cert":      logged,
			"plaintext":           logged,
			"weak-tls":            logged,
			"latency":             counted,
			"error-burst":         counted,
			"control":             counted,
		}, rep)
		alert := result(t, rep, "forbidden-identity", "denial alert")
		assert.Equal(t, "firing", alert.Got, "EdgeDenials in Alertmanager")
	})
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["haproxy-open"], "HAPROXY"), runOptions{selectRE: "^forbidden-operation$", deadline: 5 * time.Second})
		assertRows(t, map[string]row{
			"forbidden-operation": {Client: ne, Metrics: ne, Logs: ne, Traces: "-", Alerts: "-", Drill: ne},
		}, rep)
	})
	t.Run("dark", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["haproxy-dark"], "HAPROXY"), runOptions{selectRE: "^(forbidden-identity|untrusted-cert)$", deadline: 5 * time.Second})
		assertRows(t, map[string]row{
			"forbidden-identity": {Client: "PASS", Metrics: "FAIL", Logs: "FAIL", Traces: bs, Alerts: "FAIL", Drill: "FAIL"},
			"untrusted-cert":     {Client: "PASS", Metrics: bs, Logs: "FAIL", Traces: "-", Alerts: "-", Drill: "FAIL"},
		}, rep)
	})
}

func testCaddy(t *testing.T, st *stack, edges map[string]*edge) {
	suite := examplePath(t, "edge/caddy.yaml")
	t.Run("enforcing", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["caddy-enforcing"], "CADDY"), runOptions{})
		all := row{Client: "PASS", Metrics: "PASS", Logs: "PASS", Traces: "PASS", Alerts: "-", Drill: "PASS"}
		assertRows(t, map[string]row{
			"forbidden-identity":  all,
			"forbidden-operation": {Client: "PASS", Metrics: "-", Logs: "PASS", Traces: "PASS", Alerts: "-", Drill: "PASS"},
			"wrong-trust-domain":  {Client: "PASS", Metrics: "-", Logs: "PASS", Traces: "-", Alerts: "-", Drill: "PASS"},
			"untrusted-cert":      {Client: "PASS", Metrics: bs, Logs: bs, Traces: bs, Alerts: "-", Drill: bs},
			"no-client-cert":      {Client: "PASS", Metrics: "-", Logs: bs, Traces: "-", Alerts: "-", Drill: bs},
			"plaintext":           {Client: "PASS", Metrics: bs, Logs: bs, Traces: "-", Alerts: "-", Drill: bs},
			"latency":             all,
			"error-burst":         all,
			"control":             {Client: "PASS", Metrics: "-", Logs: "PASS", Traces: "PASS", Alerts: "-", Drill: "PASS"},
		}, rep)
	})
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["caddy-open"], "CADDY"), runOptions{selectRE: "^forbidden-identity$", deadline: 5 * time.Second})
		assertRows(t, map[string]row{
			"forbidden-identity": {Client: ne, Metrics: ne, Logs: ne, Traces: ne, Alerts: "-", Drill: ne},
		}, rep)
	})
	t.Run("dark", func(t *testing.T) {
		t.Parallel()
		rep := runSuite(t, suite, st.vars(edges["caddy-dark"], "CADDY"), runOptions{selectRE: "^(forbidden-identity|latency)$", deadline: 5 * time.Second})
		assertRows(t, map[string]row{
			"forbidden-identity": {Client: "PASS", Metrics: "FAIL", Logs: "FAIL", Traces: "FAIL", Alerts: "-", Drill: "FAIL"},
			"latency":            {Client: "PASS", Metrics: "FAIL", Logs: "FAIL", Traces: "FAIL", Alerts: "-", Drill: "FAIL"},
		}, rep)
	})
}

// freeUDPAddr returns a loopback UDP address that was free a moment ago:
// testenv's free ports are TCP ones.
func freeUDPAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().String()
}
