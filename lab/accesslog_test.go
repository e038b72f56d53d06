package lab

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/testenv"
)

// formatRegexp turns an Envoy format string into a regexp matching its
// lines: a %COMMAND% inside quotes matches anything but a quote, elsewhere
// one space-free token.
func formatRegexp(format string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	inQuote := false
	for i := 0; i < len(format); {
		c := format[i]
		if c == '%' {
			j := strings.IndexByte(format[i+1:], '%')
			if j >= 0 {
				if inQuote {
					b.WriteString(`[^"]*`)
				} else {
					b.WriteString(`\S+`)
				}
				i += j + 2
				continue
			}
		}
		if c == '"' {
			inQuote = !inQuote
		}
		b.WriteString(regexp.QuoteMeta(string(c)))
		i++
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestAccessLogMatchesIstioDefaultFormat(t *testing.T) {
	corpus := testenv.CorpusDir(t)
	format, err := os.ReadFile(filepath.Join(corpus, "istio_access_log", "istio_default_text_format_unescaped_DERIVED.txt"))
	require.NoError(t, err)
	re := formatRegexp(strings.TrimSpace(string(format)))

	// The regexp is sound: it accepts Istio's own inbound, denial and NR lines.
	for _, f := range []string{
		"istio_docs_418_httpbin_inbound.log",
		"istio_gloo_bgc_vm_403_rbac_access_denied_matched_policy_none.log",
		"istio_issue51982_plaintext_to_strict_NR_filter_chain_not_found.log",
	} {
		b, err := os.ReadFile(filepath.Join(corpus, "istio_access_log", f))
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			assert.Regexp(t, re, line, f)
		}
	}

	start := time.Date(2021, 10, 2, 5, 39, 53, 720_000_000, time.UTC)
	tests := []struct {
		name  string
		entry logEntry
		want  string
	}{
		{"rbac denial", logEntry{
			Start: start, Method: "GET", Path: "/api", Proto: "HTTP/1.1", ResponseCode: 403, ResponseFlags: "-",
			ResponseCodeDetails: "rbac_access_denied_matched_policy[none]", BytesSent: 19, UserAgent: "curl/8",
			RequestID: "91dfed15-3288-469b-ad93-38a5a6af10f3", Authority: "payments.shop.svc.cluster.local",
			UpstreamCluster: "inbound|8080||", DownstreamLocalAddr: "127.0.0.1:15006", DownstreamRemoteAddr: "127.0.0.1:40000",
		}, `[2021-10-02T05:39:53.720Z] "GET /api HTTP/1.1" 403 - rbac_access_denied_matched_policy[none] - "-" 0 19 0 - "-" "curl/8" "91dfed15-3288-469b-ad93-38a5a6af10f3" "payments.shop.svc.cluster.local" "-" inbound|8080|| - 127.0.0.1:15006 127.0.0.1:40000 - -` + "\n"},
		{"no filter chain", logEntry{
			Start: start, ResponseFlags: "NR", ResponseCodeDetails: "filter_chain_not_found", Duration: 2 * time.Millisecond,
			DownstreamLocalAddr: "127.0.0.1:15006", DownstreamRemoteAddr: "127.0.0.1:51244",
		}, `[2021-10-02T05:39:53.720Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 2 - "-" "-" "-" "-" "-" - - 127.0.0.1:15006 127.0.0.1:51244 - -` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.entry.format()
			assert.Equal(t, tt.want, got)
			assert.Regexp(t, re, strings.TrimSuffix(got, "\n"))
		})
	}
}

func TestLiveAccessLogLinesMatchFormat(t *testing.T) {
	corpus := testenv.CorpusDir(t)
	format, err := os.ReadFile(filepath.Join(corpus, "istio_access_log", "istio_default_text_format_unescaped_DERIVED.txt"))
	require.NoError(t, err)
	re := formatRegexp(strings.TrimSpace(string(format)))

	l := startLab(t)
	pay := l.Workloads["payments"]
	forbidden := forge(t, l, forbiddenID)
	allowed := forge(t, l, allowedID)
	send(t, mtlsClient(t, l, pay, &forbidden), pay, "/x")
	send(t, mtlsClient(t, l, pay, &allowed), pay, "/status/418")
	plaintext(t, pay)
	lines := readLog(t, pay)
	require.Len(t, lines, 3)
	for _, line := range lines {
		assert.Regexp(t, re, line)
	}
}
