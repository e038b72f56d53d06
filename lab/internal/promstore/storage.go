// Package promstore is the lab's embedded metrics backend: it scrapes
// Prometheus text endpoints over HTTP, keeps the samples in memory (with
// staleness markers, as Prometheus does) and answers the Prometheus HTTP API
// with Prometheus' own PromQL engine, so metric collectors talk to it exactly
// as to a real Prometheus.
//
// It deliberately implements its own storage.Queryable instead of importing
// Prometheus' tsdb, which drags in cloud SDKs.
package promstore

import (
	"context"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// staleNaN marks the end of a series, as Prometheus' scraper writes it.
var staleNaN = math.Float64frombits(value.StaleNaN)

// Storage is an in-memory float-sample store implementing storage.Queryable.
type Storage struct {
	mu     sync.RWMutex
	series map[string]*memSeries // key: labels.Labels.String()
}

type memSeries struct {
	lset labels.Labels
	pts  []promql.FPoint
}

// NewStorage returns an empty store.
func NewStorage() *Storage {
	return &Storage{series: make(map[string]*memSeries)}
}

// Sample is one float sample of a series.
type Sample struct {
	Labels labels.Labels
	T      int64
	V      float64
}

// Append adds one sample. Samples at or before the series' last timestamp
// are dropped, as Prometheus drops out-of-order and duplicate samples.
func (s *Storage) Append(lset labels.Labels, t int64, v float64) {
	s.Commit([]Sample{{Labels: lset, T: t, V: v}})
}

// Commit adds samples atomically: a query sees all of them or none, as
// Prometheus commits a scrape in one transaction.
func (s *Storage) Commit(samples []Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, smp := range samples {
		s.appendLocked(smp.Labels, smp.T, smp.V)
	}
}

func (s *Storage) appendLocked(lset labels.Labels, t int64, v float64) {
	key := lset.String()
	ms, ok := s.series[key]
	if !ok {
		ms = &memSeries{lset: lset.Copy()}
		s.series[key] = ms
	}
	if n := len(ms.pts); n > 0 && ms.pts[n-1].T >= t {
		return
	}
	ms.pts = append(ms.pts, promql.FPoint{T: t, F: v})
}

// Truncate drops samples older than mint and series left without samples.
func (s *Storage) Truncate(mint int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ms := range s.series {
		i := sort.Search(len(ms.pts), func(i int) bool { return ms.pts[i].T >= mint })
		if i == len(ms.pts) {
			delete(s.series, k)
			continue
		}
		if i > 0 {
			ms.pts = slices.Clone(ms.pts[i:])
		}
	}
}

// Querier implements storage.Queryable.
func (s *Storage) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{s: s, mint: mint, maxt: maxt}, nil
}

type querier struct {
	s          *Storage
	mint, maxt int64
}

// snapshot is a copy of one series' samples in a time range.
type snapshot struct {
	lset labels.Labels
	pts  []promql.FPoint
}

// matching copies the samples in [mint, maxt] of every series matching all
// matchers; series without samples in the range are left out.
func (q *querier) matching(mint, maxt int64, ms ...*labels.Matcher) []snapshot {
	q.s.mu.RLock()
	defer q.s.mu.RUnlock()
	var out []snapshot
	for _, series := range q.s.series {
		if !matchesAll(series.lset, ms) {
			continue
		}
		lo := sort.Search(len(series.pts), func(i int) bool { return series.pts[i].T >= mint })
		hi := sort.Search(len(series.pts), func(i int) bool { return series.pts[i].T > maxt })
		if lo >= hi {
			continue
		}
		out = append(out, snapshot{lset: series.lset, pts: slices.Clone(series.pts[lo:hi])})
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].lset, out[j].lset) < 0 })
	return out
}

func matchesAll(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (q *querier) Select(_ context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	snaps := q.matching(mint, maxt, ms...)
	if hints != nil && hints.Limit > 0 && len(snaps) > hints.Limit {
		snaps = snaps[:hints.Limit]
	}
	return &seriesSet{snaps: snaps, i: -1}
}

func (q *querier) LabelValues(_ context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, sn := range q.matching(q.mint, q.maxt, ms...) {
		if v := sn.lset.Get(name); v != "" {
			seen[v] = struct{}{}
		}
	}
	return limitSorted(seen, hints), nil, nil
}

func (q *querier) LabelNames(_ context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, sn := range q.matching(q.mint, q.maxt, ms...) {
		sn.lset.Range(func(l labels.Label) { seen[l.Name] = struct{}{} })
	}
	return limitSorted(seen, hints), nil, nil
}

func limitSorted(set map[string]struct{}, hints *storage.LabelHints) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	if hints != nil && hints.Limit > 0 && len(out) > hints.Limit {
		out = out[:hints.Limit]
	}
	return out
}

func (q *querier) Close() error { return nil }

type seriesSet struct {
	snaps []snapshot
	i     int
}

func (s *seriesSet) Next() bool {
	s.i++
	return s.i < len(s.snaps)
}

// At returns the series through promql.StorageSeries, whose iterator walks
// float points.
func (s *seriesSet) At() storage.Series {
	sn := s.snaps[s.i]
	return promql.NewStorageSeries(promql.Series{Metric: sn.lset, Floats: sn.pts})
}

func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// nowMillis is Prometheus' millisecond timestamp of t.
func nowMillis(t time.Time) int64 { return t.UnixMilli() }
