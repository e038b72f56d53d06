package main

import (
	"crypto/tls"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/wire"
)

func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check SUITE.yaml...",
		Short: "Validate suite files without sending any traffic",
		Long: `check loads each suite strictly and reports every problem at once as
file:line:col: field: message. It also reads what a run would read before any
traffic: the CA and identity files, and secrets named by env var or file.

Exit codes: 0 every suite is valid, 2 a suite has problems.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := false
			for _, f := range args {
				s, err := expectations.Load(f, wire.LoadOptions())
				if err == nil {
					// What run reads before any traffic: identity files, the
					// CA, secrets named by env var or file.
					var certs map[string]*tls.Certificate
					if certs, err = wire.ResolveIdentities(cmd.Context(), &s); err == nil {
						_, err = wire.FromSuiteWith(s, wire.Config{Certs: certs, Secrets: g.secrets})
					}
				}
				if err != nil {
					fmt.Fprintf(g.stderr, "meshdrill: %v\n", err)
					bad = true
					continue
				}
				fmt.Fprintf(g.stdout, "%s: ok, %s against %s\n", f, plural(len(s.Drills), "drill"), plural(len(s.Targets), "target"))
			}
			if bad {
				return &exitError{code: expectations.ExitUsage}
			}
			return nil
		},
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
