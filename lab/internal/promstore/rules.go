package promstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
)

// A small rule evaluator in the image of Prometheus' rules manager, which
// the store cannot import (it drags in cloud SDKs): recording rules, and
// alerting rules with for, labels and annotations, evaluated every group
// interval; alerts go pending, then firing once the condition has held for
// `for`, and are dropped as soon as it no longer holds. ALERTS series and
// recorded series are written to the store, with staleness markers.

type ruleGroup struct {
	name     string
	file     string
	interval time.Duration
	rules    []*rule

	mu       sync.Mutex
	lastEval time.Time
	evalDur  time.Duration
}

type rule struct {
	alert, record string
	query         string
	forDur        time.Duration
	labels        map[string]string
	annotations   map[string]string

	mu        sync.Mutex
	health    string // "unknown", "ok", "err"
	lastError string
	lastEval  time.Time
	evalDur   time.Duration
	active    map[string]*alertState // alerting: by label set
	written   map[string]labels.Labels
}

type alertState struct {
	labels      labels.Labels
	annotations map[string]string
	activeAt    time.Time
	state       string // "pending" or "firing"
	value       float64
}

// parseRules reads Prometheus rule files (rulefmt, strict keys).
func parseRules(content []byte, file string, defaultInterval time.Duration) ([]*ruleGroup, error) {
	rgs, errs := rulefmt.Parse(content, false)
	if len(errs) > 0 {
		return nil, fmt.Errorf("parse rules %s: %w", file, errors.Join(errs...))
	}
	var out []*ruleGroup
	for _, g := range rgs.Groups {
		rg := &ruleGroup{name: g.Name, file: file, interval: time.Duration(g.Interval)}
		if rg.interval <= 0 {
			rg.interval = defaultInterval
		}
		for _, r := range g.Rules {
			lbls := map[string]string{}
			for k, v := range g.Labels {
				lbls[k] = v
			}
			for k, v := range r.Labels {
				lbls[k] = v
			}
			rg.rules = append(rg.rules, &rule{
				alert: r.Alert, record: r.Record, query: r.Expr, forDur: time.Duration(r.For),
				labels: lbls, annotations: r.Annotations, health: "unknown",
				active: map[string]*alertState{}, written: map[string]labels.Labels{},
			})
		}
		out = append(out, rg)
	}
	return out, nil
}

func (s *Store) ruleLoop(ctx context.Context, g *ruleGroup) {
	tick := time.NewTicker(g.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.evalGroup(ctx, g, now)
		}
	}
}

// evalGroup evaluates a group's rules in order at ts, as Prometheus does
// (a rule sees the series recorded by the rules before it).
func (s *Store) evalGroup(ctx context.Context, g *ruleGroup, ts time.Time) {
	start := time.Now()
	for _, r := range g.rules {
		s.evalRule(ctx, r, ts)
	}
	g.mu.Lock()
	g.lastEval, g.evalDur = ts, time.Since(start)
	g.mu.Unlock()
}

func (s *Store) evalRule(ctx context.Context, r *rule, ts time.Time) {
	start := time.Now()
	vec, err := s.instantVector(ctx, r.query, ts)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastEval, r.evalDur = ts, time.Since(start)
	if err != nil {
		r.health, r.lastError = "err", err.Error()
		return
	}
	r.health, r.lastError = "ok", ""
	t := nowMillis(ts)
	var batch []Sample
	seen := map[string]labels.Labels{}
	emit := func(l labels.Labels, v float64) {
		seen[l.String()] = l
		batch = append(batch, Sample{Labels: l, T: t, V: v})
	}
	if r.record != "" {
		for _, smp := range vec {
			b := labels.NewBuilder(smp.Metric)
			b.Set(labels.MetricName, r.record)
			for k, v := range r.labels {
				b.Set(k, v)
			}
			emit(b.Labels(), smp.F)
		}
	} else {
		current := map[string]bool{}
		for _, smp := range vec {
			b := labels.NewBuilder(smp.Metric)
			b.Del(labels.MetricName)
			for k, v := range r.labels {
				b.Set(k, v)
			}
			b.Set(labels.AlertName, r.alert)
			lset := b.Labels()
			key := lset.String()
			current[key] = true
			a, ok := r.active[key]
			if !ok {
				a = &alertState{labels: lset, activeAt: ts, state: "pending"}
				r.active[key] = a
			}
			a.value = smp.F
			a.annotations = expandAnnotations(r.annotations, lset, smp.F)
		}
		for key, a := range r.active {
			if !current[key] {
				delete(r.active, key) // resolved: no longer shown by /api/v1/alerts
				continue
			}
			if a.state == "pending" && ts.Sub(a.activeAt) >= r.forDur {
				a.state = "firing"
			}
			b := labels.NewBuilder(a.labels)
			b.Set(labels.MetricName, "ALERTS")
			b.Set("alertstate", a.state)
			emit(b.Labels(), 1)
		}
	}
	for key, l := range r.written {
		if _, ok := seen[key]; !ok {
			batch = append(batch, Sample{Labels: l, T: t, V: staleNaN})
		}
	}
	r.written = seen
	s.storage.Commit(batch)
}

func (s *Store) instantVector(ctx context.Context, query string, ts time.Time) (promql.Vector, error) {
	q, err := s.engine.NewInstantQuery(ctx, s.storage, nil, query, ts)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		return v, nil
	case promql.Scalar:
		return promql.Vector{{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
	default:
		return nil, errors.New("rule result is not a vector or scalar")
	}
}

// expandAnnotations applies Prometheus' template conventions ($labels,
// $value) with text/template; a broken template yields its error text, as
// in Prometheus.
func expandAnnotations(tmpls map[string]string, lset labels.Labels, value float64) map[string]string {
	out := make(map[string]string, len(tmpls))
	data := struct {
		Labels map[string]string
		Value  float64
	}{lset.Map(), value}
	for k, text := range tmpls {
		t, err := template.New(k).Option("missingkey=zero").Parse("{{$labels := .Labels}}{{$value := .Value}}" + text)
		if err != nil {
			out[k] = fmt.Sprintf("<error expanding template: %v>", err)
			continue
		}
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			out[k] = fmt.Sprintf("<error expanding template: %v>", err)
			continue
		}
		out[k] = b.String()
	}
	return out
}

// apiAlert is one entry of /api/v1/alerts.
type apiAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

func (r *rule) alertsLocked() []apiAlert {
	out := []apiAlert{}
	for _, a := range r.active {
		ann := a.annotations
		if ann == nil {
			ann = map[string]string{}
		}
		out = append(out, apiAlert{
			Labels: a.labels.Map(), Annotations: ann, State: a.state, ActiveAt: a.activeAt,
			Value: strconv.FormatFloat(a.value, 'e', -1, 64),
		})
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i].Labels) < fmt.Sprint(out[j].Labels) })
	return out
}

// Alerts returns the pending and firing alerts, as /api/v1/alerts does.
func (s *Store) alertsAPI() []apiAlert {
	out := []apiAlert{}
	for _, g := range s.groups {
		for _, r := range g.rules {
			if r.alert == "" {
				continue
			}
			r.mu.Lock()
			out = append(out, r.alertsLocked()...)
			r.mu.Unlock()
		}
	}
	return out
}

func (s *Store) rulesAPI() map[string]any {
	groups := []map[string]any{}
	for _, g := range s.groups {
		rules := []map[string]any{}
		for _, r := range g.rules {
			r.mu.Lock()
			lbls := r.labels
			if lbls == nil {
				lbls = map[string]string{}
			}
			m := map[string]any{
				"name": r.record, "query": r.query, "labels": lbls, "health": r.health,
				"evaluationTime": r.evalDur.Seconds(), "lastEvaluation": r.lastEval, "type": "recording",
			}
			if r.lastError != "" {
				m["lastError"] = r.lastError
			}
			if r.alert != "" {
				alerts := r.alertsLocked()
				state := "inactive"
				for _, a := range alerts {
					if a.State == "firing" {
						state = "firing"
						break
					}
					state = "pending"
				}
				ann := r.annotations
				if ann == nil {
					ann = map[string]string{}
				}
				m["name"], m["type"], m["state"] = r.alert, "alerting", state
				m["duration"], m["keepFiringFor"] = r.forDur.Seconds(), 0
				m["annotations"], m["alerts"] = ann, alerts
			}
			r.mu.Unlock()
			rules = append(rules, m)
		}
		g.mu.Lock()
		groups = append(groups, map[string]any{
			"name": g.name, "file": g.file, "rules": rules, "interval": g.interval.Seconds(), "limit": 0,
			"evaluationTime": g.evalDur.Seconds(), "lastEvaluation": g.lastEval,
		})
		g.mu.Unlock()
	}
	return map[string]any{"groups": groups}
}
