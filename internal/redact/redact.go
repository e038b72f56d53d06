// Package redact keeps secret values (tokens, passwords read from env vars
// and files) out of everything meshdrill prints or writes, including error
// text a backend echoes back.
package redact

import (
	"io"
	"net/url"
	"strings"
	"sync"
)

// Mask replaces a secret wherever it appears.
const Mask = "[REDACTED]"

// Set is a set of secret values.
type Set struct {
	mu   sync.RWMutex
	vals []string
}

// Add registers a secret. Values shorter than 4 bytes are ignored: masking
// them would shred ordinary output without protecting anything.
func (s *Set) Add(v string) {
	if s == nil || len(v) < 4 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.vals {
		if have == v {
			return
		}
	}
	s.vals = append(s.vals, v)
}

// String returns x with every secret masked.
func (s *Set) String(x string) string {
	if s == nil {
		return x
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.vals {
		if strings.Contains(x, v) {
			x = strings.ReplaceAll(x, v, Mask)
		}
	}
	return x
}

// Writer masks secrets in everything written through it. A secret split
// across two writes is not caught; meshdrill writes whole lines.
func (s *Set) Writer(w io.Writer) io.Writer { return &writer{s: s, w: w} }

type writer struct {
	s *Set
	w io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	masked := w.s.String(string(p))
	if _, err := io.WriteString(w.w, masked); err != nil {
		return 0, err
	}
	return len(p), nil
}

// AddURL registers the secrets a URL carries: its password and its query
// values (tokens are often passed as ?token=…).
func (s *Set) AddURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if p, ok := u.User.Password(); ok {
		s.Add(p)
		s.Add(url.QueryEscape(p))
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			s.Add(v)
			s.Add(url.QueryEscape(v))
		}
	}
}
