package selftelemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

// logsQL runs a LogsQL query and returns the matching entries as field maps.
func logsQL(t *testing.T, queryURL, q string) []map[string]string {
	t.Helper()
	resp, err := http.Get(queryURL + "?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out []map[string]string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m map[string]string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
		out = append(out, m)
	}
	return out
}

func TestPushLogsToVictoriaLogs(t *testing.T) {
	vl := testenv.StartVictoriaLogs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rep := sampleReport()
	want := LogLines(rep)
	require.Len(t, want, 7, "2 drills + 5 expectations (client rows included)")
	// _msg_field makes VictoriaLogs use our msg field as the message; the
	// rest of the JSON line becomes fields.
	require.NoError(t, PushLogs(ctx, vl.LokiPushURL+"?_msg_field=msg", rep))

	var got []map[string]string
	require.Eventually(t, func() bool {
		got = logsQL(t, vl.QueryURL, `{job="meshdrill"} | sort by (_time)`)
		return len(got) >= len(want)
	}, 20*time.Second, 200*time.Millisecond, "lines never became queryable")
	require.Len(t, got, len(want))

	for i, w := range want {
		g := got[i]
		assert.Equal(t, w.Msg, g["_msg"])
		assert.Equal(t, "meshdrill", g["job"])
		assert.Equal(t, w.Verdict, g["verdict"])
		assert.Equal(t, w.Type, g["type"])
		assert.Equal(t, w.Drill, g["drill"])
		assert.Equal(t, "run42", g["run_id"])
		assert.Equal(t, `{job="meshdrill",verdict="`+w.Verdict+`"}`, g["_stream"], "labels are job and verdict only")
	}

	// The drill line of the leak carries its verdict and the ids to look up.
	leak := logsQL(t, vl.QueryURL, `{job="meshdrill",verdict="NOT_ENFORCED"} type:=drill`)
	require.Len(t, leak, 1)
	assert.Equal(t, "leak", leak[0]["drill"])
	assert.Contains(t, leak[0]["trace_ids"], rep.Drills[1].Injection.Requests[0].TraceID)
	assert.Contains(t, leak[0]["request_ids"], "md-run42-leak-1")

	blind := logsQL(t, vl.QueryURL, `{job="meshdrill",verdict="BLIND_SPOT"}`)
	require.Len(t, blind, 1)
	assert.Equal(t, "enable it", blind[0]["fix"])
	assert.Equal(t, "BLIND_SPOT leak metrics istio_requests_total: not counted; fix: enable it", blind[0]["_msg"])
}

func TestPushLogsErrors(t *testing.T) {
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "entry too far behind", http.StatusBadRequest)
	}))
	defer rejecting.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body must be read for the server to notice the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hanging.Close()
	defer close(release)
	withAuth := strings.Replace(rejecting.URL, "http://", "http://ci:s3cret@", 1)

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		wantErr []string
	}{
		{"no url", "", time.Second, []string{"no URL configured"}},
		{"rejected", rejecting.URL + "/loki/api/v1/push", 10 * time.Second, []string{"push logs to loki", "400", "entry too far behind"}},
		{"rejected with credentials", withAuth, 10 * time.Second, []string{"400"}},
		{"deadline", hanging.URL, 300 * time.Millisecond, []string{"push logs to loki", "deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			err := PushLogs(ctx, tt.url, sampleReport())
			require.Error(t, err)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
			t.Log(err)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

func TestLogLines(t *testing.T) {
	lines := LogLines(sampleReport())
	require.Len(t, lines, 7)
	assert.Equal(t, LogLine{
		Msg: "FAIL drill deny-frontend (forbidden-identity → payments)", Type: "drill", RunID: "run42", Suite: "payments",
		Drill: "deny-frontend", Kind: "forbidden-identity", Target: "payments", Verdict: "FAIL", Requests: 3,
		RequestIDs: []string{"md-run42-deny-frontend-0", "md-run42-deny-frontend-1", "md-run42-deny-frontend-2"},
		TraceIDs:   []string{"4bf92f3577b34da6a3ce929d0e0e47d0", "4bf92f3577b34da6a3ce929d0e0e47d1", "4bf92f3577b34da6a3ce929d0e0e47d2"},
	}, lines[0])
	assert.Equal(t, "client", lines[1].Signal)
	assert.Equal(t, 2.5, lines[2].Elapsed)
	assert.Equal(t, "FAIL deny-frontend traces server spans by trace id: expected 3 of 3 traces, got 1 of 3 traces", lines[3].Msg)
}
