package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/wire"
)

func newCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check SUITE.yaml...",
		Short: "Validate suite files without sending any traffic",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := false
			for _, f := range args {
				s, err := expectations.Load(f, wire.LoadOptions())
				if err != nil {
					fmt.Fprintln(g.stderr, err)
					bad = true
					continue
				}
				fmt.Fprintf(g.stdout, "%s: ok, %d drills against %d targets\n", f, len(s.Drills), len(s.Targets))
			}
			if bad {
				return &exitError{code: expectations.ExitUsage}
			}
			return nil
		},
	}
}
