// Package otlpjson decodes OTLP trace data in its protobuf-JSON mapping
// (what Tempo serves, what an OTLP/HTTP JSON exporter sends, what the
// OpenTelemetry Collector's file exporter writes) into the collectors' span
// model. It is shared by the trace readers and not meant for use elsewhere.
package otlpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
)

// OTLP protobuf-JSON as producers write it: ids in base64 (Tempo) or hex
// (the OTLP JSON mapping), 64-bit numbers as strings or numbers, enums as names or numbers.
type (
	otlpTrace struct {
		Trace         *otlpTrace      `json:"trace"` // /api/v2/traces wraps the trace
		ResourceSpans []resourceSpans `json:"resourceSpans"`
		Batches       []resourceSpans `json:"batches"` // older Tempo
	}
	resourceSpans struct {
		Resource struct {
			Attributes []keyValue `json:"attributes"`
		} `json:"resource"`
		ScopeSpans                  []scopeSpans `json:"scopeSpans"`
		InstrumentationLibrarySpans []scopeSpans `json:"instrumentationLibrarySpans"`
	}
	scopeSpans struct {
		Spans []otlpSpan `json:"spans"`
	}
	otlpSpan struct {
		TraceID           string          `json:"traceId"`
		SpanID            string          `json:"spanId"`
		ParentSpanID      string          `json:"parentSpanId"`
		Name              string          `json:"name"`
		Kind              json.RawMessage `json:"kind"`
		StartTimeUnixNano json.RawMessage `json:"startTimeUnixNano"`
		EndTimeUnixNano   json.RawMessage `json:"endTimeUnixNano"`
		Attributes        []keyValue      `json:"attributes"`
		Status            struct {
			Code json.RawMessage `json:"code"`
		} `json:"status"`
	}
	keyValue struct {
		Key   string   `json:"key"`
		Value anyValue `json:"value"`
	}
	anyValue struct {
		StringValue *string         `json:"stringValue"`
		BoolValue   *bool           `json:"boolValue"`
		IntValue    json.RawMessage `json:"intValue"`
		DoubleValue json.RawMessage `json:"doubleValue"`
		BytesValue  *string         `json:"bytesValue"`
		ArrayValue  *struct {
			Values []anyValue `json:"values"`
		} `json:"arrayValue"`
		KvlistValue *struct {
			Values []keyValue `json:"values"`
		} `json:"kvlistValue"`
	}
)

var spanKinds = map[string]string{
	"0": "", "SPAN_KIND_UNSPECIFIED": "",
	"1": "internal", "SPAN_KIND_INTERNAL": "internal",
	"2": "server", "SPAN_KIND_SERVER": "server",
	"3": "client", "SPAN_KIND_CLIENT": "client",
	"4": "producer", "SPAN_KIND_PRODUCER": "producer",
	"5": "consumer", "SPAN_KIND_CONSUMER": "consumer",
}

// Spans decodes an OTLP JSON document: an ExportTraceServiceRequest or
// TracesData ({"resourceSpans": …}), Tempo's {"trace": …} wrapper, or older
// Tempo's {"batches": …}. Its spans may belong to several traces; each comes
// with its resource's service.name.
func Spans(body []byte) ([]collectors.Span, error) {
	var t otlpTrace
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("decoding otlp trace: %w", err)
	}
	if t.Trace != nil {
		t = *t.Trace
	}
	var out []collectors.Span
	for _, rs := range append(t.ResourceSpans, t.Batches...) {
		service := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				service, _ = kv.Value.text()
			}
		}
		for _, ss := range append(rs.ScopeSpans, rs.InstrumentationLibrarySpans...) {
			for _, os := range ss.Spans {
				s, err := os.span(service)
				if err != nil {
					return nil, fmt.Errorf("decoding otlp span %d: %w", len(out), err)
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func (o otlpSpan) span(service string) (collectors.Span, error) {
	s := collectors.Span{Operation: o.Name, Service: service, Tags: make(map[string]string, len(o.Attributes))}
	var err error
	if s.TraceID, err = collectors.NormalizeTraceID(o.TraceID); err != nil {
		return s, err
	}
	if s.SpanID, err = collectors.NormalizeSpanID(o.SpanID); err != nil {
		return s, err
	}
	if o.ParentSpanID != "" {
		if s.ParentID, err = collectors.NormalizeSpanID(o.ParentSpanID); err != nil {
			return s, fmt.Errorf("parent: %w", err)
		}
	}
	kind, ok := spanKinds[scalarText(o.Kind)]
	if !ok {
		return s, fmt.Errorf("unknown span kind %s", o.Kind)
	}
	s.Kind = kind
	start, err := nanos(o.StartTimeUnixNano)
	if err != nil {
		return s, fmt.Errorf("startTimeUnixNano: %w", err)
	}
	end, err := nanos(o.EndTimeUnixNano)
	if err != nil {
		return s, fmt.Errorf("endTimeUnixNano: %w", err)
	}
	if end < start {
		return s, fmt.Errorf("span ends (%d) before it starts (%d)", end, start)
	}
	s.Start = time.Unix(0, start)
	s.Duration = time.Duration(end - start)
	for _, kv := range o.Attributes {
		if s.Tags[kv.Key], err = kv.Value.text(); err != nil {
			return s, fmt.Errorf("attribute %q: %w", kv.Key, err)
		}
	}
	code := scalarText(o.Status.Code)
	s.StatusError = code == "2" || code == "STATUS_CODE_ERROR"
	return s, nil
}

// scalarText is a JSON string's content or a number's text.
func scalarText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	if len(v) == 0 || string(v) == "null" {
		return "0"
	}
	return string(v)
}

func nanos(v json.RawMessage) (int64, error) {
	t := scalarText(v)
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", t)
	}
	return n, nil
}

// text renders an OTLP value as a string; arrays and maps as JSON.
func (a anyValue) text() (string, error) {
	switch {
	case a.StringValue != nil:
		return *a.StringValue, nil
	case a.BoolValue != nil:
		return strconv.FormatBool(*a.BoolValue), nil
	case a.IntValue != nil:
		return scalarText(a.IntValue), nil
	case a.DoubleValue != nil:
		return scalarText(a.DoubleValue), nil
	case a.BytesValue != nil:
		return *a.BytesValue, nil
	case a.ArrayValue != nil || a.KvlistValue != nil:
		v, err := a.generic(0)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	return "", nil
}

// maxDepth bounds nesting of arrays and maps in attribute values.
const maxDepth = 16

func (a anyValue) generic(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("attribute value nested too deep")
	}
	switch {
	case a.ArrayValue != nil:
		out := make([]any, 0, len(a.ArrayValue.Values))
		for _, v := range a.ArrayValue.Values {
			g, err := v.generic(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case a.KvlistValue != nil:
		out := make(map[string]any, len(a.KvlistValue.Values))
		for _, kv := range a.KvlistValue.Values {
			g, err := kv.Value.generic(depth + 1)
			if err != nil {
				return nil, err
			}
			out[kv.Key] = g
		}
		return out, nil
	}
	s, err := a.text()
	return s, err
}
