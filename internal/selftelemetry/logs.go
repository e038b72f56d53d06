package selftelemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/grafana/loki-client-go/loki"
	"github.com/grafana/loki-client-go/pkg/backoff"
	"github.com/grafana/loki-client-go/pkg/urlutil"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/meshdrill/meshdrill/expectations"
)

// LogJob is the job label of every line PushLogs sends.
const LogJob = "meshdrill"

// LogLine is one line PushLogs sends, JSON-encoded: one per drill (Type
// "drill") and one per expectation, the client row included (Type
// "expectation"). Msg repeats the gist for people reading raw lines; with
// VictoriaLogs, push with ?_msg_field=msg to make it the message.
type LogLine struct {
	Msg         string  `json:"msg"`
	Type        string  `json:"type"`
	RunID       string  `json:"run_id"`
	Suite       string  `json:"suite"`
	Drill       string  `json:"drill"`
	Kind        string  `json:"kind,omitempty"`
	Target      string  `json:"target,omitempty"`
	Signal      string  `json:"signal,omitempty"`
	Expectation string  `json:"expectation,omitempty"`
	Verdict     string  `json:"verdict"`
	Expected    string  `json:"expected,omitempty"`
	Got         string  `json:"got,omitempty"`
	Query       string  `json:"query,omitempty"`
	Window      string  `json:"window,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	Fix         string  `json:"fix,omitempty"`
	Elapsed     float64 `json:"elapsed_seconds,omitempty"`
	Requests    int     `json:"requests,omitempty"`
	// RequestIDs and TraceIDs let a reader jump from a drill's line to the
	// mesh's own logs and traces of the injected requests.
	RequestIDs []string `json:"request_ids,omitempty"`
	TraceIDs   []string `json:"trace_ids,omitempty"`
}

// LogLines returns the lines PushLogs sends, in order.
func LogLines(rep expectations.Report) []LogLine {
	var out []LogLine
	for _, d := range rep.Drills {
		dl := LogLine{
			Type: "drill", RunID: rep.RunID, Suite: rep.Suite, Drill: d.Name, Kind: d.Kind, Target: d.Target,
			Verdict: d.Verdict.String(), Requests: len(d.Injection.Requests),
		}
		for _, q := range d.Injection.Requests {
			if q.RequestID != "" {
				dl.RequestIDs = append(dl.RequestIDs, q.RequestID)
			}
			if q.TraceID != "" {
				dl.TraceIDs = append(dl.TraceIDs, q.TraceID)
			}
		}
		dl.Msg = fmt.Sprintf("%s drill %s (%s → %s)", dl.Verdict, d.Name, d.Kind, d.Target)
		out = append(out, dl)
		for _, r := range append([]expectations.Result{d.Client}, d.Results...) {
			el := LogLine{
				Type: "expectation", RunID: rep.RunID, Suite: rep.Suite, Drill: d.Name, Kind: d.Kind, Target: d.Target,
				Signal: r.Signal, Expectation: r.Name, Verdict: r.Verdict.String(),
				Expected: r.Expected, Got: r.Got, Query: r.Query, Window: r.Window, Reason: r.Reason, Fix: r.Fix,
			}
			if r.Elapsed > 0 {
				el.Elapsed = r.Elapsed.Seconds()
			}
			el.Msg = fmt.Sprintf("%s %s %s %s: expected %s, got %s", el.Verdict, d.Name, r.Signal, r.Name, r.Expected, r.Got)
			if r.Verdict == expectations.BlindSpot {
				el.Msg = fmt.Sprintf("%s %s %s %s: %s; fix: %s", el.Verdict, d.Name, r.Signal, r.Name, r.Reason, r.Fix)
			}
			out = append(out, el)
		}
	}
	return out
}

// PushLogs sends one JSON line per drill and per expectation (see LogLine)
// to Loki's push API at lokiURL (e.g. http://loki:3100/loki/api/v1/push),
// with labels {job="meshdrill", verdict="…"}. Lines are stamped with the
// run's finish time, a nanosecond apart to keep their order. It returns once
// every line was accepted, or with the error that made the push give up.
func PushLogs(ctx context.Context, lokiURL string, rep expectations.Report) error {
	const what = "push logs to loki"
	ep, err := parseEndpoint(what, lokiURL)
	if err != nil {
		return err
	}
	lines := LogLines(rep)
	if len(lines) == 0 {
		return nil
	}
	ctx, cancel := budget(ctx, what)
	defer cancel()

	cfg, err := loki.NewDefaultConfig(ep.url.String())
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, ep, err)
	}
	// One batch, sent when the client stops; a few quick retries rather than
	// promtail's eight and a half minutes.
	cfg.BatchWait = time.Hour
	cfg.BatchSize = 64 << 20
	cfg.BackoffConfig = backoff.BackoffConfig{MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second, MaxRetries: 4}
	if dl, ok := ctx.Deadline(); ok {
		cfg.Timeout = max(time.Until(dl), time.Second)
	}
	if ep.auth {
		cfg.Client.BasicAuth = &promconfig.BasicAuth{Username: ep.user, Password: promconfig.Secret(ep.pass)}
	}
	cfg.URL = urlutil.URLValue{URL: ep.url}

	sink := &errorLog{}
	client, err := loki.NewWithLogger(cfg, sink)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, ep, err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		base := rep.Finished
		if base.IsZero() {
			base = time.Now()
		}
		for i, l := range lines {
			b, err := json.Marshal(l)
			if err != nil { // cannot happen for strings and numbers
				sink.record(err)
				continue
			}
			labels := model.LabelSet{"job": LogJob, "verdict": model.LabelValue(l.Verdict)}
			_ = client.Handle(labels, base.Add(time.Duration(i)), string(b))
		}
		client.Stop() // flushes the batch, with retries
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		// The client's retries are bounded, so its goroutine ends on its own.
		return callError(ctx, fmt.Sprintf("%s %s", what, ep), ctx.Err())
	}
	if err := sink.err(); err != nil {
		return callError(ctx, fmt.Sprintf("%s %s", what, ep), err)
	}
	return nil
}

// errorLog turns the Loki client's error log lines into an error: the client
// reports a failed batch only by logging it.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorLog) record(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errorLog) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Join(e.errs...)
}

// Log implements go-kit's log.Logger. Warnings about retries are dropped:
// only the final outcome matters to the caller.
func (e *errorLog) Log(keyvals ...any) error {
	var level, msg string
	var cause any
	var status any
	for i := 0; i+1 < len(keyvals); i += 2 {
		switch fmt.Sprint(keyvals[i]) {
		case "level":
			level = fmt.Sprint(keyvals[i+1])
		case "msg":
			msg = fmt.Sprint(keyvals[i+1])
		case "error":
			cause = keyvals[i+1]
		case "status":
			status = keyvals[i+1]
		}
	}
	if level != "error" {
		return nil
	}
	var err error
	switch c := cause.(type) {
	case error:
		err = c
	case nil:
		err = errors.New(msg)
	default:
		err = fmt.Errorf("%v", c)
	}
	if status != nil && fmt.Sprint(status) != "-1" && !strings.Contains(err.Error(), fmt.Sprint(status)) {
		err = fmt.Errorf("status %v: %w", status, err)
	}
	e.record(fmt.Errorf("%s: %w", msg, err))
	return nil
}
