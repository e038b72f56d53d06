package proxies_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/fixtures"
)

// Identities of the drills. The edges admit allowedID and nothing else; the
// example suites name the same IDs.
const (
	trustDomain = "cluster.local"
	allowedCN   = "allowed-injector"
	allowedID   = "spiffe://cluster.local/ns/meshdrill/sa/allowed-injector"
	forbiddenCN = "forbidden-identity"
	forbiddenID = "spiffe://cluster.local/ns/meshdrill/sa/forbidden-identity"
	edgeID      = "spiffe://cluster.local/ns/edge/sa/edge"
)

// pki is the test mesh CA and the edges' server certificate, written where
// the proxies and the suites read them.
type pki struct {
	ca         *fixtures.CA
	caCert     string // the CA certificate: what the edges trust
	caKey      string // its key: the suites forge the drills' identities from it
	cert, key  string // the edges' server certificate and key
	bundleFile string // certificate then key, for HAProxy's crt
	// Client certificates with a common name as well as a SPIFFE ID, for
	// the nginx suite's identity_from: nginx authorizes on the subject, and
	// the identities meshdrill forges carry no common name (like Istio's).
	allowedCert, allowedKey     string
	forbiddenCert, forbiddenKey string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := fixtures.NewCA(trustDomain, 24*time.Hour)
	require.NoError(t, err)
	now := time.Now()
	srv, err := ca.IssueSVID(edgeID, now.Add(-5*time.Minute), now.Add(2*time.Hour))
	require.NoError(t, err)
	srvKey, err := x509.MarshalPKCS8PrivateKey(srv.PrivateKey)
	require.NoError(t, err)
	caKey, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: srvKey})

	dir := t.TempDir()
	p := &pki{
		ca:         ca,
		caCert:     filepath.Join(dir, "ca.crt"),
		caKey:      filepath.Join(dir, "ca.key"),
		cert:       filepath.Join(dir, "server.crt"),
		key:        filepath.Join(dir, "server.key"),
		bundleFile: filepath.Join(dir, "server.pem"),
	}
	p.allowedCert, p.allowedKey = issueClient(t, ca, dir, allowedCN, allowedID)
	p.forbiddenCert, p.forbiddenKey = issueClient(t, ca, dir, forbiddenCN, forbiddenID)
	for path, data := range map[string][]byte{
		p.caCert:     ca.CertPEM,
		p.caKey:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKey}),
		p.cert:       certPEM,
		p.key:        keyPEM,
		p.bundleFile: append(append([]byte{}, certPEM...), keyPEM...),
	} {
		require.NoError(t, os.WriteFile(path, data, 0o600))
	}
	return p
}

// issueClient writes a client certificate from ca with a common name and a
// SPIFFE ID, as an operator's openssl would issue it, and returns its files.
func issueClient(t *testing.T, ca *fixtures.CA, dir, cn, spiffeID string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id, err := url.Parse(spiffeID)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	require.NoError(t, err)
	now := time.Now()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{trustDomain}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(2 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{id},
	}, ca.Cert, key.Public(), ca.Key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

// uriSANHex is the DER encoding of a URI SAN (context tag [6], length, the
// URI) in upper-case hex, as HAProxy's `ssl_c_der,hex` prints it. HAProxy 2.6
// has no fetch for a URI SAN, so the edge authorizes on this exact byte
// string in the client's certificate: the tag and length keep
// ".../allowed-injector" from matching ".../allowed-injector-2".
func uriSANHex(uri string) string {
	if len(uri) > 127 {
		panic(fmt.Sprintf("uri %q needs a long-form DER length", uri))
	}
	return fmt.Sprintf("86%02X%X", len(uri), []byte(uri))
}
