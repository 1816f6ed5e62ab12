package catalog_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/catalog"
)

// FuzzLookupRole: any input either names a role whose spellings all
// resolve back to it, or is an error that names the field and suggests a
// role.
func FuzzLookupRole(f *testing.F) {
	for _, s := range []string{"CKS Admin", "cks_admin", "", " ", "x", "\xff", "iam--admin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, err := catalog.LookupRole("role", name)
		if err != nil {
			require.Contains(t, err.Error(), "role")
			return
		}
		again, err := catalog.LookupRole("role", r.Name)
		require.NoError(t, err)
		require.Equal(t, r.ID, again.ID)
	})
}

// FuzzLookupAction: an accepted action is canonical and granted by some
// role; a rejected one gets a suggestion.
func FuzzLookupAction(f *testing.F) {
	for _, s := range []string{"cks.clusters.create", "CKS.CLUSTERS.LIST", "", ".", "a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		a, err := catalog.LookupAction("action", name)
		if err != nil {
			require.True(t, strings.Contains(err.Error(), "did you mean") ||
				strings.Contains(err.Error(), "required"), err.Error())
			return
		}
		require.NotEmpty(t, catalog.RolesGranting(a))
	})
}
