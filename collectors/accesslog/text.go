package accesslog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// textField describes one field of a TEXT format: its Envoy command (for
// error messages), whether Envoy's format quotes it, and where it goes.
type textField struct {
	name   string
	quoted bool
	set    func(*Entry, string) error
}

// istioTextFormat is Istio's default TEXT access-log format (meshConfig
// accessLogEncoding TEXT, no accessLogFormat), after [%START_TIME%].
var istioTextFormat = []textField{
	{"REQ(:METHOD) REQ(X-ENVOY-ORIGINAL-PATH?:PATH) PROTOCOL", true, setRequestLine},
	{"RESPONSE_CODE", false, setResponseCode},
	{"RESPONSE_FLAGS", false, str(func(e *Entry) *string { return &e.ResponseFlags })},
	{"RESPONSE_CODE_DETAILS", false, str(func(e *Entry) *string { return &e.ResponseCodeDetails })},
	{"CONNECTION_TERMINATION_DETAILS", false, str(func(e *Entry) *string { return &e.ConnectionTerminationDetails })},
	{"UPSTREAM_TRANSPORT_FAILURE_REASON", true, str(func(e *Entry) *string { return &e.UpstreamTransportFailureReason })},
	{"BYTES_RECEIVED", false, count(func(e *Entry) *int64 { return &e.BytesReceived })},
	{"BYTES_SENT", false, count(func(e *Entry) *int64 { return &e.BytesSent })},
	{"DURATION", false, setDuration},
	{"RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)", false, str(func(e *Entry) *string { return &e.UpstreamServiceTime })},
	{"REQ(X-FORWARDED-FOR)", true, str(func(e *Entry) *string { return &e.XForwardedFor })},
	{"REQ(USER-AGENT)", true, str(func(e *Entry) *string { return &e.UserAgent })},
	{"REQ(X-REQUEST-ID)", true, str(func(e *Entry) *string { return &e.RequestID })},
	{"REQ(:AUTHORITY)", true, str(func(e *Entry) *string { return &e.Authority })},
	{"UPSTREAM_HOST", true, str(func(e *Entry) *string { return &e.UpstreamHost })},
	{"UPSTREAM_CLUSTER", false, str(func(e *Entry) *string { return &e.UpstreamCluster })},
	{"UPSTREAM_LOCAL_ADDRESS", false, str(func(e *Entry) *string { return &e.UpstreamLocalAddress })},
	{"DOWNSTREAM_LOCAL_ADDRESS", false, str(func(e *Entry) *string { return &e.DownstreamLocalAddress })},
	{"DOWNSTREAM_REMOTE_ADDRESS", false, str(func(e *Entry) *string { return &e.DownstreamRemoteAddress })},
	{"REQUESTED_SERVER_NAME", false, str(func(e *Entry) *string { return &e.RequestedServerName })},
	{"ROUTE_NAME", false, str(func(e *Entry) *string { return &e.RouteName })},
}

// envoyTextFormat is Envoy's own default format (no format configured), after
// [%START_TIME%].
var envoyTextFormat = []textField{
	istioTextFormat[0], istioTextFormat[1], istioTextFormat[2], // request line, code, flags
	istioTextFormat[6], istioTextFormat[7], istioTextFormat[8], istioTextFormat[9], // bytes, duration, upstream time
	istioTextFormat[10], istioTextFormat[11], istioTextFormat[12], istioTextFormat[13], istioTextFormat[14],
}

// ParseIstioText parses one line in Istio's default TEXT format:
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
//
// Unquoted fields end at a space, so brackets and braces inside a token
// (rbac_access_denied_matched_policy[ns[foo]-policy[x]-rule[0]]) stay one
// field; a quoted field ends at a quote followed by a space or the end of the
// line, so a stray quote inside a User-Agent does not shift the fields. A
// line whose [START_TIME] prefix was cut off parses with a zero Start.
// Errors name the field that did not fit.
func ParseIstioText(line string) (Entry, error) {
	var e Entry
	err := parseText(&e, line, istioTextFormat, "istio default format")
	return e, err
}

// ParseEnvoyText parses one line in Envoy's default TEXT format (what Envoy
// writes when no format is configured): the Istio fields up to
// %UPSTREAM_HOST% minus the details, termination and transport-failure ones.
func ParseEnvoyText(line string) (Entry, error) {
	var e Entry
	err := parseText(&e, line, envoyTextFormat, "envoy default format")
	return e, err
}

// parseText fills *e (zeroed on error). It writes through a pointer so that
// a scan can reuse one Entry for every line instead of allocating one each.
func parseText(e *Entry, line string, format []textField, formatName string) error {
	raw := strings.TrimRight(line, "\r\n")
	*e = newEntry(raw)
	var buf [maxFields]token
	start, toks, err := splitText(raw, format, buf[:])
	if err != nil {
		*e = Entry{}
		return fmt.Errorf("access log (%s): %w", formatName, err)
	}
	if start != "" {
		t, err := time.Parse(time.RFC3339Nano, start)
		if err != nil {
			*e = Entry{}
			return fmt.Errorf("access log (%s): field START_TIME: %q is not an RFC 3339 time", formatName, start)
		}
		e.Start = t
	}
	for i, f := range format {
		if err := f.set(e, toks[i].text); err != nil {
			*e = Entry{}
			return fmt.Errorf("access log (%s): field %d %s: %w", formatName, i+1, f.name, err)
		}
	}
	return nil
}

// maxFields is at least the number of fields of every TEXT format.
const maxFields = 24

type token struct {
	text   string
	quoted bool
}

// maxBacktrack bounds the search for another reading of ambiguous quotes.
const maxBacktrack = 256

// splitText cuts a TEXT line into its optional [start] and exactly the
// fields of format. Envoy does not escape quotes inside quoted fields, and
// headers such as User-Agent are client-controlled, so a quote followed by a
// space may not end its field: when the first reading does not fit the
// format, other endings are tried (bounded), guided by which fields the format
// quotes. Errors describe the first reading.
// buf, when large enough, holds the tokens, so a caller can keep them off
// the heap.
func splitText(s string, format []textField, buf []token) (start string, toks []token, err error) {
	s = trimBlank(s)
	if strings.HasPrefix(s, "[") {
		end := indexBlank(s)
		if end < 0 {
			end = len(s)
		}
		if s[end-1] != ']' {
			return "", nil, fmt.Errorf("field START_TIME: no closing ']' in %q", clip(s[:end]))
		}
		start, s = s[1:end-1], s[end:]
		if start == "" {
			return "", nil, fmt.Errorf("field START_TIME: empty")
		}
	}
	toks, err = greedy(s, len(format), buf[:0])
	if err == nil {
		err = checkQuoting(toks, format)
	}
	if err != nil {
		budget := maxBacktrack
		if alt, ok := search(s, format, make([]token, 0, len(format)), &budget); ok {
			return start, alt, nil
		}
		return "", nil, err
	}
	return start, toks, nil
}

// greedy tokenises s taking the first possible end of each quoted field,
// appending to toks.
func greedy(s string, want int, toks []token) ([]token, error) {
	for {
		s = trimBlank(s)
		if s == "" {
			break
		}
		var end int
		if s[0] == '"' {
			end = firstQuoteEnd(s)
			if end < 0 {
				return nil, fmt.Errorf("field %d: unterminated quote in %q", len(toks)+1, clip(s))
			}
			toks = append(toks, token{text: s[1:end], quoted: true})
			s = s[end+1:]
			continue
		}
		end = indexBlank(s)
		if end < 0 {
			end = len(s)
		}
		toks = append(toks, token{text: s[:end]})
		s = s[end:]
	}
	if len(toks) != want {
		return nil, fmt.Errorf("got %d fields after the start time, want %d", len(toks), want)
	}
	return toks, nil
}

func checkQuoting(toks []token, format []textField) error {
	for i, f := range format {
		if toks[i].quoted != f.quoted {
			want := "quoted"
			if !f.quoted {
				want = "unquoted"
			}
			return fmt.Errorf("field %d %s: want %s, got %q", i+1, f.name, want, toks[i].text)
		}
	}
	return nil
}

// search finds a tokenisation of s that fits format exactly.
func search(s string, format []textField, toks []token, budget *int) ([]token, bool) {
	*budget--
	if *budget < 0 {
		return nil, false
	}
	s = trimBlank(s)
	k := len(toks)
	if k == len(format) || s == "" {
		return toks, k == len(format) && s == ""
	}
	if !format[k].quoted {
		if s[0] == '"' {
			return nil, false
		}
		end := indexBlank(s)
		if end < 0 {
			end = len(s)
		}
		return search(s[end:], format, append(toks, token{text: s[:end]}), budget)
	}
	if s[0] != '"' {
		return nil, false
	}
	for _, end := range quoteEnds(s) {
		if out, ok := search(s[end+1:], format, append(toks, token{text: s[1:end], quoted: true}), budget); ok {
			return out, true
		}
	}
	return nil, false
}

// trimBlank and indexBlank are strings.TrimLeft(s, " \t") and
// strings.IndexAny(s, " \t") without building a character set per call:
// they run for every field of every line.
func trimBlank(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

func indexBlank(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			return i
		}
	}
	return -1
}

// firstQuoteEnd is quoteEnds(s)[0] without listing the others, or -1: the
// common case of every line, so it must not walk the rest of the line.
func firstQuoteEnd(s string) int {
	for i := 1; i < len(s); {
		j := strings.IndexByte(s[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t' {
			return i
		}
		i++
	}
	return -1
}

// quoteEnds lists the quotes that may end the quoted field opening s: those
// followed by a space, a tab or the end of the line.
func quoteEnds(s string) []int {
	var ends []int
	for i := 1; i < len(s); i++ {
		if s[i] == '"' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t') {
			ends = append(ends, i)
		}
	}
	return ends
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func setRequestLine(e *Entry, v string) error {
	// The path may hold spaces; method and protocol cannot.
	method, rest, ok1 := strings.Cut(v, " ")
	i := strings.LastIndexByte(rest, ' ')
	if !ok1 || i < 0 {
		return fmt.Errorf("want %q, got %q", "METHOD PATH PROTOCOL", v)
	}
	e.Method = dash(method)
	e.Protocol = dash(rest[i+1:])
	e.Path = dash(rest[:i])
	return nil
}

func setResponseCode(e *Entry, v string) error {
	if v == "-" {
		return nil
	}
	n, err := parseCount(v)
	if err != nil || n > 999 {
		return fmt.Errorf("%q is not an HTTP status code", v)
	}
	e.ResponseCode = int(n)
	return nil
}

func setDuration(e *Entry, v string) error {
	if v == "-" {
		return nil
	}
	n, err := parseCount(v)
	if err != nil {
		return err
	}
	e.Duration = time.Duration(n) * time.Millisecond
	return nil
}

func count(field func(*Entry) *int64) func(*Entry, string) error {
	return func(e *Entry, v string) error {
		if v == "-" {
			return nil
		}
		n, err := parseCount(v)
		if err != nil {
			return err
		}
		*field(e) = n
		return nil
	}
}

func parseCount(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil && n >= 0 {
		return n, nil
	}
	// Typed JSON encoders may print integral numbers as floats.
	if f, ferr := strconv.ParseFloat(v, 64); ferr == nil && f >= 0 && f == float64(int64(f)) {
		return int64(f), nil
	}
	return 0, fmt.Errorf("%q is not a non-negative integer", v)
}

func str(field func(*Entry) *string) func(*Entry, string) error {
	return func(e *Entry, v string) error {
		*field(e) = dash(v)
		return nil
	}
}

func dash(v string) string {
	if v == "-" {
		return ""
	}
	return v
}
