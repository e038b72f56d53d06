package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ClientCert describes a certificate for IssueClientCert.
type ClientCert struct {
	// SPIFFEID is the certificate's only URI SAN.
	SPIFFEID string
	// CommonName, when set, gives the certificate a subject (this common name, the
	// ID's trust domain as organization) for proxies that authorize on the subject
	// because they cannot read a URI SAN. Mesh workloads' certificates have none.
	CommonName string
	// NotBefore and NotAfter default to five minutes ago and two hours from now;
	// tests of expired or not-yet-valid identities set them.
	NotBefore, NotAfter time.Time
}

// IssueClientCert issues a client certificate (ECDSA P-256, client auth only)
// signed by the CA's certificate and key, with its Leaf set.
func IssueClientCert(t testing.TB, caCert *x509.Certificate, caKey crypto.Signer, c ClientCert) *tls.Certificate {
	t.Helper()
	id, err := url.Parse(c.SPIFFEID)
	if err != nil {
		t.Fatalf("testenv: client certificate: %v", err)
	}
	now := time.Now()
	if c.NotBefore.IsZero() {
		c.NotBefore = now.Add(-5 * time.Minute)
	}
	if c.NotAfter.IsZero() {
		c.NotAfter = now.Add(2 * time.Hour)
	}
	var subject pkix.Name
	if c.CommonName != "" {
		subject = pkix.Name{CommonName: c.CommonName, Organization: []string{id.Host}}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: client certificate: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("testenv: client certificate: %v", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    c.NotBefore,
		NotAfter:     c.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{id},
	}, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatalf("testenv: client certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testenv: client certificate: %v", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// KeyPairPEM encodes cert's leaf certificate and its private key (PKCS#8) as PEM,
// as a proxy or an operator's files hold them.
func KeyPairPEM(t testing.TB, cert *tls.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatalf("testenv: encode key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// ServerFiles are the files of an mTLS proxy's listener, as WriteServerFiles wrote them.
type ServerFiles struct {
	Dir        string // a fresh temporary directory holding them
	CAFile     string // the CA certificate: what the proxy trusts
	CertFile   string // the server certificate
	KeyFile    string // its key
	BundleFile string // certificate then key, for HAProxy's crt
}

// WriteServerFiles writes the CA certificate caPEM and the server certificate srv
// (with its key) where a proxy reads them: ca.crt, server.crt, server.key and
// server.pem in a fresh temporary directory.
func WriteServerFiles(t testing.TB, caPEM []byte, srv *tls.Certificate) ServerFiles {
	t.Helper()
	certPEM, keyPEM := KeyPairPEM(t, srv)
	dir := t.TempDir()
	f := ServerFiles{
		Dir:        dir,
		CAFile:     filepath.Join(dir, "ca.crt"),
		CertFile:   filepath.Join(dir, "server.crt"),
		KeyFile:    filepath.Join(dir, "server.key"),
		BundleFile: filepath.Join(dir, "server.pem"),
	}
	for path, data := range map[string][]byte{
		f.CAFile:     caPEM,
		f.CertFile:   certPEM,
		f.KeyFile:    keyPEM,
		f.BundleFile: append(append([]byte{}, certPEM...), keyPEM...),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	return f
}
