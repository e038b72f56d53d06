package wire

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meshdrill/meshdrill/expectations"
	"github.com/meshdrill/meshdrill/fixtures"
)

// Injector sends drills' traffic with fixtures, forging each drill's identity
// from the mesh CA. Only the suite's targets are ever contacted.
type Injector struct {
	Targets map[string]expectations.Target
	CA      *fixtures.CA
	Rate    float64 // per target, shared by every drill aimed at it
	// Certs are certificates by drill name (identity_from); others forge
	// their identity from CA.
	Certs map[string]*tls.Certificate

	mu     sync.Mutex
	pacers map[string]*fixtures.Pacer
}

// pacer returns the shared pacer of a target address, so concurrent drills
// cannot add up to more than the target's rate.
func (in *Injector) pacer(target string) (*fixtures.Pacer, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if p, ok := in.pacers[target]; ok {
		return p, nil
	}
	rate := in.Rate
	if rate == 0 {
		rate = fixtures.DefaultRate
	}
	p, err := fixtures.NewPacer(rate)
	if err != nil {
		return nil, err
	}
	if in.pacers == nil {
		in.pacers = map[string]*fixtures.Pacer{}
	}
	in.pacers[target] = p
	return p, nil
}

// Inject sends one drill's requests and converts the ground truth.
func (in *Injector) Inject(ctx context.Context, d expectations.Drill, runID string) (expectations.Injection, error) {
	kind, ok := fixtures.Registry[d.Kind]
	if !ok {
		return expectations.Injection{}, fmt.Errorf("no injector for drill kind %q", d.Kind)
	}
	t, ok := in.Targets[d.Target]
	if !ok {
		return expectations.Injection{}, fmt.Errorf("target %q is not in the suite's allowlist", d.Target)
	}
	plan := fixtures.Plan{
		Drill:    d.Name,
		Kind:     d.Kind,
		RunID:    runID,
		Target:   fixtures.Target{Name: t.Name, Address: t.Address, ServerName: t.ServerName},
		Count:    d.Count,
		Rate:     in.Rate,
		CA:       in.CA,
		SPIFFEID: d.Identity,
		Method:   d.Method,
		Path:     d.Path,
		Delay:    d.Delay,
		Status:   d.Status,
		Identity: in.Certs[d.Name],
	}
	// A slow drill needs a request timeout beyond its delay.
	if t := d.Delay + 10*time.Second; d.Delay > 0 && t > fixtures.DefaultTimeout {
		plan.Timeout = t
	}
	// Pace by address: two target names, or two spellings of one address
	// (localhost, 127.0.0.1, ::ffff:127.0.0.1, a leading zero in the port),
	// share one rate.
	pacer, err := in.pacer(canonicalAddr(ctx, t.Address))
	if err != nil {
		return expectations.Injection{}, err
	}
	plan.Pacer = pacer
	inj := expectations.Injection{Expected: kind.Expect.Description}
	if d.ExpectClient != "" {
		exp, err := fixtures.ParseExpected(d.ExpectClient)
		if err != nil {
			return inj, fmt.Errorf("expect_client: %w", err)
		}
		plan.Expect = &exp
		inj.Expected = exp.Description
	}
	reqs, err := fixtures.Run(ctx, plan)
	if err != nil {
		return inj, err
	}
	for _, r := range reqs {
		inj.Requests = append(inj.Requests, expectations.SentRequest{
			RequestID:  r.RequestID,
			TraceID:    r.TraceID,
			SpanID:     r.SpanID,
			SourceAddr: r.SourceAddr,
			Sent:       r.Sent,
			Done:       r.Done,
			Latency:    r.Latency,
			Outcome:    r.Outcome.String(),
			Status:     r.Outcome.Status,
			Match:      expectations.ClientMatch(r.Match),
		})
	}
	return inj, nil
}

// canonicalAddr spells an address one way: the first IP its host resolves
// to (IPv4-mapped IPv6 as IPv4) and the port as a number.
func canonicalAddr(ctx context.Context, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if n, err := strconv.Atoi(port); err == nil {
		port = strconv.Itoa(n)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if ips, err := net.DefaultResolver.LookupIPAddr(rctx, host); err == nil && len(ips) > 0 {
			ip = ips[0].IP
		}
	}
	if ip == nil {
		return net.JoinHostPort(strings.ToLower(host), port)
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return net.JoinHostPort(ip.String(), port)
}
