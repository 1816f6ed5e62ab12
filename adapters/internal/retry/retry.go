// Package retry runs a read-only call again after transient failures,
// with a bounded, jittered exponential backoff. Only calls that change
// nothing may be retried: a retried write could land twice.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy bounds the attempts of one call.
type Policy struct {
	// Attempts is the most times the call runs; at least 1.
	Attempts int

	// Timeout bounds each attempt; zero leaves only the caller's
	// deadline.
	Timeout time.Duration

	// Backoff is the wait before the first retry; each retry doubles it,
	// up to MaxBackoff. The actual wait is drawn between half of it and
	// all of it, so that clients that failed together do not retry
	// together.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Defaults of the adapters' clients.
const (
	DefaultAttempts   = 3
	DefaultTimeout    = 2 * time.Second
	DefaultBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff = time.Second
)

// WithDefaults fills the zero fields of p with the defaults, and refuses
// negative ones, naming the field and the fix.
func (p Policy) WithDefaults(prefix string) (Policy, error) {
	switch {
	case p.Attempts < 0:
		return p, fmt.Errorf("%sMaxAttempts is %d; use 1 or more (1 "+
			"disables retries), or 0 for %d", prefix, p.Attempts, DefaultAttempts)
	case p.Timeout < 0:
		return p, fmt.Errorf("%sTimeout is %v; use a positive duration, "+
			"or 0 for %v", prefix, p.Timeout, DefaultTimeout)
	case p.Backoff < 0 || p.MaxBackoff < 0:
		return p, fmt.Errorf("%sBackoff and MaxBackoff must not be "+
			"negative; use 0 for %v and %v", prefix, DefaultBackoff, DefaultMaxBackoff)
	}

	if p.Attempts == 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Backoff == 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.Backoff)
	return p, nil
}

// Do runs call until it succeeds, fails with an error retryable does not
// accept, runs p.Attempts times, or ctx ends. It returns call's last
// error; when ctx ends during a wait, that error joined with ctx's.
func Do(
	ctx context.Context, p Policy,
	retryable func(error) bool,
	call func(ctx context.Context) error,
) error {
	wait := p.Backoff
	for attempt := 1; ; attempt++ {
		err := attemptOnce(ctx, p.Timeout, call)
		if err == nil || attempt >= p.Attempts || !retryable(err) {
			return err
		}

		// Half the wait is fixed and half random.
		d := wait/2 + rand.N(wait/2+1)
		if sleep(ctx, d) != nil {
			return errors.Join(err, ctx.Err())
		}
		wait = min(2*wait, p.MaxBackoff)
	}
}

func attemptOnce(
	ctx context.Context, timeout time.Duration,
	call func(context.Context) error,
) error {
	if timeout <= 0 {
		return call(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return call(ctx)
}

// sleep waits d, or returns ctx's error if it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
