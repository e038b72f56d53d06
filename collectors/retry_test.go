package collectors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fast retries quickly so tests do not sleep; waits are recorded, never timed.
func fast(waits *[]time.Duration) RetryPolicy {
	return RetryPolicy{Attempts: 3, Initial: time.Millisecond, Max: 4 * time.Millisecond, Budget: 10 * time.Second,
		Notify: func(_ int, d time.Duration, _ error) { *waits = append(*waits, d) }}
}

// scripted answers the i-th request with answers[i] (the last one repeats).
func scripted(t *testing.T, answers ...func(w http.ResponseWriter)) (url string, calls *atomic.Int32) {
	t.Helper()
	calls = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(calls.Add(1)) - 1
		answers[min(i, len(answers)-1)](w)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

func status(code int, body string, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func TestEndpointGetRetries(t *testing.T) {
	tests := []struct {
		name      string
		answers   []func(http.ResponseWriter)
		wantCalls int32
		wantErr   error  // nil: success
		wantMsg   string // in the error
	}{
		{"503 twice then 200", []func(http.ResponseWriter){status(503, "busy"), status(503, "busy"), status(200, `{"ok":1}`)}, 3, nil, ""},
		{"400 is not retried", []func(http.ResponseWriter){status(400, "bad"), status(200, "{}")}, 1, nil, "http 400"},
		{"404 is not retried", []func(http.ResponseWriter){status(404, "no"), status(200, "{}")}, 1, nil, "http 404"},
		{"always 502: attempts run out", []func(http.ResponseWriter){status(502, "gw")}, 3, ErrUnavailable, "(after 3 attempts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, calls := scripted(t, tt.answers...)
			var waits []time.Duration
			e, err := NewEndpoint("test", url, HTTPOptions{Retry: fast(&waits)})
			require.NoError(t, err)
			body, err := e.Get(context.Background(), "/x", nil)
			assert.Equal(t, tt.wantCalls, calls.Load())
			assert.Len(t, waits, int(tt.wantCalls)-1)
			if tt.wantMsg == "" {
				require.NoError(t, err)
				assert.JSONEq(t, `{"ok":1}`, string(body))
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantMsg)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
		})
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	url, calls := scripted(t, status(429, "slow down", "Retry-After", "1"), status(200, "{}"))
	var waits []time.Duration
	e, err := NewEndpoint("test", url, HTTPOptions{Retry: fast(&waits)})
	require.NoError(t, err)
	_, err = e.Get(context.Background(), "/x", nil)
	require.NoError(t, err)
	assert.Equal(t, int32(2), calls.Load())
	assert.Equal(t, []time.Duration{time.Second}, waits, "the server's Retry-After beats the 1ms backoff")
}

func TestRetryAfterBeyondBudgetGivesUp(t *testing.T) {
	url, calls := scripted(t, status(429, "come back later", "Retry-After", "120"), status(200, "{}"))
	var waits []time.Duration
	p := fast(&waits)
	p.Budget = 5 * time.Second
	e, err := NewEndpoint("test", url, HTTPOptions{Retry: p})
	require.NoError(t, err)
	_, err = e.Get(context.Background(), "/x", nil)
	require.Error(t, err)
	assert.Equal(t, int32(1), calls.Load())
	assert.Empty(t, waits)
	assert.Contains(t, err.Error(), "the server asked to wait 2m0s, beyond the retry budget of 5s")
	assert.Equal(t, 429, StatusOf(err))
}

func TestRetryStopsWhenTheCallerGivesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Retry(ctx, RetryPolicy{Attempts: 5, Initial: time.Hour, Max: time.Hour, Budget: 2 * time.Hour,
		Notify: func(int, time.Duration, error) { cancel() }},
		func(context.Context) error { n++; return &HTTPError{Status: 503} })
	require.Error(t, err)
	assert.Equal(t, 1, n)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, ErrUnavailable, "the last backend error is kept")
	assert.Contains(t, err.Error(), "stopped waiting to retry")
}

func TestRetryDoesNotWaitPastTheCallersDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	n := 0
	err := Retry(ctx, RetryPolicy{Attempts: 5, Initial: 2 * time.Hour, Max: 2 * time.Hour, Budget: 10 * time.Hour},
		func(context.Context) error { n++; return &HTTPError{Status: 503} })
	assert.Equal(t, 1, n)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "the caller's deadline comes before the next retry")
}

func TestRetryNeverRetriesFinalErrors(t *testing.T) {
	for _, final := range []error{
		&HTTPError{Status: 401}, fmt.Errorf("q: %w", ErrBadQuery), context.Canceled,
		fmt.Errorf("caller: %w", context.DeadlineExceeded), errors.New("decoding answer: bad json"),
	} {
		t.Run(final.Error(), func(t *testing.T) {
			n := 0
			err := Retry(context.Background(), RetryPolicy{Initial: time.Millisecond}, func(context.Context) error { n++; return final })
			assert.Equal(t, 1, n)
			assert.Equal(t, final, err, "returned as is")
		})
	}
}

func TestRetryBudget(t *testing.T) {
	n := 0
	err := Retry(context.Background(), RetryPolicy{Attempts: 10, Initial: time.Second, Max: time.Second, Budget: 100 * time.Millisecond},
		func(context.Context) error { n++; return &HTTPError{Status: 500} })
	assert.Equal(t, 1, n, "the first wait would already cross the budget")
	assert.ErrorContains(t, err, "the retry budget of 100ms ran out")
}

func TestBackoffIsJitteredAndCapped(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: 350 * time.Millisecond}.withDefaults()
	for range 200 {
		ms := time.Millisecond
		for n, hi := range []time.Duration{100 * ms, 200 * ms, 350 * ms, 350 * ms} {
			d := backoff(p, n+1)
			require.GreaterOrEqual(t, d, hi/2, "attempt %d", n+1)
			require.LessOrEqual(t, d, hi, "attempt %d", n+1)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"0", 0}, {"-5", 0}, {"soon", 0},
		{"99999999999", time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, parseRetryAfter(tt.in, now))
		})
	}
}
