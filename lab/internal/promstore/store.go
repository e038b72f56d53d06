package promstore

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// Options configure a Store.
type Options struct {
	// Targets are the URLs scraped, e.g. http://127.0.0.1:PORT/stats/prometheus.
	Targets []string
	// Interval is the scrape interval (and scrape timeout); default 1s.
	Interval time.Duration
	// Job is the job label of every target; default "envoy-stats".
	Job string
	// Retention bounds memory; default 2h.
	Retention time.Duration
	// Rules is a Prometheus rule file (recording and alerting rules),
	// evaluated every group interval (default: Interval); empty for none.
	Rules []byte
	// RulesFile names Rules in /api/v1/rules; default "rules.yml".
	RulesFile string
	// Logger gets scrape failures at debug level; nil discards.
	Logger *slog.Logger
}

// Store scrapes its targets and serves the Prometheus HTTP API.
type Store struct {
	storage   *Storage
	engine    *promql.Engine
	targets   []*target
	interval  time.Duration
	timeout   time.Duration
	job       string
	retention time.Duration
	client    *http.Client
	log       *slog.Logger
	started   time.Time
	groups    []*ruleGroup
	rulesFile string

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a store; Start begins scraping.
func New(opts Options) (*Store, error) {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Job == "" {
		opts.Job = "envoy-stats"
	}
	if opts.Retention <= 0 {
		opts.Retention = 2 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger
	}
	s := &Store{
		storage:   NewStorage(),
		interval:  opts.Interval,
		timeout:   opts.Interval,
		job:       opts.Job,
		retention: opts.Retention,
		log:       opts.Logger,
		started:   time.Now(),
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // targets are on loopback; never via an environment proxy
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		}},
	}
	if len(opts.Rules) > 0 {
		if opts.RulesFile == "" {
			opts.RulesFile = "rules.yml"
		}
		groups, err := parseRules(opts.Rules, opts.RulesFile, opts.Interval)
		if err != nil {
			return nil, err
		}
		s.groups, s.rulesFile = groups, opts.RulesFile
	}
	for _, u := range opts.Targets {
		t, err := newTarget(u)
		if err != nil {
			return nil, err
		}
		s.targets = append(s.targets, t)
	}
	s.engine = promql.NewEngine(promql.EngineOpts{
		Logger:               opts.Logger,
		MaxSamples:           50_000_000,
		Timeout:              2 * time.Minute,
		LookbackDelta:        5 * time.Minute,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		// Prometheus uses the global evaluation interval for subqueries without a step.
		NoStepSubqueryIntervalFn: func(int64) int64 { return opts.Interval.Milliseconds() },
	})
	return s, nil
}

// Start begins scraping every target each interval, until Stop.
func (s *Store) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, t := range s.targets {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.scrapeLoop(ctx, t)
		}()
	}
	for _, g := range s.groups {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.ruleLoop(ctx, g)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				s.storage.Truncate(nowMillis(now.Add(-s.retention)))
			}
		}
	}()
}

// Stop ends scraping.
func (s *Store) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	s.client.CloseIdleConnections()
}

// Storage exposes the sample store (the engine's Queryable).
func (s *Store) Storage() *Storage { return s.storage }

// ScrapeNow scrapes every target once, synchronously.
func (s *Store) ScrapeNow(ctx context.Context) {
	now := time.Now()
	var wg sync.WaitGroup
	for _, t := range s.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.scrapeOnce(ctx, t, now)
		}()
	}
	wg.Wait()
}

// EvalRulesNow evaluates every rule group once at ts, synchronously.
func (s *Store) EvalRulesNow(ctx context.Context, ts time.Time) {
	for _, g := range s.groups {
		s.evalGroup(ctx, g, ts)
	}
}

// Targets reports each target's last scrape.
func (s *Store) Targets() []TargetState {
	out := make([]TargetState, 0, len(s.targets))
	for _, t := range s.targets {
		out = append(out, t.state())
	}
	return out
}

func (s *Store) configYAML() string {
	d := formatDuration(s.interval)
	path := "/metrics"
	if len(s.targets) > 0 {
		path = metricsPath(s.targets[0].url)
	}
	y := fmt.Sprintf("global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\nscrape_configs:\n- job_name: %s\n  honor_labels: false\n  honor_timestamps: true\n  scrape_interval: %s\n  scrape_timeout: %s\n  metrics_path: %s\n  scheme: http\n  static_configs:\n  - targets:\n",
		d, d, d, s.job, d, d, path)
	for _, t := range s.targets {
		y += "    - " + t.instance + "\n"
	}
	if s.rulesFile != "" {
		y += "rule_files:\n- " + s.rulesFile + "\n"
	}
	return y
}
