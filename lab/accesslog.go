package lab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// accessLog appends lines in Istio's default TEXT format:
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
//	%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED%
//	%BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS%
//	%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
//
// (one line, fields separated by single spaces). Unset values are "-".
type accessLog struct {
	mu       sync.Mutex
	f        *os.File
	disabled bool
}

func openAccessLog(path string, disabled bool) (*accessLog, error) {
	// The file is created even when logging is broken: a real sidecar's log
	// exists, it just never gets the lines.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open access log: %w", err)
	}
	return &accessLog{f: f, disabled: disabled}, nil
}

// logEntry holds the values of one access-log line; empty strings print as "-".
type logEntry struct {
	Start                time.Time
	Method, Path, Proto  string
	ResponseCode         int
	ResponseFlags        string
	ResponseCodeDetails  string
	TerminationDetails   string
	UpstreamFailure      string
	BytesReceived        int64
	BytesSent            int64
	Duration             time.Duration
	UpstreamServiceTime  string
	ForwardedFor         string
	UserAgent            string
	RequestID            string
	Authority            string
	UpstreamHost         string
	UpstreamCluster      string
	UpstreamLocalAddress string
	DownstreamLocalAddr  string
	DownstreamRemoteAddr string
	RequestedServerName  string
	RouteName            string
}

func (e logEntry) format() string {
	d := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	var b strings.Builder
	b.WriteString("[")
	b.WriteString(e.Start.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteString("] \"")
	b.WriteString(d(e.Method) + " " + d(e.Path) + " " + d(e.Proto))
	b.WriteString("\" ")
	fields := []string{
		strconv.Itoa(e.ResponseCode),
		d(e.ResponseFlags),
		d(e.ResponseCodeDetails),
		d(e.TerminationDetails),
		`"` + d(e.UpstreamFailure) + `"`,
		strconv.FormatInt(e.BytesReceived, 10),
		strconv.FormatInt(e.BytesSent, 10),
		strconv.FormatInt(e.Duration.Milliseconds(), 10),
		d(e.UpstreamServiceTime),
		`"` + d(e.ForwardedFor) + `"`,
		`"` + d(e.UserAgent) + `"`,
		`"` + d(e.RequestID) + `"`,
		`"` + d(e.Authority) + `"`,
		`"` + d(e.UpstreamHost) + `"`,
		d(e.UpstreamCluster),
		d(e.UpstreamLocalAddress),
		d(e.DownstreamLocalAddr),
		d(e.DownstreamRemoteAddr),
		d(e.RequestedServerName),
		d(e.RouteName),
	}
	b.WriteString(strings.Join(fields, " "))
	b.WriteString("\n")
	return b.String()
}

func (l *accessLog) write(e logEntry) error {
	if l.disabled {
		return nil
	}
	line := e.format()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.WriteString(line); err != nil {
		return fmt.Errorf("write access log: %w", err)
	}
	return nil
}

func (l *accessLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
