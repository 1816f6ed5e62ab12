package decisioncache

import (
	"context"
	"io"
	"strconv"
	"sync"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	implv1 "github.com/authzed/spicedb/pkg/proto/impl/v1"
	"github.com/authzed/spicedb/pkg/zedtoken"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// token encodes revision n the way SpiceDB does.
func token(t testing.TB, n int) *v1.ZedToken {
	t.Helper()
	tok, err := zedtoken.Encode(&implv1.DecodedZedToken{
		VersionOneof: &implv1.DecodedZedToken_V1{
			V1: &implv1.DecodedZedToken_V1ZedToken{
				Revision:                strconv.Itoa(n),
				DatastoreUniqueIdPrefix: "fake",
			},
		},
	})
	require.NoError(t, err)
	return tok
}

// fakeEngine answers checks from a table it can change, at a revision
// it can advance, and records what it was asked.
type fakeEngine struct {
	v1.PermissionsServiceClient
	t testing.TB

	mu       sync.Mutex
	allowed  map[string]bool // "resource-id subject-id"
	revision int
	requests []*v1.CheckPermissionRequest
}

func newFakeEngine(t testing.TB) *fakeEngine {
	return &fakeEngine{t: t, allowed: map[string]bool{}, revision: 1}
}

func (f *fakeEngine) set(resource, subject string, allowed bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowed[resource+" "+subject] = allowed
	f.revision++
	return f.revision
}

func (f *fakeEngine) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeEngine) last() *v1.CheckPermissionRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func (f *fakeEngine) CheckPermission(
	_ context.Context, req *v1.CheckPermissionRequest, _ ...grpc.CallOption,
) (*v1.CheckPermissionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	p := v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION
	key := req.GetResource().GetObjectId() + " " + req.GetSubject().GetObject().GetObjectId()
	if f.allowed[key] {
		p = v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
	}
	return &v1.CheckPermissionResponse{
		CheckedAt: token(f.t, f.revision), Permissionship: p,
	}, nil
}

// fakeWatch hands the cache a stream the test feeds.
type fakeWatch struct {
	mu      sync.Mutex
	streams []*fakeStream
	starts  []*v1.WatchRequest
}

func (w *fakeWatch) Watch(
	ctx context.Context, req *v1.WatchRequest, _ ...grpc.CallOption,
) (grpc.ServerStreamingClient[v1.WatchResponse], error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &fakeStream{ctx: ctx, ch: make(chan *v1.WatchResponse, 16), errs: make(chan error, 1)}
	w.streams = append(w.streams, s)
	w.starts = append(w.starts, req)
	return s, nil
}

func (w *fakeWatch) current() *fakeStream {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.streams[len(w.streams)-1]
}

func (w *fakeWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.streams)
}

type fakeStream struct {
	grpc.ClientStream
	ctx  context.Context
	ch   chan *v1.WatchResponse
	errs chan error
}

func (s *fakeStream) Recv() (*v1.WatchResponse, error) {
	select {
	case r := <-s.ch:
		return r, nil
	case err := <-s.errs:
		return nil, err
	case <-s.ctx.Done():
		return nil, io.EOF
	}
}

func (s *fakeStream) Header() (metadata.MD, error) { return nil, nil }
func (s *fakeStream) Trailer() metadata.MD         { return nil }
func (s *fakeStream) CloseSend() error             { return nil }
func (s *fakeStream) Context() context.Context     { return s.ctx }
