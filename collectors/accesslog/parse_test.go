package accesslog

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func lines(t *testing.T, rel string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(string(collectorstest.ReadCorpus(t, rel)), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// withoutRaw drops Raw so expectations can be written as struct literals.
func withoutRaw(e Entry) Entry {
	e.Raw = ""
	return e
}

func TestParseIstioTextCorpus(t *testing.T) {
	tests := []struct {
		file string
		line int
		want Entry
	}{
		{"istio_access_log/istio_docs_418_httpbin_inbound.log", 0, Entry{
			Start: ts("2020-11-25T21:26:18.409Z"), Method: "GET", Path: "/status/418", Protocol: "HTTP/1.1",
			ResponseCode: 418, ResponseCodeDetails: "via_upstream", BytesReceived: 0, BytesSent: 135,
			Duration: 3 * time.Millisecond, UpstreamServiceTime: "1", UserAgent: "curl/7.73.0-DEV",
			RequestID: "84961386-6d84-929d-98bd-c5aee93b5c88", Authority: "httpbin:8000", UpstreamHost: "127.0.0.1:80",
			UpstreamCluster: "inbound|8000||", UpstreamLocalAddress: "127.0.0.1:41854", DownstreamLocalAddress: "10.44.1.27:80",
			DownstreamRemoteAddress: "10.44.1.23:37652", RequestedServerName: "outbound_.8000_._.httpbin.foo.svc.cluster.local",
			RouteName: "default",
		}},
		{"istio_access_log/istio_docs_418_sleep_outbound.log", 0, Entry{
			Start: ts("2020-11-25T21:26:18.409Z"), Method: "GET", Path: "/status/418", Protocol: "HTTP/1.1",
			ResponseCode: 418, ResponseCodeDetails: "via_upstream", BytesReceived: 0, BytesSent: 135,
			Duration: 4 * time.Millisecond, UpstreamServiceTime: "4", UserAgent: "curl/7.73.0-DEV",
			RequestID: "84961386-6d84-929d-98bd-c5aee93b5c88", Authority: "httpbin:8000", UpstreamHost: "10.44.1.27:80",
			UpstreamCluster: "outbound|8000||httpbin.foo.svc.cluster.local", UpstreamLocalAddress: "10.44.1.23:37652",
			DownstreamLocalAddress: "10.0.45.184:8000", DownstreamRemoteAddress: "10.44.1.23:46520", RouteName: "default",
		}},
		{"istio_access_log/istio_gloo_bgc_vm_403_rbac_access_denied_matched_policy_none.log", 0, Entry{
			Start: ts("2021-10-02T05:39:53.720Z"), Method: "GET", Path: "/api", Protocol: "HTTP/1.1",
			ResponseCode: 403, ResponseCodeDetails: "rbac_access_denied_matched_policy[none]", BytesReceived: 0, BytesSent: 19,
			Duration: 0, XForwardedFor: "172.17.0.1",
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.0 Safari/605.1.15",
			RequestID: "91dfed15-3288-469b-ad93-38a5a6af10f3", Authority: "34.93.158.36", UpstreamCluster: "inbound|8080||",
			DownstreamLocalAddress: "192.168.68.119:8080", DownstreamRemoteAddress: "172.17.0.1:0",
			RequestedServerName: "outbound_.8080_.version-canary_.blue-green-canary.vm-blue-green-canary.svc.cluster.local",
		}},
		{"istio_access_log/istio_issue29565_tls_failure_listener_log_after_removing_NR_filter.log", 0, Entry{
			Start: ts("2020-12-10T21:06:04.154Z"), BytesReceived: 0, BytesSent: 0, Duration: 14 * time.Millisecond,
			DownstreamLocalAddress: "10.244.0.50:8443", DownstreamRemoteAddress: "10.244.0.52:35008",
		}},
		{"istio_access_log/istio_issue45802_503_UC.log", 0, Entry{
			Method: "GET", Path: "/v1/status", Protocol: "HTTP/1.1", ResponseCode: 503, ResponseFlags: "UC",
			ResponseCodeDetails: "upstream_reset_before_response_started{connection_termination}", BytesReceived: 0, BytesSent: 95,
			Duration: 0, XForwardedFor: "10.90.16.220", UserAgent: "Apache-HttpClient/4.5.1 (Java/1.8.0_372)",
			RequestID: "3a7cbcc1-af72-47fb-bbac-a7672951f50f", Authority: "health.abc.com", UpstreamHost: "10.80.47.192:8181",
			UpstreamCluster: "outbound|80||health-api.production.svc.cluster.local", UpstreamLocalAddress: "10.80.45.233:37132",
			DownstreamLocalAddress: "10.80.45.233:80", DownstreamRemoteAddress: "10.80.46.220:59375",
		}},
		{"istio_access_log/istio_issue51982_plaintext_to_strict_NR_filter_chain_not_found.log", 0, Entry{
			Start: ts("2024-07-10T08:45:32.045Z"), ResponseFlags: "NR", ResponseCodeDetails: "filter_chain_not_found",
			BytesReceived: 0, BytesSent: 0, Duration: 2 * time.Millisecond,
			DownstreamLocalAddress: "10.10.123.120:27017", DownstreamRemoteAddress: "10.12.129.6:51244",
		}},
		{"istio_access_log/istio_issue51982_plaintext_to_strict_NR_filter_chain_not_found.log", 8, Entry{
			Start: ts("2024-07-10T08:45:32.994Z"), BytesReceived: 614, BytesSent: 0, Duration: 56 * time.Millisecond,
			UpstreamHost: "10.12.129.6:30003", UpstreamCluster: "PassthroughCluster", UpstreamLocalAddress: "10.10.123.120:40442",
			DownstreamLocalAddress: "10.12.129.6:30003", DownstreamRemoteAddress: "10.10.123.120:40440",
		}},
		{"istio_access_log/istio_pr52886_hbone_connect_refused.log", 0, Entry{
			Start: ts("2024-08-27T20:00:10.142Z"), ResponseFlags: "UF,URX",
			UpstreamTransportFailureReason: "delayed_connect_error:_Connection_refused", BytesReceived: 0, BytesSent: 0, Duration: 0,
			UpstreamHost: "10.244.0.17:15008", UpstreamCluster: "connect_originate", DownstreamLocalAddress: "10.244.0.17:80",
			DownstreamRemoteAddress: "envoy://internal_client_address/",
		}},
		{"istio_access_log/istio_pr52886_hbone_connect_refused.log", 1, Entry{
			Start: ts("2024-08-27T20:00:10.142Z"), Method: "GET", Path: "/", Protocol: "HTTP/1.1", ResponseCode: 503, ResponseFlags: "UF",
			ResponseCodeDetails:            "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Invalid_argument}",
			UpstreamTransportFailureReason: "delayed_connect_error:_Invalid_argument", BytesReceived: 0, BytesSent: 165, Duration: 0,
			XForwardedFor: "10.244.0.1", UserAgent: "curl/8.9.1", RequestID: "58c0e2c6-fa7e-4a68-a4f1-3bae11113f7c",
			Authority: "172.18.0.101", UpstreamHost: "envoy://connect_originate/10.244.0.17:80",
			UpstreamCluster: "outbound|80||echo.default.svc.cluster.local", DownstreamLocalAddress: "10.244.0.7:8080",
			DownstreamRemoteAddress: "10.244.0.1:10858",
		}},
		{"istio_access_log/istio_pr52886_hbone_tls_cert_verify_failed.log", 0, Entry{
			Start: ts("2024-08-27T20:00:02.995Z"), ResponseFlags: "UF,URX",
			UpstreamTransportFailureReason: "TLS_error:|67108971:RSA_routines:OPENSSL_internal:BLOCK_TYPE_IS_NOT_01|67109000:RSA_routines:OPENSSL_internal:PADDING_CHECK_FAILED|184549382:X.509_certificate_routines:OPENSSL_internal:public_key_routines|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end",
			BytesReceived:                  0, BytesSent: 0, Duration: 3 * time.Millisecond, UpstreamHost: "10.244.0.17:15008",
			UpstreamCluster: "connect_originate", DownstreamLocalAddress: "10.244.0.17:80", DownstreamRemoteAddress: "envoy://internal_client_address/",
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file)+"#"+strconv.Itoa(tt.line), func(t *testing.T) {
			line := lines(t, tt.file)[tt.line]
			got, err := ParseIstioText(line)
			require.NoError(t, err)
			assert.Equal(t, tt.want, withoutRaw(got))
			assert.Equal(t, line, got.Raw)
			viaParse, err := Parse(line)
			require.NoError(t, err)
			assert.Equal(t, got, viaParse)
		})
	}
}

func TestParsePlaintextNRLines(t *testing.T) {
	ls := lines(t, "istio_access_log/istio_issue51982_plaintext_to_strict_NR_filter_chain_not_found.log")
	nr := 0
	for _, l := range ls {
		e, err := ParseIstioText(l)
		require.NoError(t, err)
		if e.HasFlag("NR") {
			nr++
			assert.Equal(t, "filter_chain_not_found", e.ResponseCodeDetails)
			assert.Zero(t, e.ResponseCode)
			assert.Empty(t, e.RequestID, "connection lines carry no request id")
		}
	}
	assert.Equal(t, 9, nr)
}

func TestParseEnvoyDefaultFormat(t *testing.T) {
	line := lines(t, "envoy_access_log/envoy_docs_default_format_example.log")[0]
	want := Entry{
		Start: ts("2016-04-15T20:17:00.310Z"), Method: "POST", Path: "/api/v1/locations", Protocol: "HTTP/2",
		ResponseCode: 204, BytesReceived: 154, BytesSent: 0, Duration: 226 * time.Millisecond, UpstreamServiceTime: "100",
		XForwardedFor: "10.0.35.28", UserAgent: "nsq2http", RequestID: "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2",
		Authority: "locations", UpstreamHost: "tcp://10.0.2.1:80",
	}
	for name, parse := range map[string]func(string) (Entry, error){"ParseEnvoyText": ParseEnvoyText, "Parse": Parse} {
		t.Run(name, func(t *testing.T) {
			got, err := parse(line)
			require.NoError(t, err)
			assert.Equal(t, want, withoutRaw(got))
		})
	}
	_, err := ParseIstioText(line)
	require.ErrorContains(t, err, "got 12 fields after the start time, want 21")
}

func TestParseRejectsNonAccessLogCorpus(t *testing.T) {
	tests := []struct {
		file, wantErr string
	}{
		{"istio_access_log/istio_issue29565_debug_log_PEER_DID_NOT_RETURN_A_CERTIFICATE.log", "fields after the start time"},
		{"istio_access_log/envoy_issue44233_downstream_tls_protocol_version_failure_fields.txt", "fields after the start time"},
		{"istio_access_log/istio_default_text_format_unescaped_DERIVED.txt", `field START_TIME: "%START_TIME%" is not an RFC 3339 time`},
		{"istio_access_log/istio_default_text_format.txt", "fields after the start time"},
		{"istio_access_log/istio_gloo_bgc_http_403_RBAC_access_denied_response.txt", "fields after the start time"},
		{"envoy_access_log/envoy_default_format_string.txt", "unterminated quote"},
		{"envoy_access_log/envoy_response_flags_reference.txt", "fields after the start time"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			for _, l := range lines(t, tt.file) {
				_, err := Parse(l)
				require.Error(t, err, "line %q", l)
			}
			_, err := Parse(lines(t, tt.file)[0])
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestParseTextErrorsNameTheField(t *testing.T) {
	const good = `[2021-10-02T05:39:53.720Z] "GET /api HTTP/1.1" 403 - rbac_access_denied_matched_policy[ns[foo]-policy[x]-rule[0]] - "-" 0 19 0 - "172.17.0.1" "curl/8" "91dfed15" "h" "-" inbound|8080|| - 192.168.68.119:8080 172.17.0.1:0 - -`
	e, err := ParseIstioText(good)
	require.NoError(t, err)
	assert.Equal(t, "rbac_access_denied_matched_policy[ns[foo]-policy[x]-rule[0]]", e.ResponseCodeDetails, "nested brackets stay one token")
	assert.Equal(t, "91dfed15", e.RequestID)

	tests := []struct {
		name, line, wantErr string
	}{
		{"bad code", strings.Replace(good, "403", "4x3", 1), `field 2 RESPONSE_CODE: "4x3" is not an HTTP status code`},
		{"bad bytes", strings.Replace(good, " 0 19 0 ", " 0 nineteen 0 ", 1), `field 8 BYTES_SENT: "nineteen" is not a non-negative integer`},
		{"negative duration", strings.Replace(good, " 0 19 0 ", " 0 19 -5 ", 1), `field 9 DURATION`},
		{"bad time", strings.Replace(good, "2021-10-02T05", "yesterday", 1), "field START_TIME"},
		{"no closing bracket", "[2021-10-02T05:39:53.720Z " + good[26:], "no closing ']'"},
		{"unterminated quote", `[2021-10-02T05:39:53.720Z] "GET /api HTTP/1.1`, "field 1: unterminated quote"},
		{"request line", strings.Replace(good, `"GET /api HTTP/1.1"`, `"GET"`, 1), `field 1 REQ(:METHOD)`},
		{"missing field", strings.TrimSuffix(good, " -"), "got 20 fields"},
		{"extra field", good + " extra", "got 22 fields"},
		{"quote in wrong place", strings.Replace(good, `"-" 0 19`, `- 0 19`, 1), "field 6 UPSTREAM_TRANSPORT_FAILURE_REASON: want quoted"},
		{"empty", "", "got 0 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIstioText(tt.line)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParseTextQuoteInsideUserAgent(t *testing.T) {
	const line = `[2021-10-02T05:39:53.720Z] "GET /api HTTP/1.1" 200 - via_upstream - "-" 0 19 0 - "-" "evil "quoted" agent" "id-1" "h" "-" inbound|8080|| - 1.2.3.4:8080 5.6.7.8:9 - -`
	e, err := ParseIstioText(line)
	require.NoError(t, err)
	assert.Equal(t, `evil "quoted" agent`, e.UserAgent)
	assert.Equal(t, "id-1", e.RequestID)
}

func TestParseJSONCorpus(t *testing.T) {
	typed := compact(t, collectorstest.ReadCorpus(t, "istio_access_log/istio_issue55472_json_encoding_typed_null_values.json"))
	e, err := ParseJSON(typed)
	require.NoError(t, err)
	assert.Equal(t, Entry{
		Start: ts("2025-03-13T17:55:29.178Z"), Method: "GET", Path: "/api/v1/query?query=up%7Bnamespace%3D%22mongodb%22%7D",
		Protocol: "HTTP/1.1", ResponseCode: 200, ResponseCodeDetails: "via_upstream", BytesReceived: 0, BytesSent: 258,
		Duration: 13 * time.Millisecond, UpstreamServiceTime: "12", XForwardedFor: "127.0.0.6", UserAgent: "curl/7.76.1",
		RequestID: "04a8351f-8bee-46b7-b812-2d293b84902a", Authority: "prom-label-proxy.monitoring.svc.cluster.local:8080",
		UpstreamHost: "<PROMETHEUS-SVC-IP>:9090", UpstreamCluster: "PassthroughCluster", UpstreamLocalAddress: "<PLP-IP>:41376",
		DownstreamLocalAddress: "<PROMETHEUS-SVC-IP>:9090", DownstreamRemoteAddress: "127.0.0.6:0", RouteName: "allow_any",
	}, withoutRaw(e))

	old := lines(t, "istio_access_log/istio_issue17139_json_tcp_UF_URX.jsonl")
	e, err = Parse(old[0])
	require.NoError(t, err)
	assert.Equal(t, Entry{
		Start: ts("2019-09-17T09:21:42.869Z"), ResponseFlags: "UF,URX", BytesReceived: 0, BytesSent: 0,
		Duration: 10002 * time.Millisecond, UpstreamHost: "REDACTED_IP1:7600",
		UpstreamCluster:        "outbound|7600||keycloak-headless.our_ns.svc.cluster.local",
		DownstreamLocalAddress: "REDACTED_IP1:7600", DownstreamRemoteAddress: "REDACTED_IP2:45621",
	}, withoutRaw(e))
	assert.True(t, e.HasFlag("URX"))
	assert.False(t, e.HasFlag("UR"))

	listener := lines(t, "envoy_access_log/envoy_issue44233_listener_connection_log_json_WRONG_VERSION_NUMBER.jsonl")
	e, err = Parse(listener[0])
	require.NoError(t, err)
	assert.Equal(t, "TLS_error:|268435703:SSL_routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end", e.DownstreamTransportFailureReason)
	assert.Equal(t, "localhost", e.RequestedServerName)
	assert.Equal(t, time.Duration(-1), e.Duration, "duration_ms is not Istio's key: unset")

	dict := lines(t, "envoy_access_log/envoy_json_format_dictionary_example.jsonl")
	e, err = Parse(dict[0])
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1", e.Protocol)
	assert.Equal(t, 123*time.Millisecond, e.Duration)
}

// TestParseJSONSsup2Cases checks every record of the ssup2 set against a
// naive decode of the same JSON (all values are strings there).
func TestParseJSONSsup2Cases(t *testing.T) {
	dir := collectorstest.Corpus(t, "istio_access_log/ssup2_json_cases")
	files, err := filepath.Glob(filepath.Join(dir, "*.json*"))
	require.NoError(t, err)
	require.Len(t, files, 47)
	records := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rel := "istio_access_log/ssup2_json_cases/" + filepath.Base(f)
			var recs []string
			if strings.HasSuffix(f, ".jsonl") {
				recs = lines(t, rel)
			} else {
				recs = []string{compact(t, collectorstest.ReadCorpus(t, rel))}
			}
			for _, rec := range recs {
				records++
				var m map[string]string
				require.NoError(t, json.Unmarshal([]byte(rec), &m))
				e, err := Parse(rec)
				require.NoError(t, err)
				code, _ := strconv.Atoi(m["response_code"])
				assert.Equal(t, code, e.ResponseCode)
				assert.Equal(t, dash(m["response_flags"]), e.ResponseFlags)
				assert.Equal(t, dash(m["response_code_details"]), e.ResponseCodeDetails)
				assert.Equal(t, m["request_id"], e.RequestID)
				assert.Equal(t, m["start_time"], e.Start.Format("2006-01-02T15:04:05.000Z"))
				dur, _ := strconv.Atoi(m["duration"])
				assert.Equal(t, time.Duration(dur)*time.Millisecond, e.Duration)
				assert.Equal(t, dash(m["downstream_remote_address"]), e.DownstreamRemoteAddress)
				assert.Equal(t, dash(m["upstream_cluster"]), e.UpstreamCluster)
				assert.Equal(t, dash(m["requested_server_name"]), e.RequestedServerName)
			}
		})
	}
	assert.Equal(t, 91, records)

	// The README's facts, checked on the parsed values.
	one := func(name string) Entry {
		e, err := ParseJSON(compact(t, collectorstest.ReadCorpus(t, "istio_access_log/ssup2_json_cases/"+name)))
		require.NoError(t, err)
		return e
	}
	caller := one("http_L1864_upstream_timeout_case_shell_pod_access_log.json")
	callee := one("http_L1897_upstream_timeout_case_mock_server_pod_access_log.json")
	assert.Equal(t, []any{504, "UT", "response_timeout"}, []any{caller.ResponseCode, caller.ResponseFlags, caller.ResponseCodeDetails})
	assert.Equal(t, []any{0, "DC", "downstream_remote_disconnect"}, []any{callee.ResponseCode, callee.ResponseFlags, callee.ResponseCodeDetails})
	grpc := one("grpc_L2030_unavailable_case_shell_pod_access_log.json")
	assert.Equal(t, 200, grpc.ResponseCode, "gRPC failures are logged as HTTP 200")
	assert.True(t, grpc.HasFlag("UH"))
}

func TestParseJSONInvalid(t *testing.T) {
	bad := compact(t, collectorstest.ReadCorpus(t, "istio_access_log/ssup2_json_cases/http_L0668_upstream_tcp_rst_after_response_case_mock_server_pod_access_log.txt"))
	_, err := Parse(bad)
	require.ErrorContains(t, err, "access log (json): invalid character")

	tests := []struct{ name, line, wantErr string }{
		{"array", `[1,2]`, "cannot unmarshal array"},
		{"null", `null`, "not an object"},
		{"no known keys", `{"foo":"bar"}`, "none of the access-log keys"},
		{"object value", `{"response_code":{"x":1}}`, `field "response_code": want a string or number`},
		{"bad code", `{"response_code":"abc"}`, `field "response_code": "abc" is not an HTTP status code`},
		{"bad bytes", `{"bytes_sent":-3}`, `field "bytes_sent": "-3" is not a non-negative integer`},
		{"fractional duration", `{"duration":1.5}`, `field "duration"`},
		{"bad time", `{"start_time":"noon"}`, `field "start_time": "noon" is not an RFC 3339 time`},
		{"trailing garbage", `{"request_id":"a"} x`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJSON(tt.line)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParseJSONUnsetValues(t *testing.T) {
	e, err := ParseJSON(`{"request_id":"r","bytes_sent":"-","bytes_received":null,"duration":"-","response_code":"-","upstream_host":null,"start_time":"-"}`)
	require.NoError(t, err)
	assert.Equal(t, Entry{RequestID: "r", BytesReceived: -1, BytesSent: -1, Duration: -1}, withoutRaw(e))
	e, err = ParseJSON(`{"response_code":403.0,"bytes_sent":19,"duration":7,"upstream_service_time":5}`)
	require.NoError(t, err)
	assert.Equal(t, 403, e.ResponseCode)
	assert.Equal(t, "5", e.UpstreamServiceTime)
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		// Invalid JSON stays as it is, on one line, for negative tests.
		return strings.Join(strings.Fields(string(b)), " ")
	}
	return buf.String()
}

func FuzzParseIstioText(f *testing.F) {
	for _, b := range collectorstest.CorpusSeeds("istio_access_log/*.log") {
		for _, l := range strings.Split(string(b), "\n") {
			f.Add(l)
		}
	}
	f.Add(`[2021-10-02T05:39:53.720Z] "GET /api HTTP/1.1" 403 - rbac_access_denied_matched_policy[ns[foo]-policy[x]-rule[0]] - "-" 0 19 0 - "-" "curl" "id" "h" "-" inbound|8080|| - 1.2.3.4:8080 5.6.7.8:0 - -`)
	f.Add(`"- - -" 0 NR filter_chain_not_found - "-" 0 0 2 - "-" "-" "-" "-" "-" - - 10.10.123.120:27017 10.12.129.6:51244 - -`)
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseIstioText(line)
		if err != nil {
			return
		}
		if e.BytesSent < -1 || e.BytesReceived < -1 || e.Duration < -1 || e.ResponseCode < 0 {
			t.Fatalf("impossible values from %q: %+v", line, e)
		}
		if _, err := Parse(line); err != nil {
			t.Fatalf("ParseIstioText accepted %q but Parse did not: %v", line, err)
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, b := range collectorstest.CorpusSeeds("istio_access_log/*.json*") {
		for _, l := range strings.Split(string(b), "\n") {
			f.Add(l)
		}
	}
	for _, b := range collectorstest.CorpusSeeds("istio_access_log/ssup2_json_cases/*.json") {
		f.Add(string(b))
	}
	f.Add(`{"response_code":200,"bytes_sent":null,"duration":"-","request_id":"x"}`)
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseJSON(line)
		if err != nil {
			return
		}
		if e.BytesSent < -1 || e.BytesReceived < -1 || e.Duration < -1 || e.ResponseCode < 0 {
			t.Fatalf("impossible values from %q: %+v", line, e)
		}
	})
}

// FuzzFirstQuoteEnd holds the fast path to the general one it replaces.
func FuzzFirstQuoteEnd(f *testing.F) {
	f.Add(`"a" b`)
	f.Add(`"a"b" c`)
	f.Add(`"x`)
	f.Add("\"a\"\t\"")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || s[0] != '"' {
			return
		}
		want := -1
		if ends := quoteEnds(s); len(ends) > 0 {
			want = ends[0]
		}
		if got := firstQuoteEnd(s); got != want {
			t.Fatalf("firstQuoteEnd(%q) = %d, want %d", s, got, want)
		}
	})
}
