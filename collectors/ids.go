package collectors

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NormalizeTraceID returns id as 32 lower-case hex digits. It accepts hex of
// up to 32 digits in either case (Jaeger drops leading zeros and prints
// 64-bit ids as 16 digits) and base64, padded or not, standard or URL
// alphabet, of 16 bytes (OTLP JSON as Tempo returns it) or 8 bytes. A string
// that reads as both hex and base64 is taken as hex. The all-zero id is
// invalid, as in W3C trace context.
func NormalizeTraceID(id string) (string, error) {
	return normalizeID(id, 16, "trace")
}

// NormalizeSpanID returns id as 16 lower-case hex digits, accepting hex of up
// to 16 digits and base64 of 8 bytes.
func NormalizeSpanID(id string) (string, error) {
	return normalizeID(id, 8, "span")
}

func normalizeID(id string, size int, kind string) (string, error) {
	s := strings.TrimSpace(id)
	digits := 2 * size
	var out string
	switch {
	case s == "":
		return "", fmt.Errorf("%s id is empty", kind)
	case len(s) <= digits && isHex(s):
		out = strings.Repeat("0", digits-len(s)) + strings.ToLower(s)
	default:
		b, ok := decodeBase64(s)
		if !ok || len(b) > size || (len(b) != size && len(b) != 8) {
			return "", fmt.Errorf("%s id %q: want up to %d hex digits or base64 of %d bytes", kind, clip(id), digits, size)
		}
		out = strings.Repeat("0", digits-2*len(b)) + hex.EncodeToString(b)
	}
	if strings.Trim(out, "0") == "" {
		return "", fmt.Errorf("%s id %q is all zeros", kind, clip(id))
	}
	return out, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// ErrTraceNotFound: a trace backend has no trace with the id asked for (yet:
// by-id lookups can miss for a while after export, so pollers should retry
// before concluding the trace was not recorded).
var ErrTraceNotFound = errors.New("trace not found")

// Span is one span as every trace collector returns it, ids normalised
// (32/16 lower-case hex digits) and every attribute or tag value rendered as
// a string (int 403 → "403", bool → "true").
type Span struct {
	TraceID, SpanID, ParentID string
	Operation, Service        string
	Start                     time.Time
	Duration                  time.Duration
	Tags                      map[string]string
	Kind                      string // lower case: "server", "client", "internal", "producer", "consumer"
	// StatusError is set by an error status (otel.status_code=ERROR, OTLP
	// STATUS_CODE_ERROR) or an error tag. Per OTel a server span with a 4xx
	// is not an error: match denials on the status-code attribute, not this.
	StatusError bool
}

// Trace is a trace's spans as the backend returned them (duplicates and
// spans whose parent is missing included) and the backend's warnings.
type Trace struct {
	ID       string
	Spans    []Span
	Warnings []string
}
