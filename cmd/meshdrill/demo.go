package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/demosuite"
	"github.com/meshdrill/meshdrill/internal/wire"
	"github.com/meshdrill/meshdrill/lab"
)

type demoOptions struct {
	breaks     []string
	count      int
	printSuite bool
	results    resultOptions
}

func newDemoCmd(g *globals) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the built-in drills against an embedded lab mesh (no cluster needed)",
		Long: `demo starts an in-process mesh on loopback (a CA, workloads behind sidecars that
enforce mTLS and an AuthorizationPolicy, Istio-shaped metrics, access logs and traces,
and embedded backends that store them), runs four drills against the payments
workload, and reports what each signal recorded.

--break FAULT really breaks a piece of the lab's telemetry or policy, so the drill
that depends on it fails for the real reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.printSuite {
				_, err := g.stdout.Write(demosuite.YAML)
				return err
			}
			faults := lab.Faults()
			for _, b := range o.breaks {
				if _, ok := faults[b]; !ok {
					return usageError("--break: unknown fault %q (known: %s)", b, faultList())
				}
			}
			if o.count < 1 || o.count > 100 {
				return usageError("--count: must be between 1 and 100, got %d", o.count)
			}
			o.results.secrets = g.secrets
			if err := o.results.validate(); err != nil {
				return err
			}
			return runDemo(cmd.Context(), g, o)
		},
	}
	cmd.Flags().StringSliceVar(&o.breaks, "break", nil, "break the lab on purpose (repeatable): "+faultList())
	cmd.Flags().IntVar(&o.count, "count", 5, "requests per drill (1-100)")
	o.results.addFlags(cmd)
	cmd.Flags().BoolVar(&o.printSuite, "print-suite", false, "print the built-in suite file and exit")
	return cmd
}

func faultList() string {
	names := make([]string, 0)
	for n := range lab.Faults() {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func runDemo(ctx context.Context, g *globals, o demoOptions) error {
	if !g.quiet {
		fmt.Fprintln(g.stderr, "starting the lab mesh (CA, frontend and payments sidecars, metrics store, trace store)...")
	}
	l, err := lab.Start(ctx, lab.Options{Breaks: o.breaks, Logger: g.logger()})
	if err != nil {
		return &exitError{code: expectations.ExitError, err: fmt.Errorf("start lab: %w", err)}
	}
	defer l.Close()
	if len(o.breaks) > 0 && !g.quiet {
		fmt.Fprintf(g.stderr, "lab broken on purpose: %s\n", strings.Join(o.breaks, ", "))
	}
	rep, err := demoRun(ctx, l, g, o)
	if err != nil {
		return &exitError{code: expectations.ExitError, err: err}
	}
	return o.results.deliver(ctx, g, rep)
}

// demoRun runs the built-in suite against a started lab, through the same
// loader, collectors and fixtures that `meshdrill run` uses.
func demoRun(ctx context.Context, l *lab.Lab, g *globals, o demoOptions) (expectations.Report, error) {
	dir, err := os.MkdirTemp("", "meshdrill-demo-")
	if err != nil {
		return expectations.Report{}, err
	}
	defer os.RemoveAll(dir)
	s, err := demosuite.Load(l, dir, o.count)
	if err != nil {
		return expectations.Report{}, err
	}
	env, err := wire.FromSuiteWith(s, wire.Config{Transcript: g.transcript(), Secrets: g.secrets})
	if err != nil {
		return expectations.Report{}, err
	}
	measureScrape(ctx, g, &env)
	pr := newProgress(ctx, g, drillNames(s))
	env.Progress = pr.handle
	rep := expectations.Run(ctx, s, env, newRunID())
	pr.wait()
	return rep, nil
}

// progressPrinter reports each drill's stages on w, one line each.
func progressPrinter(w io.Writer) func(expectations.Progress) {
	var mu sync.Mutex
	return func(p expectations.Progress) {
		mu.Lock()
		defer mu.Unlock()
		switch p.Stage {
		case "inject", "done":
			fmt.Fprintf(w, "  %-20s %s\n", p.Drill, p.Message)
		case "await":
			fmt.Fprintf(w, "  %-20s %s (until %s)\n", p.Drill, p.Message, p.Until.Format("15:04:05"))
		}
	}
}
