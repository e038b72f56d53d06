package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/meshdrill/meshdrill/dashboards"
)

func newDashboardsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dashboards",
		Short: "Grafana dashboards for drill results and mesh security telemetry",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the embedded dashboards",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, n := range dashboards.List() {
				fmt.Fprintln(g.stdout, n)
			}
			return nil
		},
	}, &cobra.Command{
		Use:   "export DIR",
		Short: "Write the dashboards as Grafana JSON files into DIR",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := dashboards.Export(args[0]); err != nil {
				return usageError("%v", err)
			}
			for _, n := range dashboards.List() {
				fmt.Fprintf(g.stdout, "wrote %s\n", n)
			}
			return nil
		},
	})
	return cmd
}
