package testenv

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// ScrapeTarget is one static scrape job for StartPrometheus.
type ScrapeTarget struct {
	Job         string
	Targets     []string // host:port
	MetricsPath string   // default /metrics
	HonorLabels bool     // true for a Pushgateway
}

// PrometheusConfig describes the server StartPrometheus runs. Scrape and rule evaluation
// run every second, so new samples are queryable about a second after they appear.
type PrometheusConfig struct {
	Targets []ScrapeTarget
	// Rules holds the contents of rule files (Prometheus rule YAML), one file each.
	Rules []string
	// AlertmanagerURL, when set, is where firing alerts are sent.
	AlertmanagerURL string
	// Features are the --enable-feature values; nil means exemplar-storage and
	// native-histograms, an empty non-nil slice means none.
	Features []string
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	URL        string // http://127.0.0.1:PORT
	ConfigPath string
	Process    *Process
}

type promGlobal struct {
	ScrapeInterval     string `yaml:"scrape_interval"`
	ScrapeTimeout      string `yaml:"scrape_timeout"`
	EvaluationInterval string `yaml:"evaluation_interval"`
}

type promStatic struct {
	Targets []string `yaml:"targets"`
}

type promScrape struct {
	JobName       string       `yaml:"job_name"`
	MetricsPath   string       `yaml:"metrics_path,omitempty"`
	HonorLabels   bool         `yaml:"honor_labels,omitempty"`
	Scheme        string       `yaml:"scheme,omitempty"`
	PathPrefix    string       `yaml:"path_prefix,omitempty"`
	StaticConfigs []promStatic `yaml:"static_configs"`
}

type promAlerting struct {
	Alertmanagers []promScrapeAM `yaml:"alertmanagers"`
}

type promScrapeAM struct {
	Scheme        string       `yaml:"scheme,omitempty"`
	PathPrefix    string       `yaml:"path_prefix,omitempty"`
	APIVersion    string       `yaml:"api_version"`
	StaticConfigs []promStatic `yaml:"static_configs"`
}

type promFile struct {
	Global        promGlobal    `yaml:"global"`
	RuleFiles     []string      `yaml:"rule_files,omitempty"`
	Alerting      *promAlerting `yaml:"alerting,omitempty"`
	ScrapeConfigs []promScrape  `yaml:"scrape_configs"`
}

// prometheusYAML renders cfg as a Prometheus configuration file.
func prometheusYAML(cfg PrometheusConfig, ruleFiles []string) (string, error) {
	f := promFile{
		Global:    promGlobal{ScrapeInterval: "1s", ScrapeTimeout: "1s", EvaluationInterval: "1s"},
		RuleFiles: ruleFiles,
	}
	for _, st := range cfg.Targets {
		if st.Job == "" {
			return "", fmt.Errorf("scrape target %v has no job name", st.Targets)
		}
		f.ScrapeConfigs = append(f.ScrapeConfigs, promScrape{
			JobName:       st.Job,
			MetricsPath:   st.MetricsPath,
			HonorLabels:   st.HonorLabels,
			StaticConfigs: []promStatic{{Targets: st.Targets}},
		})
	}
	if f.ScrapeConfigs == nil {
		f.ScrapeConfigs = []promScrape{}
	}
	if cfg.AlertmanagerURL != "" {
		u, err := url.Parse(cfg.AlertmanagerURL)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("alertmanager url %q is not an absolute URL", cfg.AlertmanagerURL)
		}
		f.Alerting = &promAlerting{Alertmanagers: []promScrapeAM{{
			Scheme:        u.Scheme,
			PathPrefix:    strings.TrimSuffix(u.Path, "/"),
			APIVersion:    "v2",
			StaticConfigs: []promStatic{{Targets: []string{u.Host}}},
		}}}
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("render prometheus config: %w", err)
	}
	return string(out), nil
}

// StartPrometheus starts Prometheus (Debian's 2.42 where installed) on a free loopback
// port with cfg, waits until /-/ready answers, and stops it when the test ends.
// Its first scrape comes about 5 s after start (Prometheus batches target updates every
// 5 s); use WaitScraped rather than a sleep.
func StartPrometheus(t testing.TB, cfg PrometheusConfig) *Prometheus {
	t.Helper()
	bin := Binary(t, "prometheus")
	confDir := t.TempDir()
	var ruleFiles []string
	for i, r := range cfg.Rules {
		ruleFiles = append(ruleFiles, writeFile(t, confDir, fmt.Sprintf("rules-%d.yml", i), r))
	}
	text, err := prometheusYAML(cfg, ruleFiles)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	confPath := writeFile(t, confDir, "prometheus.yml", text)
	features := cfg.Features
	if features == nil {
		features = []string{"exemplar-storage", "native-histograms"}
	}
	var prom *Prometheus
	StartServer(t, "prometheus", func() (*Process, string) {
		addr := FreeAddr(t)
		args := []string{
			"--config.file=" + confPath,
			"--storage.tsdb.path=" + t.TempDir(),
			"--web.listen-address=" + addr,
			"--web.enable-lifecycle",
			"--web.enable-remote-write-receiver",
		}
		if len(features) > 0 {
			args = append(args, "--enable-feature="+strings.Join(features, ","))
		}
		args = append(args, cfg.ExtraArgs...)
		p := Start(t, bin, args)
		prom = &Prometheus{URL: "http://" + addr, ConfigPath: confPath, Process: p}
		return p, prom.URL + "/-/ready"
	})
	return prom
}

// API returns a client for the server's HTTP API.
func (p *Prometheus) API(t testing.TB) v1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: p.URL})
	if err != nil {
		t.Fatalf("testenv: prometheus client: %v", err)
	}
	return v1.NewAPI(c)
}

// WaitScraped waits until every active target has been scraped successfully after the
// given time, so samples written before it are queryable; it fails the test after timeout.
func (p *Prometheus) WaitScraped(t testing.TB, after time.Time, timeout time.Duration) {
	t.Helper()
	WaitScraped(t, p.URL, after, timeout)
}

// WaitScraped is Prometheus.WaitScraped for any server answering /api/v1/targets at
// promURL, such as the lab's embedded store.
func WaitScraped(t testing.TB, promURL string, after time.Time, timeout time.Duration) {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		t.Fatalf("testenv: prometheus client: %v", err)
	}
	a := v1.NewAPI(c)
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := a.Targets(ctx)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case len(res.Active) == 0:
			last = "no active targets"
		default:
			last = ""
			for _, tg := range res.Active {
				if tg.Health != v1.HealthGood || !tg.LastScrape.After(after) {
					last = fmt.Sprintf("target %s: health %q, last scrape %s, error %q",
						tg.ScrapeURL, tg.Health, tg.LastScrape.Format(time.RFC3339Nano), tg.LastError)
					break
				}
			}
			if last == "" {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testenv: targets of %s not scraped after %s within %s: %s", promURL, after.Format(time.RFC3339Nano), timeout, last)
}
