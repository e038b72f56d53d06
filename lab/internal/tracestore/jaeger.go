package tracestore

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Jaeger's UI/query JSON model (what /api/traces/{id} returns).
type jaegerEnvelope struct {
	Data   any           `json:"data"`
	Total  int           `json:"total"`
	Limit  int           `json:"limit"`
	Offset int           `json:"offset"`
	Errors []jaegerError `json:"errors"`
}

type jaegerError struct {
	Code int    `json:"code,omitempty"`
	Msg  string `json:"msg"`
}

type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
	Warnings  []string                 `json:"warnings"`
}

type jaegerSpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	Flags         uint32      `json:"flags,omitempty"`
	OperationName string      `json:"operationName"`
	References    []jaegerRef `json:"references"`
	StartTime     uint64      `json:"startTime"` // µs since the epoch
	Duration      uint64      `json:"duration"`  // µs
	Tags          []jaegerKV  `json:"tags"`
	Logs          []jaegerLog `json:"logs"`
	ProcessID     string      `json:"processID"`
	Warnings      []string    `json:"warnings"`
	start         uint64      // ns, for ordering
}

type jaegerRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerKV struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jaegerLog struct {
	Timestamp uint64     `json:"timestamp"`
	Fields    []jaegerKV `json:"fields"`
}

type jaegerProcess struct {
	ServiceName string     `json:"serviceName"`
	Tags        []jaegerKV `json:"tags"`
}

func writeJaeger(w http.ResponseWriter, code int, env jaegerEnvelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(env)
}

func (s *Store) handleTrace(w http.ResponseWriter, r *http.Request) {
	key, err := normalizeTraceID(r.PathValue("traceID"))
	if err != nil {
		writeJaeger(w, http.StatusBadRequest, jaegerEnvelope{Errors: []jaegerError{{Code: http.StatusBadRequest, Msg: err.Error()}}})
		return
	}
	spans := s.trace(key)
	if len(spans) == 0 {
		writeJaeger(w, http.StatusNotFound, jaegerEnvelope{Errors: []jaegerError{{Code: http.StatusNotFound, Msg: "trace not found"}}})
		return
	}
	writeJaeger(w, http.StatusOK, jaegerEnvelope{Data: []jaegerTrace{toJaeger(spans)}})
}

func (s *Store) handleServices(w http.ResponseWriter, _ *http.Request) {
	svcs := s.services()
	sort.Strings(svcs)
	writeJaeger(w, http.StatusOK, jaegerEnvelope{Data: svcs, Total: len(svcs)})
}

// toJaeger converts one trace's OTLP spans the way Jaeger's OTLP translator
// does: attributes become typed tags, the span kind the "span.kind" tag, the
// status "otel.status_code" (plus "error"=true for ERROR), the resource a
// process.
func toJaeger(spans []storedSpan) jaegerTrace {
	t := jaegerTrace{Processes: map[string]jaegerProcess{}}
	procIDs := map[string]string{}
	for _, st := range spans {
		sp := st.span
		proc := toProcess(st.resource)
		pkey := processKey(proc)
		pid, ok := procIDs[pkey]
		if !ok {
			pid = fmt.Sprintf("p%d", len(procIDs)+1)
			procIDs[pkey] = pid
			t.Processes[pid] = proc
		}
		traceID := jaegerTraceID(sp.GetTraceId())
		t.TraceID = traceID
		js := jaegerSpan{
			TraceID:       traceID,
			SpanID:        hex.EncodeToString(sp.GetSpanId()),
			OperationName: sp.GetName(),
			References:    []jaegerRef{},
			StartTime:     sp.GetStartTimeUnixNano() / 1000,
			Duration:      durationMicros(sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano()),
			Tags:          []jaegerKV{},
			Logs:          []jaegerLog{},
			ProcessID:     pid,
			start:         sp.GetStartTimeUnixNano(),
		}
		if sp.GetFlags()&0x1 != 0 {
			js.Flags = 1
		}
		if p := sp.GetParentSpanId(); len(p) > 0 {
			js.References = append(js.References, jaegerRef{RefType: "CHILD_OF", TraceID: traceID, SpanID: hex.EncodeToString(p)})
		}
		for _, l := range sp.GetLinks() {
			js.References = append(js.References, jaegerRef{RefType: "FOLLOWS_FROM", TraceID: jaegerTraceID(l.GetTraceId()), SpanID: hex.EncodeToString(l.GetSpanId())})
		}
		if n := st.scope.GetName(); n != "" {
			js.Tags = append(js.Tags, jaegerKV{Key: "otel.scope.name", Type: "string", Value: n})
		}
		if v := st.scope.GetVersion(); v != "" {
			js.Tags = append(js.Tags, jaegerKV{Key: "otel.scope.version", Type: "string", Value: v})
		}
		js.Tags = append(js.Tags, toTags(sp.GetAttributes())...)
		if k := spanKind(sp.GetKind()); k != "" {
			js.Tags = append(js.Tags, jaegerKV{Key: "span.kind", Type: "string", Value: k})
		}
		switch sp.GetStatus().GetCode() {
		case tracepb.Status_STATUS_CODE_ERROR:
			js.Tags = append(js.Tags,
				jaegerKV{Key: "otel.status_code", Type: "string", Value: "ERROR"},
				jaegerKV{Key: "error", Type: "bool", Value: true})
		case tracepb.Status_STATUS_CODE_OK:
			js.Tags = append(js.Tags, jaegerKV{Key: "otel.status_code", Type: "string", Value: "OK"})
		}
		if m := sp.GetStatus().GetMessage(); m != "" {
			js.Tags = append(js.Tags, jaegerKV{Key: "otel.status_description", Type: "string", Value: m})
		}
		if ts := sp.GetTraceState(); ts != "" {
			js.Tags = append(js.Tags, jaegerKV{Key: "w3c.tracestate", Type: "string", Value: ts})
		}
		for _, ev := range sp.GetEvents() {
			fields := []jaegerKV{{Key: "event", Type: "string", Value: ev.GetName()}}
			fields = append(fields, toTags(ev.GetAttributes())...)
			js.Logs = append(js.Logs, jaegerLog{Timestamp: ev.GetTimeUnixNano() / 1000, Fields: fields})
		}
		t.Spans = append(t.Spans, js)
	}
	sort.SliceStable(t.Spans, func(i, j int) bool { return t.Spans[i].start < t.Spans[j].start })
	return t
}

// jaegerTraceID formats a 128-bit id as Jaeger's model does: 16 hex digits
// when the high half is zero, else 32.
func jaegerTraceID(id []byte) string {
	if len(id) != 16 {
		return hex.EncodeToString(id)
	}
	if binary.BigEndian.Uint64(id[:8]) == 0 {
		return hex.EncodeToString(id[8:])
	}
	return hex.EncodeToString(id)
}

func durationMicros(start, end uint64) uint64 {
	if end <= start {
		return 0
	}
	return (end - start) / 1000
}

func spanKind(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	case tracepb.Span_SPAN_KIND_INTERNAL:
		return "internal"
	}
	return ""
}

func toProcess(r *resourcepb.Resource) jaegerProcess {
	p := jaegerProcess{ServiceName: serviceName(r), Tags: []jaegerKV{}}
	var rest []*commonpb.KeyValue
	for _, kv := range r.GetAttributes() {
		if kv.GetKey() != "service.name" {
			rest = append(rest, kv)
		}
	}
	p.Tags = append(p.Tags, toTags(rest)...)
	return p
}

func processKey(p jaegerProcess) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func toTags(kvs []*commonpb.KeyValue) []jaegerKV {
	out := make([]jaegerKV, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, toTag(kv.GetKey(), kv.GetValue()))
	}
	return out
}

func toTag(key string, v *commonpb.AnyValue) jaegerKV {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return jaegerKV{Key: key, Type: "string", Value: x.StringValue}
	case *commonpb.AnyValue_BoolValue:
		return jaegerKV{Key: key, Type: "bool", Value: x.BoolValue}
	case *commonpb.AnyValue_IntValue:
		return jaegerKV{Key: key, Type: "int64", Value: x.IntValue}
	case *commonpb.AnyValue_DoubleValue:
		return jaegerKV{Key: key, Type: "float64", Value: x.DoubleValue}
	case *commonpb.AnyValue_BytesValue:
		return jaegerKV{Key: key, Type: "binary", Value: base64.StdEncoding.EncodeToString(x.BytesValue)}
	default:
		// Arrays and maps have no Jaeger type: Jaeger stores them as JSON strings.
		b, err := protojson.Marshal(v)
		if err != nil {
			return jaegerKV{Key: key, Type: "string", Value: ""}
		}
		return jaegerKV{Key: key, Type: "string", Value: strings.TrimSpace(string(b))}
	}
}
