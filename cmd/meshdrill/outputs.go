package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/redact"
	"github.com/meshdrill/meshdrill/internal/selftelemetry"
	"github.com/meshdrill/meshdrill/report"
)

// resultOptions are what run and demo do with a report besides printing it.
type resultOptions struct {
	outputs     []string
	pushgateway string
	pushJob     string
	lokiPush    string
	otlp        string
	strict      bool

	specs   []report.OutputSpec
	secrets *redact.Set // learns the push URLs' secrets
}

func (o *resultOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.outputs, "output", nil, "also write the report: json=FILE, junit=FILE or markdown=FILE (- for stdout); repeatable")
	f.StringVar(&o.pushgateway, "pushgateway", "", "push verdicts as metrics to this Pushgateway URL")
	f.StringVar(&o.pushJob, "pushgateway-job", "meshdrill", "Pushgateway job name")
	f.StringVar(&o.lokiPush, "loki-push", "", "push one log line per drill and expectation to this Loki push URL (…/loki/api/v1/push)")
	f.StringVar(&o.otlp, "otlp-traces", "", "export the run as a trace to this OTLP/HTTP traces URL (…/v1/traces)")
	f.BoolVar(&o.strict, "strict", false, "count BLIND_SPOT as a finding (exit 1)")
}

// validate checks outputs and push targets before any traffic, so a typo
// costs nothing and no run's report is lost to an unwritable path.
func (o *resultOptions) validate() error {
	o.specs = nil
	for _, s := range o.outputs {
		spec, err := report.ParseOutputSpec(s)
		if err != nil {
			return usageError("--output: %v", err)
		}
		o.specs = append(o.specs, spec)
	}
	if err := report.CheckOutputs(o.specs); err != nil {
		return usageError("--output: %v", err)
	}
	if o.pushJob == "" {
		return usageError("--pushgateway-job: must not be empty")
	}
	for flag, u := range map[string]string{"--pushgateway": o.pushgateway, "--loki-push": o.lokiPush, "--otlp-traces": o.otlp} {
		if u == "" {
			continue
		}
		o.secrets.AddURL(u)
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return usageError("%s: expected an http:// or https:// URL with a host, got %q", flag, collectors.Redact(u))
		}
	}
	return nil
}

// toStdout reports whether an output is written to standard output, in
// which case the console report goes to standard error instead, so that
// `--output markdown=- >> summary.md` captures the markdown alone.
func (o *resultOptions) toStdout() bool {
	for _, s := range o.specs {
		if s.Path == report.Stdout {
			return true
		}
	}
	return false
}

// deliver prints the console report, writes the outputs, pushes the
// self-telemetry, and returns the exit code. A failed output or push is
// reported and makes the run exit 3 unless findings already make it 1.
func (o *resultOptions) deliver(ctx context.Context, g *globals, rep expectations.Report) error {
	rep = scrubReport(rep, g.secrets)
	var problems []error
	console, colour := g.stdout, g.color()
	if o.toStdout() {
		console, colour = g.stderr, false
	}
	if err := report.Console(console, rep, report.ConsoleOptions{Color: colour, Verbose: g.debug}); err != nil {
		problems = append(problems, err)
	}
	if len(o.specs) > 0 {
		if err := report.WriteOutputsTo(g.stdout, o.specs, rep); err != nil {
			problems = append(problems, err)
		}
	}
	if o.pushgateway != "" {
		if err := selftelemetry.PushMetrics(ctx, o.pushgateway, o.pushJob, rep); err != nil {
			problems = append(problems, fmt.Errorf("pushgateway: %w", err))
		}
	}
	if o.lokiPush != "" {
		if err := selftelemetry.PushLogs(ctx, o.lokiPush, rep); err != nil {
			problems = append(problems, fmt.Errorf("loki push: %w", err))
		}
	}
	if o.otlp != "" {
		if err := selftelemetry.ExportTrace(ctx, o.otlp, rep); err != nil {
			problems = append(problems, fmt.Errorf("otlp traces: %w", err))
		}
	}
	code := expectations.ExitCode(o.strict, rep.Verdicts()...)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(g.stderr, "meshdrill: %v\n", p)
		}
		if code == expectations.ExitOK {
			code = expectations.ExitError
		}
	}
	if code != expectations.ExitOK {
		return &exitError{code: code}
	}
	return nil
}
