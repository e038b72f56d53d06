package lab

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Envoy stats exported by each sidecar, named as Envoy's Prometheus admin
// endpoint names them after its default tag extraction:
//
//	listener.0.0.0.0_15006.ssl.fail_verify_no_cert  -> envoy_listener_ssl_fail_verify_no_cert{listener_address="0.0.0.0_15006"}
//	listener.0.0.0.0_15006.ssl.fail_verify_error    -> envoy_listener_ssl_fail_verify_error{listener_address="0.0.0.0_15006"}
//	listener.0.0.0.0_15006.ssl.connection_error     -> envoy_listener_ssl_connection_error{listener_address="0.0.0.0_15006"}
//	listener.0.0.0.0_15006.ssl.handshake            -> envoy_listener_ssl_handshake{listener_address="0.0.0.0_15006"}
//	listener.0.0.0.0_15006.no_filter_chain_match    -> envoy_listener_no_filter_chain_match{listener_address="0.0.0.0_15006"}
//	tls_inspector.tls_found / tls_not_found / connection_closed -> envoy_tls_inspector_<stat> (no tags)
//	http.inbound_0.0.0.0_8080.rbac.<stat>           -> envoy_http_inbound_0_0_0_0_8080_rbac_<stat>
//
// The listener_address tag is Istio's virtual inbound listener (0.0.0.0_15006),
// not the loopback port the lab really listens on: that is what a real
// sidecar reports. Envoy's http_conn_manager_prefix tag regex only takes
// numeric prefixes, so "inbound_0.0.0.0_8080" stays in the metric name (the
// shape of the corpus' envoy_http_inbound_0_0_0_0_80_rbac). Istio exports
// these only when the proxy stats matcher includes them; the lab does, and
// says so in MeshConfig. Envoy stats exist from start-up, so they are
// created at 0.
const (
	inboundListenerAddress = "0.0.0.0_15006"
	// inboundPort is the workload's container port as the mesh sees it;
	// it names the RBAC stat prefix and the inbound cluster.
	inboundPort = "8080"
)

// envoyStats are a sidecar's Envoy counters.
type envoyStats struct {
	sslFailVerifyNoCert prometheus.Counter
	sslFailVerifyError  prometheus.Counter
	sslConnectionError  prometheus.Counter
	sslHandshake        prometheus.Counter
	noFilterChainMatch  prometheus.Counter
	tlsFound            prometheus.Counter
	tlsNotFound         prometheus.Counter
	tlsConnClosed       prometheus.Counter
	// rbac* are nil when no policy applies to the workload: Istio installs
	// no RBAC filter then.
	rbacAllowed prometheus.Counter
	rbacDenied  prometheus.Counter
}

func newEnvoyStats(reg prometheus.Registerer, withRBAC bool) *envoyStats {
	listener := prometheus.Labels{"listener_address": inboundListenerAddress}
	counter := func(name, help string, constLabels prometheus.Labels) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: constLabels})
		reg.MustRegister(c)
		return c
	}
	s := &envoyStats{
		sslFailVerifyNoCert: counter("envoy_listener_ssl_fail_verify_no_cert", "TLS connections that failed because of a missing client certificate.", listener),
		sslFailVerifyError:  counter("envoy_listener_ssl_fail_verify_error", "TLS connections that failed CA verification.", listener),
		sslConnectionError:  counter("envoy_listener_ssl_connection_error", "TLS connection errors.", listener),
		sslHandshake:        counter("envoy_listener_ssl_handshake", "Successful TLS connection handshakes.", listener),
		noFilterChainMatch:  counter("envoy_listener_no_filter_chain_match", "Connections that matched no filter chain.", listener),
		tlsFound:            counter("envoy_tls_inspector_tls_found", "Connections the TLS inspector found to be TLS.", nil),
		tlsNotFound:         counter("envoy_tls_inspector_tls_not_found", "Connections the TLS inspector found not to be TLS.", nil),
		tlsConnClosed:       counter("envoy_tls_inspector_connection_closed", "Connections closed while the TLS inspector waited for data.", nil),
	}
	if withRBAC {
		prefix := "envoy_http_inbound_0_0_0_0_" + inboundPort + "_rbac_"
		s.rbacAllowed = counter(prefix+"allowed", "Requests the RBAC filter allowed.", nil)
		s.rbacDenied = counter(prefix+"denied", "Requests the RBAC filter denied.", nil)
		counter(prefix+"shadow_allowed", "Requests a dry-run policy would allow.", nil)
		counter(prefix+"shadow_denied", "Requests a dry-run policy would deny.", nil)
	}
	return s
}

// istioBuckets are Envoy's default histogram buckets, which Istio uses for
// all its standard histograms unless the workload overrides them.
var istioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// istioRequestLabels is Istio's standard metric label set (see the corpus'
// istio_orca65_request_bytes_reporter_destination_mtls.prom) plus the cluster
// labels newer Istio adds.
var istioRequestLabels = []string{
	"response_code", "reporter",
	"source_workload", "source_workload_namespace", "source_principal", "source_app", "source_version",
	"destination_workload", "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
	"destination_service", "destination_service_name", "destination_service_namespace",
	"request_protocol", "response_flags", "grpc_response_status", "connection_security_policy",
	"source_canonical_service", "destination_canonical_service", "source_canonical_revision", "destination_canonical_revision",
	"source_cluster", "destination_cluster",
}

// istioTCPLabels are the request labels without the HTTP-only ones.
var istioTCPLabels = func() []string {
	var out []string
	for _, l := range istioRequestLabels {
		if l != "response_code" && l != "grpc_response_status" {
			out = append(out, l)
		}
	}
	return out
}()

// istioMetrics is the stats filter's output for one sidecar.
type istioMetrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	requestBytes  *prometheus.HistogramVec
	responseBytes *prometheus.HistogramVec
	tcpOpened     *prometheus.CounterVec
	tcpClosed     *prometheus.CounterVec
}

func newIstioMetrics(reg prometheus.Registerer) *istioMetrics {
	m := &istioMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "istio_requests_total", Help: "Requests, as counted by the Istio stats filter.",
		}, istioRequestLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "istio_request_duration_milliseconds", Help: "Request duration in milliseconds.", Buckets: istioBuckets,
		}, istioRequestLabels),
		requestBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "istio_request_bytes", Help: "Request size (headers and body) in bytes.", Buckets: istioBuckets,
		}, istioRequestLabels),
		responseBytes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "istio_response_bytes", Help: "Response size (headers and body) in bytes.", Buckets: istioBuckets,
		}, istioRequestLabels),
		tcpOpened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "istio_tcp_connections_opened_total", Help: "TCP connections opened.",
		}, istioTCPLabels),
		tcpClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "istio_tcp_connections_closed_total", Help: "TCP connections closed.",
		}, istioTCPLabels),
	}
	reg.MustRegister(m.requests, m.duration, m.requestBytes, m.responseBytes, m.tcpOpened, m.tcpClosed)
	return m
}

// peerLabels returns the labels a destination-side sidecar knows about a
// peer that is not a mesh workload (meshdrill's injector): Istio's peer
// metadata exchange found nothing, so every source_* label is "unknown",
// except source_principal, which comes from the client certificate.
func (s *sidecar) peerLabels(sourcePrincipal string) prometheus.Labels {
	if sourcePrincipal == "" {
		sourcePrincipal = "unknown"
	}
	w := s.wl
	return prometheus.Labels{
		"reporter":                       "destination",
		"source_workload":                "unknown",
		"source_workload_namespace":      "unknown",
		"source_principal":               sourcePrincipal,
		"source_app":                     "unknown",
		"source_version":                 "unknown",
		"source_canonical_service":       "unknown",
		"source_canonical_revision":      "latest",
		"source_cluster":                 "unknown",
		"destination_workload":           w.Name,
		"destination_workload_namespace": w.Namespace,
		"destination_principal":          w.SPIFFEID,
		"destination_app":                w.Name,
		"destination_version":            workloadVersion,
		"destination_service":            w.Service,
		"destination_service_name":       w.Name,
		"destination_service_namespace":  w.Namespace,
		"destination_canonical_service":  w.Name,
		"destination_canonical_revision": workloadVersion,
		"destination_cluster":            clusterID,
		"request_protocol":               "http",
		"response_flags":                 "-",
		"connection_security_policy":     "mutual_tls",
	}
}
