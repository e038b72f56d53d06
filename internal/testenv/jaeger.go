package testenv

import (
	"fmt"
	"net"
	"testing"
)

// Jaeger is a running Jaeger v2 all-in-one with in-memory storage.
type Jaeger struct {
	// QueryURL serves the UI, /api/traces/{id} and /api/v3/traces/{id}.
	QueryURL string
	// OTLPHTTPURL is the OTLP/HTTP receiver's base URL (traces at +"/v1/traces").
	OTLPHTTPURL string
	// OTLPGRPCAddr is the OTLP/gRPC receiver's host:port.
	OTLPGRPCAddr string
	Process      *Process
}

// jaegerYAML is a loopback-only all-in-one configuration: the defaults bind the query
// service on every interface, and Jaeger would trace its own query calls.
const jaegerYAML = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: basic
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[1]s
    logs:
      level: info
extensions:
  jaeger_query:
    enable_tracing: false
    http:
      endpoint: %[2]s
    grpc:
      endpoint: %[3]s
    storage:
      traces: mem
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
  healthcheckv2:
    use_v2: true
    http:
      endpoint: %[4]s
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[5]s
      http:
        endpoint: %[6]s
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// StartJaeger starts Jaeger v2 (built by scripts/install-backends.sh jaeger) on free
// loopback ports, waits until its health check and query API answer, and stops it when
// the test ends.
func StartJaeger(t testing.TB) *Jaeger {
	t.Helper()
	bin := Binary(t, "jaeger")
	confDir := t.TempDir()
	var j *Jaeger
	StartServer(t, "jaeger", func() (*Process, string) {
		a := FreeAddrs(t, 6)
		metrics, queryHTTP, queryGRPC, health, otlpGRPC, otlpHTTP := a[0], a[1], a[2], a[3], a[4], a[5]
		_, metricsPort, _ := net.SplitHostPort(metrics)
		text := fmt.Sprintf(jaegerYAML, metricsPort, queryHTTP, queryGRPC, health, otlpGRPC, otlpHTTP)
		confPath := writeFile(t, confDir, "jaeger.yaml", text)
		p := Start(t, bin, []string{"--config=" + confPath})
		j = &Jaeger{
			QueryURL:     "http://" + queryHTTP,
			OTLPHTTPURL:  "http://" + otlpHTTP,
			OTLPGRPCAddr: otlpGRPC,
			Process:      p,
		}
		return p, "http://" + health + "/status"
	})
	j.Process.WaitHTTP(t, j.QueryURL+"/api/services", readyTimeout)
	return j
}
