package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DefaultGrace is how long a stopped process gets between SIGTERM and SIGKILL.
const DefaultGrace = 5 * time.Second

// logTailLines is how much of a process's output a failing test shows.
const logTailLines = 50

// Process is a backend started by Start. Its output goes to StdoutPath and StderrPath.
type Process struct {
	Name       string
	PID        int
	StdoutPath string
	StderrPath string

	cmd      *exec.Cmd
	grace    time.Duration
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
}

type startConfig struct {
	env   []string
	dir   string
	grace time.Duration
}

// Option adjusts how Start runs a process.
type Option func(*startConfig)

// WithEnv adds KEY=VALUE pairs to the process's environment (inherited from the test).
func WithEnv(kv ...string) Option {
	return func(c *startConfig) { c.env = append(c.env, kv...) }
}

// WithDir sets the process's working directory (default: a fresh temporary directory).
func WithDir(dir string) Option {
	return func(c *startConfig) { c.dir = dir }
}

// WithGrace sets the time between SIGTERM and SIGKILL when the process is stopped.
func WithGrace(d time.Duration) Option {
	return func(c *startConfig) { c.grace = d }
}

// Start runs name (a backend found with Binary, or a path containing a slash) with args
// in its own process group, its stdout and stderr written to files in t.TempDir().
// When the test ends the process group is stopped by PID (SIGTERM, then SIGKILL after the
// grace period), and if the test failed the last 50 lines of its output are logged.
func Start(t testing.TB, name string, args []string, opts ...Option) *Process {
	t.Helper()
	p, err := start(t, name, args, opts...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

func start(t testing.TB, name string, args []string, opts ...Option) (*Process, error) {
	t.Helper()
	path := name
	if !strings.Contains(name, "/") {
		path = Binary(t, name)
	}
	// Created before the cleanup below is registered, so the directory outlives the process.
	logDir := t.TempDir()
	cfg := startConfig{grace: DefaultGrace, dir: logDir}
	for _, o := range opts {
		o(&cfg)
	}
	base := filepath.Base(path)
	p := &Process{
		Name:       base,
		StdoutPath: filepath.Join(logDir, base+".stdout"),
		StderrPath: filepath.Join(logDir, base+".stderr"),
		grace:      cfg.grace,
		done:       make(chan struct{}),
	}
	stdout, err := os.Create(p.StdoutPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", base, err)
	}
	defer stdout.Close()
	stderr, err := os.Create(p.StderrPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", base, err)
	}
	defer stderr.Close()

	cmd := exec.Command(path, args...)
	cmd.Dir = cfg.dir
	cmd.Env = append(os.Environ(), cfg.env...)
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// Own process group: stopping it reaches children the backend forks (nginx workers).
	// Pdeathsig: a test binary killed by its timeout does not leave servers behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", base, err)
	}
	p.cmd = cmd
	p.PID = cmd.Process.Pid
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("testenv: %s (pid %d) %s; its output:\n%s", base, p.PID, p.exitState(), p.LogTail(logTailLines))
		}
	})
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Process) exitState() string {
	if !p.Exited() {
		return "running"
	}
	if p.waitErr != nil {
		return "ended: " + p.waitErr.Error()
	}
	return "ended: exit status 0"
}

// Stop ends the process group (SIGTERM, then SIGKILL after the grace period) and waits
// for the process to be reaped. It is safe to call more than once.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		if p.Exited() {
			// The leader is gone; its group may still hold forked children.
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
			return
		}
		_ = syscall.Kill(-p.PID, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(p.grace):
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
			<-p.done
		}
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	})
}

// Output returns everything the process wrote to stdout and stderr so far.
func (p *Process) Output() string {
	var b strings.Builder
	for _, f := range []string{p.StdoutPath, p.StderrPath} {
		data, err := os.ReadFile(f)
		if err == nil {
			b.Write(data)
		}
	}
	return b.String()
}

// LogTail returns the last n lines of the process's stdout and of its stderr.
func (p *Process) LogTail(n int) string {
	var b strings.Builder
	for _, f := range []string{p.StdoutPath, p.StderrPath} {
		data, err := os.ReadFile(f)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
	if b.Len() == 0 {
		return "(no output)\n"
	}
	return b.String()
}

// WaitHTTP polls url until it answers 2xx, and fails the test if the process exits first
// or timeout passes.
func (p *Process) WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	if err := waitHTTP(url, timeout, p); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// WaitReady polls url until it answers 2xx; it returns an error if the process exits
// first (with its output) or timeout passes.
func (p *Process) WaitReady(url string, timeout time.Duration) error {
	return waitHTTP(url, timeout, p)
}

// WaitHTTP polls url until it answers 2xx, and fails the test if that takes longer than
// timeout.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	if err := waitHTTP(url, timeout, nil); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// errExited says the process ended while we waited for it.
var errExited = errors.New("process exited")

// httpClient talks to loopback backends only, so environment proxies must not apply.
var httpClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

func waitHTTP(url string, timeout time.Duration, p *Process) error {
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for {
		if p != nil && p.Exited() {
			return fmt.Errorf("wait for %s: %s %w (%s) before answering:\n%s", url, p.Name, errExited, p.exitState(), p.LogTail(logTailLines))
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return fmt.Errorf("wait for %s: no 2xx within %s (last: %s)", url, timeout, last)
		}
		last = probe(url, min(remaining, 2*time.Second))
		if last == "" {
			return nil
		}
		time.Sleep(min(50*time.Millisecond, max(time.Until(deadline), 0)))
	}
}

// probe makes one GET and returns "" on 2xx, else what went wrong.
func probe(url string, timeout time.Duration) string {
	c := *httpClient
	c.Timeout = timeout
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return ""
	}
	return fmt.Sprintf("HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}
