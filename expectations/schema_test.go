package expectations

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The schema shipped for editors is generated from the loader's types; this
// test fails when they drift (regenerate with -update).
func TestSuiteSchemaInSync(t *testing.T) {
	got, err := SuiteSchema()
	require.NoError(t, err)
	path := filepath.Join("..", "docs", "suite.schema.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./expectations -run TestSuiteSchemaInSync -update")
	assert.JSONEq(t, string(want), string(got))
}

// Every suite that loads also validates against the shipped schema, so an
// editor never flags a valid suite.
func TestGoodSuitesValidateAgainstSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docs", "suite.schema.json"))
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("suite.schema.json", doc))
	sch, err := c.Compile("suite.schema.json")
	require.NoError(t, err)
	files, _ := filepath.Glob(filepath.Join("testdata", "good", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join("..", "examples", "*", "*.yaml"))
	files = append(files, more...)
	require.NotEmpty(t, more)
	for _, f := range files {
		if strings.HasSuffix(f, ".rules.yml") {
			continue
		}
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var v any
			require.NoError(t, yaml.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &v))
			j, err := json.Marshal(v)
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
			require.NoError(t, err)
			assert.NoError(t, sch.Validate(inst))
		})
	}
}
