package tempo

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

const traceID = "5b8efff798038103d269b633813fc700"

func TestTraceFromCorpus(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "tempo_api/tempo_api_v2_traces_otlp_json_base64_ids.json")
	f := collectorstest.NewFake(t, collectorstest.Mock{Method: "GET", Path: "/api/v2/traces/" + traceID, Body: body})
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)
	// Asked with the base64 form Tempo itself prints.
	tr, err := c.Trace(context.Background(), "W47/95gDgQPSabYzgT/HAA==")
	require.NoError(t, err)
	assert.Equal(t, traceID, tr.ID)
	require.Len(t, tr.Spans, 1)
	assert.Equal(t, collectors.Span{
		TraceID: traceID, SpanID: "eee19b7ec3c1b100", Operation: "I am a span!", Service: "my.service",
		Start: time.Unix(0, 1689969302000000000), Duration: 698 * time.Second, Kind: "server",
		Tags: map[string]string{"my.span.attr": "some value"},
	}, tr.Spans[0])
}

func TestDecodeOTLPExportRequest(t *testing.T) {
	tr, err := DecodeTrace(collectorstest.ReadCorpus(t, "tempo_api/otlp_push_request_hex_ids.json"))
	require.NoError(t, err)
	assert.Equal(t, traceID, tr.ID, "upper-case hex ids are normalised")
	require.Len(t, tr.Spans, 1)
	s := tr.Spans[0]
	assert.Equal(t, "eee19b7ec3c1b100", s.SpanID)
	assert.Equal(t, "server", s.Kind, "numeric kind 2")
	assert.Equal(t, 698*time.Second, s.Duration, "numeric nanos")
}

func TestDecodeTypedAttributesAndStatus(t *testing.T) {
	const body = `{"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"target.drill"}}]},
	 "instrumentationLibrarySpans":[{"spans":[
	  {"traceId":"W47/95gDgQPSabYzgT/HAA==","spanId":"7uGbfsPBsQA=","parentSpanId":"7uGbfsPBsQE=","name":"inbound","kind":"SPAN_KIND_CLIENT",
	   "startTimeUnixNano":"10","endTimeUnixNano":"30","status":{"code":"STATUS_CODE_ERROR"},
	   "attributes":[{"key":"http.status_code","value":{"intValue":"403"}},{"key":"n","value":{"intValue":7}},
	     {"key":"ok","value":{"boolValue":false}},{"key":"d","value":{"doubleValue":0.5}},
	     {"key":"arr","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"}]}}},
	     {"key":"kv","value":{"kvlistValue":{"values":[{"key":"x","value":{"boolValue":true}}]}}},
	     {"key":"empty","value":{}}]}]}]}]}`
	tr, err := DecodeTrace([]byte(body))
	require.NoError(t, err)
	s := tr.Spans[0]
	assert.Equal(t, "target.drill", s.Service)
	assert.Equal(t, "client", s.Kind)
	assert.True(t, s.StatusError)
	assert.Equal(t, 20*time.Nanosecond, s.Duration)
	assert.Equal(t, "eee19b7ec3c1b101", s.ParentID)
	assert.Equal(t, map[string]string{
		"http.status_code": "403", "n": "7", "ok": "false", "d": "0.5", "arr": `["a","1"]`, "kv": `{"x":"true"}`, "empty": "",
	}, s.Tags)
}

func TestDecodeTraceErrors(t *testing.T) {
	tests := []struct{ name, body, wantErr string }{
		{"not json", `{"trace":`, "decoding otlp trace"},
		{"bad id", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"!","spanId":"1"}]}]}]}`, "trace id"},
		{"bad kind", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"1","spanId":"1","kind":9}]}]}]}`, "unknown span kind 9"},
		{"ends before start", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"1","spanId":"1","startTimeUnixNano":"5","endTimeUnixNano":"4"}]}]}]}`, "ends (4) before it starts (5)"},
		{"bad nanos", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"1","spanId":"1","startTimeUnixNano":"soon"}]}]}]}`, "startTimeUnixNano"},
		{"two traces", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"1","spanId":"1"},{"traceId":"2","spanId":"1"}]}]}]}`, "spans of two traces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeTrace([]byte(tt.body))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestTraceNotFound(t *testing.T) {
	f := collectorstest.NewFake(t,
		collectorstest.Mock{Path: "/api/v2/traces/" + traceID, Status: 404, Body: []byte("trace not found")},
		collectorstest.Mock{Path: "/api/v2/traces/00000000000000000000000000000001", Body: []byte(`{"trace":{}}`)},
	)
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)
	_, err = c.Trace(context.Background(), traceID)
	require.ErrorIs(t, err, ErrNotFound)
	_, err = c.Trace(context.Background(), "1")
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "no spans")
}

func TestSearch(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "tempo_api/tempo_api_search_traceql_service_name.json")
	const q = `{ .service.name = "my.service" }`
	f := collectorstest.NewFake(t,
		collectorstest.Mock{Path: "/api/search", Form: url.Values{"q": {q}, "start": {"1694718000"}, "end": {"1694719000"}, "limit": {"20"}}, Body: body},
		collectorstest.Mock{Path: "/api/search", Form: url.Values{"q": {"{ bad"}}, Status: 400, Body: []byte("parse error at line 1, col 7: syntax error")},
	)
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)
	hits, err := c.Search(context.Background(), q, time.Unix(1694718000, 0), time.Unix(1694719000, 0), 20)
	require.NoError(t, err)
	assert.Equal(t, []SearchHit{{
		TraceID: traceID, RootService: "my.service", RootName: "I am a span!",
		Start: time.Unix(0, 1694718625557000000), Duration: 10 * time.Second,
	}}, hits)

	_, err = c.Search(context.Background(), "{ bad", time.Unix(1694718000, 0), time.Unix(1694719000, 0), 0)
	require.ErrorIs(t, err, collectors.ErrBadQuery)
	assert.Contains(t, err.Error(), "syntax error")
}

func TestDecodeSearchInvalidDoc(t *testing.T) {
	_, err := DecodeSearch(collectorstest.ReadCorpus(t, "tempo_api/tempo_search_traceql_status_error_DOC_INVALID_JSON.json"))
	require.ErrorContains(t, err, "decoding tempo search answer")
}

func FuzzDecodeTrace(f *testing.F) {
	for _, b := range collectorstest.CorpusSeeds("tempo_api/*traces*.json") {
		f.Add(b)
	}
	for _, b := range collectorstest.CorpusSeeds("tempo_api/otlp_*.json") {
		f.Add(b)
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"1","spanId":"1","attributes":[{"key":"a","value":{"arrayValue":{"values":[{"kvlistValue":{"values":[]}}]}}}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tr, err := DecodeTrace(body)
		if err != nil {
			return
		}
		for _, s := range tr.Spans {
			if s.TraceID != tr.ID || len(s.SpanID) != 16 || s.Duration < 0 {
				t.Fatalf("bad span from %q: %+v", body, s)
			}
		}
	})
}
