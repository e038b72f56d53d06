package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/redact"
	"github.com/meshdrill/meshdrill/report"
)

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a bad flag or argument: exit 2, before any traffic.
func usageError(format string, a ...any) error {
	return &exitError{code: expectations.ExitUsage, err: fmt.Errorf(format, a...)}
}

type globals struct {
	stdout, stderr io.Writer
	quiet, debug   bool
	noColor        bool
	// secrets read for backends; masked in everything printed or written.
	secrets *redact.Set
	// the unwrapped writers, to tell whether they are terminals
	rawStdout, rawStderr io.Writer
	// where live progress draws (masked, not escaped)
	progressOut io.Writer
}

// transcript is where --debug records every backend call (stderr), or nil.
func (g *globals) transcript() io.Writer {
	if g.debug {
		return g.stderr
	}
	return nil
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
}

// color reports whether stdout gets ANSI colours: a terminal, and NO_COLOR unset.
func (g *globals) color() bool {
	if g.noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := g.rawStdout.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "meshdrill",
		Short:         "Fire drills for a service mesh's security telemetry",
		Long:          "meshdrill sends known-bad traffic at a workload, then proves from metrics, access logs and traces that every event was recorded.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress output")
	root.PersistentFlags().BoolVar(&g.debug, "debug", false, "debug logs on stderr, raw answers in the report")
	root.PersistentFlags().BoolVar(&g.noColor, "no-color", false, "no ANSI colours (also NO_COLOR)")
	root.AddCommand(newDemoCmd(g), newRunCmd(g), newCheckCmd(g), newDashboardsCmd(g), newVersionCmd(g))
	return root
}

// execute runs the CLI and returns the process exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	secrets := &redact.Set{}
	// stderr carries error text from backends: escaped as well as masked.
	// The live progress gets the masked writer alone (it moves the cursor).
	g := &globals{stdout: secrets.Writer(stdout), stderr: report.SafeWriter(secrets.Writer(stderr)), secrets: secrets}
	g.rawStdout, g.rawStderr = stdout, stderr
	g.progressOut = secrets.Writer(stderr)
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return expectations.ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "meshdrill: %v\n", ee.err)
		}
		return ee.code
	}
	// cobra's own errors (unknown flag or command) are usage errors.
	fmt.Fprintf(stderr, "meshdrill: %v\n", err)
	return expectations.ExitUsage
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
