package expectations

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// The suite file as written by people (docs/suite.md). It is decoded
// strictly, then converted into the runtime Suite.

type fileSuite struct {
	Name       string                `yaml:"name"`
	Mesh       fileMesh              `yaml:"mesh"`
	Backends   fileBackends          `yaml:"backends"`
	Targets    map[string]fileTarget `yaml:"targets"`
	Identities fileIdentities        `yaml:"identities"`
	Defaults   fileDefaults          `yaml:"defaults"`
	Drills     []fileDrill           `yaml:"drills"`
}

type fileMesh struct {
	Dialect                  string `yaml:"dialect"`
	TrustDomain              string `yaml:"trust_domain"`
	ListenerSSLStats         bool   `yaml:"listener_ssl_stats"`
	ListenerFilterChainStats bool   `yaml:"listener_filter_chain_stats"`
	ListenerLog              string `yaml:"listener_log"`
	Tracing                  bool   `yaml:"tracing"`
}

type fileBackends struct {
	Prometheus   *fileHTTPBackend `yaml:"prometheus"`
	Alertmanager *fileHTTPBackend `yaml:"alertmanager"`
	Logs         *fileLogs        `yaml:"logs"`
	Traces       *fileTraces      `yaml:"traces"`
}

type fileHTTPBackend struct {
	URL     string            `yaml:"url"`
	Timeout Duration          `yaml:"timeout"`
	Auth    *fileAuth         `yaml:"auth"`
	TLS     *fileTLS          `yaml:"tls"`
	Headers map[string]string `yaml:"headers"`
	// Selector narrows a log backend's search: a LogQL stream selector
	// for Loki, a LogsQL filter for VictoriaLogs.
	Selector string `yaml:"selector"`
}

type fileAuth struct {
	BearerTokenEnv    string `yaml:"bearer_token_env"`
	BearerTokenFile   string `yaml:"bearer_token_file"`
	BasicUser         string `yaml:"basic_user"`
	BasicPasswordEnv  string `yaml:"basic_password_env"`
	BasicPasswordFile string `yaml:"basic_password_file"`
}

type fileTLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

type fileLogs struct {
	Files        []string         `yaml:"files"`
	Loki         *fileHTTPBackend `yaml:"loki"`
	VictoriaLogs *fileHTTPBackend `yaml:"victorialogs"`
}

type fileTraces struct {
	OTLPFiles []string         `yaml:"otlp_files"`
	Jaeger    *fileHTTPBackend `yaml:"jaeger"`
	Tempo     *fileHTTPBackend `yaml:"tempo"`
	Zipkin    *fileHTTPBackend `yaml:"zipkin"`
}

type fileTarget struct {
	Address         string `yaml:"address"`
	ServerName      string `yaml:"server_name"`
	SPIFFEID        string `yaml:"spiffe_id"`
	Workload        string `yaml:"workload"`
	Namespace       string `yaml:"namespace"`
	ListenerAddress string `yaml:"listener_address"`
}

type fileIdentities struct {
	CA          *fileCA                `yaml:"ca"`
	Files       map[string]fileKeyPair `yaml:"files"`
	WorkloadAPI *fileWorkloadAPI       `yaml:"workload_api"`
}

type fileKeyPair struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type fileWorkloadAPI struct {
	// Socket is the SPIFFE Workload API address; "" reads SPIFFE_ENDPOINT_SOCKET.
	Socket string `yaml:"socket"`
}

type fileCA struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type fileDefaults struct {
	Count        int      `yaml:"count"`
	Rate         float64  `yaml:"rate"`
	Deadline     Duration `yaml:"deadline"`
	PollInterval Duration `yaml:"poll_interval"`
	Concurrency  int      `yaml:"concurrency"`
}

type fileDrill struct {
	Name         string       `yaml:"name"`
	Target       string       `yaml:"target"`
	Inject       fileInject   `yaml:"inject"`
	ExpectClient string       `yaml:"expect_client"`
	Expect       []fileExpect `yaml:"expect"`
	Deadline     Duration     `yaml:"deadline"`
}

// fileExpect is one entry of a drill's expect list: a bare string is an
// intent ("- denied"), a mapping names one kind of evidence.
type fileExpect struct {
	Intent    string         `yaml:"intent"`
	Name      string         `yaml:"name"`
	Metric    *fileMetric    `yaml:"metric"`
	Logs      *fileLogExpect `yaml:"logs"`
	Trace     *fileTrace     `yaml:"trace"`
	Alert     *fileAlert     `yaml:"alert"`
	Absent    *fileAbsent    `yaml:"absent"`
	BlindSpot *fileBlindSpot `yaml:"blind_spot"`
}

func (fileExpect) scalarField() string { return "intent" }

type fileMetric struct {
	Query     string  `yaml:"query"`
	Want      string  `yaml:"want"`
	Mode      string  `yaml:"mode"`
	Tolerance float64 `yaml:"tolerance"`
}

type fileLogExpect struct {
	By        string `yaml:"by"`
	LineRegex string `yaml:"line_regex"`
	Want      string `yaml:"want"`
}

type fileTrace struct {
	Kind        string            `yaml:"kind"`
	Attributes  map[string]string `yaml:"attributes"`
	MinDuration Duration          `yaml:"min_duration"`
	Error       *bool             `yaml:"error"`
}

type fileAlert struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
	Within Duration          `yaml:"within"`
	Source string            `yaml:"source"`
}

type fileAbsent struct {
	Metric *fileMetric `yaml:"metric"`
	Alert  *fileAlert  `yaml:"alert"`
	Within Duration    `yaml:"within"`
}

type fileBlindSpot struct {
	Signal string `yaml:"signal"`
	Reason string `yaml:"reason"`
	Fix    string `yaml:"fix"`
}

type fileInject struct {
	Kind         string   `yaml:"kind"`
	IdentityFrom string   `yaml:"identity_from"`
	Count        int      `yaml:"count"`
	Identity     string   `yaml:"identity"`
	Method       string   `yaml:"method"`
	Path         string   `yaml:"path"`
	Delay        Duration `yaml:"delay"`
	Status       int      `yaml:"status"`
}

// Backends says where evidence is read from. At most one log backend and
// one trace backend.
type Backends struct {
	Prometheus   *HTTPBackend
	Alertmanager *HTTPBackend
	LogFiles     []string
	Loki         *HTTPBackend
	VictoriaLogs *HTTPBackend
	Jaeger       *HTTPBackend
	Tempo        *HTTPBackend
	Zipkin       *HTTPBackend
	OTLPFiles    []string // the OpenTelemetry Collector's file exporter (JSON lines)
}

// HTTPBackend is one HTTP API. Secrets are named by env var or file, never
// written in the suite.
type HTTPBackend struct {
	URL                string
	Timeout            time.Duration
	BearerTokenEnv     string
	BearerTokenFile    string
	BasicUser          string
	BasicPasswordEnv   string
	BasicPasswordFile  string
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool
	Headers            map[string]string
	Selector           string
}

// Identities says where injector certificates come from: forged from the
// mesh CA (test clusters), read from files, or fetched from the SPIFFE
// Workload API when meshdrill runs as a workload in the mesh.
type Identities struct {
	CACertFile, CAKeyFile string
	Files                 map[string]KeyPair
	WorkloadAPI           bool
	WorkloadAPISocket     string
}

// KeyPair names a certificate and key in PEM files.
type KeyPair struct{ CertFile, KeyFile string }

// LoadOptions tune Load.
type LoadOptions struct {
	// Vars resolves ${NAME} references; nil means the environment.
	Vars func(string) (string, bool)
	// CheckExpectClient validates a drill's expect_client text (the
	// injector knows the outcome vocabulary); nil skips the check.
	CheckExpectClient func(string) error
}

// Load reads, strictly decodes and validates a suite file. Every problem is
// reported at once, each with file:line:col. Paths in the suite resolve
// relative to the suite file.
func Load(path string, o LoadOptions) (Suite, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Suite{}, fmt.Errorf("read suite: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Suite{}, fmt.Errorf("read suite %s: not a regular file", path)
	}
	if st.Size() > MaxSuiteSize {
		return Suite{}, fmt.Errorf("read suite %s: %d bytes, more than the %d a suite may have", path, st.Size(), MaxSuiteSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Suite{}, fmt.Errorf("read suite: %w", err)
	}
	return Parse(path, data, o)
}

// Parse is Load on bytes already read; name is used in error messages and
// as the base for relative paths.
func Parse(name string, data []byte, o LoadOptions) (Suite, error) {
	vars := o.Vars
	if vars == nil {
		vars = envLookup
	}
	var f fileSuite
	d, err := decodeFile(name, data, &f, vars)
	d.checkClient = o.CheckExpectClient
	if err != nil {
		return Suite{}, err
	}
	decodeErrs := len(d.errs)
	s := d.convert(f, filepath.Dir(name))
	if decodeErrs == 0 {
		// Semantic checks on values that failed to decode would only repeat
		// those errors in other words.
		d.validate(s)
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i], d.errs[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Column < b.Column
		})
		return Suite{}, &LoadError{Errs: d.errs}
	}
	s.at = make(map[string]string, len(d.pos))
	for p, tp := range d.pos {
		if tp != nil {
			s.at[p] = fmt.Sprintf("%s:%d:%d", name, tp.Line, tp.Column)
		}
	}
	return s, nil
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func (d *strictDecoder) httpBackend(b *fileHTTPBackend, dir string) *HTTPBackend {
	if b == nil {
		return nil
	}
	hb := &HTTPBackend{URL: b.URL, Timeout: time.Duration(b.Timeout), Headers: b.Headers, Selector: b.Selector}
	if a := b.Auth; a != nil {
		hb.BearerTokenEnv, hb.BearerTokenFile = a.BearerTokenEnv, resolve(dir, a.BearerTokenFile)
		hb.BasicUser, hb.BasicPasswordEnv, hb.BasicPasswordFile = a.BasicUser, a.BasicPasswordEnv, resolve(dir, a.BasicPasswordFile)
	}
	if t := b.TLS; t != nil {
		hb.CAFile, hb.CertFile, hb.KeyFile = resolve(dir, t.CAFile), resolve(dir, t.CertFile), resolve(dir, t.KeyFile)
		hb.InsecureSkipVerify = t.InsecureSkipVerify
	}
	return hb
}

func (d *strictDecoder) convert(f fileSuite, dir string) Suite {
	s := Suite{
		Name: f.Name,
		Mesh: Mesh{
			Dialect:                  f.Mesh.Dialect,
			TrustDomain:              f.Mesh.TrustDomain,
			ListenerSSLStats:         f.Mesh.ListenerSSLStats,
			ListenerFilterChainStats: f.Mesh.ListenerFilterChainStats,
			Tracing:                  f.Mesh.Tracing,
		},
		Targets: map[string]Target{},
		Defaults: Defaults{
			Count: f.Defaults.Count, Rate: f.Defaults.Rate, Deadline: time.Duration(f.Defaults.Deadline),
			PollInterval: time.Duration(f.Defaults.PollInterval), Concurrency: f.Defaults.Concurrency,
		},
	}
	switch f.Mesh.ListenerLog {
	case "", "nr-only", "all":
		s.Mesh.ListenerNRLog = true
	case "none":
	default:
		d.fieldErr("mesh.listener_log", "must be one of nr-only (Istio's default), all, none; got %q", f.Mesh.ListenerLog)
	}
	s.Backends.Prometheus = d.httpBackend(f.Backends.Prometheus, dir)
	s.Backends.Alertmanager = d.httpBackend(f.Backends.Alertmanager, dir)
	if l := f.Backends.Logs; l != nil {
		for _, p := range l.Files {
			s.Backends.LogFiles = append(s.Backends.LogFiles, resolve(dir, p))
		}
		s.Backends.Loki = d.httpBackend(l.Loki, dir)
		s.Backends.VictoriaLogs = d.httpBackend(l.VictoriaLogs, dir)
		n := 0
		for _, set := range []bool{len(l.Files) > 0, l.Loki != nil, l.VictoriaLogs != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			d.fieldErr("backends.logs", "give one log backend: files, loki or victorialogs")
		}
	}
	if tr := f.Backends.Traces; tr != nil {
		s.Backends.Jaeger = d.httpBackend(tr.Jaeger, dir)
		s.Backends.Tempo = d.httpBackend(tr.Tempo, dir)
		s.Backends.Zipkin = d.httpBackend(tr.Zipkin, dir)
		for _, p := range tr.OTLPFiles {
			s.Backends.OTLPFiles = append(s.Backends.OTLPFiles, resolve(dir, p))
		}
		n := 0
		if len(tr.OTLPFiles) > 0 {
			n++
		}
		for _, b := range []*fileHTTPBackend{tr.Jaeger, tr.Tempo, tr.Zipkin} {
			if b != nil {
				n++
			}
		}
		if n > 1 {
			d.fieldErr("backends.traces", "give one trace backend: jaeger, tempo, zipkin or otlp_files")
		}
	}
	for name, t := range f.Targets {
		s.Targets[name] = Target{Name: name, Address: t.Address, ServerName: t.ServerName, SPIFFEID: t.SPIFFEID,
			Workload: t.Workload, Namespace: t.Namespace, ListenerAddress: t.ListenerAddress}
	}
	if ca := f.Identities.CA; ca != nil {
		s.Identities = Identities{CACertFile: resolve(dir, ca.CertFile), CAKeyFile: resolve(dir, ca.KeyFile)}
	}
	for name, kp := range f.Identities.Files {
		if s.Identities.Files == nil {
			s.Identities.Files = map[string]KeyPair{}
		}
		p := "identities.files." + name
		if kp.CertFile == "" || kp.KeyFile == "" {
			d.fieldErr(p, "give cert_file and key_file")
		}
		s.Identities.Files[name] = KeyPair{CertFile: resolve(dir, kp.CertFile), KeyFile: resolve(dir, kp.KeyFile)}
	}
	if w := f.Identities.WorkloadAPI; w != nil {
		s.Identities.WorkloadAPI, s.Identities.WorkloadAPISocket = true, w.Socket
		if !localSocket(w.Socket) {
			d.fieldErr("identities.workload_api.socket", "the Workload API is a local agent: a unix socket path, unix://PATH or tcp:// on a loopback address; got %q", w.Socket)
		}
	}
	// An explicit zero would silently mean "the default": say so instead.
	for _, z := range []struct {
		path string
		zero bool
	}{
		{"defaults.rate", f.Defaults.Rate == 0},
		{"defaults.concurrency", f.Defaults.Concurrency == 0},
		{"defaults.deadline", f.Defaults.Deadline == 0},
		{"defaults.poll_interval", f.Defaults.PollInterval == 0},
	} {
		if _, set := d.pos[z.path]; set && z.zero && !d.hasErr(z.path) {
			d.fieldErr(z.path, "0 is not a value here; leave it out for the default")
		}
	}
	if _, set := d.pos["defaults.count"]; set && f.Defaults.Count < 1 && !d.hasErr("defaults.count") {
		d.fieldErr("defaults.count", "must be at least 1, got %d", f.Defaults.Count)
	}
	for i, fd := range f.Drills {
		if p := fmt.Sprintf("drills[%d].inject.count", i); d.pos[p] != nil && fd.Inject.Count < 1 && !d.hasErr(p) {
			d.fieldErr(p, "must be between 1 and %d, got %d", MaxCount, fd.Inject.Count)
		}
		dr := Drill{
			Name: fd.Name, Kind: fd.Inject.Kind, Target: fd.Target, Count: fd.Inject.Count,
			Identity: fd.Inject.Identity, Method: fd.Inject.Method, Path: fd.Inject.Path,
			Delay: time.Duration(fd.Inject.Delay), Status: fd.Inject.Status, Deadline: time.Duration(fd.Deadline),
			ExpectClient: fd.ExpectClient, IdentityFrom: fd.Inject.IdentityFrom,
		}
		if len(fd.Expect) > 0 {
			if d.hasExpect == nil {
				d.hasExpect = map[int]bool{}
			}
			d.hasExpect[i] = true
		}
		for j, fe := range fd.Expect {
			if e, ok := d.convertExpect(fe, fmt.Sprintf("drills[%d].expect[%d]", i, j)); ok {
				dr.Expect = append(dr.Expect, e)
			}
		}
		s.Drills = append(s.Drills, dr)
	}
	return s.WithDefaults()
}

var (
	drillName  = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	spiffeID   = regexp.MustCompile(`^spiffe://[a-z0-9._-]+(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$`)
	methodName = regexp.MustCompile(`^[A-Z]+$`)
)

// Limits that keep a suite from hurting the service it drills, and a run
// bounded in time.
const (
	MaxCount       = 1000
	MaxRate        = 200
	MinRate        = 0.1
	MaxConcurrency = 32
	MaxDeadline    = time.Hour
	// MaxSuiteSize bounds a suite file; the YAML parser's cost grows
	// quickly with nesting, so deep nesting is refused before parsing.
	MaxSuiteSize  = 4 << 20
	MaxSuiteDepth = 64
)

// validate checks the converted suite, pointing each problem at its field.
func (d *strictDecoder) validate(s Suite) {
	if s.Mesh.Dialect != "istio" && s.Mesh.Dialect != "generic" {
		d.fieldErr("mesh.dialect", "unsupported dialect %q (supported: istio, generic)", s.Mesh.Dialect)
	}
	if len(s.Targets) == 0 {
		d.fieldErr("targets", "at least one target is required: drills may only aim at listed targets")
	}
	for name, t := range s.Targets {
		p := "targets." + name
		if t.Address == "" {
			d.fieldErr(p, "address: required (host:port of the workload's inbound listener)")
		} else if _, port, err := net.SplitHostPort(t.Address); err != nil || port == "" {
			d.fieldErr(p+".address", "expected host:port, got %q", t.Address)
		}
		if t.SPIFFEID != "" && !spiffeID.MatchString(t.SPIFFEID) {
			d.fieldErr(p+".spiffe_id", "not a SPIFFE ID: %q", t.SPIFFEID)
		}
	}
	for path, b := range map[string]*HTTPBackend{
		"backends.prometheus": s.Backends.Prometheus, "backends.alertmanager": s.Backends.Alertmanager,
		"backends.logs.loki": s.Backends.Loki, "backends.logs.victorialogs": s.Backends.VictoriaLogs,
		"backends.traces.jaeger": s.Backends.Jaeger, "backends.traces.tempo": s.Backends.Tempo,
		"backends.traces.zipkin": s.Backends.Zipkin,
	} {
		if b == nil {
			continue
		}
		d.checkURL(path+".url", b.URL)
		if b.Timeout < 0 || b.Timeout > 10*time.Minute {
			d.fieldErr(path+".timeout", "must be between 0 (the default, 30s) and 10m, got %s", b.Timeout)
		}
	}
	if b := s.Backends.Loki; b != nil {
		if err := checkStreamSelector(b.Selector); err != nil {
			d.fieldErr("backends.logs.loki.selector", "%v", err)
		}
	}
	for i, p := range s.Backends.LogFiles {
		if _, err := filepath.Match(filepath.Base(p), "x"); err != nil {
			d.fieldErr(fmt.Sprintf("backends.logs.files[%d]", i), "bad glob %q: %v", p, err)
		}
	}
	if s.Defaults.Count > MaxCount {
		d.fieldErr("defaults.count", "at most %d requests per drill, got %d", MaxCount, s.Defaults.Count)
	}
	// NaN fails every comparison: test for the valid range, not the invalid.
	if !(s.Defaults.Rate >= MinRate && s.Defaults.Rate <= MaxRate) {
		d.fieldErr("defaults.rate", "must be between %g and %d requests per second, got %g", MinRate, MaxRate, s.Defaults.Rate)
	}
	if c := s.Defaults.Concurrency; c < 1 || c > MaxConcurrency {
		d.fieldErr("defaults.concurrency", "must be between 1 and %d drills at once, got %d", MaxConcurrency, c)
	}
	if dl := s.Defaults.Deadline; dl <= 0 || dl > MaxDeadline {
		d.fieldErr("defaults.deadline", "must be between 0s and %s, got %s", MaxDeadline, dl)
	}
	if pi := s.Defaults.PollInterval; pi < 100*time.Millisecond || pi > time.Minute {
		d.fieldErr("defaults.poll_interval", "must be between 100ms and 1m, got %s", pi)
	}
	if len(s.Drills) == 0 {
		d.fieldErr("drills", "at least one drill is required")
	}
	needCA := ""
	seen := map[string]int{}
	for i, dr := range s.Drills {
		p := fmt.Sprintf("drills[%d]", i)
		switch {
		case dr.Name == "":
			d.fieldErr(p, "name: required")
		case !drillName.MatchString(dr.Name):
			d.fieldErr(p+".name", "use lower-case letters, digits, '.', '_' and '-': %q", dr.Name)
		default:
			if j, dup := seen[dr.Name]; dup {
				d.fieldErr(p+".name", "duplicate drill name %q (also drills[%d])", dr.Name, j)
			}
			seen[dr.Name] = i
		}
		if dr.Target == "" {
			d.fieldErr(p, "target: required")
		} else if _, ok := s.Targets[dr.Target]; !ok {
			d.fieldErr(p+".target", "%q is not a listed target (targets: %s)", dr.Target, strings.Join(sortedKeys(s.Targets), ", "))
		}
		ip := p + ".inject"
		if dr.Kind == "" {
			d.fieldErr(ip, "kind: required (one of %s)", kindList())
		} else if _, ok := istioKinds[dr.Kind]; !ok {
			d.fieldErr(ip+".kind", "unknown drill kind %q (known: %s)", dr.Kind, kindList())
		}
		// A count inherited from defaults is reported once, at defaults.count.
		if _, own := d.pos[ip+".count"]; own && (dr.Count < 1 || dr.Count > MaxCount) {
			d.fieldErr(ip+".count", "must be between 1 and %d, got %d", MaxCount, dr.Count)
		}
		if dr.Identity != "" && !spiffeID.MatchString(dr.Identity) {
			d.fieldErr(ip+".identity", "not a SPIFFE ID: %q", dr.Identity)
		}
		switch from := dr.IdentityFrom; {
		case from == "":
			if needsIdentity[dr.Kind] {
				if dr.Identity == "" {
					d.fieldErr(ip, "identity: a %s drill presents a SPIFFE identity; name it (spiffe://…), or give identity_from", dr.Kind)
				}
				if meshSigned[dr.Kind] && needCA == "" {
					needCA = ip + ".identity"
				}
			}
		case from == "workload_api":
			if !s.Identities.WorkloadAPI {
				d.fieldErr(ip+".identity_from", "workload_api needs identities.workload_api")
			}
		case strings.HasPrefix(from, "files."):
			if _, ok := s.Identities.Files[strings.TrimPrefix(from, "files.")]; !ok {
				known := strings.Join(sortedKeys(s.Identities.Files), ", ")
				if known == "" {
					known = "none are declared"
				}
				d.fieldErr(ip+".identity_from", "%q is not in identities.files (%s)", from, known)
			}
		default:
			d.fieldErr(ip+".identity_from", "must be files.<name> or workload_api, got %q", from)
		}
		if dr.IdentityFrom != "" && dr.Identity != "" {
			d.fieldErr(ip+".identity", "give identity (forged from the CA) or identity_from, not both")
		}
		if !methodName.MatchString(dr.Method) {
			d.fieldErr(ip+".method", "not an HTTP method: %q", dr.Method)
		}
		if dr.Path != "" && !strings.HasPrefix(dr.Path, "/") {
			d.fieldErr(ip+".path", "must start with '/', got %q", dr.Path)
		}
		if dr.Kind == "latency" && dr.Delay <= 0 {
			if _, set := d.pos[ip+".delay"]; set {
				d.fieldErr(ip+".delay", "a latency drill needs a delay > 0, such as 300ms")
			} else {
				d.fieldErr(ip, "delay: a latency drill needs a delay > 0, such as 300ms")
			}
		}
		if dr.Delay > 110*time.Second {
			d.fieldErr(ip+".delay", "at most 110s (each request times out after its delay plus 10s, at most 2m)")
		}
		if dr.Kind == "error-burst" && (dr.Status < 500 || dr.Status > 599) {
			d.fieldErr(ip+".status", "an error-burst drill needs a 5xx status, got %d", dr.Status)
		}
		if _, own := d.pos[p+".deadline"]; own && (dr.Deadline <= 0 || dr.Deadline > MaxDeadline) {
			d.fieldErr(p+".deadline", "must be between 0s and %s, got %s", MaxDeadline, dr.Deadline)
		}
		if dr.Kind == "wrong-trust-domain" && dr.Identity != "" && spiffeID.MatchString(dr.Identity) {
			if td := strings.SplitN(strings.TrimPrefix(dr.Identity, "spiffe://"), "/", 2)[0]; td == s.Mesh.TrustDomain {
				d.fieldErr(ip+".identity", "a wrong-trust-domain drill needs an identity outside the mesh's trust domain %q", td)
			}
		}
		if s.Mesh.Dialect == "generic" && len(dr.Expect) == 0 && !d.hasExpect[i] {
			d.fieldErr(p, "expect: a generic suite knows no defaults; list the evidence (metric, logs, trace, alert, absent, blind_spot)")
		}
		if dr.ExpectClient != "" && d.checkClient != nil {
			if err := d.checkClient(dr.ExpectClient); err != nil {
				d.fieldErr(p+".expect_client", "%v", err)
			}
		}
		d.validateExpects(s, i, dr)
	}
	if needCA != "" && (s.Identities.CACertFile == "" || s.Identities.CAKeyFile == "") {
		d.fieldErr(needCA, "this identity is forged from the mesh CA: give identities.ca.cert_file and key_file")
	}
}

func (d *strictDecoder) checkURL(path, u string) {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		d.fieldErr(path, "expected an http:// or https:// URL with a host, got %q", redactURL(u))
	}
}

// redactURL hides a password written into a URL, for error messages.
func redactURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.User == nil {
		return u
	}
	pu.User = url.User(pu.User.Username())
	return pu.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Kinds that present an identity, and those whose identity the mesh CA signs.
var (
	needsIdentity = map[string]bool{
		"forbidden-identity": true, "forbidden-operation": true, "wrong-trust-domain": true,
		"untrusted-cert": true, "expired-cert": true, "not-yet-valid-cert": true,
		"latency": true, "error-burst": true, "control": true,
	}
	meshSigned = map[string]bool{
		"forbidden-identity": true, "forbidden-operation": true, "wrong-trust-domain": true,
		"expired-cert": true, "not-yet-valid-cert": true, "latency": true, "error-burst": true, "control": true,
	}
)

// localSocket accepts the addresses a SPIFFE agent on this node has.
func localSocket(s string) bool {
	switch {
	case s == "", strings.HasPrefix(s, "/"), strings.HasPrefix(s, "unix://"), strings.HasPrefix(s, "unix:/"):
		return true
	case strings.HasPrefix(s, "tcp://"):
		host, _, err := net.SplitHostPort(strings.TrimPrefix(s, "tcp://"))
		ip := net.ParseIP(host)
		return err == nil && ip != nil && ip.IsLoopback()
	}
	return false
}
