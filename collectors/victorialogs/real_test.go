package victorialogs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/accesslog"
	"github.com/meshdrill/meshdrill/collectors/victorialogs"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// lokiPush sends lines to VictoriaLogs' Loki push API as Loki's JSON push
// body: one stream, each value [unix-ns, line] or [unix-ns, line, metadata].
func lokiPush(t *testing.T, pushURL string, labels map[string]string, values ...[]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": labels, "values": values}}})
	require.NoError(t, err)
	resp, err := http.Post(pushURL, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func ns(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// TestAgainstRealVictoriaLogs pushes the access-log lines of a drill the way
// a log shipper would and reads them back by request id: an Istio TEXT line
// (the id inside the message), a JSON line VictoriaLogs splits into fields,
// and a line whose id is Loki structured metadata.
func TestAgainstRealVictoriaLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts VictoriaLogs")
	}
	vl := testenv.StartVictoriaLogs(t)
	run := fmt.Sprintf("r%d", time.Now().UnixNano()%1_000_000)
	idText, idJSON, idMeta := "drill-"+run+"-1", "drill-"+run+"-2", "drill-"+run+"-3"
	now := time.Now()
	istio := fmt.Sprintf(`[%s] "GET /drill/1 HTTP/1.1" 403 - rbac_access_denied_matched_policy[ns[drill]-policy[deny-injector]-rule[0]] - "-" 0 19 0 - "-" "meshdrill/1 (run %s)" "%s" "target:8080" "-" inbound|8080|| - 10.1.0.5:8080 10.9.0.1:40000 outbound_.8080_._.target.drill.svc.cluster.local default`,
		now.UTC().Format("2006-01-02T15:04:05.000Z"), run, idText)
	labels := map[string]string{"app": "target", "namespace": "drill"}
	lokiPush(t, vl.LokiPushURL+"?_msg_field=msg", labels,
		[]any{ns(now), istio},
		[]any{ns(now.Add(time.Millisecond)), fmt.Sprintf(`{"msg":"denied by policy","request_id":%q,"code":403}`, idJSON)},
		[]any{ns(now.Add(2 * time.Millisecond)), "structured line", map[string]string{"request_id": idMeta}},
		// Matches the phrase filter for idText but is not its line.
		[]any{ns(now.Add(3 * time.Millisecond)), "retry of " + idText + "-r1"},
	)

	c, err := victorialogs.New(vl.URL, collectors.HTTPOptions{})
	require.NoError(t, err)
	start, end := now.Add(-time.Minute), now.Add(time.Minute)
	ids := []string{idText, idJSON, idMeta, "drill-" + run + "-missing"}

	// Pushed lines become searchable about a second later: poll, bounded.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got map[string]victorialogs.Entry
	for {
		got, err = c.ByRequestID(ctx, ids, start, end)
		require.NoError(t, err)
		if len(got) >= 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of 3 ids found before the deadline: %v", len(got), got)
		case <-time.After(200 * time.Millisecond):
		}
	}
	assert.Len(t, got, 3, "the missing id stays missing")

	text := got[idText]
	assert.Equal(t, istio, text.Msg)
	assert.Equal(t, now.UnixNano(), text.Time.UnixNano(), "the pushed timestamp, to the nanosecond")
	assert.Equal(t, "target", text.Fields["app"])
	e, err := accesslog.Parse(text.Msg)
	require.NoError(t, err)
	assert.Equal(t, idText, e.RequestID)
	assert.Equal(t, 403, e.ResponseCode)
	assert.Equal(t, "rbac_access_denied_matched_policy[ns[drill]-policy[deny-injector]-rule[0]]", e.ResponseCodeDetails)

	assert.Equal(t, "denied by policy", got[idJSON].Msg, "_msg_field=msg made msg the message")
	assert.Equal(t, idJSON, got[idJSON].Fields["request_id"])
	assert.Equal(t, "403", got[idJSON].Fields["code"])
	assert.Equal(t, idMeta, got[idMeta].Fields["request_id"])

	// limit keeps the most recent entries.
	latest, err := c.Query(ctx, `app:target`, start, end, 1)
	require.NoError(t, err)
	require.Len(t, latest, 1)
	assert.Equal(t, "retry of "+idText+"-r1", latest[0].Msg)

	// The range is inclusive at both ends, to the nanosecond.
	edge, err := c.Query(ctx, strconv.Quote(idText), now, now, 0)
	require.NoError(t, err)
	require.Len(t, edge, 1, "the TEXT line at now; its retry line is 3ms later")
	assert.Equal(t, istio, edge[0].Msg)

	_, err = c.Query(ctx, `app:(`, start, end, 0)
	require.ErrorIs(t, err, collectors.ErrBadQuery)
}
