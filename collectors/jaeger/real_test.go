package jaeger

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// TestAgainstRealJaeger exports spans over OTLP/HTTP to Jaeger v2 with trace
// ids of our choosing, as the injector's sampled traceparent makes the mesh
// do, and reads them back by id.
func TestAgainstRealJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Jaeger")
	}
	j := testenv.StartJaeger(t)
	ctx := context.Background()

	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(j.OTLPHTTPURL+"/v1/traces"))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "target.drill"))))
	defer func() { _ = tp.Shutdown(ctx) }()
	tracer := tp.Tracer("meshdrill-test")

	// A 128-bit id and one whose high half is zero (what 64-bit tracers send).
	ids := []string{"5b8efff798038103d269b633813fc700", "0000000000000000142ba98fb31b78d6"}
	for _, id := range ids {
		tid, err := trace.TraceIDFromHex(id)
		require.NoError(t, err)
		parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true})
		pctx := trace.ContextWithRemoteSpanContext(ctx, parent)
		_, denied := tracer.Start(pctx, "inbound|8080||", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.Int("http.status_code", 403), attribute.Bool("drill", true), attribute.Float64("ratio", 0.5)))
		denied.End()
		_, failed := tracer.Start(pctx, "upstream", trace.WithSpanKind(trace.SpanKindClient))
		failed.SetStatus(codes.Error, "upstream reset")
		failed.End()
	}

	c, err := New(j.QueryURL, collectors.HTTPOptions{Timeout: 5 * time.Second})
	require.NoError(t, err)

	for _, id := range ids {
		// Asked the short way: upper case, leading zeros dropped.
		tr := await(t, c, strings.ToUpper(strings.TrimLeft(id, "0")))
		assert.Equal(t, id, tr.ID)
		require.Len(t, tr.Spans, 2)
		byOp := map[string]Span{}
		for _, s := range tr.Spans {
			byOp[s.Operation] = s
			assert.Equal(t, id, s.TraceID)
			assert.Equal(t, "0100000000000000", s.ParentID, "the remote parent span id")
			assert.Equal(t, "target.drill", s.Service)
		}
		server := byOp["inbound|8080||"]
		assert.Equal(t, "server", server.Kind)
		assert.Equal(t, "403", server.Tags["http.status_code"], "int tag rendered as a string")
		assert.Equal(t, "true", server.Tags["drill"])
		assert.Equal(t, "0.5", server.Tags["ratio"])
		assert.False(t, server.StatusError, "a 403 server span has no error status")
		client := byOp["upstream"]
		assert.Equal(t, "client", client.Kind)
		assert.True(t, client.StatusError)
		assert.Equal(t, "ERROR", client.Tags["otel.status_code"])
	}

	_, err = c.Trace(ctx, "00000000000000000000000000000bad")
	require.ErrorIs(t, err, ErrNotFound, "real Jaeger's 404 shape")
}

// await polls until the trace is there: a span is queryable shortly after
// export, not at once.
func await(t *testing.T, c *Client, id string) *Trace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		tr, err := c.Trace(ctx, id)
		if err == nil && len(tr.Spans) >= 2 {
			return tr
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatalf("trace %s: %v", id, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("trace %s never appeared: %v", id, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
