package workload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMeasureCountsAndRanks(t *testing.T) {
	var calls atomic.Int64
	res, err := Measure(context.Background(), "sleep",
		Limits{Concurrency: 4, Requests: 200, Duration: time.Minute},
		func(_ context.Context, i int) error {
			calls.Add(1)
			if i%50 == 0 {
				return errors.New("boom")
			}
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, 200, res.Requests)
	require.EqualValues(t, 200, calls.Load())
	require.Equal(t, 4, res.Errors)
	require.EqualError(t, res.FirstError, "boom")
	require.LessOrEqual(t, res.P50, res.P95)
	require.LessOrEqual(t, res.P95, res.P99)
	require.LessOrEqual(t, res.P99, res.Max)
	require.Positive(t, res.Throughput())
}

func TestMeasureStopsAtTheTimeLimit(t *testing.T) {
	res, err := Measure(context.Background(), "slow",
		Limits{Concurrency: 2, Requests: 1_000_000, Duration: 50 * time.Millisecond},
		func(context.Context, int) error {
			time.Sleep(5 * time.Millisecond)
			return nil
		})
	require.NoError(t, err)
	require.Less(t, res.Requests, 100)
	require.Less(t, res.Elapsed, time.Second)
}

func TestLimitsAreValidated(t *testing.T) {
	for _, lim := range []Limits{
		{Concurrency: 0, Requests: 1, Duration: time.Second},
		{Concurrency: 1, Requests: 0, Duration: time.Second},
		{Concurrency: 1, Requests: 1, Duration: 0},
	} {
		_, err := Measure(context.Background(), "x", lim,
			func(context.Context, int) error { return nil })
		require.Error(t, err, "%+v", lim)
	}
}

func TestPercentilesOfKnownValues(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	res := Summarize("x", lat)
	require.Equal(t, 50*time.Millisecond, res.P50)
	require.Equal(t, 95*time.Millisecond, res.P95)
	require.Equal(t, 99*time.Millisecond, res.P99)
	require.Equal(t, 100*time.Millisecond, res.Max)
	require.Equal(t, 5050*time.Millisecond, res.Elapsed)
}

func TestChecksFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checks.csv")
	want := []Check{
		{Org: "ab1cd2", Principal: "user:a@example.com", Action: "cks.clusters.list"},
		{Org: "ab1cd2", Principal: "serviceaccount:ci", Action: "iam.users.list"},
	}
	require.NoError(t, WriteChecks(path, want))
	got, err := ReadChecks(path)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestReadChecksRejectsOtherFiles(t *testing.T) {
	cases := map[string]string{
		"no header":   "ab1cd2,user:a,iam.users.list\n",
		"header only": "organization,principal,action\n",
		"empty cell":  "organization,principal,action\nab1cd2,,iam.users.list\n",
		"wrong width": "organization,principal,action\nab1cd2,user:a\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "checks.csv")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
			_, err := ReadChecks(path)
			require.Error(t, err)
		})
	}
}

func TestSpiceDBCheckEncodesLikeTheFacade(t *testing.T) {
	req := SpiceDBCheck(Check{
		Org: "ab1cd2", Principal: "user:a.b@example.com", Action: "cks.clusters.list",
	}, nil)
	require.Equal(t, "organization", req.GetResource().GetObjectType())
	require.Equal(t, "ab1cd2", req.GetResource().GetObjectId())
	require.Equal(t, "cks_clusters_list", req.GetPermission())
	require.Equal(t, "user", req.GetSubject().GetObject().GetObjectType())
	require.Equal(t, "a=2Eb=40example=2Ecom", req.GetSubject().GetObject().GetObjectId())
}
