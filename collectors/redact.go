package collectors

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces the value of a query parameter that looks like a secret.
const redacted = "REDACTED"

// secretParamWords are substrings of query-parameter names whose values are
// credentials in the APIs meshdrill talks to (tokens, signed URLs, API keys).
var secretParamWords = []string{
	"token", "secret", "password", "passwd", "pwd", "key", "auth",
	"signature", "credential", "session", "jwt", "bearer",
}

// userinfoRE finds "scheme://user:pass@" in text that url.Parse rejects.
var userinfoRE = regexp.MustCompile(`//[^/?#@\s]*@`)

// Redact returns u without userinfo and with the values of secret-looking
// query parameters replaced by REDACTED, for use in errors and logs. The order
// of the remaining parameters is kept so the URL still reads as written. Text
// that does not parse as a URL loses its userinfo and its whole query.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		s := userinfoRE.ReplaceAllString(u, "//")
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	p.User = nil
	if p.RawQuery != "" {
		p.RawQuery = redactQuery(p.RawQuery)
	}
	return p.String()
}

func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, part := range parts {
		name, _, hasValue := strings.Cut(part, "=")
		if !hasValue {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if secretParam(name) {
			parts[i] = url.QueryEscape(name) + "=" + redacted
		}
	}
	return strings.Join(parts, "&")
}

func secretParam(name string) bool {
	name = strings.ToLower(name)
	if name == "sig" {
		return true
	}
	for _, w := range secretParamWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// credentialRE finds auth header values echoed back in response bodies.
var credentialRE = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+`)

// scrub removes credentials and credential-bearing URLs from free text such
// as a response body before it is shown to a user.
func scrub(s string) string {
	s = credentialRE.ReplaceAllString(s, "$1 "+redacted)
	return userinfoRE.ReplaceAllString(s, "//")
}
