// Package tracestore is the lab's embedded trace backend: an OTLP/HTTP
// receiver that keeps spans in memory and answers Jaeger's query API
// (/api/traces/{id}, /api/services) in Jaeger's JSON format, so trace
// collectors talk to it exactly as to a real Jaeger.
package tracestore

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// DefaultMaxTraces bounds memory: the oldest traces are dropped beyond it.
const DefaultMaxTraces = 20000

// Store keeps received spans grouped by trace.
type Store struct {
	mu        sync.Mutex
	traces    map[string][]storedSpan // key: 32 lower-case hex digits
	order     []string                // trace keys, oldest first
	maxTraces int
}

type storedSpan struct {
	span     *tracepb.Span
	resource *resourcepb.Resource
	scope    *commonpb.InstrumentationScope
}

// New returns an empty store keeping at most maxTraces traces (DefaultMaxTraces when ≤ 0).
func New(maxTraces int) *Store {
	if maxTraces <= 0 {
		maxTraces = DefaultMaxTraces
	}
	return &Store{traces: make(map[string][]storedSpan), maxTraces: maxTraces}
}

// Handler serves POST /v1/traces (OTLP/HTTP, protobuf or JSON),
// GET /api/traces/{traceID} and GET /api/services (Jaeger query API).
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.handleOTLP)
	mux.HandleFunc("GET /api/traces/{traceID}", s.handleTrace)
	mux.HandleFunc("GET /api/services", s.handleServices)
	return mux
}

func (s *Store) add(resourceSpans []*tracepb.ResourceSpans) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range resourceSpans {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				if len(sp.GetTraceId()) != 16 {
					continue // invalid per OTLP; a real backend drops it too
				}
				key := hex.EncodeToString(sp.GetTraceId())
				if _, ok := s.traces[key]; !ok {
					s.order = append(s.order, key)
				}
				s.traces[key] = append(s.traces[key], storedSpan{span: sp, resource: rs.GetResource(), scope: ss.GetScope()})
			}
		}
	}
	for len(s.order) > s.maxTraces {
		delete(s.traces, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *Store) trace(key string) []storedSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]storedSpan(nil), s.traces[key]...)
}

func (s *Store) services() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, spans := range s.traces {
		for _, sp := range spans {
			seen[serviceName(sp.resource)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	return out
}

// SpanCount returns how many spans the store holds; for tests and logs.
func (s *Store) SpanCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, spans := range s.traces {
		n += len(spans)
	}
	return n
}

// normalizeTraceID accepts a trace id as Jaeger does: hex, any case, with or
// without leading zeros, up to 32 digits. It returns 32 lower-case digits.
func normalizeTraceID(id string) (string, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" || len(id) > 32 {
		return "", fmt.Errorf("TraceID cannot be longer than 32 hex characters: %s", id)
	}
	if _, err := hex.DecodeString(strings.Repeat("0", len(id)%2) + id); err != nil {
		return "", fmt.Errorf("strconv.ParseUint: parsing %q: invalid syntax", id)
	}
	return strings.Repeat("0", 32-len(id)) + id, nil
}

func serviceName(r *resourcepb.Resource) string {
	for _, kv := range r.GetAttributes() {
		if kv.GetKey() == "service.name" {
			return kv.GetValue().GetStringValue()
		}
	}
	return "unknown_service"
}
