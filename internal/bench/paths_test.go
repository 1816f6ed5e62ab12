package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUncachedPathsMeasureEachCheckOnce: a path without a cache may not
// come round to its own checks again, nor reach its warm-up ones, or
// SpiceDB's dispatch cache would answer them.
func TestUncachedPathsMeasureEachCheckOnce(t *testing.T) {
	for _, c := range []struct {
		checks, measured int
	}{
		{10000, 2500 - 2*maxConcurrency}, // warm-up checks follow the measured ones
		{300, 75},                        // too few for a warm-up: one pass
	} {
		env := &Env{Org: &Org{Checks: make([]Check, c.checks)}}
		measured := map[string]int{}
		for _, p := range env.paths(10, true) {
			measured[p.name] = p.measured
		}
		for _, name := range []string{PathSpiceDB, PathFacade, PathEmbeddedPkg, PathAPI} {
			require.Equal(t, c.measured, measured[name], "%s, %d checks", name, c.checks)
		}
		for _, name := range []string{PathFacadeCache, PathFacadeCacheLocal, PathAPICache} {
			require.Zero(t, measured[name], "a cached path cycles through its working set")
		}
	}
}
