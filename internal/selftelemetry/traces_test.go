package selftelemetry

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// otlpReceiver is an OTLP/HTTP traces endpoint that decodes protobuf
// requests and keeps their spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	paths []string
	auth  []string
	svc   []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paths = append(o.paths, r.URL.Path)
	o.auth = append(o.auth, r.Header.Get("Authorization"))
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				o.svc = append(o.svc, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			o.spans = append(o.spans, ss.GetSpans()...)
		}
	}
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func strAttr(s *tracepb.Span, key string) string {
	for _, a := range s.GetAttributes() {
		if a.GetKey() == key {
			return a.GetValue().GetStringValue()
		}
	}
	return ""
}

func TestExportTrace(t *testing.T) {
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()

	rep := sampleReport()
	// A request whose trace id cannot be read gets no span.
	bad := rep.Drills[1].Injection.Requests[0]
	bad.TraceID, bad.RequestID = "not-a-trace-id", "md-run42-leak-bad"
	rep.Drills[1].Injection.Requests = append(rep.Drills[1].Injection.Requests, bad)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, ExportTrace(ctx, srv.URL, rep))

	recv.mu.Lock()
	defer recv.mu.Unlock()
	assert.Equal(t, []string{"/v1/traces"}, recv.paths)
	assert.NotEmpty(t, recv.svc)
	for _, s := range recv.svc {
		assert.Equal(t, "meshdrill", s)
	}

	byName := map[string][]*tracepb.Span{}
	for _, s := range recv.spans {
		byName[s.GetName()] = append(byName[s.GetName()], s)
	}
	require.Len(t, byName["meshdrill run"], 1)
	run := byName["meshdrill run"][0]
	assert.Empty(t, run.GetParentSpanId(), "the run span is a root")
	assert.Equal(t, "NOT_ENFORCED", strAttr(run, "meshdrill.verdict"))
	assert.Equal(t, uint64(rep.Started.UnixNano()), run.GetStartTimeUnixNano())
	assert.Equal(t, uint64(rep.Finished.UnixNano()), run.GetEndTimeUnixNano())

	for i, d := range rep.Drills {
		spans := byName["drill "+d.Name]
		require.Len(t, spans, 1, d.Name)
		ds := spans[0]
		assert.Equal(t, run.GetTraceId(), ds.GetTraceId(), "drill spans are in the run's trace")
		assert.Equal(t, run.GetSpanId(), ds.GetParentSpanId(), "drill spans are children of the run span")
		assert.Equal(t, d.Verdict.String(), strAttr(ds, "meshdrill.verdict"))
		assert.Len(t, ds.GetEvents(), 1+len(d.Results), "an event per expectation, client row included")

		// The request spans carry exactly the trace ids the drill injected.
		var want []string
		for _, q := range d.Injection.Requests {
			if q.TraceID != "not-a-trace-id" {
				want = append(want, q.TraceID)
			}
		}
		var got []string
		for _, s := range byName["inject "+d.Kind] {
			if strAttr(s, "meshdrill.drill") != d.Name {
				continue
			}
			got = append(got, hex.EncodeToString(s.GetTraceId()))
			assert.Empty(t, s.GetParentSpanId())
			assert.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, s.GetKind())
			require.Len(t, s.GetLinks(), 1)
			assert.Equal(t, ds.GetSpanId(), s.GetLinks()[0].GetSpanId(), "request span links to its drill span")
			assert.Equal(t, ds.GetTraceId(), s.GetLinks()[0].GetTraceId())
			assert.Contains(t, strAttr(s, "meshdrill.request_id"), "md-run42-"+d.Name)
			if i == 1 {
				assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, s.GetStatus().GetCode(), "let-through request")
			}
		}
		assert.ElementsMatch(t, want, got)
		var linked []string
		for _, l := range ds.GetLinks() {
			linked = append(linked, hex.EncodeToString(l.GetTraceId()))
		}
		assert.ElementsMatch(t, want, linked, "the drill span links to every request's trace")
	}
	leak := byName["drill leak"][0]
	assert.Equal(t, int64(1), leakUntraced(leak))
	assert.Equal(t, tracepb.Status_STATUS_CODE_ERROR, leak.GetStatus().GetCode())
}

func leakUntraced(s *tracepb.Span) int64 {
	for _, a := range s.GetAttributes() {
		if a.GetKey() == "meshdrill.requests_without_trace_id" {
			return a.GetValue().GetIntValue()
		}
	}
	return 0
}

func TestExportTraceEndpoints(t *testing.T) {
	recv := &otlpReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	withAuth := strings.Replace(srv.URL, "http://", "http://ci:s3cret@", 1)
	tests := []struct{ url, wantPath string }{
		{srv.URL, "/v1/traces"},
		{srv.URL + "/", "/v1/traces"},
		{srv.URL + "/v1/traces", "/v1/traces"},
		{srv.URL + "/otlp", "/otlp/v1/traces"},
		{withAuth, "/v1/traces"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, ExportTrace(ctx, tt.url, sampleReport()))
			recv.mu.Lock()
			defer recv.mu.Unlock()
			assert.Equal(t, tt.wantPath, recv.paths[len(recv.paths)-1])
		})
	}
	assert.Equal(t, "Basic Y2k6czNjcmV0", recv.auth[len(recv.auth)-1], "userinfo is sent as basic auth")
}

func TestExportTraceErrors(t *testing.T) {
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "bad", http.StatusBadRequest)
	}))
	defer rejecting.Close()
	tests := []struct {
		name, url string
		wantErr   string
	}{
		{"no url", "", "no URL configured"},
		{"rejected", strings.Replace(rejecting.URL, "http://", "http://ci:s3cret@", 1), "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := ExportTrace(ctx, tt.url, sampleReport())
			require.Error(t, err)
			t.Log(err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "s3cret")
		})
	}
}

// TestExportTraceToJaeger: the request spans land in the traces a tracing
// backend already holds for the injected requests, under the same ids.
func TestExportTraceToJaeger(t *testing.T) {
	j := testenv.StartJaeger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep := sampleReport()
	rep.Drills = rep.Drills[:1]
	require.NoError(t, ExportTrace(ctx, j.OTLPHTTPURL, rep))

	tid := rep.Drills[0].Injection.Requests[1].TraceID
	var doc struct {
		Data []struct {
			TraceID string `json:"traceID"`
			Spans   []struct {
				OperationName string `json:"operationName"`
				Tags          []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"tags"`
			} `json:"spans"`
		} `json:"data"`
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(j.QueryURL + "/api/traces/" + tid)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		return json.NewDecoder(resp.Body).Decode(&doc) == nil && len(doc.Data) == 1
	}, 20*time.Second, 100*time.Millisecond, "trace %s never showed up in jaeger", tid)
	assert.Equal(t, tid, doc.Data[0].TraceID)
	require.Len(t, doc.Data[0].Spans, 1)
	assert.Equal(t, "inject forbidden-identity", doc.Data[0].Spans[0].OperationName)
	var reqID any
	for _, tag := range doc.Data[0].Spans[0].Tags {
		if tag.Key == "meshdrill.request_id" {
			reqID = tag.Value
		}
	}
	assert.Equal(t, "md-run42-deny-frontend-1", reqID)
}

func TestSpansHandleEmptyReport(t *testing.T) {
	stubs := Spans(expectations.Report{})
	require.Len(t, stubs, 1)
	assert.True(t, stubs[0].SpanContext.IsValid())
}
