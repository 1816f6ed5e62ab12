package grpcauthz_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/grpcauthz"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	org   = "ab1cd2"
	alice = "user:alice@example.com"

	methodList   = "/test.v1.Policies/List"
	methodDelete = "/test.v1.Policies/Delete"
	methodPing   = "/test.v1.Policies/Ping"
	methodWatch  = "/test.v1.Policies/Watch"
)

// recorder remembers the subject each handler found in its context.
type recorder struct {
	mu       sync.Mutex
	subjects []authz.Subject
}

func (r *recorder) record(ctx context.Context) {
	s, _ := authz.SubjectFrom(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subjects = append(r.subjects, s)
}

func (r *recorder) seen() []authz.Subject {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]authz.Subject(nil), r.subjects...)
}

// unary builds a unary method that decodes a ListPoliciesRequest, so
// that the guard finds its organization_id.
func unary(name string, rec *recorder) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(
			srv any, ctx context.Context, dec func(any) error,
			interceptor grpc.UnaryServerInterceptor,
		) (any, error) {
			in := new(iamv1.ListPoliciesRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			handler := func(ctx context.Context, _ any) (any, error) {
				rec.record(ctx)
				return &iamv1.ListPoliciesResponse{}, nil
			}
			info := &grpc.UnaryServerInfo{
				Server: srv, FullMethod: "/test.v1.Policies/" + name,
			}
			return interceptor(ctx, in, info, handler)
		},
	}
}

var watchDesc = grpc.StreamDesc{StreamName: "Watch", ServerStreams: true}

// serve runs a gRPC server with the test service behind the guard, on a
// loopback port, and returns a connection to it.
func serve(t *testing.T, cfg authz.GuardConfig, rec *recorder) *grpc.ClientConn {
	t.Helper()
	guard, err := grpcauthz.New(cfg)
	require.NoError(t, err)

	watch := watchDesc
	watch.Handler = func(_ any, ss grpc.ServerStream) error {
		rec.record(ss.Context())
		return ss.SendMsg(&iamv1.ListPoliciesResponse{})
	}
	desc := grpc.ServiceDesc{
		ServiceName: "test.v1.Policies",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			unary("List", rec), unary("Delete", rec), unary("Ping", rec),
		},
		Streams: []grpc.StreamDesc{watch},
	}

	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(guard.Unary()),
		grpc.ChainStreamInterceptor(guard.Stream()))
	srv.RegisterService(&desc, struct{}{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func config(checker authz.Checker) authz.GuardConfig {
	return authz.GuardConfig{
		Checker: checker,
		Extractor: authz.FromBearerToken(authztest.Identifier{
			"alice-token": {Principal: alice, Organization: org},
		}),
		Methods: authz.Methods{
			methodList:  authz.Action("cks.clusters.list"),
			methodWatch: authz.Action("cks.clusters.get"),
			methodPing:  authz.Public,
		},
	}
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func TestUnary(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		token   string
		msg     *iamv1.ListPoliciesRequest
		fail    error
		code    codes.Code
		message string
		subject authz.Subject
	}{
		{"allowed", methodList, "alice-token", &iamv1.ListPoliciesRequest{},
			nil, codes.OK, "", authz.Subject{Principal: alice, Organization: org}},
		{"the message's organization is checked", methodList, "alice-token",
			&iamv1.ListPoliciesRequest{OrganizationId: "ff00ff"}, nil,
			codes.PermissionDenied, "may not perform cks.clusters.list in organization ff00ff",
			authz.Subject{}},
		{"an unmapped method is denied", methodDelete, "alice-token",
			&iamv1.ListPoliciesRequest{}, nil,
			codes.PermissionDenied, "method /test.v1.Policies/Delete has no authorization rule",
			authz.Subject{}},
		{"a public method is not checked", methodPing, "",
			&iamv1.ListPoliciesRequest{}, nil, codes.OK, "", authz.Subject{}},
		{"no token", methodList, "", &iamv1.ListPoliciesRequest{}, nil,
			codes.Unauthenticated, "no bearer token", authz.Subject{}},
		{"a bad organization", methodList, "alice-token",
			&iamv1.ListPoliciesRequest{OrganizationId: "XYZ"},
			errors.Join(authz.ErrInvalid, errors.New("organization_id \"XYZ\"")),
			codes.InvalidArgument, "XYZ", authz.Subject{}},
		{"the checker fails", methodList, "alice-token",
			&iamv1.ListPoliciesRequest{}, errors.New("dial 10.0.0.7: refused"),
			codes.Unavailable, "retry later", authz.Subject{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checker := authztest.NewChecker()
			checker.Grant(org, alice, "cks.clusters.list")
			checker.Fail(tc.fail)
			rec := &recorder{}
			conn := serve(t, config(checker), rec)

			ctx := t.Context()
			if tc.token != "" {
				ctx = withToken(ctx, tc.token)
			}
			err := conn.Invoke(ctx, tc.method, tc.msg, &iamv1.ListPoliciesResponse{})

			require.Equal(t, tc.code, status.Code(err), "%v", err)
			if tc.code != codes.OK {
				require.ErrorContains(t, err, tc.message)
				require.NotContains(t, err.Error(), "10.0.0.7")
				require.Empty(t, rec.seen(), "the handler never runs")
				return
			}
			require.Equal(t, []authz.Subject{tc.subject}, rec.seen())
		})
	}
}

func TestDenialCarriesErrorInfo(t *testing.T) {
	conn := serve(t, config(authztest.NewChecker()), &recorder{})
	err := conn.Invoke(withToken(t.Context(), "alice-token"), methodList,
		&iamv1.ListPoliciesRequest{}, &iamv1.ListPoliciesResponse{})

	st := status.Convert(err)
	require.Equal(t, codes.PermissionDenied, st.Code())
	require.Len(t, st.Details(), 1)
	info, ok := st.Details()[0].(*errdetails.ErrorInfo)
	require.True(t, ok)
	require.Equal(t, authz.ErrorDomain, info.GetDomain())
	require.Equal(t, map[string]string{
		"action": "cks.clusters.list", "organization": org,
		"roles": "CKS Viewer, CKS Admin",
	}, info.GetMetadata())
}

func TestStream(t *testing.T) {
	cases := []struct {
		name     string
		grant    bool
		token    string
		consist  string
		code     codes.Code
		subjects int
	}{
		{"allowed", true, "alice-token", "GhUKEzE3", codes.OK, 1},
		{"denied", false, "alice-token", "", codes.PermissionDenied, 0},
		{"no token", true, "", "", codes.Unauthenticated, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checker := authztest.NewChecker()
			if tc.grant {
				checker.Grant(org, alice, "cks.clusters.get")
			}
			rec := &recorder{}
			conn := serve(t, config(checker), rec)

			ctx := t.Context()
			if tc.token != "" {
				ctx = withToken(ctx, tc.token)
			}
			if tc.consist != "" {
				ctx = metadata.AppendToOutgoingContext(ctx,
					"x-consistency-token", tc.consist)
			}
			s, err := conn.NewStream(ctx, &watchDesc, methodWatch)
			require.NoError(t, err)
			require.NoError(t, s.SendMsg(&iamv1.ListPoliciesRequest{}))
			require.NoError(t, s.CloseSend())
			err = s.RecvMsg(&iamv1.ListPoliciesResponse{})

			require.Equal(t, tc.code, status.Code(err), "%v", err)
			require.Len(t, rec.seen(), tc.subjects)
			if tc.consist != "" {
				reqs := checker.Requests()
				require.Len(t, reqs, 1)
				require.Equal(t, tc.consist, reqs[0].ConsistencyToken)
			}
		})
	}
}

func TestNewRefusesBadMaps(t *testing.T) {
	cfg := config(authztest.NewChecker())
	cfg.Methods = authz.Methods{methodList: authz.Action("cks.cluster.list")}
	_, err := grpcauthz.New(cfg)
	require.ErrorContains(t, err, `did you mean "cks.clusters.list"`)
}
