package archtest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mod = "github.com/meshdrill/meshdrill"

// deps lists the packages a package depends on, test files excluded.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+"/"+pkg).Output()
	require.NoError(t, err, "go list -deps %s", pkg)
	return strings.Fields(string(out))
}

// The dependency direction is one way: cmd → (expectations, fixtures,
// collectors, report, lab). The evaluator, the traffic and the collectors
// never see the lab, collectors and fixtures never see each other or the
// evaluator, and no library package pulls in Prometheus' tsdb, rules or
// remote storage (they drag in cloud SDKs).
func TestDependencyDirection(t *testing.T) {
	forbidden := map[string][]string{
		"expectations/...": {mod + "/lab", mod + "/collectors", mod + "/fixtures", mod + "/report", mod + "/cmd"},
		"fixtures/...":     {mod + "/lab", mod + "/collectors", mod + "/expectations", mod + "/report"},
		"collectors/...":   {mod + "/lab", mod + "/fixtures", mod + "/expectations", mod + "/report"},
		"report/...":       {mod + "/lab", mod + "/collectors", mod + "/fixtures"},
		"lab/...":          {mod + "/expectations", mod + "/collectors", mod + "/fixtures", mod + "/report"},
	}
	// Exact packages, and prefixes (ending in "/") of whole trees.
	heavy := []string{
		"github.com/prometheus/prometheus/tsdb", "github.com/prometheus/prometheus/rules",
		"github.com/prometheus/prometheus/storage/remote/", "github.com/prometheus/prometheus/promql/promqltest",
		"cloud.google.com/", "github.com/aws/", "github.com/Azure/",
	}
	for pkg, bad := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			for _, d := range deps(t, pkg) {
				for _, b := range bad {
					assert.False(t, d == b || strings.HasPrefix(d, b+"/"), "%s depends on %s", pkg, d)
				}
				for _, h := range heavy {
					assert.False(t, d == h || (strings.HasSuffix(h, "/") && strings.HasPrefix(d, h)), "%s depends on %s", pkg, d)
				}
			}
		})
	}
}
