package loki

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

var (
	start = time.Unix(1700000000, 0)
	end   = start.Add(time.Minute)
)

func rangeForm(q string, extra ...string) url.Values {
	v := url.Values{"query": {q}, "start": {"1700000000000000000"}, "end": {"1700000060000000000"}}
	for i := 0; i < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func newClient(t *testing.T, mocks ...collectorstest.Mock) *Client {
	t.Helper()
	f := collectorstest.NewFake(t, mocks...)
	c, err := New(f.URL(), collectors.HTTPOptions{Headers: map[string]string{"X-Scope-OrgID": "drills"}})
	require.NoError(t, err)
	return c
}

func TestQueryRangeStreamsFromCorpus(t *testing.T) {
	const q = `{test="test"} |= "super"`
	c := newClient(t, collectorstest.Mock{
		Method: "GET", Path: "/loki/api/v1/query_range", Form: rangeForm(q, "limit", "2", "direction", "forward"),
		Body: collectorstest.ReadCorpus(t, "loki_api/loki_query_range_streams_warnings_full_stats.json"),
	})
	res, err := c.QueryRange(context.Background(), RangeQuery{Query: q, Start: start, End: end, Limit: 2, Direction: "forward"})
	require.NoError(t, err)
	assert.Equal(t, "streams", res.Type)
	assert.Equal(t, []string{"this is a warning"}, res.Warnings)
	require.Len(t, res.Streams, 1)
	assert.Equal(t, map[string]string{"test": "test"}, res.Streams[0].Labels)
	assert.Equal(t, []Entry{
		{Time: time.Unix(0, 123456789012345), Line: "super line"},
		{Time: time.Unix(0, 123456789012346), Line: "super line with labels"},
	}, res.Streams[0].Entries)
	assert.True(t, res.LimitReached, "2 lines at limit 2: there may be more")
}

func TestQueryRangeCategorizedLabels(t *testing.T) {
	res, err := DecodeResponse(collectorstest.ReadCorpus(t, "loki_api/loki_query_range_streams_categorize_labels_structured_metadata.json"))
	require.NoError(t, err)
	e := res.Streams[0].Entries
	require.Len(t, e, 3)
	assert.Nil(t, e[0].StructuredMetadata)
	assert.Equal(t, map[string]string{"foo": "a", "bar": "b"}, e[1].StructuredMetadata)
	assert.Equal(t, map[string]string{"msg": "text"}, e[2].Parsed)
}

func TestQueryRangeMatrixFromCorpus(t *testing.T) {
	const q = `sum by (filename) (rate({job="varlogs"}[1m]))`
	c := newClient(t, collectorstest.Mock{
		Path: "/loki/api/v1/query_range", Form: rangeForm(q, "step", "0.5"),
		Body: collectorstest.ReadCorpus(t, "loki_api/loki_query_range_matrix_warnings_full_stats.json"),
	})
	res, err := c.QueryRange(context.Background(), RangeQuery{Query: q, Start: start, End: end, Step: 500 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, "matrix", res.Type)
	require.Len(t, res.Matrix, 2)
	assert.Equal(t, model.LabelValue("/var/hostlog/syslog"), res.Matrix[1].Metric["filename"])
	require.Len(t, res.Matrix[1].Values, 2)
	assert.Equal(t, model.SampleValue(4.45), res.Matrix[1].Values[1].Value)
	assert.Equal(t, model.Time(1568404331339), res.Matrix[1].Values[1].Timestamp, "sub-second timestamps")
	assert.False(t, res.LimitReached)
}

func TestDecodeRejectsDocExamples(t *testing.T) {
	for _, f := range []string{
		"loki_api/loki_docs_query_range_streams_stats_elided_DOC_INVALID_JSON.json",
		"loki_api/loki_docs_query_range_matrix_rate_by_level_stats_elided_DOC_INVALID_JSON.json",
	} {
		_, err := DecodeResponse(collectorstest.ReadCorpus(t, f))
		assert.ErrorContains(t, err, "decoding loki answer", f)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, body, wantErr string }{
		{"error status", `{"status":"error","error":"boom"}`, `loki answered status "error": boom`},
		{"unknown type", `{"status":"success","data":{"resultType":"scalar","result":[]}}`, `unknown result type "scalar"`},
		{"bad tuple", `{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["1"]]}]}}`, "got 1 elements"},
		{"bad time", `{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["yesterday","x"]]}]}}`, "not unix nanoseconds"},
		{"numeric time", `{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[[1,"x"]]}]}}`, "time:"},
		{"bad matrix", `{"status":"success","data":{"resultType":"matrix","result":[{"values":[["x"]]}]}}`, "decoding loki matrix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeResponse([]byte(tt.body))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestQueryRangeErrors(t *testing.T) {
	t.Run("loki rejects the query", func(t *testing.T) {
		c := newClient(t, collectorstest.Mock{Path: "/loki/api/v1/query_range", Status: 400,
			Body: []byte("parse error at line 1, col 15: syntax error: unexpected IDENTIFIER")})
		_, err := c.QueryRange(context.Background(), RangeQuery{Query: `{app="x"} |= foo`, Start: start, End: end})
		require.ErrorIs(t, err, collectors.ErrBadQuery)
		assert.Contains(t, err.Error(), "unexpected IDENTIFIER")
		assert.False(t, collectors.IsRetryable(err))
	})
	t.Run("checked before any call", func(t *testing.T) {
		c := newClient(t)
		_, err := c.QueryRange(context.Background(), RangeQuery{Query: `{app="x"`, Start: start, End: end})
		require.ErrorIs(t, err, collectors.ErrBadQuery)
		_, err = c.QueryRange(context.Background(), RangeQuery{Query: `{app="x"}`, Direction: "sideways"})
		require.ErrorContains(t, err, "want forward or backward")
	})
	t.Run("too many outstanding requests", func(t *testing.T) {
		c := newClient(t, collectorstest.Mock{Path: "/loki/api/v1/query_range", Status: 429, Body: []byte("too many outstanding requests")})
		_, err := c.QueryRange(context.Background(), RangeQuery{Query: `{app="x"}`, Start: start, End: end})
		require.Error(t, err)
		assert.True(t, collectors.IsRetryable(err))
	})
}

func TestCheckLogQL(t *testing.T) {
	tests := []struct{ q, wantErr string }{
		{`{app="x"}`, ""},
		{`{namespace="drill", app=~"target.*"} |= "rbac_access_denied" | json | line_format "{{.msg}}"`, ""},
		{"{app=`x`} |~ `\\d+ \"` ", ""},
		{`sum by (code) (count_over_time({app="x"} |= "\"quoted\"" [5m]))`, ""},
		{``, "empty query"},
		{`{app="x"`, `'{' at col 1 is never closed`},
		{`{app="x"}}`, `unbalanced '}' at col 10`},
		{`sum(count_over_time({app="x"}[5m)))`, `unbalanced ')' at col 33`},
		{`{app="x} |= "y"`, "unterminated string starting at col 15"},
		{`rate([5m])`, "no stream selector"},
		{`{}`, "no stream selector"},
		{`{app}`, "no stream selector"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			err := CheckLogQL(tt.q)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func FuzzDecodeResponse(f *testing.F) {
	for _, b := range collectorstest.CorpusSeeds("loki_api/*.json") {
		f.Add(b)
	}
	f.Add([]byte(`{"status":"success","data":{"resultType":"streams","result":[{"stream":{"a":"b"},"values":[["1","x",{"parsed":{"k":"v"}}]]}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = DecodeResponse(body)
	})
}

func FuzzCheckLogQL(f *testing.F) {
	f.Add(`{app="x"} |= "y"`)
	f.Add("sum(rate({a=`b`}[1m]))")
	f.Fuzz(func(t *testing.T, q string) {
		_ = CheckLogQL(q)
	})
}
