package authz_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
)

const (
	org   = "ab1cd2"
	alice = "user:alice@example.com"
)

func TestEnforce(t *testing.T) {
	cases := []struct {
		name    string
		req     authz.CheckRequest
		grant   bool
		fail    error
		kind    authz.Kind
		allowed bool
		message string
	}{
		{
			name:    "allowed",
			req:     authz.CheckRequest{Organization: org, Principal: alice, Action: "cks.clusters.create"},
			grant:   true,
			allowed: true,
		},
		{
			name: "denied names the action and the roles that grant it",
			req:  authz.CheckRequest{Organization: org, Principal: alice, Action: "cks.clusters.create"},
			kind: authz.KindPermissionDenied,
			message: "user:alice@example.com may not perform cks.clusters.create " +
				"in organization ab1cd2; ask an administrator of ab1cd2 for a " +
				"role that grants it (CKS Admin)",
		},
		{
			name:    "a checker failure is unavailable",
			req:     authz.CheckRequest{Organization: org, Principal: alice, Action: "cks.clusters.create"},
			grant:   true,
			fail:    errors.New("connection refused"),
			kind:    authz.KindUnavailable,
			message: "connection refused",
		},
		{
			name:  "refused service credentials are unavailable, not the caller's fault",
			req:   authz.CheckRequest{Organization: org, Principal: alice, Action: "cks.clusters.create"},
			grant: true,
			fail:  fmt.Errorf("%w: bad service token", authz.ErrUnauthenticated),
			kind:  authz.KindUnavailable,
		},
		{
			name:  "a forbidden service is unavailable",
			req:   authz.CheckRequest{Organization: org, Principal: alice, Action: "cks.clusters.create"},
			grant: true,
			fail:  fmt.Errorf("%w: other organization", authz.ErrForbidden),
			kind:  authz.KindUnavailable,
		},
		{
			name:    "an invalid request stays invalid",
			req:     authz.CheckRequest{Organization: org, Principal: alice, Action: "cks.clusters.create"},
			grant:   true,
			fail:    fmt.Errorf("%w: organization_id \"XYZ\"", authz.ErrInvalid),
			kind:    authz.KindInvalid,
			message: "XYZ",
		},
		{
			name:    "no principal",
			req:     authz.CheckRequest{Organization: org, Action: "cks.clusters.create"},
			kind:    authz.KindUnauthenticated,
			message: "no principal",
		},
		{
			name:    "no organization",
			req:     authz.CheckRequest{Principal: alice, Action: "cks.clusters.create"},
			kind:    authz.KindInvalid,
			message: "no organization",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := authztest.NewChecker()
			if tc.grant {
				c.Grant(org, alice, "cks.clusters.create")
			}
			c.Fail(tc.fail)

			err := authz.Enforce(t.Context(), c, tc.req)
			if tc.allowed {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.kind, authz.KindOf(err), err.Error())
			require.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestDenialIsPermissionDenied(t *testing.T) {
	d := &authz.Denial{Principal: alice, Organization: org, Action: "billing.invoices.list"}
	require.ErrorIs(t, d, authz.ErrPermissionDenied)
	require.Equal(t, []string{"Billing Viewer"}, d.Roles())

	var target *authz.Denial
	wrapped := fmt.Errorf("create: %w", d)
	require.ErrorAs(t, wrapped, &target)
	require.Equal(t, "billing.invoices.list", target.Action)
}

func TestKindOfPrefersUnavailable(t *testing.T) {
	both := fmt.Errorf("%w: %w", authz.ErrUnavailable, authz.ErrInvalid)
	require.Equal(t, authz.KindUnavailable, authz.KindOf(both))
	require.Equal(t, authz.KindUnavailable, authz.KindOf(errors.New("unclassified")))
	require.Equal(t, "permission_denied", authz.KindPermissionDenied.String())
}

func TestValidateAction(t *testing.T) {
	a, err := authz.ValidateAction(" CKS.Clusters.Create ")
	require.NoError(t, err)
	require.Equal(t, "cks.clusters.create", a)

	_, err = authz.ValidateAction("cks.cluster.create")
	require.ErrorIs(t, err, authz.ErrInvalid)
	require.ErrorContains(t, err, `did you mean "cks.clusters.create"`)
}

func TestMethodsCompile(t *testing.T) {
	cases := []struct {
		name    string
		methods authz.Methods
		problem string
	}{
		{"good", authz.Methods{
			"/clusters.v1.Clusters/Create": authz.Action("CKS.Clusters.Create"),
			"/grpc.health.v1.Health/Check": authz.Public,
		}, ""},
		{"zero rule", authz.Methods{"/a.B/C": {}}, "names no action"},
		{"unknown action", authz.Methods{"/a.B/C": authz.Action("cks.cluster.list")},
			`did you mean "cks.clusters.list"`},
		{"no leading slash", authz.Methods{"a.B/C": authz.Public}, "not a full method name"},
		{"no method", authz.Methods{"/a.B/": authz.Public}, "not a full method name"},
		{"extra slash", authz.Methods{"/a.B/C/D": authz.Public}, "not a full method name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.methods.Compile()
			if tc.problem != "" {
				require.ErrorContains(t, err, tc.problem)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "cks.clusters.create",
				out["/clusters.v1.Clusters/Create"].ActionName())
			require.True(t, out["/grpc.health.v1.Health/Check"].IsPublic())
		})
	}
}

// guard builds a Guard over a checker that grants alice cluster listing
// in org, with subjects taken from the context.
func guard(t *testing.T, c *authztest.Checker) *authz.Guard {
	t.Helper()
	c.Grant(org, alice, "cks.clusters.list")
	g, err := authz.NewGuard(authz.GuardConfig{
		Checker:   c,
		Extractor: authz.FromContext(),
		Methods: authz.Methods{
			"/iam.v1.IAMService/ListPolicies": authz.Action("cks.clusters.list"),
			"/iam.v1.IAMService/ListRoles":    authz.Public,
		},
	})
	require.NoError(t, err)
	return g
}

func TestGuardAuthorize(t *testing.T) {
	signedIn := authz.WithSubject(context.Background(),
		authz.Subject{Principal: alice, Organization: org})
	other := &iamv1.ListPoliciesRequest{OrganizationId: "ff00ff"}
	own := &iamv1.ListPoliciesRequest{}

	cases := []struct {
		name    string
		ctx     context.Context
		method  string
		header  http.Header
		msg     any
		kind    authz.Kind
		allowed bool
		checked string // organization checked
	}{
		{"allowed in the caller's organization", signedIn,
			"/iam.v1.IAMService/ListPolicies", nil, own, 0, true, org},
		{"the message's organization is checked", signedIn,
			"/iam.v1.IAMService/ListPolicies", nil, other,
			authz.KindPermissionDenied, false, "ff00ff"},
		{"an unmapped method is denied", signedIn,
			"/iam.v1.IAMService/DeletePolicy", nil, own,
			authz.KindPermissionDenied, false, ""},
		{"a public method needs no subject", context.Background(),
			"/iam.v1.IAMService/ListRoles", nil, nil, 0, true, ""},
		{"no subject", context.Background(),
			"/iam.v1.IAMService/ListPolicies", nil, own,
			authz.KindUnauthenticated, false, ""},
		{"an oversized consistency token", signedIn,
			"/iam.v1.IAMService/ListPolicies",
			http.Header{"X-Consistency-Token": {strings.Repeat("a", 2000)}},
			own, authz.KindInvalid, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := authztest.NewChecker()
			g := guard(t, c)
			h := tc.header
			if h == nil {
				h = http.Header{}
			}

			ctx, err := g.Authorize(tc.ctx, tc.method, h, tc.msg)
			if tc.allowed {
				require.NoError(t, err)
				require.NotNil(t, ctx)
			} else {
				require.Error(t, err)
				require.Equal(t, tc.kind, authz.KindOf(err), err.Error())
			}
			if tc.kind == authz.KindPermissionDenied && tc.checked == "" {
				require.ErrorContains(t, err, tc.method)
			}

			reqs := c.Requests()
			if tc.checked == "" {
				require.Empty(t, reqs, "no check is made")
				return
			}
			require.Len(t, reqs, 1)
			require.Equal(t, tc.checked, reqs[0].Organization)
			if tc.allowed {
				s, ok := authz.SubjectFrom(ctx)
				require.True(t, ok)
				require.Equal(t, tc.checked, s.Organization)
			}
		})
	}
}

func TestConsistencyTokenReachesTheChecker(t *testing.T) {
	c := authztest.NewChecker()
	g := guard(t, c)
	ctx := authz.WithSubject(context.Background(),
		authz.Subject{Principal: alice, Organization: org})
	ctx = authz.WithConsistencyToken(ctx, "from-context")

	_, err := g.Authorize(ctx, "/iam.v1.IAMService/ListPolicies", http.Header{}, nil)
	require.NoError(t, err)
	h := http.Header{"X-Consistency-Token": {"from-header"}}
	_, err = g.Authorize(ctx, "/iam.v1.IAMService/ListPolicies", h, nil)
	require.NoError(t, err)

	reqs := c.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "from-context", reqs[0].ConsistencyToken)
	require.Equal(t, "from-header", reqs[1].ConsistencyToken, "the header wins")
}

func TestNewGuardRefusesBadConfig(t *testing.T) {
	c := authztest.NewChecker()
	_, err := authz.NewGuard(authz.GuardConfig{Extractor: authz.FromContext()})
	require.ErrorContains(t, err, "Checker is required")
	_, err = authz.NewGuard(authz.GuardConfig{Checker: c})
	require.ErrorContains(t, err, "Extractor is required")
	_, err = authz.NewGuard(authz.GuardConfig{
		Checker: c, Extractor: authz.FromContext(),
		Methods: authz.Methods{"/a.B/C": authz.Action("nope")},
	})
	require.ErrorIs(t, err, authz.ErrInvalid)
}

func TestFromGateway(t *testing.T) {
	const secret = "0123456789abcdef-gateway"
	verify, err := authz.SharedSecret("X-Gateway-Secret", secret)
	require.NoError(t, err)
	ex, err := authz.FromGateway(authz.Gateway{Verify: verify})
	require.NoError(t, err)

	cases := []struct {
		name    string
		header  http.Header
		subject authz.Subject
		problem string
	}{
		{"verified", http.Header{
			"X-Gateway-Secret":             {secret},
			"X-Authenticated-Principal":    {alice},
			"X-Authenticated-Organization": {org},
		}, authz.Subject{Principal: alice, Organization: org}, ""},
		{"wrong secret", http.Header{
			"X-Gateway-Secret":          {"0123456789abcdef-guessed"},
			"X-Authenticated-Principal": {alice},
		}, authz.Subject{}, "does not hold the gateway secret"},
		{"no secret", http.Header{
			"X-Authenticated-Principal": {alice},
		}, authz.Subject{}, "not verified"},
		{"no principal", http.Header{
			"X-Gateway-Secret": {secret},
		}, authz.Subject{}, "no X-Authenticated-Principal header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ex.Extract(t.Context(), tc.header)
			if tc.problem != "" {
				require.ErrorIs(t, err, authz.ErrUnauthenticated)
				require.ErrorContains(t, err, tc.problem)
				require.NotContains(t, err.Error(), "guessed",
					"the message never repeats the sent secret")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.subject, s)
		})
	}
}

func TestGatewayNeedsVerification(t *testing.T) {
	_, err := authz.FromGateway(authz.Gateway{})
	require.ErrorContains(t, err, "Verify is required")
	_, err = authz.SharedSecret("X-Gateway-Secret", "short")
	require.ErrorContains(t, err, "at least 16")
	_, err = authz.SharedSecret("", "0123456789abcdef")
	require.ErrorContains(t, err, "header name")
}

func TestFromBearerToken(t *testing.T) {
	ids := authztest.Identifier{
		"alice-token":    {Principal: alice, Organization: org},
		"operator-token": {Principal: "operator", Operator: true},
	}
	failing := identifyFunc(func(context.Context, string) (authz.Identity, error) {
		return authz.Identity{}, errors.New("connection refused")
	})

	cases := []struct {
		name    string
		id      authz.Identifier
		header  string
		kind    authz.Kind
		subject authz.Subject
	}{
		{"known", ids, "Bearer alice-token", 0,
			authz.Subject{Principal: alice, Organization: org}},
		{"lower-case scheme", ids, "bearer alice-token", 0,
			authz.Subject{Principal: alice, Organization: org}},
		{"unknown token", ids, "Bearer nope", authz.KindUnauthenticated, authz.Subject{}},
		{"no header", ids, "", authz.KindUnauthenticated, authz.Subject{}},
		{"basic auth", ids, "Basic YWxpY2U6cHc=", authz.KindUnauthenticated, authz.Subject{}},
		{"operator", ids, "Bearer operator-token", authz.KindUnauthenticated, authz.Subject{}},
		{"identifier down", failing, "Bearer alice-token", authz.KindUnavailable, authz.Subject{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.header != "" {
				h.Set("Authorization", tc.header)
			}
			s, err := authz.FromBearerToken(tc.id).Extract(t.Context(), h)
			if tc.subject.Principal == "" {
				require.Error(t, err)
				require.Equal(t, tc.kind, authz.KindOf(err), err.Error())
				require.NotContains(t, err.Error(), "YWxpY2U6cHc=")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.subject, s)
		})
	}
}

type identifyFunc func(context.Context, string) (authz.Identity, error)

func (f identifyFunc) Identify(ctx context.Context, token string) (authz.Identity, error) {
	return f(ctx, token)
}

func TestConsistencyToken(t *testing.T) {
	cases := []struct {
		name, header, ctx, want string
		bad                     bool
	}{
		{"none", "", "", "", false},
		{"header", "GhUKEzE3", "", "GhUKEzE3", false},
		{"context", "", "GhUKEzE3", "GhUKEzE3", false},
		{"header wins", "GhUKEzE4", "GhUKEzE3", "GhUKEzE4", false},
		{"too long", strings.Repeat("a", authz.MaxConsistencyTokenLength+1), "", "", true},
		{"control character", "Gh\x01U", "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(authz.ConsistencyTokenHeader, tc.header)
			ctx := authz.WithConsistencyToken(t.Context(), tc.ctx)

			got, err := authz.ConsistencyToken(ctx, h)
			if tc.bad {
				require.ErrorIs(t, err, authz.ErrInvalid)
				require.ErrorContains(t, err, authz.ConsistencyTokenHeader)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRequestID(t *testing.T) {
	ctx := authz.WithRequestID(t.Context(), "req-42.a_b")
	require.Equal(t, "req-42.a_b", authz.RequestIDFrom(ctx))
	for _, bad := range []string{
		"", "with space", "new\nline", "a:b", strings.Repeat("a", 65),
		"iamd1.eyJzdWIi", "IAMD1.x",
	} {
		ctx := authz.WithRequestID(t.Context(), bad)
		require.Empty(t, authz.RequestIDFrom(ctx), "%q", bad)
	}
}

func TestGuardLogsFailuresAndUnmappedMethods(t *testing.T) {
	c := authztest.NewChecker()
	var log bytes.Buffer
	g, err := authz.NewGuard(authz.GuardConfig{
		Checker: c, Extractor: authz.FromContext(),
		Methods: authz.Methods{"/a.B/List": authz.Action("cks.clusters.list")},
		Logger:  slog.New(slog.NewTextHandler(&log, nil)),
	})
	require.NoError(t, err)
	ctx := authz.WithSubject(context.Background(),
		authz.Subject{Principal: alice, Organization: org})
	ctx = authz.WithRequestID(ctx, "req-1")

	_, err = g.Authorize(ctx, "/a.B/List", http.Header{}, nil)
	require.Equal(t, authz.KindPermissionDenied, authz.KindOf(err))
	require.Empty(t, log.String(), "a denial is an answer, not logged")

	_, err = g.Authorize(ctx, "/a.B/Drop", http.Header{}, nil)
	require.Equal(t, authz.KindPermissionDenied, authz.KindOf(err))
	require.Contains(t, log.String(), "method=/a.B/Drop")

	log.Reset()
	c.Fail(errors.New("dial 10.0.0.7: refused"))
	_, err = g.Authorize(ctx, "/a.B/List", http.Header{}, nil)
	require.Equal(t, authz.KindUnavailable, authz.KindOf(err))
	require.Contains(t, log.String(), "level=WARN")
	require.Contains(t, log.String(), "10.0.0.7", "the cause is for the log")
	require.Contains(t, log.String(), "request_id=req-1")

	log.Reset()
	c.Fail(fmt.Errorf("%w: token refused", authz.ErrUnauthenticated))
	_, err = g.Authorize(ctx, "/a.B/List", http.Header{}, nil)
	require.Equal(t, authz.KindUnavailable, authz.KindOf(err))
	require.Contains(t, log.String(), "level=ERROR")
}
