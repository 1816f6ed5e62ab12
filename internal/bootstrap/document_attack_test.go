package bootstrap_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/iamerr"
)

// TestAttackLegacyGroupNamedTwiceBySpelling declares one legacy group
// under two spellings that LookupLegacyGroup folds together. Such a file
// plans the same removal twice and conflicting sets for one group;
// applied, it fails halfway and leaves the group changed. Parse must
// refuse it like any group declared twice.
func TestAttackLegacyGroupNamedTwiceBySpelling(t *testing.T) {
	cases := map[string]string{
		"two cases in legacy_groups": `
organizations:
  - id: ab1cd2
    legacy_groups:
      read: []
      READ: [user:no-access@example.com]
`,
		"dash and underscore": `
organizations:
  - id: ab1cd2
    legacy_groups:
      billing_viewer: [user:a@example.com]
      billing-viewer: []
`,
		"exact and additions": `
organizations:
  - id: ab1cd2
    legacy_groups:
      read: []
    legacy_group_additions:
      Read: [user:a@example.com]
`,
		"twice in additions": `
organizations:
  - id: ab1cd2
    legacy_group_additions:
      metrics: [user:a@example.com]
      METRICS: [user:b@example.com]
`,
	}

	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := bootstrap.Parse([]byte(doc))
			require.Error(t, err, "a legacy group declared twice must be refused")
			require.True(t, iamerr.Is(err, iamerr.InvalidArgument), "%v", err)
		})
	}
}
