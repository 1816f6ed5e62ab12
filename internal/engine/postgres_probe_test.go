package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeDatastore answers ReadyState only; anything else panics.
type fakeDatastore struct {
	datastore.Datastore

	calls int
	ready func(ctx context.Context) (datastore.ReadyState, error)
}

func (f *fakeDatastore) ReadyState(ctx context.Context) (datastore.ReadyState, error) {
	f.calls++
	return f.ready(ctx)
}

var (
	up = func(context.Context) (datastore.ReadyState, error) {
		return datastore.ReadyState{IsReady: true}, nil
	}
	unreachable = func(context.Context) (datastore.ReadyState, error) {
		return datastore.ReadyState{}, errors.New("connection refused")
	}
	unmigrated = func(context.Context) (datastore.ReadyState, error) {
		return datastore.ReadyState{Message: "datastore is not migrated"}, nil
	}
)

func TestProbeClassifiesOnlyWhatTheDatastoreExplains(t *testing.T) {
	internal := status.Error(codes.Internal, "an internal error occurred")
	cases := []struct {
		name     string
		ready    func(context.Context) (datastore.ReadyState, error)
		err      error
		wantCode codes.Code
		wantMsg  string
		probes   int
	}{
		{"bug with datastore up stays internal", up, internal,
			codes.Internal, "an internal error occurred", 1},
		{"unknown with datastore up stays unknown", up,
			status.Error(codes.Unknown, "boom"), codes.Unknown, "boom", 1},
		{"internal with datastore down", unreachable, internal,
			codes.Unavailable, "connection refused", 1},
		{"unknown with datastore down", unreachable,
			status.Error(codes.Unknown, "boom"), codes.Unavailable,
			"connection refused", 1},
		{"internal with datastore not migrated", unmigrated, internal,
			codes.Unavailable, "not migrated", 1},
		{"caller's mistake is not probed", unreachable,
			status.Error(codes.FailedPrecondition, "precondition"),
			codes.FailedPrecondition, "precondition", 0},
		{"cancellation is not probed", unreachable,
			status.Error(codes.Canceled, "canceled"),
			codes.Canceled, "canceled", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds := &fakeDatastore{ready: tc.ready}
			p := &datastoreProbe{ds: ds}

			got := p.classify(t.Context(), tc.err)
			require.Equal(t, tc.wantCode, status.Code(got))
			require.Contains(t, status.Convert(got).Message(), tc.wantMsg)
			require.Equal(t, tc.probes, ds.calls)
		})
	}
}

func TestProbeIsSharedDuringAnOutage(t *testing.T) {
	ds := &fakeDatastore{ready: unreachable}
	p := &datastoreProbe{ds: ds}
	internal := status.Error(codes.Internal, "x")

	for range 50 {
		got := p.classify(t.Context(), internal)
		require.Equal(t, codes.Unavailable, status.Code(got))
	}
	require.Equal(t, 1, ds.calls, "one probe per second, not per call")
}

func TestProbeBlamesTheAftermathOfAnOutage(t *testing.T) {
	ds := &fakeDatastore{ready: unreachable}
	p := &datastoreProbe{ds: ds}
	internal := status.Error(codes.Internal, "terminated connection")

	require.Equal(t, codes.Unavailable,
		status.Code(p.classify(t.Context(), internal)))

	// The datastore is back, but a connection the outage broke fails.
	ds.ready = up
	p.at = time.Time{}
	got := p.classify(t.Context(), internal)
	require.Equal(t, codes.Unavailable, status.Code(got))
	require.Contains(t, status.Convert(got).Message(), "moments ago")

	// Long after the outage, an internal error is a bug again.
	p.at = time.Time{}
	p.lastDown = time.Now().Add(-outageAftermath - time.Second)
	require.Equal(t, codes.Internal,
		status.Code(p.classify(t.Context(), internal)))
}

func TestProbeIgnoresTheCallersCancellation(t *testing.T) {
	ds := &fakeDatastore{ready: func(ctx context.Context) (datastore.ReadyState, error) {
		if err := ctx.Err(); err != nil {
			return datastore.ReadyState{}, err
		}
		return datastore.ReadyState{IsReady: true}, nil
	}}
	p := &datastoreProbe{ds: ds}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got := p.classify(ctx, status.Error(codes.Internal, "bug"))
	require.Equal(t, codes.Internal, status.Code(got))
}
