// Package collectors holds what every meshdrill evidence reader shares: an
// HTTP client built from one set of options (auth, TLS, headers, a deadline on
// every call), URL redaction for error messages, and the error vocabulary the
// evaluator uses to tell "the backend is down" from "the evidence is missing".
//
// Each backend lives in its own subpackage (prometheus, accesslog, jaeger, …).
// Subpackages import this package and nothing else of meshdrill, so a reader
// can be used on its own and the evaluator stays the only place that knows
// what the evidence means.
package collectors
