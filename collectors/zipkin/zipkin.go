// Package zipkin reads trace evidence from Zipkin's v2 API
// (GET /api/v2/trace/{traceId}), looking traces up by the id the injector
// sent.
package zipkin

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
)

// ErrNotFound is collectors.ErrTraceNotFound, shared by the trace backends.
var ErrNotFound = collectors.ErrTraceNotFound

// Client looks traces up in one Zipkin server.
type Client struct {
	ep *collectors.Endpoint
}

// New returns a client for the Zipkin server at url (the part before /api/v2).
func New(url string, o collectors.HTTPOptions) (*Client, error) {
	ep, err := collectors.NewEndpoint("zipkin", url, o)
	if err != nil {
		return nil, err
	}
	return &Client{ep: ep}, nil
}

// Trace fetches the trace with traceID (any form
// collectors.NormalizeTraceID accepts). A 64-bit id is asked for as 16 hex
// digits, the form Zipkin stores. 404 and an empty span list wrap ErrNotFound.
func (c *Client) Trace(ctx context.Context, traceID string) (*collectors.Trace, error) {
	path := func(id string) string { return "/api/v2/trace/" + strings.TrimPrefix(id, "0000000000000000") }
	return c.ep.LookupTrace(ctx, traceID, path, func(body []byte) (*collectors.Trace, error) {
		spans, err := DecodeSpans(body)
		return &collectors.Trace{Spans: spans}, err
	})
}

type wireSpan struct {
	TraceID       string                        `json:"traceId"`
	ID            string                        `json:"id"`
	ParentID      string                        `json:"parentId"`
	Name          string                        `json:"name"`
	Kind          string                        `json:"kind"`
	Timestamp     int64                         `json:"timestamp"` // µs since the epoch
	Duration      int64                         `json:"duration"`  // µs
	LocalEndpoint *struct{ ServiceName string } `json:"localEndpoint"`
	Tags          map[string]string             `json:"tags"`
}

// DecodeSpans decodes a Zipkin v2 span list (the answer of
// /api/v2/trace/{id}). Zipkin marks failures with an "error" tag of any
// value; otel.status_code=ERROR counts too.
func DecodeSpans(body []byte) ([]collectors.Span, error) {
	var wire []wireSpan
	if err := json.Unmarshal(body, &wire); err != nil {
		return nil, fmt.Errorf("decoding zipkin answer: %w", err)
	}
	out := make([]collectors.Span, 0, len(wire))
	for i, w := range wire {
		s, err := w.span()
		if err != nil {
			return nil, fmt.Errorf("decoding zipkin span %d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func (w wireSpan) span() (collectors.Span, error) {
	var s collectors.Span
	var err error
	if s.TraceID, err = collectors.NormalizeTraceID(w.TraceID); err != nil {
		return s, err
	}
	if s.SpanID, err = collectors.NormalizeSpanID(w.ID); err != nil {
		return s, err
	}
	if w.ParentID != "" {
		if s.ParentID, err = collectors.NormalizeSpanID(w.ParentID); err != nil {
			return s, fmt.Errorf("parent: %w", err)
		}
	}
	if w.Timestamp < 0 || w.Duration < 0 || w.Duration > math.MaxInt64/int64(time.Microsecond) {
		return s, fmt.Errorf("timestamp %d or duration %d µs out of range", w.Timestamp, w.Duration)
	}
	s.Operation = w.Name
	s.Kind = strings.ToLower(w.Kind)
	s.Start = time.UnixMicro(w.Timestamp)
	s.Duration = time.Duration(w.Duration) * time.Microsecond
	if w.LocalEndpoint != nil {
		s.Service = w.LocalEndpoint.ServiceName
	}
	s.Tags = w.Tags
	if s.Tags == nil {
		s.Tags = map[string]string{}
	}
	_, hasError := s.Tags["error"]
	s.StatusError = hasError || strings.EqualFold(s.Tags["otel.status_code"], "ERROR")
	return s, nil
}
