// Package examples_test checks the example suites: each one loads the way
// `meshdrill check` loads it, with its ${VARS} set to dummy values, and
// each variable it uses is explained in its comments. e2e/proxies runs the
// edge suites against real nginx, HAProxy and Caddy.
package examples_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/internal/wire"
)

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// dummy is a value of the right shape for a variable, judged by its name.
func dummy(name string) string {
	switch {
	case strings.HasSuffix(name, "_URL"):
		return "http://127.0.0.1:9"
	case strings.HasSuffix(name, "_ADDR"), strings.HasSuffix(name, "_METRICS"):
		return "127.0.0.1:9"
	}
	return filepath.Join("dummy", strings.ToLower(name))
}

func suites(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			out = append(out, p)
		}
		return err
	}))
	require.NotEmpty(t, out)
	return out
}

func TestExampleSuitesLoad(t *testing.T) {
	for _, path := range suites(t) {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			var comments strings.Builder
			for _, line := range strings.Split(string(data), "\n") {
				if i := strings.Index(line, "#"); i >= 0 {
					comments.WriteString(line[i:] + "\n")
				}
			}
			for _, m := range varRef.FindAllStringSubmatch(string(data), -1) {
				assert.Contains(t, comments.String(), m[1], "${%s} is used but no comment says what to fill in", m[1])
			}

			o := wire.LoadOptions()
			o.Vars = func(name string) (string, bool) { return dummy(name), true }
			s, err := expectations.Load(path, o)
			require.NoError(t, err)
			assert.NotEmpty(t, s.Drills)
			assert.NotEmpty(t, s.Name)
		})
	}
}

func TestExampleRulesParse(t *testing.T) {
	rules, err := filepath.Glob(filepath.Join("*", "*.rules.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, rules)
	for _, path := range rules {
		_, errs := rulefmt.ParseFile(path, false)
		assert.Empty(t, errs, path)
	}
}
