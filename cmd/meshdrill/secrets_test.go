package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
)

// A backend that echoes the bearer token in its error body must not get it
// printed: not on stderr, not in the report, not in output files.
func TestSecretsNeverPrinted(t *testing.T) {
	const token = "s3cr3tTOKENvalue42"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"status":"error","errorType":"unauthorized","error":"invalid credentials %s for user (%s)"}`, token, r.Header.Get("Authorization"))
	}))
	defer echo.Close()
	t.Setenv("MESHDRILL_TEST_PROM_TOKEN", token)
	dir := t.TempDir()
	path := writeEchoSuite(t, dir, echo.URL, "    auth: {bearer_token_env: MESHDRILL_TEST_PROM_TOKEN}\n")
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"run", path, "--output", "json=" + filepath.Join(dir, "r.json"), "--debug"}, &out, &errOut)
	assert.Equal(t, expectations.ExitError, code, "the backend refuses: could not tell, nothing sent")
	assert.Contains(t, errOut.String(), "no traffic was sent")
	assert.Contains(t, errOut.String(), "[REDACTED]", "the echoed token was seen and masked")
	report, err := os.ReadFile(filepath.Join(dir, "r.json"))
	require.NoError(t, err, "a run stopped before traffic still writes its report")
	assert.Contains(t, string(report), `"verdict": "ERROR"`)
	assert.Contains(t, string(report), "no traffic was sent")
	for name, text := range map[string]string{"stdout": out.String(), "stderr": errOut.String(), "report": string(report)} {
		assert.NotContains(t, text, token, name)
	}
}

// Basic auth and header values echoed back (the Authorization header, an
// API key header) are masked too, and an escape sequence in the body is
// shown, not obeyed.
func TestEchoedBasicAuthAndHeadersMasked(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":"\u001b]0;PWNED\u0007 headers: Authorization: %s X-Api-Key: %s"}`, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	}))
	defer echo.Close()
	t.Setenv("MESHDRILL_TEST_PW", "hunter2-secret-pw")
	t.Setenv("MESHDRILL_TEST_KEY", "am-key-SECRET-9876")
	path := writeEchoSuite(t, t.TempDir(), echo.URL, "    auth: {basic_user: admin, basic_password_env: MESHDRILL_TEST_PW}\n    headers: {X-Api-Key: \"${MESHDRILL_TEST_KEY}\"}\n")
	var out, errOut bytes.Buffer
	code := execute(context.Background(), []string{"run", path}, &out, &errOut)
	assert.Equal(t, expectations.ExitError, code)
	all := out.String() + errOut.String()
	for _, secret := range []string{"hunter2-secret-pw", "YWRtaW46aHVudGVyMi1zZWNyZXQtcHc=", "am-key-SECRET-9876", "\x1b", "\x07"} {
		assert.NotContains(t, all, secret)
	}
}

// writeEchoSuite writes a generic suite whose Prometheus backend is url,
// with the given auth lines, and returns its path.
func writeEchoSuite(t *testing.T, dir, url, auth string) string {
	t.Helper()
	suite := "mesh: {dialect: generic}\nbackends:\n  prometheus:\n    url: " + url + "\n" + auth +
		"targets:\n  edge: {address: 127.0.0.1:1}\ndrills:\n  - name: pt\n    target: edge\n    inject: {kind: plaintext}\n" +
		"    expect:\n      - metric: {query: 'x_total'}\n"
	path := filepath.Join(dir, "suite.yaml")
	require.NoError(t, os.WriteFile(path, []byte(suite), 0o600))
	return path
}
