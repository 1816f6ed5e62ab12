package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authzcache"
	"github.com/gpucloud/iam/adapters/httpauthz"
	"github.com/gpucloud/iam/adapters/iamclient"
	"github.com/gpucloud/iam/adapters/internal/iamdtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A dependency of SpiceDB starts this worker in its init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

const (
	org    = "ab1cd2"
	admin  = "user:admin@ab1cd2.example"  // legacy admin: CKS Admin
	writer = "user:writer@ab1cd2.example" // legacy write: CKS Admin
	viewer = "user:viewer@ab1cd2.example" // legacy read: CKS Viewer
	plain  = "user:plain@ab1cd2.example"  // member without roles
)

const document = `
organizations:
  - id: ab1cd2
    first_user: user:admin@ab1cd2.example
    members:
      - user:writer@ab1cd2.example
      - user:viewer@ab1cd2.example
      - user:plain@ab1cd2.example
    legacy_groups:
      write: [user:writer@ab1cd2.example]
      read: [user:viewer@ab1cd2.example]
  - id: ff00ff
    first_user: user:admin@ff00ff.example
`

// gatewaySecret is the secret of the tests' gateway.
const gatewaySecret = "secret-of-the-test-gateway"

// service is the clusters API running against a real iamd.
type service struct {
	url     string
	store   *store
	cache   *authzcache.Cache
	gateway bool
	tokens  map[string]string // principal -> bearer token
	http    *http.Client
}

// start serves the clusters API on a loopback port, checking with iamd
// through the client, behind a cache when cacheTTL is set. Callers are
// identified by their bearer tokens, or by gateway headers when gateway
// is set. The service authenticates to iamd with the operator token, as
// a service that serves every organization must.
func start(
	t *testing.T, iamd *iamdtest.IAMD, cacheTTL time.Duration, gateway bool,
) *service {
	t.Helper()
	client, err := iamclient.New(iamclient.Config{
		URL: iamd.URL, Token: iamd.OperatorToken, Backoff: time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(client.Close)

	s := &service{store: newStore(), tokens: map[string]string{}, gateway: gateway}
	var checker authz.Checker = client
	if cacheTTL > 0 {
		s.cache, err = authzcache.New(client, authzcache.Config{TTL: cacheTTL})
		require.NoError(t, err)
		checker = s.cache
	}

	o := options{}
	if gateway {
		o.gatewaySecretFile = filepath.Join(t.TempDir(), "gateway-secret")
		require.NoError(t, os.WriteFile(o.gatewaySecretFile,
			[]byte(gatewaySecret+"\n"), 0o600))
	}
	callers, err := extractor(o, client)
	require.NoError(t, err)

	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(newHandler(s.store, checker, callers, log))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.http = srv.Client()

	for _, p := range []string{admin, writer, viewer, plain} {
		s.tokens[p] = iamd.TokenT(t, p)
	}
	return s
}

// answer is what the service answered.
type answer struct {
	status  int
	body    []byte
	refusal httpauthz.ErrorBody
}

// call sends a request as principal ("" sends no credentials, anything
// not a principal is sent as a bearer token itself), with an optional
// consistency token. Through a gateway, the principal is sent in the
// gateway's headers.
func (s *service) call(
	t *testing.T, as, method, path, body, consistency string,
) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method,
		s.url+path, strings.NewReader(body))
	require.NoError(t, err)
	switch {
	case as != "" && s.gateway:
		req.Header.Set(gatewaySecretHeader, gatewaySecret)
		req.Header.Set(authz.DefaultPrincipalHeader, as)
	case as != "":
		token, ok := s.tokens[as]
		if !ok {
			token = as
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if consistency != "" {
		req.Header.Set(authz.ConsistencyTokenHeader, consistency)
	}

	resp, err := s.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	r := answer{status: resp.StatusCode, body: data}
	if resp.StatusCode >= 400 {
		require.NoError(t, json.Unmarshal(data, &r.refusal), string(data))
	}
	return r
}

func TestClusters(t *testing.T) {
	iamd := iamdtest.StartT(t, document)
	s := start(t, iamd, 0, false)

	// Steps run in order: each sees the clusters of the ones before.
	steps := []struct {
		name   string
		as     string
		method string
		path   string
		body   string
		status int
		code   string // of a refusal
		action string // named by a refusal
	}{
		{"admin creates c1", admin, "POST", "/orgs/ab1cd2/clusters", `{"name":"c1"}`,
			201, "", ""},
		{"viewer lists", viewer, "GET", "/orgs/ab1cd2/clusters", "", 200, "", ""},
		{"viewer gets c1", viewer, "GET", "/orgs/ab1cd2/clusters/c1", "", 200, "", ""},
		{"viewer may not create", viewer, "POST", "/orgs/ab1cd2/clusters", `{"name":"c2"}`,
			403, "permission_denied", "cks.clusters.create"},
		{"viewer may not delete", viewer, "DELETE", "/orgs/ab1cd2/clusters/c1", "",
			403, "permission_denied", "cks.clusters.delete"},
		{"a member without roles may not list", plain, "GET", "/orgs/ab1cd2/clusters", "",
			403, "permission_denied", "cks.clusters.list"},
		{"admin of ab1cd2 has nothing in ff00ff", admin, "GET", "/orgs/ff00ff/clusters", "",
			403, "permission_denied", "cks.clusters.list"},
		{"no token", "", "GET", "/orgs/ab1cd2/clusters", "",
			401, "unauthenticated", "cks.clusters.list"},
		{"a token iamd did not mint", "iamd1.forged.token", "GET", "/orgs/ab1cd2/clusters", "",
			401, "unauthenticated", "cks.clusters.list"},
		{"a malformed organization ID", admin, "GET", "/orgs/XYZ/clusters", "",
			400, "invalid_argument", "cks.clusters.list"},
		{"a bad cluster name", admin, "POST", "/orgs/ab1cd2/clusters", `{"name":"Not A Label"}`,
			400, "invalid_argument", ""},
		{"a duplicate", admin, "POST", "/orgs/ab1cd2/clusters", `{"name":"c1"}`,
			409, "already_exists", ""},
		{"writer deletes c1", writer, "DELETE", "/orgs/ab1cd2/clusters/c1", "", 204, "", ""},
		{"c1 is gone", admin, "GET", "/orgs/ab1cd2/clusters/c1", "",
			404, "not_found", ""},
	}
	for _, step := range steps {
		r := s.call(t, step.as, step.method, step.path, step.body, "")
		require.Equal(t, step.status, r.status, "%s: %s", step.name, r.body)
		require.Equal(t, step.code, r.refusal.Code, step.name)
		require.Equal(t, step.action, r.refusal.Action, step.name)
		if step.code == "permission_denied" {
			require.Contains(t, r.refusal.Message, step.action, step.name)
		}
	}

	// The cluster records who created it, as iamd knows the caller.
	r := s.call(t, admin, "POST", "/orgs/ab1cd2/clusters", `{"name":"c2"}`, "")
	require.Equal(t, http.StatusCreated, r.status)
	var c Cluster
	require.NoError(t, json.Unmarshal(r.body, &c))
	require.Equal(t, admin, c.CreatedBy)
	require.Equal(t, org, c.Organization)
}

// TestIAMDDownIsServiceUnavailable stops iamd: every request is refused
// with 503 and no handler runs. With bearer tokens the caller cannot be
// identified; behind a gateway the check itself fails.
func TestIAMDDownIsServiceUnavailable(t *testing.T) {
	cases := []struct {
		name     string
		gateway  bool
		cacheTTL time.Duration
	}{
		// Even a decision in the cache does not help: the caller's
		// identity is asked of iamd on every request.
		{"bearer tokens, with the cache", false, time.Minute},
		// Without a cache, so that every check reaches the dead iamd;
		// package authzcache documents and tests what a cache serves.
		{"gateway headers", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iamd := iamdtest.StartT(t, document)
			s := start(t, iamd, tc.cacheTTL, tc.gateway)

			r := s.call(t, admin, "POST", "/orgs/ab1cd2/clusters", `{"name":"c1"}`, "")
			require.Equal(t, http.StatusCreated, r.status, string(r.body))
			r = s.call(t, admin, "GET", "/orgs/ab1cd2/clusters", "", "")
			require.Equal(t, http.StatusOK, r.status, string(r.body))

			require.NoError(t, iamd.Stop())

			for _, req := range []struct{ method, path, body string }{
				{"GET", "/orgs/ab1cd2/clusters", ""},
				{"POST", "/orgs/ab1cd2/clusters", `{"name":"c2"}`},
				{"DELETE", "/orgs/ab1cd2/clusters/c1", ""},
			} {
				r := s.call(t, admin, req.method, req.path, req.body, "")
				require.Equal(t, http.StatusServiceUnavailable, r.status,
					"%s %s: %s", req.method, req.path, r.body)
				require.Equal(t, "unavailable", r.refusal.Code)
			}
			require.Equal(t, 1, s.store.count(), "nothing was created or deleted")
		})
	}
}

// TestRevocationWithZedTokenWinsOverTheCache revokes the writer's
// cluster rights; a request carrying the revocation's consistency token
// is denied although the cache still holds the earlier allow.
func TestRevocationWithZedTokenWinsOverTheCache(t *testing.T) {
	iamd := iamdtest.StartT(t, document)
	s := start(t, iamd, time.Minute, false)

	r := s.call(t, writer, "POST", "/orgs/ab1cd2/clusters", `{"name":"c1"}`, "")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))

	resp, err := iamd.Client().UnassignLegacyGroup(t.Context(), connect.NewRequest(
		&iamv1.UnassignLegacyGroupRequest{
			OrganizationId: org, LegacyGroup: "write", Principal: writer,
		}))
	require.NoError(t, err)
	revocation := resp.Msg.GetResult().GetConsistencyToken()
	require.NotEmpty(t, revocation)

	// Without the token, the cached allow is served within its TTL: the
	// window the cache documents.
	r = s.call(t, writer, "POST", "/orgs/ab1cd2/clusters", `{"name":"c2"}`, "")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	require.Equal(t, uint64(1), s.cache.Stats().Hits)

	// With it, never.
	r = s.call(t, writer, "POST", "/orgs/ab1cd2/clusters", `{"name":"c3"}`, revocation)
	require.Equal(t, http.StatusForbidden, r.status, string(r.body))
	require.Equal(t, "cks.clusters.create", r.refusal.Action)
	r = s.call(t, writer, "GET", "/orgs/ab1cd2/clusters", "", revocation)
	require.Equal(t, http.StatusForbidden, r.status, string(r.body))
	require.Equal(t, "cks.clusters.list", r.refusal.Action)
	require.Equal(t, 2, s.store.count())
}

// TestRun starts the command as main does, against a real iamd, and
// stops it with its context.
func TestRun(t *testing.T) {
	iamd := iamdtest.StartT(t, document)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{
			"--addr", addr, "--iamd", iamd.URL,
			"--token", iamd.OperatorToken, "--cache-ttl", "5s",
		}, &stderr)
	}()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	require.Eventually(t, func() bool {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)

	req, err := http.NewRequest("GET", "http://"+addr+"/orgs/ab1cd2/clusters", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+iamd.TokenT(t, viewer))
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	require.NoError(t, <-done)
	require.NotContains(t, stderr.String(), iamd.OperatorToken, "the token is never logged")
}

func TestFlags(t *testing.T) {
	t.Setenv(envToken, "")
	cases := []struct {
		name    string
		args    []string
		problem string
	}{
		{"no iamd", []string{"--token", "t"}, "--iamd is required"},
		{"no token", []string{"--iamd", "http://127.0.0.1:8080"}, "--token (or $IAMD_TOKEN) is required"},
		{"stray argument", []string{"--iamd", "http://127.0.0.1:8080", "--token", "t", "x"},
			`unexpected argument "x"`},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), tc.args, io.Discard)
			require.ErrorContains(t, err, tc.problem)
		})
	}

	base := []string{"--iamd", "http://127.0.0.1:8080", "--token", "t"}
	short := filepath.Join(t.TempDir(), "short")
	require.NoError(t, os.WriteFile(short, []byte("abc\n"), 0o600))
	invalid := []struct {
		name    string
		args    []string
		problem string
	}{
		{"cache too long", []string{"--cache-ttl", "1h"}, "Config.TTL is 1h0m0s"},
		{"missing secret file", []string{"--gateway-secret-file", "/nonexistent/secret"},
			"--gateway-secret-file: open /nonexistent/secret"},
		{"short secret", []string{"--gateway-secret-file", short}, "at least 16"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), append(base, tc.args...), io.Discard)
			require.ErrorContains(t, err, tc.problem)
		})
	}
}
