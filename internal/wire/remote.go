package wire

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/meshdrill/meshdrill/collectors/accesslog"
	"github.com/meshdrill/meshdrill/collectors/alertmanager"
	"github.com/meshdrill/meshdrill/collectors/loki"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
	"github.com/meshdrill/meshdrill/expectations"
)

// Loki reads access logs from Loki: a stream selector narrows the search,
// line filters pick the injected requests, and lines in Istio's or Envoy's
// formats are parsed like files.
type Loki struct {
	Client   *loki.Client
	Selector string
	URL      string
}

// Describe names the backend.
func (l Loki) Describe() string { return "loki " + l.URL + " " + l.Selector }

// lines runs one query for lines containing any needle in the window.
func (l Loki) lines(ctx context.Context, needles []string, since, until time.Time) ([]loki.Entry, error) {
	quoted := make([]string, len(needles))
	for i, n := range needles {
		quoted[i] = regexp.QuoteMeta(n)
	}
	q := fmt.Sprintf("%s |~ %q", l.Selector, strings.Join(quoted, "|"))
	res, err := l.Client.QueryRange(ctx, loki.RangeQuery{Query: q, Start: since, End: until, Limit: 5000, Direction: "forward"})
	if err != nil {
		return nil, err
	}
	var out []loki.Entry
	for _, st := range res.Streams {
		out = append(out, st.Entries...)
	}
	return out, nil
}

// Grep returns the raw lines containing each needle.
func (l Loki) Grep(ctx context.Context, needles []string, since, until time.Time) (map[string][]string, error) {
	entries, err := l.lines(ctx, needles, since, until)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range entries {
		for _, n := range needles {
			if strings.Contains(e.Line, n) && len(out[n]) < maxLinesPerNeedle {
				out[n] = append(out[n], e.Line)
			}
		}
	}
	return out, nil
}

// records runs one query and parses the lines in Istio's or Envoy's formats;
// others are left out.
func (l Loki) records(ctx context.Context, needles []string, since, until time.Time) ([]expectations.LogRecord, error) {
	entries, err := l.lines(ctx, needles, since, until)
	if err != nil {
		return nil, err
	}
	var out []expectations.LogRecord
	for _, e := range entries {
		if ent, err := accesslog.Parse(e.Line); err == nil {
			out = append(out, record(ent))
		}
	}
	return out, nil
}

// ByRequestID finds parsed access-log lines by request id. Lines from the
// last 15 minutes are searched: the ids are meshdrill's own, so a wide
// window costs Loki little and tolerates clock skew.
func (l Loki) ByRequestID(ctx context.Context, ids []string) (map[string]expectations.LogRecord, error) {
	now := time.Now()
	recs, err := l.records(ctx, ids, now.Add(-15*time.Minute), now.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	return firstByRequestID(recs, ids), nil
}

// ByRemoteAddress finds parsed listener lines from the addresses.
func (l Loki) ByRemoteAddress(ctx context.Context, addrs []string, since, until time.Time) ([]expectations.LogRecord, error) {
	recs, err := l.records(ctx, addrs, since, until)
	if err != nil {
		return nil, err
	}
	return fromAddresses(recs, addrs), nil
}

// Alertmanager lists alerts from Alertmanager's v2 API.
type Alertmanager struct {
	Client *alertmanager.Client
	URL    string
}

// Describe names the backend.
func (a Alertmanager) Describe() string { return "alertmanager " + a.URL }

// Alerts lists every alert; the evaluator matches names and labels.
func (a Alertmanager) Alerts(ctx context.Context) ([]expectations.Alert, error) {
	as, err := a.Client.Alerts(ctx, alertmanager.Filter{})
	if err != nil {
		return nil, err
	}
	out := make([]expectations.Alert, 0, len(as))
	for _, al := range as {
		out = append(out, expectations.Alert{Name: al.Labels["alertname"], Labels: al.Labels, State: al.State, Since: al.StartsAt})
	}
	return out, nil
}

// PromAlerts lists alerts from Prometheus' rule evaluation (pending and
// firing), so "never pending" and "pending, then reset" can be told apart.
type PromAlerts struct {
	Client *prometheus.Client
}

// Describe names the backend.
func (p PromAlerts) Describe() string { return "prometheus alerts " + p.Client.URL() }

// Alerts lists the active alerts.
func (p PromAlerts) Alerts(ctx context.Context) ([]expectations.Alert, error) {
	as, err := p.Client.Alerts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]expectations.Alert, 0, len(as))
	for _, al := range as {
		l := make(map[string]string, len(al.Labels))
		for k, v := range al.Labels {
			l[string(k)] = string(v)
		}
		out = append(out, expectations.Alert{Name: l["alertname"], Labels: l, State: string(al.State), Since: al.ActiveAt})
	}
	return out, nil
}
