package collectors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds the retries of an idempotent call. A zero field takes
// DefaultRetryPolicy's value, so the zero policy is the default one; set
// Attempts to 1 to turn retries off.
type RetryPolicy struct {
	// Attempts is the most calls made, the first one included.
	Attempts int
	// Initial is the wait before the second attempt; every further wait
	// doubles, up to Max. Each wait is drawn at random from its upper half,
	// so that clients which failed together do not retry together.
	Initial, Max time.Duration
	// Budget bounds the time spent retrying: no wait is started that would
	// end later than Budget after the first attempt began. It never cuts an
	// attempt short (each has the client's request timeout), so the whole
	// call takes at most Budget plus one request timeout.
	Budget time.Duration
	// Notify, when set, is called before each wait with the attempt that
	// just failed (1-based), the wait, and its error. It is for debug output.
	Notify func(attempt int, wait time.Duration, err error)
}

// DefaultRetryPolicy is what a zero RetryPolicy means: three attempts, waits
// of about 0.2 s and 0.4 s, at most 10 s of retrying.
var DefaultRetryPolicy = RetryPolicy{Attempts: 3, Initial: 200 * time.Millisecond, Max: 2 * time.Second, Budget: 10 * time.Second}

// NoRetry makes a single attempt.
var NoRetry = RetryPolicy{Attempts: 1}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.Attempts <= 0 {
		p.Attempts = d.Attempts
	}
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = max(d.Max, p.Initial)
	}
	if p.Budget <= 0 {
		p.Budget = d.Budget
	}
	return p
}

// Retry calls fn until it succeeds, returns an error that IsRetryable
// rejects (a 4xx other than 429, a bad query, the caller's cancelled or
// expired ctx), or the policy's attempts or budget run out. Waits grow
// exponentially with jitter; a 429 or 503 answer's Retry-After is honoured
// as the least wait, and when it points beyond the budget Retry gives up at
// once rather than hammer a backend that asked for time; likewise when the
// caller's deadline would pass during the wait. Only use it for
// idempotent calls. The error returned is fn's last, wrapped so that
// errors.Is and errors.As still see through it.
func Retry(ctx context.Context, p RetryPolicy, fn func(ctx context.Context) error) error {
	p = p.withDefaults()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !IsRetryable(err) {
			return retried(err, attempt)
		}
		if attempt >= p.Attempts {
			return retried(err, attempt)
		}
		wait := backoff(p, attempt)
		var he *HTTPError
		if errors.As(err, &he) && he.RetryAfter > wait {
			wait = he.RetryAfter
		}
		if time.Since(start)+wait > p.Budget {
			if he != nil && he.RetryAfter >= wait {
				return fmt.Errorf("%w (after %d attempt(s); the server asked to wait %s, beyond the retry budget of %s)", err, attempt, wait, p.Budget)
			}
			return fmt.Errorf("%w (after %d attempt(s); the retry budget of %s ran out)", err, attempt, p.Budget)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting could only end in the caller's deadline: say so now.
			return fmt.Errorf("%w (after %d attempt(s); the caller's deadline comes before the next retry)", err, attempt)
		}
		if p.Notify != nil {
			p.Notify(attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d attempt(s); stopped waiting to retry: %w)", err, attempt, context.Cause(ctx))
		case <-t.C:
		}
	}
}

func retried(err error, attempts int) error {
	if err == nil || attempts == 1 {
		return err
	}
	return fmt.Errorf("%w (after %d attempts)", err, attempts)
}

// backoff is the jittered wait after the n-th failed attempt: drawn from
// [w/2, w] where w = Initial·2^(n-1), capped at Max.
func backoff(p RetryPolicy, n int) time.Duration {
	w := p.Initial
	for i := 1; i < n && w < p.Max; i++ {
		w *= 2
	}
	w = min(w, p.Max)
	half := w / 2
	return half + rand.N(w-half+1)
}

// maxRetryAfter caps what a server may ask for: beyond any sane budget, and
// it keeps a hostile date from overflowing a Duration.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// Missing or unreadable values are 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}
