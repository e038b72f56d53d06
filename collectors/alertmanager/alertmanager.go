// Package alertmanager reads alert evidence from Alertmanager's v2 API
// (GET /api/v2/alerts) with a small client of its own: the generated client
// pulls in hundreds of packages for one endpoint.
package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/meshdrill/meshdrill/collectors"
)

// Client queries one Alertmanager.
type Client struct {
	ep *collectors.Endpoint
}

// New returns a client for the Alertmanager at url (the part before /api/v2).
func New(url string, o collectors.HTTPOptions) (*Client, error) {
	ep, err := collectors.NewEndpoint("alertmanager", url, o)
	if err != nil {
		return nil, err
	}
	return &Client{ep: ep}, nil
}

// Alert is one alert as Alertmanager holds it. EndsAt lies in the future
// while the alert is still active (it is the resolve timeout, not a
// resolution); State is "active", "suppressed" (silenced or inhibited) or
// "unprocessed".
type Alert struct {
	Fingerprint                 string
	Labels, Annotations         map[string]string
	StartsAt, EndsAt, UpdatedAt time.Time
	State                       string
	SilencedBy, InhibitedBy     []string
	Receivers                   []string
	GeneratorURL                string
}

// Filter selects alerts. Matchers use Alertmanager's syntax
// (`alertname="MeshDrillDenied"`, `severity=~"page|critical"`) and must all
// hold; Receiver is a regular expression on receiver names. Active,
// silenced, inhibited and unprocessed alerts are all returned: State tells
// them apart, so "silenced" is reported rather than mistaken for "missing".
type Filter struct {
	Matchers []string
	Receiver string
}

// Alerts lists the alerts matching f. A filter Alertmanager rejects wraps
// collectors.ErrBadQuery.
func (c *Client) Alerts(ctx context.Context, f Filter) ([]Alert, error) {
	q := url.Values{"active": {"true"}, "silenced": {"true"}, "inhibited": {"true"}, "unprocessed": {"true"}}
	for _, m := range f.Matchers {
		q.Add("filter", m)
	}
	if f.Receiver != "" {
		q.Set("receiver", f.Receiver)
	}
	body, err := c.ep.Get(ctx, "/api/v2/alerts", q)
	if collectors.StatusOf(err) == http.StatusBadRequest {
		return nil, fmt.Errorf("alertmanager filter %q: %w: %w", f.Matchers, collectors.ErrBadQuery, err)
	}
	if err != nil {
		return nil, err
	}
	alerts, err := DecodeAlerts(body)
	if err != nil {
		return nil, fmt.Errorf("alertmanager alerts at %s: %w", collectors.Redact(c.ep.URL("", nil).String()), err)
	}
	return alerts, nil
}

type wireAlert struct {
	Fingerprint  string            `json:"fingerprint"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Receivers    []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// DecodeAlerts decodes a GET /api/v2/alerts answer (a JSON array).
func DecodeAlerts(body []byte) ([]Alert, error) {
	var wire []wireAlert
	if err := json.Unmarshal(body, &wire); err != nil {
		return nil, fmt.Errorf("decoding alertmanager alerts: %w", err)
	}
	out := make([]Alert, 0, len(wire))
	for i, w := range wire {
		if w.Labels["alertname"] == "" {
			return nil, fmt.Errorf("decoding alertmanager alert %d: no alertname label", i)
		}
		a := Alert{
			Fingerprint: w.Fingerprint, Labels: w.Labels, Annotations: w.Annotations,
			StartsAt: w.StartsAt, EndsAt: w.EndsAt, UpdatedAt: w.UpdatedAt, GeneratorURL: w.GeneratorURL,
			State: w.Status.State, SilencedBy: w.Status.SilencedBy, InhibitedBy: w.Status.InhibitedBy,
		}
		for _, r := range w.Receivers {
			a.Receivers = append(a.Receivers, r.Name)
		}
		out = append(out, a)
	}
	return out, nil
}
