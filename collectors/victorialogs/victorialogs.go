// Package victorialogs reads log evidence from VictoriaLogs with LogsQL
// (/select/logsql/query): arbitrary queries over an explicit time range, and
// the lines of the requests a drill injected, found by request id whether
// the id sits in the message (an Envoy/Istio TEXT access-log line) or in a
// field of its own (JSON logs split into fields, Loki structured metadata).
//
// VictoriaLogs acknowledges a push before the lines are searchable (about a
// second here), so callers poll around a narrow window.
package victorialogs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/meshdrill/meshdrill/collectors"
)

// Client queries one VictoriaLogs (or vlselect) instance.
type Client struct {
	ep  *collectors.Endpoint
	url string // redacted, for messages
}

// New returns a client for VictoriaLogs at url (the part before /select).
// Multi-tenant setups pass AccountID/ProjectID in o.Headers.
func New(url string, o collectors.HTTPOptions) (*Client, error) {
	ep, err := collectors.NewEndpoint("victorialogs", url, o)
	if err != nil {
		return nil, err
	}
	return &Client{ep: ep, url: collectors.Redact(ep.URL("", nil).String())}, nil
}

// Entry is one log entry: its _time, its _msg, and every other field
// (_stream and _stream_id included) as text.
type Entry struct {
	Time   time.Time
	Msg    string
	Fields map[string]string
}

// Query runs the LogsQL query logsql over [start, end], both inclusive (a
// zero bound is open, which makes VictoriaLogs search all it holds). With
// limit > 0 at most limit entries come back, and VictoriaLogs keeps the most
// recent ones. Entries are sorted by time, oldest first: VictoriaLogs sends
// them in no particular order. A query VictoriaLogs rejects wraps
// collectors.ErrBadQuery.
func (c *Client) Query(ctx context.Context, logsql string, start, end time.Time, limit int) ([]Entry, error) {
	what := fmt.Sprintf("victorialogs query %q [%s, %s] at %s", logsql, stamp(start), stamp(end), c.url)
	if strings.TrimSpace(logsql) == "" {
		return nil, fmt.Errorf("%s: %w: empty query", what, collectors.ErrBadQuery)
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return nil, fmt.Errorf("%s: the range ends before it starts", what)
	}
	v := url.Values{"query": {logsql}}
	if !start.IsZero() {
		v.Set("start", strconv.FormatInt(start.UnixNano(), 10))
	}
	if !end.IsZero() {
		// VictoriaLogs' end is exclusive.
		v.Set("end", strconv.FormatInt(end.UnixNano()+1, 10))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	body, err := c.ep.Get(ctx, "/select/logsql/query", v)
	if collectors.StatusOf(err) == http.StatusBadRequest {
		return nil, fmt.Errorf("%s: %w: %w", what, collectors.ErrBadQuery, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	entries, err := Decode(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return entries, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "open"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Decode reads a /select/logsql/query answer: one JSON object per line,
// values as strings (numbers and other JSON values are kept as written).
// Entries come out sorted by _time; one without a _time (a query that
// dropped it with a fields pipe) has the zero time and sorts first.
func Decode(body []byte) ([]Entry, error) {
	var out []Entry
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		e, err := decodeLine(line)
		if err != nil {
			return nil, fmt.Errorf("decoding victorialogs answer, line %d: %w", n, err)
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func decodeLine(line []byte) (Entry, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return Entry{}, err
	}
	if m == nil {
		return Entry{}, errors.New("not a JSON object")
	}
	e := Entry{Fields: make(map[string]string, len(m))}
	for k, raw := range m {
		v, err := text(raw)
		if err != nil {
			return Entry{}, fmt.Errorf("field %q: %w", k, err)
		}
		switch k {
		case "_msg":
			e.Msg = v
		case "_time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Entry{}, fmt.Errorf("_time %q is not an RFC 3339 time", v)
			}
			e.Time = t
		default:
			e.Fields[k] = v
		}
	}
	return e, nil
}

// text is a JSON string's content, or any other value as written.
func text(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	return string(raw), nil
}

// idsPerQuery bounds the phrase filters in one query, which keeps the URL
// short enough for the proxies in front of VictoriaLogs.
const idsPerQuery = 50

// ByRequestID finds the entries carrying each of ids over [start, end]
// (inclusive), in any field: the message or a field of its own. The answer
// maps each id found to its earliest entry; ids not found are absent.
//
// The query is a LogsQL phrase filter on every field (*:"id"), which also
// matches an id embedded in a longer token ("req-1" in "req-1-retry"), so
// every entry is checked here: the id must equal a field's value or stand in
// it between characters that cannot belong to an id (anything but letters,
// digits, '-' and '_'). Ids must be non-empty and free of control characters.
func (c *Client) ByRequestID(ctx context.Context, ids []string, start, end time.Time) (map[string]Entry, error) {
	var uniq []string
	for _, id := range ids {
		if id == "" || strings.IndexFunc(id, unicode.IsControl) >= 0 {
			return nil, fmt.Errorf("victorialogs: request id %q: want a non-empty id without control characters", id)
		}
		if !slices.Contains(uniq, id) {
			uniq = append(uniq, id)
		}
	}
	found := make(map[string]Entry)
	for batch := range slices.Chunk(uniq, idsPerQuery) {
		filters := make([]string, len(batch))
		for i, id := range batch {
			filters[i] = "*:" + strconv.Quote(id)
		}
		entries, err := c.Query(ctx, strings.Join(filters, " OR "), start, end, 0)
		if err != nil {
			return found, err
		}
		// Entries come oldest first, so the first one kept is the earliest.
		for _, e := range entries {
			for _, id := range batch {
				if _, seen := found[id]; !seen && e.carries(id) {
					found[id] = e
				}
			}
		}
	}
	return found, nil
}

// carries reports whether id stands on its own in the message or a field.
func (e Entry) carries(id string) bool {
	if containsToken(e.Msg, id) {
		return true
	}
	for _, v := range e.Fields {
		if containsToken(v, id) {
			return true
		}
	}
	return false
}

func containsToken(s, id string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], id)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(id)
		if (i == 0 || !idByte(s[i-1])) && (j == len(s) || !idByte(s[j])) {
			return true
		}
		off = i + 1
	}
}

func idByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}
