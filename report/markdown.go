package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/expectations"
)

// verdictIcon makes the summary table scannable; the name always follows,
// so nothing depends on the emoji rendering.
var verdictIcon = map[expectations.Verdict]string{
	expectations.Pass:        "✅",
	expectations.BlindSpot:   "🙈",
	expectations.Error:       "⚠️",
	expectations.Fail:        "❌",
	expectations.NotEnforced: "🚨",
}

func badge(v expectations.Verdict) string {
	if icon, ok := verdictIcon[v]; ok {
		return icon + " " + v.String()
	}
	return v.String()
}

// Markdown writes the report as GitHub-flavoured Markdown for a CI step
// summary ($GITHUB_STEP_SUMMARY): a headline, a table drill × signal with the
// worst verdict per cell, then the evidence for everything that did not pass.
func Markdown(w io.Writer, rep expectations.Report) error {
	w = SafeWriter(w) // raw log lines and error bodies land in code blocks
	ew := &errWriter{w: w}
	worst := expectations.Worst(rep.Verdicts()...)
	fmt.Fprintf(ew, "## meshdrill: %s — %s\n\n", mdCode(rep.Suite), badge(worst))

	counts := map[expectations.Verdict]int{}
	for _, d := range rep.Drills {
		counts[d.Verdict]++
	}
	var parts []string
	for v := expectations.NotEnforced; v >= expectations.Pass; v-- {
		if counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[v], v))
		}
	}
	fmt.Fprintf(ew, "Run %s: %d drills in %s", mdCode(rep.RunID), len(rep.Drills), rep.Finished.Sub(rep.Started).Round(100*time.Millisecond))
	if len(parts) > 0 {
		fmt.Fprintf(ew, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprint(ew, ".\n\n")
	if len(rep.Drills) == 0 {
		fmt.Fprint(ew, "No drills ran.\n")
		return ew.err
	}

	signals := []string{expectations.SignalClient, expectations.SignalMetrics, expectations.SignalLogs, expectations.SignalTraces}
	fmt.Fprint(ew, "| drill | kind | target | client | metrics | logs | traces | verdict |\n")
	fmt.Fprint(ew, "|---|---|---|---|---|---|---|---|\n")
	for _, d := range rep.Drills {
		per := map[string][]expectations.Verdict{}
		for _, r := range Ordered(d) {
			per[r.Signal] = append(per[r.Signal], r.Verdict)
		}
		cells := []string{mdText(d.Name), mdText(d.Kind), mdText(d.Target)}
		for _, sig := range signals {
			if vs := per[sig]; len(vs) > 0 {
				cells = append(cells, badge(expectations.Worst(vs...)))
			} else {
				cells = append(cells, "–")
			}
		}
		cells = append(cells, "**"+badge(d.Verdict)+"**")
		fmt.Fprintf(ew, "| %s |\n", strings.Join(cells, " | "))
	}

	var failing []expectations.DrillResult
	for _, d := range rep.Drills {
		if d.Verdict != expectations.Pass {
			failing = append(failing, d)
		}
	}
	if len(failing) == 0 {
		fmt.Fprint(ew, "\nEvery drill's evidence was found.\n")
		return ew.err
	}
	fmt.Fprint(ew, "\n### Details\n")
	for _, d := range failing {
		fmt.Fprintf(ew, "\n#### %s %s (%s → %s)\n", badge(d.Verdict), mdCode(d.Name), mdText(d.Kind), mdText(d.Target))
		passed := 0
		for _, r := range Ordered(d) {
			if r.Verdict == expectations.Pass {
				passed++
				continue
			}
			markdownResult(ew, r)
		}
		if passed > 0 {
			fmt.Fprintf(ew, "\n%d other %s passed.\n", passed, plural(passed, "expectation", "expectations"))
		}
	}
	return ew.err
}

func markdownResult(w io.Writer, r expectations.Result) {
	fmt.Fprintf(w, "\n**%s** · %s: **%s**\n", mdText(r.Signal), mdText(r.Name), badge(r.Verdict))
	if r.Verdict == expectations.BlindSpot {
		fmt.Fprintf(w, "- why: %s\n", orNone(mdText(r.Reason)))
		fmt.Fprintf(w, "- fix: %s\n", orNone(mdText(r.Fix)))
		return
	}
	fmt.Fprintf(w, "- expected: %s\n", orNone(mdText(r.Expected)))
	fmt.Fprintf(w, "- got: %s\n", orNone(mdText(r.Got)))
	if r.Query != "" {
		fmt.Fprintf(w, "- query: %s", mdCode(r.Query))
		if r.Window != "" {
			fmt.Fprintf(w, " over %s", mdText(r.Window))
		}
		fmt.Fprint(w, "\n")
	}
	if r.Raw != "" {
		fence := strings.Repeat("`", max(3, longestRun(r.Raw, '`')+1))
		fmt.Fprintf(w, "\n<details><summary>raw answer</summary>\n\n%s\n%s\n%s\n\n</details>\n", fence, strings.TrimRight(r.Raw, "\n"), fence)
	}
}

// mdEscaper backslash-escapes the punctuation that Markdown would read as
// formatting, and the HTML that GitHub would otherwise render.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`,
	`<`, `&lt;`, `>`, `&gt;`, `&`, `&amp;`, `|`, `\|`, `#`, `\#`,
	"\r\n", " ", "\n", " ", "\r", " ",
)

// mdText renders user text literally in running Markdown on one line.
func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCode renders s as an inline code span, using a backtick run longer than
// any inside it. It is not for table cells, where a pipe would still split
// the cell.
func mdCode(s string) string {
	if s == "" {
		return "(none)"
	}
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return ticks + s + ticks
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
