// Package wire adapts meshdrill's collectors and fixtures to the small
// interfaces the evaluator declares, so expectations depends on neither.
package wire

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/accesslog"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
	"github.com/meshdrill/meshdrill/expectations"
)

// Metrics reads a Prometheus-compatible API.
type Metrics struct{ Client *prometheus.Client }

// Query runs an instant query and flattens the vector.
func (m Metrics) Query(ctx context.Context, q string, at time.Time) ([]expectations.Series, error) {
	vec, _, err := m.Client.Query(ctx, q, at)
	if err != nil {
		return nil, err
	}
	out := make([]expectations.Series, 0, len(vec))
	for _, s := range vec {
		l := make(map[string]string, len(s.Metric))
		for k, v := range s.Metric {
			l[string(k)] = string(v)
		}
		out = append(out, expectations.Series{Labels: l, Value: float64(s.Value)})
	}
	return out, nil
}

// MaxClockSkew bounds how far the backend's clock may be from this
// machine's before meshdrill stops trusting where its queries land.
const MaxClockSkew = 10 * time.Minute

// Now reads the backend's clock. A clock far from this machine's is an
// error: samples and injections would be compared at the wrong times.
func (m Metrics) Now(ctx context.Context) (time.Time, error) {
	t, err := m.Client.ServerTime(ctx)
	if err != nil {
		return t, err
	}
	if skew := time.Until(t); skew > MaxClockSkew || skew < -MaxClockSkew {
		return time.Time{}, fmt.Errorf("the metrics backend's clock reads %s, %s from this machine's (more than %s): check its time or the answer of time()",
			t.UTC().Format(time.RFC3339), skew.Round(time.Second), MaxClockSkew)
	}
	return t, nil
}

// Logs reads access-log files.
type Logs struct{ Paths []string }

// Describe names the files.
func (l Logs) Describe() string { return "files " + strings.Join(l.Paths, ", ") }

// ByRequestID scans the files for lines carrying the ids.
func (l Logs) ByRequestID(ctx context.Context, ids []string) (map[string]expectations.LogRecord, error) {
	res, err := accesslog.Scan(ctx, l.Paths, accesslog.Query{RequestIDs: ids})
	if err != nil {
		return nil, err
	}
	out := make(map[string]expectations.LogRecord, len(res.ByRequestID))
	for id, e := range res.ByRequestID {
		out[id] = record(e)
	}
	return out, nil
}

// Grep scans the files for raw lines containing each needle, whatever their
// format. The files carry no time meshdrill can read in general, so the
// window is not applied.
func (l Logs) Grep(ctx context.Context, needles []string, _, _ time.Time) (map[string][]string, error) {
	return grepFiles(ctx, l.Paths, needles, nil)
}

// ByRemoteAddress scans the files for listener lines from the addresses.
func (l Logs) ByRemoteAddress(ctx context.Context, addrs []string, since, until time.Time) ([]expectations.LogRecord, error) {
	res, err := accesslog.Scan(ctx, l.Paths, accesslog.Query{DownstreamRemote: addrs, Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	out := make([]expectations.LogRecord, 0, len(res.Matches))
	for _, e := range res.Matches {
		out = append(out, record(e))
	}
	return out, nil
}

func record(e accesslog.Entry) expectations.LogRecord {
	return expectations.LogRecord{
		Time:          e.Start,
		RequestID:     e.RequestID,
		Code:          e.ResponseCode,
		Flags:         e.ResponseFlags,
		Details:       e.ResponseCodeDetails,
		Duration:      e.Duration,
		RemoteAddress: e.DownstreamRemoteAddress,
		Raw:           e.Raw,
	}
}

// firstByRequestID keeps, for each of the ids, the first record carrying it
// in the order the backend answered.
func firstByRequestID(recs []expectations.LogRecord, ids []string) map[string]expectations.LogRecord {
	want := setOf(ids)
	out := map[string]expectations.LogRecord{}
	for _, r := range recs {
		if _, dup := out[r.RequestID]; want[r.RequestID] && !dup {
			out[r.RequestID] = r
		}
	}
	return out
}

// fromAddresses keeps the records whose downstream remote address is one of
// addrs.
func fromAddresses(recs []expectations.LogRecord, addrs []string) []expectations.LogRecord {
	want := setOf(addrs)
	var out []expectations.LogRecord
	for _, r := range recs {
		if want[r.RemoteAddress] {
			out = append(out, r)
		}
	}
	return out
}

func setOf(ss []string) map[string]bool {
	set := make(map[string]bool, len(ss))
	for _, s := range ss {
		set[s] = true
	}
	return set
}

// traceLookup is what every trace collector offers.
type traceLookup interface {
	Trace(ctx context.Context, traceID string) (*collectors.Trace, error)
}

// Traces reads a trace backend (Jaeger, Tempo, Zipkin) by trace id.
type Traces struct {
	Client traceLookup
	Name   string // "jaeger http://…", for reports
}

// Describe names the backend.
func (t Traces) Describe() string { return t.Name }

// Trace looks a trace up by id.
func (t Traces) Trace(ctx context.Context, id string) ([]expectations.Span, error) {
	tr, err := t.Client.Trace(ctx, id)
	if errors.Is(err, collectors.ErrTraceNotFound) {
		return nil, fmt.Errorf("%w: %s", expectations.ErrTraceNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	out := make([]expectations.Span, 0, len(tr.Spans))
	for _, s := range tr.Spans {
		out = append(out, expectations.Span{
			TraceID: s.TraceID, SpanID: s.SpanID, Operation: s.Operation, Service: s.Service,
			Kind: s.Kind, Start: s.Start, Duration: s.Duration, Attrs: s.Tags, Error: s.StatusError,
		})
	}
	return out, nil
}

// MeasureScrapeInterval asks the metrics backend for its scrape interval, so
// the evaluator can size metric windows from it. Zero when there is no
// metrics backend.
func MeasureScrapeInterval(ctx context.Context, env expectations.Env) (time.Duration, error) {
	m, ok := env.Metrics.(Metrics)
	if !ok {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return m.Client.ScrapeInterval(ctx)
}
