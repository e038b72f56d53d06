package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
)

func TestMarkdownTable(t *testing.T) {
	rep := sampleReport()
	rep.Drills[0].Name = "a|b"
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, rep))
	var rows []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "|") {
			rows = append(rows, line)
		}
	}
	require.Len(t, rows, 2+len(rep.Drills), "header, rule, one row per drill")
	for _, row := range rows {
		// A pipe in a drill name must not add a column.
		cells := strings.Count(strings.ReplaceAll(row, `\|`, ""), "|")
		assert.Equal(t, 9, cells, row)
	}
	assert.Contains(t, rows[2], `a\|b`)
}

func TestMarkdownAllPass(t *testing.T) {
	rep := sampleReport()
	rep.Drills = rep.Drills[4:5] // the control drill
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, rep))
	assert.Contains(t, buf.String(), "✅ PASS")
	assert.NotContains(t, buf.String(), "### Details")
	assert.Contains(t, buf.String(), "Every drill's evidence was found.")
}

func TestMdCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"up", "`up`"},
		{"a`b", "``a`b``"},
		{"`x`", "`` `x` ``"},
		{"two\nlines", "`two lines`"},
		{"", "(none)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, mdCode(tt.in))
		})
	}
}

func TestMarkdownRawFence(t *testing.T) {
	rep := expectations.Report{Drills: []expectations.DrillResult{{Name: "d", Verdict: expectations.Fail,
		Results: []expectations.Result{{Signal: "logs", Name: "n", Verdict: expectations.Fail, Raw: "a\n````\nb"}}}}}
	var buf bytes.Buffer
	require.NoError(t, Markdown(&buf, rep))
	assert.Contains(t, buf.String(), "`````\na\n````\nb\n`````")
}
