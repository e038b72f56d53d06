package proxies_test

import (
	"context"
	"crypto/tls"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/testenv"
	"github.com/meshdrill/meshdrill/internal/wire"
	"github.com/meshdrill/meshdrill/report"
)

// examplePath is an example suite of the repository.
func examplePath(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(testenv.RepoRoot(t), "examples", rel)
}

// runOptions narrow a run for a broken variant.
type runOptions struct {
	selectRE string        // --run
	deadline time.Duration // each drill's deadline and alert wait, when a FAIL must wait for them
}

// runSuite runs an example suite the way `meshdrill run` does: the loader
// with the CLI's options (the vars standing in for the environment), the
// drills' identities, wire.FromSuiteWith, the backends' preflight,
// expectations.Run, and the console report, logged.
func runSuite(t *testing.T, path string, vars map[string]string, o runOptions) expectations.Report {
	t.Helper()
	lo := wire.LoadOptions()
	lo.Vars = func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
	s, err := expectations.Load(path, lo)
	require.NoError(t, err)
	s, err = s.Select(o.selectRE)
	require.NoError(t, err)
	require.NotEmpty(t, s.Drills)
	if o.deadline > 0 {
		for i := range s.Drills {
			s.Drills[i].Deadline = o.deadline
			for _, e := range s.Drills[i].Expect {
				if e.Alert != nil {
					e.Alert.Within = o.deadline
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	certs, err := wire.ResolveIdentities(ctx, &s)
	require.NoError(t, err)
	env, err := fromSuite(s, certs)
	require.NoError(t, err)
	require.Empty(t, expectations.Preflight(ctx, s, env), "backends answer")
	rep := expectations.Run(ctx, s, env, "e2e-"+strings.ReplaceAll(t.Name(), "/", "-"))
	var out strings.Builder
	require.NoError(t, report.Console(&out, rep, report.ConsoleOptions{}))
	t.Logf("meshdrill run %s (vars %v):\n%s", filepath.Base(path), sortedVars(vars), out.String())
	return rep
}

// fromSuite builds the environment as meshdrill run does.
func fromSuite(s expectations.Suite, certs map[string]*tls.Certificate) (expectations.Env, error) {
	return wire.FromSuiteWith(s, wire.Config{Certs: certs})
}

func sortedVars(vars map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// row is a drill's verdict per signal, the worst where a signal has several
// expectations, as the console's summary table shows it; "-" for none.
type row struct {
	Client, Metrics, Logs, Traces, Alerts, Drill string
}

// rows summarises a report per drill.
func rows(rep expectations.Report) map[string]row {
	out := map[string]row{}
	for _, d := range rep.Drills {
		per := map[string][]expectations.Verdict{}
		for _, r := range report.Ordered(d) {
			per[r.Signal] = append(per[r.Signal], r.Verdict)
		}
		cell := func(sig string) string {
			if len(per[sig]) == 0 {
				return "-"
			}
			return expectations.Worst(per[sig]...).String()
		}
		out[d.Name] = row{
			Client: cell(expectations.SignalClient), Metrics: cell(expectations.SignalMetrics),
			Logs: cell(expectations.SignalLogs), Traces: cell(expectations.SignalTraces),
			Alerts: cell("alerts"), Drill: d.Verdict.String(),
		}
	}
	return out
}

// assertRows compares a run with the verdicts the edge must earn.
func assertRows(t *testing.T, want map[string]row, rep expectations.Report) {
	t.Helper()
	got := rows(rep)
	for name, w := range want {
		assert.Equal(t, w, got[name], "drill %s", name)
	}
	assert.Len(t, got, len(want), "drills run")
}

// result finds one expectation's result by drill and name.
func result(t *testing.T, rep expectations.Report, drill, name string) expectations.Result {
	t.Helper()
	for _, d := range rep.Drills {
		if d.Name != drill {
			continue
		}
		for _, r := range d.Results {
			if r.Name == name {
				return r
			}
		}
	}
	t.Fatalf("no expectation %q in drill %q", name, drill)
	return expectations.Result{}
}

// requestIDs lists the x-request-id of every request a drill sent.
func requestIDs(rep expectations.Report, drill string) []string {
	var out []string
	for _, d := range rep.Drills {
		if d.Name == drill {
			for _, r := range d.Injection.Requests {
				out = append(out, r.RequestID)
			}
		}
	}
	return out
}

// newVictoriaLogs is the log source FromSuiteWith will build for a suite's
// backends.logs.victorialogs.
func newVictoriaLogs(b *expectations.HTTPBackend) (wire.VictoriaLogs, error) {
	o, err := wire.HTTPOptions(b)
	if err != nil {
		return wire.VictoriaLogs{}, err
	}
	return wire.NewVictoriaLogs(b, o)
}
