package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/fixtures"
	"github.com/meshdrill/meshdrill/internal/wire"
)

type runOptions struct {
	selectRE string
	dryRun   bool
	results  resultOptions
}

func newRunCmd(g *globals) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run SUITE.yaml",
		Short: "Run a suite's drills and verify their evidence",
		Long: `run loads the suite (strictly: any problem stops it before traffic is sent),
sends each drill's known-bad traffic at its allowlisted target, and verifies
that the evidence reached the declared backends.

Exit codes: 0 all held, 1 a FAIL or NOT_ENFORCED (or BLIND_SPOT with --strict),
2 a bad suite or usage, 3 could not tell (ERROR).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.results.secrets = g.secrets
			if err := o.results.validate(); err != nil {
				return err
			}
			s, err := expectations.Load(args[0], wire.LoadOptions())
			if err != nil {
				return &exitError{code: expectations.ExitUsage, err: err}
			}
			if s, err = s.Select(o.selectRE); err != nil {
				return usageError("%v", err)
			}
			certs, err := wire.ResolveIdentities(cmd.Context(), &s)
			if err != nil {
				return usageError("%v", err)
			}
			env, err := wire.FromSuiteWith(s, wire.Config{Certs: certs, Transcript: g.transcript(), Secrets: g.secrets})
			if err != nil {
				return usageError("%v", err)
			}
			if o.dryRun {
				return printPlan(g.stdout, s)
			}
			measureScrape(cmd.Context(), g, &env)
			if errs := expectations.Preflight(cmd.Context(), s, env); len(errs) > 0 {
				for _, e := range errs {
					fmt.Fprintf(g.stderr, "meshdrill: %v\n", e)
				}
				// The outputs still get a report, so CI shows the ERROR.
				reason := fmt.Sprintf("not run: %d problem(s) found before any traffic (%v); no traffic was sent", len(errs), errs[0])
				_ = o.results.deliver(cmd.Context(), g, expectations.NotRun(s, newRunID(), reason))
				return &exitError{code: expectations.ExitError, err: fmt.Errorf("%d problem(s) found before any traffic; no traffic was sent", len(errs))}
			}
			pr := newProgress(cmd.Context(), g, drillNames(s))
			env.Progress = pr.handle
			rep := expectations.Run(cmd.Context(), s, env, newRunID())
			pr.wait()
			return o.results.deliver(cmd.Context(), g, rep)
		},
	}
	cmd.Flags().StringVar(&o.selectRE, "run", "", "run only drills whose name matches this regular expression")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the traffic plan and every query, send nothing")
	o.results.addFlags(cmd)
	return cmd
}

// printPlan writes what a run would send and look for.
func printPlan(w io.Writer, s expectations.Suite) error {
	fmt.Fprintf(w, "dry run of suite %q: nothing is sent\n", s.Name)
	rate := s.Defaults.Rate
	for _, pd := range expectations.PlanSuite(s) {
		d := pd.Drill
		fmt.Fprintf(w, "\n%s: %d × %s %s %s → %s (%s), at most %g req/s to the target, deadline %s\n",
			d.Name, d.Count, d.Kind, d.Method, planPath(d), pd.Target.Address, d.Target, rate, d.Deadline)
		if d.Identity != "" {
			fmt.Fprintf(w, "  identity %s\n", d.Identity)
		}
		if d.Delay > 0 {
			fmt.Fprintf(w, "  delay %s\n", d.Delay)
		}
		if d.ExpectClient != "" {
			fmt.Fprintf(w, "  client   expect %s (expect_client)\n", d.ExpectClient)
		} else if k, ok := fixtures.Registry[d.Kind]; ok {
			fmt.Fprintf(w, "  client   expect %s\n", k.Expect.Description)
		}
		for _, c := range pd.Checks {
			if c.Blind {
				fmt.Fprintf(w, "  %-8s BLIND_SPOT %s: %s\n", c.Signal, c.Name, c.Reason)
				continue
			}
			fmt.Fprintf(w, "  %-8s %s: expect %s\n           %s\n", c.Signal, c.Name, c.Expected, strings.TrimSpace(c.Query))
		}
	}
	return nil
}

// measureScrape reads the metrics backend's scrape interval into env; when
// it cannot, windows are used as the suite gives them, and the user is told.
func measureScrape(ctx context.Context, g *globals, env *expectations.Env) {
	si, err := wire.MeasureScrapeInterval(ctx, *env)
	if err != nil {
		fmt.Fprintf(g.stderr, "meshdrill: could not measure the scrape interval (%v); metric windows are used as the suite gives them\n", err)
		return
	}
	env.ScrapeInterval = si
}

// planPath is the path a drill's requests use: its own, or its kind's.
func planPath(d expectations.Drill) string {
	switch {
	case d.Path != "":
		return d.Path
	case d.Kind == "latency":
		return fmt.Sprintf("/delay/%d", d.Delay.Milliseconds())
	case d.Kind == "error-burst":
		return fmt.Sprintf("/status/%d", d.Status)
	}
	return "/"
}
