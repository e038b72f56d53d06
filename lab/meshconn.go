package lab

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// meshConn is an established mTLS connection as the HTTP server sees it.
// It keeps the handshake's ConnectionState (the server no longer sees a
// *tls.Conn, so the handler sets r.TLS from it) and notices the replies
// net/http writes on its own for requests it could not parse: those never
// reach the handler, where Envoy would log them as codec errors (DPE).
type meshConn struct {
	*tls.Conn
	state    tls.ConnectionState
	accepted time.Time

	// onLocalReply is called once per request that got a reply without
	// reaching the handler.
	onLocalReply func(mc *meshConn, code int, bodyBytes int64, start time.Time)

	mu          sync.Mutex
	active      bool      // a request is being read or served
	activeSince time.Time // when its first byte arrived
	handled     bool      // the handler saw the current request
	replied     bool      // a local reply was already reported for it
}

type meshConnKey struct{}

// meshConnFrom returns the request's connection, set by the server's ConnContext.
func meshConnFrom(r *http.Request) *meshConn {
	mc, _ := r.Context().Value(meshConnKey{}).(*meshConn)
	return mc
}

func (c *meshConn) setState(st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st {
	case http.StateActive:
		c.active, c.activeSince, c.handled, c.replied = true, time.Now(), false, false
	case http.StateIdle, http.StateClosed, http.StateHijacked:
		c.active = false
	}
}

// markHandled records that the handler took the current request.
func (c *meshConn) markHandled() {
	c.mu.Lock()
	c.handled = true
	c.mu.Unlock()
}

// Write spots net/http's own error replies (400, 431, 501, 505): they are
// written for an active request the handler never saw, as one status line,
// headers and body.
func (c *meshConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	local := c.active && !c.handled && !c.replied && bytes.HasPrefix(p, []byte("HTTP/1."))
	if local {
		c.replied = true
	}
	start := c.activeSince
	c.mu.Unlock()
	if local && c.onLocalReply != nil && len(p) >= 12 {
		if code, err := strconv.Atoi(string(p[9:12])); err == nil {
			var body int64
			if i := bytes.Index(p, []byte("\r\n\r\n")); i >= 0 {
				body = int64(len(p) - i - 4)
			}
			c.onLocalReply(c, code, body, start)
		}
	}
	return c.Conn.Write(p)
}

// codecError logs a request the HTTP codec rejected, as Envoy does: no
// method, path or headers, flag DPE. It never reaches the stats filter or
// the tracer.
func (s *sidecar) codecError(mc *meshConn, code int, bodyBytes int64, start time.Time) {
	details := "http1.codec_error"
	if code == http.StatusRequestHeaderFieldsTooLarge {
		details = "http1.headers_too_large"
	}
	s.logErr(s.alog.write(logEntry{
		Start:                start,
		Proto:                "HTTP/1.1",
		ResponseCode:         code,
		ResponseFlags:        "DPE",
		ResponseCodeDetails:  details,
		BytesSent:            bodyBytes,
		Duration:             time.Since(start),
		DownstreamLocalAddr:  mc.LocalAddr().String(),
		DownstreamRemoteAddr: mc.RemoteAddr().String(),
		RequestedServerName:  mc.state.ServerName,
	}))
}
