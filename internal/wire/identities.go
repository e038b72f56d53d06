package wire

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/fixtures"
)

// ResolveIdentities loads the certificates of drills whose identity comes
// from files or the SPIFFE Workload API, and writes each one's SPIFFE ID
// into the drill, so the dialect can pin source_principal. It returns the
// certificates by drill name for the injector. Nothing is sent to targets.
func ResolveIdentities(ctx context.Context, s *expectations.Suite) (map[string]*tls.Certificate, error) {
	certs := map[string]*tls.Certificate{}
	var svid *tls.Certificate
	var svidID string
	for i := range s.Drills {
		d := &s.Drills[i]
		switch {
		case d.IdentityFrom == "":
			continue
		case d.IdentityFrom == "workload_api":
			if svid == nil {
				fctx, cancel := context.WithTimeout(ctx, fixtures.WorkloadAPITimeout)
				c, id, err := fixtures.FetchSVID(fctx, s.Identities.WorkloadAPISocket)
				cancel()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", s.At("identities.workload_api"), err)
				}
				svid, svidID = c, id
			}
			certs[d.Name], d.Identity = svid, svidID
		case strings.HasPrefix(d.IdentityFrom, "files."):
			kp := s.Identities.Files[strings.TrimPrefix(d.IdentityFrom, "files.")]
			err := regularFile(kp.CertFile)
			if err == nil {
				err = regularFile(kp.KeyFile)
			}
			var c *tls.Certificate
			if err == nil {
				c, err = fixtures.LoadKeyPair(kp.CertFile, kp.KeyFile)
			}
			if err != nil {
				return nil, fmt.Errorf("%s (%s): %w", s.At(fmt.Sprintf("drills[%d].inject.identity_from", i)), d.IdentityFrom, err)
			}
			id, err := spiffeIDOf(c)
			if err != nil && s.Mesh.Dialect == "generic" {
				// An edge that authorizes on the subject needs no SPIFFE
				// ID; only a mesh dialect pins the principal.
				id, err = "", nil
			}
			if err != nil {
				return nil, fmt.Errorf("%s (%s): %w", s.At(fmt.Sprintf("drills[%d].inject.identity_from", i)), d.IdentityFrom, err)
			}
			if c.Leaf.NotAfter.Before(time.Now()) && d.Kind != "expired-cert" {
				return nil, fmt.Errorf("%s (%s): the certificate expired at %s", s.At(fmt.Sprintf("drills[%d].inject.identity_from", i)), d.IdentityFrom, c.Leaf.NotAfter.Format(time.RFC3339))
			}
			certs[d.Name], d.Identity = c, id
		}
	}
	return certs, nil
}

func spiffeIDOf(c *tls.Certificate) (string, error) {
	if c.Leaf == nil {
		return "", fmt.Errorf("no leaf certificate")
	}
	for _, u := range c.Leaf.URIs {
		if u.Scheme == "spiffe" {
			return u.String(), nil
		}
	}
	return "", fmt.Errorf("the certificate carries no spiffe:// URI SAN")
}
