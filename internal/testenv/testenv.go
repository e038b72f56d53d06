// Package testenv is the test helper library shared by meshdrill's tests: it finds the
// repository, the shared corpus and real backend binaries, and starts those backends
// (Prometheus, Alertmanager, Pushgateway, VictoriaLogs, Jaeger, or any process) on free
// loopback ports, stopping them by PID when the test ends.
//
// A test whose backend or corpus is missing is skipped with a hint on how to get it,
// except when the environment says CI=true: CI installs everything, so there a missing
// piece is a failure, never a silent skip.
package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CorpusEnv names the environment variable that overrides the corpus location.
const CorpusEnv = "MESHDRILL_CORPUS"

// InCI reports whether the tests run under CI (env CI=true), where missing
// prerequisites fail instead of skipping.
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v == "true" || v == "1"
}

// skipOrFail skips the test, or fails it under CI, with the same message.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true, so this is a failure, not a skip: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot returns the directory holding the module's go.mod, found by walking up
// from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := findRepoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
}

func findRepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above " + wd)
		}
		dir = parent
	}
}

// CorpusDir returns the shared corpus of recorded real telemetry: $MESHDRILL_CORPUS when
// set, else <repo>/../shared/corpus. The test is skipped when it is absent (failed under CI).
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(CorpusEnv)
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "corpus")
	}
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		skipOrFail(t, "corpus not found at %s (set %s to its location)", dir, CorpusEnv)
	}
	return dir
}
