package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
)

// FuzzLookupRole: any input either names a role whose spellings all
// resolve back to it, or is an invalid argument that names the field and
// points to the list of roles.
func FuzzLookupRole(f *testing.F) {
	for _, s := range []string{
		"CKS Admin", "cks_admin", "", " ", "x", "\xff", "iam--admin",
		strings.Repeat("a", 101),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		r, err := catalog.LookupRole("roles[0]", name)
		if err != nil {
			requireLookupError(t, err, "roles[0]", "`iamctl roles`")
			return
		}
		again, err := catalog.LookupRole("role", r.Name)
		require.NoError(t, err)
		require.Equal(t, r.ID, again.ID)
	})
}

// FuzzLookupAction: an accepted action is canonical and granted by some
// role; a rejected one is an invalid argument that names the field and
// says where valid actions are found.
func FuzzLookupAction(f *testing.F) {
	for _, s := range []string{
		"cks.clusters.create", "CKS.CLUSTERS.LIST", "", ".", "a.b.c",
		strings.Repeat("a", 101),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		a, err := catalog.LookupAction("checks[3].action", name)
		if err != nil {
			requireLookupError(t, err, "checks[3].action", "action")
			return
		}
		require.Equal(t, strings.ToLower(strings.TrimSpace(name)), a)
		require.NotEmpty(t, catalog.RoleNamesGranting(a))
	})
}

// requireLookupError requires a refused name to be an invalid argument
// that names field and whose fix mentions hint.
func requireLookupError(t *testing.T, err error, field, hint string) {
	t.Helper()

	var e *iamerr.Error
	require.True(t, errors.As(err, &e), "%T: %v", err, err)
	require.Equal(t, iamerr.InvalidArgument, e.Kind, e.Error())
	require.Equal(t, field, e.Field)
	require.Contains(t, e.Fix, hint, e.Error())
}
