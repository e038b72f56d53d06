package zipkin

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

const corpusFile = "zipkin_api/zipkin_v2_single_client_span_with_status_tag_zipkinjs153.json"

func TestTraceFromCorpus(t *testing.T) {
	body := collectorstest.ReadCorpus(t, corpusFile)
	f := collectorstest.NewFake(t, collectorstest.Mock{Method: "GET", Path: "/api/v2/trace/d6475f139f32a629", Body: body})
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)
	tr, err := c.Trace(context.Background(), "0000000000000000d6475f139f32a629")
	require.NoError(t, err)
	require.Len(t, tr.Spans, 1)
	assert.Equal(t, collectors.Span{
		TraceID: "0000000000000000d6475f139f32a629", SpanID: "d6475f139f32a629", Operation: "get", Service: "ui",
		Start: time.UnixMicro(1510178048408000), Duration: 294 * time.Millisecond, Kind: "client",
		Tags: map[string]string{"http.url": "http://localhost:8080", "http.status_code": "200"},
	}, tr.Spans[0])
}

func TestTraceOutcomes(t *testing.T) {
	const id = "5b8efff798038103d269b633813fc700"
	tests := []struct {
		name    string
		mock    collectorstest.Mock
		wantIs  error
		wantErr string
	}{
		{"404", collectorstest.Mock{Status: 404, Body: []byte(`{"message":"trace not found"}`)}, ErrNotFound, "zipkin trace " + id},
		{"empty", collectorstest.Mock{Body: []byte(`[]`)}, ErrNotFound, "no spans in the answer"},
		{"503", collectorstest.Mock{Status: 503}, collectors.ErrUnavailable, "http 503"},
		{"other trace", collectorstest.Mock{Body: []byte(`[{"traceId":"abc","id":"1"}]`)}, nil, "span of trace 00000000000000000000000000000abc"},
		{"not json", collectorstest.Mock{Body: []byte(`{`)}, nil, "decoding zipkin answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mock.Path = "/api/v2/trace/" + id
			f := collectorstest.NewFake(t, tt.mock)
			c, err := New(f.URL(), collectors.HTTPOptions{})
			require.NoError(t, err)
			_, err = c.Trace(context.Background(), id)
			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDecodeSpans(t *testing.T) {
	spans, err := DecodeSpans([]byte(`[
	 {"traceId":"5b8efff798038103d269b633813fc700","id":"eee19b7ec3c1b174","kind":"SERVER","name":"inbound","tags":{"http.status_code":"403"}},
	 {"traceId":"5b8efff798038103d269b633813fc700","id":"eee19b7ec3c1b175","parentId":"eee19b7ec3c1b174","tags":{"error":""}}]`))
	require.NoError(t, err)
	assert.Equal(t, "server", spans[0].Kind)
	assert.False(t, spans[0].StatusError, "a 403 is not an error")
	assert.True(t, spans[1].StatusError, "an error tag of any value")
	assert.Equal(t, "eee19b7ec3c1b174", spans[1].ParentID)

	for _, bad := range []string{`{}`, `[{"traceId":"","id":"1"}]`, `[{"traceId":"1","id":"zz"}]`, `[{"traceId":"1","id":"1","parentId":"q!"}]`, `[{"traceId":"1","id":"1","duration":-1}]`} {
		_, err := DecodeSpans([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func FuzzDecodeSpans(f *testing.F) {
	for _, b := range collectorstest.CorpusSeeds(corpusFile) {
		f.Add(b)
	}
	f.Add([]byte(`[{"traceId":"1","id":"2","parentId":"3","timestamp":1,"duration":2,"tags":{"error":"x"}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		spans, err := DecodeSpans(body)
		if err != nil {
			return
		}
		for _, s := range spans {
			if len(s.TraceID) != 32 || len(s.SpanID) != 16 || s.Duration < 0 || s.Tags == nil {
				t.Fatalf("bad span from %q: %+v", body, s)
			}
		}
	})
}
