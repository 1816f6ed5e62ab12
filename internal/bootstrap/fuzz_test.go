package bootstrap_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/iamerr"
)

// FuzzParse: the parser never panics, and every rejection is a classified
// InvalidArgument error that names the document.
func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("../../deploy/examples/seed-example.yaml")
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte("organizations: [{id: ab1cd2, members: [user:a]}]"))
	f.Add([]byte(`{"organizations":[{"id":"ab1cd2"}]}`))
	f.Add([]byte("a: &a [*a, *a]"))
	f.Add([]byte("organizations:\n  - id: ab1cd2\n    id: ab1cd2\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := bootstrap.Parse(data)
		if err != nil {
			require.Equal(t, iamerr.InvalidArgument, iamerr.KindOf(err), err.Error())
			return
		}
		require.NotEmpty(t, doc.OrganizationIDs())
	})
}
