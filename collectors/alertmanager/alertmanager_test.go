package alertmanager

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
)

func TestAlertsFromCorpus(t *testing.T) {
	body := collectorstest.ReadCorpus(t, "alertmanager_api/am_v2_alerts_issue2832_instance_down.json")
	f := collectorstest.NewFake(t, collectorstest.Mock{
		Method: "GET", Path: "/api/v2/alerts",
		Form: url.Values{"filter": {`alertname="InstanceDown"`, `job="node"`}, "receiver": {"devs"}, "silenced": {"true"}, "active": {"true"}},
		Body: body,
	})
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)
	alerts, err := c.Alerts(context.Background(), Filter{Matchers: []string{`alertname="InstanceDown"`, `job="node"`}, Receiver: "devs"})
	require.NoError(t, err)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, "0593f1c55738ce93", a.Fingerprint)
	assert.Equal(t, "active", a.State)
	assert.Equal(t, []string{"devs", "monitoring"}, a.Receivers)
	assert.Equal(t, "randomina.lan:9100", a.Labels["instance"])
	assert.True(t, a.StartsAt.Equal(time.Date(2022, 2, 12, 9, 1, 16, 140e6, time.UTC)))
	assert.True(t, a.UpdatedAt.Equal(time.Date(2022, 2, 14, 1, 3, 46, 134e6, time.UTC)), "mixed time zones: -05:00")
	assert.Empty(t, a.SilencedBy)
}

func TestDecodeAlertsTwoReceivers(t *testing.T) {
	alerts, err := DecodeAlerts(collectorstest.ReadCorpus(t, "alertmanager_api/am_v2_alerts_issue2233_two_receivers.json"))
	require.NoError(t, err)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, "TEST122", a.Labels["alertname"])
	assert.Equal(t, []string{"blackhole1", "blackhole2"}, a.Receivers)
	assert.True(t, a.EndsAt.After(a.UpdatedAt), "endsAt of an active alert is the resolve timeout, in the future")
	_, offset := a.StartsAt.Zone()
	assert.Equal(t, 3*3600, offset)
}

func TestAlertsErrors(t *testing.T) {
	tests := []struct {
		name    string
		mock    collectorstest.Mock
		wantIs  error
		wantErr string
	}{
		{"bad filter", collectorstest.Mock{Status: 400, Body: []byte(`"bad matcher format: alertname"`)}, collectors.ErrBadQuery, "bad matcher format"},
		{"down", collectorstest.Mock{Status: 503}, collectors.ErrUnavailable, "http 503"},
		{"envelope instead of array", collectorstest.Mock{Body: []byte(`{"status":"success","data":[]}`)}, nil, "decoding alertmanager alerts"},
		{"no alertname", collectorstest.Mock{Body: []byte(`[{"labels":{}}]`)}, nil, "no alertname label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mock.Path = "/api/v2/alerts"
			f := collectorstest.NewFake(t, tt.mock)
			c, err := New(f.URL(), collectors.HTTPOptions{})
			require.NoError(t, err)
			_, err = c.Alerts(context.Background(), Filter{Matchers: []string{"alertname"}})
			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestEmptyAnswerIsNoAlerts(t *testing.T) {
	f := collectorstest.NewFake(t, collectorstest.Mock{Path: "/api/v2/alerts", Body: []byte(`[]`)})
	c, err := New(f.URL(), collectors.HTTPOptions{})
	require.NoError(t, err)
	alerts, err := c.Alerts(context.Background(), Filter{})
	require.NoError(t, err)
	assert.Empty(t, alerts)
}

func FuzzDecodeAlerts(f *testing.F) {
	for _, b := range collectorstest.CorpusSeeds("alertmanager_api/*.json") {
		f.Add(b)
	}
	f.Add([]byte(`[{"labels":{"alertname":"x"},"status":{"state":"suppressed","silencedBy":["id"]}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := DecodeAlerts(body)
		if err != nil {
			return
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "" {
				t.Fatalf("alert without alertname from %q", body)
			}
		}
	})
}
