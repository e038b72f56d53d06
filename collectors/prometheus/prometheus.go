// Package prometheus reads metric evidence from a Prometheus-compatible HTTP
// API (Prometheus, the lab's embedded store, VictoriaMetrics): instant and
// range queries at explicit times, the backend's clock and its scrape
// interval, which the evaluator needs to place its windows correctly.
package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/meshdrill/meshdrill/collectors"
)

// The errors every Client method wraps, so errors.Is works on them. They are
// the collectors package's sentinels, shared with the other backends.
var (
	// ErrBadQuery: Prometheus answered bad_data (PromQL syntax, bad parameters).
	ErrBadQuery = collectors.ErrBadQuery
	// ErrUnavailable: connection refused or reset, or a 5xx answer.
	ErrUnavailable = collectors.ErrUnavailable
	// ErrTimeout: a deadline ran out (the request budget, the caller's
	// deadline, or Prometheus' own query timeout); the message says which.
	ErrTimeout = collectors.ErrTimeout
)

// Warnings are the non-fatal annotations of an answer: Prometheus' warnings
// followed by its infos (each message starts with "PromQL warning:" or
// "PromQL info:", so they stay distinguishable).
type Warnings []string

// Client queries one Prometheus-compatible backend. It is safe for
// concurrent use.
type Client struct {
	api      v1.API
	endpoint *collectors.Endpoint
	url      string // redacted, for messages
}

// New returns a client for the Prometheus API rooted at url (the part before
// /api/v1). Every request runs under o.Timeout.
func New(url string, o collectors.HTTPOptions) (*Client, error) {
	ep, err := collectors.NewEndpoint("prometheus", url, o)
	if err != nil {
		return nil, err
	}
	base := ep.URL("", nil).String()
	inner, err := api.NewClient(api.Config{Address: base, Client: ep.Client()})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	return &Client{api: v1.NewAPI(statusClient{inner}), endpoint: ep, url: collectors.Redact(base)}, nil
}

// URL is the backend's base URL with secrets redacted, for evidence.
func (c *Client) URL() string { return c.url }

// Query evaluates q at the instant at, which must be set: "now" on the
// caller's clock is not "now" on the backend's. An answer that is not an
// instant vector (a scalar, a string, a range vector) is an error.
func (c *Client) Query(ctx context.Context, q string, at time.Time) (model.Vector, Warnings, error) {
	what := fmt.Sprintf("prometheus query %q at %s", q, c.url)
	if at.IsZero() {
		return nil, nil, fmt.Errorf("%s: an instant query needs an explicit evaluation time", what)
	}
	what += " (t=" + at.UTC().Format(time.RFC3339Nano) + ")"
	v, w, err := c.evaluate(ctx, what, func(ctx context.Context) (model.Value, v1.Warnings, v1.Infos, error) {
		return c.api.Query(ctx, q, at)
	})
	if err != nil {
		return nil, w, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, w, fmt.Errorf("%s: result is a %s, not a vector", what, typeOf(v))
	}
	return vec, w, nil
}

// QueryRange evaluates q over r. An answer that is not a matrix is an error.
func (c *Client) QueryRange(ctx context.Context, q string, r v1.Range) (model.Matrix, Warnings, error) {
	what := fmt.Sprintf("prometheus query_range %q [%s, %s, step %s] at %s", q,
		r.Start.UTC().Format(time.RFC3339Nano), r.End.UTC().Format(time.RFC3339Nano), r.Step, c.url)
	v, w, err := c.evaluate(ctx, what, func(ctx context.Context) (model.Value, v1.Warnings, v1.Infos, error) {
		return c.api.QueryRange(ctx, q, r)
	})
	if err != nil {
		return nil, w, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, w, fmt.Errorf("%s: result is a %s, not a matrix", what, typeOf(v))
	}
	return m, w, nil
}

// evaluate runs a query under the endpoint's retries. The warnings are the
// last attempt's, kept even when it failed.
func (c *Client) evaluate(ctx context.Context, what string, query func(ctx context.Context) (model.Value, v1.Warnings, v1.Infos, error)) (model.Value, Warnings, error) {
	var v model.Value
	var w Warnings
	err := c.endpoint.Retry(ctx, func(ctx context.Context) error {
		var warn v1.Warnings
		var info v1.Infos
		var err error
		v, warn, info, err = query(ctx)
		w = warnings(warn, info)
		return c.wrap(ctx, what, err)
	})
	return v, w, err
}

// ServerTime returns the backend's clock, read by evaluating time() without
// an evaluation time (so the server uses its own now, millisecond precision).
// Backends that cannot evaluate it are read from the HTTP Date header
// (second precision).
func (c *Client) ServerTime(ctx context.Context) (time.Time, error) {
	return retry(ctx, c, c.serverTime)
}

func (c *Client) serverTime(ctx context.Context) (time.Time, error) {
	what := "prometheus server time at " + c.url
	v, _, _, err := c.api.Query(ctx, "time()", time.Time{})
	if err == nil {
		if s, ok := v.(*model.Scalar); ok && !math.IsNaN(float64(s.Value)) {
			return time.UnixMilli(int64(math.Round(float64(s.Value) * 1000))), nil
		}
		err = fmt.Errorf("time() returned a %s", typeOf(v))
	}
	err = c.wrap(ctx, what, err)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout) || ctx.Err() != nil {
		return time.Time{}, err
	}
	t, dateErr := c.dateHeader(ctx)
	if dateErr != nil {
		return time.Time{}, fmt.Errorf("%w; Date header fallback: %w", err, dateErr)
	}
	return t, nil
}

func (c *Client) dateHeader(ctx context.Context) (time.Time, error) {
	u := c.endpoint.URL("/api/v1/status/buildinfo", nil).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := c.endpoint.Client().Do(req)
	if err != nil {
		return time.Time{}, collectors.WrapCallError(ctx, "GET "+collectors.Redact(u), err)
	}
	resp.Body.Close()
	// Only an answer the server meant counts: a 401 or 503 carries a Date
	// too, from a server that refused the question.
	if resp.StatusCode/100 != 2 {
		return time.Time{}, fmt.Errorf("GET %s: %s", collectors.Redact(u), resp.Status)
	}
	d := resp.Header.Get("Date")
	if d == "" {
		return time.Time{}, errors.New("no Date header in the answer")
	}
	return http.ParseTime(d)
}

// ClockOffset estimates how far the backend's clock is ahead of the local
// one (negative: behind), taking the middle of the round trip as the moment
// the server read its clock; rtt bounds the error.
func (c *Client) ClockOffset(ctx context.Context) (offset, rtt time.Duration, err error) {
	// Only the attempt that answered is timed: retries and their waits
	// would widen rtt and skew the midpoint.
	err = c.endpoint.Retry(ctx, func(ctx context.Context) error {
		t0 := time.Now()
		st, err := c.serverTime(ctx)
		t1 := time.Now()
		if err != nil {
			return err
		}
		rtt = t1.Sub(t0)
		offset = st.Sub(t0.Add(rtt / 2))
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return offset, rtt, nil
}

// BuildInfo returns the backend's /api/v1/status/buildinfo.
func (c *Client) BuildInfo(ctx context.Context) (v1.BuildinfoResult, error) {
	return retry(ctx, c, func(ctx context.Context) (v1.BuildinfoResult, error) {
		b, err := c.api.Buildinfo(ctx)
		return b, c.wrap(ctx, "prometheus buildinfo at "+c.url, err)
	})
}

// Alerts returns the alerts of Prometheus' own rule evaluation
// (/api/v1/alerts): pending and firing, with the time each became active, so
// "never pending" can be told from "pending, then reset".
func (c *Client) Alerts(ctx context.Context) ([]v1.Alert, error) {
	r, err := retry(ctx, c, func(ctx context.Context) (v1.AlertsResult, error) {
		r, err := c.api.Alerts(ctx)
		return r, c.wrap(ctx, "prometheus alerts at "+c.url, err)
	})
	return r.Alerts, err
}

// ScrapeInterval returns the global scrape_interval from
// /api/v1/status/config. When the backend does not serve its config (or it
// has none), it falls back to the median spacing of the raw samples of `up`
// over the last minute. Per-job intervals may differ from the global one.
func (c *Client) ScrapeInterval(ctx context.Context) (time.Duration, error) {
	d, cfgErr := c.configScrapeInterval(ctx)
	if cfgErr == nil {
		return d, nil
	}
	if ctx.Err() != nil {
		return 0, cfgErr
	}
	d, upErr := c.upSpacing(ctx)
	if upErr != nil {
		return 0, fmt.Errorf("prometheus scrape interval at %s: neither source worked: config: %w; fallback from samples of up: %w", c.url, cfgErr, upErr)
	}
	return d, nil
}

func (c *Client) configScrapeInterval(ctx context.Context) (time.Duration, error) {
	cfg, err := retry(ctx, c, func(ctx context.Context) (v1.ConfigResult, error) {
		cfg, err := c.api.Config(ctx)
		return cfg, c.wrap(ctx, "GET /api/v1/status/config", err)
	})
	if err != nil {
		return 0, err
	}
	var doc struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		} `yaml:"global"`
	}
	if err := yaml.Unmarshal([]byte(cfg.YAML), &doc); err != nil {
		return 0, fmt.Errorf("parsing config yaml: %w", err)
	}
	if doc.Global.ScrapeInterval == "" {
		return 0, errors.New("config has no global scrape_interval")
	}
	d, err := model.ParseDuration(doc.Global.ScrapeInterval)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("config global scrape_interval %q is not a positive duration", doc.Global.ScrapeInterval)
	}
	return time.Duration(d), nil
}

// upSpacing reads raw samples through an instant range-vector query: a
// query_range would resample them on its step grid and hide the real spacing.
func (c *Client) upSpacing(ctx context.Context) (time.Duration, error) {
	v, err := retry(ctx, c, func(ctx context.Context) (model.Value, error) {
		v, _, _, err := c.api.Query(ctx, "up[1m]", time.Time{})
		return v, c.wrap(ctx, `query "up[1m]"`, err)
	})
	if err != nil {
		return 0, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return 0, fmt.Errorf(`query "up[1m]" returned a %s, not a matrix`, typeOf(v))
	}
	var gaps []time.Duration
	for _, s := range m {
		for i := 1; i < len(s.Values); i++ {
			if g := s.Values[i].Timestamp.Sub(s.Values[i-1].Timestamp); g > 0 {
				gaps = append(gaps, g)
			}
		}
	}
	if len(gaps) == 0 {
		return 0, fmt.Errorf(`query "up[1m]" returned %d series with too few samples to measure an interval`, len(m))
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2], nil
}

// retry runs the idempotent call fn under the client's retry policy.
func retry[T any](ctx context.Context, c *Client, fn func(ctx context.Context) (T, error)) (T, error) {
	var out T
	err := c.endpoint.Retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = fn(ctx)
		return err
	})
	return out, err
}

// wrap maps client_golang's errors onto the shared sentinels.
func (c *Client) wrap(ctx context.Context, what string, err error) error {
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Type {
		case v1.ErrBadData:
			return fmt.Errorf("%s: %w: %s", what, ErrBadQuery, apiErr.Msg)
		case v1.ErrTimeout:
			return fmt.Errorf("%s: %w: the server's query timeout ran out: %s", what, ErrTimeout, apiErr.Msg)
		}
		if collectors.StatusOf(err) == 0 {
			return fmt.Errorf("%s: %s: %s", what, apiErr.Type, apiErr.Msg)
		}
	}
	return collectors.WrapCallError(ctx, what, err)
}

// statusClient turns non-2xx answers into errors that keep the HTTP status:
// client_golang parses error bodies only for 400 and 422, but Prometheus also
// answers timeouts and unavailability with a JSON error body and a 5xx, and a
// proxy in front of it answers with anything. 400/422 go to client_golang.
type statusClient struct{ api.Client }

func (c statusClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, body, err := c.Client.Do(ctx, req)
	if err != nil || resp.StatusCode/100 == 2 ||
		resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity {
		return resp, body, err
	}
	he := collectors.NewHTTPError(resp, body)
	var env struct {
		Status    string       `json:"status"`
		ErrorType v1.ErrorType `json:"errorType"`
		Error     string       `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Status == "error" && env.ErrorType != "" {
		return resp, body, &statusError{api: &v1.Error{Type: env.ErrorType, Msg: env.Error}, http: he}
	}
	return resp, body, he
}

// statusError is a Prometheus API error that came with a non-2xx status.
type statusError struct {
	api  *v1.Error
	http *collectors.HTTPError
}

func (e *statusError) Error() string {
	return fmt.Sprintf("http %d: %s: %s", e.http.Status, e.api.Type, e.api.Msg)
}

func (e *statusError) Unwrap() []error { return []error{e.api, e.http} }

func warnings(w v1.Warnings, i v1.Infos) Warnings {
	if len(w)+len(i) == 0 {
		return nil
	}
	out := make(Warnings, 0, len(w)+len(i))
	out = append(out, w...)
	return append(out, i...)
}

func typeOf(v model.Value) string {
	if v == nil {
		return "empty answer"
	}
	return v.Type().String()
}
