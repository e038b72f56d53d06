package wire

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/prometheus"
)

func TestBackendClockSkewIsAnError(t *testing.T) {
	for name, offset := range map[string]time.Duration{"in step": 2 * time.Second, "an hour ahead": time.Hour, "a day behind": -24 * time.Hour} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				now := float64(time.Now().Add(offset).UnixMilli()) / 1000
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"status":"success","data":{"resultType":"scalar","result":[%f,"%f"]}}`, now, now)
			}))
			defer srv.Close()
			c, err := prometheus.New(srv.URL, collectors.HTTPOptions{Timeout: 5 * time.Second})
			require.NoError(t, err)
			_, err = Metrics{Client: c}.Now(context.Background())
			if offset < MaxClockSkew && offset > -MaxClockSkew {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "from this machine's")
			}
		})
	}
}
