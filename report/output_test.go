package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOutputSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    OutputSpec
		wantErr string
	}{
		{in: "json=report.json", want: OutputSpec{Format: "json", Path: "report.json"}},
		{in: "junit=out/junit.xml", want: OutputSpec{Format: "junit", Path: "out/junit.xml"}},
		{in: "markdown=-", want: OutputSpec{Format: "markdown", Path: "-"}},
		{in: "markdown", want: OutputSpec{Format: "markdown", Path: "-"}},
		{in: "json=a=b.json", want: OutputSpec{Format: "json", Path: "a=b.json"}},
		{in: "xml=r.xml", wantErr: `output "xml=r.xml": unknown format "xml": want one of json, junit, markdown`},
		{in: "=r.json", wantErr: `output "=r.json": missing format: want FORMAT=PATH with FORMAT one of json, junit, markdown`},
		{in: "json=", wantErr: `output "json=": empty path: give a file, or "-" for standard output`},
		{in: "JSON=r.json", wantErr: `unknown format "JSON"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOutputSpec(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "report.json")
	xmlPath := filepath.Join(dir, "junit.xml")
	// A previous report is replaced whole.
	require.NoError(t, os.WriteFile(jsonPath, bytes.Repeat([]byte("old "), 100000), 0o600))

	var stdout bytes.Buffer
	specs := []OutputSpec{{"json", jsonPath}, {"junit", xmlPath}, {"markdown", "-"}}
	require.NoError(t, WriteOutputsTo(&stdout, specs, sampleReport()))

	var want bytes.Buffer
	require.NoError(t, JSON(&want, sampleReport()))
	got, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))
	assert.True(t, json.Valid(got))
	st, err := os.Stat(jsonPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	want.Reset()
	require.NoError(t, JUnit(&want, sampleReport()))
	got, err = os.ReadFile(xmlPath)
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))

	want.Reset()
	require.NoError(t, Markdown(&want, sampleReport()))
	assert.Equal(t, want.String(), stdout.String())

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary files left behind")
}

func TestWriteOutputsErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		specs   []OutputSpec
		wantErr string
	}{
		{"same file twice", []OutputSpec{{"json", filepath.Join(dir, "r")}, {"junit", filepath.Join(dir, ".", "r")}}, "write to the same place"},
		{"stdout twice", []OutputSpec{{"json", "-"}, {"markdown", "-"}}, "write to the same place"},
		{"unknown format", []OutputSpec{{"yaml", filepath.Join(dir, "r")}}, `unknown format "yaml"`},
		{"missing directory", []OutputSpec{{"json", filepath.Join(dir, "nope", "r.json")}}, "create temporary file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := WriteOutputsTo(&stdout, tt.specs, sampleReport())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Empty(t, stdout.String(), "nothing written when the specs are bad")
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestCheckOutputs(t *testing.T) {
	dir := t.TempDir()
	assert.NoError(t, CheckOutputs([]OutputSpec{{"json", filepath.Join(dir, "r.json")}, {"markdown", "-"}}))
	assert.ErrorContains(t, CheckOutputs([]OutputSpec{{"json", filepath.Join(dir, "nope", "r.json")}}), "does not exist")
	assert.ErrorContains(t, CheckOutputs([]OutputSpec{{"json", dir}}), "is a folder")
	assert.ErrorContains(t, CheckOutputs([]OutputSpec{{"json", "-"}, {"junit", "-"}}), "same place")
	assert.ErrorContains(t, CheckOutputs([]OutputSpec{{"json", "/dev/null"}}), "not a regular file")
	victim := filepath.Join(dir, "victim.txt")
	require.NoError(t, os.WriteFile(victim, []byte("keep"), 0o600))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, "link.json")))
	assert.ErrorContains(t, CheckOutputs([]OutputSpec{{"json", filepath.Join(dir, "link.json")}}), "symlink")
	require.NoError(t, os.Symlink(dir, filepath.Join(dir, "alias")))
	assert.ErrorContains(t, CheckOutputs([]OutputSpec{{"json", filepath.Join(dir, "r.json")}, {"junit", filepath.Join(dir, "alias", "r.json")}}), "same place")
}

// TestWriteOutputsKeepsGoing: one unwritable output does not stop the others.
func TestWriteOutputsKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "r.json")
	err := WriteOutputsTo(&bytes.Buffer{}, []OutputSpec{{"junit", filepath.Join(dir, "missing", "j.xml")}, {"json", good}}, sampleReport())
	require.Error(t, err)
	assert.FileExists(t, good)
}

func FuzzParseOutputSpec(f *testing.F) {
	for _, s := range []string{"json=r.json", "markdown", "junit=-", "=x", "json=", "x=y=z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOutputSpec(s)
		if err != nil {
			return
		}
		assert.NotEmpty(t, o.Path)
		assert.Contains(t, Formats(), o.Format)
		again, err := ParseOutputSpec(o.String())
		require.NoError(t, err)
		assert.Equal(t, o, again)
	})
}
