package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/accesslog"
	"github.com/meshdrill/meshdrill/collectors/victorialogs"
	"github.com/meshdrill/meshdrill/expectations"
)

// VictoriaLogs reads access logs from VictoriaLogs with LogsQL: an optional
// filter narrows the search (the suite's selector, such as
// `app_name:haproxy`), phrase filters pick the injected requests, and lines
// in Istio's or Envoy's formats are parsed like files. Lines that arrive
// over syslog keep the proxy's own text in _msg.
type VictoriaLogs struct {
	Client *victorialogs.Client
	// Selector is a LogsQL filter ANDed with every query; "" searches all
	// streams.
	Selector string
	URL      string // redacted, for reports
}

// NewVictoriaLogs builds the log source for a suite's
// backends.logs.victorialogs, with client options already resolved from it
// (HTTPOptions, plus FromSuiteWith's transcript).
func NewVictoriaLogs(b *expectations.HTTPBackend, o collectors.HTTPOptions) (VictoriaLogs, error) {
	c, err := victorialogs.New(b.URL, o)
	if err != nil {
		return VictoriaLogs{}, err
	}
	return VictoriaLogs{Client: c, Selector: strings.TrimSpace(b.Selector), URL: collectors.Redact(b.URL)}, nil
}

// Describe names the backend.
func (v VictoriaLogs) Describe() string {
	d := "victorialogs " + v.URL
	if v.Selector != "" {
		d += " " + v.Selector
	}
	return d
}

// lookback is how far back ByRequestID searches: its interface gives no
// window, and the ids are meshdrill's own, so a wide one costs little and
// tolerates clock skew.
const lookback = 15 * time.Minute

// grepPad widens Grep's window. Syslog timestamps have whole seconds
// (RFC 3164) and may be stamped by the sender's clock; the needles are
// unique to the run, so a wider window cannot match someone else's line.
const grepPad = 10 * time.Second

// ByRequestID finds parsed access-log lines by request id, in the message
// or in a field of their own.
func (v VictoriaLogs) ByRequestID(ctx context.Context, ids []string) (map[string]expectations.LogRecord, error) {
	now := time.Now()
	recs, err := v.records(ctx, ids, now.Add(-lookback), now.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	return firstByRequestID(recs, ids), nil
}

// ByRemoteAddress finds parsed listener lines from the addresses.
func (v VictoriaLogs) ByRemoteAddress(ctx context.Context, addrs []string, since, until time.Time) ([]expectations.LogRecord, error) {
	recs, err := v.records(ctx, addrs, since, until)
	if err != nil {
		return nil, err
	}
	return fromAddresses(recs, addrs), nil
}

// Grep returns the raw lines carrying each needle as a whole token: a
// request id, or an ip:port that must not match a longer port.
func (v VictoriaLogs) Grep(ctx context.Context, needles []string, since, until time.Time) (map[string][]string, error) {
	if !since.IsZero() {
		since = since.Add(-grepPad)
	}
	if !until.IsZero() {
		until = until.Add(grepPad)
	}
	entries, err := v.entries(ctx, needles, since, until)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range entries {
		line := rawLine(e)
		for _, n := range needles {
			if len(out[n]) < maxLinesPerNeedle && carries(e, n) {
				out[n] = append(out[n], line)
			}
		}
	}
	return out, nil
}

// needlesPerQuery bounds the phrase filters in one query, which keeps the
// URL short enough for the proxies in front of VictoriaLogs.
const needlesPerQuery = 50

// entries runs one query per batch of needles for the entries that carry
// any of them in any field, over [since, until].
func (v VictoriaLogs) entries(ctx context.Context, needles []string, since, until time.Time) ([]victorialogs.Entry, error) {
	var uniq []string
	for _, n := range needles {
		if n != "" && !slices.Contains(uniq, n) {
			uniq = append(uniq, n)
		}
	}
	var out []victorialogs.Entry
	for batch := range slices.Chunk(uniq, needlesPerQuery) {
		filters := make([]string, len(batch))
		for i, n := range batch {
			filters[i] = "*:" + strconv.Quote(n)
		}
		q := strings.Join(filters, " OR ")
		if v.Selector != "" {
			q = "(" + v.Selector + ") (" + q + ")"
		}
		es, err := v.Client.Query(ctx, q, since, until, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// rawLine is the line as the proxy wrote it: the message, or, for JSON
// lines that VictoriaLogs split into fields, those fields as JSON again.
func rawLine(e victorialogs.Entry) string {
	if e.Msg != "" {
		return e.Msg
	}
	fields := make(map[string]string, len(e.Fields))
	for k, val := range e.Fields {
		if !strings.HasPrefix(k, "_") {
			fields[k] = val
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return fmt.Sprint(e.Fields)
	}
	return string(b)
}

// records runs the queries for the needles and parses the entries in Istio's
// or Envoy's formats; others are left out.
func (v VictoriaLogs) records(ctx context.Context, needles []string, since, until time.Time) ([]expectations.LogRecord, error) {
	entries, err := v.entries(ctx, needles, since, until)
	if err != nil {
		return nil, err
	}
	var out []expectations.LogRecord
	for _, e := range entries {
		if ent, ok := parseEntry(e); ok {
			out = append(out, v.record(ent, e))
		}
	}
	return out, nil
}

// parseEntry reads an Envoy or Istio access-log line from the entry.
func parseEntry(e victorialogs.Entry) (accesslog.Entry, bool) {
	ent, err := accesslog.Parse(rawLine(e))
	return ent, err == nil
}

func (v VictoriaLogs) record(ent accesslog.Entry, e victorialogs.Entry) expectations.LogRecord {
	r := record(ent)
	if r.Time.IsZero() {
		r.Time = e.Time
	}
	r.Source = e.Fields["_stream"]
	return r
}

// carries reports whether n stands on its own in the message or a field:
// not as part of a longer id or port.
func carries(e victorialogs.Entry, n string) bool {
	if containsToken(e.Msg, n) {
		return true
	}
	for _, val := range e.Fields {
		if containsToken(val, n) {
			return true
		}
	}
	return false
}

func containsToken(s, tok string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], tok)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(tok)
		if (i == 0 || !tokenByte(s[i-1])) && (j == len(s) || !tokenByte(s[j])) {
			return true
		}
		off = i + 1
	}
}

func tokenByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}
