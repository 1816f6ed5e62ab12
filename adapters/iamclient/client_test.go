package iamclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/iamclient"
	"github.com/gpucloud/iam/internal/api/apitest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A dependency of SpiceDB starts this worker in its init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

const (
	orgA    = "ab1cd2"
	orgB    = "ff00ff"
	adminA  = "user:admin@ab1cd2.example"
	viewerA = "user:viewer@ab1cd2.example"
	botA    = "serviceaccount:clusters-bot"
	adminB  = "user:admin@ff00ff.example"
)

// world is an iamd with two organizations: in A an admin (legacy admin),
// a viewer and a service account (legacy read), and in B an admin.
type world struct {
	srv *apitest.Server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s := apitest.NewServer(t)
	op := s.Client(connect.WithGRPC())
	ctx := t.Context()

	for org, first := range map[string]string{orgA: adminA, orgB: adminB} {
		_, err := op.CreateOrganization(ctx, connect.NewRequest(
			&iamv1.CreateOrganizationRequest{OrganizationId: org, FirstUser: first}))
		require.NoError(t, err)
	}
	for _, p := range []string{viewerA, botA} {
		_, err := op.AddMember(ctx, connect.NewRequest(
			&iamv1.AddMemberRequest{OrganizationId: orgA, Principal: p}))
		require.NoError(t, err)
		_, err = op.AssignLegacyGroup(ctx, connect.NewRequest(
			&iamv1.AssignLegacyGroupRequest{
				OrganizationId: orgA, LegacyGroup: "read", Principal: p,
			}))
		require.NoError(t, err)
	}
	return &world{srv: s}
}

// client returns a client of the world's iamd with token.
func (w *world) client(t *testing.T, token string) *iamclient.Client {
	t.Helper()
	c, err := iamclient.New(iamclient.Config{URL: w.srv.URL, Token: token})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestChecksAgainstIAMD(t *testing.T) {
	w := newWorld(t)
	op := w.client(t, w.srv.OperatorToken)
	ctx := t.Context()

	cases := []struct {
		name    string
		req     authz.CheckRequest
		allowed bool
	}{
		{"admin creates clusters", authz.CheckRequest{
			Organization: orgA, Principal: adminA, Action: "cks.clusters.create"}, true},
		{"viewer lists clusters", authz.CheckRequest{
			Organization: orgA, Principal: viewerA, Action: "cks.clusters.list"}, true},
		{"viewer may not create", authz.CheckRequest{
			Organization: orgA, Principal: viewerA, Action: "cks.clusters.create"}, false},
		{"admin of A has nothing in B", authz.CheckRequest{
			Organization: orgB, Principal: adminA, Action: "cks.clusters.list"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := op.Check(ctx, tc.req)
			require.NoError(t, err)
			require.Equal(t, tc.allowed, d.Allowed)
			require.NotEmpty(t, d.ConsistencyToken)
		})
	}

	t.Run("role", func(t *testing.T) {
		d, err := op.CheckRole(ctx, authz.RoleRequest{
			Organization: orgA, Principal: viewerA, Role: "CKS Viewer"})
		require.NoError(t, err)
		require.True(t, d.Allowed)
		d, err = op.CheckRole(ctx, authz.RoleRequest{
			Organization: orgA, Principal: viewerA, Role: "cks-admin"})
		require.NoError(t, err)
		require.False(t, d.Allowed)
	})

	t.Run("bulk, in request order", func(t *testing.T) {
		reqs := make([]authz.CheckRequest, len(cases))
		want := make([]bool, len(cases))
		for i, tc := range cases {
			reqs[i], want[i] = tc.req, tc.allowed
		}
		d, err := op.CheckBulk(ctx, reqs)
		require.NoError(t, err)
		require.Equal(t, want, d.Allowed)
		require.NotEmpty(t, d.ConsistencyToken)
	})
}

func TestRevocationSeenWithItsToken(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, w.srv.OperatorToken)
	ctx := t.Context()
	req := authz.CheckRequest{
		Organization: orgA, Principal: viewerA, Action: "cks.clusters.list",
	}

	d, err := c.Check(ctx, req)
	require.NoError(t, err)
	require.True(t, d.Allowed)

	resp, err := w.srv.Client().UnassignLegacyGroup(ctx, connect.NewRequest(
		&iamv1.UnassignLegacyGroupRequest{
			OrganizationId: orgA, LegacyGroup: "read", Principal: viewerA,
		}))
	require.NoError(t, err)

	req.ConsistencyToken = resp.Msg.GetResult().GetConsistencyToken()
	require.NotEmpty(t, req.ConsistencyToken)
	d, err = c.Check(ctx, req)
	require.NoError(t, err)
	require.False(t, d.Allowed)
}

func TestIdentify(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, w.srv.OperatorToken)
	ctx := t.Context()

	me, err := c.WhoAmI(ctx)
	require.NoError(t, err)
	require.True(t, me.Operator)

	id, err := c.Identify(ctx, w.srv.Token(t, viewerA))
	require.NoError(t, err)
	require.Equal(t, viewerA, id.Principal)
	require.Equal(t, orgA, id.Organization)
	require.Contains(t, id.Actions, "cks.clusters.list")
	require.NotContains(t, id.Actions, "cks.clusters.create")
	require.Contains(t, id.Roles, "cks-viewer")

	for _, bad := range []string{"not-a-token", "", "has space"} {
		_, err = c.Identify(ctx, bad)
		require.ErrorIs(t, err, authz.ErrUnauthenticated, bad)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	op := w.client(t, w.srv.OperatorToken)
	bot := w.client(t, w.srv.Token(t, botA))
	stranger := w.client(t, "not-a-token-iamd-knows")

	cases := []struct {
		name    string
		client  *iamclient.Client
		req     authz.CheckRequest
		want    error
		message string
	}{
		{"unknown action", op, authz.CheckRequest{
			Organization: orgA, Principal: viewerA, Action: "cks.cluster.list"},
			authz.ErrInvalid, `did you mean "cks.clusters.list"`},
		{"bad organization", op, authz.CheckRequest{
			Organization: "XYZ", Principal: viewerA, Action: "cks.clusters.list"},
			authz.ErrInvalid, "XYZ"},
		{"bad service token", stranger, authz.CheckRequest{
			Organization: orgA, Principal: viewerA, Action: "cks.clusters.list"},
			authz.ErrUnauthenticated, ""},
		{"service account asking about another organization", bot,
			authz.CheckRequest{
				Organization: orgB, Principal: adminB, Action: "cks.clusters.list"},
			authz.ErrForbidden, "may act only there"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.client.Check(ctx, tc.req)
			require.ErrorIs(t, err, tc.want)
			require.ErrorContains(t, err, tc.message)
			require.False(t, d.Allowed)
		})
	}

	// A service account with IAM Viewer may check its own organization.
	d, err := bot.Check(ctx, authz.CheckRequest{
		Organization: orgA, Principal: adminA, Action: "cks.clusters.delete"})
	require.NoError(t, err)
	require.True(t, d.Allowed)
}

// fake is an iamd whose Check answers are scripted, to provoke failures
// a real one does not produce on demand.
type fake struct {
	iamv1connect.UnimplementedIAMServiceHandler

	mu      sync.Mutex
	answers []error // one per call; nil answers allowed
	delay   time.Duration
	calls   int
	headers []http.Header
}

func (f *fake) Check(
	ctx context.Context, req *connect.Request[iamv1.CheckRequest],
) (*connect.Response[iamv1.CheckResponse], error) {
	f.mu.Lock()
	f.calls++
	f.headers = append(f.headers, req.Header().Clone())
	var err error
	if len(f.answers) > 0 {
		err, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()

	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.CheckResponse{
		Allowed: true, ConsistencyToken: "token-1",
	}), nil
}

func (f *fake) CheckBulk(
	context.Context, *connect.Request[iamv1.CheckBulkRequest],
) (*connect.Response[iamv1.CheckBulkResponse], error) {
	// One answer short, whatever was asked.
	return connect.NewResponse(&iamv1.CheckBulkResponse{Allowed: []bool{true}}), nil
}

func (f *fake) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// serveFake serves f over HTTP/1.1 and h2c on a loopback port.
func serveFake(t *testing.T, f *fake) string {
	t.Helper()
	_, h := iamv1connect.NewIAMServiceHandler(f)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func unavailable() error {
	return connect.NewError(connect.CodeUnavailable, errors.New("overloaded"))
}

func TestRetriesOnlyUnavailable(t *testing.T) {
	check := authz.CheckRequest{
		Organization: orgA, Principal: viewerA, Action: "cks.clusters.list",
	}
	cases := []struct {
		name    string
		answers []error
		delay   time.Duration
		calls   int
		allowed bool
	}{
		{"recovers after two unavailable answers",
			[]error{unavailable(), unavailable()}, 0, 3, true},
		{"gives up after the attempts",
			[]error{unavailable(), unavailable(), unavailable()}, 0, 3, false},
		{"an internal error is not retried",
			[]error{connect.NewError(connect.CodeInternal, errors.New("bug"))}, 0, 1, false},
		{"a timed-out attempt is not retried", nil, time.Second, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{answers: tc.answers, delay: tc.delay}
			c, err := iamclient.New(iamclient.Config{
				URL: serveFake(t, f), Token: "service-token",
				Timeout: 100 * time.Millisecond, Backoff: time.Millisecond,
			})
			require.NoError(t, err)
			t.Cleanup(c.Close)

			d, err := c.Check(t.Context(), check)
			require.Equal(t, tc.calls, f.callCount())
			if tc.allowed {
				require.NoError(t, err)
				require.True(t, d.Allowed)
				return
			}
			require.ErrorIs(t, err, authz.ErrUnavailable)
			require.False(t, d.Allowed)
		})
	}
}

func TestSendsTokenAndRequestID(t *testing.T) {
	f := &fake{}
	c, err := iamclient.New(iamclient.Config{URL: serveFake(t, f), Token: "service-token"})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	ctx := authz.WithRequestID(t.Context(), "req-7")
	_, err = c.Check(ctx, authz.CheckRequest{
		Organization: orgA, Principal: viewerA, Action: "cks.clusters.list",
	})
	require.NoError(t, err)

	require.Len(t, f.headers, 1)
	require.Equal(t, "Bearer service-token", f.headers[0].Get("Authorization"))
	require.Equal(t, "req-7", f.headers[0].Get(authz.RequestIDHeader))
	require.Equal(t, "application/grpc", f.headers[0].Get("Content-Type"),
		"the client speaks gRPC")
}

func TestShortBulkAnswerFails(t *testing.T) {
	c, err := iamclient.New(iamclient.Config{URL: serveFake(t, &fake{}), Token: "service-token"})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	req := authz.CheckRequest{Organization: orgA, Principal: viewerA, Action: "cks.clusters.list"}
	d, err := c.CheckBulk(t.Context(), []authz.CheckRequest{req, req})
	require.ErrorIs(t, err, authz.ErrUnavailable)
	require.ErrorContains(t, err, "answered 1 checks of 2")
	require.Empty(t, d.Allowed)
}

func TestServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	c, err := iamclient.New(iamclient.Config{
		URL: url, Token: "service-token", Backoff: time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)

	d, err := c.Check(t.Context(), authz.CheckRequest{
		Organization: orgA, Principal: viewerA, Action: "cks.clusters.list"})
	require.ErrorIs(t, err, authz.ErrUnavailable)
	require.False(t, d.Allowed)
}

func TestTLS(t *testing.T) {
	_, h := iamv1connect.NewIAMServiceHandler(&fake{})
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	req := authz.CheckRequest{Organization: orgA, Principal: viewerA, Action: "cks.clusters.list"}

	trusted, err := iamclient.New(iamclient.Config{
		URL: srv.URL, Token: "service-token",
		TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	})
	require.NoError(t, err)
	t.Cleanup(trusted.Close)
	d, err := trusted.Check(t.Context(), req)
	require.NoError(t, err)
	require.True(t, d.Allowed)

	// Without the test CA, the server's certificate is refused.
	untrusted, err := iamclient.New(iamclient.Config{
		URL: srv.URL, Token: "service-token", MaxAttempts: 1,
	})
	require.NoError(t, err)
	t.Cleanup(untrusted.Close)
	_, err = untrusted.Check(t.Context(), req)
	require.ErrorIs(t, err, authz.ErrUnavailable)
	require.ErrorContains(t, err, "certificate")
}

func TestConfigIsValidated(t *testing.T) {
	cases := []struct {
		name    string
		cfg     iamclient.Config
		problem string
	}{
		{"no URL", iamclient.Config{Token: "t"}, "not an http:// or https:// URL"},
		{"other scheme", iamclient.Config{URL: "grpc://iamd:8080", Token: "t"}, `"grpc://iamd:8080"`},
		{"credentials in URL", iamclient.Config{
			URL: "http://u:p@127.0.0.1", Token: "t",
		}, "holds credentials"},
		{"query", iamclient.Config{URL: "http://127.0.0.1/?a=b", Token: "t"}, "query"},
		{"no token", iamclient.Config{URL: "http://127.0.0.1"}, "Config.Token is empty"},
		{"token with newline", iamclient.Config{URL: "http://127.0.0.1", Token: "a\nb"}, "byte 1"},
		{"TLS config on http", iamclient.Config{
			URL: "http://127.0.0.1", Token: "t", TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		}, "use an https:// URL"},
		{"negative attempts", iamclient.Config{URL: "http://127.0.0.1", Token: "t", MaxAttempts: -1},
			"MaxAttempts is -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iamclient.New(tc.cfg)
			require.ErrorContains(t, err, tc.problem)
			require.NotContains(t, err.Error(), "a\nb")
		})
	}
}
