// Package demosuite is the demo's built-in suite: an ordinary suite file,
// embedded in the binary, with the lab's addresses filled in.
package demosuite

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/lab"
)

// YAML is the suite file as shipped.
//
//go:embed demo.yaml
var YAML []byte

// Load parses the built-in suite for a started lab. The lab's CA is written
// to files in dir, as a user's CA would be.
func Load(l *lab.Lab, dir string, count int) (expectations.Suite, error) {
	vars, err := LabVars(l, dir)
	if err != nil {
		return expectations.Suite{}, err
	}
	vars["DEMO_COUNT"] = strconv.Itoa(count)
	s, err := expectations.Parse("demo.yaml (built in)", YAML, expectations.LoadOptions{
		Vars: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	})
	if err != nil {
		return s, fmt.Errorf("built-in suite: %w", err)
	}
	return s, nil
}

// LabVars writes the lab's CA to files in dir, as a user's CA would be, and
// returns the LAB_* variables that suites aimed at the lab use: its backends'
// URLs, the payments workload's address and access log, and the CA files.
func LabVars(l *lab.Lab, dir string) (map[string]string, error) {
	p, ok := l.Workloads["payments"]
	if !ok {
		return nil, fmt.Errorf("the lab has no payments workload")
	}
	caCert, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := os.WriteFile(caCert, l.CACertPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(caKey, l.CAKeyPEM, 0o600); err != nil {
		return nil, err
	}
	return map[string]string{
		"LAB_PROMETHEUS_URL":      l.PrometheusURL,
		"LAB_JAEGER_URL":          l.JaegerURL,
		"LAB_PAYMENTS_ACCESS_LOG": p.AccessLogPath,
		"LAB_PAYMENTS_ADDR":       p.InboundAddr,
		"LAB_CA_CERT":             caCert,
		"LAB_CA_KEY":              caKey,
	}, nil
}
