package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BinDirEnv names the environment variable pointing at the directory of built backends
// (`<name>-<version>` files), set by .ci/run.
const BinDirEnv = "MESHDRILL_BIN_DIR"

// installHint maps a backend binary to the install-backends.sh component that provides it.
var installHint = map[string]string{
	"prometheus":              "apt",
	"prometheus-alertmanager": "apt",
	"prometheus-pushgateway":  "apt",
	"nginx":                   "apt",
	"haproxy":                 "apt",
	"caddy":                   "caddy (2.11) or apt (2.6)",
	"victoria-logs":           "victorialogs",
	"jaeger":                  "jaeger",
}

// Binary returns the path of a backend binary: the newest `<name>-<version>` in
// $MESHDRILL_BIN_DIR, then in <repo>/.cache/bin, else `name` on PATH. When none is found
// the test is skipped with a hint to run scripts/install-backends.sh (failed under CI).
func Binary(t testing.TB, name string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv(BinDirEnv); d != "" {
		dirs = append(dirs, d)
	}
	if root, err := findRepoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, ".cache", "bin"))
	}
	path, err := lookBinary(name, dirs)
	if err != nil {
		hint := installHint[name]
		if hint == "" {
			hint = "all"
		}
		skipOrFail(t, "backend %q not found (%v); install it with: scripts/install-backends.sh %s", name, err, hint)
	}
	return path
}

// lookBinary searches dirs in order for the newest `<name>-<version>`, then PATH.
func lookBinary(name string, dirs []string) (string, error) {
	for _, dir := range dirs {
		if p := newestVersioned(dir, name); p != "" {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("not in %s and not on PATH", strings.Join(dirs, ", "))
	}
	return p, nil
}

// newestVersioned returns the executable `<name>-<version>` in dir with the highest version.
func newestVersioned(dir, name string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	best, bestVer := "", ""
	for _, e := range entries {
		ver, ok := strings.CutPrefix(e.Name(), name+"-")
		// The version must start like one, so "prometheus" never picks "prometheus-alertmanager-…".
		if !ok || ver == "" || !(ver[0] == 'v' || (ver[0] >= '0' && ver[0] <= '9')) || strings.HasSuffix(ver, ".tmp") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		if best == "" || versionLess(bestVer, ver) {
			best, bestVer = p, ver
		}
	}
	return best
}

// versionLess compares versions like v1.2.10 and 1.2.9-rc1 part by part, numerically
// where both parts are numbers.
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, errA := strconv.Atoi(pa[i])
		nb, errB := strconv.Atoi(pb[i])
		if errA == nil && errB == nil {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}

func versionParts(v string) []string {
	v = strings.TrimPrefix(v, "v")
	return strings.FieldsFunc(v, func(r rune) bool { return r == '.' || r == '-' || r == '+' })
}
