package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gpucloud/iam/adapters/internal/retry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	errTransient = errors.New("transient")
	errFinal     = errors.New("final")
)

func isTransient(err error) bool { return errors.Is(err, errTransient) }

func TestDo(t *testing.T) {
	fast := retry.Policy{
		Attempts: 3, Timeout: time.Second,
		Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	}
	cases := []struct {
		name    string
		results []error
		calls   int
		want    error
	}{
		{"first try", []error{nil}, 1, nil},
		{"after one transient failure", []error{errTransient, nil}, 2, nil},
		{"gives up after the attempts",
			[]error{errTransient, errTransient, errTransient, nil}, 3, errTransient},
		{"never retries other errors", []error{errFinal, nil}, 1, errFinal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := retry.Do(t.Context(), fast, isTransient, func(context.Context) error {
				calls++
				return tc.results[calls-1]
			})
			require.Equal(t, tc.calls, calls)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestEachAttemptHasItsTimeout(t *testing.T) {
	p := retry.Policy{Attempts: 1, Timeout: 20 * time.Millisecond}
	start := time.Now()
	err := retry.Do(t.Context(), p, isTransient, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second)
}

func TestWaitEndsWithTheContext(t *testing.T) {
	p := retry.Policy{Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()

	calls := 0
	err := retry.Do(ctx, p, isTransient, func(context.Context) error {
		calls++
		return errTransient
	})
	require.Equal(t, 1, calls)
	require.ErrorIs(t, err, errTransient)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestWithDefaults(t *testing.T) {
	p, err := retry.Policy{}.WithDefaults("Config.")
	require.NoError(t, err)
	require.Equal(t, retry.Policy{
		Attempts: retry.DefaultAttempts, Timeout: retry.DefaultTimeout,
		Backoff: retry.DefaultBackoff, MaxBackoff: retry.DefaultMaxBackoff,
	}, p)

	_, err = retry.Policy{Attempts: -1}.WithDefaults("Config.")
	require.ErrorContains(t, err, "Config.MaxAttempts is -1")
	_, err = retry.Policy{Timeout: -time.Second}.WithDefaults("Config.")
	require.ErrorContains(t, err, "Config.Timeout is -1s")
}
