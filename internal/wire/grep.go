package wire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxLinesPerNeedle bounds what is kept per needle: a report needs a few.
const maxLinesPerNeedle = 8

// grepFiles streams the files (globs allowed, .gz read through) and keeps
// the lines that contain a needle. Memory stays flat in the file size.
func grepFiles(ctx context.Context, patterns, needles []string) (map[string][]string, error) {
	out := make(map[string][]string, len(needles))
	if len(needles) == 0 {
		return out, nil
	}
	bneedles := make([][]byte, len(needles))
	for i, n := range needles {
		bneedles[i] = []byte(n)
	}
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("log files %q: %w", p, err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no log file matches %s", strings.Join(patterns, ", "))
	}
	for _, f := range files {
		if err := grepFile(ctx, f, needles, bneedles, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func grepFile(ctx context.Context, name string, needles []string, bneedles [][]byte, out map[string][]string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer gz.Close()
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for n := 0; sc.Scan(); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Bytes()
		for i, nb := range bneedles {
			if bytes.Contains(line, nb) && len(out[needles[i]]) < maxLinesPerNeedle {
				out[needles[i]] = append(out[needles[i]], string(line))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
