package jaeger

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
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
