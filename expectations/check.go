package expectations

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// Signals an expectation reads.
const (
	SignalClient  = "client"
	SignalMetrics = "metrics"
	SignalLogs    = "logs"
	SignalTraces  = "traces"
)

// check is one expectation the dialect built for a drill. Prepare runs before
// the traffic (baselines); Poll looks once after it.
type check interface {
	signal() string
	// title names the evidence in a few words, for the report's first column.
	title() string
	// expected says what must hold, in words, for n events.
	expected(n int) string
	// query is the query or lookup, shown with every result.
	query() string
	prepare(ctx context.Context, env *Env) error
	poll(ctx context.Context, env *Env, reqs []SentRequest) observation
}

// observation is what one poll saw.
type observation struct {
	held  bool
	final bool // no later poll can change the answer (e.g. more events than the exact count)
	got   string
	raw   string
	err   error
	// window is the time range the poll covered, on the backend's clock.
	window string
}

// blindSpot is a signal that cannot carry the event in this mesh as declared.
type blindSpot struct {
	sig    string
	name   string
	reason string
	fix    string
}

// ---- metrics: exact or lower-bound deltas from raw counter samples ----

// metricDelta computes Δ = Σ after − before over the series a selector
// returns, from raw samples the tool reads itself: absent series count as 0
// (a labelled counter does not exist before its first event) and a value
// below its baseline is a counter reset (the new value is the increase).
type metricDelta struct {
	name     string
	selector string
	// minus is subtracted from selector's delta (histogram: count − bucket).
	minus string
	// want compares the delta; == count when the label set isolates the
	// drill (its own injector identity), >= count otherwise.
	want     Want
	describe string
	// valueMode compares the query's value at the end instead of a delta,
	// within tolerance (increase() and rate() extrapolate).
	valueMode bool
	tolerance float64
	// absent: the delta must stay within want for the whole window.
	absent bool
	// aggregated: the query is not a plain selector, so a drop is not a
	// counter reset.
	aggregated bool
	within     time.Duration

	baseAt    time.Time
	base      map[string]float64
	baseMinus map[string]float64
}

func (m *metricDelta) signal() string { return SignalMetrics }
func (m *metricDelta) title() string  { return m.name }
func (m *metricDelta) expected(n int) string {
	switch {
	case m.absent:
		return fmt.Sprintf("Δ = 0 for %s after the injection", m.deadline(Drill{}))
	case m.valueMode:
		w := Want{Op: m.want.Op, Value: m.want.target(n)}
		if m.tolerance > 0 {
			return fmt.Sprintf("value %s ± %s%s", w, fmtFloat(m.tolerance), m.describe)
		}
		return fmt.Sprintf("value %s%s", w, m.describe)
	}
	s := fmt.Sprintf("Δ %s%s", Want{Op: m.want.Op, Value: m.want.target(n)}, m.describe)
	if m.want.Op != "==" && m.want.Count {
		s += " (not isolated: at least)"
	}
	return strings.Replace(s, "Δ == ", "Δ = ", 1)
}

func (m *metricDelta) deadline(d Drill) time.Duration {
	if m.absent && m.within > 0 {
		return m.within
	}
	if m.absent {
		return 10 * time.Second
	}
	return d.Deadline
}

func (m *metricDelta) fullWindow() bool { return m.absent }

func (m *metricDelta) query() string {
	switch {
	case m.valueMode:
		return m.selector + " at the end of the window"
	case m.minus != "":
		return fmt.Sprintf("Δ(%s) − Δ(%s)", m.selector, m.minus)
	}
	return fmt.Sprintf("Δ(%s)", m.selector)
}

func (m *metricDelta) prepare(ctx context.Context, env *Env) error {
	if env.Metrics == nil {
		return errors.New("no metrics backend configured")
	}
	at, err := env.Metrics.Now(ctx)
	if err != nil {
		return fmt.Errorf("read backend clock: %w", err)
	}
	m.baseAt = at
	if m.valueMode {
		return checkRangeWindows(m.selector, env.ScrapeInterval)
	}
	if m.base, err = snapshot(ctx, env.Metrics, m.selector, at); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if m.minus != "" {
		if m.baseMinus, err = snapshot(ctx, env.Metrics, m.minus, at); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}
	return nil
}

func (m *metricDelta) poll(ctx context.Context, env *Env, reqs []SentRequest) observation {
	n := len(reqs)
	if m.valueMode {
		return m.pollValue(ctx, env, n)
	}
	at, err := env.Metrics.Now(ctx)
	if err != nil {
		return observation{err: fmt.Errorf("read backend clock: %w", err)}
	}
	window := fmt.Sprintf("%s … %s", fmtTime(m.baseAt), fmtTime(at))
	after, err := snapshot(ctx, env.Metrics, m.selector, at)
	if err != nil {
		return observation{err: err, window: window}
	}
	raw := rawSeries(after)
	if m.aggregated && decreased(m.base, after) {
		// A sum or max that went down lost a series (a pod gone), which a
		// raw counter's reset rule would misread as new events.
		return observation{err: fmt.Errorf("the aggregated value went down since the baseline (a series vanished?), so no delta can be computed; query the raw counter instead:\n%s", raw), window: window}
	}
	d := delta(m.base, after)
	if m.minus != "" {
		afterMinus, err := snapshot(ctx, env.Metrics, m.minus, at)
		if err != nil {
			return observation{err: err, window: window}
		}
		d -= delta(m.baseMinus, afterMinus)
		raw += "\n" + rawSeries(afterMinus)
	}
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return observation{err: fmt.Errorf("the counters are not numbers (Δ = %v):\n%s", d, raw), window: window}
	}
	o := observation{got: fmt.Sprintf("Δ = %s", fmtFloat(d)), raw: raw, window: window}
	if len(after) == 0 {
		o.got += " (no series matched: the metric may not exist yet, or the query is misspelt)"
	}
	target := m.want.target(n)
	switch {
	case m.want.holds(d, n):
		o.held = true
	case m.want.exceeded(d, n):
		// Counters only grow: no later poll can bring the delta back.
		o.final = true
		if m.want.Op == "==" && !m.absent {
			o.got += fmt.Sprintf(" (%s more than sent)", fmtFloat(d-target))
		}
	}
	return o
}

// pollValue compares the summed value of the query at the backend's now.
func (m *metricDelta) pollValue(ctx context.Context, env *Env, n int) observation {
	at, err := env.Metrics.Now(ctx)
	if err != nil {
		return observation{err: fmt.Errorf("read backend clock: %w", err)}
	}
	series, err := env.Metrics.Query(ctx, m.selector, at)
	if err != nil {
		return observation{err: err, window: fmtTime(at)}
	}
	var sum float64
	for _, s := range series {
		sum += s.Value
	}
	o := observation{got: "value " + fmtFloat(sum), window: fmtTime(at)}
	if len(series) == 0 {
		o.got = "no series (empty result)"
	}
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return observation{err: fmt.Errorf("the query's value is not a number: %v", sum), window: o.window}
	}
	t := m.want.target(n)
	if len(series) > 0 && (m.want.holds(sum, n) || (m.tolerance > 0 && math.Abs(sum-t) <= m.tolerance && m.want.Op == "==")) {
		o.held = true
	}
	return o
}

func snapshot(ctx context.Context, src MetricSource, selector string, at time.Time) (map[string]float64, error) {
	series, err := src.Query(ctx, selector, at)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(series))
	for _, s := range series {
		out[labelKey(s.Labels)] = s.Value
	}
	return out, nil
}

// decreased reports whether any series is below its baseline.
func decreased(before, after map[string]float64) bool {
	for k, v := range after {
		if v < before[k] {
			return true
		}
	}
	return false
}

func delta(before, after map[string]float64) float64 {
	var d float64
	for k, v := range after {
		b := before[k] // absent before: 0
		if v < b {
			d += v // counter reset: everything since the reset is new
		} else {
			d += v - b
		}
	}
	return d
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, l[k])
	}
	return b.String()
}

func rawSeries(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "{%s} %s\n", strings.TrimSuffix(k, ","), fmtFloat(m[k]))
	}
	if len(keys) == 0 {
		return "(no series)"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func fmtFloat(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%g", f)
}

func fmtTime(t time.Time) string { return t.UTC().Format("15:04:05.000Z") }

// ---- logs: one line per injected request, by request id ----

type logByID struct {
	name     string
	describe string
	want     func(LogRecord) (bool, string)
}

func (l *logByID) signal() string { return SignalLogs }
func (l *logByID) title() string  { return l.name }
func (l *logByID) expected(n int) string {
	return fmt.Sprintf("%d/%d lines by request id, %s", n, n, l.describe)
}
func (l *logByID) query() string                               { return "x-request-id ∈ injected ids" }
func (l *logByID) prepare(ctx context.Context, env *Env) error { return needLogs(env) }

func (l *logByID) poll(ctx context.Context, env *Env, reqs []SentRequest) observation {
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.RequestID
	}
	found, err := env.Logs.ByRequestID(ctx, ids)
	if err != nil {
		return observation{err: err}
	}
	var ok, wrong int
	var why string
	var raw strings.Builder
	for _, id := range ids {
		rec, hit := found[id]
		if !hit {
			continue
		}
		if good, reason := l.want(rec); good {
			ok++
		} else {
			wrong++
			if why == "" {
				why = reason
			}
			if raw.Len() < 4096 {
				raw.WriteString(rec.Raw + "\n")
			}
		}
	}
	got := fmt.Sprintf("%d/%d lines", ok, len(ids))
	if missing := len(ids) - ok - wrong; missing > 0 {
		got += fmt.Sprintf(", %d missing", missing)
	}
	if wrong > 0 {
		got += fmt.Sprintf(", %d not as expected (%s)", wrong, why)
	}
	return observation{held: ok == len(ids), got: got, raw: strings.TrimSuffix(raw.String(), "\n"), window: env.Logs.Describe()}
}

func needLogs(env *Env) error {
	if env.Logs == nil {
		return errors.New("no log backend configured")
	}
	return nil
}

// ---- logs: listener lines for connections that carry no request id ----

// logByConnection matches listener lines (plaintext to an mTLS port: NR
// filter_chain_not_found) by the injector's source address and time.
type logByConnection struct {
	name     string
	describe string
	want     func(LogRecord) bool
	slack    time.Duration
}

func (l *logByConnection) signal() string { return SignalLogs }
func (l *logByConnection) title() string  { return l.name }
func (l *logByConnection) expected(n int) string {
	return fmt.Sprintf("%d listener lines by client address and time, %s", n, l.describe)
}
func (l *logByConnection) query() string {
	return "downstream_remote_address ∈ injector addresses, start time within the injection"
}
func (l *logByConnection) prepare(ctx context.Context, env *Env) error { return needLogs(env) }

func (l *logByConnection) poll(ctx context.Context, env *Env, reqs []SentRequest) observation {
	addrs := make([]string, 0, len(reqs))
	var since, until time.Time
	for i, r := range reqs {
		if r.SourceAddr != "" {
			addrs = append(addrs, r.SourceAddr)
		}
		if i == 0 || r.Sent.Before(since) {
			since = r.Sent
		}
		if r.Done.After(until) {
			until = r.Done
		}
	}
	since, until = since.Add(-l.slack), until.Add(l.slack)
	window := fmt.Sprintf("%s … %s", fmtTime(since), fmtTime(until))
	if len(addrs) < len(reqs) {
		return observation{err: fmt.Errorf("%d of %d requests have no recorded source address", len(reqs)-len(addrs), len(reqs)), window: window}
	}
	recs, err := env.Logs.ByRemoteAddress(ctx, addrs, since, until)
	if err != nil {
		return observation{err: err, window: window}
	}
	matched := map[string]bool{}
	var other int
	var raw strings.Builder
	for _, r := range recs {
		if l.want(r) {
			matched[r.RemoteAddress] = true
		} else {
			other++
			if raw.Len() < 4096 {
				raw.WriteString(r.Raw + "\n")
			}
		}
	}
	got := fmt.Sprintf("%d/%d lines", len(matched), len(addrs))
	if other > 0 {
		got += fmt.Sprintf(", %d other lines from the same addresses", other)
	}
	return observation{held: len(matched) == len(addrs), got: got, raw: strings.TrimSuffix(raw.String(), "\n"), window: window}
}

// ---- traces: one trace per injected request, by trace id ----

type traceByID struct {
	name     string
	describe string
	want     func(Span) bool
}

func (t *traceByID) signal() string { return SignalTraces }
func (t *traceByID) title() string  { return t.name }
func (t *traceByID) expected(n int) string {
	return fmt.Sprintf("%d/%d traces by id, %s", n, n, t.describe)
}
func (t *traceByID) query() string { return "trace id ∈ injected traceparents" }
func (t *traceByID) prepare(ctx context.Context, env *Env) error {
	if env.Traces == nil {
		return errors.New("no trace backend configured")
	}
	return nil
}

func (t *traceByID) poll(ctx context.Context, env *Env, reqs []SentRequest) observation {
	var ok, missing, wrong, failed int
	var firstErr error
	var raw strings.Builder
	for _, r := range reqs {
		spans, err := env.Traces.Trace(ctx, r.TraceID)
		switch {
		case errors.Is(err, ErrTraceNotFound):
			missing++
			continue
		case err != nil:
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		hit := false
		for _, s := range spans {
			if t.want(s) {
				hit = true
				break
			}
		}
		if hit {
			ok++
		} else {
			wrong++
			if raw.Len() < 4096 {
				for _, s := range spans {
					fmt.Fprintf(&raw, "trace %s span %s %q kind=%s duration=%s attrs=%v error=%v\n", s.TraceID, s.SpanID, s.Operation, s.Kind, s.Duration, s.Attrs, s.Error)
				}
			}
		}
	}
	if failed > 0 && ok < len(reqs) {
		// A lookup that failed is not a trace that is missing: could not tell.
		return observation{err: fmt.Errorf("%d of %d trace lookups failed (%d found so far): %w", failed, len(reqs), ok, firstErr), window: env.Traces.Describe()}
	}
	got := fmt.Sprintf("%d/%d traces", ok, len(reqs))
	if missing > 0 {
		got += fmt.Sprintf(", %d not found", missing)
	}
	if wrong > 0 {
		got += fmt.Sprintf(", %d without a matching span", wrong)
	}
	if failed > 0 {
		got += fmt.Sprintf(", %d lookups failed (%v)", failed, firstErr)
	}
	return observation{held: ok == len(reqs), got: got, raw: strings.TrimSuffix(raw.String(), "\n"), window: env.Traces.Describe()}
}

// checkRangeWindows refuses range selectors shorter than four scrape
// intervals: rate() and increase() over them can be empty (prometheus#1428).
func checkRangeWindows(q string, scrape time.Duration) error {
	if scrape <= 0 {
		return nil
	}
	expr, err := parser.ParseExpr(q)
	if err != nil {
		return fmt.Errorf("bad PromQL: %w", err)
	}
	var problem error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if ms, ok := n.(*parser.MatrixSelector); ok && problem == nil && ms.Range < 4*scrape {
			problem = fmt.Errorf("the range [%s] is shorter than four scrape intervals (%s each) and can be empty; use [%s] or more",
				model.Duration(ms.Range), scrape, model.Duration(4*scrape))
		}
		return nil
	})
	return problem
}

// firstPollAfter: a value-mode query may already hold before the drill's
// events are scraped (a value left from earlier); its first look waits one
// scrape interval after the injection.
func (m *metricDelta) firstPollAfter(scrape time.Duration) time.Duration {
	if m.valueMode {
		return scrape
	}
	return 0
}

// ---- traces: lookups that fail are not "not found" ----
