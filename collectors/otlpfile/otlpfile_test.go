package otlpfile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

const (
	idA = "4bf92f3577b34da6a3ce929d0e0e4736"
	idB = "0af7651916cd43dd8448eb211c80319c"
)

// request renders one line as the collector's file exporter writes it: an
// ExportTraceServiceRequest with hex ids, nanos as strings, kind as a number.
func request(service string, spans ...string) string {
	return fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]},"scopeSpans":[{"scope":{"name":"envoy"},"spans":[%s]}]}]}`,
		service, strings.Join(spans, ","))
}

func span(traceID, spanID, parent string, code int, start int64) string {
	return fmt.Sprintf(`{"traceId":%q,"spanId":%q,"parentSpanId":%q,"name":"inbound|8080||","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[{"key":"http.status_code","value":{"intValue":"%d"}}],"status":{}}`,
		traceID, spanID, parent, start, start+int64(5*time.Millisecond), code)
}

func write(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(lines, "")), 0o600))
	return p
}

func TestTraceAcrossRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "traces.json.1",
		request("sleep", span(idA, "00f067aa0ba902b7", "", 403, 100))+"\n",
		request("noise", span(idB, "1111111111111111", "", 200, 50))+"\n",
	)
	write(t, dir, "traces.json",
		"\n",
		// One request may carry spans of several traces.
		request("httpbin", span(idB, "2222222222222222", "", 200, 60), span(idA, "b7ad6b7169203331", "00f067aa0ba902b7", 403, 110))+"\n",
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"`+idA+`","spanId":"zz"}]}]}]}`+"\n",
		// The collector is still writing this one.
		`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"`+idA,
	)
	r, err := New(filepath.Join(dir, "traces.json*"))
	require.NoError(t, err)

	tr, err := r.Trace(context.Background(), strings.ToUpper(idA))
	require.NoError(t, err)
	assert.Equal(t, idA, tr.ID)
	require.Len(t, tr.Spans, 2)
	assert.Equal(t, collectors.Span{
		TraceID: idA, SpanID: "b7ad6b7169203331", ParentID: "00f067aa0ba902b7", Operation: "inbound|8080||", Service: "httpbin",
		Start: time.Unix(0, 110), Duration: 5 * time.Millisecond, Kind: "server", Tags: map[string]string{"http.status_code": "403"},
	}, tr.Spans[0], "files in name order: traces.json before traces.json.1")
	assert.Equal(t, "sleep", tr.Spans[1].Service)
	assert.False(t, tr.Spans[0].StatusError, "a 403 server span is no error")
	require.Len(t, tr.Warnings, 2, "the bad line, not the unfinished one")
	assert.Equal(t, "1 line(s) mentioning a trace id could not be decoded and were skipped", tr.Warnings[0])
	assert.Contains(t, tr.Warnings[1], "traces.json:3: decoding otlp span 0: span id")

	all, err := r.Traces(context.Background(), []string{idA, idB, idA, "1"})
	require.NoError(t, err)
	assert.Len(t, all, 3)
	assert.Len(t, all[idA].Spans, 2)
	assert.Len(t, all[idB].Spans, 2)
	assert.Empty(t, all["00000000000000000000000000000001"].Spans)
}

func TestTraceFromCorpusExportRequest(t *testing.T) {
	var line bytes.Buffer
	require.NoError(t, json.Compact(&line, collectorstest.ReadCorpus(t, "tempo_api/otlp_push_request_hex_ids.json")))
	p := write(t, t.TempDir(), "traces.json", line.String()+"\n")
	r, err := New(p)
	require.NoError(t, err)
	tr, err := r.Trace(context.Background(), "5b8efff798038103d269b633813fc700")
	require.NoError(t, err, "upper-case hex in the file")
	require.Len(t, tr.Spans, 1)
	s := tr.Spans[0]
	assert.Equal(t, "eee19b7ec3c1b100", s.SpanID)
	assert.Equal(t, "my.service", s.Service)
	assert.Equal(t, 698*time.Second, s.Duration)
	assert.Equal(t, "some value", s.Tags["my.span.attr"])
}

func TestTraceWithBase64IDs(t *testing.T) {
	// What a plain protobuf JSON encoder writes: bytes fields in base64.
	line := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/HAA==","spanId":"7uGbfsPBsQA=","kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
	r, err := New(write(t, t.TempDir(), "t.json", line+"\n"))
	require.NoError(t, err)
	tr, err := r.Trace(context.Background(), "5b8efff798038103d269b633813fc700")
	require.NoError(t, err)
	assert.Equal(t, "eee19b7ec3c1b100", tr.Spans[0].SpanID)
}

func TestTraceNotFoundAndErrors(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "traces.json", request("a", span(idB, "1111111111111111", "", 200, 1))+"\n")
	r, err := New(p)
	require.NoError(t, err)
	_, err = r.Trace(context.Background(), idA)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "otlpfile trace "+idA+" in "+p)

	_, err = r.Trace(context.Background(), "not-an-id")
	require.ErrorContains(t, err, "trace id")

	r, err = New(filepath.Join(dir, "nope*.json"))
	require.NoError(t, err)
	_, err = r.Trace(context.Background(), idA)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNotFound, "a wrong path is not a missing trace")
	assert.Contains(t, err.Error(), "no file matches")

	_, err = New()
	require.ErrorContains(t, err, "no file given")
	_, err = New("[")
	require.ErrorContains(t, err, "syntax error in pattern")
}

func TestTraceOverlongLineIsSkipped(t *testing.T) {
	defer func(n int) { lineLimit = n }(lineLimit)
	lineLimit = 1000
	long := request("big", span(idA, "1111111111111111", "", 200, 1), strings.Repeat(span(idB, "2222222222222222", "", 200, 1)+",", 20)+span(idB, "3333333333333333", "", 200, 1))
	require.Greater(t, len(long), lineLimit)
	r, err := New(write(t, t.TempDir(), "t.json", long+"\n", request("small", span(idA, "4444444444444444", "", 200, 1))+"\n"))
	require.NoError(t, err)
	tr, err := r.Trace(context.Background(), idA)
	require.NoError(t, err)
	require.Len(t, tr.Spans, 1)
	assert.Equal(t, "small", tr.Spans[0].Service)
	assert.Contains(t, tr.Warnings[1], "t.json:1: line longer than 1000 bytes")
}

func TestTraceStopsWhenCancelled(t *testing.T) {
	lines := make([]string, 5000)
	for i := range lines {
		lines[i] = request("x", span(idB, "1111111111111111", "", 200, 1)) + "\n"
	}
	r, err := New(write(t, t.TempDir(), "t.json", lines...))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Trace(ctx, idA)
	require.ErrorIs(t, err, context.Canceled)
}

func FuzzTraces(f *testing.F) {
	f.Add([]byte(request("s", span(idA, "1111111111111111", "", 403, 1)) + "\n" + request("s", span(idB, "2", "", 200, 1))))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"` + idA + `","spanId":"1","endTimeUnixNano":"-1"}]}]}]}`))
	for _, b := range collectorstest.CorpusSeeds("tempo_api/otlp_*.json") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		p := filepath.Join(t.TempDir(), "t.json")
		require.NoError(t, os.WriteFile(p, content, 0o600))
		r, err := New(p)
		require.NoError(t, err)
		all, err := r.Traces(context.Background(), []string{idA, idB})
		require.NoError(t, err, "a readable file never fails the lookup")
		for id, tr := range all {
			for _, s := range tr.Spans {
				if s.TraceID != id || len(s.SpanID) != 16 || s.Duration < 0 {
					t.Fatalf("bad span for %s: %+v", id, s)
				}
			}
		}
	})
}
