package victorialogs

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

var (
	t0 = time.Date(2026, 12, 3, 16, 56, 35, 264901230, time.UTC)
	t1 = t0.Add(time.Minute)
)

// answer is shaped like what VictoriaLogs v1.52 sent for a Loki push of an
// Istio TEXT line, a JSON line it split into fields, and a line with
// structured metadata — in the order it chose, which is not time order.
const answer = `{"_msg":"missing _msg field; see https://docs.victoriametrics.com/victorialogs/keyconcepts/#message-field","_stream":"{app=\"target\",ns=\"drill\"}","_stream_id":"00000000000000003","_time":"2026-12-03T16:56:35.26490223Z","app":"target","code":"403","msg":"denied","ns":"drill","request_id":"req-fld-9"}
{"_msg":"[2026-01-02T03:04:05.000Z] \"GET /drill/1 HTTP/1.1\" 403 - rbac_access_denied_matched_policy[none] - \"-\" 0 19 0 - \"-\" \"meshdrill/1\" \"req-abc-123\" \"target:8080\" \"-\" inbound|8080|| - 10.1.0.5:8080 10.9.0.1:2000 outbound_.8080_._.target.drill.svc.cluster.local default","_stream":"{app=\"target\",ns=\"drill\"}","_stream_id":"00000000000000003","_time":"2026-12-03T16:56:35.26490123Z","app":"target","ns":"drill"}

{"_msg":"retry of req-abc-123-r1","_stream":"{app=\"target\"}","_time":"2026-12-03T16:56:35.26490323Z","trace_id":"x1"}
`

func queryForm(q string, extra ...string) url.Values {
	v := url.Values{"query": {q}, "start": {fmt.Sprint(t0.UnixNano())}, "end": {fmt.Sprint(t1.UnixNano() + 1)}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func newClient(t *testing.T, mocks ...collectorstest.Mock) *Client {
	t.Helper()
	f := collectorstest.NewFake(t, mocks...)
	c, err := New(f.URL(), collectors.HTTPOptions{Retry: collectors.NoRetry})
	require.NoError(t, err)
	return c
}

func TestQuery(t *testing.T) {
	c := newClient(t, collectorstest.Mock{Method: "GET", Path: "/select/logsql/query",
		Form: queryForm(`app:target`, "limit", "10"), Body: []byte(answer)})
	got, err := c.Query(context.Background(), `app:target`, t0, t1, 10)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, time.Date(2026, 12, 3, 16, 56, 35, 264901230, time.UTC), got[0].Time, "sorted by time, nanoseconds kept")
	assert.True(t, strings.HasPrefix(got[0].Msg, `[2026-01-02T03:04:05.000Z] "GET /drill/1 HTTP/1.1" 403`))
	assert.Equal(t, map[string]string{"_stream": `{app="target",ns="drill"}`, "_stream_id": "00000000000000003", "app": "target", "ns": "drill"}, got[0].Fields)
	assert.Equal(t, "req-fld-9", got[1].Fields["request_id"])
	assert.Equal(t, "403", got[1].Fields["code"])
	assert.Equal(t, "x1", got[2].Fields["trace_id"])
}

func TestQueryErrors(t *testing.T) {
	t.Run("rejected query", func(t *testing.T) {
		c := newClient(t, collectorstest.Mock{Path: "/select/logsql/query", Status: 400,
			Body: []byte(`cannot parse 'query' arg [(]: unexpected end of query after "("; expecting a filter`)})
		_, err := c.Query(context.Background(), "(", t0, t1, 0)
		require.ErrorIs(t, err, collectors.ErrBadQuery)
		assert.Contains(t, err.Error(), "unexpected end of query")
		assert.Contains(t, err.Error(), `victorialogs query "(" [2026-12-03T16:56:35.26490123Z, 2026-12-03T16:57:35.26490123Z]`)
	})
	t.Run("checked before any call", func(t *testing.T) {
		c := newClient(t)
		_, err := c.Query(context.Background(), " ", t0, t1, 0)
		require.ErrorIs(t, err, collectors.ErrBadQuery)
		_, err = c.Query(context.Background(), "*", t1, t0, 0)
		require.ErrorContains(t, err, "ends before it starts")
		_, err = c.ByRequestID(context.Background(), []string{"ok", "bad\nid"}, t0, t1)
		require.ErrorContains(t, err, "control characters")
	})
	t.Run("down", func(t *testing.T) {
		c := newClient(t, collectorstest.Mock{Path: "/select/logsql/query", Status: http.StatusServiceUnavailable})
		_, err := c.Query(context.Background(), "*", time.Time{}, time.Time{}, 0)
		require.ErrorIs(t, err, collectors.ErrUnavailable)
	})
	t.Run("not json lines", func(t *testing.T) {
		c := newClient(t, collectorstest.Mock{Path: "/select/logsql/query", Body: []byte("{\"_msg\":\"a\"}\n<html>oops</html>\n")})
		_, err := c.Query(context.Background(), "*", t0, t1, 0)
		require.ErrorContains(t, err, "decoding victorialogs answer, line 2")
	})
}

func TestQueryOpenRange(t *testing.T) {
	c := newClient(t, collectorstest.Mock{Path: "/select/logsql/query", Handler: func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, url.Values{"query": {"*"}}, r.Form, "no start, end or limit")
	}})
	got, err := c.Query(context.Background(), "*", time.Time{}, time.Time{}, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestByRequestID(t *testing.T) {
	const q = `*:"req-abc-123" OR *:"req-fld-9" OR *:"req-missing"`
	c := newClient(t, collectorstest.Mock{Path: "/select/logsql/query", Form: queryForm(q), Body: []byte(answer)})
	got, err := c.ByRequestID(context.Background(), []string{"req-abc-123", "req-fld-9", "req-missing", "req-abc-123"}, t0, t1)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Contains(t, got["req-abc-123"].Msg, `"req-abc-123"`, "the access-log line, not the retry that merely contains the id")
	assert.Equal(t, "denied", got["req-fld-9"].Fields["msg"])
}

func TestByRequestIDBatches(t *testing.T) {
	var ids []string
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("drill-%03d", i))
	}
	var queries atomic.Int32
	c := newClient(t, collectorstest.Mock{Path: "/select/logsql/query", Handler: func(w http.ResponseWriter, r *http.Request) {
		queries.Add(1)
		q := r.Form.Get("query")
		assert.Equal(t, strings.Count(q, "*:"), strings.Count(q, " OR ")+1)
		first := strings.TrimSuffix(strings.TrimPrefix(strings.Fields(q)[0], `*:"`), `"`)
		fmt.Fprintf(w, `{"_msg":"hit %s","_time":"2026-12-03T16:56:36Z"}`+"\n", first)
	}})
	got, err := c.ByRequestID(context.Background(), ids, t0, t1)
	require.NoError(t, err)
	assert.Equal(t, int32(3), queries.Load(), "120 ids in batches of 50")
	assert.Equal(t, []string{"drill-000", "drill-050", "drill-100"}, slices.Sorted(maps.Keys(got)))
}

func TestContainsToken(t *testing.T) {
	tests := []struct {
		s, id string
		want  bool
	}{
		{`"req-1"`, "req-1", true},
		{"req-1", "req-1", true},
		{"x req-1.", "req-1", true},
		{"req-1-retry", "req-1", false},
		{"req-10", "req-1", false},
		{"areq-1", "req-1", false},
		{"req-10 then req-1", "req-1", true},
		{"", "req-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			assert.Equal(t, tt.want, containsToken(tt.s, tt.id))
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, body, wantErr string }{
		{"array", `[1]`, "line 1"},
		{"null", `null`, "not a JSON object"},
		{"bad time", `{"_time":"yesterday"}`, `_time "yesterday" is not an RFC 3339 time`},
		{"bad string", `{"a":"\x"}`, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	got, err := Decode([]byte(`{"_msg":"m","n":5,"o":{"k":true},"z":null}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"n": "5", "o": `{"k":true}`, "z": "null"}, got[0].Fields, "non-string values as written")
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(answer))
	f.Add([]byte(`{"_time":"2026-01-01T00:00:00Z","_msg":"x","f":1}` + "\n\n" + `{"_msg":""}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := Decode(body)
		if err != nil {
			return
		}
		for i := 1; i < len(entries); i++ {
			if entries[i].Time.Before(entries[i-1].Time) {
				t.Fatalf("entries out of order: %v before %v", entries[i-1].Time, entries[i].Time)
			}
		}
		for _, e := range entries {
			if _, ok := e.Fields["_msg"]; ok {
				t.Fatalf("_msg left among the fields")
			}
		}
	})
}
