package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaV1JSON()))
	require.NoError(t, err)
	const url = "https://github.com/meshdrill/meshdrill/report/schema/report-v1.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time is only an annotation unless asserted
	require.NoError(t, c.AddResource(url, doc))
	sch, err := c.Compile(url)
	require.NoError(t, err)
	return sch
}

func TestJSONMatchesSchema(t *testing.T) {
	sch := compileSchema(t)
	tests := []struct {
		name string
		rep  expectations.Report
	}{
		{"every verdict", sampleReport()},
		{"no drills", expectations.Report{Suite: "empty", RunID: "r0", Started: t0, Finished: t0}},
		{"zero times", expectations.Report{Drills: []expectations.DrillResult{{Name: "d"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, JSON(&buf, tt.rep))
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
			require.NoError(t, err)
			assert.NoError(t, sch.Validate(inst))
		})
	}
}

// TestSchemaRejects proves the schema test can fail: documents a consumer
// must not accept are rejected.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	var buf bytes.Buffer
	require.NoError(t, JSON(&buf, sampleReport()))
	tests := []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"other schema", func(m map[string]any) { m["schema"] = "meshdrill.report/v2" }},
		{"unknown verdict", func(m map[string]any) { m["verdict"] = "MAYBE" }},
		{"extra field", func(m map[string]any) { m["surprise"] = true }},
		{"bad time", func(m map[string]any) { m["started"] = "yesterday" }},
		{"missing drills", func(m map[string]any) { delete(m, "drills") }},
		{"expectation without verdict", func(m map[string]any) {
			d := m["drills"].([]any)[0].(map[string]any)
			delete(d["expectations"].([]any)[0].(map[string]any), "verdict")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
			tt.mutate(m)
			b, err := json.Marshal(m)
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			require.NoError(t, err)
			assert.Error(t, sch.Validate(inst))
		})
	}
}

func TestJSONContent(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, JSON(&buf, sampleReport()))
	var doc struct {
		Schema          string
		Verdict         string
		DurationSeconds float64 `json:"duration_seconds"`
		Started         string
		Summary         struct{ Drills, Expectations map[string]int }
		Drills          []struct {
			Name     string
			Verdict  string
			Client   struct{ Verdict string }
			Requests struct {
				Total, Matched int
				LetThrough     int `json:"let_through"`
				Outcomes       []struct {
					Outcome, Match string
					Count          int
				}
				RequestIDs        []string `json:"request_ids"`
				TraceIDs          []string `json:"trace_ids"`
				FirstSent         *string  `json:"first_sent"`
				MaxLatencySeconds float64  `json:"max_latency_seconds"`
			}
			Expectations []struct {
				Signal, Name, Verdict, Raw, Reason, Fix string
				ElapsedSeconds                          *float64 `json:"elapsed_seconds"`
			}
		}
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
	assert.Equal(t, SchemaV1, doc.Schema)
	assert.Equal(t, "NOT_ENFORCED", doc.Verdict)
	assert.Equal(t, 14.25, doc.DurationSeconds)
	assert.Equal(t, "2025-03-14T09:26:53Z", doc.Started)
	assert.Equal(t, map[string]int{"PASS": 1, "FAIL": 1, "NOT_ENFORCED": 1, "BLIND_SPOT": 1, "ERROR": 2}, doc.Summary.Drills)
	require.Len(t, doc.Drills, 6)

	deny := doc.Drills[0]
	assert.Equal(t, "FAIL", deny.Verdict)
	assert.Equal(t, 3, deny.Requests.Total)
	assert.Len(t, deny.Requests.RequestIDs, 3)
	assert.Len(t, deny.Requests.TraceIDs, 3)
	assert.Equal(t, "md-run42-deny-frontend-0", deny.Requests.RequestIDs[0])
	assert.Equal(t, 0.012, deny.Requests.MaxLatencySeconds)
	require.NotNil(t, deny.Expectations[0].ElapsedSeconds)
	assert.Equal(t, 2.5, *deny.Expectations[0].ElapsedSeconds)
	assert.Contains(t, deny.Expectations[2].Raw, "missing:")

	leak := doc.Drills[1]
	assert.Equal(t, "NOT_ENFORCED", leak.Client.Verdict)
	assert.Equal(t, 1, leak.Requests.LetThrough)
	assert.Equal(t, 1, leak.Requests.Matched)
	require.Len(t, leak.Requests.Outcomes, 2)
	assert.Equal(t, "let-through", leak.Requests.Outcomes[0].Match)

	blind := doc.Drills[2].Expectations[0]
	assert.Equal(t, "BLIND_SPOT", blind.Verdict)
	assert.NotEmpty(t, blind.Reason)
	assert.NotEmpty(t, blind.Fix)
	assert.Nil(t, blind.ElapsedSeconds)

	none := doc.Drills[5].Requests
	assert.Equal(t, 0, none.Total)
	assert.Nil(t, none.FirstSent)
	assert.Equal(t, []string{}, none.RequestIDs)
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want float64
	}{
		{0, 0},
		{2500 * time.Millisecond, 2.5},
		{1234567891 * time.Nanosecond, 1.234568},
		{time.Hour, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			assert.Equal(t, tt.want, seconds(tt.d))
		})
	}
}
