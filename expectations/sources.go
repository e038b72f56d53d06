package expectations

import (
	"context"
	"errors"
	"time"
)

// The evaluator reads evidence through these small interfaces. cmd adapts the
// collectors to them, so this package depends on no backend client.

// Series is one sample of an instant query: its labels and value.
type Series struct {
	Labels map[string]string
	Value  float64
}

// MetricSource answers instant PromQL queries at explicit times on the
// backend's clock.
type MetricSource interface {
	// Query evaluates q at the given time. An empty result is data, not an error.
	Query(ctx context.Context, q string, at time.Time) ([]Series, error)
	// Now reads the backend's clock, so queries can be placed on it.
	Now(ctx context.Context) (time.Time, error)
}

// LogRecord is the part of an access-log line the evaluator reasons about.
type LogRecord struct {
	Time          time.Time
	RequestID     string
	Code          int // 0 when the server never sent a response
	Flags         string
	Details       string
	Duration      time.Duration
	RemoteAddress string // downstream remote address (the injector's ip:port)
	Source        string // file or stream the line came from
	Raw           string
}

// LogSource finds access-log lines.
type LogSource interface {
	// ByRequestID returns the lines carrying any of the ids, keyed by id.
	ByRequestID(ctx context.Context, ids []string) (map[string]LogRecord, error)
	// ByRemoteAddress returns the lines whose downstream remote address is one
	// of addrs and whose time falls in [since, until]: listener lines have no
	// request id.
	ByRemoteAddress(ctx context.Context, addrs []string, since, until time.Time) ([]LogRecord, error)
	// Grep returns, for each needle (a request id, an ip:port), the raw
	// lines containing it, in [since, until] where the backend can tell.
	// For formats meshdrill does not parse (an nginx or HAProxy log).
	Grep(ctx context.Context, needles []string, since, until time.Time) (map[string][]string, error)
	// Describe names where the source looks (file paths, a URL), for reports.
	Describe() string
}

// LogMarker is a LogSource that can mark where its logs end now, so a
// later grep reads only lines written after the mark: lines from an earlier
// run cannot count as evidence when matching by client address.
type LogMarker interface {
	Mark(ctx context.Context) (any, error)
	GrepFrom(ctx context.Context, mark any, needles []string, since, until time.Time) (map[string][]string, error)
}

// Span is one span of a trace, reduced to what expectations match on.
type Span struct {
	TraceID   string
	SpanID    string
	Operation string
	Service   string
	Kind      string // "server", "client", ... ("" when unknown)
	Start     time.Time
	Duration  time.Duration
	Attrs     map[string]string
	Error     bool
}

// ErrTraceNotFound is returned by a TraceSource for a trace id the backend
// does not (yet) know.
var ErrTraceNotFound = errors.New("trace not found")

// TraceSource looks traces up by id.
type TraceSource interface {
	Trace(ctx context.Context, traceID string) ([]Span, error)
	Describe() string
}

// ClientMatch says how one injected request's outcome compares with the
// outcome the drill kind expects.
type ClientMatch string

// Client matches.
const (
	Matched    ClientMatch = "matched"
	LetThrough ClientMatch = "let-through"
	Unexpected ClientMatch = "unexpected"
)

// SentRequest is the client's view of one injected request: the ground truth
// evidence is matched against.
type SentRequest struct {
	RequestID  string
	TraceID    string
	SpanID     string // the parent span id sent in the traceparent
	SourceAddr string
	Sent, Done time.Time
	Latency    time.Duration
	Outcome    string // human text: "HTTP 403 \"RBAC: access denied\"", "TLS alert \"unknown certificate authority\""
	Status     int    // HTTP status, 0 when none
	Match      ClientMatch
}

// Injection is what an injector reports after sending a drill's traffic.
type Injection struct {
	Expected string // the expected client outcome, in words
	Requests []SentRequest
}

// Injector sends one drill's traffic and reports the client's view of it.
type Injector interface {
	Inject(ctx context.Context, d Drill, runID string) (Injection, error)
}

// Clock abstracts time for the evaluator, so unit tests can drive it.
type Clock interface {
	Now() time.Time
	// After waits for d or until ctx is done, whichever comes first.
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WallClock is the real clock.
var WallClock Clock = wallClock{}
