package expectations

import (
	"fmt"
	"strings"
	"time"
)

// Suite is a set of drills against allowlisted targets, with the mesh
// declaration the dialect needs to know its blind spots.
type Suite struct {
	Name       string
	Mesh       Mesh
	Backends   Backends
	Targets    map[string]Target
	Identities Identities
	Defaults   Defaults
	Drills     []Drill

	// at maps field paths to "file:line:col", for errors found after
	// loading (a CA file that does not parse, a secret that is not set).
	at map[string]string
}

// At prefixes a field path with where it is written in the suite file, when
// known: "suite.yaml:12:5: identities.ca.key_file".
func (s Suite) At(path string) string {
	for p := path; p != ""; {
		if w, ok := s.at[p]; ok {
			return w + ": " + path
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return path
}

// Mesh declares which mesh the suite talks to and which opt-in telemetry it
// has turned on. Blind spots are derived from this declaration, never from
// empty data.
type Mesh struct {
	Dialect     string // "istio"
	TrustDomain string
	// ListenerSSLStats: the proxy stats matcher includes the listener SSL
	// counters (listener.*.ssl.*), exported as envoy_listener_ssl_*.
	ListenerSSLStats bool
	// ListenerFilterChainStats: no_filter_chain_match is exported.
	ListenerFilterChainStats bool
	// ListenerNRLog: the listener access log keeps NR lines (Istio's default).
	ListenerNRLog bool
	// Tracing: sidecars report spans for sampled requests.
	Tracing bool
}

// Target is an allowlisted workload. Only a target's Address is ever
// contacted.
type Target struct {
	Name            string
	Address         string // host:port of the workload's mTLS inbound listener
	ServerName      string
	SPIFFEID        string // the workload's own identity
	Workload        string // destination_workload
	Namespace       string // destination_workload_namespace
	ListenerAddress string // Envoy's listener label, e.g. 0.0.0.0_15006
}

// Defaults apply to every drill that does not say otherwise.
type Defaults struct {
	Count        int
	Rate         float64 // requests per second per target
	Deadline     time.Duration
	PollInterval time.Duration
	Concurrency  int // drills run at once
}

// Drill is one kind of known-bad traffic and the evidence it must leave.
type Drill struct {
	Name     string
	Kind     string
	Target   string
	Count    int
	Identity string // SPIFFE ID the injector presents (forged from the CA)
	// IdentityFrom takes the certificate from identities instead:
	// "files.<name>" or "workload_api". The SPIFFE ID is then read from the
	// certificate (see wire.ResolveIdentities) before the drill is planned.
	IdentityFrom string
	Method       string
	Path         string        // "" = the kind's own (latency: /delay/<ms>, error-burst: /status/<code>)
	Delay        time.Duration // latency drills
	Status       int           // error-burst drills
	Deadline     time.Duration
	// PollInterval caps the backoff between polls (defaults.poll_interval).
	PollInterval time.Duration
	// ExpectClient overrides the kind's expected client outcome (e.g.
	// "http 400" for an edge that answers plaintext with a 400).
	ExpectClient string
	// Expect lists the evidence; empty means the dialect's defaults.
	Expect []Expect
}

// WithDefaults returns the suite with every unset default filled in.
func (s Suite) WithDefaults() Suite {
	if s.Mesh.Dialect == "" {
		s.Mesh.Dialect = "istio"
	}
	if s.Mesh.TrustDomain == "" {
		s.Mesh.TrustDomain = "cluster.local"
	}
	d := &s.Defaults
	if d.Count == 0 {
		d.Count = 5
	}
	if d.Rate == 0 {
		d.Rate = 20
	}
	if d.Deadline == 0 {
		d.Deadline = 15 * time.Second
	}
	if d.PollInterval == 0 {
		d.PollInterval = time.Second
	}
	if d.Concurrency == 0 {
		d.Concurrency = 4
	}
	drills := make([]Drill, len(s.Drills))
	for i, dr := range s.Drills {
		if dr.Count == 0 {
			dr.Count = d.Count
		}
		if dr.Deadline == 0 {
			dr.Deadline = d.Deadline
		}
		if dr.PollInterval == 0 {
			dr.PollInterval = d.PollInterval
		}
		if dr.Method == "" {
			dr.Method = "GET"
		}
		drills[i] = dr
	}
	s.Drills = drills
	targets := make(map[string]Target, len(s.Targets))
	for name, t := range s.Targets {
		t.Name = name
		if t.ListenerAddress == "" {
			t.ListenerAddress = "0.0.0.0_15006"
		}
		targets[name] = t
	}
	s.Targets = targets
	return s
}

// Validate checks what the evaluator relies on. Every problem is reported.
func (s Suite) Validate() error {
	var errs []error
	if s.Mesh.Dialect != "istio" && s.Mesh.Dialect != "generic" {
		errs = append(errs, fmt.Errorf("mesh.dialect: unsupported dialect %q (supported: istio, generic)", s.Mesh.Dialect))
	}
	seen := map[string]bool{}
	for i, d := range s.Drills {
		where := fmt.Sprintf("drills[%d]", i)
		if d.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", where))
		} else if seen[d.Name] {
			errs = append(errs, fmt.Errorf("%s.name: duplicate drill name %q", where, d.Name))
		}
		seen[d.Name] = true
		if _, ok := istioKinds[d.Kind]; !ok {
			errs = append(errs, fmt.Errorf("%s.kind: unknown drill kind %q (known: %s)", where, d.Kind, kindList()))
		}
		if _, ok := s.Targets[d.Target]; !ok {
			errs = append(errs, fmt.Errorf("%s.target: %q is not a listed target", where, d.Target))
		}
		if d.Count < 1 {
			errs = append(errs, fmt.Errorf("%s.count: must be at least 1, got %d", where, d.Count))
		}
		if d.Kind == "latency" && d.Delay <= 0 {
			errs = append(errs, fmt.Errorf("%s.delay: a latency drill needs a delay > 0", where))
		}
	}
	return joinErrors(errs)
}

type multiError []error

func (m multiError) Error() string {
	s := ""
	for i, e := range m {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}

func (m multiError) Unwrap() []error { return m }

func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return multiError(errs)
}
