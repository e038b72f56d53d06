// Package selftelemetry reports meshdrill's own results to the monitoring a
// team already has: verdicts as metrics through a Prometheus Pushgateway, one
// log line per drill and expectation to Loki, and a trace per run over OTLP
// whose request spans carry the very trace ids the drills injected.
//
// Nothing here runs unless the caller was given a destination: each function
// takes the backend's URL and does exactly one push. Credentials may be given
// as URL userinfo; they are sent as basic auth and never appear in errors.
package selftelemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
)

// DefaultBudget bounds a push when the caller's context has no deadline, so a
// hung backend cannot hold up the end of a run.
const DefaultBudget = 30 * time.Second

// budget returns ctx bounded by DefaultBudget unless it has a deadline
// already; the cause names the budget, so a timeout says which one fired.
func budget(ctx context.Context, what string) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, DefaultBudget, fmt.Errorf("%s budget of %s", what, DefaultBudget))
}

// endpoint is a backend URL with its userinfo taken out.
type endpoint struct {
	url        *url.URL // without userinfo
	user, pass string
	auth       bool
}

func parseEndpoint(what, raw string) (endpoint, error) {
	if raw == "" {
		return endpoint{}, fmt.Errorf("%s: no URL configured", what)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("%s: bad URL %q: %w", what, collectors.Redact(raw), collectors.RedactError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return endpoint{}, fmt.Errorf("%s: URL %q: want http:// or https://", what, collectors.Redact(raw))
	}
	if u.Host == "" {
		return endpoint{}, fmt.Errorf("%s: URL %q has no host", what, collectors.Redact(raw))
	}
	e := endpoint{url: u}
	if u.User != nil {
		e.auth = true
		e.user = u.User.Username()
		e.pass, _ = u.User.Password()
		clean := *u
		clean.User = nil
		e.url = &clean
	}
	return e, nil
}

func (e endpoint) String() string { return collectors.Redact(e.url.String()) }

// callError says what failed, naming the budget when a deadline fired.
func callError(ctx context.Context, what string, err error) error {
	collectors.RedactError(err)
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		budget := "the caller's deadline"
		if cause := context.Cause(ctx); cause != nil && cause != context.DeadlineExceeded {
			budget = cause.Error()
		}
		return fmt.Errorf("%s: %s ran out: %w", what, budget, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
