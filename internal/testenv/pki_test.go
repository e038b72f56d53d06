package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func TestIssueClientCert(t *testing.T) {
	caCert, caKey := testCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(caCert)

	c := IssueClientCert(t, caCert, caKey, ClientCert{SPIFFEID: "spiffe://cluster.local/ns/a/sa/b", CommonName: "b"})
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
	require.Len(t, c.Leaf.URIs, 1)
	assert.Equal(t, "spiffe://cluster.local/ns/a/sa/b", c.Leaf.URIs[0].String())
	assert.Equal(t, "b", c.Leaf.Subject.CommonName)
	assert.Equal(t, []string{"cluster.local"}, c.Leaf.Subject.Organization)

	// Without a common name the subject stays empty, like a mesh workload's.
	notBefore, notAfter := time.Now().Add(-48*time.Hour).Truncate(time.Second), time.Now().Add(-24*time.Hour).Truncate(time.Second)
	old := IssueClientCert(t, caCert, caKey, ClientCert{SPIFFEID: "spiffe://cluster.local/ns/a/sa/b", NotBefore: notBefore, NotAfter: notAfter})
	assert.Empty(t, old.Leaf.Subject.String())
	assert.True(t, notBefore.Equal(old.Leaf.NotBefore), "not before %s", old.Leaf.NotBefore)
	assert.True(t, notAfter.Equal(old.Leaf.NotAfter), "not after %s", old.Leaf.NotAfter)
}

func TestWriteServerFiles(t *testing.T) {
	caCert, caKey := testCA(t)
	srv := IssueClientCert(t, caCert, caKey, ClientCert{SPIFFEID: "spiffe://cluster.local/ns/edge/sa/edge"})
	f := WriteServerFiles(t, []byte("ca pem"), srv)

	ca, err := os.ReadFile(f.CAFile)
	require.NoError(t, err)
	assert.Equal(t, "ca pem", string(ca))
	_, err = tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	require.NoError(t, err)
	// The bundle holds both, so it loads as certificate and key at once.
	_, err = tls.LoadX509KeyPair(f.BundleFile, f.BundleFile)
	require.NoError(t, err)
}
