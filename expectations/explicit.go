package expectations

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// Explicit evidence: what a suite writes under a drill's `expect` when the
// dialect's defaults do not fit (or, in `generic` suites, always).

// Expect is one entry of a drill's expect list: an intent the dialect
// expands, or exactly one kind of explicit evidence.
type Expect struct {
	Name      string // display name; derived when empty
	Intent    string
	Metric    *MetricExpect
	Logs      *LogExpect
	Trace     *TraceExpect
	Alert     *AlertExpect
	Absent    *AbsentExpect
	BlindSpot *BlindSpotDecl
}

// Want is a comparison against the drill's count or a number.
type Want struct {
	Op    string // ==, >=, <=, >, <
	Count bool   // compare against the number of requests that produced the event
	Value float64
}

func (w Want) target(n int) float64 {
	if w.Count {
		return float64(n)
	}
	return w.Value
}

func (w Want) holds(got float64, n int) bool {
	t := w.target(n)
	switch w.Op {
	case "==":
		return got == t
	case ">=":
		return got >= t
	case "<=":
		return got <= t
	case ">":
		return got > t
	case "<":
		return got < t
	}
	return false
}

// exceeded reports that a growing count can no longer satisfy the want.
func (w Want) exceeded(got float64, n int) bool {
	t := w.target(n)
	switch w.Op {
	case "==", "<=":
		return got > t
	case "<":
		return got >= t
	}
	return false
}

func (w Want) String() string {
	if w.Count {
		return w.Op + " count"
	}
	return w.Op + " " + fmtFloat(w.Value)
}

var wantRE = regexp.MustCompile(`^\s*(==|>=|<=|>|<|=)?\s*(count|[0-9]+(\.[0-9]+)?)\s*$`)

// ParseWant reads "== count", ">= 5", "count" (== count) or "3" (== 3).
func ParseWant(s string) (Want, error) {
	m := wantRE.FindStringSubmatch(s)
	if m == nil {
		return Want{}, fmt.Errorf("expected a comparison such as \"== count\", \">= 5\" or \"count\", got %q", s)
	}
	w := Want{Op: m[1]}
	if w.Op == "" || w.Op == "=" {
		w.Op = "=="
	}
	if m[2] == "count" {
		w.Count = true
	} else {
		w.Value, _ = strconv.ParseFloat(m[2], 64)
	}
	return w, nil
}

// MetricExpect is a PromQL check. In delta mode (the default) the query's
// series are read before and after the injection and the summed raw delta
// is compared (counters: exact, resets handled, absent = 0). In value mode
// the query's summed value at the end is compared, within Tolerance (for
// increase() and rate(), which extrapolate).
type MetricExpect struct {
	Query     string
	Want      Want
	Mode      string // "delta" or "value"
	Tolerance float64
}

// LogExpect matches log lines to the injected requests: by request id, or
// by the injector's client address (connections that carry no id).
type LogExpect struct {
	By        string // "request_id" or "client_address"
	LineRegex *regexp.Regexp
	Want      Want
}

// TraceExpect matches one span in each injected request's trace.
type TraceExpect struct {
	Kind        string // server, client, any
	Attributes  map[string]string
	MinDuration time.Duration
	Error       *bool
}

// AlertExpect waits for a named alert with labels to be firing.
type AlertExpect struct {
	Name   string
	Labels map[string]string
	Within time.Duration
	Source string // "alertmanager" or "prometheus"
}

// AbsentExpect is what must not happen in the drill's window, such as a
// denial counted for allowed control traffic.
type AbsentExpect struct {
	Metric *MetricExpect
	Alert  *AlertExpect
	Within time.Duration
}

// BlindSpotDecl declares that a signal cannot carry the drill's event.
type BlindSpotDecl struct {
	Signal, Reason, Fix string
}

// Alert is one alert as a backend reports it.
type Alert struct {
	Name   string
	Labels map[string]string
	State  string // prometheus: pending, firing; alertmanager: active, suppressed, unprocessed
	// Since is when the alert became active (Prometheus activeAt,
	// Alertmanager startsAt); zero when unknown.
	Since time.Time
}

// AlertSource lists alerts.
type AlertSource interface {
	Alerts(ctx context.Context) ([]Alert, error)
	Describe() string
}

// The intents the istio dialect expands, and the kind plan each stands for.
var istioIntents = map[string]func(kind string) kindPlan{
	"denied":             func(string) kindPlan { return istioDenied },
	"tls_rejected":       func(k string) kindPlan { return istioTLSRejected(tlsCounter(k)) },
	"plaintext_rejected": func(string) kindPlan { return istioPlaintext },
	"latency_recorded":   func(string) kindPlan { return istioLatency },
	"errors_recorded":    func(string) kindPlan { return istioErrors },
	"allowed":            func(string) kindPlan { return istioControl },
}

func tlsCounter(kind string) string {
	switch kind {
	case "no-client-cert":
		return "envoy_listener_ssl_fail_verify_no_cert"
	case "weak-tls":
		return "envoy_listener_ssl_connection_error"
	}
	return "envoy_listener_ssl_fail_verify_error"
}

func intentList() string {
	ks := make([]string, 0, len(istioIntents))
	for k := range istioIntents {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// planDrill expands a drill into checks and blind spots: the dialect's
// defaults for its kind when it lists no expectations, else each entry.
func planDrill(s Suite, d Drill) ([]check, []blindSpot) {
	t := s.Targets[d.Target]
	if len(d.Expect) == 0 {
		if p, ok := istioKinds[d.Kind]; ok && s.Mesh.Dialect == "istio" {
			return p(s, d, t)
		}
		return nil, nil
	}
	var checks []check
	var blind []blindSpot
	for _, e := range d.Expect {
		switch {
		case e.Intent != "":
			c, b := istioIntents[e.Intent](d.Kind)(s, d, t)
			checks, blind = append(checks, c...), append(blind, b...)
		case e.Metric != nil:
			checks = append(checks, metricCheck(e.Name, e.Metric))
		case e.Logs != nil:
			checks = append(checks, logCheck(e.Name, e.Logs))
		case e.Trace != nil:
			checks = append(checks, traceCheck(e.Name, e.Trace))
		case e.Alert != nil:
			checks = append(checks, &alertCheck{name: orDefault(e.Name, "alert "+e.Alert.Name), a: *e.Alert})
		case e.Absent != nil && e.Absent.Metric != nil:
			m := metricCheck(e.Name, e.Absent.Metric)
			m.want = Want{Op: "==", Value: 0}
			m.absent, m.within = true, e.Absent.Within
			m.name = orDefault(e.Name, "absent: "+e.Absent.Metric.Query)
			checks = append(checks, m)
		case e.Absent != nil && e.Absent.Alert != nil:
			checks = append(checks, &alertCheck{name: orDefault(e.Name, "absent: alert "+e.Absent.Alert.Name), a: *e.Absent.Alert, absent: true, within: e.Absent.Within})
		case e.BlindSpot != nil:
			blind = append(blind, blindSpot{sig: e.BlindSpot.Signal, name: orDefault(e.Name, e.BlindSpot.Signal), reason: e.BlindSpot.Reason, fix: e.BlindSpot.Fix})
		}
	}
	return checks, blind
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func metricCheck(name string, m *MetricExpect) *metricDelta {
	md := &metricDelta{name: orDefault(name, m.Query), selector: m.Query, want: m.Want, valueMode: m.Mode == "value", tolerance: m.Tolerance}
	if expr, err := parser.ParseExpr(m.Query); err == nil {
		for {
			p, ok := expr.(*parser.ParenExpr)
			if !ok {
				break
			}
			expr = p.Expr
		}
		_, plain := expr.(*parser.VectorSelector)
		md.aggregated = !plain
	}
	return md
}

func logCheck(name string, l *LogExpect) check {
	describe := "any line"
	if l.LineRegex != nil {
		describe = fmt.Sprintf("a line matching /%s/", l.LineRegex)
	}
	return &logGrep{name: orDefault(name, "log lines by "+strings.ReplaceAll(l.By, "_", " ")), by: l.By, re: l.LineRegex, want: l.Want, describe: describe}
}

func traceCheck(name string, te *TraceExpect) check {
	var parts []string
	if te.Kind != "" && te.Kind != "any" {
		parts = append(parts, te.Kind+" span")
	} else {
		parts = append(parts, "a span")
	}
	keys := make([]string, 0, len(te.Attributes))
	for k := range te.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, te.Attributes[k]))
	}
	if te.MinDuration > 0 {
		parts = append(parts, fmt.Sprintf("duration ≥ %s", te.MinDuration))
	}
	if te.Error != nil {
		parts = append(parts, fmt.Sprintf("error=%v", *te.Error))
	}
	return &traceByID{
		name:     orDefault(name, "trace span"),
		describe: strings.Join(parts, ", "),
		want: func(sp Span) bool {
			if te.Kind != "" && te.Kind != "any" && sp.Kind != te.Kind {
				return false
			}
			for k, v := range te.Attributes {
				if sp.Attrs[k] != v {
					return false
				}
			}
			if sp.Duration < te.MinDuration {
				return false
			}
			return te.Error == nil || sp.Error == *te.Error
		},
	}
}

// ---- logs: raw lines by request id or client address ----

type logGrep struct {
	name, by, describe string
	re                 *regexp.Regexp
	want               Want
	mark               any // where the logs ended before the injection (LogMarker)
}

func (l *logGrep) signal() string { return SignalLogs }
func (l *logGrep) title() string  { return l.name }
func (l *logGrep) expected(n int) string {
	return fmt.Sprintf("requests with %s by %s: %s", l.describe, strings.ReplaceAll(l.by, "_", " "), Want{Op: l.want.Op, Value: l.want.target(n)})
}
func (l *logGrep) query() string {
	if l.by == "client_address" {
		return "lines containing the injector's ip:port"
	}
	return "lines containing the x-request-id"
}
func (l *logGrep) prepare(ctx context.Context, env *Env) error {
	if err := needLogs(env); err != nil {
		return err
	}
	if m, ok := env.Logs.(LogMarker); ok {
		mark, err := m.Mark(ctx)
		if err != nil {
			return err
		}
		l.mark = mark
	}
	return nil
}

func (l *logGrep) poll(ctx context.Context, env *Env, reqs []SentRequest) observation {
	needles := make([]string, 0, len(reqs))
	since, until := reqs[0].Sent, reqs[0].Done
	for _, r := range reqs {
		n := r.RequestID
		if l.by == "client_address" {
			n = r.SourceAddr
		}
		if n != "" {
			needles = append(needles, n)
		}
		if r.Sent.Before(since) {
			since = r.Sent
		}
		if r.Done.After(until) {
			until = r.Done
		}
	}
	window := fmt.Sprintf("%s … %s", fmtTime(since.Add(-time.Second)), fmtTime(until.Add(time.Second)))
	var found map[string][]string
	var err error
	if m, ok := env.Logs.(LogMarker); ok && l.mark != nil {
		found, err = m.GrepFrom(ctx, l.mark, needles, since.Add(-time.Second), until.Add(time.Second))
	} else {
		found, err = env.Logs.Grep(ctx, needles, since.Add(-time.Second), until.Add(time.Second))
	}
	if err != nil {
		return observation{err: err, window: window}
	}
	var ok, other int
	var raw strings.Builder
	for _, n := range needles {
		lines := found[n]
		hit := false
		for _, line := range lines {
			if l.re == nil || l.re.MatchString(line) {
				hit = true
				break
			}
		}
		switch {
		case hit:
			ok++
		case len(lines) > 0:
			other++
			if raw.Len() < 4096 {
				raw.WriteString(lines[0] + "\n")
			}
		}
	}
	got := fmt.Sprintf("%d/%d requests", ok, len(needles))
	if other > 0 {
		got += fmt.Sprintf(", %d with lines that do not match", other)
	}
	if missing := len(needles) - ok - other; missing > 0 {
		got += fmt.Sprintf(", %d without any line", missing)
	}
	o := observation{got: got, raw: strings.TrimSuffix(raw.String(), "\n"), window: window}
	o.held = l.want.holds(float64(ok), len(reqs))
	return o
}

// ---- alerts ----

type alertCheck struct {
	name   string
	a      AlertExpect
	absent bool
	within time.Duration

	sawPending bool
}

func (c *alertCheck) signal() string { return "alerts" }
func (c *alertCheck) title() string  { return c.name }
func (c *alertCheck) expected(int) string {
	if c.absent {
		return fmt.Sprintf("alert %s%s never firing", c.a.Name, fmtLabels(c.a.Labels))
	}
	return fmt.Sprintf("alert %s%s firing", c.a.Name, fmtLabels(c.a.Labels))
}
func (c *alertCheck) query() string {
	return fmt.Sprintf("%s alerts, alertname=%q%s", c.a.Source, c.a.Name, fmtLabels(c.a.Labels))
}
func (c *alertCheck) prepare(ctx context.Context, env *Env) error {
	if env.Alerts[c.a.Source] == nil {
		return fmt.Errorf("no %s backend configured", c.a.Source)
	}
	return nil
}
func (c *alertCheck) deadline(d Drill) time.Duration {
	switch {
	case c.absent && c.within > 0:
		return c.within
	case c.a.Within > 0:
		return c.a.Within
	}
	return d.Deadline
}
func (c *alertCheck) fullWindow() bool { return c.absent }

func (c *alertCheck) poll(ctx context.Context, env *Env, reqs []SentRequest) observation {
	var began time.Time
	for _, r := range reqs {
		if began.IsZero() || r.Sent.Before(began) {
			began = r.Sent
		}
	}
	src := env.Alerts[c.a.Source]
	alerts, err := src.Alerts(ctx)
	if err != nil {
		return observation{err: err, window: src.Describe()}
	}
	var firing, pending, suppressed, unprocessed bool
	var before time.Time // an active alert that began before the drill
	for _, a := range alerts {
		if a.Name != c.a.Name || !labelsMatch(a.Labels, c.a.Labels) {
			continue
		}
		if !a.Since.IsZero() && !began.IsZero() && a.Since.Before(began.Add(-time.Second)) && a.State != "pending" {
			before = a.Since
			continue
		}
		switch a.State {
		case "firing", "active":
			firing = true
		case "pending":
			pending = true
		case "suppressed":
			suppressed = true
		case "unprocessed":
			unprocessed = true
		}
	}
	if !before.IsZero() && !firing && !suppressed {
		// Already active before the first request: it cannot be this
		// drill's doing, and it may hide whether the drill fired it.
		return observation{err: fmt.Errorf("alert %s has been active since %s, before the drill began at %s: cannot tell whether the drill fired it",
			c.a.Name, before.UTC().Format(time.RFC3339), began.UTC().Format(time.RFC3339)), window: src.Describe()}
	}
	if pending {
		c.sawPending = true
	}
	o := observation{window: src.Describe()}
	switch {
	case firing:
		o.got = "firing"
	case suppressed:
		// Alertmanager holds it, but a silence or an inhibition keeps it
		// from anyone: it fired, and nobody was told.
		o.got = "firing but suppressed (silenced or inhibited): nobody is notified"
	case unprocessed:
		o.got = "received by Alertmanager, not yet processed"
	case pending:
		o.got = "pending (its for: has not elapsed)"
	case c.sawPending:
		o.got = "not firing: it was pending, then reset (a gap in the series restarts the for: timer)"
	default:
		o.got = "never pending or firing"
	}
	if c.absent {
		o.held = !firing && !suppressed && !unprocessed
		o.final = firing || suppressed || unprocessed
	} else {
		o.held = firing
	}
	return o
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func fmtLabels(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
