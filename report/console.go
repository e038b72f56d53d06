// Package report renders a run's verdicts for people and machines. Every
// renderer writes to an io.Writer it is given.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/meshdrill/meshdrill/expectations"
)

// ConsoleOptions tune the console renderer.
type ConsoleOptions struct {
	Color   bool // ANSI colours (the caller decides: TTY and NO_COLOR)
	Verbose bool // raw answers for every expectation, not only failures
}

var signalOrder = map[string]int{
	expectations.SignalClient:  0,
	expectations.SignalMetrics: 1,
	expectations.SignalLogs:    2,
	expectations.SignalTraces:  3,
	"alerts":                   4,
}

// Ordered returns a drill's results: the client row first, then by signal.
func Ordered(d expectations.DrillResult) []expectations.Result {
	out := append([]expectations.Result{d.Client}, d.Results...)
	sort.SliceStable(out, func(i, j int) bool { return signalOrder[out[i].Signal] < signalOrder[out[j].Signal] })
	return out
}

// Console writes the verdict of every drill and expectation, with expected,
// got and the query, then a summary table drill × signal.
func Console(w io.Writer, rep expectations.Report, o ConsoleOptions) error {
	ew := &errWriter{w: w}
	paint := func(v expectations.Verdict) string { return paintPadded(v, o.Color, 12) }
	noun := "drills"
	if len(rep.Drills) == 1 {
		noun = "drill"
	}
	fmt.Fprintf(ew, "meshdrill: suite %q, run id %s: %d %s in %s\n", clean(rep.Suite), rep.RunID, len(rep.Drills), noun, rep.Finished.Sub(rep.Started).Round(100*time.Millisecond))
	for _, d := range rep.Drills {
		fmt.Fprintf(ew, "\n%s  %s (%s → %s)\n", paint(d.Verdict), clean(d.Name), clean(d.Kind), clean(d.Target))
		for _, r := range Ordered(d) {
			fmt.Fprintf(ew, "  %-12s %-8s %s\n", paint(r.Verdict), r.Signal, clean(r.Name))
			switch r.Verdict {
			case expectations.BlindSpot:
				fmt.Fprintf(ew, "               why: %s\n", clean(r.Reason))
				fmt.Fprintf(ew, "               fix: %s\n", clean(r.Fix))
				continue
			}
			fmt.Fprintf(ew, "               expected %s\n", clean(r.Expected))
			fmt.Fprintf(ew, "               got      %s\n", clean(r.Got))
			if r.Query != "" {
				q := r.Query
				if r.Window != "" {
					q += "   [" + r.Window + "]"
				}
				fmt.Fprintf(ew, "               query    %s\n", clean(q))
			}
			if r.Note != "" {
				fmt.Fprintf(ew, "               note     %s\n", clean(r.Note))
			}
			if r.Raw != "" && (o.Verbose || r.Verdict != expectations.Pass) {
				for _, line := range strings.Split(r.Raw, "\n") {
					fmt.Fprintf(ew, "               | %s\n", clean(line))
				}
			}
		}
	}
	fmt.Fprintln(ew)
	if err := Summary(ew, rep, o); err != nil {
		return err
	}
	return ew.err
}

// Summary writes one line per drill with the worst verdict per signal.
func Summary(w io.Writer, rep expectations.Report, o ConsoleOptions) error {
	signals := []string{expectations.SignalClient, expectations.SignalMetrics, expectations.SignalLogs, expectations.SignalTraces}
	for _, d := range rep.Drills {
		if hasSignal(d, "alerts") {
			signals = append(signals, "alerts")
			break
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "DRILL\tKIND")
	for _, sig := range signals {
		fmt.Fprint(tw, "\t"+strings.ToUpper(sig))
	}
	fmt.Fprintln(tw, "\tVERDICT")
	counts := map[expectations.Verdict]int{}
	for _, d := range rep.Drills {
		per := map[string][]expectations.Verdict{}
		for _, r := range Ordered(d) {
			per[r.Signal] = append(per[r.Signal], r.Verdict)
		}
		counts[d.Verdict]++
		fmt.Fprintf(tw, "%s\t%s", clean(d.Name), clean(d.Kind))
		for _, sig := range signals {
			cell := "-"
			if vs := per[sig]; len(vs) > 0 {
				cell = expectations.Worst(vs...).String()
			}
			fmt.Fprint(tw, "\t"+cell)
		}
		fmt.Fprintf(tw, "\t%s\n", d.Verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var parts []string
	for v := expectations.NotEnforced; v >= expectations.Pass; v-- {
		if counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[v], colour(v, o.Color)))
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", strings.Join(parts, ", "))
	return err
}

func hasSignal(d expectations.DrillResult, sig string) bool {
	for _, r := range d.Results {
		if r.Signal == sig {
			return true
		}
	}
	return false
}

func colour(v expectations.Verdict, on bool) string {
	return paintPadded(v, on, 0)
}

// paintPadded renders a verdict padded to width, colouring only the word so
// alignment survives the escape codes.
func paintPadded(v expectations.Verdict, on bool, width int) string {
	s := v.String()
	pad := strings.Repeat(" ", max(0, width-len(s)))
	if !on {
		return s + pad
	}
	code := map[expectations.Verdict]string{
		expectations.Pass:        "32",
		expectations.BlindSpot:   "36",
		expectations.Error:       "33",
		expectations.Fail:        "31",
		expectations.NotEnforced: "1;31",
	}[v]
	return "\x1b[" + code + "m" + s + "\x1b[0m" + pad
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// clean makes text from outside (a backend's error body, a log line, a
// span attribute) safe to print on a terminal: control characters, escape
// sequences included, are shown escaped instead of acting on the screen.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if unsafeRune(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			b.WriteString("\\ufffd")
		case unsafeRune(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return (r < 0x20 && r != '\t') || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029'
}

// SafeWriter escapes control characters other than newline and tab in what
// is written through it, so text from outside (a backend's error body, a
// log line) cannot move the cursor, retitle the terminal or set the
// clipboard. For output meant for people; never for ANSI meshdrill emits
// itself (colours, live progress).
func SafeWriter(w io.Writer) io.Writer { return safeWriter{w} }

type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	text := string(p)
	clean := true
	for _, r := range text {
		if r != '\n' && unsafeRune(r) {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		for _, r := range text {
			if r != '\n' && unsafeRune(r) {
				fmt.Fprintf(&b, "\\x%02x", r)
			} else {
				b.WriteRune(r)
			}
		}
		text = b.String()
	}
	if _, err := io.WriteString(s.w, text); err != nil {
		return 0, err
	}
	return len(p), nil
}
