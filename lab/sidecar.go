package lab

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	// inspectTimeout bounds how long the TLS inspector waits for the first
	// byte of a connection.
	inspectTimeout   = 15 * time.Second
	handshakeTimeout = 10 * time.Second
	// tlsHandshakeRecord is the first byte of a TLS record carrying a handshake.
	tlsHandshakeRecord = 0x16
	// inboundCluster is Envoy's UPSTREAM_CLUSTER for the workload's port.
	inboundCluster  = "inbound|" + inboundPort + "||"
	workloadVersion = "v1"
	clusterID       = "Kubernetes"
)

// sidecar is the Go stand-in for a workload's Envoy: an mTLS-only inbound
// listener enforcing the AuthorizationPolicy, emitting Istio's telemetry.
type sidecar struct {
	wl     Workload
	log    *slog.Logger
	faults faultSet
	authz  *authorizer
	envoy  *envoyStats
	istio  *istioMetrics
	alog   *accessLog
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer

	appAddr  string
	upstream http.RoundTripper
	tlsConf  *tls.Config

	inbound    net.Listener
	conns      *connListener
	httpSrv    *http.Server
	metricsLn  net.Listener
	metricsSrv *http.Server

	// open maps each established *tls.Conn to its istio_tcp_* labels, so that
	// a connection is counted closed exactly once.
	open sync.Map

	// ctx is cancelled on close, ending handshakes in flight.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type sidecarConfig struct {
	wl      Workload
	log     *slog.Logger
	faults  faultSet
	authz   *authorizer
	cert    tls.Certificate
	ca      *ca
	appAddr string
	otlpURL string
	logPath string
}

// newSidecar binds the sidecar's listeners; start serves them.
func newSidecar(ctx context.Context, cfg sidecarConfig) (_ *sidecar, err error) {
	s := &sidecar{
		wl:      cfg.wl,
		log:     cfg.log.With("workload", cfg.wl.Name),
		faults:  cfg.faults,
		authz:   cfg.authz,
		appAddr: cfg.appAddr,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.cancel()
			s.closeListeners()
		}
	}()
	s.inbound, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen inbound for %s: %w", cfg.wl.Name, err)
	}
	s.metricsLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen metrics for %s: %w", cfg.wl.Name, err)
	}
	s.wl.InboundAddr = s.inbound.Addr().String()
	s.wl.MetricsURL = "http://" + s.metricsLn.Addr().String() + "/stats/prometheus"
	s.wl.AccessLogPath = cfg.logPath

	reg := prometheus.NewRegistry()
	s.envoy = newEnvoyStats(reg, s.authz != nil)
	s.istio = newIstioMetrics(reg)

	s.alog, err = openAccessLog(cfg.logPath, cfg.faults.noAccessLog)
	if err != nil {
		return nil, err
	}
	s.tp, err = newTracerProvider(ctx, cfg.otlpURL, cfg.wl.Name+"."+cfg.wl.Namespace, cfg.faults.unsampledTraces)
	if err != nil {
		_ = s.alog.close()
		return nil, err
	}
	s.tracer = s.tp.Tracer("meshdrill/lab/sidecar")

	s.tlsConf = &tls.Config{
		Certificates: []tls.Certificate{cfg.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    cfg.ca.pool,
		MinVersion:   tls.VersionTLS12,
	}
	s.upstream = &http.Transport{
		Proxy:               nil, // the app is on loopback; never via an environment proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	s.conns = newConnListener(s.inbound.Addr())
	s.httpSrv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		// Envoy's default max_request_headers_kb: larger headers get 431.
		MaxHeaderBytes: 60 << 10,
		ErrorLog:       errLog,
		ConnState: func(c net.Conn, st http.ConnState) {
			if mc, ok := c.(*meshConn); ok {
				mc.setState(st)
			}
			if st == http.StateClosed || st == http.StateHijacked {
				s.connClosed(c)
			}
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if mc, ok := c.(*meshConn); ok {
				return context.WithValue(ctx, meshConnKey{}, mc)
			}
			return ctx
		},
	}
	mux := http.NewServeMux()
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux.Handle("/stats/prometheus", h)
	mux.Handle("/metrics", h)
	s.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	return s, nil
}

func (s *sidecar) start() {
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		s.acceptLoop()
	}()
	go func() {
		defer s.wg.Done()
		_ = s.httpSrv.Serve(s.conns)
	}()
	go func() {
		defer s.wg.Done()
		_ = s.metricsSrv.Serve(s.metricsLn)
	}()
}

func (s *sidecar) acceptLoop() {
	for {
		c, err := s.inbound.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("inbound accept failed", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(c)
		}()
	}
}

// handleConn does what Envoy's inbound listener does before HTTP: the TLS
// inspector peeks at the first byte, a non-TLS connection matches no filter
// chain under STRICT mTLS and is closed without any answer, a TLS one must
// complete an mTLS handshake against the mesh CA.
func (s *sidecar) handleConn(c net.Conn) {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(inspectTimeout))
	var first [1]byte
	n, err := io.ReadFull(c, first[:])
	if n == 0 {
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			s.envoy.tlsConnClosed.Inc()
		}
		_ = c.Close()
		return
	}
	if first[0] != tlsHandshakeRecord {
		s.envoy.tlsNotFound.Inc()
		s.envoy.noFilterChainMatch.Inc()
		// Logged before the close so the line is there when the client
		// notices the close; Envoy logs it at close, within the same moment.
		s.logErr(s.alog.write(logEntry{
			Start:                start,
			ResponseCode:         0,
			ResponseFlags:        "NR",
			ResponseCodeDetails:  "filter_chain_not_found",
			Duration:             time.Since(start),
			DownstreamLocalAddr:  c.LocalAddr().String(),
			DownstreamRemoteAddr: c.RemoteAddr().String(),
		}))
		_ = c.Close()
		return
	}
	s.envoy.tlsFound.Inc()

	tc := tls.Server(&peekedConn{Conn: c, first: first[0], pending: true}, s.tlsConf)
	ctx, cancel := context.WithTimeout(s.ctx, handshakeTimeout)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		s.envoy.sslConnectionError.Inc()
		switch classifyHandshakeError(err) {
		case handshakeNoCert:
			s.envoy.sslFailVerifyNoCert.Inc()
		case handshakeVerifyError:
			s.envoy.sslFailVerifyError.Inc()
		}
		// Istio's listener access log keeps only NR lines: a failed
		// handshake leaves no line.
		_ = tc.Close()
		return
	}
	s.envoy.sslHandshake.Inc()
	_ = c.SetReadDeadline(time.Time{})

	mc := &meshConn{Conn: tc, state: tc.ConnectionState(), accepted: start}
	labels := s.peerLabels(peerPrincipal(mc.state))
	labels["request_protocol"] = "tcp"
	s.istio.tcpOpened.With(labels).Inc()
	s.open.Store(net.Conn(mc), labels)
	mc.onLocalReply = s.codecError
	if !s.conns.deliver(mc) {
		_ = mc.Close()
		s.connClosed(mc)
	}
}

func (s *sidecar) connClosed(c net.Conn) {
	if v, ok := s.open.LoadAndDelete(c); ok {
		s.istio.tcpClosed.With(v.(prometheus.Labels)).Inc()
	}
}

func (s *sidecar) logErr(err error) {
	if err != nil {
		s.log.Warn("telemetry write failed", "err", err)
	}
}

type handshakeFailure int

const (
	handshakeOther handshakeFailure = iota
	handshakeNoCert
	handshakeVerifyError
)

// classifyHandshakeError maps a server-side handshake error to the Envoy
// counter it bumps. crypto/tls has no typed error for a missing client
// certificate, so that one is recognised by its message (a test pins it).
func classifyHandshakeError(err error) handshakeFailure {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return handshakeVerifyError
	}
	if strings.Contains(err.Error(), "didn't provide a certificate") {
		return handshakeNoCert
	}
	return handshakeOther
}

func peerPrincipal(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return spiffeFromCert(cs.PeerCertificates[0])
}

// close stops the sidecar: no new connections, in-flight requests get a
// short grace, then spans are flushed to the trace store.
func (s *sidecar) close(ctx context.Context) error {
	s.cancel()
	s.closeListeners()
	shutdownCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.httpSrv.Shutdown(shutdownCtx); err != nil {
		_ = s.httpSrv.Close()
	}
	_ = s.metricsSrv.Close()
	s.wg.Wait()
	var errs []error
	if err := s.tp.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush spans of %s: %w", s.wl.Name, err))
	}
	if t, ok := s.upstream.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	if err := s.alog.close(); err != nil {
		errs = append(errs, fmt.Errorf("close access log of %s: %w", s.wl.Name, err))
	}
	return errors.Join(errs...)
}

func (s *sidecar) closeListeners() {
	if s.inbound != nil {
		_ = s.inbound.Close()
	}
	if s.metricsLn != nil {
		_ = s.metricsLn.Close()
	}
	if s.conns != nil {
		_ = s.conns.Close()
	}
}

// peekedConn replays the byte the TLS inspector read.
type peekedConn struct {
	net.Conn
	first   byte
	pending bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if c.pending && len(p) > 0 {
		p[0] = c.first
		c.pending = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// connListener hands connections that completed the mTLS handshake to the
// HTTP server.
type connListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) deliver(c net.Conn) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
