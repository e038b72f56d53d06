package lab

import (
	"fmt"
	"sort"
	"strings"
)

// Fault names accepted in Options.Breaks.
const (
	FaultNoDenialMetrics = "no-denial-metrics"
	FaultNoAccessLog     = "no-access-log"
	FaultUnsampledTraces = "unsampled-traces"
	FaultNoEnforcement   = "no-enforcement"
)

var faultDescriptions = map[string]string{
	FaultNoDenialMetrics: "the stats filter drops requests the RBAC filter denied: no istio_* series move for them",
	FaultNoAccessLog:     "the sidecars write no access-log lines at all (HTTP and NR); the files stay empty",
	FaultUnsampledTraces: "the sidecars ignore the incoming sampled flag and record no spans",
	FaultNoEnforcement:   "the AuthorizationPolicy is not applied: every authenticated request reaches the app",
}

// Faults returns the names of the faults Options.Breaks accepts, each with a
// one-line description. A fault acts in the emitter: the telemetry (or the
// enforcement) it names is really not produced.
func Faults() map[string]string {
	out := make(map[string]string, len(faultDescriptions))
	for k, v := range faultDescriptions {
		out[k] = v
	}
	return out
}

// faultSet is the parsed form of Options.Breaks.
type faultSet struct {
	noDenialMetrics bool
	noAccessLog     bool
	unsampledTraces bool
	noEnforcement   bool
}

func parseFaults(names []string) (faultSet, error) {
	var fs faultSet
	var unknown []string
	for _, n := range names {
		switch strings.TrimSpace(n) {
		case FaultNoDenialMetrics:
			fs.noDenialMetrics = true
		case FaultNoAccessLog:
			fs.noAccessLog = true
		case FaultUnsampledTraces:
			fs.unsampledTraces = true
		case FaultNoEnforcement:
			fs.noEnforcement = true
		default:
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		valid := make([]string, 0, len(faultDescriptions))
		for k := range faultDescriptions {
			valid = append(valid, k)
		}
		sort.Strings(valid)
		return fs, fmt.Errorf("unknown fault %s: valid faults are %s", strings.Join(unknown, ", "), strings.Join(valid, ", "))
	}
	return fs, nil
}
