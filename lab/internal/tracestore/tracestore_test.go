package tracestore

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(0).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func pushProto(t *testing.T, srv *httptest.Server, req *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	b, err := proto.Marshal(req)
	require.NoError(t, err)
	resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "application/x-protobuf", resp.Header.Get("Content-Type"))
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func serverSpan(traceID, spanID, parent []byte, code int64, status tracepb.Status_StatusCode) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "payments.shop"), str("host", "lab")}},
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: "meshdrill/lab/sidecar"},
			Spans: []*tracepb.Span{{
				TraceId: traceID, SpanId: spanID, ParentSpanId: parent, Flags: 0x301,
				Name: "payments.shop.svc.cluster.local:8080/*", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: 1_700_000_000_000_000_000, EndTimeUnixNano: 1_700_000_000_300_000_000,
				Attributes: []*commonpb.KeyValue{
					{Key: "http.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: code}}},
					{Key: "sampled", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}},
					str("guid:x-request-id", "req-1"),
				},
				Status: &tracepb.Status{Code: status},
			}},
		}},
	}}}
}

func TestTraceByIDInJaegerFormat(t *testing.T) {
	srv := newServer(t)
	tid := []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc7, 0x00}
	pushProto(t, srv, serverSpan(tid, []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{9, 9, 9, 9, 9, 9, 9, 9}, 403, tracepb.Status_STATUS_CODE_UNSET))

	for _, id := range []string{"5b8efff798038103d269b633813fc700", "5B8EFFF798038103D269B633813FC700"} {
		code, body := get(t, srv.URL+"/api/traces/"+id)
		require.Equal(t, 200, code, body)
		var env struct {
			Data   []jaegerTrace `json:"data"`
			Total  int           `json:"total"`
			Errors any           `json:"errors"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &env))
		require.Len(t, env.Data, 1)
		tr := env.Data[0]
		assert.Equal(t, "5b8efff798038103d269b633813fc700", tr.TraceID)
		require.Len(t, tr.Spans, 1)
		sp := tr.Spans[0]
		assert.Equal(t, "0102030405060708", sp.SpanID)
		assert.Equal(t, uint32(1), sp.Flags)
		assert.Equal(t, uint64(1_700_000_000_000_000), sp.StartTime)
		assert.Equal(t, uint64(300_000), sp.Duration)
		assert.Equal(t, []jaegerRef{{RefType: "CHILD_OF", TraceID: tr.TraceID, SpanID: "0909090909090909"}}, sp.References)
		tags := map[string]jaegerKV{}
		for _, kv := range sp.Tags {
			tags[kv.Key] = kv
		}
		assert.Equal(t, jaegerKV{Key: "http.status_code", Type: "int64", Value: 403.0}, tags["http.status_code"])
		assert.Equal(t, jaegerKV{Key: "span.kind", Type: "string", Value: "server"}, tags["span.kind"])
		assert.Equal(t, jaegerKV{Key: "sampled", Type: "bool", Value: true}, tags["sampled"])
		assert.Equal(t, "meshdrill/lab/sidecar", tags["otel.scope.name"].Value)
		assert.NotContains(t, tags, "error")
		assert.NotContains(t, tags, "otel.status_code")
		require.Contains(t, tr.Processes, sp.ProcessID)
		assert.Equal(t, "payments.shop", tr.Processes[sp.ProcessID].ServiceName)
		assert.Equal(t, []jaegerKV{{Key: "host", Type: "string", Value: "lab"}}, tr.Processes[sp.ProcessID].Tags)
		assert.Contains(t, body, `"total":0,"limit":0,"offset":0,"errors":null`)
		assert.Contains(t, body, `"warnings":null`)
	}
}

func TestErrorStatusAndShortIDs(t *testing.T) {
	srv := newServer(t)
	tid := make([]byte, 16)
	tid[15] = 0xab // high half zero: Jaeger prints 16 digits
	pushProto(t, srv, serverSpan(tid, []byte{0, 0, 0, 0, 0, 0, 0, 1}, nil, 503, tracepb.Status_STATUS_CODE_ERROR))
	for _, id := range []string{"ab", "00000000000000ab", "000000000000000000000000000000AB"} {
		code, body := get(t, srv.URL+"/api/traces/"+id)
		require.Equal(t, 200, code, id)
		assert.Contains(t, body, `"traceID":"00000000000000ab"`)
		assert.Contains(t, body, `{"key":"otel.status_code","type":"string","value":"ERROR"}`)
		assert.Contains(t, body, `{"key":"error","type":"bool","value":true}`)
		assert.Contains(t, body, `"references":[]`)
	}
}

func TestUnknownAndInvalidTraceIDs(t *testing.T) {
	srv := newServer(t)
	code, body := get(t, srv.URL+"/api/traces/0123456789abcdef")
	assert.Equal(t, 404, code)
	assert.JSONEq(t, `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}`, body)

	for _, id := range []string{"xyz", strings.Repeat("a", 33)} {
		code, body = get(t, srv.URL+"/api/traces/"+id)
		assert.Equal(t, 400, code, id)
		assert.Contains(t, body, `"code":400`)
	}
}

func TestOTLPJSONWithHexIDs(t *testing.T) {
	srv := newServer(t)
	const push = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
	 "scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0"},"spans":[{
	   "traceId":"5B8EFFF798038103D269B633813FC700","spanId":"EEE19B7EC3C1B100","name":"I am a span!",
	   "startTimeUnixNano":"1689969302000000000","endTimeUnixNano":1689970000000000000,"kind":2,
	   "attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}],
	   "events":[{"timeUnixNano":"1689969302000001000","name":"retry","attributes":[{"key":"n","value":{"intValue":"2"}}]}]}]}]}]}`
	resp, err := http.Post(srv.URL+"/v1/traces", "application/json", strings.NewReader(push))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
	assert.Equal(t, "{}", string(b))

	code, body := get(t, srv.URL+"/api/traces/5b8efff798038103d269b633813fc700")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"spanID":"eee19b7ec3c1b100"`)
	assert.Contains(t, body, `"operationName":"I am a span!"`)
	assert.Contains(t, body, `{"key":"otel.scope.version","type":"string","value":"1.0.0"}`)
	assert.Contains(t, body, `"logs":[{"timestamp":1689969302000001,"fields":[{"key":"event","type":"string","value":"retry"},{"key":"n","type":"int64","value":2}]}]`)
	assert.Contains(t, body, `"duration":698000000`)

	code, body = get(t, srv.URL+"/api/services")
	require.Equal(t, 200, code)
	assert.JSONEq(t, `{"data":["my.service"],"total":1,"limit":0,"offset":0,"errors":null}`, body)
}

func TestCorpusOTLPPush(t *testing.T) {
	corpus := testenv.CorpusDir(t)
	b, err := os.ReadFile(filepath.Join(corpus, "tempo_api", "otlp_push_request_hex_ids.json"))
	require.NoError(t, err)
	srv := newServer(t)
	resp, err := http.Post(srv.URL+"/v1/traces", "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	code, body := get(t, srv.URL+"/api/traces/5B8EFFF798038103D269B633813FC700")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"serviceName":"my.service"`)
	assert.Contains(t, body, `{"key":"span.kind","type":"string","value":"server"}`)
}

func TestRejectsBadPushes(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, ctype, body string
		want              int
	}{
		{"unknown content type", "text/plain", "hi", http.StatusUnsupportedMediaType},
		{"bad protobuf", "application/x-protobuf", "\xff\xff\xff", http.StatusBadRequest},
		{"bad json", "application/json", "{", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/v1/traces", tt.ctype, strings.NewReader(tt.body))
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
		})
	}
}

func TestEvictsOldestTraces(t *testing.T) {
	s := New(2)
	for i := byte(1); i <= 3; i++ {
		id := make([]byte, 16)
		id[0] = i
		s.add(serverSpan(id, []byte{1, 1, 1, 1, 1, 1, 1, 1}, nil, 200, tracepb.Status_STATUS_CODE_UNSET).ResourceSpans)
	}
	assert.Equal(t, 2, s.SpanCount())
	key, err := normalizeTraceID("01" + strings.Repeat("0", 30))
	require.NoError(t, err)
	assert.Empty(t, s.trace(key))
}

func FuzzNormalizeTraceID(f *testing.F) {
	f.Add("5B8EFFF798038103D269B633813FC700")
	f.Add("ab")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		n, err := normalizeTraceID(id)
		if err != nil {
			return
		}
		if len(n) != 32 || strings.ToLower(n) != n {
			t.Fatalf("normalizeTraceID(%q) = %q", id, n)
		}
	})
}
