package lab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLabPolicy(t *testing.T) {
	policies, err := parsePolicies(labPolicyYAML)
	require.NoError(t, err)
	pay := newAuthorizer(policies, "shop", map[string]string{"app": "payments", "version": "v1"})
	require.NotNil(t, pay)
	assert.Nil(t, newAuthorizer(policies, "shop", map[string]string{"app": "frontend"}), "frontend has no policy")
	assert.Nil(t, newAuthorizer(policies, "other", map[string]string{"app": "payments"}), "policies are namespaced")

	none := "rbac_access_denied_matched_policy[none]"
	admin := "rbac_access_denied_matched_policy[ns[shop]-policy[payments-deny-admin]-rule[0]]"
	tests := []struct {
		name      string
		principal string
		path      string
		details   string // "" = allowed
	}{
		{"frontend exact", "cluster.local/ns/shop/sa/frontend", "/api", ""},
		{"allowed prefix", "cluster.local/ns/meshdrill/sa/allowed-control", "/api", ""},
		{"prefix needs the whole prefix", "cluster.local/ns/meshdrill/sa/allowed", "/api", none},
		{"forbidden identity", "cluster.local/ns/meshdrill/sa/forbidden-identity", "/api", none},
		{"foreign trust domain", "evil.example/ns/shop/sa/frontend", "/api", none},
		{"no principal", "", "/api", none},
		{"deny before allow", "cluster.local/ns/shop/sa/frontend", "/admin", admin},
		{"deny prefix", "cluster.local/ns/shop/sa/frontend", "/admin/users?x=1", admin},
		{"deny matches forbidden too", "cluster.local/ns/meshdrill/sa/forbidden-identity", "/admin", admin},
		{"query is not part of the path", "cluster.local/ns/shop/sa/frontend", "/api?next=/admin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := pay.evaluate(authzRequest{Principal: tt.principal, Method: "GET", Path: tt.path})
			assert.Equal(t, tt.details == "", d.Allowed)
			assert.Equal(t, tt.details, d.Details)
		})
	}
}

func TestPolicySemantics(t *testing.T) {
	const src = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-suffix, namespace: ns}
spec:
  action: DENY
  rules:
  - from:
    - source:
        principals: ["*/sa/evil"]
  - to:
    - operation:
        methods: ["DELETE"]
        notPaths: ["/tmp/*"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-ns, namespace: ns}
spec:
  rules:
  - from:
    - source:
        namespaces: ["good"]
        notPrincipals: ["td/ns/good/sa/banned"]
    to:
    - operation:
        paths: ["*.html", "/exact"]
  - from:
    - source:
        principals: ["*"]
    to:
    - operation:
        methods: ["HEAD"]
`
	policies, err := parsePolicies([]byte(src))
	require.NoError(t, err)
	a := newAuthorizer(policies, "ns", nil)
	require.NotNil(t, a)
	tests := []struct {
		name, principal, method, path, details string
	}{
		{"suffix principal denied", "td/ns/good/sa/evil", "GET", "/x.html", "rbac_access_denied_matched_policy[ns[ns]-policy[deny-suffix]-rule[0]]"},
		{"second deny rule", "td/ns/good/sa/web", "DELETE", "/x.html", "rbac_access_denied_matched_policy[ns[ns]-policy[deny-suffix]-rule[1]]"},
		{"notPaths exempts", "td/ns/good/sa/web", "DELETE", "/tmp/x.html", ""},
		{"namespace and suffix path", "td/ns/good/sa/web", "GET", "/index.html", ""},
		{"exact path", "td/ns/good/sa/web", "GET", "/exact", ""},
		{"exact is exact", "td/ns/good/sa/web", "GET", "/exact/more", "rbac_access_denied_matched_policy[none]"},
		{"other namespace", "td/ns/bad/sa/web", "GET", "/index.html", "rbac_access_denied_matched_policy[none]"},
		{"notPrincipals", "td/ns/good/sa/banned", "GET", "/index.html", "rbac_access_denied_matched_policy[none]"},
		{"star principal needs one", "", "HEAD", "/", "rbac_access_denied_matched_policy[none]"},
		{"star principal", "td/ns/bad/sa/web", "HEAD", "/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := a.evaluate(authzRequest{Principal: tt.principal, Method: tt.method, Path: tt.path})
			assert.Equal(t, tt.details, d.Details)
			assert.Equal(t, tt.details == "", d.Allowed)
		})
	}
}

func TestAllowPolicyWithoutRulesDeniesAll(t *testing.T) {
	policies, err := parsePolicies([]byte("kind: AuthorizationPolicy\nmetadata: {name: nothing, namespace: ns}\nspec: {}\n"))
	require.NoError(t, err)
	d := newAuthorizer(policies, "ns", nil).evaluate(authzRequest{Principal: "td/ns/ns/sa/a", Method: "GET", Path: "/"})
	assert.False(t, d.Allowed)

	policies, err = parsePolicies([]byte("kind: AuthorizationPolicy\nmetadata: {name: all, namespace: ns}\nspec: {rules: [{}]}\n"))
	require.NoError(t, err)
	d = newAuthorizer(policies, "ns", nil).evaluate(authzRequest{Principal: "td/ns/ns/sa/a", Method: "GET", Path: "/"})
	assert.True(t, d.Allowed, "one empty rule matches everything")
}

func TestParsePoliciesErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown key", "kind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {actoin: DENY}\n", "actoin"},
		{"custom action", "kind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: CUSTOM}\n", `unsupported action "CUSTOM"`},
		{"other kind", "kind: PeerAuthentication\nmetadata: {name: p}\n", `unsupported kind "PeerAuthentication"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parsePolicies([]byte(tt.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func FuzzPolicyMatch(f *testing.F) {
	f.Add("cluster.local/ns/meshdrill/sa/allowed-x", "/admin")
	f.Add("", "")
	policies, err := parsePolicies(labPolicyYAML)
	if err != nil {
		f.Fatal(err)
	}
	a := newAuthorizer(policies, "shop", map[string]string{"app": "payments"})
	f.Fuzz(func(t *testing.T, principal, path string) {
		d := a.evaluate(authzRequest{Principal: principal, Method: "GET", Path: path})
		if d.Allowed != (d.Details == "") {
			t.Fatalf("allowed=%v with details %q", d.Allowed, d.Details)
		}
	})
}
