package wire

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGrepFiles(t *testing.T) {
	dir := t.TempDir()
	plain := "a 127.0.0.1:40001 x\nb id-1 403\nc id-2 200\nd id-1 again\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "edge.log"), []byte(plain), 0o644))
	f, err := os.Create(filepath.Join(dir, "edge.1.log.gz"))
	require.NoError(t, err)
	gz := gzip.NewWriter(f)
	_, _ = gz.Write([]byte("old id-3 403\n" + strings.Repeat("noise\n", 10000)))
	require.NoError(t, gz.Close())
	require.NoError(t, f.Close())

	got, err := Logs{Paths: []string{filepath.Join(dir, "edge*.log*")}}.Grep(context.Background(), []string{"id-1", "id-3", "127.0.0.1:40001", "id-9"}, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{"b id-1 403", "d id-1 again"}, got["id-1"])
	assert.Equal(t, []string{"old id-3 403"}, got["id-3"])
	assert.Equal(t, []string{"a 127.0.0.1:40001 x"}, got["127.0.0.1:40001"])
	assert.NotContains(t, got, "id-9")

	_, err = Logs{Paths: []string{filepath.Join(dir, "none-*.log")}}.Grep(context.Background(), []string{"x"}, time.Time{}, time.Time{})
	assert.ErrorContains(t, err, "no log file matches")
}

func TestGrepFromMarkReadsOnlyNewLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "edge.log")
	require.NoError(t, os.WriteFile(p, []byte("old 127.0.0.1:40001 SSL client certificate not trusted\n"), 0o644))
	l := Logs{Paths: []string{p}}
	mark, err := l.Mark(context.Background())
	require.NoError(t, err)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, _ = f.WriteString(strings.Repeat("x", 3*maxGrepLine) + " 127.0.0.1:40002 overlong\nnew 127.0.0.1:40002 SSL client certificate not trusted\n")
	require.NoError(t, f.Close())
	got, err := l.GrepFrom(context.Background(), mark, []string{"127.0.0.1:40001", "127.0.0.1:40002"}, time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.NotContains(t, got, "127.0.0.1:40001", "a line from before the mark is not evidence")
	assert.Equal(t, []string{"new 127.0.0.1:40002 SSL client certificate not trusted"}, got["127.0.0.1:40002"], "the overlong line is skipped")
}

func TestGrepRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.log")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err := Logs{Paths: []string{fifo}}.Grep(context.Background(), []string{"x"}, time.Time{}, time.Time{})
	assert.ErrorContains(t, err, "not a regular file")
}

// A FIFO named as a secret, a CA or a trace file never hangs meshdrill.
func TestFilesMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err := readRegular(fifo)
	assert.ErrorContains(t, err, "not a regular file")
	_, err = secret("", fifo)
	assert.ErrorContains(t, err, "not a regular file")
}

func TestCanonicalAddr(t *testing.T) {
	ctx := context.Background()
	want := canonicalAddr(ctx, "127.0.0.1:19443")
	assert.Equal(t, "127.0.0.1:19443", want)
	for _, a := range []string{"127.0.0.1:019443", "[::ffff:127.0.0.1]:19443", "localhost:19443"} {
		got := canonicalAddr(ctx, a)
		if a == "localhost:19443" && got == "[::1]:19443" {
			continue // a machine where localhost resolves to ::1 first
		}
		assert.Equal(t, want, got, a)
	}
}
