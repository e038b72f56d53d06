package proxies_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/fixtures"
	"github.com/meshdrill/meshdrill/internal/testenv"
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
	ca *fixtures.CA
	testenv.ServerFiles
	caKey string // the CA's key: the suites forge the drills' identities from it
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
	caKey, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	require.NoError(t, err)

	p := &pki{ca: ca, ServerFiles: testenv.WriteServerFiles(t, ca.CertPEM, srv)}
	p.caKey = filepath.Join(p.Dir, "ca.key")
	require.NoError(t, os.WriteFile(p.caKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: caKey}), 0o600))
	p.allowedCert, p.allowedKey = issueClient(t, ca, p.Dir, allowedCN, allowedID)
	p.forbiddenCert, p.forbiddenKey = issueClient(t, ca, p.Dir, forbiddenCN, forbiddenID)
	return p
}

// issueClient writes a client certificate from ca with a common name and a
// SPIFFE ID, as an operator's openssl would issue it, and returns its files.
func issueClient(t *testing.T, ca *fixtures.CA, dir, cn, spiffeID string) (certFile, keyFile string) {
	t.Helper()
	cert := testenv.IssueClientCert(t, ca.Cert, ca.Key, testenv.ClientCert{SPIFFEID: spiffeID, CommonName: cn})
	certPEM, keyPEM := testenv.KeyPairPEM(t, cert)
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	require.NoError(t, os.WriteFile(certFile, certPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, keyPEM, 0o600))
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
