package collectors_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crossChecks lists, per external test package, the siblings it may import.
var crossChecks = map[string][]string{
	"collectors/victorialogs_test": {"collectors/accesslog"},
}

// TestDependencyDirection keeps collectors a leaf: no subpackage (tests
// included) imports the evaluator, the injector, the lab or a sibling
// backend; only this parent package, its internal decoders shared by
// several backends, and the shared test helpers (and, in tests,
// internal/testenv, which starts real backends).
//
// The one exception is crossChecks: an external test package may use a
// sibling to show that what its backend returns is evidence the sibling
// reads (an access-log line from VictoriaLogs parses as an access log).
// The packages themselves stay independent.
func TestDependencyDirection(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	const module = "github.com/meshdrill/meshdrill/"
	out, err := exec.Command(goBin, "list", "-test", "-f", "{{.ImportPath}}|{{join .Deps \" \"}}", module+"collectors/...").CombinedOutput()
	require.NoError(t, err, string(out))
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, "|")
		pkg, _, _ = strings.Cut(pkg, " ") // "p [p.test]" → "p"
		own := strings.TrimSuffix(strings.TrimPrefix(pkg, module), "_test")
		for _, d := range strings.Fields(deps) {
			if !strings.HasPrefix(d, module) {
				continue
			}
			rel := strings.TrimPrefix(d, module)
			allowed := rel == "collectors" || rel == "collectors/collectorstest" || rel == "internal/testenv" ||
				rel == own || strings.HasPrefix(own, rel+"/") || // itself, or the backend it belongs to
				strings.HasPrefix(rel, "collectors/internal/") ||
				strings.HasSuffix(pkg, ".test") || slices.Contains(crossChecks[strings.TrimPrefix(pkg, module)], rel)
			assert.True(t, allowed, "%s imports %s", pkg, d)
		}
		checked++
	}
	assert.Greater(t, checked, 5)
}
