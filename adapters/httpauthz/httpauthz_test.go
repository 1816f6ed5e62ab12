package httpauthz_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/httpauthz"
	"github.com/gpucloud/iam/adapters/iamclient"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	org   = "ab1cd2"
	alice = "user:alice@example.com"
)

// ids are the bearer tokens the tests' extractor knows.
var ids = authztest.Identifier{
	"alice-token": {Principal: alice, Organization: org},
}

// protected is a mux with one route per action, each answering with the
// subject its context carries.
func protected(checker authz.Checker, log *slog.Logger) http.Handler {
	a := httpauthz.New(checker, authz.FromBearerToken(ids),
		httpauthz.OrganizationFromPath("org"), httpauthz.WithLogger(log))

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := authz.SubjectFrom(r.Context())
		fmt.Fprintf(w, "%s in %s", s.Principal, s.Organization)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /orgs/{org}/clusters", a.Require("cks.clusters.list")(echo))
	mux.Handle("POST /orgs/{org}/clusters", a.Require("cks.clusters.create")(echo))
	mux.Handle("GET /clusters", a.Require("cks.clusters.list")(echo))
	return mux
}

func TestMiddleware(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		fail    error
		status  int
		body    string
		decoded httpauthz.ErrorBody
	}{
		{
			name: "allowed", method: "GET", path: "/orgs/ab1cd2/clusters",
			headers: map[string]string{"Authorization": "Bearer alice-token"},
			status:  http.StatusOK, body: alice + " in " + org,
		},
		{
			name: "denied names the action", method: "POST", path: "/orgs/ab1cd2/clusters",
			headers: map[string]string{"Authorization": "Bearer alice-token"},
			status:  http.StatusForbidden,
			decoded: httpauthz.ErrorBody{
				Code: "permission_denied", Action: "cks.clusters.create",
				Organization: org, Roles: []string{"CKS Admin"},
				Message: alice + " may not perform cks.clusters.create in " +
					"organization ab1cd2; ask an administrator of ab1cd2 " +
					"for a role that grants it (CKS Admin)",
			},
		},
		{
			name: "another organization is checked as such", method: "GET",
			path:    "/orgs/ff00ff/clusters",
			headers: map[string]string{"Authorization": "Bearer alice-token"},
			status:  http.StatusForbidden,
			decoded: httpauthz.ErrorBody{
				Code: "permission_denied", Action: "cks.clusters.list",
				Organization: "ff00ff", Roles: []string{"CKS Viewer", "CKS Admin"},
			},
		},
		{
			name: "no token", method: "GET", path: "/orgs/ab1cd2/clusters",
			status:  http.StatusUnauthorized,
			decoded: httpauthz.ErrorBody{Code: "unauthenticated", Action: "cks.clusters.list"},
		},
		{
			name: "unknown token", method: "GET", path: "/orgs/ab1cd2/clusters",
			headers: map[string]string{"Authorization": "Bearer stolen"},
			status:  http.StatusUnauthorized,
			decoded: httpauthz.ErrorBody{Code: "unauthenticated", Action: "cks.clusters.list"},
		},
		{
			name: "a route without the organization", method: "GET", path: "/clusters",
			headers: map[string]string{"Authorization": "Bearer alice-token"},
			status:  http.StatusBadRequest,
			decoded: httpauthz.ErrorBody{Code: "invalid_argument", Action: "cks.clusters.list"},
		},
		{
			name: "a bad consistency token", method: "GET", path: "/orgs/ab1cd2/clusters",
			headers: map[string]string{
				"Authorization":       "Bearer alice-token",
				"X-Consistency-Token": strings.Repeat("z", 2000),
			},
			status:  http.StatusBadRequest,
			decoded: httpauthz.ErrorBody{Code: "invalid_argument", Action: "cks.clusters.list"},
		},
		{
			name: "the checker rejects the request", method: "GET", path: "/orgs/ab1cd2/clusters",
			headers: map[string]string{"Authorization": "Bearer alice-token"},
			fail:    fmt.Errorf("%w: organization_id \"ab1cd2\": bad", authz.ErrInvalid),
			status:  http.StatusBadRequest,
			decoded: httpauthz.ErrorBody{Code: "invalid_argument", Action: "cks.clusters.list"},
		},
		{
			name: "the checker fails", method: "GET", path: "/orgs/ab1cd2/clusters",
			headers: map[string]string{"Authorization": "Bearer alice-token"},
			fail:    errors.New("dial tcp 10.0.0.7:8080: connection refused"),
			status:  http.StatusServiceUnavailable,
			decoded: httpauthz.ErrorBody{Code: "unavailable", Action: "cks.clusters.list"},
		},
		{
			name: "the service's credentials are refused", method: "GET",
			path:    "/orgs/ab1cd2/clusters",
			headers: map[string]string{"Authorization": "Bearer alice-token"},
			fail:    fmt.Errorf("%w: bad service token", authz.ErrUnauthenticated),
			status:  http.StatusServiceUnavailable,
			decoded: httpauthz.ErrorBody{Code: "unavailable", Action: "cks.clusters.list"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checker := authztest.NewChecker()
			checker.Grant(org, alice, "cks.clusters.list")
			checker.Fail(tc.fail)
			var log bytes.Buffer
			h := protected(checker, slog.New(slog.NewTextHandler(&log, nil)))

			req := httptest.NewRequest(tc.method, tc.path, nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status == http.StatusOK {
				require.Equal(t, tc.body, rec.Body.String())
				return
			}

			require.Equal(t, "application/json; charset=utf-8",
				rec.Header().Get("Content-Type"))
			var got httpauthz.ErrorBody
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Equal(t, tc.decoded.Code, got.Code)
			require.Equal(t, tc.decoded.Action, got.Action)
			require.Equal(t, tc.decoded.Organization, got.Organization)
			require.Equal(t, tc.decoded.Roles, got.Roles)
			if tc.decoded.Message != "" {
				require.Equal(t, tc.decoded.Message, got.Message)
			}
			require.NotContains(t, rec.Body.String(), "10.0.0.7",
				"the cause of a failure is for the log")

			if tc.status == http.StatusServiceUnavailable {
				require.Equal(t, "1", rec.Header().Get("Retry-After"))
				require.Contains(t, log.String(), "cks.clusters.list")
			} else {
				require.Empty(t, log.String(), "only failures are logged")
			}
			if tc.status == http.StatusUnauthorized {
				require.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestFailuresAreLoggedWithoutSecrets(t *testing.T) {
	checker := authztest.NewChecker()
	checker.Fail(fmt.Errorf("%w: iamd: no", authz.ErrForbidden))
	var log bytes.Buffer
	h := protected(checker, slog.New(slog.NewTextHandler(&log, nil)))

	req := httptest.NewRequest("GET", "/orgs/ab1cd2/clusters", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	req.Header.Set("X-Request-Id", "req-9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, log.String(), "level=ERROR")
	require.Contains(t, log.String(), "request_id=req-9")
	require.NotContains(t, log.String(), "alice-token")
}

func TestConsistencyTokenReachesTheChecker(t *testing.T) {
	checker := authztest.NewChecker()
	checker.Grant(org, alice, "cks.clusters.list")
	h := protected(checker, slog.Default())

	req := httptest.NewRequest("GET", "/orgs/ab1cd2/clusters", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	req.Header.Set(authz.ConsistencyTokenHeader, "GhUKEzE3")
	h.ServeHTTP(httptest.NewRecorder(), req)

	reqs := checker.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, authz.CheckRequest{
		Organization: org, Principal: alice,
		Action: "cks.clusters.list", ConsistencyToken: "GhUKEzE3",
	}, reqs[0])
}

func TestWithoutOrganizationOptionTheCallersOwnIsChecked(t *testing.T) {
	checker := authztest.NewChecker()
	checker.Grant(org, alice, "cks.clusters.list")
	mw := httpauthz.Require(checker, "cks.clusters.list", authz.FromBearerToken(ids))
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := authz.SubjectFrom(r.Context())
		fmt.Fprint(w, s.Organization)
	}))

	req := httptest.NewRequest("GET", "/clusters", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, org, rec.Body.String())
}

// TestIAMDUnreachable uses the real client against a port where nothing
// listens: the route answers 503 and the handler never runs.
func TestIAMDUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	client, err := iamclient.New(iamclient.Config{
		URL: url, Token: "service-token", Backoff: time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(client.Close)

	reached := false
	mw := httpauthz.Require(client, "cks.clusters.delete",
		authz.FromBearerToken(ids), httpauthz.OrganizationFromPath("org"),
		httpauthz.WithLogger(slog.New(slog.DiscardHandler)))
	mux := http.NewServeMux()
	mux.Handle("DELETE /orgs/{org}/clusters/{name}",
		mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })))

	req := httptest.NewRequest("DELETE", "/orgs/ab1cd2/clusters/c1", nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)

	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.False(t, reached)
}

func TestWiringMistakesPanic(t *testing.T) {
	checker := authztest.NewChecker()
	require.PanicsWithValue(t, "httpauthz: New needs a checker and an extractor", func() {
		httpauthz.New(nil, authz.FromContext())
	})
	require.PanicsWithValue(t, "httpauthz: New needs a checker and an extractor", func() {
		httpauthz.New(checker, nil)
	})
	defer func() {
		msg := fmt.Sprint(recover())
		require.Contains(t, msg, `did you mean "cks.clusters.create"`)
	}()
	httpauthz.New(checker, authz.FromContext()).Require("cks.cluster.create")
}
