package schema_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authzed/spicedb/pkg/development"
	core "github.com/authzed/spicedb/pkg/proto/core/v1"
	devinterface "github.com/authzed/spicedb/pkg/proto/developer/v1"
	"github.com/authzed/spicedb/pkg/validationfile"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/schema"
)

// TestSchemaIsGenerated keeps schema.zed equal to what the catalog renders.
func TestSchemaIsGenerated(t *testing.T) {
	require.Equal(t, catalog.Schema(), schema.Text,
		"schema.zed is stale: run `go generate ./...`")
}

// TestValidationFile runs validation.yaml's assertions and expected
// relations through SpiceDB's development package.
func TestValidationFile(t *testing.T) {
	contents, err := os.ReadFile("validation.yaml")
	require.NoError(t, err)

	file, err := validationfile.DecodeValidationFile(contents)
	require.NoError(t, err)
	require.Equal(t, "schema.zed", file.SchemaFile)

	var rels []*core.RelationTuple
	for _, r := range file.Relationships.Relationships {
		rels = append(rels, r.ToCoreTuple())
	}

	devCtx, devErrs, err := development.NewDevContext(t.Context(),
		&devinterface.RequestContext{
			Schema:        schema.Text,
			Relationships: rels,
		})
	require.NoError(t, err)
	require.Nil(t, devErrs, "schema or relationships rejected")
	t.Cleanup(devCtx.Dispose)

	assertionErrs, err := development.RunAllAssertions(devCtx, &file.Assertions)
	require.NoError(t, err)
	require.Empty(t, assertionErrs, "failed assertions")

	_, validationErrs, err := development.RunValidation(devCtx, &file.ExpectedRelations)
	require.NoError(t, err)
	require.Empty(t, validationErrs, "unexpected relations")

	require.NotEmpty(t, file.Assertions.AssertTrue)
	require.NotEmpty(t, file.Assertions.AssertFalse)
}
