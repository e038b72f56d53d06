package lab

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// rbacDeniedBody is Envoy's local reply for an RBAC denial.
const rbacDeniedBody = "RBAC: access denied"

var traceContext = propagation.TraceContext{}

// outcome is what happened to one request, in Envoy's access-log terms.
type outcome struct {
	code          int
	flags         string
	details       string
	bytesSent     int64
	respHeaders   http.Header
	serviceTime   string
	upstreamHost  string
	upstreamLocal string
	routeName     string
	rbacDenied    bool
}

// ServeHTTP is the inbound HTTP filter chain: RBAC, then the router to the
// app, then the stats filter, the access log and the tracer, all reporting
// as reporter="destination".
func (s *sidecar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if mc := meshConnFrom(r); mc != nil {
		mc.markHandled()
		cs := mc.state
		r.TLS = &cs
	}
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" {
		// Envoy generates a request id when the client sent none.
		reqID = newRequestID()
		r.Header.Set("X-Request-Id", reqID)
	}
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, s.wl.Service+":"+inboundPort+"/*",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start))

	var principal string
	if r.TLS != nil {
		principal = peerPrincipal(*r.TLS)
	}
	body := &countingReader{r: r.Body}
	r.Body = body

	var out outcome
	denied := false
	if s.authz != nil && !s.faults.noEnforcement {
		dec := s.authz.evaluate(authzRequest{
			Principal: strings.TrimPrefix(principal, "spiffe://"),
			Method:    r.Method,
			Path:      r.URL.RequestURI(),
		})
		if dec.Allowed {
			s.envoy.rbacAllowed.Inc()
		} else {
			s.envoy.rbacDenied.Inc()
			denied = true
			out = s.deny(w, dec.Details)
		}
	}
	if !denied {
		out = s.forward(ctx, w, r)
	}
	end := time.Now()
	duration := end.Sub(start)

	// The stats filter sits after RBAC in the chain; the fault makes it miss
	// the requests RBAC answered locally.
	if !(denied && s.faults.noDenialMetrics) {
		l := s.peerLabels(principal)
		l["response_code"] = strconv.Itoa(out.code)
		l["grpc_response_status"] = ""
		l["response_flags"] = out.flags
		s.istio.requests.With(l).Inc()
		s.istio.duration.With(l).Observe(float64(duration.Milliseconds()))
		s.istio.requestBytes.With(l).Observe(float64(headerBytes(r) + body.n.Load()))
		s.istio.responseBytes.With(l).Observe(float64(headerMapBytes(out.respHeaders) + out.bytesSent))
	}

	s.logErr(s.alog.write(logEntry{
		Start:                start,
		Method:               r.Method,
		Path:                 r.RequestURI,
		Proto:                r.Proto,
		ResponseCode:         out.code,
		ResponseFlags:        out.flags,
		ResponseCodeDetails:  out.details,
		BytesReceived:        body.n.Load(),
		BytesSent:            out.bytesSent,
		Duration:             duration,
		UpstreamServiceTime:  out.serviceTime,
		ForwardedFor:         r.Header.Get("X-Forwarded-For"),
		UserAgent:            r.Header.Get("User-Agent"),
		RequestID:            reqID,
		Authority:            r.Host,
		UpstreamHost:         out.upstreamHost,
		UpstreamCluster:      inboundCluster,
		UpstreamLocalAddress: out.upstreamLocal,
		DownstreamLocalAddr:  s.wl.InboundAddr,
		DownstreamRemoteAddr: r.RemoteAddr,
		RequestedServerName:  tlsServerName(r),
		RouteName:            out.routeName,
	}))

	span.SetAttributes(
		attribute.String("http.method", r.Method),
		attribute.String("http.url", "https://"+r.Host+r.RequestURI),
		attribute.String("http.protocol", r.Proto),
		attribute.Int("http.status_code", out.code),
		attribute.String("response_flags", out.flags),
		attribute.String("guid:x-request-id", reqID),
		attribute.String("upstream_cluster", inboundCluster),
		attribute.String("upstream_cluster.name", inboundCluster),
		attribute.String("user_agent", orDash(r.Header.Get("User-Agent"))),
		attribute.String("downstream_cluster", "-"),
		attribute.String("peer.address", hostOnly(r.RemoteAddr)),
		attribute.Int64("request_size", body.n.Load()),
		attribute.Int64("response_size", out.bytesSent),
		attribute.String("component", "proxy"),
		attribute.String("node_id", s.nodeID()),
		attribute.String("istio.canonical_service", s.wl.Name),
		attribute.String("istio.canonical_revision", workloadVersion),
		attribute.String("istio.namespace", s.wl.Namespace),
		attribute.String("istio.mesh_id", "cluster.local"),
		attribute.String("istio.cluster_id", clusterID),
	)
	// Per OTel server-span rules only 5xx is an error; a 403 is not.
	if out.code >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End(trace.WithTimestamp(end))
}

// deny writes Envoy's RBAC local reply.
func (s *sidecar) deny(w http.ResponseWriter, details string) outcome {
	h := w.Header()
	h.Set("Content-Length", strconv.Itoa(len(rbacDeniedBody)))
	h.Set("Content-Type", "text/plain")
	h.Set("Server", "envoy")
	w.WriteHeader(http.StatusForbidden)
	n, _ := io.WriteString(w, rbacDeniedBody)
	return outcome{
		code:        http.StatusForbidden,
		flags:       "-", // RBAC denials carry no response flag (only the details tell)
		details:     details,
		bytesSent:   int64(n),
		respHeaders: h,
		rbacDenied:  true,
	}
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward is Envoy's router to inbound|8080||: the app on loopback.
func (s *sidecar) forward(ctx context.Context, w http.ResponseWriter, r *http.Request) outcome {
	var body io.Reader = r.Body
	if r.ContentLength == 0 {
		// A known-empty body: pass http.NoBody so the transport does not
		// probe it as one of unknown length.
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, "http://"+s.appAddr+r.URL.RequestURI(), body)
	if err != nil {
		return s.localReply(w, http.StatusInternalServerError, "-", "internal_error", err.Error())
	}
	req.Header = r.Header.Clone()
	for _, k := range hopHeaders {
		req.Header.Del(k)
	}
	req.Host = r.Host
	req.ContentLength = r.ContentLength
	req.Header.Set("X-Forwarded-Proto", "https")
	if r.TLS != nil {
		req.Header.Set("X-Forwarded-Client-Cert", s.xfcc(*r.TLS))
	}
	traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))

	var mu sync.Mutex
	var localAddr string
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			localAddr = info.Conn.LocalAddr().String()
			mu.Unlock()
		},
	}))
	upstreamStart := time.Now()
	resp, err := s.upstream.RoundTrip(req)
	mu.Lock()
	upstreamLocal := localAddr
	mu.Unlock()
	if err != nil {
		if r.Context().Err() != nil {
			// The client went away: Envoy logs 0 DC, nothing is sent.
			return outcome{code: 0, flags: "DC", details: "downstream_remote_disconnect", upstreamHost: s.appAddr, upstreamLocal: upstreamLocal, routeName: "default"}
		}
		o := s.localReply(w, http.StatusServiceUnavailable, "UF", "upstream_reset_before_response_started{connection_failure}",
			"upstream connect error or disconnect/reset before headers. reset reason: connection failure")
		o.upstreamHost = s.appAddr
		o.routeName = "default"
		return o
	}
	defer resp.Body.Close()
	serviceTime := strconv.FormatInt(time.Since(upstreamStart).Milliseconds(), 10)

	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = append([]string(nil), vs...)
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	h.Set("X-Envoy-Upstream-Service-Time", serviceTime)
	h.Set("Server", "istio-envoy")
	w.WriteHeader(resp.StatusCode)
	n, copyErr := io.Copy(w, resp.Body)
	o := outcome{
		code:          resp.StatusCode,
		flags:         "-",
		details:       "via_upstream",
		bytesSent:     n,
		respHeaders:   h,
		serviceTime:   serviceTime,
		upstreamHost:  s.appAddr,
		upstreamLocal: upstreamLocal,
		routeName:     "default",
	}
	if copyErr != nil {
		if r.Context().Err() != nil {
			o.flags = "DC"
		} else {
			o.flags = "UPE"
		}
	}
	return o
}

// localReply answers from the proxy itself, as Envoy's local replies do.
func (s *sidecar) localReply(w http.ResponseWriter, code int, flags, details, body string) outcome {
	h := w.Header()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Content-Type", "text/plain")
	h.Set("Server", "envoy")
	w.WriteHeader(code)
	n, _ := io.WriteString(w, body)
	return outcome{code: code, flags: flags, details: details, bytesSent: int64(n), respHeaders: h, routeName: "default"}
}

// xfcc is the X-Forwarded-Client-Cert header Istio's inbound sidecar passes
// to the app.
func (s *sidecar) xfcc(cs tls.ConnectionState) string {
	var b strings.Builder
	b.WriteString("By=" + s.wl.SPIFFEID)
	if len(cs.PeerCertificates) > 0 {
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		b.WriteString(";Hash=" + hex.EncodeToString(sum[:]))
		b.WriteString(`;Subject="` + cs.PeerCertificates[0].Subject.String() + `"`)
		if id := spiffeFromCert(cs.PeerCertificates[0]); id != "" {
			b.WriteString(";URI=" + id)
		}
	}
	return b.String()
}

func (s *sidecar) nodeID() string {
	return fmt.Sprintf("sidecar~127.0.0.1~%s-%s-lab.%s~%s.svc.cluster.local", s.wl.Name, workloadVersion, s.wl.Namespace, s.wl.Namespace)
}

func tlsServerName(r *http.Request) string {
	if r.TLS == nil {
		return ""
	}
	return r.TLS.ServerName
}

// headerBytes approximates Envoy's request header byte size: the header map
// including the pseudo-headers :method, :path, :authority and :scheme.
func headerBytes(r *http.Request) int64 {
	n := int64(len(":method")+len(r.Method)) + int64(len(":path")+len(r.RequestURI)) +
		int64(len(":authority")+len(r.Host)) + int64(len(":scheme")+len("https"))
	return n + headerMapBytes(r.Header)
}

func headerMapBytes(h http.Header) int64 {
	var n int64
	for k, vs := range h {
		for _, v := range vs {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

// countingReader counts request body bytes; atomic because the transport may
// still be sending the body when the response has arrived.
type countingReader struct {
	r io.ReadCloser
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// newRequestID returns a random UUID v4, Envoy's x-request-id format.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func hostOnly(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
