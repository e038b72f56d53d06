package collectors

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewHTTPClientAddsAuthAndHeaders(t *testing.T) {
	tests := []struct {
		name     string
		opts     HTTPOptions
		wantAuth string
	}{
		{"bearer", HTTPOptions{BearerToken: "tok"}, "Bearer tok"},
		{"basic", HTTPOptions{BasicUser: "u", BasicPassword: "p"}, "Basic dTpw"},
		{"none", HTTPOptions{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan http.Header, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Clone()
			}))
			defer srv.Close()
			tt.opts.Headers = map[string]string{"X-Scope-OrgID": "tenant-a"}
			c, err := NewHTTPClient(tt.opts)
			require.NoError(t, err)
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			resp, err := c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			h := <-got
			assert.Equal(t, tt.wantAuth, h.Get("Authorization"))
			assert.Equal(t, "tenant-a", h.Get("X-Scope-OrgID"))
			assert.Empty(t, req.Header.Get("Authorization"), "caller's request must not be modified")
		})
	}
}

func TestNewHTTPClientRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts HTTPOptions
		want string
	}{
		{"negative timeout", HTTPOptions{Timeout: -time.Second}, "negative timeout"},
		{"two auth kinds", HTTPOptions{BearerToken: "t", BasicUser: "u"}, "mutually exclusive"},
		{"cert without key", HTTPOptions{CertFile: "c.pem"}, "together"},
		{"missing ca", HTTPOptions{CAFile: filepath.Join(t.TempDir(), "nope.pem")}, "reading ca file"},
		{"ca not pem", HTTPOptions{CAFile: writeFile(t, "ca.pem", []byte("hello"))}, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHTTPClient(tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRequestTimeoutNamesBudget(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := NewHTTPClient(HTTPOptions{Timeout: 50 * time.Millisecond})
	require.NoError(t, err)

	t.Run("headers", func(t *testing.T) {
		_, err := c.Get(srv.URL + "/slow?token=secret")
		require.ErrorIs(t, err, ErrTimeout)
		err = WrapCallError(context.Background(), "test GET", err)
		assert.Contains(t, err.Error(), "request timeout of 50ms ran out")
		assert.NotContains(t, err.Error(), "secret")
		assert.True(t, IsRetryable(err))
	})
	t.Run("body", func(t *testing.T) {
		resp, err := c.Get(srv.URL + "/slow-body")
		require.NoError(t, err)
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		require.ErrorIs(t, err, ErrTimeout)
	})
}

func TestRedirectToOtherHostRefused(t *testing.T) {
	got := make(chan string, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
	}))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/steal", http.StatusFound))
	defer srv.Close()
	c, err := NewHTTPClient(HTTPOptions{BearerToken: "tok"})
	require.NoError(t, err)
	_, err = c.Get(srv.URL)
	require.ErrorContains(t, err, "refusing redirect to another origin")
	select {
	case h := <-got:
		t.Fatalf("credentials followed the redirect: %q", h)
	default:
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := mintCA(t)
	serverCert := mintLeaf(t, caCert, caKey, "server", []net.IP{net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth)
	clientCert := mintLeaf(t, caCert, caKey, "client", nil, x509.ExtKeyUsageClientAuth)
	caFile := writeFile(t, "ca.pem", pemBlock("CERTIFICATE", caCert.Raw))
	certFile, keyFile := writeKeyPair(t, dir, clientCert)

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()

	t.Run("trusted ca and client cert", func(t *testing.T) {
		c, err := NewHTTPClient(HTTPOptions{CAFile: caFile, CertFile: certFile, KeyFile: keyFile})
		require.NoError(t, err)
		resp, err := c.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "client", string(b))
	})
	t.Run("unknown ca", func(t *testing.T) {
		c, err := NewHTTPClient(HTTPOptions{CertFile: certFile, KeyFile: keyFile})
		require.NoError(t, err)
		_, err = c.Get(srv.URL)
		require.Error(t, err)
		assert.False(t, IsRetryable(err))
	})
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func mintCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func mintLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, ips []net.IP, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: ips, ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writeKeyPair(t *testing.T, dir string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	require.NoError(t, os.WriteFile(certFile, pemBlock("CERTIFICATE", c.Certificate[0]), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pemBlock("EC PRIVATE KEY", keyDER), 0o600))
	return certFile, keyFile
}

// An endless answer is cut at MaxResponseBody, for every reader.
func TestBodyCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < 200 && r.Context().Err() == nil; i++ { // bounded: 200 MiB at most
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := NewHTTPClient(HTTPOptions{Timeout: 30 * time.Second})
	require.NoError(t, err)
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Equal(t, int64(MaxResponseBody), n)
}
