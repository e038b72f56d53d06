package jaeger

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

// envelope wraps one element of "data" the way /api/traces/{id} answers.
func envelope(trace []byte) []byte {
	return append(append([]byte(`{"data":[`), trace...), []byte(`],"total":0,"limit":0,"offset":0,"errors":null}`)...)
}

const notFoundBody = `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}`

func TestTraceFromCorpusEnvelope(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "jaeger_api/jaeger_api_traces_envelope_loki_trace_flags_sampler_tags.json")
	f := collectorstest.NewFake(t, collectorstest.Mock{Method: "GET", Path: "/api/traces/0000000000000000142ba98fb31b78d6", Body: body})
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)

	// Asked the way a 64-bit id is often printed: upper case, no leading zeros.
	tr, err := c.Trace(context.Background(), "142BA98FB31B78D6")
	require.NoError(t, err)
	assert.Equal(t, "0000000000000000142ba98fb31b78d6", tr.ID)
	require.Len(t, tr.Spans, 2)
	root, child := tr.Spans[0], tr.Spans[1]
	assert.Equal(t, Span{
		TraceID: tr.ID, SpanID: "142ba98fb31b78d6", Operation: "CAS", Service: "loki-all",
		Start: time.UnixMicro(1627916367476700), Duration: 99 * time.Microsecond, Kind: "client",
		Tags: map[string]string{"sampler.type": "const", "sampler.param": "true", "span.kind": "client", "internal.span.format": "proto"},
	}, root)
	assert.Equal(t, "142ba98fb31b78d6", child.ParentID)
	assert.Equal(t, "4bcdf97bd09f61d7", child.SpanID)
	assert.Equal(t, 74*time.Microsecond, child.Duration)
}

func TestDecodeUIFixture(t *testing.T) {
	traces, err := DecodeResponse(envelope(collectorstest.ReadCorpus(t, "jaeger_api/jaeger_ui_model_trace_fixture_ui_01.json")))
	require.NoError(t, err)
	require.Len(t, traces, 1)
	tr := traces[0]
	assert.Equal(t, "00000000000000000000000000000001", tr.ID)
	require.Len(t, tr.Spans, 5, "the duplicate span id 2 is kept")
	assert.Equal(t, tr.Spans[0].SpanID, tr.Spans[1].SpanID)

	typed := tr.Spans[1]
	assert.Equal(t, map[string]string{
		"peer.service": "service-y", "peer.ipv4": "23456", "error": "true", "temperature": "72.5", "blob": "AAAwOQ==",
	}, typed.Tags)
	assert.True(t, typed.StatusError, "error=true")
	assert.Equal(t, "service-x", typed.Service)
	assert.False(t, tr.Spans[0].StatusError)

	assert.Equal(t, "0000000000000002", tr.Spans[2].ParentID)
	assert.Equal(t, "service-y", tr.Spans[2].Service)
	assert.Equal(t, "0000000000000002", tr.Spans[3].ParentID, "the reference into another trace (missing parent ff) is skipped")
	assert.Equal(t, "0000000000000004", tr.Spans[4].ParentID)
	assert.Equal(t, 4*time.Microsecond, tr.Spans[4].Duration)
	assert.Contains(t, tr.Warnings, "some trace warning")
	assert.Contains(t, tr.Warnings, "span 0000000000000004: some span warning")
}

func TestDecodeStatusAndTypedTags(t *testing.T) {
	const body = `{"data":[{"traceID":"5b8efff798038103d269b633813fc700","spans":[
	  {"traceID":"5b8efff798038103d269b633813fc700","spanID":"eee19b7ec3c1b174","operationName":"inbound|8080||","startTime":1700000000000000,"duration":1500,
	   "tags":[{"key":"http.status_code","type":"int64","value":403},{"key":"span.kind","type":"string","value":"server"},{"key":"big","type":"int64","value":9007199254740993}],
	   "process":{"serviceName":"target.drill"}},
	  {"traceID":"5b8efff798038103d269b633813fc700","spanID":"eee19b7ec3c1b175","parentSpanID":"eee19b7ec3c1b174","operationName":"x","startTime":1700000000000100,"duration":10,
	   "tags":[{"key":"otel.status_code","type":"string","value":"ERROR"}],"processID":"p9"}],
	  "processes":{}}]}`
	traces, err := DecodeResponse([]byte(body))
	require.NoError(t, err)
	s := traces[0].Spans
	assert.Equal(t, "403", s[0].Tags["http.status_code"])
	assert.Equal(t, "9007199254740993", s[0].Tags["big"], "int64 keeps every digit")
	assert.Equal(t, "server", s[0].Kind)
	assert.False(t, s[0].StatusError, "a 403 server span is not an error")
	assert.Equal(t, "target.drill", s[0].Service)
	assert.True(t, s[1].StatusError)
	assert.Equal(t, "eee19b7ec3c1b174", s[1].ParentID)
	assert.Empty(t, s[1].Service, "unknown process id")
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, body, wantErr string }{
		{"not json", `<html>`, "decoding jaeger answer"},
		{"404 in body", notFoundBody, "trace not found"},
		{"other error", `{"data":null,"errors":[{"code":500,"msg":"storage down"}]}`, "jaeger answered with errors: 500 storage down"},
		{"bad trace id", `{"data":[{"traceID":"xyz!","spans":[]}]}`, "trace id"},
		{"bad span id", `{"data":[{"traceID":"1","spans":[{"spanID":"not hex!"}]}]}`, "span 0: span id"},
		{"bad tag", `{"data":[{"traceID":"1","spans":[{"spanID":"1","tags":[{"key":"k","value":"\u00"}]}]}]}`, "decoding jaeger answer"},
		{"negative time", `{"data":[{"traceID":"1","spans":[{"spanID":"1","startTime":-1}]}]}`, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeResponse([]byte(tt.body))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	_, err := DecodeResponse([]byte(notFoundBody))
	assert.ErrorIs(t, err, ErrNotFound)
	traces, err := DecodeResponse(collectorstest.ReadCorpus(t, "jaeger_api/jaeger_api_services_empty.json"))
	require.NoError(t, err)
	assert.Empty(t, traces)
}

func TestTraceLookupOutcomes(t *testing.T) {
	const id = "5b8efff798038103d269b633813fc700"
	const other = `{"data":[{"traceID":"00000000000000000000000000000abc","spans":[{"spanID":"1"}]}]}`
	tests := []struct {
		name       string
		mock       collectorstest.Mock
		wantIs     error
		wantErr    string
		retryable  bool
		lookupWith string
	}{
		{"404", collectorstest.Mock{Status: 404, Body: []byte(notFoundBody)}, ErrNotFound, "jaeger trace " + id, false, id},
		{"200 with empty data", collectorstest.Mock{Body: []byte(`{"data":[],"errors":null}`)}, ErrNotFound, "no spans in the answer", false, id},
		{"base64 id is normalised", collectorstest.Mock{Status: 404, Body: []byte(notFoundBody)}, ErrNotFound, "", false, "W47/95gDgQPSabYzgT/HAA=="},
		{"500", collectorstest.Mock{Status: 500, Body: []byte(`{"errors":[{"code":500,"msg":"boom"}]}`)}, collectors.ErrUnavailable, "http 500", true, id},
		{"wrong trace", collectorstest.Mock{Body: []byte(other)}, nil, "span of trace 00000000000000000000000000000abc", false, id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mock.Path = "/jaeger/api/traces/" + id
			f := collectorstest.NewFake(t, tt.mock)
			c, err := New(f.URL()+"/jaeger", collectors.HTTPOptions{})
			require.NoError(t, err)
			_, err = c.Trace(context.Background(), tt.lookupWith)
			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.retryable, collectors.IsRetryable(err))
		})
	}
}

func TestTraceRejectsBadIDWithoutCalling(t *testing.T) {
	f := collectorstest.NewFake(t)
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)
	_, err = c.Trace(context.Background(), "not-a-trace-id")
	require.ErrorContains(t, err, "jaeger: trace id")
	assert.NotErrorIs(t, err, ErrNotFound)
}

func TestTraceBackendDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c, err := New("http://"+addr, collectors.HTTPOptions{})
	require.NoError(t, err)
	_, err = c.Trace(context.Background(), "1")
	require.ErrorIs(t, err, collectors.ErrUnavailable)
	assert.NotErrorIs(t, err, ErrNotFound)
}

func FuzzDecodeResponse(f *testing.F) {
	for _, b := range collectorstest.CorpusSeeds("jaeger_api/jaeger_api_*.json") {
		f.Add(b)
	}
	for _, b := range collectorstest.CorpusSeeds("jaeger_api/jaeger_ui_model_*.json") {
		f.Add(envelope(b))
	}
	f.Add([]byte(notFoundBody))
	f.Fuzz(func(t *testing.T, body []byte) {
		traces, err := DecodeResponse(body)
		if err != nil {
			return
		}
		for _, tr := range traces {
			for _, s := range tr.Spans {
				if len(s.TraceID) != 32 || len(s.SpanID) != 16 || (s.ParentID != "" && len(s.ParentID) != 16) || s.Duration < 0 {
					t.Fatalf("bad span from %q: %+v", body, s)
				}
			}
		}
	})
}
