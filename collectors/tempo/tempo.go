// Package tempo reads trace evidence from Grafana Tempo: a trace by id
// (GET /api/v2/traces/{id}, OTLP JSON) and, for context only, a TraceQL
// search. Look traces up by id: Tempo can serve a trace by id before search
// finds it, and by-id lookups themselves can 404 for a while after export.
package tempo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/internal/otlpjson"
)

// ErrNotFound is collectors.ErrTraceNotFound, shared by the trace backends.
var ErrNotFound = collectors.ErrTraceNotFound

// Client queries one Tempo query frontend.
type Client struct {
	ep *collectors.Endpoint
}

// New returns a client for the Tempo HTTP API at url (the part before /api).
func New(url string, o collectors.HTTPOptions) (*Client, error) {
	ep, err := collectors.NewEndpoint("tempo", url, o)
	if err != nil {
		return nil, err
	}
	return &Client{ep: ep}, nil
}

// Trace fetches the trace with traceID (any form
// collectors.NormalizeTraceID accepts) from /api/v2/traces (Tempo ≥ 2.5).
// A 404 or a trace without spans wraps ErrNotFound.
func (c *Client) Trace(ctx context.Context, traceID string) (*collectors.Trace, error) {
	return c.ep.LookupTrace(ctx, traceID, func(id string) string { return "/api/v2/traces/" + id }, DecodeTrace)
}

// DecodeTrace decodes an OTLP JSON trace: Tempo's {"trace": …} wrapper, a
// bare {"resourceSpans": …} (an OTLP export request) or older Tempo's
// {"batches": …}. All spans must belong to one trace.
func DecodeTrace(body []byte) (*collectors.Trace, error) {
	spans, err := otlpjson.Spans(body)
	if err != nil {
		return nil, err
	}
	out := &collectors.Trace{Spans: spans}
	for _, s := range spans {
		if out.ID == "" {
			out.ID = s.TraceID
		} else if s.TraceID != out.ID {
			return nil, fmt.Errorf("decoding otlp trace: spans of two traces, %s and %s", out.ID, s.TraceID)
		}
	}
	return out, nil
}

// SearchHit is one trace found by Search.
type SearchHit struct {
	TraceID               string
	RootService, RootName string
	Start                 time.Time
	Duration              time.Duration
}

// Search runs a TraceQL query over [start, end] (second resolution, as Tempo
// takes it) and returns at most limit hits (0: Tempo's default). A query
// Tempo rejects wraps collectors.ErrBadQuery.
func (c *Client) Search(ctx context.Context, traceQL string, start, end time.Time, limit int) ([]SearchHit, error) {
	q := url.Values{"q": {traceQL}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	body, err := c.ep.Get(ctx, "/api/search", q)
	if collectors.StatusOf(err) == http.StatusBadRequest {
		return nil, fmt.Errorf("tempo search %q: %w: %w", traceQL, collectors.ErrBadQuery, err)
	}
	if err != nil {
		return nil, err
	}
	hits, err := DecodeSearch(body)
	if err != nil {
		return nil, fmt.Errorf("tempo search %q: %w", traceQL, err)
	}
	return hits, nil
}

// DecodeSearch decodes an /api/search answer.
func DecodeSearch(body []byte) ([]SearchHit, error) {
	var r struct {
		Traces []struct {
			TraceID           string      `json:"traceID"`
			RootServiceName   string      `json:"rootServiceName"`
			RootTraceName     string      `json:"rootTraceName"`
			StartTimeUnixNano json.Number `json:"startTimeUnixNano"`
			DurationMs        json.Number `json:"durationMs"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding tempo search answer: %w", err)
	}
	out := make([]SearchHit, 0, len(r.Traces))
	for i, t := range r.Traces {
		id, err := collectors.NormalizeTraceID(t.TraceID)
		if err != nil {
			return nil, fmt.Errorf("decoding tempo search hit %d: %w", i, err)
		}
		hit := SearchHit{TraceID: id, RootService: t.RootServiceName, RootName: t.RootTraceName}
		if t.StartTimeUnixNano != "" {
			ns, err := strconv.ParseInt(t.StartTimeUnixNano.String(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("decoding tempo search hit %d: startTimeUnixNano: %w", i, err)
			}
			hit.Start = time.Unix(0, ns)
		}
		if t.DurationMs != "" {
			ms, err := strconv.ParseInt(t.DurationMs.String(), 10, 64)
			if err != nil || ms < 0 {
				return nil, fmt.Errorf("decoding tempo search hit %d: durationMs %q", i, t.DurationMs)
			}
			hit.Duration = time.Duration(ms) * time.Millisecond
		}
		out = append(out, hit)
	}
	return out, nil
}
