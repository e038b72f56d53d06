package promstore

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

// goldenEpoch is the time of a script's first sample, as in promqltest.
var goldenEpoch = time.Unix(0, 0).UTC()

// goldenEnv is what a script runs against: a fresh store, never started (no
// scraping), whose storage the script's load blocks fill and whose engine
// (the one the store's HTTP API and rule loop use) answers its evals.
type goldenEnv struct{ store *Store }

func newGoldenEnv(t *testing.T) *goldenEnv {
	t.Helper()
	s, err := New(Options{})
	require.NoError(t, err)
	return &goldenEnv{store: s}
}

// load appends the block's samples: slot i of each series at i × interval.
func (g *goldenEnv) load(cmd goldenCmd) {
	var batch []Sample
	for _, s := range cmd.series {
		for i, v := range s.values {
			if v.omitted {
				continue
			}
			ts := goldenEpoch.Add(time.Duration(i) * cmd.interval).UnixMilli()
			batch = append(batch, Sample{Labels: s.lset, T: ts, V: v.v})
		}
	}
	g.store.Storage().Commit(batch)
}

// instant runs an instant query through the store's engine.
func (g *goldenEnv) instant(expr string, at time.Time) ([]goldenSample, error) {
	ctx := context.Background()
	q, err := g.store.engine.NewInstantQuery(ctx, g.store.Storage(), nil, expr, at)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		out := make([]goldenSample, 0, len(v))
		for _, s := range v {
			out = append(out, goldenSample{lset: s.Metric, v: s.F})
		}
		return out, nil
	case promql.Scalar:
		return []goldenSample{{v: v.V, scalar: true}}, nil
	default:
		return nil, fmt.Errorf("result type %s is not supported by the golden reader", res.Value.Type())
	}
}

// TestPromQLGoldenCorpus runs Prometheus' own PromQL test scripts from the
// corpus (promql_golden/*.test) against the lab store: the samples go
// straight into its storage and each eval runs on its engine, so the lab
// answers as Prometheus itself does, extrapolation and staleness included.
func TestPromQLGoldenCorpus(t *testing.T) {
	dir := filepath.Join(testenv.CorpusDir(t), "promql_golden")
	files, err := filepath.Glob(filepath.Join(dir, "*.test"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no .test scripts in %s", dir)
	for _, path := range files {
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		script, err := parseGoldenScript(filepath.Base(path), src)
		require.NoError(t, err)
		t.Run(script.name, func(t *testing.T) {
			var evals int
			env := newGoldenEnv(t)
			for _, cmd := range script.cmds {
				switch cmd.op {
				case "clear":
					env = newGoldenEnv(t)
				case "load":
					env.load(cmd)
				case "eval":
					evals++
					name := fmt.Sprintf("L%d %s at %s", cmd.line, cmd.expr, cmd.at)
					t.Run(name, func(t *testing.T) {
						at := goldenEpoch.Add(cmd.at)
						got, err := env.instant(cmd.expr, at)
						require.NoError(t, err, "%s:%d", script.name, cmd.line)
						assertSamples(t, cmd.want, got, "%s:%d: %s at %s", script.name, cmd.line, cmd.expr, cmd.at)
					})
				}
			}
			assert.Positive(t, evals, "the script has no eval")
		})
	}
}

// assertSamples compares a result with the expected lines as promqltest
// does: the same label sets, no extras, values within its tolerance.
func assertSamples(t *testing.T, want, got []goldenSample, msgAndArgs ...any) {
	t.Helper()
	where := fmt.Sprintf(msgAndArgs[0].(string), msgAndArgs[1:]...)
	sortSamples(want)
	sortSamples(got)
	if !assert.Equal(t, sampleLabels(want), sampleLabels(got), "%s: series\nexpected:\n%s\ngot:\n%s", where, fmtSamples(want), fmtSamples(got)) {
		return
	}
	for i := range want {
		assert.True(t, almostEqual(want[i].v, got[i].v), "%s: %s: expected %v, got %v", where, want[i].lset, want[i].v, got[i].v)
	}
}

func sortSamples(s []goldenSample) {
	sort.Slice(s, func(i, j int) bool { return labels.Compare(s[i].lset, s[j].lset) < 0 })
}

func sampleLabels(s []goldenSample) []string {
	out := make([]string, len(s))
	for i, smp := range s {
		out[i] = smp.lset.String()
		if smp.scalar {
			out[i] = "scalar"
		}
	}
	return out
}

func fmtSamples(s []goldenSample) string {
	if len(s) == 0 {
		return "  (empty)"
	}
	var b strings.Builder
	for _, smp := range s {
		fmt.Fprintf(&b, "  %s %v\n", smp.lset, smp.v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// TestGoldenValueNotation checks the reader's expansion of series values
// against Prometheus' own series-description parser.
func TestGoldenValueNotation(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		want         int // slots
	}{
		{"plain values", "0 1 2 3 2 3 4", 7},
		{"a+bxN is N+1 values", "0+10x10", 11},
		{"two expansions in a row", "0+18x5 0+18x5", 12},
		{"a-bxN counts down", "10-2x3", 4},
		{"axN repeats a", "5x3", 4},
		{"_ is one missing sample", "1 _ 2", 3},
		{"_xN is N missing samples", "_x3 1x2", 6},
		{"stale marker", "0 1 stale 2", 4},
		{"fractional step", "0.1+0.1x9", 10},
		{"exponent sign is not a step", "1e-3+1e-3x2", 3},
		{"negative start", "-5+1x3", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expandValues(tc.values)
			require.NoError(t, err)
			require.Len(t, got, tc.want)
			_, ref, err := parser.ParseSeriesDesc("m " + tc.values)
			require.NoError(t, err)
			require.Len(t, ref, len(got), "Prometheus' parser disagrees on the slot count")
			for i := range ref {
				assert.Equal(t, ref[i].Omitted, got[i].omitted, "slot %d omitted", i)
				if !ref[i].Omitted {
					assert.Equal(t, math.Float64bits(ref[i].Value), math.Float64bits(got[i].v), "slot %d: %v vs %v", i, ref[i].Value, got[i].v)
				}
			}
		})
	}
}

func TestGoldenScriptErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown command", "load 5m\n  m 1\neval_ordered instant at 0 m\n", `x.test:3: unsupported command "eval_ordered"`},
		{"range eval", "eval range from 0 to 1m step 10s m\n", `x.test:1: only "eval instant at <offset> <expr>" is supported`},
		{"bad value", "load 5m\n  m 1 two\n", `x.test:2: series m: "two" is not a number`},
		{"bad interval", "load soon\n", `x.test:1: load interval "soon"`},
		{"runaway expansion", "load 1s\n  m 0+1x99999999\n", "more than 65536 repetitions"},
		{"stray indented line", "  m 1\n", `x.test:1: indented line "m 1" outside a load or eval block`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGoldenScript("x.test", []byte(tc.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func FuzzGoldenScript(f *testing.F) {
	f.Add([]byte("load 5m\n\tm{a=\"b\"}\t0+10x10 _x2 stale\n\neval instant at 50m increase(m[50m])\n\t{a=\"b\"} 100\n\nclear\n"))
	f.Add([]byte("eval instant at 1m vector(1)\n  {} 1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		gs, err := parseGoldenScript("fuzz.test", src)
		if err != nil {
			return
		}
		for _, c := range gs.cmds {
			for _, s := range c.series {
				if len(s.values) > maxExpansion {
					t.Fatalf("%d values from %q", len(s.values), src)
				}
			}
		}
	})
}

// TestIncreaseVersusRawDelta is why meshdrill counts events from raw counter
// reads and not from increase(): on the store's own engine, increase() over
// a drill's first-ever series says 0 or nothing, and over an integer counter
// it extrapolates to fractions, while the delta of two raw instant reads
// (absent = 0, a drop = a reset, count what follows it) is the exact integer.
// Each case's name states the lesson (TELEMETRY-FACTS 8, 9, 11).
func TestIncreaseVersusRawDelta(t *testing.T) {
	const empty = -1 // wantIncrease: the query returns no series at all
	for _, tc := range []struct {
		name         string
		load         string // a golden-script load block for the counter c
		increase     string
		at           time.Duration
		wantIncrease float64
		t0, t1       time.Duration // the two raw reads: baseline and after
		wantDelta    float64
		absentAt     []time.Duration // instants at which c reads as absent
	}{
		{
			name:     "first denial: the series is born at 1, increase() says 0, raw reads say 1",
			load:     "load 15s\n  c _x4 1x8\n", // absent until 60s, then 1
			increase: "increase(c[2m])", at: 3 * time.Minute, wantIncrease: 0,
			t0: 45 * time.Second, t1: 3 * time.Minute, wantDelta: 1,
			absentAt: []time.Duration{45 * time.Second},
		},
		{
			name:     "first denial read one scrape later: increase() has one sample and says nothing, raw reads say 1",
			load:     "load 15s\n  c _x4 1x8\n",
			increase: "increase(c[15s])", at: time.Minute, wantIncrease: empty,
			t0: 45 * time.Second, t1: time.Minute, wantDelta: 1,
		},
		{
			name:     "first denial then one more: increase() sees only the second and extrapolates it to 1.33, raw reads say 2",
			load:     "load 15s\n  c _x4 1 1 2 2 2\n",
			increase: "increase(c[1m])", at: 2 * time.Minute, wantIncrease: 4.0 / 3,
			t0: 45 * time.Second, t1: 2 * time.Minute, wantDelta: 2,
		},
		{
			name:     "5 requests on an integer counter read between scrapes: increase() says 5.28, raw reads say 5",
			load:     "load 1s\n  c 0x9 1 2 3 4 5 5x5\n", // one request a second from 10s
			increase: "increase(c[10s])", at: 14500 * time.Millisecond, wantIncrease: 5 * 9.5 / 9,
			t0: 9 * time.Second, t1: 14500 * time.Millisecond, wantDelta: 5,
		},
		{
			name:     "corpus /dings, a counter already at 10: increase() extrapolates 100 to 105, raw reads say 100",
			load:     "load 5m\n  c 10+10x10\n",
			increase: "increase(c[100m])", at: 50 * time.Minute, wantIncrease: 105,
			t0: 0, t1: 50 * time.Minute, wantDelta: 100,
		},
		{
			name:     "sidecar restart between the reads: raw reads count what follows the reset (2), increase() extrapolates it to 2.29",
			load:     "load 15s\n  c 7x4 2x3\n", // 7 until 60s, restart, 2 from 75s
			increase: "increase(c[2m])", at: 2 * time.Minute, wantIncrease: 2 * 120.0 / 105,
			t0: time.Minute, t1: 2 * time.Minute, wantDelta: 2,
		},
		{
			name:     "after a stale marker the series reads as absent, and reborn lower it reads as a reset: raw reads say 1",
			load:     "load 15s\n  c 3x2 stale _x2 1x3\n", // 3 until 30s, stale at 45s, back at 1 from 90s
			increase: "increase(c[2m])", at: 135 * time.Second, wantIncrease: 120.0 / 105,
			t0: 30 * time.Second, t1: 135 * time.Second, wantDelta: 1,
			absentAt: []time.Duration{45 * time.Second, 60 * time.Second, 75 * time.Second},
		},
		{
			name:     "corpus /bar, a reset hidden between two far-apart reads: they see 72 of 162, so meshdrill reads its baseline right before the injection",
			load:     "load 5m\n  c 0+18x5 0+18x5\n",
			increase: "increase(c[100m])", at: 50 * time.Minute, wantIncrease: 162,
			t0: 0, t1: 50 * time.Minute, wantDelta: 72,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, err := parseGoldenScript("case", []byte(tc.load))
			require.NoError(t, err)
			require.Len(t, script.cmds, 1)
			env := newGoldenEnv(t)
			env.load(script.cmds[0])

			got, err := env.instant(tc.increase, goldenEpoch.Add(tc.at))
			require.NoError(t, err)
			if tc.wantIncrease == empty {
				assert.Empty(t, got, "%s at %s", tc.increase, tc.at)
			} else if assert.Len(t, got, 1, "%s at %s", tc.increase, tc.at) {
				assert.True(t, almostEqual(tc.wantIncrease, got[0].v), "%s at %s: expected %v, got %v", tc.increase, tc.at, tc.wantIncrease, got[0].v)
			}

			before, okBefore := env.raw(t, "c", tc.t0)
			after, okAfter := env.raw(t, "c", tc.t1)
			d := rawDelta(before, okBefore, after, okAfter)
			assert.Equal(t, tc.wantDelta, d, "raw reads: c at %s = %v (present %v), at %s = %v (present %v)", tc.t0, before, okBefore, tc.t1, after, okAfter)
			assert.Equal(t, math.Trunc(d), d, "a raw delta of an integer counter is an integer")

			for _, at := range tc.absentAt {
				_, ok := env.raw(t, "c", at)
				assert.False(t, ok, "c at %s: an instant query must return nothing", at)
			}
		})
	}
}

// raw reads a selector's single series at an instant; false when absent.
func (g *goldenEnv) raw(t *testing.T, selector string, at time.Duration) (float64, bool) {
	t.Helper()
	got, err := g.instant(selector, goldenEpoch.Add(at))
	require.NoError(t, err)
	require.LessOrEqual(t, len(got), 1, "%s at %s matches several series", selector, at)
	if len(got) == 0 {
		return 0, false
	}
	return got[0].v, true
}

// rawDelta is the evaluator's rule for one series: an absent baseline is 0,
// a value below the baseline is a counter reset (everything after it is
// new), and an absent after-read has nothing to count yet.
func rawDelta(before float64, okBefore bool, after float64, okAfter bool) float64 {
	switch {
	case !okAfter:
		return 0
	case !okBefore:
		return after
	case after < before:
		return after
	}
	return after - before
}
