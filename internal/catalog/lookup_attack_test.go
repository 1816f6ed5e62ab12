package catalog_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
)

// hugeNameBudget is how long one lookup of a huge unknown name may take.
// A request may carry 4 MiB; the edit distance to every candidate is
// quadratic in effect, and any authenticated caller can send it (a
// self-check needs no role). One MiB took over five seconds of a core.
const hugeNameBudget = time.Second

// maxEchoedValue bounds the bad value an error repeats back: a 4 MiB
// name echoed in the message and in ErrorInfo triples the response.
const maxEchoedValue = 512

// TestAttackHugeUnknownNamesAreCheap feeds the lookups of the catalog a
// one-MiB unknown name: each must answer quickly and echo a bounded
// value.
func TestAttackHugeUnknownNamesAreCheap(t *testing.T) {
	huge := strings.Repeat("a", 1<<20)
	lookups := []struct {
		name   string
		lookup func() error
	}{
		{"action", func() error {
			_, err := catalog.LookupAction("action", huge)
			return err
		}},
		{"role", func() error {
			_, err := catalog.LookupRole("role", huge)
			return err
		}},
		{"legacy group", func() error {
			_, err := catalog.LookupLegacyGroup("legacy_group", huge)
			return err
		}},
	}

	for _, tc := range lookups {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.lookup()
			took := time.Since(start)

			require.Error(t, err)
			require.Less(t, took, hugeNameBudget,
				"a huge unknown name must not cost seconds of CPU")

			var e *iamerr.Error
			require.True(t, errors.As(err, &e))
			require.Equal(t, iamerr.InvalidArgument, e.Kind)
			require.LessOrEqual(t, len(e.Value), maxEchoedValue)
			require.LessOrEqual(t, len(e.Error()), 4*maxEchoedValue)
		})
	}
}
