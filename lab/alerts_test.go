package lab

import (
	"context"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLabAlertsFireForSecurityEvents(t *testing.T) {
	l := startLab(t)
	pay := l.Workloads["payments"]
	cert := forge(t, l, forbiddenID)
	require.Equal(t, 403, send(t, mtlsClient(t, l, pay, &cert), pay, "/").status)
	plaintext(t, pay)
	untrusted := foreignCert(t, forbiddenID)
	resp, err := mtlsClient(t, l, pay, &untrusted).Get("https://" + pay.InboundAddr + "/")
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)

	api := promAPI(t, l)
	firing := poll(t, "three firing alerts", func() (map[string]promv1.Alert, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := api.Alerts(ctx)
		require.NoError(t, err)
		out := map[string]promv1.Alert{}
		for _, a := range res.Alerts {
			if a.State == promv1.AlertStateFiring {
				out[string(a.Labels["alertname"])] = a
			}
		}
		return out, len(out) == 3
	})
	denied := firing["MeshAuthorizationDenied"]
	assert.Equal(t, forbiddenID, string(denied.Labels["source_principal"]), "the first denial of a new series fires")
	assert.Equal(t, "payments", string(denied.Labels["destination_workload"]))
	assert.Contains(t, string(denied.Annotations["summary"]), forbiddenID+" was denied by payments.shop")
	instance := pay.MetricsURL[len("http://") : len(pay.MetricsURL)-len("/stats/prometheus")]
	assert.Equal(t, instance, string(firing["MeshPlaintextRejected"].Labels["instance"]))
	assert.Equal(t, instance, string(firing["MeshUntrustedClientCertificate"].Labels["instance"]))
}
