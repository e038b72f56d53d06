// Package jaeger reads trace evidence from Jaeger's query API
// (GET /api/traces/{id}, served by Jaeger v1 and v2 and by the lab), looking
// traces up by the id the injector sent, never by a time-range search: a
// trace can be found by id before search sees it.
package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
)

// ErrNotFound: the backend has no trace with that id (yet: by-id lookups can
// miss for a while after export, so pollers should retry before concluding
// the trace was not recorded). It is collectors.ErrTraceNotFound, shared by
// every trace backend.
var ErrNotFound = collectors.ErrTraceNotFound

// Span is the span model shared by the trace collectors.
type Span = collectors.Span

// Trace is the trace model shared by the trace collectors.
type Trace = collectors.Trace

// NormalizeTraceID returns id as 32 lower-case hex digits; see
// collectors.NormalizeTraceID for the forms it accepts.
func NormalizeTraceID(id string) (string, error) { return collectors.NormalizeTraceID(id) }

// Client looks traces up in one Jaeger query service.
type Client struct {
	ep *collectors.Endpoint
}

// New returns a client for the Jaeger query service at url (the part before
// /api/traces).
func New(url string, o collectors.HTTPOptions) (*Client, error) {
	ep, err := collectors.NewEndpoint("jaeger", url, o)
	if err != nil {
		return nil, err
	}
	return &Client{ep: ep}, nil
}

// Trace fetches the trace with traceID (any form NormalizeTraceID accepts).
// A 404, an empty answer, or an answer whose errors say 404 wrap
// ErrNotFound; an answer holding another trace is an error.
func (c *Client) Trace(ctx context.Context, traceID string) (*Trace, error) {
	return c.ep.LookupTrace(ctx, traceID, func(id string) string { return "/api/traces/" + id }, func(body []byte) (*Trace, error) {
		traces, err := DecodeResponse(body)
		if err != nil {
			return nil, err
		}
		merged := &Trace{}
		for _, t := range traces {
			merged.Spans = append(merged.Spans, t.Spans...)
			merged.Warnings = append(merged.Warnings, t.Warnings...)
		}
		return merged, nil
	})
}

// The UI JSON model of /api/traces/{id}.
type (
	wireResponse struct {
		Data   []wireTrace `json:"data"`
		Errors []struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"errors"`
	}
	wireTrace struct {
		TraceID   string                 `json:"traceID"`
		Spans     []wireSpan             `json:"spans"`
		Processes map[string]wireProcess `json:"processes"`
		Warnings  []string               `json:"warnings"`
	}
	wireSpan struct {
		TraceID       string         `json:"traceID"`
		SpanID        string         `json:"spanID"`
		ParentSpanID  string         `json:"parentSpanID"`
		OperationName string         `json:"operationName"`
		References    []wireRef      `json:"references"`
		StartTime     int64          `json:"startTime"` // µs since the epoch
		Duration      int64          `json:"duration"`  // µs
		Tags          []wireKeyValue `json:"tags"`
		ProcessID     string         `json:"processID"`
		Process       *wireProcess   `json:"process"`
		Warnings      []string       `json:"warnings"`
	}
	wireRef struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	}
	wireProcess struct {
		ServiceName string `json:"serviceName"`
	}
	wireKeyValue struct {
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
)

// DecodeResponse decodes a /api/traces answer ({"data":[…],"errors":…}).
// Errors listed in the answer become an error (wrapping ErrNotFound when one
// has code 404) unless traces came with them.
func DecodeResponse(body []byte) ([]Trace, error) {
	var r wireResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding jaeger answer: %w", err)
	}
	if len(r.Data) == 0 && len(r.Errors) > 0 {
		msgs := make([]string, len(r.Errors))
		notFound := false
		for i, e := range r.Errors {
			msgs[i] = fmt.Sprintf("%d %s", e.Code, e.Msg)
			notFound = notFound || e.Code == http.StatusNotFound
		}
		if notFound {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("jaeger answered with errors: %s", strings.Join(msgs, "; "))
	}
	out := make([]Trace, 0, len(r.Data))
	for _, wt := range r.Data {
		t, err := wt.trace()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (wt wireTrace) trace() (Trace, error) {
	id, err := NormalizeTraceID(wt.TraceID)
	if err != nil {
		return Trace{}, fmt.Errorf("decoding jaeger trace: %w", err)
	}
	t := Trace{ID: id, Spans: make([]Span, 0, len(wt.Spans)), Warnings: wt.Warnings}
	for i, ws := range wt.Spans {
		s, err := ws.span(id, wt.Processes)
		if err != nil {
			return Trace{}, fmt.Errorf("decoding jaeger trace %s, span %d: %w", id, i, err)
		}
		t.Spans = append(t.Spans, s)
		for _, w := range ws.Warnings {
			t.Warnings = append(t.Warnings, fmt.Sprintf("span %s: %s", s.SpanID, w))
		}
	}
	return t, nil
}

func (ws wireSpan) span(traceID string, processes map[string]wireProcess) (Span, error) {
	s := Span{TraceID: traceID, Operation: ws.OperationName, Tags: make(map[string]string, len(ws.Tags))}
	if ws.TraceID != "" {
		id, err := NormalizeTraceID(ws.TraceID)
		if err != nil {
			return Span{}, err
		}
		s.TraceID = id
	}
	var err error
	if s.SpanID, err = collectors.NormalizeSpanID(ws.SpanID); err != nil {
		return Span{}, err
	}
	if s.ParentID, err = ws.parent(s.TraceID); err != nil {
		return Span{}, err
	}
	if ws.StartTime < 0 || ws.Duration < 0 || ws.Duration > math.MaxInt64/int64(time.Microsecond) {
		return Span{}, fmt.Errorf("start time %d or duration %d µs out of range", ws.StartTime, ws.Duration)
	}
	s.Start = time.UnixMicro(ws.StartTime)
	s.Duration = time.Duration(ws.Duration) * time.Microsecond
	if ws.Process != nil {
		s.Service = ws.Process.ServiceName
	} else if p, ok := processes[ws.ProcessID]; ok {
		s.Service = p.ServiceName
	}
	for _, kv := range ws.Tags {
		v, err := tagString(kv.Value)
		if err != nil {
			return Span{}, fmt.Errorf("tag %q: %w", kv.Key, err)
		}
		s.Tags[kv.Key] = v
	}
	s.Kind = strings.ToLower(s.Tags["span.kind"])
	s.StatusError = strings.EqualFold(s.Tags["otel.status_code"], "ERROR") || s.Tags["error"] == "true"
	return s, nil
}

// parent prefers the explicit parentSpanID, then a CHILD_OF reference within
// the same trace, then any reference within the same trace.
func (ws wireSpan) parent(traceID string) (string, error) {
	if ws.ParentSpanID != "" {
		return collectors.NormalizeSpanID(ws.ParentSpanID)
	}
	var fallback *wireRef
	for i, r := range ws.References {
		if id, err := collectors.NormalizeTraceID(r.TraceID); err != nil || id != traceID {
			continue
		}
		if r.RefType == "CHILD_OF" {
			return collectors.NormalizeSpanID(r.SpanID)
		}
		if fallback == nil {
			fallback = &ws.References[i]
		}
	}
	if fallback != nil {
		return collectors.NormalizeSpanID(fallback.SpanID)
	}
	return "", nil
}

// tagString renders a tag value: strings as they are (binary values arrive
// as base64 strings), numbers and booleans as written in the JSON, so large
// int64 values keep every digit.
func tagString(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", nil
	case v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case v[0] == '{' || v[0] == '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	return string(v), nil
}
