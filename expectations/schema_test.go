package expectations

import (
	"os"
	"path/filepath"
	"testing"

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
