package bench

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/demosuite"
	"github.com/meshdrill/meshdrill/internal/wire"
	"github.com/meshdrill/meshdrill/lab"
)

// suite20 is the benchmark's suite file.
//
//go:embed suite20.yaml
var suite20 []byte

// slowestEnv names a drill of suite20.yaml to use as the slowest one,
// skipping the calibration that finds it.
const slowestEnv = "MESHDRILL_BENCH_SLOWEST"

// wantVerdict is each kind's verdict against the lab, per the istio dialect
// with the lab's mesh declaration: the HTTP kinds leave evidence in every
// signal; the handshake kinds, plaintext and malformed requests have signals
// that cannot carry them (BLIND_SPOT), and evidence in the others.
var wantVerdict = map[string]expectations.Verdict{
	"forbidden-identity":  expectations.Pass,
	"forbidden-operation": expectations.Pass,
	"control":             expectations.Pass,
	"latency":             expectations.Pass,
	"error-burst":         expectations.Pass,
	"untrusted-cert":      expectations.BlindSpot,
	"expired-cert":        expectations.BlindSpot,
	"not-yet-valid-cert":  expectations.BlindSpot,
	"no-client-cert":      expectations.BlindSpot,
	"weak-tls":            expectations.BlindSpot,
	"plaintext":           expectations.BlindSpot,
	"malformed":           expectations.BlindSpot,
}

// startLab starts a lab for the whole test or benchmark.
func startLab(tb testing.TB) *lab.Lab {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, l.Close()) })
	return l
}

// loadSuite parses suite20.yaml for a started lab, its CA written to files
// as a user's CA would be, the way the demo loads its built-in suite.
func loadSuite(tb testing.TB, l *lab.Lab) expectations.Suite {
	tb.Helper()
	vars, err := demosuite.LabVars(l, tb.TempDir())
	require.NoError(tb, err)
	opts := wire.LoadOptions()
	opts.Vars = func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	s, err := expectations.Parse("suite20.yaml", suite20, opts)
	require.NoError(tb, err)
	return s
}

// only keeps the named drill of a suite.
func only(tb testing.TB, s expectations.Suite, drill string) expectations.Suite {
	tb.Helper()
	one, err := s.Select("^" + drill + "$")
	require.NoError(tb, err)
	return one
}

// stages is where a run's drills spent their time, summed over drills:
// waiting for one of the evaluator's drill slots, then, holding it, sending
// traffic (baseline reads included: they take milliseconds) and waiting for
// evidence.
type stages struct{ slotWait, inject, await time.Duration }

// outcome is one evaluation of a suite.
type outcome struct {
	rep    expectations.Report
	wall   time.Duration
	stages stages
}

// run is one `meshdrill run` of the suite: fresh collectors and injector
// (no pacer or connection carries over from a previous run), then the
// evaluator, timed.
func run(tb testing.TB, l *lab.Lab, s expectations.Suite) outcome {
	tb.Helper()
	env, err := wire.FromSuite(s)
	require.NoError(tb, err)
	// The lab's scrape interval is known; a user's run measures it first.
	env.ScrapeInterval = l.ScrapeInterval
	var mu sync.Mutex
	type marks struct{ slot, inject, await, done time.Time }
	seen := map[string]*marks{}
	env.Progress = func(p expectations.Progress) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		m := seen[p.Drill]
		if m == nil {
			m = &marks{}
			seen[p.Drill] = m
		}
		switch p.Stage {
		case "baseline":
			m.slot = now
		case "inject":
			m.inject = now
		case "await":
			if m.await.IsZero() {
				m.await = now
			}
		case "done":
			m.done = now
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runID := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	start := time.Now()
	rep := expectations.Run(ctx, s, env, runID)
	o := outcome{rep: rep, wall: time.Since(start)}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range seen {
		if m.slot.IsZero() || m.await.IsZero() || m.done.IsZero() {
			continue // a drill that failed before awaiting has no await stage
		}
		o.stages.slotWait += m.slot.Sub(start)
		o.stages.inject += m.await.Sub(m.slot)
		o.stages.await += m.done.Sub(m.await)
	}
	return o
}

// broken lists the drills whose verdict is not the one their kind should
// get, with what went wrong.
func broken(rep expectations.Report) []string {
	var out []string
	for _, d := range rep.Drills {
		if d.Verdict == wantVerdict[d.Kind] {
			continue
		}
		var why []string
		for _, r := range append([]expectations.Result{d.Client}, d.Results...) {
			if r.Verdict != expectations.Pass && r.Verdict != expectations.BlindSpot {
				why = append(why, fmt.Sprintf("%s %q %s: expected %s, got %s (query %s, window %s)", r.Signal, r.Name, r.Verdict, r.Expected, r.Got, r.Query, r.Window))
			}
		}
		out = append(out, fmt.Sprintf("%s (%s): %s, want %s\n    %s", d.Name, d.Kind, d.Verdict, wantVerdict[d.Kind], strings.Join(why, "\n    ")))
	}
	return out
}

// TestSuite20Verdicts runs the benchmark's suite once and checks every
// drill's verdict, so the benchmark never times a broken run. Not timed.
func TestSuite20Verdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the lab and sends 100 requests")
	}
	l := startLab(t)
	s := loadSuite(t, l)
	require.Len(t, s.Drills, 20)
	kinds := map[string]bool{}
	for _, d := range s.Drills {
		kinds[d.Kind] = true
	}
	assert.Len(t, kinds, len(wantVerdict), "the suite has every kind of the verdict table")

	o := run(t, l, s)
	require.Len(t, o.rep.Drills, 20)
	for _, d := range o.rep.Drills {
		t.Run(d.Name, func(t *testing.T) {
			want, ok := wantVerdict[d.Kind]
			require.True(t, ok, "no expected verdict for kind %q", d.Kind)
			assert.Equal(t, expectations.Pass, d.Client.Verdict, "client outcome: expected %s, got %s", d.Client.Expected, d.Client.Got)
			var evidence int
			for _, r := range d.Results {
				assert.NotEqual(t, expectations.Error, r.Verdict, "%s %q: %s", r.Signal, r.Name, r.Got)
				assert.Contains(t, []expectations.Verdict{expectations.Pass, expectations.BlindSpot}, r.Verdict,
					"%s %q: %s: expected %s, got %s (query %s, window %s)\n%s", r.Signal, r.Name, r.Verdict, r.Expected, r.Got, r.Query, r.Window, r.Raw)
				if r.Verdict == expectations.Pass {
					evidence++
				}
			}
			// A blind spot in one signal is no excuse in the others: every
			// kind leaves evidence somewhere the lab's mesh can carry it.
			assert.Positive(t, evidence, "no signal recorded the drill")
			assert.Equal(t, want, d.Verdict, "drill verdict")
		})
	}
}

// slowest is the suite's slowest drill alone, found once per process
// (every benchmark round asks).
var slowest struct {
	once  sync.Once
	drill string
}

// slowestDrill runs each drill alone once and picks the one that holds its
// slot longest before its evidence wait: sending its traffic. The evidence
// wait that follows varies for every drill alike, by up to a scrape
// interval with where the scrape cycle happens to be, and even repeats in
// step with it across consecutive runs; the sending time does not, so it
// ranks the drills reliably.
func slowestDrill(b *testing.B, l *lab.Lab, s expectations.Suite) string {
	b.Helper()
	slowest.once.Do(func() {
		if d := os.Getenv(slowestEnv); d != "" {
			slowest.drill = d
			b.Logf("slowest drill: %s (from %s)", d, slowestEnv)
			return
		}
		var most time.Duration
		var rows []string
		for _, d := range s.Drills {
			o := run(b, l, only(b, s, d.Name))
			if bad := broken(o.rep); len(bad) > 0 {
				b.Fatalf("calibration run of %s:\n%s", d.Name, strings.Join(bad, "\n"))
			}
			rows = append(rows, fmt.Sprintf("%s %s+%s", d.Name, o.stages.inject.Round(time.Millisecond), o.stages.await.Round(time.Millisecond)))
			if o.stages.inject > most {
				slowest.drill, most = d.Name, o.stages.inject
			}
		}
		b.Logf("slowest drill: %s; alone, sending+awaiting: %s", slowest.drill, strings.Join(rows, ", "))
	})
	require.NotEmpty(b, slowest.drill)
	return slowest.drill
}

// reportStages adds where the drills spent their slot time, per run.
func reportStages(b *testing.B, total stages) {
	n := float64(b.N)
	b.ReportMetric(total.slotWait.Seconds()/n, "slotwait-s/op")
	b.ReportMetric(total.inject.Seconds()/n, "inject-s/op")
	b.ReportMetric(total.await.Seconds()/n, "await-s/op")
}

// benchSuite times b.N evaluations of s on one lab; the lab's start and
// the suite's loading are not timed.
func benchSuite(b *testing.B, l *lab.Lab, s expectations.Suite) {
	b.Helper()
	var total stages
	b.ResetTimer()
	for range b.N {
		o := run(b, l, s)
		if bad := broken(o.rep); len(bad) > 0 {
			b.Fatalf("a benchmark of a broken run means nothing:\n%s", strings.Join(bad, "\n"))
		}
		total.slotWait += o.stages.slotWait
		total.inject += o.stages.inject
		total.await += o.stages.await
	}
	b.StopTimer()
	reportStages(b, total)
}

// BenchmarkSuite20 times the twenty drills of suite20.yaml at the suite's
// defaults (concurrency 4, 20 requests per second to the target).
func BenchmarkSuite20(b *testing.B) {
	l := startLab(b)
	benchSuite(b, l, loadSuite(b, l))
}

// BenchmarkSlowestAlone times the suite's slowest drill on its own.
func BenchmarkSlowestAlone(b *testing.B) {
	l := startLab(b)
	s := loadSuite(b, l)
	drill := slowestDrill(b, l, s)
	benchSuite(b, l, only(b, s, drill))
}

// BenchmarkSuite20Limits times the suite with its two limits on running
// drills at once lifted one by one: the evaluator's drill slots
// (defaults.concurrency) and the target's request rate, which every drill
// aimed at the target shares (defaults.rate). It shows which of them sets
// the suite's wall time.
func BenchmarkSuite20Limits(b *testing.B) {
	l := startLab(b)
	base := loadSuite(b, l)
	for _, lim := range []struct {
		concurrency int
		rate        float64
	}{{4, 20}, {20, 20}, {4, 200}, {20, 200}} {
		b.Run(fmt.Sprintf("concurrency=%d/rate=%g", lim.concurrency, lim.rate), func(b *testing.B) {
			s := base
			s.Defaults.Concurrency, s.Defaults.Rate = lim.concurrency, lim.rate
			benchSuite(b, l, s)
		})
	}
}
