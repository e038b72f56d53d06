package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxResponseBody bounds what Endpoint reads from one answer, so a runaway
// backend cannot exhaust memory.
const MaxResponseBody = 64 << 20

// Endpoint is a backend's base URL plus the client that calls it: the
// plumbing the JSON-over-HTTP collectors (Jaeger, Loki, Alertmanager, …) share.
type Endpoint struct {
	name   string
	base   *url.URL
	client *http.Client
	retry  RetryPolicy
}

// NewEndpoint checks rawURL (http or https, with a host) and builds the client
// from o. name (e.g. "jaeger") prefixes every error.
func NewEndpoint(name, rawURL string, o HTTPOptions) (*Endpoint, error) {
	u, err := ParseBaseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c, err := NewHTTPClient(o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Endpoint{name: name, base: u, client: c, retry: o.retryPolicy(name)}, nil
}

// ParseBaseURL validates a backend base URL. Its errors never echo secrets.
func ParseBaseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the whole input, password included.
		return nil, fmt.Errorf("invalid url %q", Redact(rawURL))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url %q: scheme must be http or https", Redact(rawURL))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url %q has no host", Redact(rawURL))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// URL joins p (already escaped, starting with "/") to the base URL's path and
// sets the query.
func (e *Endpoint) URL(p string, q url.Values) *url.URL {
	u := *e.base
	u.RawPath = ""
	u.Path = e.base.Path + p
	u.RawQuery = q.Encode()
	return &u
}

// Client is the HTTP client configured from the options.
func (e *Endpoint) Client() *http.Client { return e.client }

// Get fetches p with the query q and returns the body of a 2xx answer. Other
// answers become *HTTPError; all errors go through WrapCallError. A GET is
// idempotent, so failures IsRetryable accepts are retried (see Retry) under
// the options' RetryPolicy.
func (e *Endpoint) Get(ctx context.Context, p string, q url.Values) ([]byte, error) {
	var body []byte
	err := e.Retry(ctx, func(ctx context.Context) error {
		var err error
		body, err = e.get(ctx, p, q)
		return err
	})
	return body, err
}

// Retry runs the idempotent call fn under the endpoint's RetryPolicy (see
// the function Retry), for collectors that call the backend through a
// client of their own on top of Client.
func (e *Endpoint) Retry(ctx context.Context, fn func(ctx context.Context) error) error {
	return Retry(ctx, e.retry, fn)
}

func (e *Endpoint) get(ctx context.Context, p string, q url.Values) ([]byte, error) {
	u := e.URL(p, q)
	what := fmt.Sprintf("%s GET %s", e.name, Redact(u.String()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, WrapCallError(ctx, what, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, WrapCallError(ctx, what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, WrapCallError(ctx, what, fmt.Errorf("reading response: %w", err))
	}
	if len(body) > MaxResponseBody {
		return nil, WrapCallError(ctx, what, fmt.Errorf("response larger than %d bytes", MaxResponseBody))
	}
	if resp.StatusCode/100 != 2 {
		return body, WrapCallError(ctx, what, NewHTTPError(resp, body))
	}
	return body, nil
}

// LookupTrace is the by-id lookup the trace backends share: traceID is
// normalised (see NormalizeTraceID) and fetched from path(id); a 404 or an
// answer without spans wraps ErrTraceNotFound; a span of another trace in the
// answer is an error. decode turns the body into spans (and warnings).
func (e *Endpoint) LookupTrace(ctx context.Context, traceID string, path func(id string) string, decode func(body []byte) (*Trace, error)) (*Trace, error) {
	id, err := NormalizeTraceID(traceID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	what := fmt.Sprintf("%s trace %s at %s", e.name, id, Redact(e.base.String()))
	body, err := e.Get(ctx, path(id), nil)
	if StatusOf(err) == http.StatusNotFound {
		return nil, fmt.Errorf("%s: %w", what, ErrTraceNotFound)
	}
	if err != nil {
		return nil, err
	}
	tr, err := decode(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(tr.Spans) == 0 {
		return nil, fmt.Errorf("%s: %w (no spans in the answer)", what, ErrTraceNotFound)
	}
	for _, s := range tr.Spans {
		if s.TraceID != id {
			return nil, fmt.Errorf("%s: the answer holds a span of trace %s", what, s.TraceID)
		}
	}
	tr.ID = id
	return tr, nil
}

// StatusOf returns the HTTP status of an *HTTPError in err's chain, or 0.
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}
