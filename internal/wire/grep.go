package wire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Bounds on what raw grepping keeps: a report needs a few lines per needle,
// and a line longer than maxGrepLine is skipped, not an error.
const (
	maxLinesPerNeedle = 8
	maxGrepLine       = 1 << 20
)

// logFiles expands the patterns into regular files: a FIFO would block, a
// device would never end.
func logFiles(patterns []string) ([]string, error) {
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("log files %q: %w", p, err)
		}
		for _, f := range m {
			st, err := os.Stat(f)
			if err != nil {
				return nil, err
			}
			if !st.Mode().IsRegular() {
				return nil, fmt.Errorf("log file %s: not a regular file", f)
			}
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no log file matches %s", strings.Join(patterns, ", "))
	}
	return files, nil
}

// logMark is where each file ended when a check began: later greps read
// only what was appended since, so old lines from the same client address
// cannot count as evidence.
type logMark map[string]int64

// Mark records the current size of every log file.
func (l Logs) Mark(context.Context) (any, error) {
	files, err := logFiles(l.Paths)
	if err != nil {
		return nil, err
	}
	m := logMark{}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !strings.HasSuffix(f, ".gz") {
			m[f] = st.Size()
		}
	}
	return m, nil
}

// GrepFrom is Grep over what was written after the mark. A file that shrank
// was rotated and is read whole; a file that is new is read whole.
func (l Logs) GrepFrom(ctx context.Context, mark any, needles []string, _, _ time.Time) (map[string][]string, error) {
	m, _ := mark.(logMark)
	return grepFiles(ctx, l.Paths, needles, m)
}

// grepFiles streams the files (globs allowed, .gz read through) and keeps
// the lines that contain a needle. Memory stays flat in the file size.
func grepFiles(ctx context.Context, patterns, needles []string, from logMark) (map[string][]string, error) {
	out := make(map[string][]string, len(needles))
	if len(needles) == 0 {
		return out, nil
	}
	bneedles := make([][]byte, len(needles))
	for i, n := range needles {
		bneedles[i] = []byte(n)
	}
	files, err := logFiles(patterns)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := grepFile(ctx, f, from[f], needles, bneedles, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func grepFile(ctx context.Context, name string, offset int64, needles []string, bneedles [][]byte, out map[string][]string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && offset > 0 && offset <= st.Size() {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer gz.Close()
		r = gz
	}
	br := bufio.NewReaderSize(r, 64*1024)
	var long []byte
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if len(long) <= maxGrepLine {
				long = append(long, chunk...)
			}
			continue
		case err != nil && err != io.EOF:
			return fmt.Errorf("%s: %w", name, err)
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		if len(line) <= maxGrepLine {
			line = bytes.TrimSuffix(line, []byte("\n"))
			for i, nb := range bneedles {
				if bytes.Contains(line, nb) && len(out[needles[i]]) < maxLinesPerNeedle {
					out[needles[i]] = append(out[needles[i]], string(line))
				}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}
