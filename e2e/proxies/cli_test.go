package proxies_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

// buildCLI builds meshdrill's binary from this checkout.
func buildCLI(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "meshdrill")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/meshdrill")
	cmd.Dir = testenv.RepoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build ./cmd/meshdrill:\n%s", out)
	return bin
}

// jsonReport is the part of `--output json` (meshdrill.report/v1) this
// test reads.
type jsonReport struct {
	Schema  string `json:"schema"`
	Verdict string `json:"verdict"`
	Drills  []struct {
		Name         string `json:"name"`
		Verdict      string `json:"verdict"`
		Expectations []struct {
			Signal  string `json:"signal"`
			Verdict string `json:"verdict"`
		} `json:"expectations"`
	} `json:"drills"`
}

// runCLI runs `meshdrill run` on a suite with vars as its environment and
// returns the exit code and the JSON report.
func runCLI(t *testing.T, bin, suite string, vars map[string]string, args ...string) (int, jsonReport) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, append([]string{"run", suite, "--no-color", "-q", "--output", "json=" + out}, args...)...)
	cmd.Env = os.Environ()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	t.Logf("meshdrill run %s %s: exit %d\n%s%s", filepath.Base(suite), strings.Join(args, " "), code, stdout.String(), stderr.String())
	data, err := os.ReadFile(out)
	require.NoError(t, err, "the JSON report")
	var rep jsonReport
	require.NoError(t, json.Unmarshal(data, &rep))
	assert.Equal(t, "meshdrill.report/v1", rep.Schema)
	return code, rep
}

// testCLI runs the nginx suite through the built binary, as a user would:
// the variables in its environment, the verdicts in its exit code and JSON
// report.
func testCLI(t *testing.T, st *stack, e *edge) {
	bin := buildCLI(t)
	suite := examplePath(t, "edge/nginx.yaml")
	vars := st.vars(e, "NGINX")

	code, rep := runCLI(t, bin, suite, vars, "--run", "^(forbidden-identity|weak-tls|control)$")
	assert.Equal(t, 0, code, "BLIND_SPOTs are reported, not findings")
	assert.Equal(t, "BLIND_SPOT", rep.Verdict)
	got := map[string]string{}
	for _, d := range rep.Drills {
		var sigs []string
		for _, x := range d.Expectations {
			sigs = append(sigs, x.Signal+"="+x.Verdict)
		}
		sort.Strings(sigs)
		got[d.Name] = d.Verdict + " " + strings.Join(sigs, " ")
	}
	assert.Equal(t, map[string]string{
		"forbidden-identity": "BLIND_SPOT logs=PASS metrics=BLIND_SPOT traces=BLIND_SPOT",
		"weak-tls":           "BLIND_SPOT logs=BLIND_SPOT",
		"control":            "PASS logs=PASS",
	}, got)

	code, _ = runCLI(t, bin, suite, vars, "--run", "^weak-tls$", "--strict")
	assert.Equal(t, 1, code, "--strict counts a BLIND_SPOT as a finding")
}
