// Package expectations holds meshdrill's drill model and its evaluator: what a
// suite asks for, how the dialect turns a drill kind into evidence to look
// for, and how the evidence becomes a verdict.
package expectations

import "fmt"

// Verdict is the outcome of one expectation or one drill. Verdicts are never
// mixed: a drill reports the worst of its expectations.
type Verdict int

// The verdicts, from least to most severe. NOT_ENFORCED outranks FAIL, which
// outranks ERROR, which outranks BLIND_SPOT (DESIGN.md, "Verdicts").
const (
	Pass Verdict = iota
	BlindSpot
	Error
	Fail
	NotEnforced
)

var verdictNames = [...]string{"PASS", "BLIND_SPOT", "ERROR", "FAIL", "NOT_ENFORCED"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// MarshalText renders the verdict by name in JSON and YAML.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// ParseVerdict is the inverse of String.
func ParseVerdict(s string) (Verdict, error) {
	for i, n := range verdictNames {
		if n == s {
			return Verdict(i), nil
		}
	}
	return Pass, fmt.Errorf("unknown verdict %q", s)
}

// Worst returns the most severe of the verdicts; Pass when there are none.
func Worst(vs ...Verdict) Verdict {
	w := Pass
	for _, v := range vs {
		if v > w {
			w = v
		}
	}
	return w
}

// Exit codes of a run (DESIGN.md): 2 is reserved for a bad suite or usage,
// which is decided before any traffic is sent.
const (
	ExitOK       = 0
	ExitFindings = 1
	ExitUsage    = 2
	ExitError    = 3
)

// ExitCode maps drill verdicts to the process exit code. With strict, a
// BLIND_SPOT counts as a finding.
func ExitCode(strict bool, vs ...Verdict) int {
	var findings, errs bool
	for _, v := range vs {
		switch v {
		case Fail, NotEnforced:
			findings = true
		case BlindSpot:
			if strict {
				findings = true
			}
		case Error:
			errs = true
		}
	}
	switch {
	case findings:
		return ExitFindings
	case errs:
		return ExitError
	}
	return ExitOK
}
