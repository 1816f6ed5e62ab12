package decisioncache_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/bench"
	"github.com/gpucloud/iam/internal/decisioncache"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamtest"
)

// caches builds the two configurations iamd could run: over the
// embedded engine as it is (no datastore handle), and with misses and
// tokens resolved in process on a SpiceDB's datastore.
var caches = map[string]func(t *testing.T) *decisioncache.Cache{
	"embedded engine": func(t *testing.T) *decisioncache.Cache {
		e := iamtest.NewEngine(t)
		c, err := decisioncache.New(decisioncache.Config{
			Engine: e, Watch: e, ScopeByOrganization: true,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	},
	"in-process misses": func(t *testing.T) *decisioncache.Cache {
		ctx := context.Background()
		s, err := bench.StartSpiceDB(ctx, "")
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		client, err := s.Dial()
		require.NoError(t, err)
		t.Cleanup(func() { _ = client.Close() })
		e := &engine.Engine{
			PermissionsServiceClient: client.PermissionsServiceClient,
			SchemaServiceClient:      client.SchemaServiceClient,
			WatchServiceClient:       client.WatchServiceClient,
		}
		require.Eventually(t, func() bool { return e.WriteSchema(ctx) == nil },
			20*time.Second, 20*time.Millisecond)

		local, err := decisioncache.NewLocal(s.Datastore)
		require.NoError(t, err)
		t.Cleanup(func() { _ = local.Close() })
		c, err := decisioncache.New(decisioncache.Config{
			Engine: client, Watch: client, Revisions: s.Datastore, Local: local,
			ScopeByOrganization: true,
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	},
}

// TestRevocationWithTokenIsDenied grants, checks (kept in memory),
// revokes, and checks with the revocation's token, many times in a row
// with no pause: the answer after a revocation is never "allowed".
func TestRevocationWithTokenIsDenied(t *testing.T) {
	for name, newCache := range caches {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cache := newCache(t)
			svc := iam.New(cache)

			const org, bob = "ab1cd2", "user:bob@example.com"
			_, err := svc.CreateOrganization(ctx, org, "user:admin@example.com")
			require.NoError(t, err)
			_, err = svc.AddMember(ctx, org, bob)
			require.NoError(t, err)
			grant := iam.PolicyInput{
				Org: org, ID: "viewers",
				Rules: []iam.Rule{{Principals: []string{bob}, Roles: []string{"iam-viewer"}}},
			}
			w, err := svc.CreatePolicy(ctx, grant)
			require.NoError(t, err)

			check := func(token string) bool {
				t.Helper()
				d, err := svc.Check(ctx, iam.CheckRequest{
					Org: org, Principal: bob, Action: "iam.users.list",
					AtLeastAsFresh: token,
				})
				require.NoError(t, err)
				require.NotEmpty(t, d.Token)
				return d.Allowed
			}

			etag := w.Etag
			for round := range 25 {
				// Granted: allowed with the grant's token, and again from
				// memory once the watch caught up.
				require.True(t, check(w.Token), "round %d: granted", round)
				require.Eventually(t, func() bool { return check("") },
					5*time.Second, time.Millisecond)
				require.True(t, check(""))

				revoke := iam.PolicyInput{
					Org: org, ID: "viewers", Etag: etag,
					Rules: []iam.Rule{{
						Principals: []string{"user:admin@example.com"},
						Roles:      []string{"iam-viewer"},
					}},
				}
				w, err = svc.ReplacePolicy(ctx, revoke)
				require.NoError(t, err)
				etag = w.Etag
				require.False(t, check(w.Token), "round %d: stale allow after revocation", round)
				require.False(t, check(w.Token))

				grant.Etag = etag
				w, err = svc.ReplacePolicy(ctx, grant)
				require.NoError(t, err)
				etag = w.Etag
			}
			require.NotZero(t, cache.Stats().Hits, "the cache answered some checks")
		})
	}
}
