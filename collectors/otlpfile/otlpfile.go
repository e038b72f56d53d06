// Package otlpfile reads trace evidence from the files the OpenTelemetry
// Collector's file exporter writes in its JSON format: one OTLP
// ExportTraceServiceRequest per line, ids in hex as the OTLP JSON mapping
// prescribes. It needs no trace backend, which suits CI and air-gapped
// clusters where the collector's output is a mounted volume.
//
// Files are read afresh on every lookup (the collector keeps appending),
// line by line in memory bounded by the longest line, and only lines that
// contain an id asked for are decoded. Base64 ids, as a generic protobuf
// JSON encoder writes them, are read too. The exporter's protobuf format and
// its compression are not supported.
package otlpfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/internal/otlpjson"
)

// ErrNotFound is collectors.ErrTraceNotFound, shared by the trace backends.
var ErrNotFound = collectors.ErrTraceNotFound

// MaxLine bounds one line (one export request); a longer one is skipped and
// reported among the warnings rather than read into memory.
const MaxLine = 64 << 20

// lineLimit is MaxLine, lowered by tests.
var lineLimit = MaxLine

// maxWarnings bounds how many malformed lines a trace's warnings list.
const maxWarnings = 5

// Reader looks traces up in a set of files.
type Reader struct {
	patterns []string
}

// New returns a reader of the files named by patterns (globs allowed, so
// the exporter's rotated files can be included: "traces.json*"). Patterns
// are checked here; files are looked for at each lookup, since the
// collector may create them later.
func New(patterns ...string) (*Reader, error) {
	if len(patterns) == 0 {
		return nil, errors.New("otlpfile: no file given")
	}
	for _, p := range patterns {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("otlpfile: pattern %q: %w", p, err)
		}
	}
	return &Reader{patterns: slices.Clone(patterns)}, nil
}

// Trace returns the spans of the trace with traceID (any form
// collectors.NormalizeTraceID accepts) found in the files, in file order.
// No span found wraps ErrNotFound; patterns that match no file are an error
// (a wrong path must not read as "not recorded"). Lines that mention the id
// but do not decode are skipped and reported in the trace's warnings; an
// unfinished last line (the collector is writing it) is skipped silently.
func (r *Reader) Trace(ctx context.Context, traceID string) (*collectors.Trace, error) {
	id, err := collectors.NormalizeTraceID(traceID)
	if err != nil {
		return nil, fmt.Errorf("otlpfile: %w", err)
	}
	traces, err := r.Traces(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	tr := traces[id]
	if len(tr.Spans) == 0 {
		return nil, fmt.Errorf("otlpfile trace %s in %s: %w%s", id, strings.Join(r.patterns, ", "), ErrNotFound, warningsNote(tr.Warnings))
	}
	return tr, nil
}

func warningsNote(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return " (" + strings.Join(w, "; ") + ")"
}

// Traces looks up many traces in one pass over the files, as a drill of N
// requests needs. The answer has an entry for every id (normalised), with no
// spans for the ids not found; warnings about malformed lines are shared by
// every trace.
func (r *Reader) Traces(ctx context.Context, traceIDs []string) (map[string]*collectors.Trace, error) {
	out := make(map[string]*collectors.Trace, len(traceIDs))
	f := filter{ids: map[string]struct{}{}}
	for _, raw := range traceIDs {
		id, err := collectors.NormalizeTraceID(raw)
		if err != nil {
			return nil, fmt.Errorf("otlpfile: %w", err)
		}
		if _, dup := out[id]; dup {
			continue
		}
		out[id] = &collectors.Trace{ID: id}
		f.ids[id] = struct{}{}
		f.needles = append(f.needles, needles(id)...)
	}
	files, err := r.files()
	if err != nil {
		return nil, err
	}
	var bad malformed
	for _, path := range files {
		if err := scanFile(ctx, path, &f, out, &bad); err != nil {
			return nil, err
		}
	}
	if w := bad.warnings(); len(w) > 0 {
		for _, tr := range out {
			tr.Warnings = w
		}
	}
	return out, nil
}

func (r *Reader) files() ([]string, error) {
	var files []string
	for _, p := range r.patterns {
		m, _ := filepath.Glob(p) // patterns were checked in New
		for _, f := range m {
			if !slices.Contains(files, f) {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("otlpfile: no file matches %s", strings.Join(r.patterns, ", "))
	}
	return files, nil
}

// needles are the forms a trace id takes in a file: hex in lower or upper
// case (the OTLP JSON mapping), and the unpadded base64 prefix of its bytes
// in both alphabets, for files written by a plain protobuf JSON encoder.
func needles(id string) [][]byte {
	raw, _ := hex.DecodeString(id) // id is normalised
	out := [][]byte{[]byte(id), []byte(strings.ToUpper(id)), []byte(base64.RawStdEncoding.EncodeToString(raw))}
	if u := base64.RawURLEncoding.EncodeToString(raw); u != string(out[2]) {
		out = append(out, []byte(u))
	}
	return out
}

// filter is the cheap test a line must pass before it is decoded: it holds
// one of the ids in one of its forms.
type filter struct {
	ids     map[string]struct{}
	needles [][]byte
}

func (f *filter) candidate(line []byte) bool {
	for _, n := range f.needles {
		if bytes.Contains(line, n) {
			return true
		}
	}
	return false
}

type malformed struct {
	count int
	first []string
}

func (m *malformed) add(path string, line int, err error) {
	m.count++
	if len(m.first) < maxWarnings {
		m.first = append(m.first, fmt.Sprintf("%s:%d: %v", path, line, err))
	}
}

func (m *malformed) warnings() []string {
	if m.count == 0 {
		return nil
	}
	w := []string{fmt.Sprintf("%d line(s) mentioning a trace id could not be decoded and were skipped", m.count)}
	return append(w, m.first...)
}

func scanFile(ctx context.Context, path string, f *filter, out map[string]*collectors.Trace, bad *malformed) error {
	// A FIFO would block Open, a device never end: only regular files.
	if st, err := os.Stat(path); err != nil {
		return fmt.Errorf("otlpfile: %w", err)
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("otlpfile: %s: not a regular file", path)
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("otlpfile: %w", err)
	}
	defer file.Close()
	br := bufio.NewReaderSize(file, 256<<10)
	var long []byte
	for n := 1; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return fmt.Errorf("otlpfile %q: stopped at line %d: %w", path, n, context.Cause(ctx))
		}
		line, complete, tooLong, err := readLine(br, &long)
		if err != nil {
			return fmt.Errorf("otlpfile %q line %d: %w", path, n, err)
		}
		if line == nil && !tooLong {
			return nil // end of file
		}
		if tooLong {
			bad.add(path, n, fmt.Errorf("line longer than %d bytes", lineLimit))
			continue
		}
		if !f.candidate(line) {
			continue
		}
		spans, err := otlpjson.Spans(line)
		if err != nil {
			if complete {
				bad.add(path, n, err)
			}
			continue
		}
		for _, s := range spans {
			if tr, ok := out[s.TraceID]; ok {
				tr.Spans = append(tr.Spans, s)
			}
		}
	}
}

// readLine returns the next line without its newline; complete is false for
// a last line with no newline yet. line is nil at the end of the file. A
// line beyond MaxLine is consumed and reported as tooLong.
func readLine(br *bufio.Reader, long *[]byte) (line []byte, complete, tooLong bool, err error) {
	chunk, err := br.ReadSlice('\n')
	if err == nil || err == io.EOF {
		switch {
		case len(chunk) == 0:
			return nil, false, false, nil
		case len(chunk) > lineLimit:
			return chunk[:0], err == nil, true, nil
		}
		return bytes.TrimRight(chunk, "\r\n"), err == nil, false, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, false, false, err
	}
	*long = append((*long)[:0], chunk...)
	for {
		chunk, err = br.ReadSlice('\n')
		if !tooLong && len(*long)+len(chunk) > lineLimit {
			tooLong, *long = true, (*long)[:0]
		}
		if !tooLong {
			*long = append(*long, chunk...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return bytes.TrimRight(*long, "\r\n"), false, tooLong, nil
		case err != nil:
			return nil, false, false, err
		}
		return bytes.TrimRight(*long, "\r\n"), true, tooLong, nil
	}
}
