package collectors

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultTranscriptBody is how much of each response body a transcript
// shows when HTTPOptions.TranscriptBody is 0: enough to recognise an answer
// or an error message, short enough to keep a debug run readable.
const DefaultTranscriptBody = 512

// transcriptMu serialises records from every client, which may share one
// writer (stderr) and run concurrently, so records never interleave.
var transcriptMu sync.Mutex

// writeTranscript writes one record in a single Write call.
func writeTranscript(w io.Writer, record string) {
	transcriptMu.Lock()
	defer transcriptMu.Unlock()
	_, _ = io.WriteString(w, record)
}

// secrets lists the credential values of o in every form they could take
// in a URL, an error or an echoed header, so a transcript can blank them out
// even where Redact and scrub would not recognise them.
func (o HTTPOptions) secrets() []string {
	var s []string
	if o.BearerToken != "" {
		s = append(s, o.BearerToken)
	}
	if o.BasicPassword != "" {
		s = append(s, o.BasicPassword)
	}
	if o.BasicUser != "" || o.BasicPassword != "" {
		s = append(s, base64.StdEncoding.EncodeToString([]byte(o.BasicUser+":"+o.BasicPassword)))
	}
	return s
}

// blank removes credentials from text meant for a transcript.
func blank(text string, secrets []string) string {
	return excerpt(text, len(text), secrets)
}

// excerpt returns the first limit bytes of text with credentials removed.
// Secrets are masked before the cut, so one that straddles it leaves no
// prefix behind; text must extend at least the longest secret past limit.
func excerpt(text string, limit int, secrets []string) string {
	for _, sec := range secrets {
		for _, form := range []string{sec, url.QueryEscape(sec)} {
			if form != "" {
				text = strings.ReplaceAll(text, form, strings.Repeat("\x00", len(form)))
			}
		}
	}
	if len(text) > limit {
		text = text[:limit]
	}
	return scrub(maskRE.ReplaceAllString(text, redacted))
}

// maskRE finds the runs excerpt masked.
var maskRE = regexp.MustCompile("\x00+")

// longest is the length of the longest form of any secret.
func longest(secrets []string) int {
	n := 0
	for _, s := range secrets {
		n = max(n, len(s), len(url.QueryEscape(s)))
	}
	return n
}

// retryPolicy is o.Retry, reporting its retry decisions to the transcript.
func (o HTTPOptions) retryPolicy(name string) RetryPolicy {
	p := o.Retry
	if o.Transcript == nil {
		return p
	}
	notify, secrets, w := p.Notify, o.secrets(), o.Transcript
	p.Notify = func(attempt int, wait time.Duration, err error) {
		writeTranscript(w, blank(fmt.Sprintf("%s: attempt %d failed, retrying in %s: %v\n",
			name, attempt, wait.Round(time.Millisecond), err), secrets))
		if notify != nil {
			notify(attempt, wait, err)
		}
	}
	return p
}

// transcriber records each request it passes on. It sits outside the
// round tripper that adds credentials, so it never holds them in headers;
// the values are still blanked from everything it writes.
type transcriber struct {
	next    http.RoundTripper
	w       io.Writer
	limit   int
	secrets []string
}

func newTranscriber(next http.RoundTripper, o HTTPOptions) *transcriber {
	limit := o.TranscriptBody
	if limit <= 0 {
		limit = DefaultTranscriptBody
	}
	return &transcriber{next: next, w: o.Transcript, limit: limit, secrets: o.secrets()}
}

func (t *transcriber) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	// Credentials in this URL count too: the backend may echo them.
	secrets := slices.Clone(t.secrets)
	if req.URL.User != nil {
		if pw, ok := req.URL.User.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	for name, values := range req.URL.Query() {
		if secretParam(name) {
			secrets = append(secrets, values...)
		}
	}
	head := req.Method + " " + Redact(req.URL.String())
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		writeTranscript(t.w, blank(fmt.Sprintf("http %s -> error after %s: %v\n", head, since(start), err), secrets))
		return nil, err
	}
	resp.Body = &transcriptBody{ReadCloser: resp.Body, t: t, head: head, status: resp.Status, start: start, secrets: secrets}
	return resp, nil
}

func since(t time.Time) time.Duration {
	d := time.Since(t)
	if d > time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// transcriptBody keeps the first bytes of a body as the caller reads it
// and writes the request's record when the body ends or is closed.
type transcriptBody struct {
	io.ReadCloser
	t       *transcriber
	head    string
	status  string
	start   time.Time
	secrets []string
	kept    []byte
	n       int64
	once    sync.Once
}

func (b *transcriptBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	// Keep enough past the limit that a secret straddling it is seen whole.
	if room := b.t.limit + longest(b.secrets) - len(b.kept); room > 0 {
		b.kept = append(b.kept, p[:min(n, room)]...)
	}
	switch {
	case err == io.EOF:
		b.record("")
	case err != nil:
		b.record(fmt.Sprintf(", reading the body failed: %v", err))
	}
	return n, err
}

func (b *transcriptBody) Close() error {
	err := b.ReadCloser.Close()
	b.record(" (closed before its end)")
	return err
}

func (b *transcriptBody) record(note string) {
	b.once.Do(func() {
		shown := excerpt(string(b.kept), b.t.limit, b.secrets)
		more := ""
		if b.n > int64(b.t.limit) {
			more = "…"
		}
		writeTranscript(b.t.w, blank(fmt.Sprintf("http %s -> %s, %d bytes in %s%s\n", b.head, b.status, b.n, since(b.start), note), b.secrets)+
			fmt.Sprintf("  body: %q%s\n", shown, more))
	})
}
