package selftelemetry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/expectations"
)

// ServiceName is the service.name of every span ExportTrace sends.
const ServiceName = "meshdrill"

// scope names the code that made the spans.
var scope = instrumentation.Scope{Name: "github.com/meshdrill/meshdrill/internal/selftelemetry"}

// Span attribute keys.
const (
	AttrRunID     = attribute.Key("meshdrill.run_id")
	AttrSuite     = attribute.Key("meshdrill.suite")
	AttrDrill     = attribute.Key("meshdrill.drill")
	AttrKind      = attribute.Key("meshdrill.kind")
	AttrTarget    = attribute.Key("meshdrill.target")
	AttrVerdict   = attribute.Key("meshdrill.verdict")
	AttrRequests  = attribute.Key("meshdrill.requests")
	AttrUntraced  = attribute.Key("meshdrill.requests_without_trace_id")
	AttrRequestID = attribute.Key("meshdrill.request_id")
	AttrOutcome   = attribute.Key("meshdrill.outcome")
	AttrMatch     = attribute.Key("meshdrill.match")
	AttrSourceAdr = attribute.Key("meshdrill.source_address")
	AttrSignal    = attribute.Key("meshdrill.signal")
	AttrExpected  = attribute.Key("meshdrill.expected")
	AttrGot       = attribute.Key("meshdrill.got")
	AttrQuery     = attribute.Key("meshdrill.query")
)

// Spans builds the spans ExportTrace sends:
//
//   - "meshdrill run": the root of a new trace, from the run's start to its end;
//   - "drill NAME": one child of the run span per drill, with an event per
//     expectation (signal, name, verdict, expected, got);
//   - "inject KIND": one span per injected request, in the trace of the very
//     trace id the request carried in its traceparent, from send to response.
//
// A request span lives in another trace than its drill span, and a parent
// must share its child's trace, so the two are tied by links both ways:
// from the drill span a trace UI leads to each request's trace, where the
// mesh's own spans of that request are. Requests without a valid trace id get
// no span; the drill span counts them.
func Spans(rep expectations.Report) tracetest.SpanStubs {
	res := resource.NewSchemaless(semconv.ServiceName(ServiceName))
	runTrace := newTraceID()
	run := tracetest.SpanStub{
		Name:        "meshdrill run",
		SpanContext: spanContext(runTrace, newSpanID()),
		SpanKind:    trace.SpanKindInternal,
		StartTime:   rep.Started,
		EndTime:     rep.Finished,
		Attributes: []attribute.KeyValue{
			AttrRunID.String(rep.RunID), AttrSuite.String(rep.Suite),
			AttrVerdict.String(expectations.Worst(rep.Verdicts()...).String()),
		},
		Status:               status(expectations.Worst(rep.Verdicts()...)),
		Resource:             res,
		InstrumentationScope: scope,
	}
	stubs := tracetest.SpanStubs{run}
	for _, d := range rep.Drills {
		start, end, injected := drillTimes(rep, d)
		ds := tracetest.SpanStub{
			Name:        "drill " + d.Name,
			SpanContext: spanContext(runTrace, newSpanID()),
			Parent:      run.SpanContext,
			SpanKind:    trace.SpanKindInternal,
			StartTime:   start,
			EndTime:     end,
			Attributes: []attribute.KeyValue{
				AttrRunID.String(rep.RunID), AttrDrill.String(d.Name), AttrKind.String(d.Kind),
				AttrTarget.String(d.Target), AttrVerdict.String(d.Verdict.String()),
				AttrRequests.Int(len(d.Injection.Requests)),
			},
			Status:               status(d.Verdict),
			Resource:             res,
			InstrumentationScope: scope,
		}
		for _, r := range append([]expectations.Result{d.Client}, d.Results...) {
			at := injected
			if r.Elapsed > 0 {
				at = injected.Add(r.Elapsed)
			}
			attrs := []attribute.KeyValue{
				AttrSignal.String(r.Signal), AttrVerdict.String(r.Verdict.String()),
				AttrExpected.String(r.Expected), AttrGot.String(r.Got),
			}
			if r.Query != "" {
				attrs = append(attrs, AttrQuery.String(r.Query))
			}
			ds.Events = append(ds.Events, sdktrace.Event{Name: r.Signal + " " + r.Name, Time: at, Attributes: attrs})
		}
		var requests tracetest.SpanStubs
		untraced := 0
		for _, q := range d.Injection.Requests {
			tid, ok := parseTraceID(q.TraceID)
			if !ok {
				untraced++
				continue
			}
			// The request span takes the span id the injector sent in the
			// traceparent, so the mesh's server spans become its children.
			sid, ok := parseSpanID(q.SpanID)
			if !ok {
				sid = newSpanID()
			}
			rs := tracetest.SpanStub{
				Name:        "inject " + d.Kind,
				SpanContext: spanContext(tid, sid),
				SpanKind:    trace.SpanKindClient,
				StartTime:   q.Sent,
				EndTime:     q.Done,
				Attributes: []attribute.KeyValue{
					AttrRunID.String(rep.RunID), AttrDrill.String(d.Name), AttrKind.String(d.Kind),
					AttrTarget.String(d.Target), AttrRequestID.String(q.RequestID),
					AttrOutcome.String(q.Outcome), AttrMatch.String(string(q.Match)),
				},
				Links:                []sdktrace.Link{{SpanContext: ds.SpanContext}},
				Resource:             res,
				InstrumentationScope: scope,
			}
			if q.Status > 0 {
				rs.Attributes = append(rs.Attributes, semconv.HTTPResponseStatusCode(q.Status))
			}
			if q.SourceAddr != "" {
				rs.Attributes = append(rs.Attributes, AttrSourceAdr.String(q.SourceAddr))
			}
			switch q.Match {
			case expectations.LetThrough:
				rs.Status = sdktrace.Status{Code: codes.Error, Description: "let through: the bad request was not blocked"}
			case expectations.Matched:
			default:
				rs.Status = sdktrace.Status{Code: codes.Error, Description: "unexpected client outcome: " + q.Outcome}
			}
			ds.Links = append(ds.Links, sdktrace.Link{SpanContext: rs.SpanContext, Attributes: []attribute.KeyValue{AttrRequestID.String(q.RequestID)}})
			requests = append(requests, rs)
		}
		if untraced > 0 {
			ds.Attributes = append(ds.Attributes, AttrUntraced.Int(untraced))
		}
		stubs = append(stubs, ds)
		stubs = append(stubs, requests...)
	}
	return stubs
}

// ExportTrace sends the run as a trace (see Spans) to an OTLP/HTTP
// receiver. otlpEndpoint is the receiver's base URL (http://collector:4318),
// to which /v1/traces is added, or the full traces URL ending in /v1/traces.
// The standard OTEL_EXPORTER_OTLP_* environment variables apply for what the
// URL does not say (headers, certificates).
func ExportTrace(ctx context.Context, otlpEndpoint string, rep expectations.Report) error {
	const what = "export trace over otlp"
	ep, err := parseEndpoint(what, otlpEndpoint)
	if err != nil {
		return err
	}
	u := *ep.url
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	ctx, cancel := budget(ctx, what)
	defer cancel()

	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}
	if ep.auth {
		cred := base64.StdEncoding.EncodeToString([]byte(ep.user + ":" + ep.pass))
		opts = append(opts, otlptracehttp.WithHeaders(map[string]string{"Authorization": "Basic " + cred}))
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, otlptracehttp.WithTimeout(max(time.Until(dl), time.Second)))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, collectors.Redact(u.String()), err)
	}
	err = exp.ExportSpans(ctx, Spans(rep).Snapshots())
	if serr := exp.Shutdown(ctx); err == nil {
		err = serr
	}
	if err != nil {
		return callError(ctx, fmt.Sprintf("%s %s", what, collectors.Redact(u.String())), err)
	}
	return nil
}

// drillTimes returns a drill's span: from its first request (else the run's
// start) to its last response plus its longest wait for evidence, and when
// the injection ended, which is what expectations' Elapsed counts from.
func drillTimes(rep expectations.Report, d expectations.DrillResult) (start, end, injected time.Time) {
	for _, q := range d.Injection.Requests {
		if !q.Sent.IsZero() && (start.IsZero() || q.Sent.Before(start)) {
			start = q.Sent
		}
		if q.Done.After(injected) {
			injected = q.Done
		}
	}
	if start.IsZero() {
		start = rep.Started
	}
	if injected.IsZero() {
		injected = start
	}
	end = injected
	for _, r := range d.Results {
		if t := injected.Add(r.Elapsed); t.After(end) {
			end = t
		}
	}
	if end.Before(start) {
		end = start
	}
	return start, end, injected
}

// parseTraceID accepts the trace id forms collectors.NormalizeTraceID does.
func parseTraceID(s string) (trace.TraceID, bool) {
	if s == "" {
		return trace.TraceID{}, false
	}
	hex, err := collectors.NormalizeTraceID(s)
	if err != nil {
		return trace.TraceID{}, false
	}
	tid, err := trace.TraceIDFromHex(hex)
	return tid, err == nil
}

func spanContext(tid trace.TraceID, sid trace.SpanID) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

func newTraceID() trace.TraceID {
	var id trace.TraceID
	for !id.IsValid() {
		_, _ = rand.Read(id[:])
	}
	return id
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		_, _ = rand.Read(id[:])
	}
	return id
}

// status marks a span as an error when its verdict needs attention. A
// BLIND_SPOT is a known gap, not an error of this run.
func status(v expectations.Verdict) sdktrace.Status {
	switch v {
	case expectations.Pass, expectations.BlindSpot:
		return sdktrace.Status{Code: codes.Ok}
	}
	return sdktrace.Status{Code: codes.Error, Description: v.String()}
}

func parseSpanID(s string) (trace.SpanID, bool) {
	id, err := trace.SpanIDFromHex(s)
	return id, err == nil && id.IsValid()
}
