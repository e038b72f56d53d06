package expectations

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden .err files")

func noVars(string) (string, bool) { return "", false }

func TestLoadGood(t *testing.T) {
	vars := func(string) (string, bool) { return "", false }
	s, err := Load(filepath.Join("testdata", "good", "istio.yaml"), LoadOptions{Vars: vars})
	require.NoError(t, err)
	assert.Equal(t, "payments-after-deploy", s.Name)
	assert.True(t, s.Mesh.ListenerSSLStats)
	assert.True(t, s.Mesh.ListenerNRLog)
	require.Len(t, s.Drills, 2)
	assert.Equal(t, 5, s.Drills[0].Count, "count from defaults")
	assert.Equal(t, 20*time.Second, s.Drills[0].Deadline)
	assert.Equal(t, 3, s.Drills[1].Count)
	assert.Equal(t, 300*time.Millisecond, s.Drills[1].Delay)
	assert.Equal(t, 30*time.Second, s.Drills[1].Deadline)
	assert.Equal(t, "GET", s.Drills[1].Method)
	assert.Equal(t, "0.0.0.0_15006", s.Targets["payments"].ListenerAddress)
	// Paths resolve relative to the suite file.
	assert.Equal(t, filepath.Join("testdata", "good", "ca", "ca.pem"), s.Identities.CACertFile)
	assert.Equal(t, []string{filepath.Join("testdata", "good", "logs", "payments-*.log")}, s.Backends.LogFiles)
	assert.Equal(t, "PROM_TOKEN", s.Backends.Prometheus.BearerTokenEnv)
	assert.Equal(t, 10*time.Second, s.Backends.Prometheus.Timeout)
}

// Each bad suite is paired with the exact text a user sees.
func TestLoadBadSuites(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f, LoadOptions{Vars: noVars})
			require.Error(t, err)
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(err.Error()+"\n"), 0o644))
			}
			want, rerr := os.ReadFile(golden)
			require.NoError(t, rerr, "missing golden file; run go test ./expectations -run TestLoadBadSuites -update")
			assert.Equal(t, strings.TrimSpace(string(want)), err.Error())
		})
	}
}

func TestVarsExpand(t *testing.T) {
	vars := func(n string) (string, bool) {
		if n == "ADDR" {
			return "127.0.0.1:4443", true
		}
		return "", false
	}
	s, err := Parse("suite.yaml", []byte("targets:\n  p:\n    address: ${ADDR}\ndrills:\n  - name: pt\n    target: p\n    inject: {kind: plaintext}\n"), LoadOptions{Vars: vars})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:4443", s.Targets["p"].Address)
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data, LoadOptions{Vars: noVars})
		if err == nil {
			// A suite that loads is one the evaluator can run.
			require.NoError(t, s.Validate())
		}
	})
}
