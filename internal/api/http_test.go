package api_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/iam"
)

// get fetches path with an optional request ID and returns the status,
// body and echoed request ID.
func get(t *testing.T, s *apitest.Server, path, requestID string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+path, nil)
	require.NoError(t, err)
	if requestID != "" {
		req.Header.Set(api.RequestIDHeader, requestID)
	}
	resp, err := s.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header.Get(api.RequestIDHeader)
}

// TestHealthAndReadiness: liveness always answers; readiness follows the
// Ready function and logs the cause once, with the request ID.
func TestHealthAndReadiness(t *testing.T) {
	s := apitest.NewServer(t)

	code, body, _ := get(t, s, "/readyz", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok\n", body)

	s.SetReadyError(errors.New("datastore db.internal:5432 unreachable"))
	for _, id := range []string{"probe-1", "probe-2"} {
		code, body, _ = get(t, s, "/readyz", id)
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.NotContains(t, body, "db.internal", "the cause is for the log")

		code, _, _ = get(t, s, "/healthz", "")
		require.Equal(t, http.StatusOK, code)
	}
	log := s.Log.String()
	require.Equal(t, 1, strings.Count(log, "db.internal:5432"), log)
	require.Contains(t, log, "request_id=probe-1")

	s.SetReadyError(nil)
	code, _, _ = get(t, s, "/readyz", "")
	require.Equal(t, http.StatusOK, code)
}

// TestRequestID echoes a sane client request ID and replaces any other,
// on plain HTTP, on Connect and gRPC answers, and on errors.
func TestRequestID(t *testing.T) {
	f := newFixture(t)
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)

	cases := []struct {
		name, sent string
		echoed     bool
	}{
		{"sane", "req-42.a_b", true},
		{"longest", strings.Repeat("a", 64), true},
		{"none", "", false},
		{"spaces", "req 42", false},
		{"colon", "req:42", false},
		{"too long", strings.Repeat("a", 65), false},
		{"token-shaped", "iamd1.eyJzdWIiOiJ1c2VyOmEifQ", false},
	}
	for _, tc := range cases {
		t.Run("http/"+tc.name, func(t *testing.T) {
			_, _, got := get(t, f.Server, "/healthz", tc.sent)
			if tc.echoed {
				require.Equal(t, tc.sent, got)
			} else {
				require.Regexp(t, generated, got)
			}
		})

		for _, proto := range protocols {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				opts := append(proto.opts, connect.WithInterceptors(
					setHeader(api.RequestIDHeader, tc.sent)))
				c := f.as(adminA, opts)

				resp, err := c.WhoAmI(t.Context(), connect.NewRequest(&iamv1.WhoAmIRequest{}))
				require.NoError(t, err)
				got := resp.Header().Get(api.RequestIDHeader)

				_, err = c.ListOrganizations(t.Context(),
					connect.NewRequest(&iamv1.ListOrganizationsRequest{}))
				ce := requireCode(t, connect.CodePermissionDenied, err)
				gotOnError := ce.Meta().Get(api.RequestIDHeader)

				if tc.echoed {
					require.Equal(t, tc.sent, got)
					require.Equal(t, tc.sent, gotOnError)
				} else {
					require.Regexp(t, generated, got)
					require.Regexp(t, generated, gotOnError)
				}
			})
		}
	}
}

// TestMetrics exposes request counts by method and code, latencies and
// check decisions.
func TestMetrics(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	c := f.as(adminA, protocols[1].opts)

	_, err := c.ListRoles(ctx, connect.NewRequest(&iamv1.ListRolesRequest{}))
	require.NoError(t, err)
	_, err = f.ClientAs("").ListRoles(ctx, connect.NewRequest(&iamv1.ListRolesRequest{}))
	requireCode(t, connect.CodeUnauthenticated, err)
	for _, action := range []string{"iam.policies.update", "billing.balance.view"} {
		_, err = c.Check(ctx, connect.NewRequest(&iamv1.CheckRequest{
			OrganizationId: orgA, Principal: adminA, Action: action,
		}))
		require.NoError(t, err)
	}

	code, body, _ := get(t, f.Server, "/metrics", "")
	require.Equal(t, http.StatusOK, code)
	for _, line := range []string{
		`iamd_api_requests_total{code="ok",method="ListRoles"} 1`,
		`iamd_api_requests_total{code="unauthenticated",method="ListRoles"} 1`,
		`iamd_api_requests_total{code="ok",method="Check"} 2`,
		`iamd_api_request_duration_seconds_count{method="Check"} 2`,
		`iamd_check_decisions_total{decision="allowed"} 1`,
		`iamd_check_decisions_total{decision="denied"} 1`,
		`iamd_check_decisions_total{decision="error"} 0`,
	} {
		require.Contains(t, body, line+"\n")
	}
}

// TestInternalErrorsHideTheirCause turns a panic deep in the service into
// an internal error that names only the request ID, logged once with its
// cause.
func TestInternalErrorsHideTheirCause(t *testing.T) {
	log := &apitest.SyncBuffer{}
	operator := "operator-token-for-this-test"
	h, err := api.NewHandler(api.Config{
		// A facade with no engine panics on its first read.
		Service:       &iam.Service{},
		OperatorToken: operator,
		TokenKey:      []byte(strings.Repeat("k", 32)),
		Logger:        newTextLogger(log),
		Ready:         func(context.Context) error { return nil },
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	c := iamv1connect.NewIAMServiceClient(srv.Client(), srv.URL,
		connect.WithInterceptors(apitest.BearerToken(operator),
			setHeader(api.RequestIDHeader, "boom-1")))
	_, err = c.ListOrganizations(t.Context(),
		connect.NewRequest(&iamv1.ListOrganizationsRequest{}))

	ce := requireCode(t, connect.CodeInternal, err)
	require.Contains(t, ce.Message(), "boom-1")
	require.NotContains(t, ce.Message(), "panic")
	require.Empty(t, ce.Details())
	require.Equal(t, 1, strings.Count(log.String(), "internal error"), log.String())
	require.Contains(t, log.String(), "nil pointer dereference", "the cause is logged")
	require.Contains(t, log.String(), "request_id=boom-1")
	require.NotContains(t, log.String(), operator)
}

// TestNewHandlerRefusesWeakConfig refuses a configuration that would serve
// an API anyone could guess their way into.
func TestNewHandlerRefusesWeakConfig(t *testing.T) {
	good := api.Config{
		Service:       &iam.Service{},
		OperatorToken: strings.Repeat("o", api.MinOperatorTokenLength),
		TokenKey:      []byte(strings.Repeat("k", api.MinTokenKeyLength)),
		Ready:         func(context.Context) error { return nil },
	}
	_, err := api.NewHandler(good)
	require.NoError(t, err)

	cases := map[string]func(c *api.Config){
		"no service":         func(c *api.Config) { c.Service = nil },
		"no readiness":       func(c *api.Config) { c.Ready = nil },
		"short operator key": func(c *api.Config) { c.OperatorToken = "secret" },
		"short signing key":  func(c *api.Config) { c.TokenKey = []byte("key") },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := good
			breakIt(&cfg)
			_, err := api.NewHandler(cfg)
			require.Error(t, err)
		})
	}
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
