package bench

import (
	"context"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/bench/workload"
	"github.com/gpucloud/iam/internal/iam"
)

// TestEveryPathAgrees answers the whole workload through every path the
// benchmarks compare and requires one answer per check, twice (the
// second time from the caches).
func TestEveryPathAgrees(t *testing.T) {
	ctx := context.Background()
	env, err := NewEnv(ctx, EnvConfig{Spec: Spec{Users: 200, Seed: 11, Checks: 150, Policies: 3}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, env.Close()) })

	allowed := 0
	for pass := range 2 {
		for _, c := range env.Org.Checks {
			req := iam.CheckRequest{Org: c.Org, Principal: c.Principal, Action: c.Action}

			want, err := env.RawClient.CheckPermission(ctx, workload.SpiceDBCheck(c, nil))
			require.NoError(t, err)
			raw := want.GetPermissionship() ==
				v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
			if pass == 0 && raw {
				allowed++
			}

			local, err := env.Local.Check(ctx, workload.SpiceDBCheck(c, nil))
			require.NoError(t, err)
			require.Equal(t, want.GetPermissionship(), local, "%+v", c)

			for name, svc := range map[string]*iam.Service{
				"facade": env.Facade, "cached": env.Cached,
				"local-cached": env.LocalCached,
			} {
				d, err := svc.Check(ctx, req)
				require.NoError(t, err, name)
				require.Equal(t, raw, d.Allowed, "%s %+v", name, c)
				require.NotEmpty(t, d.Token, name)
			}
		}
	}

	// The workload mixes answers, and the second pass came from memory.
	require.Greater(t, allowed, len(env.Org.Checks)/20)
	require.Less(t, allowed, len(env.Org.Checks)*19/20)
	require.GreaterOrEqual(t, env.Cache.Stats().Hits, uint64(len(env.Org.Checks)-1))
	require.GreaterOrEqual(t, env.LocalCache.Stats().Hits, uint64(len(env.Org.Checks)-1))
}
