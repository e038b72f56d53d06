// Package loki reads log evidence from Loki's query_range API: log streams
// (the access-log lines of injected requests) and metric results (counts
// over time). Loki can acknowledge a push and still not return the lines for
// a while, and caches results, so callers poll around a narrow time range.
package loki

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/meshdrill/meshdrill/collectors"
)

// Client queries one Loki (or Loki-compatible) query frontend.
type Client struct {
	ep *collectors.Endpoint
}

// New returns a client for the Loki HTTP API at url (the part before /loki).
// Multi-tenant Loki needs an X-Scope-OrgID header in o.Headers.
func New(url string, o collectors.HTTPOptions) (*Client, error) {
	ep, err := collectors.NewEndpoint("loki", url, o)
	if err != nil {
		return nil, err
	}
	return &Client{ep: ep}, nil
}

// RangeQuery is one query_range call. Zero values leave Loki's defaults
// (limit 100, backward, a step from the range).
type RangeQuery struct {
	Query      string
	Start, End time.Time
	Limit      int
	Step       time.Duration // metric queries only
	Direction  string        // "forward" or "backward"
}

// Entry is one log line.
type Entry struct {
	Time               time.Time
	Line               string
	StructuredMetadata map[string]string // with the categorize-labels encoding
	Parsed             map[string]string
}

// Stream is the lines of one label set.
type Stream struct {
	Labels  map[string]string
	Entries []Entry
}

// Result is a query_range answer: Streams for a log query, Matrix (or
// Vector) for a metric query. LimitReached says the answer holds Limit
// lines, so more may exist: counts taken from it are lower bounds.
type Result struct {
	Type         string // "streams", "matrix" or "vector"
	Streams      []Stream
	Matrix       model.Matrix
	Vector       model.Vector
	Warnings     []string
	LimitReached bool
}

// QueryRange runs q. The query gets CheckLogQL's light check first, so a
// typo fails before any call; Loki's own 400 wraps collectors.ErrBadQuery.
func (c *Client) QueryRange(ctx context.Context, q RangeQuery) (*Result, error) {
	what := fmt.Sprintf("loki query_range %q [%s, %s] at %s", q.Query,
		q.Start.UTC().Format(time.RFC3339Nano), q.End.UTC().Format(time.RFC3339Nano), collectors.Redact(c.ep.URL("", nil).String()))
	if err := CheckLogQL(q.Query); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", what, collectors.ErrBadQuery, err)
	}
	if q.Direction != "" && q.Direction != "forward" && q.Direction != "backward" {
		return nil, fmt.Errorf("%s: direction %q: want forward or backward", what, q.Direction)
	}
	v := url.Values{
		"query": {q.Query},
		"start": {strconv.FormatInt(q.Start.UnixNano(), 10)},
		"end":   {strconv.FormatInt(q.End.UnixNano(), 10)},
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Step > 0 {
		v.Set("step", strconv.FormatFloat(q.Step.Seconds(), 'f', -1, 64))
	}
	if q.Direction != "" {
		v.Set("direction", q.Direction)
	}
	body, err := c.ep.Get(ctx, "/loki/api/v1/query_range", v)
	if collectors.StatusOf(err) == http.StatusBadRequest {
		return nil, fmt.Errorf("%s: %w: %w", what, collectors.ErrBadQuery, err)
	}
	if err != nil {
		return nil, err
	}
	res, err := DecodeResponse(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if q.Limit > 0 && res.Type == "streams" {
		n := 0
		for _, s := range res.Streams {
			n += len(s.Entries)
		}
		res.LimitReached = n >= q.Limit
	}
	return res, nil
}

type wireResponse struct {
	Status   string   `json:"status"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings"`
	Data     struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

type wireStream struct {
	Stream map[string]string   `json:"stream"`
	Values [][]json.RawMessage `json:"values"`
}

// DecodeResponse decodes a query or query_range answer.
func DecodeResponse(body []byte) (*Result, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decoding loki answer: %w", err)
	}
	if w.Status != "success" {
		return nil, fmt.Errorf("loki answered status %q: %s", w.Status, w.Error)
	}
	res := &Result{Type: w.Data.ResultType, Warnings: w.Warnings}
	var err error
	switch w.Data.ResultType {
	case "streams":
		res.Streams, err = decodeStreams(w.Data.Result)
	case "matrix":
		err = json.Unmarshal(w.Data.Result, &res.Matrix)
	case "vector":
		err = json.Unmarshal(w.Data.Result, &res.Vector)
	default:
		return nil, fmt.Errorf("decoding loki answer: unknown result type %q", w.Data.ResultType)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding loki %s: %w", w.Data.ResultType, err)
	}
	return res, nil
}

func decodeStreams(raw json.RawMessage) ([]Stream, error) {
	var ws []wireStream
	if err := json.Unmarshal(raw, &ws); err != nil {
		return nil, err
	}
	out := make([]Stream, 0, len(ws))
	for i, w := range ws {
		s := Stream{Labels: w.Stream, Entries: make([]Entry, 0, len(w.Values))}
		for j, v := range w.Values {
			e, err := decodeEntry(v)
			if err != nil {
				return nil, fmt.Errorf("stream %d, value %d: %w", i, j, err)
			}
			s.Entries = append(s.Entries, e)
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeEntry reads [ "<unix ns>", "<line>" ] or, with categorize-labels,
// [ "<unix ns>", "<line>", {"structuredMetadata": {…}, "parsed": {…}} ].
func decodeEntry(v []json.RawMessage) (Entry, error) {
	if len(v) != 2 && len(v) != 3 {
		return Entry{}, fmt.Errorf("want [time, line] or [time, line, metadata], got %d elements", len(v))
	}
	var ts string
	var e Entry
	if err := json.Unmarshal(v[0], &ts); err != nil {
		return Entry{}, fmt.Errorf("time: %w", err)
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("time %q is not unix nanoseconds", ts)
	}
	e.Time = time.Unix(0, ns)
	if err := json.Unmarshal(v[1], &e.Line); err != nil {
		return Entry{}, fmt.Errorf("line: %w", err)
	}
	if len(v) == 3 {
		var meta struct {
			StructuredMetadata map[string]string `json:"structuredMetadata"`
			Parsed             map[string]string `json:"parsed"`
		}
		if err := json.Unmarshal(v[2], &meta); err != nil {
			return Entry{}, fmt.Errorf("metadata: %w", err)
		}
		e.StructuredMetadata, e.Parsed = meta.StructuredMetadata, meta.Parsed
	}
	return e, nil
}
