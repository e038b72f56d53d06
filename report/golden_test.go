package report

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden pins every renderer's output for a report covering every
// verdict. Run `go test ./report -update` after an intended change and review
// the diff.
func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		render func(io.Writer, expectations.Report) error
		file   string
	}{
		{"json", JSON, "report.json.golden"},
		{"junit", JUnit, "report.junit.golden"},
		{"markdown", Markdown, "report.md.golden"},
		{"console", func(w io.Writer, r expectations.Report) error { return Console(w, r, ConsoleOptions{}) }, "report.console.golden"},
		{"console-color", func(w io.Writer, r expectations.Report) error { return Console(w, r, ConsoleOptions{Color: true}) }, "report.console-color.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tt.render(&buf, sampleReport()))
			path := filepath.Join("testdata", tt.file)
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "golden file missing: run go test ./report -update")
			assert.Equal(t, string(want), buf.String())
		})
	}
}

// TestRenderersEmptyReport: a run with no drills (everything filtered out by
// --run) still renders a valid document in every format.
func TestRenderersEmptyReport(t *testing.T) {
	for name, render := range renderers {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, render(&buf, expectations.Report{Suite: "empty", RunID: "r0"}))
			assert.NotEmpty(t, buf.String())
		})
	}
}

// failWriter fails every write, like a full disk.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestRenderersReportWriteErrors(t *testing.T) {
	for name, render := range renderers {
		t.Run(name, func(t *testing.T) {
			err := render(failWriter{}, sampleReport())
			require.ErrorIs(t, err, os.ErrClosed)
		})
	}
}
