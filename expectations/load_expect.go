package expectations

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// convertExpect turns one expect entry into its runtime form, reporting
// problems at their field. ok is false when the entry is unusable.
func (d *strictDecoder) convertExpect(fe fileExpect, p string) (Expect, bool) {
	e := Expect{Name: fe.Name, Intent: fe.Intent}
	set := 0
	for _, b := range []bool{fe.Intent != "", fe.Metric != nil, fe.Logs != nil, fe.Trace != nil, fe.Alert != nil, fe.Absent != nil, fe.BlindSpot != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		d.fieldErr(p, "give exactly one of: an intent (%s), metric, logs, trace, alert, absent, blind_spot", intentList())
		return e, false
	}
	ok := true
	if fe.Metric != nil {
		e.Metric, ok = d.metric(fe.Metric, p+".metric", "== count")
	}
	if l := fe.Logs; l != nil {
		le := &LogExpect{By: l.By}
		if le.By == "" {
			le.By = "request_id"
		}
		if le.By != "request_id" && le.By != "client_address" {
			d.fieldErr(p+".logs.by", "must be request_id or client_address, got %q", l.By)
			ok = false
		}
		if l.LineRegex != "" {
			re, err := regexp.Compile(l.LineRegex)
			if err != nil {
				d.fieldErr(p+".logs.line_regex", "bad regular expression: %v", err)
				ok = false
			}
			le.LineRegex = re
		}
		le.Want, ok = d.want(l.Want, "== count", p+".logs.want", ok)
		e.Logs = le
	}
	if tr := fe.Trace; tr != nil {
		switch tr.Kind {
		case "", "any", "server", "client", "internal", "producer", "consumer":
		default:
			d.fieldErr(p+".trace.kind", "must be server, client, internal, producer, consumer or any; got %q", tr.Kind)
			ok = false
		}
		e.Trace = &TraceExpect{Kind: tr.Kind, Attributes: tr.Attributes, MinDuration: time.Duration(tr.MinDuration), Error: tr.Error}
	}
	if fe.Alert != nil {
		e.Alert, ok = d.alert(fe.Alert, p+".alert")
	}
	if a := fe.Absent; a != nil {
		ab := &AbsentExpect{Within: time.Duration(a.Within)}
		if _, set := d.pos[p+".absent.within"]; set && (ab.Within <= 0 || ab.Within > MaxDeadline) {
			d.fieldErr(p+".absent.within", "must be between 0s and %s, got %s", MaxDeadline, ab.Within)
			ok = false
		}
		switch {
		case (a.Metric == nil) == (a.Alert == nil):
			d.fieldErr(p+".absent", "give exactly one of metric or alert")
			ok = false
		case a.Metric != nil:
			ab.Metric, ok = d.metric(a.Metric, p+".absent.metric", "== 0")
			if a.Metric.Want != "" {
				d.fieldErr(p+".absent.metric.want", "an absent metric always wants Δ = 0 over the window")
				ok = false
			}
		default:
			ab.Alert, ok = d.alert(a.Alert, p+".absent.alert")
		}
		e.Absent = ab
	}
	if b := fe.BlindSpot; b != nil {
		switch b.Signal {
		case SignalMetrics, SignalLogs, SignalTraces, "alerts":
		default:
			d.fieldErr(p+".blind_spot.signal", "must be metrics, logs, traces or alerts; got %q", b.Signal)
			ok = false
		}
		if strings.TrimSpace(b.Reason) == "" {
			d.fieldErr(p+".blind_spot", "reason: say why this signal cannot carry the event")
			ok = false
		}
		e.BlindSpot = &BlindSpotDecl{Signal: b.Signal, Reason: b.Reason, Fix: b.Fix}
	}
	return e, ok
}

func (d *strictDecoder) want(s, def, p string, ok bool) (Want, bool) {
	if s == "" {
		s = def
	}
	w, err := ParseWant(s)
	if err != nil {
		d.fieldErr(p, "%v", err)
		return w, false
	}
	return w, ok
}

func (d *strictDecoder) metric(m *fileMetric, p, defWant string) (*MetricExpect, bool) {
	me := &MetricExpect{Query: m.Query, Mode: m.Mode, Tolerance: m.Tolerance}
	ok := true
	if me.Mode == "" {
		me.Mode = "delta"
	}
	if me.Mode != "delta" && me.Mode != "value" {
		d.fieldErr(p+".mode", "must be delta (raw counter samples before and after) or value; got %q", m.Mode)
		ok = false
	}
	if m.Query == "" {
		d.fieldErr(p, "query: required (PromQL)")
		ok = false
	} else if expr, err := parser.ParseExpr(m.Query); err != nil {
		d.fieldErr(p+".query", "bad PromQL: %v", err)
		ok = false
	} else if t := expr.Type(); t != parser.ValueTypeVector {
		d.fieldErr(p+".query", "must return an instant vector, this returns a %s", t)
		ok = false
	} else if me.Mode == "delta" && usesExtrapolation(expr) {
		d.fieldErr(p+".query", "delta mode reads raw counter samples: give the counter itself, or use mode: value with a tolerance (increase() and rate() extrapolate)")
		ok = false
	}
	if m.Tolerance < 0 {
		d.fieldErr(p+".tolerance", "must not be negative")
		ok = false
	}
	if m.Tolerance > 0 && me.Mode != "value" {
		d.fieldErr(p+".tolerance", "only for mode: value")
		ok = false
	}
	me.Want, ok = d.want(m.Want, defWant, p+".want", ok)
	return me, ok
}

// usesExtrapolation finds range functions whose results are not exact
// counts.
func usesExtrapolation(e parser.Expr) bool {
	found := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if c, ok := n.(*parser.Call); ok {
			switch c.Func.Name {
			case "increase", "rate", "irate", "delta", "idelta", "deriv":
				found = true
			}
		}
		return nil
	})
	return found
}

func (d *strictDecoder) alert(a *fileAlert, p string) (*AlertExpect, bool) {
	ae := &AlertExpect{Name: a.Name, Labels: a.Labels, Within: time.Duration(a.Within), Source: a.Source}
	ok := true
	if _, set := d.pos[p+".within"]; set && (ae.Within <= 0 || ae.Within > MaxDeadline) {
		d.fieldErr(p+".within", "must be between 0s and %s, got %s", MaxDeadline, ae.Within)
		ok = false
	}
	if a.Name == "" {
		d.fieldErr(p, "name: required (the alertname)")
		ok = false
	}
	if ae.Source == "" {
		ae.Source = "alertmanager"
	}
	if ae.Source != "alertmanager" && ae.Source != "prometheus" {
		d.fieldErr(p+".source", "must be alertmanager or prometheus, got %q", a.Source)
		ok = false
	}
	return ae, ok
}

// validateExpects checks what needs the whole suite: intents against the
// dialect, evidence against the declared backends.
func (d *strictDecoder) validateExpects(s Suite, i int, dr Drill) {
	for j, e := range dr.Expect {
		p := fmt.Sprintf("drills[%d].expect[%d]", i, j)
		switch {
		case e.Intent != "":
			if s.Mesh.Dialect != "istio" {
				d.fieldErr(p, "intent %q needs a dialect that knows it; a %s suite lists explicit evidence", e.Intent, s.Mesh.Dialect)
			} else if _, ok := istioIntents[e.Intent]; !ok {
				d.fieldErr(p, "unknown intent %q (known: %s)", e.Intent, intentList())
			} else if e.Intent == "latency_recorded" && dr.Delay <= 0 {
				d.fieldErr(p, "latency_recorded needs the drill's inject.delay")
			}
		case e.Metric != nil || (e.Absent != nil && e.Absent.Metric != nil):
			if s.Backends.Prometheus == nil {
				d.fieldErr(p, "a metric expectation needs backends.prometheus")
			}
		case e.Logs != nil:
			if len(s.Backends.LogFiles) == 0 && s.Backends.Loki == nil && s.Backends.VictoriaLogs == nil {
				d.fieldErr(p, "a logs expectation needs backends.logs")
			}
		case e.Trace != nil:
			if s.Backends.Jaeger == nil && s.Backends.Tempo == nil && s.Backends.Zipkin == nil && len(s.Backends.OTLPFiles) == 0 {
				d.fieldErr(p, "a trace expectation needs backends.traces")
			}
		case e.Alert != nil || (e.Absent != nil && e.Absent.Alert != nil):
			a := e.Alert
			if a == nil {
				a = e.Absent.Alert
			}
			if a.Source == "alertmanager" && s.Backends.Alertmanager == nil {
				d.fieldErr(p, "an alertmanager alert needs backends.alertmanager (or source: prometheus)")
			}
			if a.Source == "prometheus" && s.Backends.Prometheus == nil {
				d.fieldErr(p, "a prometheus alert needs backends.prometheus")
			}
		}
	}
}

// checkStreamSelector is a light syntax check of a LogQL stream selector:
// Loki's own parser is AGPL, so meshdrill checks only the shape and lets
// Loki judge the rest.
func checkStreamSelector(sel string) error {
	sel = strings.TrimSpace(sel)
	if sel == "" {
		return fmt.Errorf("required: a LogQL stream selector such as {namespace=\"shop\"}")
	}
	if !strings.HasPrefix(sel, "{") {
		return fmt.Errorf("a LogQL stream selector starts with '{': %q", sel)
	}
	depth, inQuote := 0, byte(0)
	for i := 0; i < len(sel); i++ {
		c := sel[i]
		switch {
		case inQuote != 0:
			if c == '\\' && inQuote == '"' {
				i++
			} else if c == inQuote {
				inQuote = 0
			}
		case c == '"' || c == '`':
			inQuote = c
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth < 0 {
				return fmt.Errorf("unbalanced '}' at offset %d: %q", i, sel)
			}
		}
	}
	if inQuote != 0 {
		return fmt.Errorf("unterminated quote: %q", sel)
	}
	if depth != 0 {
		return fmt.Errorf("unbalanced braces: %q", sel)
	}
	if !regexp.MustCompile(`^\{\s*[A-Za-z_]`).MatchString(sel) {
		return fmt.Errorf("a stream selector needs at least one label matcher: %q", sel)
	}
	return nil
}
