package collectors_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/meshdrill/meshdrill/collectors"
	"github.com/meshdrill/meshdrill/collectors/collectorstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEndpointGet(t *testing.T) {
	fake := collectorstest.NewFake(t,
		collectorstest.Mock{Path: "/base/ok", Form: map[string][]string{"a": {"1"}}, Body: []byte(`{"x":1}`)},
		collectorstest.Mock{Path: "/base/missing", Status: 404, Body: []byte(`not found`)},
		collectorstest.Mock{Path: "/base/down", Status: 503, Body: []byte(`overloaded`)},
	)
	e, err := collectors.NewEndpoint("test", fake.URL()+"/base/", collectors.HTTPOptions{})
	require.NoError(t, err)
	ctx := context.Background()

	body, err := e.Get(ctx, "/ok", map[string][]string{"a": {"1"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"x":1}`, string(body))

	_, err = e.Get(ctx, "/missing", nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusNotFound, collectors.StatusOf(err))
	assert.NotErrorIs(t, err, collectors.ErrUnavailable)
	assert.Contains(t, err.Error(), "test GET "+fake.URL()+"/base/missing: http 404 not found")

	_, err = e.Get(ctx, "/down", nil)
	require.ErrorIs(t, err, collectors.ErrUnavailable)
	assert.True(t, collectors.IsRetryable(err))
}

func TestEndpointConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	e, err := collectors.NewEndpoint("test", "http://user:pw@"+addr, collectors.HTTPOptions{})
	require.NoError(t, err)
	_, err = e.Get(context.Background(), "/x", map[string][]string{"token": {"s3"}})
	require.ErrorIs(t, err, collectors.ErrUnavailable)
	assert.NotContains(t, err.Error(), "pw")
	assert.NotContains(t, err.Error(), "s3")
}

func TestParseBaseURL(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"ok", "http://127.0.0.1:9090/prom/", ""},
		{"scheme", "ftp://h", "scheme must be http or https"},
		{"no host", "http:///x", "has no host"},
		{"bad with secret", "http://u:secret@h:bad port/", "invalid url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := collectors.ParseBaseURL(tt.in)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, "/prom", u.Path)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}
