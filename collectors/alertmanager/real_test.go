package alertmanager

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/internal/testenv"
)

// TestAgainstRealAlertmanager posts alerts the way Prometheus does and reads
// them back through filters (Debian's Alertmanager 0.25).
func TestAgainstRealAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Alertmanager")
	}
	am := testenv.StartAlertmanager(t, testenv.AlertmanagerConfig{})
	post := `[{"labels":{"alertname":"MeshDrillDenied","drill":"forbidden-identity","severity":"page"},
	           "annotations":{"summary":"denials seen"},"generatorURL":"http://prom/graph"},
	          {"labels":{"alertname":"Unrelated","severity":"info"}}]`
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", bytes.NewBufferString(post))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	c, err := New(am.URL, collectors.HTTPOptions{Timeout: 5 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()

	alerts, err := c.Alerts(ctx, Filter{Matchers: []string{`alertname="MeshDrillDenied"`, `severity=~"page|critical"`}})
	require.NoError(t, err)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, "forbidden-identity", a.Labels["drill"])
	assert.Equal(t, "denials seen", a.Annotations["summary"])
	assert.NotEmpty(t, a.Fingerprint)
	assert.Contains(t, []string{"active", "unprocessed"}, a.State)
	assert.True(t, a.EndsAt.After(a.StartsAt))

	all, err := c.Alerts(ctx, Filter{})
	require.NoError(t, err)
	assert.Len(t, all, 2)

	routed, err := c.Alerts(ctx, Filter{Receiver: "nu.l"})
	require.NoError(t, err)
	assert.Len(t, routed, 2, "both go to the 'null' receiver")
	require.NotEmpty(t, routed)
	assert.Equal(t, []string{"null"}, routed[0].Receivers)
	elsewhere, err := c.Alerts(ctx, Filter{Receiver: "pager"})
	require.NoError(t, err)
	assert.Empty(t, elsewhere)

	none, err := c.Alerts(ctx, Filter{Matchers: []string{`alertname="NeverFired"`}})
	require.NoError(t, err)
	assert.Empty(t, none)

	_, err = c.Alerts(ctx, Filter{Matchers: []string{`alertname=~"(unclosed"`}})
	require.ErrorIs(t, err, collectors.ErrBadQuery)
}
