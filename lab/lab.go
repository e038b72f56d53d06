// Package lab is meshdrill's embedded default target: an in-process service
// mesh on loopback whose Go sidecars enforce STRICT mTLS and an
// AuthorizationPolicy subset and emit Istio-shaped telemetry, blind spots
// included, plus embedded backends for that telemetry: a Prometheus-API
// metrics store that scrapes the sidecars, a Jaeger-API trace store that
// receives their OTLP, and access-log files.
//
// The rest of meshdrill must never import lab: it gets URLs, file paths and
// the CA, exactly as it would from a real mesh. Faults (Options.Breaks) act
// in the emitter, so a broken signal is really missing at its backend.
//
// # The mesh
//
// Two workloads in namespace shop, frontend and payments, each an app
// (/delay/<ms>, /status/<code>, anything else 200 "ok") behind a sidecar.
// payments admits cluster.local/ns/shop/sa/frontend and
// cluster.local/ns/meshdrill/sa/allowed-* and denies /admin* to everyone
// (policy.yaml); frontend has no policy. Any client certificate must chain to
// the mesh CA (CACertPEM); the injector is a non-mesh client.
//
// # What a sidecar records
//
// Metrics (Workload.MetricsURL, scraped into the store with job="envoy-stats"):
//   - istio_requests_total, istio_request_duration_milliseconds,
//     istio_request_bytes, istio_response_bytes (reporter="destination",
//     source_workload="unknown", source_principal from the client certificate,
//     connection_security_policy="mutual_tls"), one increment per request
//     that reached the HTTP filters, RBAC 403s included;
//   - istio_tcp_connections_opened_total / _closed_total per established
//     mTLS connection;
//   - envoy_listener_ssl_{handshake,connection_error,fail_verify_no_cert,fail_verify_error}
//     and envoy_listener_no_filter_chain_match, all {listener_address="0.0.0.0_15006"};
//     envoy_tls_inspector_{tls_found,tls_not_found,connection_closed};
//     payments only: envoy_http_inbound_0_0_0_0_8080_rbac_{allowed,denied,shadow_allowed,shadow_denied}.
//
// Access log (Workload.AccessLogPath): Istio's default TEXT format; one line
// per request (RBAC denials with rbac_access_denied_matched_policy[...]), per
// plaintext connection ("- - -" 0 NR filter_chain_not_found) and per request
// the HTTP codec rejected (400/431 DPE); none for failed TLS handshakes.
//
// Alerts: the metrics store evaluates alerts.yaml (MeshAuthorizationDenied,
// MeshPlaintextRejected, MeshUntrustedClientCertificate, each with for: 2s)
// and serves them at PrometheusURL's /api/v1/alerts and /api/v1/rules.
//
// Traces (OTLPURL, read back at JaegerURL): one server span per request whose
// incoming traceparent is sampled, named "<service>:8080/*", with Envoy's tags
// (http.status_code, guid:x-request-id, upstream_cluster, ...); status ERROR
// only for 5xx.
package lab

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/meshdrill/meshdrill/lab/internal/promstore"
	"github.com/meshdrill/meshdrill/lab/internal/tracestore"
)

// labAlertRules are evaluated by the metrics store, every scrape interval.
//
//go:embed alerts.yaml
var labAlertRules []byte

// TrustDomain is the lab mesh's SPIFFE trust domain.
const TrustDomain = "cluster.local"

// Options configure Start.
type Options struct {
	Dir            string        // folder for access-log files; a temp dir (removed on Close) when empty
	Breaks         []string      // faults, see Faults()
	ScrapeInterval time.Duration // embedded store scrape interval; default 1s
	Logger         *slog.Logger  // nil = discard
}

// Workload is one mesh workload as a drill sees it from outside.
type Workload struct {
	Name, Namespace, ServiceAccount string // "payments", "shop", "payments"
	SPIFFEID                        string // spiffe://cluster.local/ns/shop/sa/payments
	Service                         string // payments.shop.svc.cluster.local
	InboundAddr                     string // 127.0.0.1:PORT, the sidecar's mTLS-only inbound listener (Istio's 15006)
	MetricsURL                      string // http://127.0.0.1:PORT/stats/prometheus (the sidecar's Prometheus endpoint)
	AccessLogPath                   string // file receiving this sidecar's access log (Istio default TEXT format)
}

// MeshConfig says which opt-in telemetry the lab has on, for the suite's
// mesh declaration. It describes the configuration, not the faults: a
// broken signal is still declared on, so its drill fails rather than being
// excused as a blind spot.
type MeshConfig struct {
	ListenerSSLStats bool   // envoy_listener_ssl_* and tls_inspector stats are in the proxy stats matcher
	ListenerNRLog    bool   // the listener access log writes "- - -" 0 NR filter_chain_not_found lines
	RBACStats        bool   // envoy_http_inbound_0_0_0_0_8080_rbac_* are in the proxy stats matcher
	Sampling         string // "parent": a request is traced iff its incoming traceparent is sampled
}

// Lab is a running lab mesh and its backends.
type Lab struct {
	PrometheusURL       string              // embedded store answering the Prometheus HTTP API, e.g. http://127.0.0.1:PORT
	JaegerURL           string              // embedded trace store answering Jaeger's query API (/api/traces/{id})
	OTLPURL             string              // where sidecars export OTLP/HTTP (http://127.0.0.1:PORT/v1/traces)
	TrustDomain         string              // "cluster.local"
	CACertPEM, CAKeyPEM []byte              // the mesh CA (PKCS#8 key PEM); meshdrill forges injector identities from it
	ScrapeInterval      time.Duration       // the embedded store's scrape interval
	Mesh                MeshConfig          // what opt-in telemetry this lab has on
	Workloads           map[string]Workload // "frontend", "payments"

	log       *slog.Logger
	dir       string
	removeDir bool
	sidecars  []*sidecar
	apps      []*http.Server
	store     *promstore.Store
	traces    *tracestore.Store
	servers   []*http.Server
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// workloadSpec describes a lab workload; names follow Istio's conventions.
type workloadSpec struct{ name, namespace, serviceAccount string }

var workloadSpecs = []workloadSpec{
	{"frontend", "shop", "frontend"},
	{"payments", "shop", "payments"},
}

// Start brings up the mesh and its backends on loopback ports. ctx bounds
// start-up only; the lab runs until Close.
func Start(ctx context.Context, opts Options) (_ *Lab, err error) {
	faults, err := parseFaults(opts.Breaks)
	if err != nil {
		return nil, err
	}
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	policies, err := parsePolicies(labPolicyYAML)
	if err != nil {
		return nil, fmt.Errorf("load lab policies: %w", err)
	}
	mesh, err := newCA(TrustDomain)
	if err != nil {
		return nil, err
	}

	l := &Lab{
		TrustDomain:    TrustDomain,
		CACertPEM:      mesh.certPEM,
		CAKeyPEM:       mesh.keyPEM,
		ScrapeInterval: opts.ScrapeInterval,
		Mesh:           MeshConfig{ListenerSSLStats: true, ListenerNRLog: true, RBACStats: true, Sampling: "parent"},
		Workloads:      map[string]Workload{},
		log:            log,
	}
	defer func() {
		if err != nil {
			_ = l.Close()
		}
	}()
	if opts.Dir == "" {
		l.dir, err = os.MkdirTemp("", "meshdrill-lab-")
		if err != nil {
			return nil, fmt.Errorf("create lab dir: %w", err)
		}
		l.removeDir = true
	} else {
		l.dir = opts.Dir
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return nil, fmt.Errorf("create lab dir: %w", err)
		}
	}

	// The trace store comes first: the sidecars' exporters need its URL.
	l.traces = tracestore.New(0)
	traceAddr, err := l.serve(l.traces.Handler())
	if err != nil {
		return nil, fmt.Errorf("start trace store: %w", err)
	}
	l.OTLPURL = "http://" + traceAddr + "/v1/traces"
	l.JaegerURL = "http://" + traceAddr

	var targets []string
	for _, spec := range workloadSpecs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("start lab: %w", err)
		}
		sc, err := l.startWorkload(ctx, spec, mesh, policies, faults)
		if err != nil {
			return nil, err
		}
		l.Workloads[spec.name] = sc.wl
		targets = append(targets, sc.wl.MetricsURL)
	}

	l.store, err = promstore.New(promstore.Options{
		Targets:   targets,
		Interval:  opts.ScrapeInterval,
		Job:       "envoy-stats",
		Rules:     labAlertRules,
		RulesFile: "meshdrill-lab-alerts.yaml",
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("create metrics store: %w", err)
	}
	promAddr, err := l.serve(l.store.Handler())
	if err != nil {
		return nil, fmt.Errorf("start metrics store: %w", err)
	}
	l.PrometheusURL = "http://" + promAddr
	l.store.Start()
	log.Info("lab started", "prometheus", l.PrometheusURL, "jaeger", l.JaegerURL, "dir", l.dir, "breaks", opts.Breaks)
	return l, nil
}

func (l *Lab) startWorkload(ctx context.Context, spec workloadSpec, mesh *ca, policies []authorizationPolicy, faults faultSet) (*sidecar, error) {
	wl := Workload{
		Name:           spec.name,
		Namespace:      spec.namespace,
		ServiceAccount: spec.serviceAccount,
		SPIFFEID:       fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", TrustDomain, spec.namespace, spec.serviceAccount),
		Service:        fmt.Sprintf("%s.%s.svc.cluster.local", spec.name, spec.namespace),
	}
	cert, err := mesh.issue(wl.SPIFFEID, []string{wl.Service, "localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	appAddr, err := l.serveApp()
	if err != nil {
		return nil, fmt.Errorf("start app %s: %w", spec.name, err)
	}
	authz := newAuthorizer(policies, spec.namespace, map[string]string{"app": spec.name, "version": workloadVersion})
	sc, err := newSidecar(ctx, sidecarConfig{
		wl:      wl,
		log:     l.log,
		faults:  faults,
		authz:   authz,
		cert:    cert,
		ca:      mesh,
		appAddr: appAddr,
		otlpURL: l.OTLPURL,
		logPath: filepath.Join(l.dir, spec.name+".log"),
	})
	if err != nil {
		return nil, fmt.Errorf("start sidecar %s: %w", spec.name, err)
	}
	l.sidecars = append(l.sidecars, sc)
	sc.start()
	return sc, nil
}

// serveApp starts a workload's application on its own loopback port.
func (l *Lab) serveApp() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: appHandler(), ReadHeaderTimeout: 10 * time.Second}
	l.apps = append(l.apps, srv)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = srv.Serve(ln)
	}()
	return ln.Addr().String(), nil
}

// serve runs a backend's HTTP handler on a free loopback port.
func (l *Lab) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	l.servers = append(l.servers, srv)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_ = srv.Serve(ln)
	}()
	return ln.Addr().String(), nil
}

// Flush exports the spans the sidecars have buffered now, instead of at
// the end of the batch delay.
func (l *Lab) Flush(ctx context.Context) error {
	var errs []error
	for _, sc := range l.sidecars {
		if err := sc.tp.ForceFlush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush spans of %s: %w", sc.wl.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Close stops the sidecars (flushing their spans to the trace store), then
// the apps and backends, and removes the temporary folder if Start made one.
// It is safe to call more than once.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		for _, sc := range l.sidecars {
			if err := sc.close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if l.store != nil {
			l.store.Stop()
		}
		for _, srv := range append(l.apps, l.servers...) {
			_ = srv.Close()
		}
		l.wg.Wait()
		if l.removeDir && l.dir != "" {
			if err := os.RemoveAll(l.dir); err != nil {
				errs = append(errs, fmt.Errorf("remove lab dir: %w", err))
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}
