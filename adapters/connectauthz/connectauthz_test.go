package connectauthz_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/connectauthz"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	org         = "ab1cd2"
	alice       = "user:alice@example.com"
	watchMethod = "/test.v1.Policies/Watch"
)

// service answers a few IAMService methods and records the subject each
// found in its context.
type service struct {
	iamv1connect.UnimplementedIAMServiceHandler

	mu       sync.Mutex
	subjects []authz.Subject
}

func (s *service) record(ctx context.Context) {
	subject, _ := authz.SubjectFrom(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subjects = append(s.subjects, subject)
}

func (s *service) seen() []authz.Subject {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]authz.Subject(nil), s.subjects...)
}

func (s *service) ListPolicies(
	ctx context.Context, _ *connect.Request[iamv1.ListPoliciesRequest],
) (*connect.Response[iamv1.ListPoliciesResponse], error) {
	s.record(ctx)
	return connect.NewResponse(&iamv1.ListPoliciesResponse{}), nil
}

func (s *service) DeletePolicy(
	ctx context.Context, _ *connect.Request[iamv1.DeletePolicyRequest],
) (*connect.Response[iamv1.DeletePolicyResponse], error) {
	s.record(ctx)
	return connect.NewResponse(&iamv1.DeletePolicyResponse{}), nil
}

func (s *service) ListRoles(
	ctx context.Context, _ *connect.Request[iamv1.ListRolesRequest],
) (*connect.Response[iamv1.ListRolesResponse], error) {
	s.record(ctx)
	return connect.NewResponse(&iamv1.ListRolesResponse{}), nil
}

func (s *service) watch(
	ctx context.Context, _ *connect.Request[iamv1.ListPoliciesRequest],
	stream *connect.ServerStream[iamv1.ListPoliciesResponse],
) error {
	s.record(ctx)
	return stream.Send(&iamv1.ListPoliciesResponse{})
}

// serve runs the service behind the interceptor on a loopback port, over
// HTTP/1.1 and h2c, and returns its URL.
func serve(t *testing.T, checker authz.Checker, svc *service) string {
	t.Helper()
	interceptor, err := connectauthz.New(authz.GuardConfig{
		Checker: checker,
		Extractor: authz.FromBearerToken(authztest.Identifier{
			"alice-token": {Principal: alice, Organization: org},
		}),
		Methods: authz.Methods{
			iamv1connect.IAMServiceListPoliciesProcedure: authz.Action("iam.policies.list"),
			iamv1connect.IAMServiceListRolesProcedure:    authz.Public,
			watchMethod: authz.Action("iam.policies.get"),
		},
	})
	require.NoError(t, err)
	opts := connect.WithInterceptors(interceptor)

	mux := http.NewServeMux()
	mux.Handle(iamv1connect.NewIAMServiceHandler(svc, opts))
	mux.Handle(watchMethod, connect.NewServerStreamHandler(watchMethod, svc.watch, opts))

	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// h2c returns a client that speaks unencrypted HTTP/2, which gRPC needs.
func h2c(t *testing.T) *http.Client {
	t.Helper()
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: p}}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}
}

var protocols = map[string][]connect.ClientOption{
	"connect": nil,
	"grpc":    {connect.WithGRPC()},
}

func TestUnary(t *testing.T) {
	type call func(context.Context, iamv1connect.IAMServiceClient) error
	listIn := func(org string) call {
		return func(ctx context.Context, c iamv1connect.IAMServiceClient) error {
			_, err := c.ListPolicies(ctx, connect.NewRequest(
				&iamv1.ListPoliciesRequest{OrganizationId: org}))
			return err
		}
	}
	cases := []struct {
		name    string
		token   string
		call    call
		fail    error
		code    connect.Code
		message string
		subject authz.Subject
	}{
		{"allowed", "alice-token", listIn(org), nil, 0, "",
			authz.Subject{Principal: alice, Organization: org}},
		{"another organization", "alice-token", listIn("ff00ff"), nil,
			connect.CodePermissionDenied, "may not perform iam.policies.list in organization ff00ff",
			authz.Subject{}},
		{"an unmapped procedure", "alice-token",
			func(ctx context.Context, c iamv1connect.IAMServiceClient) error {
				_, err := c.DeletePolicy(ctx, connect.NewRequest(
					&iamv1.DeletePolicyRequest{OrganizationId: org}))
				return err
			}, nil, connect.CodePermissionDenied,
			"method /iam.v1.IAMService/DeletePolicy has no authorization rule", authz.Subject{}},
		{"a public procedure", "",
			func(ctx context.Context, c iamv1connect.IAMServiceClient) error {
				_, err := c.ListRoles(ctx, connect.NewRequest(&iamv1.ListRolesRequest{}))
				return err
			}, nil, 0, "", authz.Subject{}},
		{"no token", "", listIn(org), nil, connect.CodeUnauthenticated, "no bearer token",
			authz.Subject{}},
		{"the checker fails", "alice-token", listIn(org),
			errors.New("dial 10.0.0.7: refused"), connect.CodeUnavailable, "retry later",
			authz.Subject{}},
	}
	for protocol, opts := range protocols {
		for _, tc := range cases {
			t.Run(protocol+"/"+tc.name, func(t *testing.T) {
				checker := authztest.NewChecker()
				checker.Grant(org, alice, "iam.policies.list")
				checker.Fail(tc.fail)
				svc := &service{}
				url := serve(t, checker, svc)
				client := iamv1connect.NewIAMServiceClient(h2c(t), url,
					append(opts, connect.WithInterceptors(bearer(tc.token)))...)

				err := tc.call(t.Context(), client)
				if tc.code == 0 {
					require.NoError(t, err)
					require.Equal(t, []authz.Subject{tc.subject}, svc.seen())
					return
				}
				require.Equal(t, tc.code, connect.CodeOf(err), "%v", err)
				require.ErrorContains(t, err, tc.message)
				require.NotContains(t, err.Error(), "10.0.0.7")
				require.Empty(t, svc.seen(), "the handler never runs")
			})
		}
	}
}

func TestDenialCarriesErrorInfo(t *testing.T) {
	url := serve(t, authztest.NewChecker(), &service{})
	client := iamv1connect.NewIAMServiceClient(h2c(t), url,
		connect.WithInterceptors(bearer("alice-token")))
	_, err := client.ListPolicies(t.Context(), connect.NewRequest(&iamv1.ListPoliciesRequest{}))

	var ce *connect.Error
	require.ErrorAs(t, err, &ce)
	require.Len(t, ce.Details(), 1)
	msg, err := ce.Details()[0].Value()
	require.NoError(t, err)
	info, ok := msg.(*errdetails.ErrorInfo)
	require.True(t, ok)
	require.Equal(t, "iam.policies.list", info.GetMetadata()["action"])
	require.Equal(t, org, info.GetMetadata()["organization"])
}

func TestServerStream(t *testing.T) {
	cases := []struct {
		name  string
		grant bool
		token string
		code  connect.Code
	}{
		{"allowed", true, "alice-token", 0},
		{"denied", false, "alice-token", connect.CodePermissionDenied},
		{"no token", true, "", connect.CodeUnauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checker := authztest.NewChecker()
			if tc.grant {
				checker.Grant(org, alice, "iam.policies.get")
			}
			svc := &service{}
			url := serve(t, checker, svc)
			client := connect.NewClient[iamv1.ListPoliciesRequest, iamv1.ListPoliciesResponse](
				h2c(t), url+watchMethod, connect.WithGRPC())

			req := connect.NewRequest(&iamv1.ListPoliciesRequest{})
			if tc.token != "" {
				req.Header().Set("Authorization", "Bearer "+tc.token)
			}
			req.Header().Set(authz.ConsistencyTokenHeader, "GhUKEzE3")
			stream, err := client.CallServerStream(t.Context(), req)
			require.NoError(t, err)
			for stream.Receive() {
			}
			require.NoError(t, stream.Close())

			if tc.code == 0 {
				require.NoError(t, stream.Err())
				require.Equal(t, []authz.Subject{{Principal: alice, Organization: org}}, svc.seen())
				require.Equal(t, "GhUKEzE3", checker.Requests()[0].ConsistencyToken)
				return
			}
			require.Equal(t, tc.code, connect.CodeOf(stream.Err()), "%v", stream.Err())
			require.Empty(t, svc.seen())
		})
	}
}
