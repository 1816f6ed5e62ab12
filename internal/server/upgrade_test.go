package server_test

import (
	"os"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/pgtest"
	"github.com/gpucloud/iam/internal/server"
)

// TestFirstModelNeedsUpgradeModel starts iamd on a database of the first
// permission model: refused without --upgrade-model, upgraded with it.
func TestFirstModelNeedsUpgradeModel(t *testing.T) {
	pg := pgtest.Start(t)
	first, err := os.ReadFile("../engine/testdata/first-model.zed")
	require.NoError(t, err)

	e, err := engine.NewEmbedded(t.Context(), engine.EmbeddedConfig{
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    pg.URI(),
		Migrate:         true,
	})
	require.NoError(t, err)
	_, err = e.SchemaServiceClient.WriteSchema(t.Context(),
		&v1.WriteSchemaRequest{Schema: string(first)})
	require.NoError(t, err)
	require.NoError(t, e.Close())

	cfg := server.Config{
		Addr:            "127.0.0.1:0",
		OperatorToken:   operatorToken,
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    pg.URI(),
	}
	_, err = server.New(t.Context(), cfg)
	require.ErrorIs(t, err, engine.ErrFirstModel)

	cfg.UpgradeModel = true
	r := start(t, cfg)
	require.Contains(t, r.log.String(), "permission model upgraded")
}
