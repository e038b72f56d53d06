package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPErrorNeverShowsSecrets(t *testing.T) {
	e := &HTTPError{
		URL:    "https://admin:pw1@h/api?token=tok1&q=up",
		Status: 401,
		Body:   `{"error":"bad header Authorization: Bearer tok1 for https://admin:pw1@h/"}`,
	}
	msg := e.Error()
	assert.Contains(t, msg, "http 401 unauthorized from https://h/api?token=REDACTED&q=up")
	assert.NotContains(t, msg, "pw1")
	assert.NotContains(t, msg, "tok1")
}

func TestHTTPErrorTruncatesBody(t *testing.T) {
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	e := &HTTPError{URL: "http://h/", Status: 500, Body: string(long)}
	assert.Less(t, len(e.Error()), 700)
	assert.ErrorIs(t, e, ErrUnavailable)
	assert.NotErrorIs(t, &HTTPError{Status: 404}, ErrUnavailable)
}

func TestIsRetryable(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"429", &HTTPError{Status: 429}, true},
		{"500", &HTTPError{Status: 500}, true},
		{"503 wrapped", fmt.Errorf("x: %w", &HTTPError{Status: 503}), true},
		{"400", &HTTPError{Status: 400}, false},
		{"401", &HTTPError{Status: 401}, false},
		{"404", &HTTPError{Status: 404}, false},
		{"conn refused", &url.Error{Op: "Get", URL: "http://h", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}, true},
		{"conn reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected eof", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true},
		{"dns", &net.DNSError{Err: "no such host", Name: "h"}, true},
		{"request timeout", &url.Error{Err: &TimeoutError{URL: "http://h", Budget: "request timeout", Limit: time.Second}}, true},
		{"caller deadline", WrapCallError(timedOut(t), "q", context.DeadlineExceeded), false},
		{"cancelled", WrapCallError(cancelled, "q", context.Canceled), false},
		{"bad query", fmt.Errorf("%w: parse error", ErrBadQuery), false},
		{"unavailable sentinel", fmt.Errorf("%w: down", ErrUnavailable), true},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, IsRetryable(tt.err))
		})
	}
}

func timedOut(t *testing.T) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	t.Cleanup(cancel)
	return ctx
}

func TestWrapCallError(t *testing.T) {
	ctx := context.Background()
	t.Run("request timeout names the budget", func(t *testing.T) {
		err := WrapCallError(ctx, "jaeger GET http://h/", &url.Error{Op: "Get", URL: "http://h/?token=x",
			Err: &TimeoutError{URL: "http://h/?token=x", Budget: "request timeout", Limit: 2 * time.Second}})
		require.ErrorIs(t, err, ErrTimeout)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "request timeout of 2s ran out")
		assert.NotContains(t, err.Error(), "token=x")
	})
	t.Run("caller deadline with cause", func(t *testing.T) {
		c, cancel := context.WithDeadlineCause(ctx, time.Unix(0, 0), errors.New("expectation deadline 30s"))
		defer cancel()
		err := WrapCallError(c, "prometheus query", context.DeadlineExceeded)
		require.ErrorIs(t, err, ErrTimeout)
		assert.Contains(t, err.Error(), "the caller's deadline (expectation deadline 30s) ran out")
	})
	t.Run("connection refused is unavailable", func(t *testing.T) {
		err := WrapCallError(ctx, "x", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED})
		require.ErrorIs(t, err, ErrUnavailable)
	})
	t.Run("nil", func(t *testing.T) {
		require.NoError(t, WrapCallError(ctx, "x", nil))
	})
}
