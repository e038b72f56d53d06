package wire

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/alertmanager"
	"github.com/meshdrill/meshdrill/collectors/jaeger"
	"github.com/meshdrill/meshdrill/collectors/loki"
	"github.com/meshdrill/meshdrill/collectors/otlpfile"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
	"github.com/meshdrill/meshdrill/collectors/tempo"
	"github.com/meshdrill/meshdrill/collectors/zipkin"
	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/fixtures"
	"github.com/meshdrill/meshdrill/internal/redact"
)

// HTTPOptions turns a suite's backend declaration into client options,
// reading secrets from the environment or files. Secrets are never echoed:
// errors name the variable or file, not its content.
func HTTPOptions(b *expectations.HTTPBackend) (collectors.HTTPOptions, error) {
	o := collectors.HTTPOptions{
		Timeout: b.Timeout, BasicUser: b.BasicUser, Headers: b.Headers,
		CAFile: b.CAFile, CertFile: b.CertFile, KeyFile: b.KeyFile, InsecureSkipVerify: b.InsecureSkipVerify,
	}
	var err error
	if o.BearerToken, err = secret(b.BearerTokenEnv, b.BearerTokenFile); err != nil {
		return o, fmt.Errorf("bearer token: %w", err)
	}
	if o.BasicPassword, err = secret(b.BasicPasswordEnv, b.BasicPasswordFile); err != nil {
		return o, fmt.Errorf("basic auth password: %w", err)
	}
	return o, nil
}

func secret(env, file string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", env)
		}
		return v, nil
	case file != "":
		b, err := readRegular(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", file, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// Config tunes FromSuiteWith.
type Config struct {
	// Certs are the drills' loaded identities (ResolveIdentities).
	Certs map[string]*tls.Certificate
	// Transcript, when set (--debug), receives every backend request and
	// response, secrets redacted.
	Transcript io.Writer
	// Secrets, when set, learns every secret read for a backend, so the
	// caller can mask it in all output.
	Secrets *redact.Set
}

// FromSuite is FromSuiteWith with the certificates only.
func FromSuite(s expectations.Suite, certs ...map[string]*tls.Certificate) (expectations.Env, error) {
	var c Config
	if len(certs) > 0 {
		c.Certs = certs[0]
	}
	return FromSuiteWith(s, c)
}

// FromSuiteWith builds the evaluator's environment from a loaded suite: the
// collectors for its backends and an injector for its targets. Signals whose
// backend is not declared stay nil (their expectations report ERROR).
func FromSuiteWith(s expectations.Suite, cfg Config) (expectations.Env, error) {
	var env expectations.Env
	opts := func(hb *expectations.HTTPBackend) (collectors.HTTPOptions, error) {
		o, err := HTTPOptions(hb)
		o.Transcript = cfg.Transcript
		cfg.Secrets.Add(o.BearerToken)
		cfg.Secrets.Add(o.BasicPassword)
		if o.BasicPassword != "" {
			// a backend may echo the Authorization header itself
			cfg.Secrets.Add(base64.StdEncoding.EncodeToString([]byte(o.BasicUser + ":" + o.BasicPassword)))
		}
		// Header values often carry API keys (X-Api-Key: ${KEY}).
		for _, v := range o.Headers {
			cfg.Secrets.Add(v)
		}
		return o, err
	}
	b := s.Backends
	if b.Prometheus != nil {
		o, err := opts(b.Prometheus)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.prometheus"), err)
		}
		c, err := prometheus.New(b.Prometheus.URL, o)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.prometheus"), err)
		}
		env.Metrics = Metrics{Client: c}
		env.Alerts = map[string]expectations.AlertSource{"prometheus": PromAlerts{Client: c}}
	}
	if b.Alertmanager != nil {
		o, err := opts(b.Alertmanager)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.alertmanager"), err)
		}
		c, err := alertmanager.New(b.Alertmanager.URL, o)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.alertmanager"), err)
		}
		if env.Alerts == nil {
			env.Alerts = map[string]expectations.AlertSource{}
		}
		env.Alerts["alertmanager"] = Alertmanager{Client: c, URL: collectors.Redact(b.Alertmanager.URL)}
	}
	switch {
	case len(b.LogFiles) > 0:
		env.Logs = Logs{Paths: b.LogFiles}
	case b.Loki != nil:
		o, err := opts(b.Loki)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.logs.loki"), err)
		}
		c, err := loki.New(b.Loki.URL, o)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.logs.loki"), err)
		}
		env.Logs = Loki{Client: c, Selector: b.Loki.Selector, URL: collectors.Redact(b.Loki.URL)}
	case b.VictoriaLogs != nil:
		o, err := opts(b.VictoriaLogs)
		if err == nil {
			env.Logs, err = NewVictoriaLogs(b.VictoriaLogs, o)
		}
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.logs.victorialogs"), err)
		}
	}
	traces := []struct {
		name string
		hb   *expectations.HTTPBackend
		mk   func(string, collectors.HTTPOptions) (traceLookup, error)
	}{
		{"jaeger", b.Jaeger, func(u string, o collectors.HTTPOptions) (traceLookup, error) { return jaeger.New(u, o) }},
		{"tempo", b.Tempo, func(u string, o collectors.HTTPOptions) (traceLookup, error) { return tempo.New(u, o) }},
		{"zipkin", b.Zipkin, func(u string, o collectors.HTTPOptions) (traceLookup, error) { return zipkin.New(u, o) }},
	}
	for _, tb := range traces {
		if tb.hb == nil {
			continue
		}
		o, err := opts(tb.hb)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.traces."+tb.name), err)
		}
		c, err := tb.mk(tb.hb.URL, o)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.traces."+tb.name), err)
		}
		env.Traces = Traces{Client: c, Name: tb.name + " " + collectors.Redact(tb.hb.URL)}
	}
	if len(b.OTLPFiles) > 0 {
		r, err := otlpfile.New(b.OTLPFiles...)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("backends.traces.otlp_files"), err)
		}
		env.Traces = Traces{Client: r, Name: "otlp files " + strings.Join(b.OTLPFiles, ", ")}
	}
	inj := &Injector{Targets: s.Targets, Rate: s.Defaults.Rate, Certs: cfg.Certs}
	if s.Identities.CACertFile != "" {
		certPEM, err := readRegular(s.Identities.CACertFile)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("identities.ca.cert_file"), err)
		}
		keyPEM, err := readRegular(s.Identities.CAKeyFile)
		if err != nil {
			return env, fmt.Errorf("%s: %w", s.At("identities.ca.key_file"), err)
		}
		if inj.CA, err = fixtures.ParseCA(certPEM, keyPEM); err != nil {
			return env, fmt.Errorf("%s: %w", s.At("identities.ca"), err)
		}
	}
	env.Injector = inj
	return env, nil
}

// LoadOptions are the loader options every command uses: the injector's
// vocabulary validates expect_client at load, before any traffic.
func LoadOptions() expectations.LoadOptions {
	return expectations.LoadOptions{CheckExpectClient: func(s string) error {
		_, err := fixtures.ParseExpected(s)
		return err
	}}
}

// readRegular reads a small local file (a secret, a CA): only a regular
// file of at most 1 MiB, so a FIFO or a device cannot hang or flood a run.
func readRegular(path string) ([]byte, error) {
	if err := regularFile(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err == nil && len(b) > 1<<20 {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	return b, err
}

func regularFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	return nil
}
