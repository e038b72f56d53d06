package lab

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// spanBatchDelay is short so a drill finds its spans within a poll or two,
// like a proxy configured for low export latency.
const spanBatchDelay = 100 * time.Millisecond

// newTracerProvider builds a sidecar's tracer: OTLP/HTTP export to the lab's
// trace store, and a sampler that follows the incoming traceparent. A request
// without a sampled parent is not traced, which keeps the lab deterministic
// (Istio would sample a random share of them). With the unsampled-traces
// fault the sidecar samples nothing, whatever the parent says.
func newTracerProvider(ctx context.Context, otlpURL, serviceName string, unsampled bool) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(otlpURL),
		otlptracehttp.WithInsecure(),
		otlptracehttp.WithTimeout(5*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("create otlp exporter: %w", err)
	}
	var sampler sdktrace.Sampler = sdktrace.ParentBased(sdktrace.NeverSample())
	if unsampled {
		sampler = sdktrace.NeverSample()
	}
	res := resource.NewSchemaless(attribute.String("service.name", serviceName))
	return sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(res),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(spanBatchDelay)),
	), nil
}
