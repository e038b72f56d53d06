package promstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// scrapeAccept asks for the classic text format, which every target speaks.
const scrapeAccept = "text/plain;version=0.0.4;q=0.9,*/*;q=0.1"

const maxScrapeBody = 64 << 20

// target is one scrape endpoint and its last scrape's state.
type target struct {
	url      string
	instance string // host:port, Prometheus' default instance label

	mu           sync.Mutex
	health       string // "unknown", "up", "down"
	lastError    string
	lastScrape   time.Time
	lastDuration time.Duration
	// last holds the series written by the previous scrape, so that series
	// that disappear get a staleness marker.
	last map[string]labels.Labels
}

// TargetState is a snapshot of a target for /api/v1/targets.
type TargetState struct {
	URL, Instance, Health, LastError string
	LastScrape                       time.Time
	LastDuration                     time.Duration
}

func newTarget(rawURL string) (*target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse target url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("target url %q: want http(s)://host:port/path", rawURL)
	}
	return &target{url: rawURL, instance: u.Host, health: "unknown", last: map[string]labels.Labels{}}, nil
}

func (t *target) state() TargetState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TargetState{URL: t.url, Instance: t.instance, Health: t.health, LastError: t.lastError, LastScrape: t.lastScrape, LastDuration: t.lastDuration}
}

// scrapeOnce fetches and stores one scrape of t at time now, as Prometheus
// does: target labels job and instance are attached (a scraped label of the
// same name becomes exported_<name>), "up" and scrape_* series are written,
// and series missing since the previous scrape get a staleness marker.
func (s *Store) scrapeOnce(ctx context.Context, t *target, now time.Time) {
	ts := nowMillis(now)
	samples, err := s.fetch(ctx, t)
	dur := time.Since(now)

	seen := make(map[string]labels.Labels, len(samples))
	batch := make([]Sample, 0, len(samples)+3)
	if err == nil {
		for _, smp := range samples {
			lset := s.targetLabels(smp.lset, t)
			seen[lset.String()] = lset
			st := ts
			if smp.t != nil {
				st = *smp.t
			}
			batch = append(batch, Sample{Labels: lset, T: st, V: smp.v})
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	for key, lset := range t.last {
		if _, ok := seen[key]; !ok {
			batch = append(batch, Sample{Labels: lset, T: ts, V: staleNaN})
		}
	}
	t.last = seen
	t.lastScrape = now
	t.lastDuration = dur
	up := 1.0
	if err != nil {
		up = 0
		t.health = "down"
		t.lastError = err.Error()
		s.log.Debug("scrape failed", "target", t.url, "err", err)
	} else {
		t.health = "up"
		t.lastError = ""
	}
	report := func(name string, v float64) {
		batch = append(batch, Sample{Labels: labels.FromStrings(labels.MetricName, name, "instance", t.instance, "job", s.job), T: ts, V: v})
	}
	report("up", up)
	report("scrape_duration_seconds", dur.Seconds())
	report("scrape_samples_scraped", float64(len(samples)))
	s.storage.Commit(batch)
}

type scraped struct {
	lset labels.Labels
	t    *int64
	v    float64
}

func (s *Store) fetch(ctx context.Context, t *target) ([]scraped, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", scrapeAccept)
	req.Header.Set("User-Agent", "meshdrill-lab-promstore")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%g", s.timeout.Seconds()))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxScrapeBody))
	if err != nil {
		return nil, fmt.Errorf("read scrape body: %w", err)
	}
	return parseExposition(body, resp.Header.Get("Content-Type"))
}

// parseExposition reads a scrape body with Prometheus' own parser.
//
// Prometheus 3's parser rewrites the le and quantile labels of classic
// histograms and summaries in float form (le="250" becomes le="250.0"),
// where Prometheus 2.x keeps the exposition's text. The lab store answers as
// Prometheus 2.42, the reference the project checks it against, so the TYPE
// of histograms and summaries is hidden from the parser, which then leaves
// label values alone. Metadata is not served, so nothing else changes.
func parseExposition(body []byte, contentType string) ([]scraped, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "" || mt == "text/plain" {
		body = untypeHistograms(body)
	}
	p, err := textparse.New(body, contentType, "text/plain", false, false, labels.NewSymbolTable())
	if p == nil {
		return nil, fmt.Errorf("no parser for content type %q: %w", contentType, err)
	}
	var out []scraped
	for {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse scrape body: %w", err)
		}
		if entry != textparse.EntrySeries {
			continue // metadata, comments; native histograms are not enabled
		}
		_, tsp, v := p.Series()
		var lset labels.Labels
		p.Labels(&lset)
		smp := scraped{lset: lset, v: v}
		if tsp != nil {
			t := *tsp
			smp.t = &t
		}
		out = append(out, smp)
	}
}

// targetLabels adds job and instance with honor_labels: false semantics.
func (s *Store) targetLabels(lset labels.Labels, t *target) labels.Labels {
	b := labels.NewBuilder(lset)
	for _, tl := range []labels.Label{{Name: "job", Value: s.job}, {Name: "instance", Value: t.instance}} {
		if v := lset.Get(tl.Name); v != "" {
			b.Set("exported_"+tl.Name, v)
		}
		b.Set(tl.Name, tl.Value)
	}
	return b.Labels()
}

// scrapeLoop scrapes t every interval until ctx ends.
func (s *Store) scrapeLoop(ctx context.Context, t *target) {
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	s.scrapeOnce(ctx, t, time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.scrapeOnce(ctx, t, now)
		}
	}
}

// discardLogger is used when the caller passes none.
var discardLogger = slog.New(slog.DiscardHandler)

// untypeHistograms turns "# TYPE x histogram|summary" lines into
// "# TYPE x untyped".
func untypeHistograms(body []byte) []byte {
	if !bytes.Contains(body, []byte("# TYPE ")) {
		return body
	}
	lines := bytes.SplitAfter(body, []byte("\n"))
	for i, line := range lines {
		if !bytes.HasPrefix(line, []byte("# TYPE ")) {
			continue
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		for _, typ := range []string{" histogram", " summary"} {
			if bytes.HasSuffix(trimmed, []byte(typ)) {
				fixed := append([]byte(nil), trimmed[:len(trimmed)-len(typ)]...)
				fixed = append(fixed, " untyped"...)
				lines[i] = append(fixed, line[len(trimmed):]...)
			}
		}
	}
	return bytes.Join(lines, nil)
}

func metricsPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return "/metrics"
	}
	return u.Path
}
