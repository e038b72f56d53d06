// Package collectorstest holds test helpers for the collectors: locating the
// shared corpus of recorded real responses and a fake HTTP backend that
// replays them and fails the test on any unexpected request or unused mock.
package collectorstest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

// CorpusDir returns the shared corpus directory where no test is at hand to
// skip (fuzz seeds): $MESHDRILL_CORPUS if set, else ../shared/corpus next to
// the module root found by walking up from the working directory. ok is false
// when the directory does not exist.
func CorpusDir() (dir string, ok bool) {
	if env := os.Getenv("MESHDRILL_CORPUS"); env != "" {
		dir = env
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return "", false
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "..", "shared", "corpus")
				break
			}
			if filepath.Dir(d) == d {
				return "", false
			}
		}
	}
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// Corpus returns the path of rel inside the corpus. Without a corpus the test
// is skipped, except under CI where that is a failure (testenv's rule).
func Corpus(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(testenv.CorpusDir(t), filepath.FromSlash(rel))
}

// ReadCorpus returns the content of rel inside the corpus (see Corpus).
func ReadCorpus(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(Corpus(t, rel))
	if err != nil {
		t.Fatalf("reading corpus file: %v", err)
	}
	return b
}

// CorpusSeeds returns the contents of the corpus files matching the glob
// pattern rel, for fuzz seeds; nil when there is no corpus (fuzzing then runs
// on the inline seeds alone).
func CorpusSeeds(rel string) [][]byte {
	dir, ok := CorpusDir()
	if !ok {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, filepath.FromSlash(rel)))
	var out [][]byte
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}
