package lab

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/goccy/go-yaml"
)

//go:embed policy.yaml
var labPolicyYAML []byte

// authorizationPolicy is the subset of Istio's security.istio.io
// AuthorizationPolicy the lab's sidecars enforce.
type authorizationPolicy struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   policyMetadata `yaml:"metadata"`
	Spec       policySpec     `yaml:"spec"`
}

type policyMetadata struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type policySpec struct {
	Selector *policySelector `yaml:"selector"`
	Action   string          `yaml:"action"`
	// No rules match nothing (an ALLOW policy without rules denies all);
	// one empty rule matches everything, as in Istio.
	Rules []policyRule `yaml:"rules"`
}

type policySelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type policyRule struct {
	From []ruleFrom `yaml:"from"`
	To   []ruleTo   `yaml:"to"`
}

type ruleFrom struct {
	Source ruleSource `yaml:"source"`
}

type ruleSource struct {
	Principals    []string `yaml:"principals"`
	NotPrincipals []string `yaml:"notPrincipals"`
	Namespaces    []string `yaml:"namespaces"`
	NotNamespaces []string `yaml:"notNamespaces"`
}

type ruleTo struct {
	Operation ruleOperation `yaml:"operation"`
}

type ruleOperation struct {
	Paths      []string `yaml:"paths"`
	NotPaths   []string `yaml:"notPaths"`
	Methods    []string `yaml:"methods"`
	NotMethods []string `yaml:"notMethods"`
}

// parsePolicies decodes a multi-document YAML stream of AuthorizationPolicies,
// rejecting unknown keys and unsupported actions.
func parsePolicies(src []byte) ([]authorizationPolicy, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src), yaml.Strict())
	var out []authorizationPolicy
	for {
		var p authorizationPolicy
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decode authorization policy: %w", err)
		}
		if p.Kind == "" && p.Metadata.Name == "" {
			continue // an empty document between separators
		}
		if p.Kind != "AuthorizationPolicy" {
			return nil, fmt.Errorf("policy %q: unsupported kind %q", p.Metadata.Name, p.Kind)
		}
		if p.Spec.Action == "" {
			p.Spec.Action = "ALLOW" // Istio's default action
		}
		if p.Spec.Action != "ALLOW" && p.Spec.Action != "DENY" {
			return nil, fmt.Errorf("policy %q: unsupported action %q (the lab implements ALLOW and DENY)", p.Metadata.Name, p.Spec.Action)
		}
		out = append(out, p)
	}
	return out, nil
}

// authorizer is the RBAC filter pair Istio installs on a workload's inbound
// chain: one for DENY policies, evaluated first, one for ALLOW policies.
type authorizer struct {
	namespace string
	deny      []authorizationPolicy
	allow     []authorizationPolicy
}

// authzRequest is what the RBAC filter sees of a request.
type authzRequest struct {
	// Principal is the peer's SPIFFE ID without the "spiffe://" scheme, as
	// Istio's source.principal: "cluster.local/ns/shop/sa/frontend".
	Principal string
	Method    string
	Path      string
}

// authzDecision is the RBAC verdict with Envoy's RESPONSE_CODE_DETAILS.
type authzDecision struct {
	Allowed bool
	Details string // "" when allowed
}

// newAuthorizer selects the policies that apply to the workload (same
// namespace, selector matching its labels). It returns nil when none apply:
// then Istio installs no RBAC filter, and no rbac stats exist.
func newAuthorizer(policies []authorizationPolicy, namespace string, workloadLabels map[string]string) *authorizer {
	a := &authorizer{namespace: namespace}
	for _, p := range policies {
		if p.Metadata.Namespace != namespace || !selectorMatches(p.Spec.Selector, workloadLabels) {
			continue
		}
		if p.Spec.Action == "DENY" {
			a.deny = append(a.deny, p)
		} else {
			a.allow = append(a.allow, p)
		}
	}
	if len(a.deny) == 0 && len(a.allow) == 0 {
		return nil
	}
	return a
}

func selectorMatches(sel *policySelector, workloadLabels map[string]string) bool {
	if sel == nil {
		return true
	}
	for k, v := range sel.MatchLabels {
		if workloadLabels[k] != v {
			return false
		}
	}
	return true
}

// evaluate applies Istio's semantics: a matching DENY policy denies; else,
// when any ALLOW policy exists, one of them must match; else the request is
// allowed.
func (a *authorizer) evaluate(req authzRequest) authzDecision {
	req.Path, _, _ = strings.Cut(req.Path, "?")
	for _, p := range a.deny {
		if i, ok := matchRules(p.Spec.Rules, req); ok {
			return authzDecision{Details: fmt.Sprintf("rbac_access_denied_matched_policy[ns[%s]-policy[%s]-rule[%d]]", p.Metadata.Namespace, p.Metadata.Name, i)}
		}
	}
	if len(a.allow) == 0 {
		return authzDecision{Allowed: true}
	}
	for _, p := range a.allow {
		if _, ok := matchRules(p.Spec.Rules, req); ok {
			return authzDecision{Allowed: true}
		}
	}
	return authzDecision{Details: "rbac_access_denied_matched_policy[none]"}
}

// matchRules returns the index of the first rule that matches.
func matchRules(rules []policyRule, req authzRequest) (int, bool) {
	for i, r := range rules {
		if ruleMatches(r, req) {
			return i, true
		}
	}
	return 0, false
}

func ruleMatches(r policyRule, req authzRequest) bool {
	if len(r.From) > 0 {
		ok := false
		for _, f := range r.From {
			if sourceMatches(f.Source, req.Principal) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.To) > 0 {
		ok := false
		for _, t := range r.To {
			if operationMatches(t.Operation, req) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func sourceMatches(s ruleSource, principal string) bool {
	ns := principalNamespace(principal)
	return fieldMatches(s.Principals, s.NotPrincipals, principal) &&
		fieldMatches(s.Namespaces, s.NotNamespaces, ns)
}

func operationMatches(o ruleOperation, req authzRequest) bool {
	return fieldMatches(o.Paths, o.NotPaths, req.Path) &&
		fieldMatches(o.Methods, o.NotMethods, req.Method)
}

// fieldMatches: an unset positive list matches anything; a value in the
// negative list never matches. Istio ANDs the fields of one source or
// operation and ORs the values inside one field.
func fieldMatches(values, notValues []string, v string) bool {
	if len(values) > 0 && !anyPatternMatches(values, v) {
		return false
	}
	if len(notValues) > 0 && anyPatternMatches(notValues, v) {
		return false
	}
	return true
}

func anyPatternMatches(patterns []string, v string) bool {
	for _, p := range patterns {
		if patternMatches(p, v) {
			return true
		}
	}
	return false
}

// patternMatches implements Istio's string match for policy values: exact,
// "prefix*", "*suffix", or "*" (any non-empty value; an unauthenticated
// request has no principal and does not match "*").
func patternMatches(pattern, v string) bool {
	switch {
	case pattern == "*":
		return v != ""
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(v, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(v, strings.TrimPrefix(pattern, "*"))
	default:
		return v == pattern
	}
}

// principalNamespace extracts <ns> from "<trust-domain>/ns/<ns>/sa/<sa>".
func principalNamespace(principal string) string {
	_, rest, ok := strings.Cut(principal, "/ns/")
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, "/")
	return ns
}
