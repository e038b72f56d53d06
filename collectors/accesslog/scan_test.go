package accesslog

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

var genBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// textLine renders an inbound Istio TEXT line for request i.
func textLine(i int, id string, code int) string {
	details := "via_upstream"
	if code == 403 {
		details = "rbac_access_denied_matched_policy[ns[drill]-policy[deny-injector]-rule[0]]"
	}
	return fmt.Sprintf(`[%s] "GET /drill/%d HTTP/1.1" %d - %s - "-" 0 19 %d - "-" "meshdrill/1 (run r1)" "%s" "target:8080" "-" inbound|8080|| - 10.1.0.5:8080 10.9.0.1:%d outbound_.8080_._.target.drill.svc.cluster.local default`,
		genBase.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02T15:04:05.000Z"), i, code, details, i%50, id, 20000+i%40000)
}

func jsonLine(i int, id string) string {
	return fmt.Sprintf(`{"start_time":"%s","method":"GET","path":"/j/%d","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","request_id":"%s","downstream_remote_address":"10.9.0.2:%d","duration":3}`,
		genBase.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02T15:04:05.000Z"), i, id, 30000+i)
}

func nrLine(at time.Time, remote string) string {
	return fmt.Sprintf(`[%s] "- - -" 0 NR filter_chain_not_found - "-" 0 0 1 - "-" "-" "-" "-" "-" - - 10.1.0.5:8080 %s - -`,
		at.Format("2006-01-02T15:04:05.000Z"), remote)
}

func writeLines(t testing.TB, path string, lines []string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	for _, l := range lines {
		_, _ = w.WriteString(l)
		_ = w.WriteByte('\n')
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

func TestScanFindsInjectedRequests(t *testing.T) {
	dir := t.TempDir()
	var a, b []string
	var want []string
	for i := 0; i < 5000; i++ {
		id := fmt.Sprintf("bg-%06d", i)
		code := 200
		if i%500 == 7 {
			id, code = fmt.Sprintf("drill-r1-%03d", i), 403
			want = append(want, id)
		}
		a = append(a, textLine(i, id, code))
		b = append(b, jsonLine(i, fmt.Sprintf("other-%06d", i)))
	}
	a = append(a, "garbage that is not an access log line drill-r1-007", "", "   ")
	b = append(b, `{"request_id":"drill-r1-json","response_code":"oops"}`, jsonLine(9999, "drill-r1-json2"))
	want = append(want, "drill-r1-json2")
	writeLines(t, filepath.Join(dir, "a.log"), a)
	writeLines(t, filepath.Join(dir, "b.log"), b)

	q := Query{RequestIDs: append(append([]string{}, want...), "drill-r1-json", "drill-r1-missing")}
	res, err := Scan(context.Background(), []string{filepath.Join(dir, "*.log")}, q)
	require.NoError(t, err)
	assert.Equal(t, 10003, res.Lines, "blank lines are not counted")
	assert.Equal(t, 2, res.Malformed, "the garbage line and the bad json record both mention an id")
	assert.Contains(t, res.FirstMalformed, "a.log:5001:")
	assert.Len(t, res.Matches, len(want))
	for _, id := range want {
		require.Contains(t, res.ByRequestID, id)
	}
	assert.NotContains(t, res.ByRequestID, "drill-r1-missing")
	denied := res.ByRequestID["drill-r1-007"]
	assert.Equal(t, 403, denied.ResponseCode)
	assert.Equal(t, "rbac_access_denied_matched_policy[ns[drill]-policy[deny-injector]-rule[0]]", denied.ResponseCodeDetails)
	assert.Equal(t, "/j/9999", res.ByRequestID["drill-r1-json2"].Path)
}

func TestScanKeepsFirstEntryPerID(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, filepath.Join(dir, "x.log"), []string{textLine(1, "dup", 503), textLine(2, "dup", 200)})
	res, err := Scan(context.Background(), []string{filepath.Join(dir, "x.log")}, Query{RequestIDs: []string{"dup"}})
	require.NoError(t, err)
	assert.Len(t, res.Matches, 2)
	assert.Equal(t, 503, res.ByRequestID["dup"].ResponseCode)
}

func TestScanPlaintextByRemoteAndWindow(t *testing.T) {
	path := collectorstest.Corpus(t, "istio_access_log/istio_issue51982_plaintext_to_strict_NR_filter_chain_not_found.log")
	tests := []struct {
		name      string
		q         Query
		wantPorts []string
	}{
		{"exact address", Query{DownstreamRemote: []string{"10.12.129.6:51244"}}, []string{"51244"}},
		{"ip, any port, NR only", Query{DownstreamRemote: []string{"10.12.129.6"}, ResponseFlags: "NR"},
			[]string{"51244", "15275", "63103", "35621", "26324", "4921", "48008"}},
		{"window", Query{DownstreamRemote: []string{"10.12.129.6"}, ResponseFlags: "NR",
			Since: ts("2024-07-10T08:45:32.900Z"), Until: ts("2024-07-10T08:45:33.050Z")}, []string{"4921"}},
		{"window bounds are inclusive", Query{DownstreamRemote: []string{"10.10.123.127"},
			Since: ts("2024-07-10T08:45:32.932Z"), Until: ts("2024-07-10T08:45:32.950Z")}, []string{"36422", "36430"}},
		{"flag not present", Query{DownstreamRemote: []string{"10.12.129.6:51244"}, ResponseFlags: "NR,UF"}, nil},
		{"no identity: all NR in window", Query{ResponseFlags: "NR", Since: ts("2024-07-10T08:45:33Z")}, []string{"4921", "48008"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Scan(context.Background(), []string{path}, tt.q)
			require.NoError(t, err)
			var ports []string
			for _, e := range res.Matches {
				ports = append(ports, e.DownstreamRemoteAddress[strings.LastIndexByte(e.DownstreamRemoteAddress, ':')+1:])
				assert.Empty(t, e.RequestID)
			}
			assert.Equal(t, tt.wantPorts, ports)
			assert.Empty(t, res.ByRequestID)
			assert.Equal(t, 10, res.Lines)
			assert.Zero(t, res.Malformed)
		})
	}
}

func TestScanIPv6Remote(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, filepath.Join(dir, "v6.log"), []string{nrLine(genBase, "[::1]:4242"), nrLine(genBase, "[::1]:4243")})
	for _, remote := range []string{"::1", "[::1]", "[::1]:4242"} {
		res, err := Scan(context.Background(), []string{filepath.Join(dir, "v6.log")}, Query{DownstreamRemote: []string{remote}})
		require.NoError(t, err)
		if remote == "[::1]:4242" {
			assert.Len(t, res.Matches, 1, remote)
		} else {
			assert.Len(t, res.Matches, 2, remote)
		}
	}
}

func TestScanGzipAndLongLines(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "rotated.log.gz"))
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	_, _ = fmt.Fprintln(zw, textLine(1, "gz-id", 200))
	_, _ = fmt.Fprintln(zw, strings.Repeat("x", maxLine+10)+" gz-id")
	_, _ = fmt.Fprint(zw, textLine(2, "gz-id-2", 200)) // no final newline
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	res, err := Scan(context.Background(), []string{filepath.Join(dir, "rotated.log.gz")}, Query{RequestIDs: []string{"gz-id", "gz-id-2"}})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Lines)
	assert.Equal(t, 1, res.Malformed)
	assert.Contains(t, res.FirstMalformed, "line longer than")
	assert.Len(t, res.ByRequestID, 2)
}

func TestScanErrors(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, filepath.Join(dir, "ok.log"), []string{textLine(1, "a", 200)})
	tests := []struct {
		name    string
		paths   []string
		wantErr string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.log")}, "no such file"},
		{"glob matches nothing", []string{filepath.Join(dir, "*.txt")}, "no such file"},
		{"bad pattern", []string{filepath.Join(dir, "[")}, "syntax error in pattern"},
		{"not gzip", []string{writeGz(t, dir)}, "gzip: invalid header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Scan(context.Background(), tt.paths, Query{})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func writeGz(t *testing.T, dir string) string {
	p := filepath.Join(dir, "fake.gz")
	require.NoError(t, os.WriteFile(p, []byte("plain text"), 0o600))
	return p
}

func TestScanStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	lines := make([]string, 10000)
	for i := range lines {
		lines[i] = textLine(i, "x", 200)
	}
	writeLines(t, filepath.Join(dir, "big.log"), lines)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Scan(ctx, []string{filepath.Join(dir, "big.log")}, Query{})
	require.ErrorIs(t, err, context.Canceled)
}

// TestScanMemoryIsFlat scans a file far larger than what Scan may allocate:
// lines that the pre-filter rejects must cost no allocation, so the whole
// scan allocates a small constant amount, not the file's size.
func TestScanMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 30 MB file")
	}
	path := filepath.Join(t.TempDir(), "big.log")
	size := generate(t, path, 30<<20, nil)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("absent-%04d", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := Scan(context.Background(), []string{path}, Query{RequestIDs: ids})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Empty(t, res.Matches)
	assert.Greater(t, res.Lines, 50000)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(size/20), "scan of %d bytes allocated %d bytes", size, allocated)

	// Parsing every line reuses one entry: still nothing per line.
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err = Scan(context.Background(), []string{path}, Query{RequestIDs: ids, ParseAll: true})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.Zero(t, res.Malformed)
	allocated = after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(size/20), "parse-all scan of %d bytes allocated %d bytes", size, allocated)
}

// TestScanParseAll parses lines the pre-filter would skip, so malformed
// lines that mention no id are counted too; and the entries it returns own
// their text, though every line is parsed from the reused read buffer.
func TestScanParseAll(t *testing.T) {
	dir := t.TempDir()
	var lines, want []string
	for i := range 3000 { // about 1 MB: many refills of the read buffer
		id := fmt.Sprintf("bg-%06d", i)
		if i%300 == 0 {
			id = fmt.Sprintf("drill-%06d", i)
			want = append(want, textLine(i, id, 403))
			lines = append(lines, want[len(want)-1])
			continue
		}
		lines = append(lines, textLine(i, id, 200))
	}
	lines = append(lines, "not an access log line", `{"response_code":"x"}`)
	writeLines(t, filepath.Join(dir, "a.log"), lines)
	var ids []string
	for i := 0; i < 3000; i += 300 {
		ids = append(ids, fmt.Sprintf("drill-%06d", i))
	}
	for _, parseAll := range []bool{false, true} {
		res, err := Scan(context.Background(), []string{filepath.Join(dir, "a.log")}, Query{RequestIDs: ids, ParseAll: parseAll})
		require.NoError(t, err)
		require.Len(t, res.Matches, len(want))
		for i, e := range res.Matches {
			assert.Equal(t, want[i], e.Raw)
			assert.Equal(t, ids[i], e.RequestID)
			assert.Equal(t, 403, e.ResponseCode)
		}
		if parseAll {
			assert.Equal(t, 2, res.Malformed)
			assert.Contains(t, res.FirstMalformed, "a.log:3001: ")
		} else {
			assert.Zero(t, res.Malformed, "the pre-filter skipped them")
		}
	}
}

// generate writes Istio TEXT lines until the file reaches size bytes; every
// 1000th line carries one of ids in turn.
func generate(t testing.TB, path string, size int64, ids []string) int64 {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	for i, next := 0, 0; n < size; i++ {
		id := fmt.Sprintf("bg-%08d-0000-4000-8000-000000000000", i)
		if i%1000 == 999 && next < len(ids) {
			id = ids[next]
			next++
		}
		k, _ := w.WriteString(textLine(i, id, 200) + "\n")
		n += int64(k)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	return n
}

func BenchmarkScan(b *testing.B) {
	path := filepath.Join(b.TempDir(), "access.log")
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("drill-%04d-0000-4000-8000-000000000000", i)
	}
	size := generate(b, path, 50<<20, ids)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		res, err := Scan(context.Background(), []string{path}, Query{RequestIDs: ids})
		if err != nil || len(res.ByRequestID) != len(ids) {
			b.Fatalf("found %d of %d ids: %v", len(res.ByRequestID), len(ids), err)
		}
	}
}

func BenchmarkScanParseAll(b *testing.B) {
	path := filepath.Join(b.TempDir(), "access.log")
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("drill-%04d-0000-4000-8000-000000000000", i)
	}
	size := generate(b, path, 50<<20, ids)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := Scan(context.Background(), []string{path}, Query{RequestIDs: ids, ParseAll: true})
		if err != nil || len(res.ByRequestID) != len(ids) || res.Malformed != 0 {
			b.Fatalf("found %d of %d ids, %d malformed: %v", len(res.ByRequestID), len(ids), res.Malformed, err)
		}
	}
}
