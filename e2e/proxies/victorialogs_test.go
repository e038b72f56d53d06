package proxies_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// TestVictoriaLogsSource drives wire.VictoriaLogs against a real
// VictoriaLogs fed over its syslog listener, the way the edges ship their
// lines: RFC 5424 (HAProxy) and RFC 3164 (nginx), each with its app name
// as a field the suite's selector can filter on.
func TestVictoriaLogsSource(t *testing.T) {
	if testing.Short() {
		t.Skip("starts VictoriaLogs")
	}
	syslog := freeUDPAddr(t)
	vl := testenv.StartVictoriaLogs(t, "-syslog.listenAddr.udp="+syslog)
	conn, err := net.Dial("udp", syslog)
	require.NoError(t, err)
	defer conn.Close()

	now := time.Now().UTC()
	host, _ := os.Hostname()
	rfc5424 := func(app, msg string) string {
		return fmt.Sprintf("<134>1 %s %s %s 42 - - %s", now.Format(time.RFC3339Nano), host, app, msg)
	}
	rfc3164 := func(app, msg string) string {
		return fmt.Sprintf("<190>%s %s %s: %s", now.Local().Format(time.Stamp), host, app, msg)
	}
	// An Istio TEXT access-log line (request id, then downstream local and
	// remote addresses) and a listener NR line, as an Envoy shipping its
	// access log over syslog would send them.
	envoyLine := fmt.Sprintf(`[%s] "GET /api/orders HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "meshdrill" "req-0001" "payments" "-" inbound|8080|| - 10.0.0.12:8080 10.0.0.7:40001 - -`,
		now.Format("2006-01-02T15:04:05.000Z"))
	nrLine := fmt.Sprintf(`[%s] "- - -" 0 NR filter_chain_not_found - "-" 0 0 1 - "-" "-" "-" "-" "-" - - 10.0.0.12:15006 10.0.0.7:40002 - -`,
		now.Format("2006-01-02T15:04:05.000Z"))
	for _, m := range []string{
		rfc5424("haproxy", "127.0.0.1:54321 [03/Dec/2026:17:09:42.781] mtls/1: SSL handshake failure"),
		rfc5424("haproxy", `127.0.0.1:54399 [03/Dec/2026:17:09:42.981] mtls~ mtls/<NOSRV> 0/-1/-1/-1/0 403 192 PR-- "GET / HTTP/1.1" id=4f0c2c9e-0000-4000-8000-000000000001 verify=0`),
		rfc3164("nginx", `127.0.0.1:54400 [2026-12-03T17:09:30+00:00] "GET / HTTP/1.1" 400 255 rt=0.000 verify=NONE dn="-" id=4f0c2c9e-0000-4000-8000-000000000002`),
		rfc5424("envoy", envoyLine),
		rfc5424("envoy", nrLine),
	} {
		_, err := conn.Write([]byte(m))
		require.NoError(t, err)
	}

	all, err := newVictoriaLogs(&expectations.HTTPBackend{URL: vl.URL})
	require.NoError(t, err)
	haproxy, err := newVictoriaLogs(&expectations.HTTPBackend{URL: vl.URL, Selector: "app_name:haproxy"})
	require.NoError(t, err)
	assert.Equal(t, "victorialogs "+vl.URL+" app_name:haproxy", haproxy.Describe())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	since, until := now.Add(-time.Minute), now.Add(time.Minute)
	// Lines are searchable about a second after they arrive: poll.
	var got map[string][]string
	require.Eventually(t, func() bool {
		got, err = all.Grep(ctx, []string{"4f0c2c9e-0000-4000-8000-000000000002", "127.0.0.1:54321", "req-0001"}, since, until)
		return err == nil && len(got) == 3
	}, 20*time.Second, 200*time.Millisecond, "lines never became searchable: %v %v", got, err)

	t.Run("grep matches whole tokens only", func(t *testing.T) {
		got, err := haproxy.Grep(ctx, []string{"127.0.0.1:5432", "127.0.0.1:54321", "4f0c2c9e-0000-4000-8000-000000000001", "4f0c2c9e-0000-4000-8000-00000000000"}, since, until)
		require.NoError(t, err)
		assert.NotContains(t, got, "127.0.0.1:5432", "a shorter port is not a match")
		assert.NotContains(t, got, "4f0c2c9e-0000-4000-8000-00000000000", "a shorter id is not a match")
		require.Len(t, got["127.0.0.1:54321"], 1)
		assert.Contains(t, got["127.0.0.1:54321"][0], "SSL handshake failure")
		require.Len(t, got["4f0c2c9e-0000-4000-8000-000000000001"], 1)
		assert.Contains(t, got["4f0c2c9e-0000-4000-8000-000000000001"][0], " 403 192 PR-- ")
	})
	t.Run("the selector narrows the search", func(t *testing.T) {
		got, err := haproxy.Grep(ctx, []string{"4f0c2c9e-0000-4000-8000-000000000002"}, since, until)
		require.NoError(t, err)
		assert.Empty(t, got, "the nginx line is not HAProxy's")
	})
	t.Run("a window before the lines finds nothing", func(t *testing.T) {
		got, err := all.Grep(ctx, []string{"127.0.0.1:54321"}, now.Add(-time.Hour), now.Add(-30*time.Minute))
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("envoy lines by request id", func(t *testing.T) {
		got, err := all.ByRequestID(ctx, []string{"req-0001", "req-0404"})
		require.NoError(t, err)
		require.Contains(t, got, "req-0001")
		assert.NotContains(t, got, "req-0404")
		r := got["req-0001"]
		assert.Equal(t, 403, r.Code)
		assert.Equal(t, "rbac_access_denied_matched_policy[none]", r.Details)
		assert.Equal(t, "10.0.0.7:40001", r.RemoteAddress)
	})
	t.Run("envoy listener lines by client address", func(t *testing.T) {
		got, err := all.ByRemoteAddress(ctx, []string{"10.0.0.7:40002"}, since, until)
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "NR", got[0].Flags)
		assert.Equal(t, 0, got[0].Code)
	})
	t.Run("an unreachable server is an error, not an empty answer", func(t *testing.T) {
		dead, err := newVictoriaLogs(&expectations.HTTPBackend{URL: "http://" + testenv.FreeAddr(t), Timeout: time.Second})
		require.NoError(t, err)
		_, err = dead.Grep(ctx, []string{"x"}, since, until)
		assert.Error(t, err)
	})
}
