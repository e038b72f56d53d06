package collectors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// DefaultTimeout is the per-request budget when HTTPOptions.Timeout is zero,
// so that no call ever waits without a deadline.
const DefaultTimeout = 30 * time.Second

// HTTPOptions configures how a collector talks to its backend. Secrets are
// values here; reading them from env or files is the caller's business.
type HTTPOptions struct {
	Timeout                   time.Duration // per request, body included; 0 = DefaultTimeout
	BearerToken               string
	BasicUser, BasicPassword  string
	CAFile, CertFile, KeyFile string // PEM; CAFile replaces the system roots
	InsecureSkipVerify        bool
	Headers                   map[string]string // added to every request (e.g. X-Scope-OrgID)
	// Retry bounds the retries of idempotent calls (Endpoint.Get and the
	// Prometheus queries); the zero value is DefaultRetryPolicy, NoRetry
	// turns them off.
	Retry RetryPolicy
	// Transcript, when set (--debug), receives a record of every request:
	// method, redacted URL, status, duration and the start of the response
	// body, plus every retry decision. Credentials are never written.
	Transcript io.Writer
	// TranscriptBody is how many bytes of each response body the transcript
	// shows; 0 means DefaultTranscriptBody.
	TranscriptBody int
}

// NewHTTPClient returns a client whose every request carries the configured
// auth and headers and runs under o.Timeout (response body included); when
// that budget runs out the error is a *TimeoutError naming it. Redirects to
// another host are refused so credentials never leave the configured backend.
func NewHTTPClient(o HTTPOptions) (*http.Client, error) {
	if o.Timeout < 0 {
		return nil, fmt.Errorf("http options: negative timeout %s", o.Timeout)
	}
	if o.BearerToken != "" && (o.BasicUser != "" || o.BasicPassword != "") {
		return nil, errors.New("http options: bearer token and basic auth are mutually exclusive")
	}
	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tlsConfig
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var rt http.RoundTripper = &roundTripper{next: base, opts: o, timeout: timeout}
	if o.Transcript != nil {
		// Outermost, so that it records the errors callers see (the budget
		// that ran out) and never sees the credentials added inside.
		rt = newTranscriber(rt, o)
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: sameHostRedirects,
	}, nil
}

func (o HTTPOptions) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // opt-in for test clusters
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("http options: reading ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http options: ca file %q holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("http options: cert file and key file must be given together")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("http options: loading client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		return fmt.Errorf("refusing redirect to another origin %s", Redact(req.URL.String()))
	}
	return nil
}

type roundTripper struct {
	next    http.RoundTripper
	opts    HTTPOptions
	timeout time.Duration
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.timeout, &TimeoutError{
		URL: req.URL.String(), Budget: "request timeout", Limit: t.timeout,
	})
	// RoundTrip must not modify its argument: work on a copy.
	out := req.Clone(ctx)
	for k, v := range t.opts.Headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			out.Host = v
			continue
		}
		out.Header.Set(k, v)
	}
	switch {
	case t.opts.BearerToken != "":
		out.Header.Set("Authorization", "Bearer "+t.opts.BearerToken)
	case t.opts.BasicUser != "" || t.opts.BasicPassword != "":
		out.SetBasicAuth(t.opts.BasicUser, t.opts.BasicPassword)
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, budgetError(ctx, err)
	}
	resp.Body = &deadlineBody{ReadCloser: resp.Body, ctx: ctx, cancel: cancel}
	return resp, nil
}

// budgetError replaces a context error caused by our own timeout with the
// TimeoutError that names it; the caller's own cancellation passes through.
func budgetError(ctx context.Context, err error) error {
	var te *TimeoutError
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &te) {
		return te
	}
	return err
}

// deadlineBody keeps the request's budget running while the body is read and
// releases it on Close.
type deadlineBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	read   int64
}

// ErrBodyTooLarge ends the read of an answer longer than MaxResponseBody:
// every client, including client_golang's, reads through this cap, so a
// runaway or hostile backend cannot exhaust memory.
var ErrBodyTooLarge = fmt.Errorf("response larger than %d bytes", MaxResponseBody)

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.read >= MaxResponseBody {
		return 0, ErrBodyTooLarge
	}
	if rest := MaxResponseBody - b.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if err != nil && err != io.EOF {
		err = budgetError(b.ctx, err)
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
