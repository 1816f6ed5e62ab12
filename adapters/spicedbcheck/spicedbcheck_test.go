package spicedbcheck_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/internal/iamdtest"
	"github.com/gpucloud/iam/adapters/spicedbcheck"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A dependency of SpiceDB starts this worker in its init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

const (
	org    = "ab1cd2"
	admin  = "user:admin@example.com"
	viewer = "user:viewer@example.com"
	plain  = "user:plain@example.com"
)

const document = `
organizations:
  - id: ab1cd2
    first_user: user:admin@example.com
    members: [user:viewer@example.com, user:plain@example.com]
    legacy_groups:
      read: [user:viewer@example.com]
  - id: ff00ff
    first_user: user:admin@ff00ff.example
`

func newChecker(t *testing.T, db *iamdtest.SpiceDB, cfg spicedbcheck.Config) *spicedbcheck.Checker {
	t.Helper()
	cfg.Endpoint = db.Endpoint
	cfg.Insecure = true
	if cfg.PresharedKey == "" {
		cfg.PresharedKey = db.PresharedKey
	}
	c, err := spicedbcheck.New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func TestChecks(t *testing.T) {
	db := iamdtest.StartSpiceDBT(t, document)
	c := newChecker(t, db, spicedbcheck.Config{FullyConsistent: true})
	ctx := t.Context()

	cases := []struct {
		name    string
		req     authz.CheckRequest
		allowed bool
	}{
		{"admin deletes clusters", authz.CheckRequest{
			Organization: org, Principal: admin, Action: "cks.clusters.delete"}, true},
		{"viewer lists clusters", authz.CheckRequest{
			Organization: org, Principal: viewer, Action: "cks.clusters.list"}, true},
		{"viewer may not create", authz.CheckRequest{
			Organization: org, Principal: viewer, Action: "cks.clusters.create"}, false},
		{"a member without roles may do nothing", authz.CheckRequest{
			Organization: org, Principal: plain, Action: "cks.clusters.list"}, false},
		{"admin of ab1cd2 has nothing in ff00ff", authz.CheckRequest{
			Organization: "ff00ff", Principal: admin, Action: "cks.clusters.list"}, false},
	}
	want := make([]bool, len(cases))
	reqs := make([]authz.CheckRequest, len(cases))
	for i, tc := range cases {
		reqs[i], want[i] = tc.req, tc.allowed
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Check(ctx, tc.req)
			require.NoError(t, err)
			require.Equal(t, tc.allowed, d.Allowed)
			require.NotEmpty(t, d.ConsistencyToken)
		})
	}

	bulk, err := c.CheckBulk(ctx, reqs)
	require.NoError(t, err)
	require.Equal(t, want, bulk.Allowed)

	role, err := c.CheckRole(ctx, authz.RoleRequest{
		Organization: org, Principal: viewer, Role: "IAM Viewer"})
	require.NoError(t, err)
	require.True(t, role.Allowed)

	id, err := c.WhoAmI(ctx, viewer)
	require.NoError(t, err)
	require.Equal(t, org, id.Organization)
	require.Contains(t, id.Actions, "cks.clusters.list")
}

// TestRevocationSeenWithItsToken reads at SpiceDB's cached snapshot by
// default; only the tokens make the writes visible.
func TestRevocationSeenWithItsToken(t *testing.T) {
	db := iamdtest.StartSpiceDBT(t, document)
	c := newChecker(t, db, spicedbcheck.Config{})
	ctx := t.Context()
	check := func(token string) bool {
		d, err := c.Check(ctx, authz.CheckRequest{
			Organization: org, Principal: plain,
			Action: "billing.invoices.list", ConsistencyToken: token,
		})
		require.NoError(t, err)
		return d.Allowed
	}

	granted, err := db.Service.AssignLegacyGroup(ctx, org, "billing_viewer", plain)
	require.NoError(t, err)
	require.True(t, check(granted.Token))

	revoked, err := db.Service.UnassignLegacyGroup(ctx, org, "billing_viewer", plain)
	require.NoError(t, err)
	require.False(t, check(revoked.Token))
}

func TestBadRequestsAreInvalid(t *testing.T) {
	db := iamdtest.StartSpiceDBT(t, document)
	c := newChecker(t, db, spicedbcheck.Config{})
	ctx := t.Context()

	cases := []struct {
		name    string
		req     authz.CheckRequest
		message string
	}{
		{"unknown action", authz.CheckRequest{
			Organization: org, Principal: viewer, Action: "cks.cluster.list"},
			`did you mean "cks.clusters.list"`},
		{"bad organization", authz.CheckRequest{
			Organization: "XYZ", Principal: viewer, Action: "cks.clusters.list"}, `"XYZ"`},
		{"a group", authz.CheckRequest{
			Organization: org, Principal: "group:eng", Action: "cks.clusters.list"},
			"check a member of the group instead"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := c.Check(ctx, tc.req)
			require.ErrorIs(t, err, authz.ErrInvalid)
			require.ErrorContains(t, err, tc.message)
			require.False(t, d.Allowed)
		})
	}

	_, err := c.WhoAmI(ctx, "user:nobody@example.com")
	require.ErrorIs(t, err, authz.ErrInvalid)
}

func TestFailuresAreUnavailable(t *testing.T) {
	db := iamdtest.StartSpiceDBT(t, document)
	req := authz.CheckRequest{
		Organization: org, Principal: admin, Action: "cks.clusters.list",
	}

	wrongKey := newChecker(t, db, spicedbcheck.Config{PresharedKey: "not-the-key", MaxAttempts: 1})
	d, err := wrongKey.Check(t.Context(), req)
	require.ErrorIs(t, err, authz.ErrUnavailable)
	require.False(t, d.Allowed)

	c := newChecker(t, db, spicedbcheck.Config{
		FullyConsistent: true, Timeout: time.Second,
	})
	d, err = c.Check(t.Context(), req)
	require.NoError(t, err)
	require.True(t, d.Allowed)

	require.NoError(t, db.Stop())
	d, err = c.Check(t.Context(), req)
	require.ErrorIs(t, err, authz.ErrUnavailable)
	require.False(t, d.Allowed)
}

func TestConfigIsValidated(t *testing.T) {
	cases := []struct {
		name    string
		cfg     spicedbcheck.Config
		problem string
	}{
		{"no endpoint", spicedbcheck.Config{PresharedKey: "k"}, "endpoint is required"},
		{"no key", spicedbcheck.Config{Endpoint: "127.0.0.1:50051"}, "preshared key"},
		{"insecure and CA", spicedbcheck.Config{
			Endpoint: "127.0.0.1:50051", PresharedKey: "k",
			Insecure: true, CACertPath: "ca.pem"}, "contradict"},
		{"negative timeout", spicedbcheck.Config{
			Endpoint: "127.0.0.1:50051", PresharedKey: "k", Timeout: -time.Second},
			"Config.Timeout is -1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spicedbcheck.New(context.Background(), tc.cfg)
			require.ErrorContains(t, err, tc.problem)
		})
	}
}
