package promstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// A reader for the subset of Prometheus' PromQL test-script format that the
// corpus uses (promql/promqltest/testdata/*.test): "load <interval>" with
// indented series lines, "eval instant at <offset> <expr>" with indented
// expected samples, "clear", and # comments. Prometheus' own promqltest
// package is not imported: it drags in cloud SDKs (internal/archtest guards
// the library packages against it). Anything else in a script is an error,
// so a corpus update with a new command is noticed rather than skipped.

// goldenScript is a parsed test script.
type goldenScript struct {
	name string
	cmds []goldenCmd
}

// goldenCmd is one command of a script; op says which fields are set.
type goldenCmd struct {
	op   string // "load", "eval", "clear"
	line int    // 1-based line of the command in the script

	// load
	interval time.Duration
	series   []goldenSeries

	// eval instant
	expr string
	at   time.Duration // offset from the Unix epoch, as promqltest's start time
	want []goldenSample
}

// goldenSeries is one series of a load block, sample i at i × interval.
type goldenSeries struct {
	lset   labels.Labels
	values []goldenValue
}

// goldenValue is one slot of a series: a value, a staleness marker (value is
// Prometheus' StaleNaN) or an omitted sample ("_").
type goldenValue struct {
	v       float64
	omitted bool
}

// goldenSample is one expected result line. A scalar result has no labels.
type goldenSample struct {
	lset   labels.Labels
	v      float64
	scalar bool
}

// maxExpansion bounds "axN" so a typo cannot allocate the machine away.
const maxExpansion = 1 << 16

// parseGoldenScript reads a whole script; errors carry name:line.
func parseGoldenScript(name string, src []byte) (goldenScript, error) {
	gs := goldenScript{name: name}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return gs, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	fail := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, i+1, fmt.Sprintf(format, args...)))
	}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if isIndented(lines[i]) {
			fail(i, "indented line %q outside a load or eval block", l)
			continue
		}
		// body collects the indented lines that follow a command.
		body := func() []int {
			var idx []int
			for i+1 < len(lines) && isIndented(lines[i+1]) {
				i++
				if t := strings.TrimSpace(lines[i]); t != "" && !strings.HasPrefix(t, "#") {
					idx = append(idx, i)
				}
			}
			return idx
		}
		fields := strings.Fields(l)
		switch fields[0] {
		case "clear":
			if len(fields) != 1 {
				fail(i, "clear takes no arguments")
			}
			gs.cmds = append(gs.cmds, goldenCmd{op: "clear", line: i + 1})
		case "load":
			cmd := goldenCmd{op: "load", line: i + 1}
			if len(fields) != 2 {
				fail(i, "want %q, got %q", "load <interval>", l)
			} else if d, err := model.ParseDuration(fields[1]); err != nil || d <= 0 {
				fail(i, "load interval %q: must be a positive duration", fields[1])
			} else {
				cmd.interval = time.Duration(d)
			}
			for _, j := range body() {
				s, err := parseGoldenSeries(strings.TrimSpace(lines[j]))
				if err != nil {
					fail(j, "%v", err)
					continue
				}
				cmd.series = append(cmd.series, s)
			}
			gs.cmds = append(gs.cmds, cmd)
		case "eval":
			cmd := goldenCmd{op: "eval", line: i + 1}
			// eval instant at <offset> <expr>
			if len(fields) < 5 || fields[1] != "instant" || fields[2] != "at" {
				fail(i, "only %q is supported, got %q", "eval instant at <offset> <expr>", l)
				body()
				continue
			}
			d, err := model.ParseDuration(fields[3])
			if err != nil {
				fail(i, "eval time %q: %v", fields[3], err)
			}
			cmd.at = time.Duration(d)
			// The expression is the rest of the line, spacing kept.
			rest := strings.TrimSpace(l[len("eval"):])
			for _, f := range fields[1:4] {
				rest = strings.TrimSpace(strings.TrimPrefix(rest, f))
			}
			cmd.expr = rest
			for _, j := range body() {
				smp, err := parseGoldenSample(strings.TrimSpace(lines[j]))
				if err != nil {
					fail(j, "%v", err)
					continue
				}
				cmd.want = append(cmd.want, smp)
			}
			gs.cmds = append(gs.cmds, cmd)
		default:
			fail(i, "unsupported command %q", fields[0])
			body()
		}
	}
	return gs, errors.Join(errs...)
}

func isIndented(line string) bool {
	return strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")
}

// splitMetric cuts a line into its series selector ("name", "name{...}" or
// "{...}") and the rest. Braces inside quoted label values do not count.
func splitMetric(line string) (metric, rest string, err error) {
	inBraces, inQuote, escaped := false, false, false
	for i, r := range line {
		switch {
		case escaped:
			escaped = false
		case inQuote && r == '\\':
			escaped = true
		case r == '"' && inBraces:
			inQuote = !inQuote
		case inQuote:
		case r == '{':
			inBraces = true
		case r == '}':
			return line[:i+1], strings.TrimSpace(line[i+1:]), nil
		case !inBraces && (r == ' ' || r == '\t'):
			return line[:i], strings.TrimSpace(line[i:]), nil
		}
	}
	if inBraces {
		return "", "", fmt.Errorf("unclosed label set in %q", line)
	}
	return line, "", nil
}

func parseGoldenSeries(line string) (goldenSeries, error) {
	metric, rest, err := splitMetric(line)
	if err != nil {
		return goldenSeries{}, err
	}
	lset, err := parser.ParseMetric(metric)
	if err != nil {
		return goldenSeries{}, fmt.Errorf("series %q: %w", metric, err)
	}
	vals, err := expandValues(rest)
	if err != nil {
		return goldenSeries{}, fmt.Errorf("series %s: %w", metric, err)
	}
	return goldenSeries{lset: lset, values: vals}, nil
}

// parseGoldenSample reads an expected result line: "<selector> <value>" for
// a vector sample, or a lone number for a scalar result.
func parseGoldenSample(line string) (goldenSample, error) {
	if v, err := parseGoldenFloat(line); err == nil {
		return goldenSample{v: v, scalar: true}, nil
	}
	metric, rest, err := splitMetric(line)
	if err != nil {
		return goldenSample{}, err
	}
	lset, err := parser.ParseMetric(metric)
	if err != nil {
		return goldenSample{}, fmt.Errorf("expected sample %q: %w", metric, err)
	}
	if strings.ContainsAny(rest, " \t") {
		return goldenSample{}, fmt.Errorf("expected sample %s: want one value, got %q", metric, rest)
	}
	v, err := parseGoldenFloat(rest)
	if err != nil {
		return goldenSample{}, fmt.Errorf("expected sample %s: %w", metric, err)
	}
	return goldenSample{lset: lset, v: v}, nil
}

// expandValues expands a series' value notation: "1 2 3", "a+bxN" and
// "a-bxN" (N+1 values a, a±b, …), "axN" (a, N+1 times), "_" (no sample),
// "_xN" (N slots without a sample) and "stale" (a staleness marker).
func expandValues(s string) ([]goldenValue, error) {
	var out []goldenValue
	for _, tok := range strings.Fields(s) {
		vals, err := expandToken(tok)
		if err != nil {
			return nil, err
		}
		if len(out)+len(vals) > maxExpansion {
			return nil, fmt.Errorf("more than %d values", maxExpansion)
		}
		out = append(out, vals...)
	}
	return out, nil
}

func expandToken(tok string) ([]goldenValue, error) {
	switch tok {
	case "_":
		return []goldenValue{{omitted: true}}, nil
	case "stale":
		return []goldenValue{{v: staleNaN}}, nil
	}
	head, times, hasTimes := strings.Cut(tok, "x")
	if !hasTimes {
		v, err := parseGoldenFloat(tok)
		if err != nil {
			return nil, err
		}
		return []goldenValue{{v: v}}, nil
	}
	n, err := strconv.ParseUint(times, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("value %q: repetition %q is not a count", tok, times)
	}
	if n > maxExpansion {
		return nil, fmt.Errorf("value %q: more than %d repetitions", tok, maxExpansion)
	}
	if head == "_" {
		// "_xN" is N empty slots, unlike "axN" which is N+1 values.
		out := make([]goldenValue, n)
		for i := range out {
			out[i].omitted = true
		}
		return out, nil
	}
	start, step, err := splitStep(head)
	if err != nil {
		return nil, fmt.Errorf("value %q: %w", tok, err)
	}
	out := make([]goldenValue, 0, n+1)
	// Accumulate as Prometheus does (v += step), so float results match
	// its golden values bit for bit rather than start + i×step.
	v := start
	for i := uint64(0); i <= n; i++ {
		out = append(out, goldenValue{v: v})
		v += step
	}
	return out, nil
}

// splitStep reads "a", "a+b" or "a-b". A sign that starts a number or
// follows an exponent's e belongs to that number.
func splitStep(s string) (start, step float64, err error) {
	for i := 1; i < len(s); i++ {
		if (s[i] == '+' || s[i] == '-') && s[i-1] != 'e' && s[i-1] != 'E' {
			if start, err = parseGoldenFloat(s[:i]); err != nil {
				return 0, 0, err
			}
			if step, err = parseGoldenFloat(s[i+1:]); err != nil {
				return 0, 0, err
			}
			if s[i] == '-' {
				step = -step
			}
			return start, step, nil
		}
	}
	start, err = parseGoldenFloat(s)
	return start, 0, err
}

// parseGoldenFloat reads a number as PromQL spells it (Inf, NaN included).
func parseGoldenFloat(s string) (float64, error) {
	switch strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "+"), "-")) {
	case "inf":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case "nan":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// almostEqual is Prometheus' test tolerance: a relative error below 1e-6,
// staleness markers equal only to each other, NaN equal to NaN.
func almostEqual(a, b float64) bool {
	const epsilon = 1e-6
	if isStale(a) || isStale(b) {
		return isStale(a) && isStale(b)
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	// Near zero a relative error means nothing: compare against the
	// smallest normal float instead.
	smallest := math.SmallestNonzeroFloat64 * (1 << 52)
	diff, sum := math.Abs(a-b), math.Abs(a)+math.Abs(b)
	if a == 0 || b == 0 || sum < smallest {
		return diff < epsilon*smallest
	}
	return diff/math.Min(sum, math.MaxFloat64) < epsilon
}

func isStale(v float64) bool { return math.Float64bits(v) == math.Float64bits(staleNaN) }
