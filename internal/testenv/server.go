package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readyTimeout bounds how long a backend may take to come up; they need well under a
// second here, so this only guards against a hang on a loaded machine.
const readyTimeout = 60 * time.Second

// bindAttempts is how often a server is restarted on new ports after losing the race
// for a port that FreePort returned (other packages' tests pick ports at the same time).
const bindAttempts = 3

// StartServer calls launch, which picks fresh ports (FreeAddrs), writes the config and
// starts the process (Start), then waits until launch's readiness URL answers 2xx. When
// the process died because a port was taken meanwhile, it stops it and launches again
// (3 attempts); any other failure fails the test with the process's output.
func StartServer(t testing.TB, what string, launch func() (p *Process, readyURL string)) *Process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, url := launch()
		err := waitHTTP(url, readyTimeout, p)
		if err == nil {
			return p
		}
		if attempt < bindAttempts && errors.Is(err, errExited) && portTaken(p.Output()) {
			t.Logf("testenv: %s lost a port race, retrying on new ports", what)
			p.Stop()
			continue
		}
		p.Stop()
		t.Fatalf("testenv: start %s: %v", what, err)
	}
}

// portTaken recognises the bind error of Go servers and of C ones quoting strerror
// ("Address already in use").
func portTaken(output string) bool {
	return strings.Contains(strings.ToLower(output), "address already in use")
}

// writeFile writes content to name in dir and returns its path, failing the test on error.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatalf("testenv: write %s: %v", name, err)
	}
	return p
}
