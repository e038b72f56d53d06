// Package accesslog reads Envoy/Istio access logs, the evidence for
// per-request facts (a policy denial's response details, a request's
// duration) and for the connection-level NR lines that are the only trace of
// plaintext sent to a STRICT mTLS port.
//
// It parses Istio's default TEXT format, Envoy's default TEXT format and
// Istio's JSON encoding (string or typed values), and scans log files in
// constant memory for the requests a drill injected.
package accesslog

import (
	"slices"
	"strings"
	"time"
)

// Entry is one access-log line. Envoy writes "-" (JSON: "-" or null) for a
// value it does not have; here that is "" for strings, the zero time for
// Start, 0 for ResponseCode (what Envoy itself writes when no response was
// sent), and -1 for BytesReceived, BytesSent and Duration, so that "unset"
// stays apart from a real zero.
type Entry struct {
	Start                          time.Time
	Method, Path, Protocol         string
	ResponseCode                   int
	ResponseFlags                  string // comma-separated short codes, e.g. "UF,URX"; see HasFlag
	ResponseCodeDetails            string // e.g. rbac_access_denied_matched_policy[ns[foo]-policy[x]-rule[0]]
	ConnectionTerminationDetails   string
	UpstreamTransportFailureReason string
	BytesReceived, BytesSent       int64
	Duration                       time.Duration
	UpstreamServiceTime            string // as logged (milliseconds, possibly a list)
	XForwardedFor, UserAgent       string
	RequestID, Authority           string
	UpstreamHost, UpstreamCluster  string
	UpstreamLocalAddress           string
	DownstreamLocalAddress         string
	DownstreamRemoteAddress        string
	RequestedServerName, RouteName string
	// DownstreamTransportFailureReason is only filled by Envoy listener
	// (connection) logs in JSON, e.g. "TLS_error:|…:WRONG_VERSION_NUMBER:TLS_error_end".
	DownstreamTransportFailureReason string

	Raw string // the line as read, without its line ending
}

// HasFlag reports whether flag (e.g. "NR") is among the entry's response flags.
func (e Entry) HasFlag(flag string) bool {
	return e.ResponseFlags != "" && slices.Contains(strings.Split(e.ResponseFlags, ","), flag)
}

// unset is what numeric fields hold when the log says "-".
const unset = -1

func newEntry(raw string) Entry {
	return Entry{BytesReceived: unset, BytesSent: unset, Duration: unset, Raw: raw}
}
