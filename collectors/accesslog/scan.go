package accesslog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// maxLine bounds one log line; longer lines are skipped and counted as
// malformed rather than growing the buffer without limit.
const maxLine = 1 << 20

// Query selects the entries of the injected traffic.
//
// An entry is selected when it carries one of RequestIDs or comes from one of
// DownstreamRemote (OR: either identifies the traffic; with both empty every
// entry qualifies), AND its Start lies in [Since, Until] (a zero bound is
// open; an entry without a start time fails a bounded window), AND it carries
// every flag of ResponseFlags (comma-separated, e.g. "NR" or "UF,URX").
//
// DownstreamRemote entries are "ip:port" (the injector's side of the
// connection), matched exactly, or a bare IP matching any port. Connection
// lines such as plaintext's `"- - -" 0 NR filter_chain_not_found` have no
// request id: they are found by address and window. Ids and addresses must
// not contain quotes or whitespace.
type Query struct {
	RequestIDs       []string
	Since, Until     time.Time
	DownstreamRemote []string
	ResponseFlags    string
	// ParseAll parses every line, not only those that mention an id or an
	// address, so that Result.Malformed counts every line that does not
	// parse (to check that a log is in a format meshdrill reads). Slower.
	ParseAll bool
}

// Result is what Scan found. ByRequestID holds the first matching entry per
// request id (a file can hold several per id: retries, or the client's and
// the server's sidecar logs); Matches holds every matching entry in file
// order. Lines counts the non-empty lines read. Malformed counts the lines
// that failed to parse among those parsed: unless Query.ParseAll is set,
// lines that cannot match the query are skipped by a pre-filter without
// parsing. FirstMalformed tells where the
// first one was and why ("path:line: error").
type Result struct {
	ByRequestID    map[string]Entry
	Matches        []Entry
	Lines          int
	Malformed      int
	FirstMalformed string
}

// Scan reads the files named by paths (glob patterns allowed, ".gz" files
// decompressed) line by line in constant memory and returns the entries that
// match q. A path or pattern naming no file is an error, as is a read error;
// the result found so far is returned with it.
func Scan(ctx context.Context, paths []string, q Query) (Result, error) {
	res := Result{ByRequestID: map[string]Entry{}}
	files, err := expand(paths)
	if err != nil {
		return res, err
	}
	m := newMatcher(q)
	for _, f := range files {
		if err := scanFile(ctx, f, m, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func expand(patterns []string) ([]string, error) {
	var files []string
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("access log pattern %q: %w", p, err)
		}
		if len(matches) == 0 {
			if _, statErr := os.Stat(p); statErr != nil {
				return nil, fmt.Errorf("access log %q: no such file", p)
			}
			matches = []string{p}
		}
		for _, m := range matches {
			if !slices.Contains(files, m) {
				files = append(files, m)
			}
		}
	}
	return files, nil
}

func scanFile(ctx context.Context, path string, m *matcher, res *Result) error {
	// A FIFO would block Open, a device never end: only regular files.
	if st, err := os.Stat(path); err != nil {
		return fmt.Errorf("access log: %w", err)
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("access log %q: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("access log %q: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	lr := lineReader{r: bufio.NewReaderSize(r, 64<<10), ctx: ctx}
	var scratch Entry
	for n := 1; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("access log %q: stopped at line %d: %w", path, n, context.Cause(ctx))
		}
		line, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("access log %q line %d: %w", path, n, err)
		}
		if tooLong {
			res.Lines++
			res.malformed(path, n, fmt.Errorf("line longer than %d bytes", maxLine))
			continue
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		res.Lines++
		if !m.q.ParseAll && !m.candidate(line) {
			continue
		}
		// Parse a view of the read buffer into the scratch entry: no copy
		// and no allocation for the many lines that do not match. Only a
		// match is parsed again from a copy it owns. The view must not
		// outlive this iteration: errors are formatted at once.
		if err := parseInto(&scratch, unsafe.String(unsafe.SliceData(line), len(line))); err != nil {
			res.malformed(path, n, err)
			continue
		}
		if !m.match(scratch) {
			continue
		}
		var e Entry
		if err := parseInto(&e, string(line)); err != nil {
			return fmt.Errorf("access log %q line %d: parses differently from a copy: %w", path, n, err)
		}
		res.Matches = append(res.Matches, e)
		if _, seen := res.ByRequestID[e.RequestID]; !seen && e.RequestID != "" {
			res.ByRequestID[e.RequestID] = e
		}
	}
}

func (r *Result) malformed(path string, line int, err error) {
	r.Malformed++
	if r.FirstMalformed == "" {
		r.FirstMalformed = fmt.Sprintf("%s:%d: %v", path, line, err)
	}
}

// lineReader yields lines without their newline. Its buffer is reused, so a
// line is valid until the next call; overlong lines are reported and skipped.
type lineReader struct {
	r    *bufio.Reader
	long []byte
	ctx  context.Context // checked while skipping an overlong line
}

func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	line, err = l.r.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(line) > 0) {
		return bytes.TrimSuffix(line, []byte("\n")), false, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, false, err
	}
	l.long = append(l.long[:0], line...)
	for n := 0; ; n++ {
		if n%64 == 0 && l.ctx != nil && l.ctx.Err() != nil {
			return nil, false, l.ctx.Err()
		}
		line, err = l.r.ReadSlice('\n')
		if len(l.long)+len(line) > maxLine {
			tooLong = true
		} else {
			l.long = append(l.long, line...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		if tooLong {
			return nil, true, nil
		}
		return bytes.TrimSuffix(l.long, []byte("\n")), false, nil
	}
}

type matcher struct {
	q       Query
	keys    map[string]struct{} // request ids and addresses, for the pre-filter
	lens    [256]bool           // lengths of the keys (and remote hosts) below 256
	ids     map[string]struct{}
	remotes map[string]struct{} // "ip:port" exact, or a bare IP for any port
	flags   []string
}

func newMatcher(q Query) *matcher {
	m := &matcher{q: q, keys: map[string]struct{}{}, ids: map[string]struct{}{}, remotes: map[string]struct{}{}}
	for _, id := range q.RequestIDs {
		m.ids[id] = struct{}{}
		m.keys[id] = struct{}{}
	}
	for _, r := range q.DownstreamRemote {
		if strings.HasPrefix(r, "[") && strings.HasSuffix(r, "]") {
			r = r[1 : len(r)-1] // a bare IPv6 address may come bracketed
		}
		m.remotes[r] = struct{}{}
		m.keys[r] = struct{}{}
	}
	if q.ResponseFlags != "" {
		m.flags = strings.Split(q.ResponseFlags, ",")
	}
	for k := range m.keys {
		if len(k) < len(m.lens) {
			m.lens[len(k)] = true
		}
	}
	for r := range m.remotes {
		if len(r) < len(m.lens) {
			m.lens[len(r)] = true
		}
	}
	return m
}

// candidate is the cheap pre-filter: does any quote- or space-delimited
// segment of the line (or the host part of an address segment) equal one of
// the ids or addresses? Its cost does not grow with the number of ids, and
// it allocates nothing: segments whose length no key has are not looked up.
func (m *matcher) candidate(line []byte) bool {
	if len(m.keys) == 0 {
		return true
	}
	for i := 0; i < len(line); {
		for i < len(line) && separator[line[i]] {
			i++
		}
		j := i
		for j < len(line) && !separator[line[j]] {
			j++
		}
		seg := line[i:j]
		i = j
		if len(seg) == 0 {
			continue
		}
		if m.hasLen(len(seg)) {
			if _, ok := m.keys[string(seg)]; ok {
				return true
			}
		}
		if len(m.remotes) > 0 {
			if host := hostPart(seg); host != nil && m.hasLen(len(host)) {
				if _, ok := m.remotes[string(host)]; ok {
					return true
				}
			}
		}
	}
	return false
}

// separator marks the bytes that delimit segments for the pre-filter.
var separator = [256]bool{'"': true, ' ': true, '\t': true}

// hasLen reports whether some key may have length n.
func (m *matcher) hasLen(n int) bool {
	return n >= len(m.lens) || m.lens[n]
}

// hostPart returns the host of "host:port" or "[v6]:port" without brackets.
func hostPart(seg []byte) []byte {
	i := bytes.LastIndexByte(seg, ':')
	if i <= 0 {
		return nil
	}
	return bytes.Trim(seg[:i], "[]")
}

func (m *matcher) match(e Entry) bool {
	if len(m.ids)+len(m.remotes) > 0 && !m.identified(e) {
		return false
	}
	if !m.q.Since.IsZero() || !m.q.Until.IsZero() {
		if e.Start.IsZero() || (!m.q.Since.IsZero() && e.Start.Before(m.q.Since)) ||
			(!m.q.Until.IsZero() && e.Start.After(m.q.Until)) {
			return false
		}
	}
	for _, f := range m.flags {
		if !e.HasFlag(f) {
			return false
		}
	}
	return true
}

func (m *matcher) identified(e Entry) bool {
	if _, ok := m.ids[e.RequestID]; ok && e.RequestID != "" {
		return true
	}
	if e.DownstreamRemoteAddress == "" {
		return false
	}
	if _, ok := m.remotes[e.DownstreamRemoteAddress]; ok {
		return true
	}
	host, _, err := net.SplitHostPort(e.DownstreamRemoteAddress)
	if err != nil {
		return false
	}
	_, ok := m.remotes[host]
	return ok
}
