package wire

import (
	"fmt"
	"os"
	"strings"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/jaeger"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/fixtures"
)

// HTTPOptions turns a suite's backend declaration into client options,
// reading secrets from the environment or files. Secrets are never echoed:
// errors name the variable or file, not its content.
func HTTPOptions(b *expectations.HTTPBackend) (collectors.HTTPOptions, error) {
	o := collectors.HTTPOptions{
		Timeout: b.Timeout, BasicUser: b.BasicUser,
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
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", file, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// FromSuite builds the evaluator's environment from a loaded suite: the
// collectors for its backends and an injector for its targets. Signals whose
// backend is not declared stay nil (their expectations report ERROR).
func FromSuite(s expectations.Suite) (expectations.Env, error) {
	var env expectations.Env
	if b := s.Backends.Prometheus; b != nil {
		o, err := HTTPOptions(b)
		if err != nil {
			return env, fmt.Errorf("backends.prometheus: %w", err)
		}
		c, err := prometheus.New(b.URL, o)
		if err != nil {
			return env, fmt.Errorf("backends.prometheus: %w", err)
		}
		env.Metrics = Metrics{Client: c}
	}
	if len(s.Backends.LogFiles) > 0 {
		env.Logs = Logs{Paths: s.Backends.LogFiles}
	}
	if b := s.Backends.Jaeger; b != nil {
		o, err := HTTPOptions(b)
		if err != nil {
			return env, fmt.Errorf("backends.traces.jaeger: %w", err)
		}
		c, err := jaeger.New(b.URL, o)
		if err != nil {
			return env, fmt.Errorf("backends.traces.jaeger: %w", err)
		}
		env.Traces = Traces{Client: c, URL: collectors.Redact(b.URL)}
	}
	inj := Injector{Targets: s.Targets, Rate: s.Defaults.Rate}
	if s.Identities.CACertFile != "" {
		certPEM, err := os.ReadFile(s.Identities.CACertFile)
		if err != nil {
			return env, fmt.Errorf("identities.ca.cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(s.Identities.CAKeyFile)
		if err != nil {
			return env, fmt.Errorf("identities.ca.key_file: %w", err)
		}
		if inj.CA, err = fixtures.ParseCA(certPEM, keyPEM); err != nil {
			return env, fmt.Errorf("identities.ca: %w", err)
		}
	}
	env.Injector = inj
	return env, nil
}
