// Package collectors holds what every meshdrill evidence reader shares: an
// HTTP client built from one set of options (auth, TLS, headers, a deadline on
// every call), retries with backoff for idempotent calls, a --debug transcript
// of every request with credentials blanked, URL redaction for error messages,
// the error vocabulary the evaluator uses to tell "the backend is down" from
// "the evidence is missing", and the span model the trace readers share.
//
// Each backend lives in its own subpackage (prometheus, accesslog, jaeger, …).
// Subpackages import this package and nothing else of meshdrill, so a reader
// can be used on its own and the evaluator stays the only place that knows
// what the evidence means.
package collectors
