package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Sentinels shared by every collector, so the evaluator can tell "could not
// tell" apart from "did not hold" with errors.Is whatever the backend.
var (
	// ErrUnavailable: the backend could not be reached or answered 5xx.
	ErrUnavailable = errors.New("backend unavailable")
	// ErrTimeout: a deadline ran out before the backend answered; the
	// message names the budget.
	ErrTimeout = errors.New("timeout")
	// ErrBadQuery: the backend rejected the query itself (PromQL/LogQL
	// syntax, unknown function, bad parameters). Retrying cannot help.
	ErrBadQuery = errors.New("bad query")
)

// maxErrorBody bounds how much of a response body an HTTPError keeps.
const maxErrorBody = 512

// HTTPError is a non-2xx answer from a backend. Error() redacts the URL and
// scrubs credentials from the body, whatever the fields hold.
type HTTPError struct {
	URL    string
	Status int
	Body   string
	// RetryAfter is the wait the backend asked for in a Retry-After header
	// (429, 503), 0 when it named none.
	RetryAfter time.Duration
}

// NewHTTPError describes a non-2xx answer to a request: its URL, status,
// body and Retry-After header.
func NewHTTPError(resp *http.Response, body []byte) *HTTPError {
	e := &HTTPError{Status: resp.StatusCode, Body: string(body)}
	if resp.Request != nil && resp.Request.URL != nil {
		e.URL = resp.Request.URL.String()
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("http %d %s from %s", e.Status, strings.ToLower(http.StatusText(e.Status)), Redact(e.URL))
	body := strings.TrimSpace(e.Body)
	if body == "" {
		return msg
	}
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody] + "…"
	}
	return msg + ": " + scrub(body)
}

// Is makes errors.Is(err, ErrUnavailable) hold for 5xx answers.
func (e *HTTPError) Is(target error) bool {
	return target == ErrUnavailable && e.Status >= 500
}

// TimeoutError is the per-request budget of an HTTP client from
// NewHTTPClient running out. It matches both ErrTimeout and
// context.DeadlineExceeded.
type TimeoutError struct {
	URL    string
	Budget string        // which budget ran out, e.g. "request timeout"
	Limit  time.Duration // its size
}

// Error implements error.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s: %s of %s ran out", Redact(e.URL), e.Budget, e.Limit)
}

// Is makes errors.Is(err, ErrTimeout) hold.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Unwrap lets errors.Is(err, context.DeadlineExceeded) hold too.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Timeout reports true, like net.Error timeouts.
func (e *TimeoutError) Timeout() bool { return true }

// IsRetryable reports whether another attempt may succeed: 429 and 5xx
// answers, connection failures and a per-request timeout are retryable; other
// 4xx answers, bad queries and a cancelled or expired caller context are not.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrBadQuery) {
		return false
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's own budget is spent
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	return errors.Is(err, ErrUnavailable) || isConnError(err)
}

// isConnError reports failures to reach or keep talking to the server.
func isConnError(err error) bool {
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EPIPE, io.ErrUnexpectedEOF, io.EOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// RedactError rewrites, in place, the URL of every *url.Error in err's chain
// with Redact, because net/http puts the full request URL (query included)
// into its errors. It returns err for chaining.
func RedactError(err error) error {
	for e := err; e != nil; {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = Redact(ue.URL)
		}
		switch x := e.(type) {
		case interface{ Unwrap() error }:
			e = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				RedactError(inner)
			}
			e = nil
		default:
			e = nil
		}
	}
	return err
}

// WrapCallError turns an error from calling a backend into one that says what
// was being done (what, e.g. `jaeger GET http://host/api/traces/…`), carries
// the matching sentinel, and names the budget that ran out on timeouts. ctx is
// the caller's context for that call. Secrets in URLs are redacted.
func WrapCallError(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	RedactError(err)
	var te *TimeoutError
	switch {
	case errors.As(err, &te), errors.Is(err, ErrUnavailable), errors.Is(err, ErrBadQuery):
		return fmt.Errorf("%s: %w", what, err)
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		budget := "the caller's deadline"
		if cause := context.Cause(ctx); cause != nil && cause != context.DeadlineExceeded {
			budget += " (" + cause.Error() + ")"
		}
		return fmt.Errorf("%s: %w: %s ran out: %w", what, ErrTimeout, budget, ctx.Err())
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	case isConnError(err):
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
