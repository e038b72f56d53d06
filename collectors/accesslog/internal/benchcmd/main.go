// Command benchcmd measures accesslog.Scan on a large generated Istio access
// log, for scripts/bench-accesslog.sh, which sets it against grep.
//
//	benchcmd gen -out FILE -ids IDS -size BYTES [-n 1000]
//	benchcmd scan -ids IDS [-parse-all] FILE...
//
// gen writes Istio default TEXT lines (a deterministic mix of inbound and
// outbound traffic, denials, upstream failures, varied clients) until the
// file reaches the size, and writes n of its request ids, spread over the
// whole file, one per line, to IDS. scan looks those ids up with
// accesslog.Scan and prints one line of figures; -parse-all makes Scan parse
// every line instead of only those its pre-filter passes.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/collectors/accesslog"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: benchcmd gen|scan [flags]")
	}
	switch args[0] {
	case "gen":
		return gen(args[1:], out)
	case "scan":
		return scan(args[1:], out)
	}
	return fmt.Errorf("unknown command %q: want gen or scan", args[0])
}

func gen(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	path := fs.String("out", "", "access log to write")
	idsPath := fs.String("ids", "", "file to write the chosen request ids to")
	size := fs.Int64("size", 1<<30, "size of the log in bytes")
	n := fs.Int("n", 1000, "how many request ids to choose")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *idsPath == "" || *size <= 0 || *n <= 0 {
		return errors.New("gen needs -out, -ids, a positive -size and -n")
	}
	f, err := os.Create(*path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	g := newGenerator()
	// Choose every step-th line, step sized so the ids spread over the file.
	step := max(int(*size/avgLine) / *n, 1)
	var ids []string
	var written int64
	for i := 0; written < *size; i++ {
		line, id := g.line(i)
		if i%step == step/2 && len(ids) < *n {
			ids = append(ids, id)
		}
		k, err := w.WriteString(line)
		if err != nil {
			return err
		}
		written += int64(k)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if len(ids) < *n {
		return fmt.Errorf("only %d ids chosen, want %d: the size is too small", len(ids), *n)
	}
	if err := os.WriteFile(*idsPath, []byte(strings.Join(ids, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "wrote %d bytes to %s and %d ids to %s\n", written, *path, len(ids), *idsPath)
	return err
}

// avgLine is about the mean length of a generated line.
const avgLine = 345

type generator struct {
	r     *rand.Rand
	start time.Time
}

func newGenerator() *generator {
	return &generator{r: rand.New(rand.NewPCG(1, 2)), start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
}

var (
	services = []string{"productpage", "reviews", "ratings", "details", "checkout", "payments", "cart", "frontend"}
	methods  = []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
	agents   = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"curl/8.5.0", "Go-http-client/1.1", "grpc-go/1.64.0", "python-requests/2.32.3",
		"Envoy/HC", "kube-probe/1.30", "meshdrill/0.1 (run r20260301)",
	}
)

// line renders line i and returns it with its request id.
func (g *generator) line(i int) (string, string) {
	r := g.r
	id := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
	at := g.start.Add(time.Duration(i) * 3 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	svc := services[r.IntN(len(services))]
	method := methods[r.IntN(len(methods))]
	path := fmt.Sprintf("/api/v1/%s/%d", svc, r.IntN(100000))
	if r.IntN(4) == 0 {
		path += fmt.Sprintf("?page=%d&sort=desc", r.IntN(50))
	}
	code, flags, details, upstream, svcTime := 200, "-", "via_upstream", fmt.Sprintf("10.1.%d.%d:9080", r.IntN(250), r.IntN(250)), fmt.Sprint(r.IntN(80))
	switch k := r.IntN(100); {
	case k < 3:
		code, details, upstream, svcTime = 403, fmt.Sprintf("rbac_access_denied_matched_policy[ns[%s]-policy[deny-%s]-rule[0]]", svc, svc), "-", "-"
	case k < 5:
		code, flags, details, svcTime = 503, "UF,URX", "upstream_reset_before_response_started{remote_connection_failure}", "-"
	case k < 12:
		code = 404
	}
	inbound := r.IntN(2) == 0
	cluster, sni := fmt.Sprintf("outbound|9080||%s.shop.svc.cluster.local", svc), "-"
	if inbound {
		cluster, sni = "inbound|9080||", fmt.Sprintf("outbound_.9080_._.%s.shop.svc.cluster.local", svc)
	}
	line := fmt.Sprintf(`[%s] "%s %s HTTP/1.1" %d %s %s - "-" %d %d %d %s "-" "%s" "%s" "%s.shop:9080" "%s" %s 10.1.%d.%d:%d 10.1.%d.%d:9080 10.1.%d.%d:%d %s default`+"\n",
		at, method, path, code, flags, details, r.IntN(2000), r.IntN(20000), r.IntN(300), svcTime,
		agents[r.IntN(len(agents))], id, svc, upstream, cluster,
		r.IntN(250), r.IntN(250), 30000+r.IntN(30000), r.IntN(250), r.IntN(250), r.IntN(250), r.IntN(250), 30000+r.IntN(30000), sni)
	return line, id
}

func scan(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	idsPath := fs.String("ids", "", "file of request ids, one per line")
	parseAll := fs.Bool("parse-all", false, "parse every line, not only those the pre-filter passes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *idsPath == "" || fs.NArg() == 0 {
		return errors.New("scan needs -ids and at least one file")
	}
	b, err := os.ReadFile(*idsPath)
	if err != nil {
		return err
	}
	ids := strings.Fields(string(b))
	var size int64
	for _, p := range fs.Args() {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		size += st.Size()
	}
	start := time.Now()
	res, err := accesslog.Scan(context.Background(), fs.Args(), accesslog.Query{RequestIDs: ids, ParseAll: *parseAll})
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	mode := "prefilter"
	if *parseAll {
		mode = "parse-all"
	}
	_, err = fmt.Fprintf(out, "mode=%s bytes=%d seconds=%.3f mb_per_s=%.1f lines=%d ids=%d found=%d matches=%d malformed=%d\n",
		mode, size, elapsed.Seconds(), float64(size)/1e6/elapsed.Seconds(), res.Lines, len(ids), len(res.ByRequestID), len(res.Matches), res.Malformed)
	return err
}
