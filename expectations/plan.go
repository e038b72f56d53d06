package expectations

import (
	"fmt"
	"regexp"
)

// PlannedCheck is one expectation as the dialect expanded it, before any
// traffic: what will be looked for and how.
type PlannedCheck struct {
	Signal   string
	Name     string
	Expected string
	Query    string
	// Selectors are the raw PromQL series selectors a metrics check reads.
	Selectors []string
	Reason    string // blind spots only
	Fix       string // blind spots only
	Blind     bool
}

// PlannedDrill is a drill's traffic and evidence plan, for --dry-run.
type PlannedDrill struct {
	Drill  Drill
	Target Target
	Checks []PlannedCheck
}

// PlanSuite expands every drill through the dialect without contacting
// anything.
func PlanSuite(s Suite) []PlannedDrill {
	s = s.WithDefaults()
	out := make([]PlannedDrill, 0, len(s.Drills))
	for _, d := range s.Drills {
		t := s.Targets[d.Target]
		pd := PlannedDrill{Drill: d, Target: t}
		checks, blind := planDrill(s, d)
		for _, c := range checks {
			pc := PlannedCheck{Signal: c.signal(), Name: c.title(), Expected: c.expected(d.Count), Query: c.query()}
			if m, ok := c.(*metricDelta); ok {
				pc.Selectors = append(pc.Selectors, m.selector)
				if m.minus != "" {
					pc.Selectors = append(pc.Selectors, m.minus)
				}
			}
			pd.Checks = append(pd.Checks, pc)
		}
		for _, b := range blind {
			pd.Checks = append(pd.Checks, PlannedCheck{Signal: b.sig, Name: b.name, Reason: b.reason, Fix: b.fix, Blind: true})
		}
		out = append(out, pd)
	}
	return out
}

// Select keeps the drills whose name matches the regular expression.
func (s Suite) Select(expr string) (Suite, error) {
	if expr == "" {
		return s, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return s, fmt.Errorf("--run: bad regular expression %q: %w", expr, err)
	}
	var kept []Drill
	for _, d := range s.Drills {
		if re.MatchString(d.Name) {
			kept = append(kept, d)
		}
	}
	if len(kept) == 0 {
		return s, fmt.Errorf("--run %q matches no drill", expr)
	}
	s.Drills = kept
	return s, nil
}
