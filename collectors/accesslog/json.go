package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// jsonFields maps Istio's JSON access-log keys (accessLogEncoding JSON) to
// their setters, which take the value as text.
var jsonFields = map[string]func(*Entry, string) error{
	"start_time":                          setStart,
	"method":                              str(func(e *Entry) *string { return &e.Method }),
	"path":                                str(func(e *Entry) *string { return &e.Path }),
	"protocol":                            str(func(e *Entry) *string { return &e.Protocol }),
	"response_code":                       setResponseCode,
	"response_flags":                      str(func(e *Entry) *string { return &e.ResponseFlags }),
	"response_code_details":               str(func(e *Entry) *string { return &e.ResponseCodeDetails }),
	"connection_termination_details":      str(func(e *Entry) *string { return &e.ConnectionTerminationDetails }),
	"upstream_transport_failure_reason":   str(func(e *Entry) *string { return &e.UpstreamTransportFailureReason }),
	"downstream_transport_failure_reason": str(func(e *Entry) *string { return &e.DownstreamTransportFailureReason }),
	"bytes_received":                      count(func(e *Entry) *int64 { return &e.BytesReceived }),
	"bytes_sent":                          count(func(e *Entry) *int64 { return &e.BytesSent }),
	"duration":                            setDuration,
	"upstream_service_time":               str(func(e *Entry) *string { return &e.UpstreamServiceTime }),
	"x_forwarded_for":                     str(func(e *Entry) *string { return &e.XForwardedFor }),
	"user_agent":                          str(func(e *Entry) *string { return &e.UserAgent }),
	"request_id":                          str(func(e *Entry) *string { return &e.RequestID }),
	"authority":                           str(func(e *Entry) *string { return &e.Authority }),
	"upstream_host":                       str(func(e *Entry) *string { return &e.UpstreamHost }),
	"upstream_cluster":                    str(func(e *Entry) *string { return &e.UpstreamCluster }),
	"upstream_local_address":              str(func(e *Entry) *string { return &e.UpstreamLocalAddress }),
	"downstream_local_address":            str(func(e *Entry) *string { return &e.DownstreamLocalAddress }),
	"downstream_remote_address":           str(func(e *Entry) *string { return &e.DownstreamRemoteAddress }),
	"requested_server_name":               str(func(e *Entry) *string { return &e.RequestedServerName }),
	"route_name":                          str(func(e *Entry) *string { return &e.RouteName }),
}

// jsonKeys orders jsonFields so that errors are deterministic.
var jsonKeys = slices.Sorted(maps.Keys(jsonFields))

// ParseJSON parses one JSON access-log record with Istio's keys. Values may
// be strings (Istio's default JSON encoding renders everything as strings)
// or typed (numbers, null); "-" and null both mean unset. Unknown keys (a
// custom format's extras such as grpc_status) are ignored, but a record with
// none of Istio's keys is an error, as is a known key holding an object.
func ParseJSON(line string) (Entry, error) {
	raw := strings.TrimRight(line, "\r\n")
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return Entry{}, fmt.Errorf("access log (json): %w", err)
	}
	if m == nil {
		return Entry{}, errors.New("access log (json): not an object")
	}
	e := newEntry(raw)
	known := 0
	for _, k := range jsonKeys {
		v, ok := m[k]
		if !ok {
			continue
		}
		set := jsonFields[k]
		known++
		text, present, err := jsonText(v)
		if err != nil {
			return Entry{}, fmt.Errorf("access log (json): field %q: %w", k, err)
		}
		if !present {
			continue
		}
		if err := set(&e, text); err != nil {
			return Entry{}, fmt.Errorf("access log (json): field %q: %w", k, err)
		}
	}
	if known == 0 {
		return Entry{}, errors.New("access log (json): none of the access-log keys (start_time, response_code, request_id, …) present")
	}
	return e, nil
}

// jsonText renders a scalar JSON value as the text a TEXT log would hold.
func jsonText(v json.RawMessage) (text string, present bool, err error) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", false, nil
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, err
		}
		return s, s != "-", nil
	case v[0] == '{' || v[0] == '[':
		return "", false, fmt.Errorf("want a string or number, got %s", clip(string(v)))
	}
	return string(v), true, nil // number or bool, as written
}

func setStart(e *Entry, v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time", v)
	}
	e.Start = t
	return nil
}

// Parse parses a JSON record (a line starting with '{') or a TEXT line in
// Istio's default format, or else Envoy's default format.
func Parse(line string) (Entry, error) {
	var e Entry
	err := parseInto(&e, line)
	return e, err
}

// parseInto is Parse writing into *e, which a scan reuses for every line.
func parseInto(e *Entry, line string) error {
	if strings.HasPrefix(trimBlank(line), "{") {
		var err error
		*e, err = ParseJSON(line)
		return err
	}
	err := parseText(e, line, istioTextFormat, "istio default format")
	if err == nil {
		return nil
	}
	if parseText(e, line, envoyTextFormat, "envoy default format") == nil {
		return nil
	}
	return err
}
