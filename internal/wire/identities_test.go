package wire

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/fixtures"
)

func TestResolveIdentitiesFromFiles(t *testing.T) {
	ca, err := fixtures.NewCA("cluster.local", time.Hour)
	require.NoError(t, err)
	id := "spiffe://cluster.local/ns/ops/sa/allowed-client"
	c, err := ca.IssueSVID(id, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600))
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600))

	suite := "targets:\n  edge: {address: 127.0.0.1:8443}\nidentities:\n  files:\n    client: {cert_file: c.pem, key_file: k.pem}\n" +
		"drills:\n  - name: ctl\n    target: edge\n    inject: {kind: control, identity_from: files.client}\n"
	s, err := expectations.Parse(filepath.Join(dir, "suite.yaml"), []byte(suite), LoadOptions())
	require.NoError(t, err)
	certs, err := ResolveIdentities(context.Background(), &s)
	require.NoError(t, err)
	assert.Equal(t, id, s.Drills[0].Identity, "the SPIFFE ID is read from the certificate")
	require.NotNil(t, certs["ctl"])
	// The dialect now pins the drill's principal.
	plan := expectations.PlanSuite(s)
	assert.Contains(t, plan[0].Checks[0].Query, `source_principal="`+id+`"`)

	require.NoError(t, os.WriteFile(certFile, []byte("not a cert"), 0o600))
	s, err = expectations.Parse(filepath.Join(dir, "suite.yaml"), []byte(suite), LoadOptions())
	require.NoError(t, err)
	_, err = ResolveIdentities(context.Background(), &s)
	assert.ErrorContains(t, err, "files.client")
}
