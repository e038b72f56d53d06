package lab

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFaults checks that each fault removes exactly its signal at the
// backend, and that the other signals are still there.
func TestFaults(t *testing.T) {
	tests := []struct {
		fault        string
		deniedStatus int  // what the forbidden identity gets
		metrics      bool // the forbidden request is in istio_requests_total
		accessLog    bool // its line (and the NR line) are in the file
		trace        bool // its trace is at the trace store
	}{
		{fault: "", deniedStatus: 403, metrics: true, accessLog: true, trace: true},
		{fault: FaultNoDenialMetrics, deniedStatus: 403, metrics: false, accessLog: true, trace: true},
		{fault: FaultNoAccessLog, deniedStatus: 403, metrics: true, accessLog: false, trace: true},
		{fault: FaultUnsampledTraces, deniedStatus: 403, metrics: true, accessLog: true, trace: false},
		{fault: FaultNoEnforcement, deniedStatus: 200, metrics: true, accessLog: true, trace: true},
	}
	for _, tt := range tests {
		name := tt.fault
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			var breaks []string
			if tt.fault != "" {
				breaks = []string{tt.fault}
			}
			l := startLab(t, breaks...)
			pay := l.Workloads["payments"]
			forbidden := forge(t, l, forbiddenID)
			allowed := forge(t, l, allowedID)

			denied := send(t, mtlsClient(t, l, pay, &forbidden), pay, "/api/charge")
			require.Equal(t, tt.deniedStatus, denied.status)
			control := send(t, mtlsClient(t, l, pay, &allowed), pay, "/api/charge")
			require.Equal(t, 200, control.status)
			client, _, _ := plaintext(t, pay)

			// Metrics: once a scrape shows the plaintext attempt (made last),
			// the same scrape holds whatever the requests produced.
			poll(t, "a scrape after the traffic", func() (int, bool) {
				v := instant(t, l, `envoy_listener_no_filter_chain_match{listener_address="0.0.0.0_15006"} == 1`)
				return len(v), len(v) == 1
			})
			deniedSeries := instant(t, l, `istio_requests_total{reporter="destination",source_principal="`+forbiddenID+`"}`)
			if tt.metrics {
				require.Len(t, deniedSeries, 1)
				assert.Equal(t, strconv.Itoa(tt.deniedStatus), string(deniedSeries[0].Metric["response_code"]))
				assert.Equal(t, 1.0, float64(deniedSeries[0].Value))
			} else {
				assert.Empty(t, deniedSeries, "the denial must not be counted")
			}
			assert.Len(t, instant(t, l, `istio_requests_total{source_principal="`+allowedID+`",response_code="200"}`), 1,
				"allowed requests are always counted")
			if tt.fault != FaultNoEnforcement {
				assert.Equal(t, 1.0, scrapedValue(t, pay, "envoy_http_inbound_0_0_0_0_8080_rbac_denied"))
			}

			// Access log.
			_, err := os.Stat(pay.AccessLogPath)
			require.NoError(t, err, "the access-log file exists in every case")
			lines := readLog(t, pay)
			if tt.accessLog {
				require.Len(t, linesWith(lines, denied.requestID), 1)
				require.Len(t, linesWith(lines, control.requestID), 1)
				require.Len(t, linesWith(lines, " NR filter_chain_not_found "), 1)
				assert.Contains(t, linesWith(lines, " NR filter_chain_not_found ")[0], " "+client+" ")
				if tt.fault == FaultNoEnforcement {
					assert.Contains(t, linesWith(lines, denied.requestID)[0], " 200 - via_upstream ")
				}
			} else {
				assert.Empty(t, lines)
			}

			// Traces.
			require.NoError(t, l.Flush(context.Background()))
			if tt.trace {
				for _, id := range []string{denied.traceID, control.traceID} {
					poll(t, "trace "+id, func() (int, bool) {
						c, _ := jaegerTrace(t, l, id)
						return c, c == 200
					})
				}
			} else {
				code, body := jaegerTrace(t, l, denied.traceID)
				assert.Equal(t, 404, code)
				assert.Nil(t, body["data"])
				code, _ = jaegerTrace(t, l, control.traceID)
				assert.Equal(t, 404, code)
				assert.Equal(t, 0, l.traces.SpanCount())
			}
		})
	}
}
